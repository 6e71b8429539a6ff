//! Bad input, pool exhaustion and `l3_table_for`.

mod common;

use arm_paging::{INVALID, MapError, PageTables, Pas, Regime};
use common::*;

#[test]
fn new_rejects_bad_parameters() {
    let mut p = pool(2);
    for bits in [0, 31, 49, 64] {
        assert_eq!(
            PageTables::new(&mut p, POOL_PA, Regime::El3, bits).unwrap_err(),
            MapError::InvalidVaBits(bits)
        );
    }
    assert_eq!(
        PageTables::new(&mut [], POOL_PA, Regime::El3, 39).unwrap_err(),
        MapError::EmptyPool
    );
    assert_eq!(
        PageTables::new(&mut p, POOL_PA + 8, Regime::El3, 39).unwrap_err(),
        MapError::Misaligned
    );
    assert_eq!(
        PageTables::new(&mut p, (1 << 48) - 4096, Regime::El3, 39).unwrap_err(),
        MapError::PaOutOfRange
    );
    assert_eq!(
        PageTables::new(&mut p, !0xFFF_u64, Regime::El2, 39).unwrap_err(),
        MapError::PaOutOfRange
    );
}

#[test]
fn new_clears_a_dirty_root() {
    let mut p = pool(2);
    p[0].0[7] = 0xDEAD_0003;
    let pt = PageTables::new(&mut p, POOL_PA, Regime::El3, 39).unwrap();
    assert_eq!(pt.translate(7 << 30), None);
    assert_eq!(pt.tables_used(), 1);
}

#[test]
fn map_rejects_bad_ranges() {
    let mut p = pool(4);
    let mut pt = PageTables::new(&mut p, POOL_PA, Regime::El3, 39).unwrap();
    let a = data(Pas::Root);
    assert_eq!(pt.map(0, 0, 0, a), Err(MapError::ZeroSize));
    assert_eq!(pt.map(0x800, 0, 4096, a), Err(MapError::Misaligned));
    assert_eq!(pt.map(0, 0x10, 4096, a), Err(MapError::Misaligned));
    assert_eq!(pt.map(0, 0, 4095, a), Err(MapError::Misaligned));
    assert_eq!(pt.map(1 << 39, 0, 4096, a), Err(MapError::VaOutOfRange));
    assert_eq!(
        pt.map((1 << 39) - 4096, 0, 8192, a),
        Err(MapError::VaOutOfRange)
    );
    assert_eq!(pt.map(!0xFFF_u64, 0, 4096, a), Err(MapError::VaOutOfRange));
    assert_eq!(pt.map(0, 0, !0xFFF_u64, a), Err(MapError::VaOutOfRange));
    assert_eq!(pt.map(0, 1 << 48, 4096, a), Err(MapError::PaOutOfRange));
    assert_eq!(
        pt.map(0, (1 << 48) - 4096, 8192, a),
        Err(MapError::PaOutOfRange)
    );
    assert_eq!(pt.map(0, !0xFFF_u64, 8192, a), Err(MapError::PaOutOfRange));
    let rwx = attrs(
        arm_paging::MemType::Normal,
        arm_paging::Access::ReadWrite,
        true,
        Pas::Root,
    );
    assert_eq!(pt.map(0, 0, 4096, rwx), Err(MapError::WritableExecutable));
    // The last page of the VA space and of the PA space are fine.
    pt.map((1 << 39) - 4096, (1 << 48) - 4096, 4096, a).unwrap();
    assert_eq!(pt.translate((1 << 39) - 1).unwrap().0, (1 << 48) - 1);
    // Nothing else was written by the failed calls.
    assert_eq!(pt.translate(0), None);
}

#[test]
fn el2_rejects_secure_and_root() {
    let mut p = pool(4);
    let mut pt = PageTables::new(&mut p, POOL_PA, Regime::El2, 39).unwrap();
    assert_eq!(
        pt.map(0, 0, GIB, data(Pas::Secure)),
        Err(MapError::InvalidPas)
    );
    assert_eq!(
        pt.map(0, 0, 4096, code(Pas::Root)),
        Err(MapError::InvalidPas)
    );
    assert_eq!(pt.tables_used(), 1);
    pt.map(0, 0, GIB, data(Pas::Realm)).unwrap();
    pt.map(GIB, GIB, GIB, data(Pas::NonSecure)).unwrap();
}

#[test]
fn pool_exhaustion_changes_nothing() {
    let mut p = pool(2);
    let mut pt = PageTables::new(&mut p, POOL_PA, Regime::El3, 39).unwrap();
    // A page needs L2 + L3: only one table is free.
    assert_eq!(
        pt.map(DRAM_VA, DRAM_VA, 4096, data(Pas::NonSecure)),
        Err(MapError::PoolExhausted)
    );
    assert_eq!(pt.tables_used(), 1);
    assert_eq!(pt.translate(DRAM_VA), None);
    assert!(pt.table(0).unwrap().0.iter().all(|&d| d == INVALID));
    // A 2 MiB block needs only the L2 table.
    pt.map(DRAM_VA, DRAM_VA, 2 * MIB, data(Pas::NonSecure))
        .unwrap();
    assert_eq!(pt.tables_used(), 2);
    // L1 blocks need nothing.
    pt.map(2 * GIB, 2 * GIB, 2 * GIB, data(Pas::NonSecure))
        .unwrap();
    // A range whose tail needs a table fails up front, although its first
    // part (an L1 block) alone would fit.
    assert_eq!(
        pt.map(0, 0, GIB + 4096, code(Pas::Root)),
        Err(MapError::PoolExhausted)
    );
    assert_eq!(pt.translate(0), None);
    assert_eq!(pt.translate(2 * GIB).unwrap().1, data(Pas::NonSecure));
}

const DRAM_VA: u64 = 0x4000_0000;

#[test]
fn pool_exhaustion_on_split_keeps_the_block() {
    let mut p = pool(2);
    let mut pt = PageTables::new(&mut p, POOL_PA, Regime::El3, 39).unwrap();
    pt.map(GIB, GIB, GIB, data(Pas::NonSecure)).unwrap();
    assert_eq!(
        pt.map(GIB + 4096, GIB + 4096, 4096, data(Pas::Realm)),
        Err(MapError::PoolExhausted)
    );
    assert_eq!(
        pt.translate(GIB + 4096),
        Some((GIB + 4096, data(Pas::NonSecure), 1))
    );
    assert_eq!(pt.l3_table_for(GIB), Err(MapError::PoolExhausted));
    assert_eq!(pt.tables_used(), 1);
    assert_eq!(pt.translate(GIB).unwrap().2, 1);
    // A 2 MiB override needs just one table and fits.
    pt.map(GIB, GIB, 2 * MIB, data(Pas::Realm)).unwrap();
    assert_eq!(pt.translate(GIB), Some((GIB, data(Pas::Realm), 2)));
    assert_eq!(pt.translate(GIB + 2 * MIB).unwrap().1, data(Pas::NonSecure));
}

#[test]
fn l3_table_for_empty_region() {
    let mut p = pool(4);
    let mut pt = PageTables::new(&mut p, POOL_PA, Regime::El2, 39).unwrap();
    let va = 0x7F_FFFF_F000;
    let (t, e) = pt.l3_table_for(va).unwrap();
    assert_eq!((t, e), (2, 511));
    assert_eq!(pt.tables_used(), 3);
    assert!(pt.table(t).unwrap().0.iter().all(|&d| d == INVALID));
    assert_eq!(pt.translate(va), None);
    // Same table again, and a neighbour in the same 2 MiB.
    assert_eq!(pt.l3_table_for(va + 0xFFF), Ok((2, 511)));
    assert_eq!(pt.l3_table_for(va - 0x1F_F000), Ok((2, 0)));
    assert_eq!(pt.tables_used(), 3);
    // Mapping a page there later lands in the same L3 table.
    pt.map(va, 0x4010_0000, 4096, data(Pas::Realm)).unwrap();
    assert_eq!(pt.tables_used(), 3);
    assert_eq!(pt.translate(va), Some((0x4010_0000, data(Pas::Realm), 3)));
    assert_eq!(pt.l3_table_for(1 << 39), Err(MapError::VaOutOfRange));
}

#[test]
fn l3_table_for_splits_an_l1_block_twice() {
    let mut p = pool(4);
    let mut pt = PageTables::new(&mut p, POOL_PA, Regime::El3, 39).unwrap();
    pt.map(GIB, GIB, GIB, code(Pas::Realm)).unwrap();
    let (t, e) = pt.l3_table_for(GIB + 0x1234_5678).unwrap();
    assert_eq!((t, e), (2, 0x145));
    assert_eq!(pt.tables_used(), 3);
    let old = code(Pas::Realm);
    for off in [
        0x1220_0000,
        0x1234_4FFF,
        0x1234_5000,
        0x1234_5678,
        0x123F_FFFF,
    ] {
        let (pa, a, level) = pt.translate(GIB + off).unwrap();
        assert_eq!((pa, a, level), (GIB + off, old, 3), "off {off:#x}");
    }
    for off in [0, 0x1220_0000 - 1, 0x1240_0000, GIB - 1] {
        assert_eq!(
            pt.translate(GIB + off),
            Some((GIB + off, old, 2)),
            "off {off:#x}"
        );
    }
    // Below an existing L2 block only one table is needed.
    pt.l3_table_for(GIB + 0x2000_0000).unwrap();
    assert_eq!(pt.tables_used(), 4);
    assert_eq!(
        pt.l3_table_for(GIB + 0x3000_0000),
        Err(MapError::PoolExhausted)
    );
}
