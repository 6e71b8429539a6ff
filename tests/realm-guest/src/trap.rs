//! The guest's exception vector: synchronous external aborts on an armed
//! probe address are recorded and skipped; anything else is fatal.

use core::sync::atomic::{AtomicU64, Ordering};

use crate::arch;
use crate::layout::MAX_RECS;

/// ESR_EL1 of a data abort taken at EL1 (EC 0x25) with IL set and DFSC
/// 0x10, synchronous external abort: what the RMM injects (cca-rmm-abi.md
/// §7, §8 INJECT_SEA).
pub const ESR_SEA_CURRENT_EL: u64 = 0x25 << 26 | 1 << 25 | 0x10;
/// Vector offset index of "current EL with SP_ELx, synchronous".
const CURRENT_SPX_SYNC: u64 = 4;

/// Per REC: the address a probe expects to fault on (0 = none), SEAs taken
/// and the syndrome of the last one. Each REC touches only its own slot.
struct Slot {
    armed: AtomicU64,
    seas: AtomicU64,
    esr: AtomicU64,
    far: AtomicU64,
}

static SLOTS: [Slot; MAX_RECS] = [const {
    Slot {
        armed: AtomicU64::new(0),
        seas: AtomicU64::new(0),
        esr: AtomicU64::new(0),
        far: AtomicU64::new(0),
    }
}; MAX_RECS];

/// What a probe saw: SEAs taken while armed, with the last ESR and FAR.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Seen {
    pub seas: u64,
    pub esr: u64,
    pub far: u64,
}

/// Run `f` with an SEA at `addr` expected (and skipped if it comes).
pub fn with_armed<R>(addr: u64, f: impl FnOnce() -> R) -> (R, Seen) {
    let s = &SLOTS[arch::rec_index() % MAX_RECS];
    let before = s.seas.load(Ordering::Relaxed);
    s.armed.store(addr, Ordering::Relaxed);
    let r = f();
    s.armed.store(0, Ordering::Relaxed);
    let seen = Seen {
        seas: s.seas.load(Ordering::Relaxed) - before,
        esr: s.esr.load(Ordering::Relaxed),
        far: s.far.load(Ordering::Relaxed),
    };
    (r, seen)
}

#[unsafe(no_mangle)]
extern "C" fn guest_exception(kind: u64, esr: u64, far: u64, elr: u64) -> u64 {
    let s = &SLOTS[arch::rec_index() % MAX_RECS];
    let armed = s.armed.load(Ordering::Relaxed);
    if kind == CURRENT_SPX_SYNC && esr == ESR_SEA_CURRENT_EL && armed != 0 && far == armed {
        s.seas
            .store(s.seas.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
        s.esr.store(esr, Ordering::Relaxed);
        s.far.store(far, Ordering::Relaxed);
        s.armed.store(0, Ordering::Relaxed);
        // Skip the faulting load (A64: 4 bytes).
        return elr + 4;
    }
    crate::fatal(
        2,
        format_args!("exception {kind}: ESR {esr:#x} FAR {far:#x} ELR {elr:#x}"),
    )
}
