//! Running code at CPL 3 (SDM Vol. 3A, "Privilege Level Checking When
//! Transferring Program Control Between Code Segments"; IRET to an outer
//! level). [`enter_user`] switches to the user address space, IRETQs to
//! CPL 3 and returns when user code executes `INT 0x80` (vector
//! [`crate::idt::VECTOR_USER_EXIT`], a DPL 3 gate), with the RDI it passed.
//! Exceptions from CPL 3 go to the image's trap handler like any other, on
//! the stack TSS.RSP0 names (just below the saved kernel context), on the
//! boot tables (`idt.rs` switches CR3; see `tlb.rs`).

use crate::cpu::{self, selector};
use crate::paging::UserSpace;
use crate::tlb;

// SAFETY: defined in asm/traps.S with this C signature.
unsafe extern "C" {
    fn q35_enter_user(entry: u64, user_rsp: u64, arg: u64, rsp0: *mut u64) -> u64;
}

const _: () = assert!(selector::USER_CODE == 0x2B && selector::USER_DATA == 0x23);

/// Runs `entry(arg)` at CPL 3 on `user_rsp` in `space`; returns the value
/// user code passed in RDI to `INT 0x80`.
///
/// The caller must make `entry` and the stack user-accessible in `space`
/// (otherwise the first fetch or push faults at CPL 3, which the image's
/// trap handler sees).
pub fn enter_user(space: UserSpace, entry: u64, user_rsp: u64, arg: u64) -> u64 {
    let rsp0 = cpu::tss_rsp0(cpu::current());
    // `space` maps all of 0..4 GiB for CPL 0 exactly like the boot tables
    // except page 0, which no CPL 0 code uses (paging.rs).
    tlb::load_user_tables(space.pml4);
    // SAFETY: q35_enter_user saves the callee-saved registers and the stack
    // and returns only through the INT 0x80 gate, which restores them; user
    // code cannot touch kernel memory (U/S = 0) or ports (no IOPL, no I/O
    // bitmap). `rsp0` is this CPU's TSS.
    let ret = unsafe { q35_enter_user(entry, user_rsp, arg, rsp0) };
    tlb::leave_user_tables();
    ret
}
