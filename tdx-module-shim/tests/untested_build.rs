//! Conditions the coverage table listed as untested, part 1: the SEAMCALL
//! dispatch's LP check, TDH.SYS.CONFIG's TDMR_INFO reads and overlap
//! checks, and the TDR / TD-state checks of TDH.MNG.KEY.CONFIG, ADDCX and
//! INIT. Each case passes every earlier check of its leaf and fails the
//! one it names, with the exact status, and changes nothing.
mod common;
#[path = "common/untested.rs"]
mod untested;

use common::contention::*;
use common::*;
use untested::*;

use tdx_module_shim::pamt::TdmrInfo;
use tdx_module_shim::*;

const INV: Code = Code::OperandInvalid;
const RANGE: Code = Code::OperandAddrRangeError;

// ---------------------------------------------------------------- dispatch

/// LPs the module does not have: index ≥ num_lps (2) or package ≥
/// num_packages (2).
const FOREIGN_LPS: [Lp; 4] = [
    Lp {
        index: 2,
        package: 0,
    },
    Lp {
        index: u32::MAX,
        package: 1,
    },
    Lp {
        index: 1,
        package: 2,
    },
    Lp {
        index: 0,
        package: u32::MAX,
    },
];

#[test]
fn dispatch_refuses_an_lp_outside_the_module() {
    let not_done = c(Code::SysLpInitNotDone);
    for lp in FOREIGN_LPS {
        // SYS.INIT and LP.INIT need no LP.INIT, but still a known LP.
        let m = module();
        assert_eq!(call_on(&m, lp, SYS_INIT, 0, 0, 0, 0).0, not_done, "{lp:?}");
        assert_eq!(m.sys_state(), SysState::SysinitPending, "{lp:?}");
        // The RAX checks come first (rows 2..5).
        assert_eq!(
            call_on(&m, lp, 44, 0, 0, 0, 0).0,
            st(INV, OperandId::Rax),
            "{lp:?}: SYS.LP.SHUTDOWN"
        );
        assert_eq!(
            call_on(&m, lp, SYS_INIT | 1 << 16, 0, 0, 0, 0).0,
            st(INV, OperandId::Rax),
            "{lp:?}: SYS.INIT v1"
        );
        assert_eq!(call(&m, SYS_INIT, 0, 0, 0, 0), 0);
        // An LP.INIT from it is not counted: SYS.CONFIG still waits for LP1.
        assert_eq!(call_on(&m, lp, SYS_LP_INIT, 0, 0, 0, 0).0, not_done);
        assert_eq!(call_on(&m, LP0, SYS_LP_INIT, 0, 0, 0, 0).0, 0);
        write_tdmrs(&m, &[tdmr0()]);
        assert_eq!(
            call(&m, SYS_CONFIG, TDMR_ARRAY, 1, GLOBAL_HKID, 0),
            c(Code::SysConfigNotPending),
            "{lp:?}: LP.INIT counted"
        );
    }
    // Once SYS_READY: every leaf, before its own checks.
    let rows: Vec<Row> = FOREIGN_LPS
        .iter()
        .flat_map(|&lp| {
            [
                (
                    "SYS.RD",
                    ready as fn() -> M,
                    Call::Seam(lp, SYS_RD, [0, 0x0800_0001_0000_0004, 0, 0]),
                    not_done,
                ),
                (
                    "MNG.CREATE",
                    ready,
                    Call::Seam(lp, MNG_CREATE, [TDR, HKID, 0, 0]),
                    not_done,
                ),
                (
                    "MNG.KEY.CONFIG",
                    hkid_assigned,
                    Call::Seam(lp, MNG_KEY_CONFIG, [TDR, 0, 0, 0]),
                    not_done,
                ),
                (
                    "CACHE.WB",
                    ready,
                    Call::Seam(lp, CACHE_WB, [0, 0, 0, 0]),
                    not_done,
                ),
            ]
        })
        .collect();
    run_rows(&rows);
    control("MNG.CREATE", ready, seam(MNG_CREATE, TDR, HKID, 0, 0));
}

// ---------------------------------------------------------------- SYS.CONFIG

fn info(code: Code, b: [u8; 4]) -> u64 {
    Status::with_info(code, b).to_raw()
}

/// TDMR 1 of `sys.rs::sys_config_two_tdmrs`: [1 GiB, 2 GiB), no reserved
/// area, its PAMT in TDMR 0's reserved area.
fn tdmr1() -> TdmrInfo {
    let mut t = tdmr0();
    t.base = GIB;
    t.rsvd = [(0, 0); 16];
    t.pamt = [
        (RSVD_OFF + 0x80_0000, 0x40_0000),
        (RSVD_OFF + 0xC0_0000, 0x2000),
        (RSVD_OFF + 0xC0_2000, 0x1000),
    ];
    t
}

/// Where `write_tdmrs` puts entry `i`.
fn entry_pa(i: u64) -> u64 {
    TDMR_ENTRY + 0x200 * i + if i > 0 { 0x1000 } else { 0 }
}

/// (name, TDMRs written, array words overwritten (index, value), count,
/// expected RAX).
type ConfigCase = (&'static str, Vec<TdmrInfo>, Vec<(u64, u64)>, u64, u64);

#[test]
fn sys_config_entry_reads_and_overflows() {
    let (t0, t1) = (tdmr0(), tdmr1());
    let with = |t: TdmrInfo, f: &dyn Fn(&mut TdmrInfo)| {
        let mut x = t;
        f(&mut x);
        x
    };
    let inv_rcx = st(INV, OperandId::Rcx);
    let cases: Vec<ConfigCase> = vec![
        // Row 7: the TDMR_INFO pointer read from the array.
        (
            "entry misaligned",
            vec![t0],
            vec![(0, TDMR_ENTRY + 0x100)],
            1,
            inv_rcx,
        ),
        (
            "entry hkid bits",
            vec![t0],
            vec![(0, TDMR_ENTRY | 1 << 40)],
            1,
            inv_rcx,
        ),
        (
            "second entry misaligned",
            vec![t0, t1],
            vec![(1, entry_pa(1) + 8)],
            2,
            inv_rcx,
        ),
        // Row 8: the TDMR_INFO itself.
        ("entry not RAM", vec![t0], vec![(0, RAM_END)], 1, inv_rcx),
        (
            "second entry not RAM",
            vec![t0, t1],
            vec![(1, RAM_END + 0x200)],
            2,
            inv_rcx,
        ),
        // Row 9: base + size overflows (before the order check, row 10).
        (
            "tdmr end overflows",
            vec![with(t0, &|x| x.base = !(GIB - 1))],
            vec![],
            1,
            info(Code::InvalidTdmr, [0; 4]),
        ),
        (
            "second tdmr end overflows below the first's end",
            vec![
                t0,
                with(t1, &|x| {
                    x.base = 0x2000_0000;
                    x.size = u64::MAX;
                }),
            ],
            vec![],
            2,
            info(Code::InvalidTdmr, [1, 0, 0, 0]),
        ),
        // Row 13: reserved offset + size overflows (before the order
        // check, row 14: this area also starts below the previous end).
        (
            "rsvd end overflows",
            vec![with(t0, &|x| x.rsvd[1] = (1 << 63, 1 << 63))],
            vec![],
            1,
            info(Code::InvalidReservedInTdmr, [0, 1, 0, 0]),
        ),
        (
            "rsvd end overflows below the previous area",
            vec![with(t0, &|x| x.rsvd[1] = (0x1000, u64::MAX))],
            vec![],
            1,
            info(Code::InvalidReservedInTdmr, [0, 1, 0, 0]),
        ),
        // Row 17: a PAMT of TDMR 1 overlaps a PAMT of TDMR 0.
        (
            "pamt4k on tdmr0's pamt4k",
            vec![t0, with(t1, &|x| x.pamt[0] = (PAMT_4K, 0x40_0000))],
            vec![],
            2,
            info(Code::PamtOverlap, [1, 0, 0, 0]),
        ),
        (
            "pamt2m on tdmr0's pamt1g",
            vec![t0, with(t1, &|x| x.pamt[1] = (PAMT_1G, 0x2000))],
            vec![],
            2,
            info(Code::PamtOverlap, [1, 1, 0, 0]),
        ),
        // Row 20: TDMR 0's 1G PAMT (outside TDMR 0, inside the CMR) lies
        // in the available part of TDMR 1: [TDMR 0, level 2, TDMR 1].
        (
            "tdmr0's pamt1g in tdmr1",
            vec![with(t0, &|x| x.pamt[2] = (GIB + 0x10_0000, 0x1000)), t1],
            vec![],
            2,
            info(Code::PamtOverlap, [0, 2, 1, 0]),
        ),
    ];
    for (name, tdmrs, words, count, want) in cases {
        let m = module();
        init_lps(&m);
        write_tdmrs(&m, &tdmrs);
        for (i, v) in words {
            m.platform().vmm_write(TDMR_ARRAY + 8 * i, &v.to_le_bytes());
        }
        let before = world(&m);
        assert_eq!(
            call(&m, SYS_CONFIG, TDMR_ARRAY, count, GLOBAL_HKID, 0),
            want,
            "{name}"
        );
        assert_eq!(m.sys_state(), SysState::SysinitDone, "{name}");
        assert_eq!(m.platform().isolated_count(), 0, "{name}");
        assert_eq!(m.tdmrs().count(), 0, "{name}");
        assert_same(&world(&m), &before, name);
        // Nothing was kept: the valid configuration goes through.
        write_tdmrs(&m, &[t0, t1]);
        assert_eq!(
            call(&m, SYS_CONFIG, TDMR_ARRAY, 2, GLOBAL_HKID, 0),
            0,
            "{name}: then a valid SYS.CONFIG"
        );
        assert_eq!(m.tdmrs().count(), 2, "{name}");
    }
    // Row 20's first TDMR alone is valid: only TDMR 1 makes it overlap.
    let m = module();
    init_lps(&m);
    write_tdmrs(&m, &[with(t0, &|x| x.pamt[2] = (GIB + 0x10_0000, 0x1000))]);
    assert_eq!(call(&m, SYS_CONFIG, TDMR_ARRAY, 1, GLOBAL_HKID, 0), 0);
}

// ---------------------------------------------------------------- MNG.*

/// KEYS_CONFIGURED, no TDCX, then VPFLUSHDONE: BLOCKED.
fn blocked_keys() -> M {
    block(keys_configured())
}

/// HKID_ASSIGNED (one package short), then VPFLUSHDONE: BLOCKED.
fn blocked_hkid() -> M {
    block(hkid_assigned())
}

/// `blocked_keys` after CACHE.WB and KEY.FREEID: TEARDOWN.
fn torn_keys() -> M {
    tear(blocked_keys())
}

/// Six TDCX pages and TD_PARAMS written, then VPFLUSHDONE: BLOCKED.
fn blocked_six() -> M {
    block(before_init())
}

/// HKID_ASSIGNED with TD_PARAMS written.
fn hkid_assigned_params() -> M {
    let m = hkid_assigned();
    m.platform().vmm_write(TD_PARAMS, &td_params());
    m
}

#[test]
fn mng_key_config_addcx_init_tdr_and_lifecycle() {
    use OperandId::{Rcx, Rdx};
    let key = |rcx| seam(MNG_KEY_CONFIG, rcx, 0, 0, 0);
    let key_lp1 = Call::Seam(LP1, MNG_KEY_CONFIG, [TDR, 0, 0, 0]);
    let addcx = |rdx| seam(MNG_ADDCX, TDCX0, rdx, 0, 0);
    let init = |rcx| seam(MNG_INIT, rcx, TD_PARAMS, 0, 0);
    let lc = c(Code::LifecycleStateIncorrect);
    let keys_not = c(Code::TdKeysNotConfigured);
    run_rows(&[
        // MNG.KEY.CONFIG rows 1, 2 (rows 3, 4 pass for TDR: a valid TDR).
        (
            "key.config tdr misaligned",
            hkid_assigned,
            key(TDR + 8),
            st(INV, Rcx),
        ),
        (
            "key.config tdr hkid bits",
            hkid_assigned,
            key(TDR | 1 << 40),
            st(INV, Rcx),
        ),
        (
            "key.config tdr outside tdmrs",
            hkid_assigned,
            key(GIB),
            st(RANGE, Rcx),
        ),
        // Row 5: KEYS_CONFIGURED, from either package (a warning).
        (
            "key.config keys configured lp0",
            keys_configured,
            key(TDR),
            c(Code::KeyConfigured),
        ),
        (
            "key.config keys configured lp1",
            keys_configured,
            key_lp1,
            c(Code::KeyConfigured),
        ),
        // Row 7: BLOCKED (one package configured, or both) and TEARDOWN.
        ("key.config blocked", blocked_keys, key(TDR), lc),
        ("key.config blocked before lp1", blocked_hkid, key_lp1, lc),
        ("key.config teardown", torn_keys, key(TDR), lc),
        // MNG.ADDCX row 2.
        (
            "addcx tdr outside tdmrs",
            keys_configured,
            addcx(GIB),
            st(RANGE, Rdx),
        ),
        (
            "addcx tdr above ram",
            keys_configured,
            addcx(RAM_END),
            st(RANGE, Rdx),
        ),
        // MNG.INIT rows 1, 2.
        (
            "init tdr misaligned",
            before_init,
            init(TDR + 0x800),
            st(INV, Rcx),
        ),
        (
            "init tdr hkid bits",
            before_init,
            init(TDR | 1 << 45),
            st(INV, Rcx),
        ),
        (
            "init tdr outside tdmrs",
            before_init,
            init(GIB),
            st(RANGE, Rcx),
        ),
        // Row 6: not KEYS_CONFIGURED, before the TDCX count (row 7).
        (
            "init hkid assigned",
            hkid_assigned_params,
            init(TDR),
            keys_not,
        ),
        ("init blocked six tdcx", blocked_six, init(TDR), keys_not),
    ]);
    control("key.config", hkid_assigned, key(TDR));
    control("key.config lp1", hkid_assigned, key_lp1);
    control("addcx", keys_configured, addcx(TDR));
    control("init", before_init, init(TDR));
}

/// (name, TD_PARAMS edit, expected RAX).
type ParamsCase = (&'static str, fn(&mut [u8; 1024]), u64);

fn put16(p: &mut [u8; 1024], off: usize, v: u16) {
    p[off..off + 2].copy_from_slice(&v.to_le_bytes());
}

fn put64(p: &mut [u8; 1024], off: usize, v: u64) {
    p[off..off + 8].copy_from_slice(&v.to_le_bytes());
}

#[test]
fn mng_init_td_params_limits() {
    use OperandId::*;
    let cases: [ParamsCase; 6] = [
        // Row 14, the upper bound.
        ("max vcpus 65", |p| put16(p, 16, 65), st(INV, MaxVcpus)),
        // Row 16: MSR_CONFIG_CTLS (byte 19), IA32_ARCH_CAPABILITIES_CONFIG
        // (bytes 224..232), each before CONFIG_FLAGS (row 17).
        (
            "msr config ctls",
            |p| p[19] = 1,
            st(INV, Ia32ArchCapabilitiesConfig),
        ),
        (
            "arch capabilities config",
            |p| put64(p, 224, 1 << 63),
            st(INV, Ia32ArchCapabilitiesConfig),
        ),
        (
            "arch capabilities before config flags",
            |p| {
                put64(p, 224, 1);
                put64(p, 32, 1 << 3);
            },
            st(INV, Ia32ArchCapabilitiesConfig),
        ),
        // Row 18, GPAW 52: 5-level EPTP is required.
        (
            "gpaw 52 with a 4-level eptp",
            |p| put64(p, 32, 1),
            st(INV, EptpControls),
        ),
        // Row 19, the upper bound.
        ("tsc 401", |p| put16(p, 40, 401), st(INV, TscFrequency)),
    ];
    for (name, edit, want) in cases {
        let m = before_init();
        let mut p = td_params();
        edit(&mut p);
        m.platform().vmm_write(TD_PARAMS, &p);
        let before = watched(&m);
        assert_eq!(call(&m, MNG_INIT, TDR, TD_PARAMS, 0, 0), want, "{name}");
        let after = watched(&m);
        assert_same(&after.0, &before.0, name);
        assert!(after.1 == before.1, "{name}: a TDCX page changed");
        m.platform().vmm_write(TD_PARAMS, &td_params());
        assert_eq!(call(&m, MNG_INIT, TDR, TD_PARAMS, 0, 0), 0, "{name}: then");
    }
    // The accepted edges: 64 vCPUs, 400 × 25 MHz, GPAW 52 with 5 levels.
    let m = before_init();
    let mut p = td_params();
    put16(&mut p, 16, 64);
    put16(&mut p, 40, 400);
    put64(&mut p, 32, 1);
    put64(&mut p, 24, 6 | 4 << 3);
    m.platform().vmm_write(TD_PARAMS, &p);
    assert_eq!(call(&m, MNG_INIT, TDR, TD_PARAMS, 0, 0), 0);
    let t = m.td_info(Hpa(TDR)).unwrap();
    assert_eq!((t.max_vcpus, t.tsc_frequency, t.gpaw52), (64, 400, true));
}
