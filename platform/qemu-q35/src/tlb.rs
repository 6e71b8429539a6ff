//! TLB shootdown for the user (CPL 3) page tables, without IPIs.
//!
//! The scheme relies on three facts of this platform:
//! 1. CPL 0 never uses the user tables' TLB entries: every trap from CPL 3
//!    switches CR3 to the boot tables on entry (`idt.rs`), and
//!    [`crate::user::enter_user`] switches back only to run CPL 3 code.
//!    A CR3 write flushes every non-global TLB entry, and no entry of
//!    either table set is global.
//! 2. So the only CPUs that may hold a stale user entry are CPUs that are
//!    on the user tables right now. Each CPU records, in `ON_USER[cpu]`,
//!    the epoch it read just before its last CR3 load of the user tables
//!    (plus one; 0 = not on the user tables).
//! 3. CPL 3 code runs with IF = 0 and always comes back into CPL 0 (a
//!    SEAMCALL, a fault or the INT 0x80 exit), where it leaves the user
//!    tables.
//!
//! [`shootdown`] (after a PTE change that removes access) bumps the epoch
//! and waits until every other CPU is either off the user tables or has
//! reloaded them at the new epoch. The waiter never needs another CPU in
//! CPL 0 to do anything, so two CPUs shooting down at once cannot deadlock;
//! a CPU at CPL 3 is waited for until its next trap (a VMM that spins at
//! CPL 3 forever only stalls itself and the SEAMCALLs that isolate pages,
//! which it could also do by never calling). Adding access (P 0 -> 1) needs
//! no flush: x86 does not cache not-present entries.
//!
//! Ordering: the writer does PTE store -> epoch RMW -> reads of `ON_USER`;
//! a CPU loading the user tables does epoch load -> `ON_USER` store -> CR3
//! write (serialising). All are SeqCst, so either the writer sees the new
//! `ON_USER` value, or the CPU's CR3 write follows the PTE store.

use core::sync::atomic::{AtomicU64, Ordering};

use crate::arch;
use crate::{BOOT_PML4, MAX_CPUS, cpu};

static EPOCH: AtomicU64 = AtomicU64::new(1);
static ON_USER: [AtomicU64; MAX_CPUS] = [const { AtomicU64::new(0) }; MAX_CPUS];

/// The current epoch; it changes on every [`shootdown`], so a reader that
/// sees the same value before and after copying user memory knows no page
/// was taken away in between (a seqlock).
pub fn epoch() -> u64 {
    EPOCH.load(Ordering::SeqCst)
}

/// Loads the user tables at `pml4` on this CPU (before running CPL 3).
pub fn load_user_tables(pml4: u64) {
    let i = cpu::current_index();
    let e = EPOCH.load(Ordering::SeqCst);
    if let Some(slot) = ON_USER.get(i) {
        slot.store(e + 1, Ordering::SeqCst);
    }
    // SAFETY: user tables map everything CPL 0 uses exactly like the boot
    // tables (paging.rs); the CR3 write flushes this CPU's TLB.
    unsafe { arch::write_cr3(pml4) };
}

/// Back to the boot tables on this CPU (after CPL 3 trapped or exited).
pub fn leave_user_tables() {
    // SAFETY: the boot tables identity-map all of 0..4 GiB (entry32.S).
    unsafe { arch::write_cr3(u64::from(BOOT_PML4)) };
    if let Some(slot) = ON_USER.get(cpu::current_index()) {
        slot.store(0, Ordering::SeqCst);
    }
}

/// Flushes the user tables' TLB entries on every CPU: returns once no CPU
/// can still use a translation removed before the call.
pub fn shootdown() {
    let me = cpu::current_index();
    let e = EPOCH.fetch_add(1, Ordering::SeqCst) + 1;
    for (i, slot) in ON_USER.iter().enumerate() {
        if i == me {
            continue;
        }
        loop {
            let v = slot.load(Ordering::SeqCst);
            if v == 0 || v > e {
                break;
            }
            core::hint::spin_loop();
        }
    }
}
