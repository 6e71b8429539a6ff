//! The shim's own `unsafe`: reading instruction bytes at a trapping RIP,
//! volatile access to the harness's user pages, and the CPL 0 self-test
//! that executes SEAMCALL/TDCALL. Each block says why it is sound.

use core::arch::asm;

use crate::harness::Block;

/// The 4 bytes at `addr`. The caller has checked that `[addr, addr + 4)`
/// lies in code this image owns (its .text, or the harness's user pages).
pub fn code_bytes(addr: u64) -> [u8; 4] {
    // SAFETY: per the caller's range check the bytes are mapped, readable
    // memory of this image (identity mapped for CPL 0 in both address
    // spaces); an unaligned volatile read of 4 bytes is fine on x86.
    unsafe { core::ptr::read_volatile(addr as *const [u8; 4]) }
}

/// Volatile copy of a harness block out of user memory.
pub fn load_block(ptr: *const Block) -> Block {
    // SAFETY: `ptr` comes from `harness::block_ptr`, a valid, aligned slot
    // of a static; user code only writes it while this CPU is at CPL 3 in
    // `enter_user`, never concurrently with this read.
    unsafe { core::ptr::read_volatile(ptr) }
}

/// Volatile copy of a harness block into user memory.
pub fn store_block(ptr: *mut Block, b: &Block) {
    // SAFETY: as for `load_block`.
    unsafe { core::ptr::write_volatile(ptr, *b) }
}

/// Executes SEAMCALL (66 0F 01 CF) or TDCALL (66 0F 01 CC) at CPL 0 with
/// RAX = `rax`, RCX = `rcx`. Returns (RAX, whether R12 survived).
pub fn call_at_cpl0(tdcall: bool, rax: u64, rcx: u64) -> (u64, bool) {
    const MARKER: u64 = 0x5EA1_CA11_0000_0001;
    let (out, r12): (u64, u64);
    // SAFETY: both encodings raise #UD under TCG (tdx-module-abi.md §1);
    // the shim's #UD handler emulates them, writes outputs only to RAX, RCX,
    // RDX and R8..R11 (declared clobbered) and resumes 4 bytes later, with
    // the next instruction. No memory is touched.
    unsafe {
        if tdcall {
            asm!(".byte 0x66, 0x0f, 0x01, 0xcc",
                inout("rax") rax => out, inout("rcx") rcx => _, inout("r12") MARKER => r12,
                out("rdx") _, out("r8") _, out("r9") _, out("r10") _, out("r11") _,
                options(nostack));
        } else {
            asm!(".byte 0x66, 0x0f, 0x01, 0xcf",
                inout("rax") rax => out, inout("rcx") rcx => _, inout("r12") MARKER => r12,
                out("rdx") _, out("r8") _, out("r9") _, out("r10") _, out("r11") _,
                options(nostack));
        }
    }
    (out, r12 == MARKER)
}
