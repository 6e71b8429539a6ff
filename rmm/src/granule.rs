//! Granule state table: one 16-bit entry per 4 KiB granule of every DRAM
//! bank of the boot manifest.
//!
//! # Entry layout (`AtomicU16`)
//!
//! | Bits  | Field    | Meaning |
//! |-------|----------|---------|
//! | 15    | LOCK     | 1 while a CPU holds the granule lock |
//! | 14:12 | STATE    | 0..=6: [`GranuleState`] in TF-RMM numbering; 7: RESERVED (owned by the RMM itself, never visible through RMI) |
//! | 11:0  | REFCOUNT | 0..=4095, meaning depends on the state (cca-rmm-abi.md §5) |
//!
//! # Locking
//!
//! The lock is a test-and-set spin lock on bit 15: acquired with a CAS using
//! `Acquire`, released by the store of the final value with `Release`, so all
//! state written under the lock (including the granule's memory, e.g. the
//! zero fill on delegation) happens-before the next holder's reads. STATE and
//! REFCOUNT are only changed while the lock is held; [`GranuleGuard`] is the
//! only way to hold it and it unlocks on drop.
//!
//! Lock order for commands that hold several granule locks: RD, then RTTs
//! root to leaf, then object granules with `try_lock` (crate docs).
//!
//! The storage is supplied by the caller (the arch carves it out of `.bss`,
//! tests use a `Vec`), sized with [`storage_len`]; there is no global state.

use core::sync::atomic::{AtomicU16, Ordering};

use crate::boot::InitError;
use crate::manifest::DramLayout;
use crate::types::{GRANULE_SIZE, GranuleState, PhysAddr};

const LOCK: u16 = 1 << 15;
const STATE_SHIFT: u32 = 12;
const STATE_MASK: u16 = 0x7 << STATE_SHIFT;
const STATE_RESERVED: u16 = 7;
/// Largest reference count an entry can hold.
pub const REFCOUNT_MAX: u16 = 0x0FFF;

const fn encode(state: GranuleState, refcount: u16) -> u16 {
    ((state as u16) << STATE_SHIFT) | (refcount & REFCOUNT_MAX)
}

/// Number of `AtomicU16` entries the table needs for `dram` (one per
/// granule). Saturates at `usize::MAX`, which no storage can satisfy, so an
/// absurd manifest fails [`GranuleTable::new`] instead of wrapping.
pub fn storage_len(dram: &DramLayout) -> usize {
    usize::try_from(dram.total_granules()).unwrap_or(usize::MAX)
}

/// Reference-count errors: the count never wraps silently.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefcountError {
    /// Increment past [`REFCOUNT_MAX`].
    Overflow,
    /// Decrement of a zero count.
    Underflow,
}

/// Lock-free, possibly stale view of one entry, for diagnostics and tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GranuleSnapshot {
    /// LOCK bit.
    pub locked: bool,
    /// `None` if the granule is reserved for the RMM.
    pub state: Option<GranuleState>,
    /// REFCOUNT field.
    pub refcount: u16,
}

/// The granule state table. `Sync`: entries are atomics.
#[derive(Debug)]
pub struct GranuleTable<'a> {
    dram: DramLayout,
    storage: &'a [AtomicU16],
}

impl<'a> GranuleTable<'a> {
    /// Create the table over `storage` and reset every entry to UNDELEGATED,
    /// refcount 0, unlocked (the host owns all DRAM at boot). Fails if
    /// `storage` is shorter than [`storage_len`]; extra entries are unused.
    pub fn new(dram: DramLayout, storage: &'a [AtomicU16]) -> Result<Self, InitError> {
        let n = storage_len(&dram);
        let storage = storage.get(..n).ok_or(InitError::StorageTooSmall)?;
        for e in storage {
            e.store(0, Ordering::Relaxed);
        }
        Ok(GranuleTable { dram, storage })
    }

    /// The DRAM banks covered.
    pub fn dram(&self) -> &DramLayout {
        &self.dram
    }

    fn entry(&self, pa: PhysAddr) -> Option<&'a AtomicU16> {
        let slot = usize::try_from(self.dram.granule_slot(pa)?).ok()?;
        let storage: &'a [AtomicU16] = self.storage;
        storage.get(slot)
    }

    /// Spin until the LOCK bit of `e` is ours; returns the value (unlocked form).
    fn acquire(e: &AtomicU16) -> u16 {
        loop {
            let cur = e.load(Ordering::Relaxed) & !LOCK;
            // Acquire pairs with the Release store in `GranuleGuard::drop`.
            if e.compare_exchange_weak(cur, cur | LOCK, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                return cur;
            }
            core::hint::spin_loop();
        }
    }

    fn guard(e: &'a AtomicU16, pa: PhysAddr, raw: u16) -> Option<GranuleGuard<'a>> {
        match GranuleState::from_bits(((raw & STATE_MASK) >> STATE_SHIFT) as u8) {
            Some(state) => Some(GranuleGuard {
                entry: e,
                pa: PhysAddr(pa.0 & !(GRANULE_SIZE - 1)),
                state,
                refcount: raw & REFCOUNT_MAX,
            }),
            None => {
                // RESERVED: not lockable through this API; release untouched.
                e.store(raw, Ordering::Release);
                None
            }
        }
    }

    /// Lock the granule containing `pa` (spinning while another CPU holds it).
    /// `None` if `pa` is in no DRAM bank or the granule is reserved for the RMM.
    pub fn lock(&self, pa: PhysAddr) -> Option<GranuleGuard<'a>> {
        let e = self.entry(pa)?;
        let raw = Self::acquire(e);
        Self::guard(e, pa, raw)
    }

    /// Like [`GranuleTable::lock`] but never spins: also `None` if the lock is held.
    pub fn try_lock(&self, pa: PhysAddr) -> Option<GranuleGuard<'a>> {
        let e = self.entry(pa)?;
        let cur = e.load(Ordering::Relaxed) & !LOCK;
        e.compare_exchange(cur, cur | LOCK, Ordering::Acquire, Ordering::Relaxed)
            .ok()?;
        Self::guard(e, pa, cur)
    }

    /// `Some(true)` if the granule containing `pa` is reserved for the RMM,
    /// `None` if `pa` is in no bank. Reservation happens only at init and is
    /// never undone, so this lock-free read cannot race with a change.
    pub fn is_reserved(&self, pa: PhysAddr) -> Option<bool> {
        let raw = self.entry(pa)?.load(Ordering::Acquire);
        Some((raw & STATE_MASK) >> STATE_SHIFT == STATE_RESERVED)
    }

    /// Lock-free snapshot of the entry for `pa` (`None` outside the banks).
    pub fn snapshot(&self, pa: PhysAddr) -> Option<GranuleSnapshot> {
        let raw = self.entry(pa)?.load(Ordering::Acquire);
        Some(GranuleSnapshot {
            locked: raw & LOCK != 0,
            state: GranuleState::from_bits(((raw & STATE_MASK) >> STATE_SHIFT) as u8),
            refcount: raw & REFCOUNT_MAX,
        })
    }

    /// Mark every granule overlapping `[base, base + len)` that lies in a DRAM
    /// bank as RESERVED (the RMM image, the shared page): a host delegate of
    /// them must fail before EL3 is asked (rmm-el3-interface.md §9). Parts of
    /// the range outside the banks are ignored (nothing to protect there).
    /// Reserving twice is allowed. Each change is made under the granule lock.
    pub fn reserve(&self, base: PhysAddr, len: u64) -> Result<(), InitError> {
        if len == 0 {
            return Ok(());
        }
        // Inclusive last byte, so a range ending exactly at 2^64 is fine.
        let last = base
            .0
            .checked_add(len - 1)
            .ok_or(InitError::ReservedRangeOverflow)?;
        let mut g = base.0 & !(GRANULE_SIZE - 1);
        while g <= last {
            if let Some(e) = self.entry(PhysAddr(g)) {
                let raw = Self::acquire(e);
                let state = (raw & STATE_MASK) >> STATE_SHIFT;
                let free = raw == encode(GranuleState::Undelegated, 0);
                if state == STATE_RESERVED || free {
                    e.store(STATE_RESERVED << STATE_SHIFT, Ordering::Release);
                } else {
                    e.store(raw, Ordering::Release);
                    return Err(InitError::ReservedConflict);
                }
            }
            g = match g.checked_add(GRANULE_SIZE) {
                Some(n) => n,
                None => break,
            };
        }
        Ok(())
    }
}

/// A held granule lock. All reads and writes of STATE and REFCOUNT go through
/// it; the lock is released (with `Release` ordering) when it is dropped.
#[derive(Debug)]
pub struct GranuleGuard<'a> {
    entry: &'a AtomicU16,
    pa: PhysAddr,
    state: GranuleState,
    refcount: u16,
}

impl GranuleGuard<'_> {
    /// Granule-aligned PA of the locked granule.
    pub fn pa(&self) -> PhysAddr {
        self.pa
    }

    /// Current state.
    pub fn state(&self) -> GranuleState {
        self.state
    }

    /// Current reference count.
    pub fn refcount(&self) -> u16 {
        self.refcount
    }

    fn publish(&self) {
        // We hold LOCK, so no other CPU writes the entry; Relaxed suffices and
        // the final Release store in `drop` publishes it.
        self.entry
            .store(LOCK | encode(self.state, self.refcount), Ordering::Relaxed);
    }

    /// Change the state (reference count unchanged).
    pub fn set_state(&mut self, state: GranuleState) {
        self.state = state;
        self.publish();
    }

    /// Increment the reference count; fails (unchanged) at [`REFCOUNT_MAX`].
    pub fn inc_ref(&mut self) -> Result<(), RefcountError> {
        if self.refcount >= REFCOUNT_MAX {
            return Err(RefcountError::Overflow);
        }
        self.refcount += 1;
        self.publish();
        Ok(())
    }

    /// Decrement the reference count; fails (unchanged) at 0.
    pub fn dec_ref(&mut self) -> Result<(), RefcountError> {
        if self.refcount == 0 {
            return Err(RefcountError::Underflow);
        }
        self.refcount -= 1;
        self.publish();
        Ok(())
    }
}

impl Drop for GranuleGuard<'_> {
    fn drop(&mut self) {
        // Release: everything done under the lock is visible to the next
        // CPU that acquires it.
        self.entry
            .store(encode(self.state, self.refcount), Ordering::Release);
    }
}
