//! GranuleTable: sizing, lookup, per-granule lock, refcount, reservation.

use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::thread;

use rmm::boot::InitError;
use rmm::granule::{REFCOUNT_MAX, RefcountError};
use rmm::{DramBank, DramLayout, GranuleState, GranuleTable, PhysAddr, storage_len};

fn layout() -> DramLayout {
    DramLayout::new(&[
        DramBank {
            base: PhysAddr(0x1000_0000),
            size: 0x4000,
        },
        DramBank {
            base: PhysAddr(0x2000_0000),
            size: 0x2000,
        },
    ])
    .unwrap()
}

fn storage(n: usize) -> Vec<AtomicU16> {
    (0..n).map(|_| AtomicU16::new(0xFFFF)).collect()
}

#[test]
fn storage_len_is_one_entry_per_granule() {
    assert_eq!(storage_len(&layout()), 6);
    let qemu = DramLayout::new(&[DramBank {
        base: PhysAddr(0x4000_0000),
        size: 0xC000_0000,
    }])
    .unwrap();
    assert_eq!(storage_len(&qemu), 0xC_0000); // 3 GiB / 4 KiB, 2 bytes each = 1.5 MiB
}

#[test]
fn new_checks_storage_and_resets_entries() {
    let st = storage(5);
    assert_eq!(
        GranuleTable::new(layout(), &st).unwrap_err(),
        InitError::StorageTooSmall
    );
    let st = storage(7); // garbage contents, one spare entry
    let t = GranuleTable::new(layout(), &st).unwrap();
    for pa in [0x1000_0000, 0x1000_3000, 0x2000_0000, 0x2000_1FFF] {
        let s = t.snapshot(PhysAddr(pa)).unwrap();
        assert_eq!(
            (s.locked, s.state, s.refcount),
            (false, Some(GranuleState::Undelegated), 0)
        );
    }
}

#[test]
fn lookup_outside_banks_is_none() {
    let st = storage(6);
    let t = GranuleTable::new(layout(), &st).unwrap();
    for pa in [
        0,
        0x0FFF_F000,
        0x1000_4000,
        0x1FFF_F000,
        0x2000_2000,
        u64::MAX,
    ] {
        assert!(t.lock(PhysAddr(pa)).is_none(), "{pa:#x}");
        assert!(t.snapshot(PhysAddr(pa)).is_none());
        assert_eq!(t.is_reserved(PhysAddr(pa)), None);
    }
    // An unaligned PA names the granule that contains it.
    assert_eq!(
        t.lock(PhysAddr(0x2000_1234)).unwrap().pa(),
        PhysAddr(0x2000_1000)
    );
}

#[test]
fn granules_are_independent() {
    let st = storage(6);
    let t = GranuleTable::new(layout(), &st).unwrap();
    t.lock(PhysAddr(0x2000_0000))
        .unwrap()
        .set_state(GranuleState::Rtt);
    assert_eq!(
        t.lock(PhysAddr(0x2000_0000)).unwrap().state(),
        GranuleState::Rtt
    );
    assert_eq!(
        t.lock(PhysAddr(0x1000_3000)).unwrap().state(),
        GranuleState::Undelegated
    );
    assert_eq!(
        t.lock(PhysAddr(0x2000_1000)).unwrap().state(),
        GranuleState::Undelegated
    );
    // Slot order: bank 0 granules 0..4, then bank 1.
    assert_eq!(
        st[4].load(Ordering::Relaxed) >> 12,
        GranuleState::Rtt as u16
    );
}

#[test]
fn guard_locks_and_unlocks_on_drop() {
    let st = storage(6);
    let t = GranuleTable::new(layout(), &st).unwrap();
    let pa = PhysAddr(0x1000_1000);
    {
        let mut g = t.lock(pa).unwrap();
        assert!(t.snapshot(pa).unwrap().locked);
        assert!(t.try_lock(pa).is_none(), "lock is exclusive");
        assert!(
            t.try_lock(PhysAddr(0x1000_2000)).is_some(),
            "other granules are free"
        );
        g.set_state(GranuleState::Delegated);
    }
    let s = t.snapshot(pa).unwrap();
    assert!(!s.locked);
    assert_eq!(s.state, Some(GranuleState::Delegated));
    assert!(t.try_lock(pa).is_some());
}

#[test]
fn refcount_saturates_without_wrapping() {
    let st = storage(6);
    let t = GranuleTable::new(layout(), &st).unwrap();
    let mut g = t.lock(PhysAddr(0x1000_0000)).unwrap();
    g.set_state(GranuleState::Rtt);
    assert_eq!(g.dec_ref(), Err(RefcountError::Underflow));
    assert_eq!(g.refcount(), 0);
    for _ in 0..REFCOUNT_MAX {
        g.inc_ref().unwrap();
    }
    assert_eq!(g.refcount(), 4095);
    assert_eq!(g.inc_ref(), Err(RefcountError::Overflow));
    assert_eq!(g.refcount(), 4095);
    assert_eq!(
        g.state(),
        GranuleState::Rtt,
        "refcount never bleeds into STATE"
    );
    drop(g);
    let mut g = t.lock(PhysAddr(0x1000_0000)).unwrap();
    assert_eq!((g.state(), g.refcount()), (GranuleState::Rtt, 4095));
    g.dec_ref().unwrap();
    g.set_state(GranuleState::Rd);
    assert_eq!((g.state(), g.refcount()), (GranuleState::Rd, 4094));
}

#[test]
fn reserve_marks_whole_granules_and_hides_them() {
    let st = storage(6);
    let t = GranuleTable::new(layout(), &st).unwrap();
    // Unaligned range touching granules 1 and 2 of bank 0, plus memory outside any bank.
    t.reserve(PhysAddr(0x1000_1800), 0x1000).unwrap();
    t.reserve(PhysAddr(0x0FFF_0000), 0x1_1000).unwrap(); // covers granule 0
    assert_eq!(t.is_reserved(PhysAddr(0x1000_0000)), Some(true));
    assert_eq!(t.is_reserved(PhysAddr(0x1000_1000)), Some(true));
    assert_eq!(t.is_reserved(PhysAddr(0x1000_2000)), Some(true));
    assert_eq!(t.is_reserved(PhysAddr(0x1000_3000)), Some(false));
    assert!(t.lock(PhysAddr(0x1000_1000)).is_none());
    assert!(t.try_lock(PhysAddr(0x1000_1000)).is_none());
    assert_eq!(t.snapshot(PhysAddr(0x1000_1000)).unwrap().state, None);
    // Idempotent, zero-length is a no-op.
    t.reserve(PhysAddr(0x1000_1000), 0x1000).unwrap();
    t.reserve(PhysAddr(0x1000_3000), 0).unwrap();
    assert_eq!(t.is_reserved(PhysAddr(0x1000_3000)), Some(false));
    // A granule in use cannot become reserved.
    t.lock(PhysAddr(0x2000_0000))
        .unwrap()
        .set_state(GranuleState::Delegated);
    assert_eq!(
        t.reserve(PhysAddr(0x2000_0000), 1),
        Err(InitError::ReservedConflict)
    );
    assert_eq!(
        t.reserve(PhysAddr(u64::MAX), 2),
        Err(InitError::ReservedRangeOverflow)
    );
    // Reserving the very last granule of the address space terminates.
    t.reserve(PhysAddr(!0xFFF), 0x1000).unwrap();
}

#[test]
fn lock_gives_mutual_exclusion_across_threads() {
    let st = storage(6);
    let t = GranuleTable::new(layout(), &st).unwrap();
    let pa = PhysAddr(0x2000_1000);
    let inside = AtomicBool::new(false);
    thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for i in 0..1000 {
                    let mut g = t.lock(pa).unwrap();
                    assert!(!inside.swap(true, Ordering::Relaxed), "two holders");
                    if i % 2 == 0 {
                        g.inc_ref().unwrap();
                    } else {
                        // Non-atomic read-modify-write of the count: lost
                        // updates would show if the lock did not exclude.
                        let n = g.refcount();
                        g.dec_ref().unwrap();
                        g.inc_ref().unwrap();
                        g.inc_ref().unwrap();
                        assert_eq!(g.refcount(), n + 1);
                    }
                    inside.store(false, Ordering::Relaxed);
                }
            });
        }
    });
    // Every iteration adds exactly one: 4 x 1000 = 4000 (< REFCOUNT_MAX).
    assert_eq!(t.lock(pa).unwrap().refcount(), 4000);
    assert!(!t.snapshot(pa).unwrap().locked);
}
