//! The QEMU virt EL3 and R-EL2 layouts (qemu-platforms.md §2.3,
//! rmm-el3-interface.md §8).

mod common;

use arm_paging::{INVALID, MapError, PageTables, Pas, Regime, Table, page_descriptor};
use common::*;

const FLASH: u64 = 0x0000_0000;
const FLASH_SIZE: u64 = 64 * MIB;
const DEV: u64 = 0x0800_0000;
const DEV_END: u64 = 0x0E00_0000;
const SRAM: u64 = 0x0E00_0000;
const SRAM_SIZE: u64 = 16 * MIB;
const DRAM: u64 = 0x4000_0000;
const DRAM_SIZE: u64 = GIB;
const REALM: u64 = 0x4010_0000;
const REALM_END: u64 = 0x4190_0000;

/// Builds the EL3 layout: flash, devices, secure RAM (Root), DRAM NS with
/// the RMM carve-out Realm.
fn el3_layout(pool: &mut [Table]) -> PageTables<'_> {
    let mut pt = PageTables::new(pool, POOL_PA, Regime::El3, 39).unwrap();
    pt.map(FLASH, FLASH, FLASH_SIZE, code(Pas::Root)).unwrap();
    pt.map(DEV, DEV, DEV_END - DEV, device(Pas::Root)).unwrap();
    pt.map(SRAM, SRAM, SRAM_SIZE, data(Pas::Root)).unwrap();
    pt.map(DRAM, DRAM, DRAM_SIZE, data(Pas::NonSecure)).unwrap();
    assert_eq!(
        pt.translate(DRAM + 0x100_0000).unwrap().2,
        1,
        "DRAM is one L1 block"
    );
    pt.map(REALM, REALM, REALM_END - REALM, data(Pas::Realm))
        .unwrap();
    pt
}

#[test]
fn el3_layout_translates_every_region_and_boundary() {
    let mut pool = pool(8);
    let pt = el3_layout(&mut pool);
    let cases: &[(u64, Option<(arm_paging::Attrs, u8)>)] = &[
        (0x0, Some((code(Pas::Root), 2))),
        (0x1234, Some((code(Pas::Root), 2))),
        (0x001F_FFFF, Some((code(Pas::Root), 2))),
        (0x0020_0000, Some((code(Pas::Root), 2))),
        (FLASH_SIZE - 8, Some((code(Pas::Root), 2))),
        (FLASH_SIZE, None),
        (0x07FF_FFFF, None),
        (DEV, Some((device(Pas::Root), 2))),
        (0x0900_0000, Some((device(Pas::Root), 2))),
        (0x090B_0004, Some((device(Pas::Root), 2))),
        (DEV_END - 1, Some((device(Pas::Root), 2))),
        (SRAM, Some((data(Pas::Root), 2))),
        (SRAM + SRAM_SIZE - 1, Some((data(Pas::Root), 2))),
        (SRAM + SRAM_SIZE, None),
        (0x3FFF_FFFF, None),
        (DRAM, Some((data(Pas::NonSecure), 3))),
        (REALM - 1, Some((data(Pas::NonSecure), 3))),
        (REALM, Some((data(Pas::Realm), 3))),
        (0x401F_F000, Some((data(Pas::Realm), 3))),
        (0x4020_0000, Some((data(Pas::Realm), 2))),
        (0x417F_FFFF, Some((data(Pas::Realm), 2))),
        (0x4180_0000, Some((data(Pas::Realm), 3))),
        (0x418F_F000, Some((data(Pas::Realm), 3))),
        (REALM_END - 1, Some((data(Pas::Realm), 3))),
        (REALM_END, Some((data(Pas::NonSecure), 3))),
        (0x419F_FFFF, Some((data(Pas::NonSecure), 3))),
        (0x41A0_0000, Some((data(Pas::NonSecure), 2))),
        (0x6000_0000, Some((data(Pas::NonSecure), 2))),
        (DRAM + DRAM_SIZE - 1, Some((data(Pas::NonSecure), 2))),
        (DRAM + DRAM_SIZE, None),
        ((1 << 39) - 1, None),
        (1 << 39, None),
        (u64::MAX, None),
    ];
    for &(va, want) in cases {
        let got = pt.translate(va);
        match want {
            None => assert_eq!(got, None, "va {va:#x}"),
            Some((a, level)) => assert_eq!(got, Some((va, a, level)), "va {va:#x}"),
        }
    }
}

#[test]
fn el3_layout_uses_few_tables() {
    let mut pool = pool(8);
    let pt = el3_layout(&mut pool);
    // Root L1, L2 for the first GiB, L2 for DRAM (split), two L3 tables.
    assert_eq!(pt.tables_used(), 5);
    assert_eq!(pt.start_level(), 1);
    assert_eq!(pt.root_pa(), POOL_PA);
    // Root entry 0 and 1 are table descriptors to pool[1] and pool[2].
    let root = pt.table(0).unwrap();
    assert_eq!(root.0[0], (POOL_PA + 0x1000) | 0b11);
    assert_eq!(root.0[1], (POOL_PA + 0x2000) | 0b11);
    assert!(root.0[2..].iter().all(|&d| d == INVALID));
    assert_eq!(pt.table_pa(4), Some(POOL_PA + 0x4000));
    assert_eq!(pt.table_pa(5), None);
    assert!(pt.table(5).is_none());
}

#[test]
fn el3_layout_fits_exactly_in_five_tables() {
    let mut pool = pool(5);
    let pt = el3_layout(&mut pool);
    assert_eq!(pt.tables_used(), 5);
}

#[test]
fn split_keeps_untouched_block_attributes_and_addresses() {
    let mut pool = pool(8);
    let mut pt = PageTables::new(&mut pool, POOL_PA, Regime::El3, 39).unwrap();
    // Non-identity block: VA 1 GiB -> PA 3 GiB, so the split must carry the
    // output addresses, not the VAs.
    pt.map(GIB, 3 * GIB, GIB, code(Pas::Secure)).unwrap();
    pt.map(GIB + 0x0030_0000, 0x5000_0000, 0x2000, data(Pas::NonSecure))
        .unwrap();
    assert_eq!(pt.tables_used(), 3);
    let old = code(Pas::Secure);
    assert_eq!(pt.translate(GIB), Some((3 * GIB, old, 2)));
    assert_eq!(
        pt.translate(GIB + 0x0020_0000),
        Some((3 * GIB + 0x0020_0000, old, 3))
    );
    assert_eq!(
        pt.translate(GIB + 0x002F_F123),
        Some((3 * GIB + 0x002F_F123, old, 3))
    );
    let new = data(Pas::NonSecure);
    assert_eq!(pt.translate(GIB + 0x0030_0000), Some((0x5000_0000, new, 3)));
    assert_eq!(pt.translate(GIB + 0x0030_1FFF), Some((0x5000_1FFF, new, 3)));
    assert_eq!(
        pt.translate(GIB + 0x0030_2000),
        Some((3 * GIB + 0x0030_2000, old, 3))
    );
    assert_eq!(
        pt.translate(GIB + 0x003F_FFFF),
        Some((3 * GIB + 0x003F_FFFF, old, 3))
    );
    assert_eq!(
        pt.translate(GIB + 0x0040_0000),
        Some((3 * GIB + 0x0040_0000, old, 2))
    );
    assert_eq!(pt.translate(2 * GIB - 1), Some((4 * GIB - 1, old, 2)));
}

#[test]
fn block_levels_follow_alignment() {
    let mut pool = pool(8);
    let mut pt = PageTables::new(&mut pool, POOL_PA, Regime::El3, 40).unwrap();
    // 2 GiB at a 1 GiB boundary: two L1 blocks, no extra table.
    pt.map(2 * GIB, 2 * GIB, 2 * GIB, data(Pas::NonSecure))
        .unwrap();
    assert_eq!(pt.start_level(), 0);
    assert_eq!(pt.tables_used(), 2);
    assert_eq!(pt.translate(2 * GIB).unwrap().2, 1);
    assert_eq!(pt.translate(4 * GIB - 1).unwrap().2, 1);
    // VA 2 MiB aligned but PA only 4 KiB aligned: pages.
    pt.map(0x20_0000, 0x4000_1000, 0x20_0000, data(Pas::Root))
        .unwrap();
    let (pa, _, level) = pt.translate(0x20_0000).unwrap();
    assert_eq!((pa, level), (0x4000_1000, 3));
    let (pa, _, level) = pt.translate(0x3F_FFFF).unwrap();
    assert_eq!((pa, level), (0x4020_0FFF, 3));
    // 1 GiB + 2 MiB starting 2 MiB below a GiB boundary: L2, L1, L2.
    pt.map(
        8 * GIB - 2 * MIB,
        8 * GIB - 2 * MIB,
        GIB + 2 * MIB,
        data(Pas::NonSecure),
    )
    .unwrap();
    assert_eq!(pt.translate(8 * GIB - 2 * MIB).unwrap().2, 2);
    assert_eq!(pt.translate(8 * GIB).unwrap().2, 1);
    assert_eq!(pt.translate(9 * GIB - 1).unwrap().2, 1);
}

#[test]
fn remapping_over_existing_tables_reuses_them() {
    let mut pool = pool(8);
    let mut pt = PageTables::new(&mut pool, POOL_PA, Regime::El3, 39).unwrap();
    pt.map(DRAM + 4 * KIB, DRAM + 4 * KIB, 4 * KIB, data(Pas::Realm))
        .unwrap();
    let used = pt.tables_used();
    // Covering the whole GiB keeps the finer tables; nothing leaks.
    pt.map(DRAM, DRAM, GIB, code(Pas::NonSecure)).unwrap();
    assert_eq!(pt.tables_used(), used);
    assert_eq!(
        pt.translate(DRAM + 4 * KIB),
        Some((DRAM + 4 * KIB, code(Pas::NonSecure), 3))
    );
    assert_eq!(
        pt.translate(DRAM + 3 * MIB),
        Some((DRAM + 3 * MIB, code(Pas::NonSecure), 2))
    );
    assert_eq!(
        pt.translate(DRAM + GIB - 1).unwrap().1,
        code(Pas::NonSecure)
    );
}

#[test]
fn va_bits_48_and_32_extremes() {
    let mut pool48 = pool(8);
    let mut pt = PageTables::new(&mut pool48, POOL_PA, Regime::El3, 48).unwrap();
    let top = (1 << 48) - 4 * KIB;
    pt.map(top, 0x4000_0000, 4 * KIB, data(Pas::Root)).unwrap();
    assert_eq!(pt.tables_used(), 4, "L0 root + L1 + L2 + L3");
    assert_eq!(
        pt.translate(top + 0xFFF),
        Some((0x4000_0FFF, data(Pas::Root), 3))
    );
    assert_eq!(pt.table(0).unwrap().0[511] & 0b11, 0b11);
    assert_eq!(
        pt.map(top, 0, 8 * KIB, data(Pas::Root)),
        Err(MapError::VaOutOfRange)
    );

    let mut pool32 = pool(4);
    let mut pt = PageTables::new(&mut pool32, POOL_PA, Regime::El3, 32).unwrap();
    pt.map(3 * GIB, 3 * GIB, GIB, device(Pas::NonSecure))
        .unwrap();
    assert_eq!(pt.tables_used(), 1);
    assert_eq!(pt.translate(0xFFFF_FFFF).unwrap().2, 1);
    assert_eq!(pt.translate(1 << 32), None);
    assert_eq!(
        pt.map(1 << 32, 0, 4 * KIB, data(Pas::Root)),
        Err(MapError::VaOutOfRange)
    );
}

#[test]
fn rmm_el2_layout_with_slot_buffers() {
    const UART: u64 = 0x0900_0000;
    const SHARED: u64 = 0x418F_F000;
    const SLOTS: u64 = 0x80_0000_0000 - 16 * 4 * KIB; // top of 39-bit VA
    let mut pool = pool(12);
    let mut pt = PageTables::new(&mut pool, 0x4180_0000, Regime::El2, 39).unwrap();
    pt.map(UART, UART, 4 * KIB, device(Pas::NonSecure)).unwrap();
    pt.map(REALM, REALM, 0x20_0000, code(Pas::Realm)).unwrap();
    pt.map(0x4030_0000, 0x4030_0000, 0x15F_F000, data(Pas::Realm))
        .unwrap();
    pt.map(SHARED, SHARED, 4 * KIB, data(Pas::Realm)).unwrap();
    assert_eq!(pt.translate(UART), Some((UART, device(Pas::NonSecure), 3)));
    assert_eq!(
        pt.translate(REALM + 0x10),
        Some((REALM + 0x10, code(Pas::Realm), 3))
    );
    assert_eq!(pt.translate(0x4040_0000).unwrap().2, 2);
    assert_eq!(pt.translate(SHARED).unwrap().1, data(Pas::Realm));
    assert_eq!(pt.translate(0x4190_0000), None);

    // Reserve 16 slot pages: one L2 + one L3 table, entries invalid.
    let used = pt.tables_used();
    let (t, e) = pt.l3_table_for(SLOTS).unwrap();
    assert_eq!(pt.tables_used(), used + 2);
    assert_eq!(e, 512 - 16);
    for i in 0..16 {
        let (ti, ei) = pt.l3_table_for(SLOTS + i * 4 * KIB).unwrap();
        assert_eq!((ti, ei), (t, e + i as usize));
        assert_eq!(pt.table(ti).unwrap().0[ei], INVALID);
        assert_eq!(pt.translate(SLOTS + i * 4 * KIB), None);
    }
    assert_eq!(pt.tables_used(), used + 2, "idempotent");
    let slot_table_pa = pt.table_pa(t).unwrap();
    assert_eq!(slot_table_pa, 0x4180_0000 + t as u64 * 4 * KIB);
    // Runtime code writes page_descriptor() at slot_table_pa + 8 * e.
    let d = page_descriptor(0x8800_0000, data(Pas::NonSecure), Regime::El2).unwrap();
    assert_eq!(d, 0x0040_0000_8800_0767);
}
