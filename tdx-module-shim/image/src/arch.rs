//! The shim's own `unsafe`: reading instruction bytes at a trapping RIP,
//! volatile access to the harness's user pages, the module's view of RAM
//! pages and its reads and writes of VMM memory, the try-lock cell, the CPL 0 self-test
//! that executes SEAMCALL/TDCALL, and bench mode's sample storage. Each
//! block says why it is sound.

use core::arch::asm;
use core::cell::UnsafeCell;
use core::ops::{Deref, DerefMut};
use core::sync::atomic::{AtomicBool, Ordering};

use tdx_module_shim::{PageWords, TryLock};

use crate::harness::Block;

/// The 4 bytes at `addr`. The caller has checked that `[addr, addr + 4)`
/// lies in code this image owns (its .text, or the harness's user pages).
pub fn code_bytes(addr: u64) -> [u8; 4] {
    // SAFETY: per the caller's range check the bytes are mapped, readable
    // memory of this image (identity mapped for CPL 0 in both address
    // spaces); an unaligned volatile read of 4 bytes is fine on x86.
    unsafe { core::ptr::read_volatile(addr as *const [u8; 4]) }
}

/// `len` bytes of this image's own code at `addr` (MRSEAM, config.rs).
/// The caller passes a range inside `__payload_start..__user_text_start`.
pub fn code_slice(addr: u64, len: u64) -> &'static [u8] {
    // SAFETY: the range is the shim's loaded .text (linker symbols),
    // identity mapped, never written after boot.
    unsafe { core::slice::from_raw_parts(addr as *const u8, len as usize) }
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

/// The `AtomicU64` view of the RAM page at `hpa` through the boot tables'
/// identity map. The caller (`platform.rs`) has checked that `hpa` is a
/// 4 KiB-aligned page inside a CMR, i.e. RAM below 4 GiB that is not the
/// shim's own memory.
pub fn ram_page(hpa: u64) -> &'static PageWords {
    // SAFETY: per the caller's check the page is RAM, identity mapped RW
    // (write-back) for CPL 0 in the boot tables, which every module call
    // runs on (traps from CPL 3 switch to them). It is 4 KiB-aligned, so
    // aligned for AtomicU64. Every access through the view is atomic, so
    // concurrent views on other CPUs, and the harness's own accesses before
    // the page is isolated, are not data races.
    unsafe { &*(hpa as *const PageWords) }
}

/// Volatile copy of VMM memory at `addr` into `buf`: whole aligned u64
/// words where it can, bytes at the unaligned ends. The caller
/// (`platform.rs`) has checked that the range is inside one page of the
/// VMM region that is mapped for CPL 3, i.e. RAM.
pub fn copy_ram(addr: u64, buf: &mut [u8]) {
    let head = (addr.next_multiple_of(8) - addr).min(buf.len() as u64) as usize;
    let (first, rest) = buf.split_at_mut(head);
    copy_bytes(addr, first);
    let mut words = rest.chunks_exact_mut(8);
    let mut at = addr + head as u64;
    for w in &mut words {
        // SAFETY: `at` is 8-aligned and `at..at + 8` lies in the checked
        // RAM page, identity mapped for CPL 0 in the boot tables; a
        // volatile aligned read of RAM cannot fault or tear.
        let v = unsafe { core::ptr::read_volatile(at as *const u64) };
        w.copy_from_slice(&v.to_le_bytes());
        at += 8;
    }
    copy_bytes(at, words.into_remainder());
}

fn copy_bytes(addr: u64, buf: &mut [u8]) {
    for (i, b) in buf.iter_mut().enumerate() {
        // SAFETY: `addr + i` is in the checked RAM page, identity mapped
        // for CPL 0 in the boot tables; a volatile byte read of RAM cannot
        // fault or tear.
        *b = unsafe { core::ptr::read_volatile((addr + i as u64) as *const u8) };
    }
}

/// Volatile copy of `buf` into VMM memory at `addr`: whole aligned u64
/// words where it can, bytes at the unaligned ends. The caller
/// (`platform.rs`) has checked that the range is inside one page of the
/// VMM region that is mapped for CPL 3, i.e. RAM, and keeps the page from
/// being isolated until this returns.
pub fn write_ram(addr: u64, buf: &[u8]) {
    let head = (addr.next_multiple_of(8) - addr).min(buf.len() as u64) as usize;
    let (first, rest) = buf.split_at(head);
    write_bytes(addr, first);
    let mut words = rest.chunks_exact(8);
    let mut at = addr + head as u64;
    for w in &mut words {
        let mut v = [0u8; 8];
        v.copy_from_slice(w);
        // SAFETY: `at` is 8-aligned and `at..at + 8` lies in the checked
        // RAM page, identity mapped RW for CPL 0 in the boot tables; it is
        // VMM memory, not memory the shim or the module owns, so no Rust
        // reference aliases it; a volatile aligned write cannot tear.
        unsafe { core::ptr::write_volatile(at as *mut u64, u64::from_le_bytes(v)) };
        at += 8;
    }
    write_bytes(at, words.remainder());
}

fn write_bytes(addr: u64, buf: &[u8]) {
    for (i, b) in buf.iter().enumerate() {
        // SAFETY: as for the words of `write_ram`: `addr + i` is a byte of
        // the checked VMM page, identity mapped RW for CPL 0.
        unsafe { core::ptr::write_volatile((addr + i as u64) as *mut u8, *b) };
    }
}

/// A try-lock cell (`TdxPlatform::Lock`): `try_lock` is one
/// compare-and-swap with Acquire, the guard's drop a Release store.
#[derive(Debug)]
pub struct SpinCell<T> {
    locked: AtomicBool,
    value: UnsafeCell<T>,
}

// SAFETY: `value` is reached only through a `SpinGuard`, and at most one
// guard exists at a time (the CAS in `try_lock`), so `&SpinCell` shared
// between CPUs hands out exclusive access; `T: Send` moves between CPUs.
unsafe impl<T: Send> Sync for SpinCell<T> {}

/// The held lock of a [`SpinCell`].
#[derive(Debug)]
pub struct SpinGuard<'a, T> {
    cell: &'a SpinCell<T>,
}

impl<T: Send> TryLock<T> for SpinCell<T> {
    type Guard<'a>
        = SpinGuard<'a, T>
    where
        Self: 'a;

    fn new(value: T) -> Self {
        SpinCell {
            locked: AtomicBool::new(false),
            value: UnsafeCell::new(value),
        }
    }

    fn try_lock(&self) -> Option<SpinGuard<'_, T>> {
        self.locked
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .ok()
            .map(|_| SpinGuard { cell: self })
    }
}

impl<T> Deref for SpinGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: this guard is the only one (see `Sync` above); the
        // Acquire CAS orders the access after the previous holder's drop.
        unsafe { &*self.cell.value.get() }
    }
}

impl<T> DerefMut for SpinGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as for `deref`, and `&mut self` makes this borrow unique.
        unsafe { &mut *self.cell.value.get() }
    }
}

impl<T> Drop for SpinGuard<'_, T> {
    fn drop(&mut self) {
        self.cell.locked.store(false, Ordering::Release);
    }
}

/// Bench mode's sample storage (too big for a stack), handed out once.
struct SampleCell(UnsafeCell<crate::bench::Samples>);
// SAFETY: the cell is reached only through `take_samples`, whose CAS on
// SAMPLES_TAKEN lets exactly one caller ever get the reference.
unsafe impl Sync for SampleCell {}
static SAMPLES: SampleCell = SampleCell(UnsafeCell::new(crate::bench::Samples::ZERO));
static SAMPLES_TAKEN: AtomicBool = AtomicBool::new(false);

/// The bench sample storage; `None` after the first call.
pub fn take_samples() -> Option<&'static mut crate::bench::Samples> {
    SAMPLES_TAKEN
        .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
        .ok()?;
    // SAFETY: the CAS above succeeds once, so this is the only reference
    // to the static for the rest of the run.
    Some(unsafe { &mut *SAMPLES.0.get() })
}

/// The TSC (instructions under `-icount shift=0`).
pub fn rdtsc() -> u64 {
    // SAFETY: RDTSC only reads the time-stamp counter (CR4.TSD is clear).
    unsafe { core::arch::x86_64::_rdtsc() }
}
