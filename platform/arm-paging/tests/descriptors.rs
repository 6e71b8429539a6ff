//! Bit-exact descriptor and register values.

mod common;

use arm_paging::{
    Access, Attrs, MAIR_IDX_DEVICE, MAIR_IDX_NORMAL, MapError, MemType, PageTables, Pas, Regime,
    Table, mair_value, page_descriptor, sctlr_mmu_on_bits, tcr_el2, tcr_el3,
};
use common::*;

const XN: u64 = 1 << 54;
/// AF | SH inner | AP[1] (RES1) | AttrIndx 1 (Normal).
const NORMAL_LOW: u64 = 0x400 | 0x300 | 0x40 | 0x4;
/// AF | SH outer | AP[1] (RES1) | AttrIndx 0 (Device).
const DEVICE_LOW: u64 = 0x400 | 0x200 | 0x40;
const PAGE: u64 = 0b11;
const PA: u64 = 0x0000_8765_4321_F000;

#[test]
fn el3_page_descriptor_for_each_pas() {
    let cases = [
        (Pas::Secure, 0x000),
        (Pas::NonSecure, 0x020),
        (Pas::Root, 0x800),
        (Pas::Realm, 0x820),
    ];
    for (pas, nse_ns) in cases {
        let d = page_descriptor(PA, data(pas), Regime::El3).unwrap();
        assert_eq!(d, XN | PA | NORMAL_LOW | nse_ns | PAGE, "{pas:?}");
    }
    assert_eq!(
        page_descriptor(0x4010_0000, data(Pas::Realm), Regime::El3),
        Ok(0x0040_0000_4010_0F67)
    );
    assert_eq!(
        page_descriptor(0x0E00_0000, data(Pas::Root), Regime::El3),
        Ok(0x0040_0000_0E00_0F47)
    );
}

#[test]
fn el2_page_descriptor_has_only_ns() {
    assert_eq!(
        page_descriptor(PA, data(Pas::Realm), Regime::El2),
        Ok(XN | PA | NORMAL_LOW | PAGE)
    );
    assert_eq!(
        page_descriptor(PA, data(Pas::NonSecure), Regime::El2),
        Ok(XN | PA | NORMAL_LOW | 0x20 | PAGE)
    );
    for pas in [Pas::Secure, Pas::Root] {
        assert_eq!(
            page_descriptor(PA, data(pas), Regime::El2),
            Err(MapError::InvalidPas)
        );
    }
    // The same Realm mapping differs between regimes only by NSE | NS.
    let el3 = page_descriptor(PA, code(Pas::Realm), Regime::El3).unwrap();
    let el2 = page_descriptor(PA, code(Pas::Realm), Regime::El2).unwrap();
    assert_eq!(el3 ^ el2, 0x820);
}

#[test]
fn access_exec_and_device_bits() {
    // RO executable: AP[2] set, XN clear.
    assert_eq!(
        page_descriptor(0x1000, code(Pas::Secure), Regime::El3),
        Ok(0x1000 | NORMAL_LOW | 0x80 | PAGE)
    );
    // RO execute-never.
    let ro_xn = attrs(MemType::Normal, Access::ReadOnly, false, Pas::Secure);
    assert_eq!(
        page_descriptor(0x1000, ro_xn, Regime::El3),
        Ok(XN | 0x1000 | NORMAL_LOW | 0x80 | PAGE)
    );
    // Device: index 0, outer shareable, always XN even if exec requested.
    let d = page_descriptor(0x0900_0000, device(Pas::NonSecure), Regime::El3).unwrap();
    assert_eq!(d, XN | 0x0900_0000 | DEVICE_LOW | 0x20 | PAGE);
    let dev_exec = attrs(MemType::Device, Access::ReadOnly, true, Pas::NonSecure);
    let d = page_descriptor(0x0900_0000, dev_exec, Regime::El3).unwrap();
    assert_eq!(d, XN | 0x0900_0000 | DEVICE_LOW | 0x80 | 0x20 | PAGE);
}

#[test]
fn page_descriptor_rejects_bad_input() {
    let rwx = attrs(MemType::Normal, Access::ReadWrite, true, Pas::Root);
    assert_eq!(
        page_descriptor(0x1000, rwx, Regime::El3),
        Err(MapError::WritableExecutable)
    );
    assert_eq!(
        page_descriptor(0x1800, data(Pas::Root), Regime::El3),
        Err(MapError::Misaligned)
    );
    assert_eq!(
        page_descriptor(1 << 48, data(Pas::Root), Regime::El3),
        Err(MapError::PaOutOfRange)
    );
}

#[test]
fn block_and_table_descriptors_in_tables() {
    let mut pool = pool(4);
    let mut pt = PageTables::new(&mut pool, POOL_PA, Regime::El3, 39).unwrap();
    pt.map(GIB, GIB, GIB, data(Pas::NonSecure)).unwrap();
    pt.map(0, 0x20_0000, 2 * MIB, code(Pas::Root)).unwrap();
    let root = pt.table(0).unwrap().0[..4].to_vec();
    // L1 block: output address, attributes, bits[1:0] = 0b01.
    assert_eq!(root[1], XN | GIB | NORMAL_LOW | 0x20 | 0b01);
    // L1 table descriptor to pool[1].
    assert_eq!(root[0], (POOL_PA + 0x1000) | 0b11);
    // L2 block for the 2 MiB code region: RO, exec, Root.
    let l2 = pt.table(1).unwrap();
    assert_eq!(l2.0[0], 0x20_0000 | NORMAL_LOW | 0x80 | 0x800 | 0b01);
    assert!(l2.0[1..].iter().all(|&d| d == 0));
}

#[test]
fn split_entries_are_bit_exact() {
    let mut pool = pool(4);
    let mut pt = PageTables::new(&mut pool, POOL_PA, Regime::El3, 39).unwrap();
    pt.map(0, 0, GIB, data(Pas::Realm)).unwrap();
    let (t, e) = pt.l3_table_for(0x0060_3000).unwrap();
    assert_eq!((t, e), (2, 3));
    let l2 = pt.table(1).unwrap();
    assert_eq!(l2.0[3], (POOL_PA + 0x2000) | 0b11);
    assert_eq!(l2.0[4], 0x0080_0000 | XN | NORMAL_LOW | 0x820 | 0b01);
    let l3 = pt.table(2).unwrap();
    let expect = page_descriptor(0x0060_3000, data(Pas::Realm), Regime::El3).unwrap();
    assert_eq!(l3.0[3], expect);
    assert_eq!(l3.0[511] - l3.0[0], 511 * 0x1000);
}

#[test]
fn translate_round_trips_every_attribute_combination() {
    let mems = [MemType::Normal, MemType::Device];
    let accesses = [Access::ReadOnly, Access::ReadWrite];
    let pases = [Pas::Secure, Pas::NonSecure, Pas::Root, Pas::Realm];
    for regime in [Regime::El3, Regime::El2] {
        let mut pool = pool(4);
        let mut pt = PageTables::new(&mut pool, POOL_PA, regime, 39).unwrap();
        let mut va = 0;
        for mem in mems {
            for access in accesses {
                for exec in [false, true] {
                    for pas in pases {
                        let a = Attrs {
                            mem,
                            access,
                            exec,
                            pas,
                        };
                        let r = pt.map(va, va, 4 * KIB, a);
                        let bad_pas =
                            regime == Regime::El2 && matches!(pas, Pas::Secure | Pas::Root);
                        let wx = exec && access == Access::ReadWrite;
                        if bad_pas || wx {
                            assert!(r.is_err(), "{regime:?} {a:?}");
                            assert_eq!(pt.translate(va), None);
                            continue;
                        }
                        r.unwrap();
                        let want = Attrs {
                            exec: exec && mem == MemType::Normal,
                            ..a
                        };
                        assert_eq!(pt.translate(va), Some((va, want, 3)), "{regime:?} {a:?}");
                        va += 4 * KIB;
                    }
                }
            }
        }
    }
}

#[test]
fn mair_tcr_sctlr_values() {
    assert_eq!(mair_value(), 0xFF04);
    assert_eq!((mair_value() >> (8 * MAIR_IDX_DEVICE)) & 0xFF, 0x04);
    assert_eq!((mair_value() >> (8 * MAIR_IDX_NORMAL)) & 0xFF, 0xFF);
    // 39-bit VA, 40-bit PA (PS = 2): T0SZ 25, IRGN/ORGN WBWA, SH inner,
    // TG0 4K, RES1 bits 31 and 23.
    assert_eq!(tcr_el3(39, 2), Ok(0x8082_3519));
    assert_eq!(tcr_el2(39, 2), Ok(0x8082_3519));
    assert_eq!(tcr_el3(48, 5), Ok(0x8085_3510));
    assert_eq!(tcr_el2(32, 0), Ok(0x8080_3520));
    assert_eq!(tcr_el3(31, 2), Err(MapError::InvalidVaBits(31)));
    assert_eq!(tcr_el2(49, 2), Err(MapError::InvalidVaBits(49)));
    assert_eq!(tcr_el3(39, 6), Err(MapError::InvalidPaSize(6)));
    assert_eq!(sctlr_mmu_on_bits(), 0x8_1005);
}

#[test]
fn table_layout() {
    assert_eq!(core::mem::size_of::<Table>(), 4096);
    assert_eq!(core::mem::align_of::<Table>(), 4096);
    assert_eq!(Table::default(), Table::ZERO);
}
