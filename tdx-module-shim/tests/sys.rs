//! Status encoding, RAX decoding and TDH.SYS.* failure tables.
mod common;
use common::*;

use tdx_module_shim::pamt::TdmrInfo;
use tdx_module_shim::*;

#[test]
fn status_wire_values() {
    // §3 example: BUSY on a locked TDR.
    assert_eq!(st(Code::OperandBusy, OperandId::Tdr), 0x8000_0200_0000_0080);
    assert_eq!(
        st(Code::OperandInvalid, OperandId::Rax),
        0xC000_0100_0000_0000
    );
    assert_eq!(
        st(Code::OperandInvalid, OperandId::R8),
        0xC000_0100_0000_0008
    );
    assert_eq!(c(Code::OpStateIncorrect), 0xC000_0608_0000_0000);
    assert_eq!(c(Code::TdFatal), 0xE000_0604_0000_0000);
    assert_eq!(
        Status::with_info(Code::PamtOverlap, [1, 2, 0, 0]).to_raw(),
        0xC000_0A12_0000_0201
    );
    assert!(!Status::new(Code::KeyConfigured).is_error());
    assert!(Status::new(Code::OperandBusy).is_error());
}

#[test]
fn rax_decoding_table() {
    let bad = st(Code::OperandInvalid, OperandId::Rax);
    let m = module();
    for rax in [
        1u64 << 24,   // reserved bit
        1 << 63,      // reserved bit
        46,           // unknown leaf
        0xFFFF,       // unknown leaf
        33 | 1 << 16, // SYS.INIT v1
        3 | 2 << 16,  // SEPT.ADD v2
        44,           // SYS.LP.SHUTDOWN: not implemented
    ] {
        assert_eq!(call(&m, rax, 0, 0, 0, 0), bad, "rax {rax:#x}");
    }
    assert_eq!(m.sys_state(), SysState::SysinitPending);
    assert_eq!(decode_rax(3 | 1 << 16).unwrap().version, 1);
}

#[test]
fn bring_up_state_machine() {
    let m = module();
    // LP.INIT before SYS.INIT; any leaf on a non-initialised LP.
    assert_eq!(
        call(&m, SYS_LP_INIT, 0, 0, 0, 0),
        c(Code::SysLpInitNotPending)
    );
    assert_eq!(
        call(&m, SYS_RD, 0, 0x0800_0001_0000_0004, 0, 0),
        c(Code::SysLpInitNotDone)
    );
    assert_eq!(
        call(&m, SYS_INIT, 1, 0, 0, 0),
        st(Code::OperandInvalid, OperandId::Rcx)
    );
    assert_eq!(m.sys_state(), SysState::SysinitPending);
    assert_eq!(call(&m, SYS_INIT, 0, 0, 0, 0), 0);
    assert_eq!(call(&m, SYS_INIT, 0, 0, 0, 0), c(Code::SysInitNotPending));
    assert_eq!(call(&m, SYS_LP_INIT, 0, 0, 0, 0), 0);
    assert_eq!(call(&m, SYS_LP_INIT, 0, 0, 0, 0), c(Code::SysLpInitDone));
    // Non-SYS leaves before SYS_READY.
    assert_eq!(call(&m, MNG_CREATE, TDR, HKID, 0, 0), c(Code::SysNotReady));
    // SYS.CONFIG before every LP did LP.INIT.
    write_tdmrs(&m, &[tdmr0()]);
    assert_eq!(
        call(&m, SYS_CONFIG, TDMR_ARRAY, 1, GLOBAL_HKID, 0),
        c(Code::SysConfigNotPending)
    );
    assert_eq!(
        call(&m, SYS_KEY_CONFIG, 0, 0, 0, 0),
        c(Code::SysKeyConfigNotPending)
    );
    assert_eq!(call_on(&m, LP1, SYS_LP_INIT, 0, 0, 0, 0).0, 0);
    assert_eq!(call(&m, SYS_CONFIG, TDMR_ARRAY, 1, GLOBAL_HKID, 0), 0);
    assert_eq!(m.sys_state(), SysState::SysconfigDone);
    // PAMT pages are taken from the VMM.
    assert!(m.platform().is_isolated(PAMT_4K) && m.platform().is_isolated(PAMT_1G));
    assert_eq!(
        call(&m, SYS_CONFIG, TDMR_ARRAY, 1, GLOBAL_HKID, 0),
        c(Code::SysConfigNotPending)
    );
    assert_eq!(call(&m, SYS_KEY_CONFIG, 0, 0, 0, 0), 0);
    assert_eq!(call(&m, SYS_KEY_CONFIG, 0, 0, 0, 0), c(Code::KeyConfigured));
    assert_eq!(m.sys_state(), SysState::SysconfigDone);
    assert_eq!(call(&m, TDMR_INIT, 0, 0, 0, 0), c(Code::SysNotReady));
    assert_eq!(call_on(&m, LP1, SYS_KEY_CONFIG, 0, 0, 0, 0).0, 0);
    assert_eq!(m.sys_state(), SysState::SysReady);
    // Memory is usable only after TDMR.INIT.
    assert_eq!(
        call(&m, RDMD, 0x1000, 0, 0, 0),
        st(Code::OperandAddrRangeError, OperandId::Rcx)
    );
    assert_eq!(
        call(&m, TDMR_INIT, GIB, 0, 0, 0),
        st(Code::OperandInvalid, OperandId::Rcx)
    );
    let (s, r) = call_on(&m, LP0, TDMR_INIT, 0, 0, 0, 0);
    assert_eq!((s, r.rdx), (0, GIB));
    let (s, r) = call_on(&m, LP0, TDMR_INIT, 0, 0, 0, 0);
    assert_eq!((s, r.rdx), (c(Code::TdmrAlreadyInitialized), GIB));
    assert_eq!(rdmd(&m, 0x1000), (PageType::Nda as u64, 0));
    assert_eq!(rdmd(&m, PAMT_4K), (PageType::Rsvd as u64, 0));
    assert_eq!(
        call(&m, RDMD, GIB, 0, 0, 0),
        st(Code::OperandAddrRangeError, OperandId::Rcx)
    );
    assert_eq!(
        call(&m, RDMD, 1 << 40, 0, 0, 0),
        st(Code::OperandInvalid, OperandId::Rcx)
    );
}

#[test]
fn sys_rd_fields() {
    let m = ready();
    let (s, r) = call_on(&m, LP0, SYS_RD, 0, 0x0A00_0003_0000_0008, 0, 0);
    assert_eq!(s, 0);
    assert_ne!(r.r8 & 1 << 18, 0, "NO_RBP_MOD");
    let (s, r) = call_on(&m, LP0, SYS_RD, 0, 0x0800_0001_0000_0004, 0, 0);
    assert_eq!((s, r.r8, r.rdx), (0, 1, 0x0800_0001_0000_0005));
    let (s, r) = call_on(&m, LP0, SYS_RD, 0, 0x9800_0001_0000_0100, 0, 0);
    assert_eq!((s, r.r8), (0, 0x6000));
    let (s, r) = call_on(&m, LP0, SYS_RD, 0, 0x1234, 0, 0);
    assert_eq!(
        (s, r.r8),
        (st(Code::MetadataFieldIdIncorrect, OperandId::Rdx), 0)
    );
}

fn info(code: Code, b: [u8; 4]) -> u64 {
    Status::with_info(code, b).to_raw()
}

/// (name, TDMRs written, RCX, RDX, R8, expected RAX).
type ConfigCase = (&'static str, Vec<TdmrInfo>, u64, u64, u64, u64);

#[test]
fn sys_config_failure_table() {
    let t = tdmr0();
    let mut cases: Vec<ConfigCase> = Vec::new();
    let one = |f: &dyn Fn(&mut TdmrInfo)| {
        let mut x = t;
        f(&mut x);
        vec![x]
    };
    let inv_rcx = st(Code::OperandInvalid, OperandId::Rcx);
    cases.push((
        "array misaligned",
        vec![t],
        TDMR_ARRAY + 8,
        1,
        GLOBAL_HKID,
        inv_rcx,
    ));
    cases.push((
        "array hkid bits",
        vec![t],
        TDMR_ARRAY | 1 << 40,
        1,
        GLOBAL_HKID,
        inv_rcx,
    ));
    cases.push(("array not RAM", vec![t], RAM_END, 1, GLOBAL_HKID, inv_rcx));
    cases.push((
        "count 0",
        vec![t],
        TDMR_ARRAY,
        0,
        GLOBAL_HKID,
        st(Code::OperandInvalid, OperandId::Rdx),
    ));
    cases.push((
        "count 65",
        vec![t],
        TDMR_ARRAY,
        65,
        GLOBAL_HKID,
        st(Code::OperandInvalid, OperandId::Rdx),
    ));
    cases.push((
        "shared hkid",
        vec![t],
        TDMR_ARRAY,
        1,
        5,
        st(Code::OperandInvalid, OperandId::R8),
    ));
    cases.push((
        "hkid reserved bits",
        vec![t],
        TDMR_ARRAY,
        1,
        GLOBAL_HKID | 1 << 16,
        st(Code::OperandInvalid, OperandId::R8),
    ));
    cases.push((
        "base misaligned",
        one(&|x| x.base = 0x1000),
        TDMR_ARRAY,
        1,
        GLOBAL_HKID,
        info(Code::InvalidTdmr, [0; 4]),
    ));
    cases.push((
        "size 0",
        one(&|x| x.size = 0),
        TDMR_ARRAY,
        1,
        GLOBAL_HKID,
        info(Code::InvalidTdmr, [0; 4]),
    ));
    cases.push((
        "size overflow",
        one(&|x| x.size = !(GIB - 1)),
        TDMR_ARRAY,
        1,
        GLOBAL_HKID,
        info(Code::InvalidTdmr, [0; 4]),
    ));
    cases.push((
        "rsvd misaligned",
        one(&|x| x.rsvd[0].1 = 0x800),
        TDMR_ARRAY,
        1,
        GLOBAL_HKID,
        info(Code::InvalidReservedInTdmr, [0; 4]),
    ));
    cases.push((
        "rsvd outside",
        one(&|x| x.rsvd[1] = (GIB, 0x1000)),
        TDMR_ARRAY,
        1,
        GLOBAL_HKID,
        info(Code::InvalidReservedInTdmr, [0, 1, 0, 0]),
    ));
    cases.push((
        "rsvd unordered",
        one(&|x| x.rsvd[1] = (0x1000, 0x1000)),
        TDMR_ARRAY,
        1,
        GLOBAL_HKID,
        info(Code::NonOrderedReservedInTdmr, [0, 1, 0, 0]),
    ));
    cases.push((
        "rsvd hole",
        one(&|x| {
            x.rsvd[0] = (0, 0);
            x.rsvd[1] = (RSVD_OFF, 0x100_0000);
        }),
        TDMR_ARRAY,
        1,
        GLOBAL_HKID,
        info(Code::NonOrderedReservedInTdmr, [0; 4]),
    ));
    cases.push((
        "pamt4k small",
        one(&|x| x.pamt[0].1 = 0x3F_F000),
        TDMR_ARRAY,
        1,
        GLOBAL_HKID,
        info(Code::InvalidPamt, [0, 0, 0, 0]),
    ));
    cases.push((
        "pamt2m misaligned",
        one(&|x| x.pamt[1].0 += 8),
        TDMR_ARRAY,
        1,
        GLOBAL_HKID,
        info(Code::InvalidPamt, [0, 1, 0, 0]),
    ));
    cases.push((
        "pamt1g self overlap",
        one(&|x| x.pamt[2].0 = PAMT_2M),
        TDMR_ARRAY,
        1,
        GLOBAL_HKID,
        info(Code::PamtOverlap, [0, 1, 0, 0]),
    ));
    cases.push((
        "pamt in available",
        one(&|x| x.pamt[2].0 = 0x1000),
        TDMR_ARRAY,
        1,
        GLOBAL_HKID,
        info(Code::PamtOverlap, [0, 2, 0, 0]),
    ));
    cases.push((
        "pamt outside cmr",
        one(&|x| x.pamt[2].0 = RAM_END),
        TDMR_ARRAY,
        1,
        GLOBAL_HKID,
        info(Code::PamtOutsideCmrs, [0, 2, 0, 0]),
    ));
    cases.push((
        "tdmr outside cmr",
        one(&|x| {
            x.base = 2 * GIB;
            x.rsvd = [(0, 0); 16];
            x.pamt = [
                (GIB, 0x40_0000),
                (GIB + 0x40_0000, 0x2000),
                (GIB + 0x40_2000, 0x1000),
            ];
        }),
        TDMR_ARRAY,
        1,
        GLOBAL_HKID,
        info(Code::TdmrOutsideCmrs, [0; 4]),
    ));
    let mut t1 = t;
    t1.pamt = [
        (RSVD_OFF + 0x80_0000, 0x40_0000),
        (RSVD_OFF + 0xC0_0000, 0x2000),
        (RSVD_OFF + 0xC0_2000, 0x1000),
    ];
    cases.push((
        "tdmrs unordered",
        vec![t, t1],
        TDMR_ARRAY,
        2,
        GLOBAL_HKID,
        info(Code::NonOrderedTdmr, [1, 0, 0, 0]),
    ));
    for (name, tdmrs, rcx, rdx, r8, want) in cases {
        let m = module();
        init_lps(&m);
        write_tdmrs(&m, &tdmrs);
        assert_eq!(call(&m, SYS_CONFIG, rcx, rdx, r8, 0), want, "{name}");
        assert_eq!(m.sys_state(), SysState::SysinitDone, "{name}");
        assert_eq!(m.platform().isolated_count(), 0, "{name}");
        assert_eq!(m.tdmrs().count(), 0, "{name}");
    }
}

#[test]
fn sys_config_two_tdmrs() {
    let m = module();
    init_lps(&m);
    let mut t1 = tdmr0();
    t1.base = GIB;
    t1.rsvd = [(0, 0); 16];
    // TDMR1's PAMT lives in TDMR0's reserved area.
    t1.pamt = [
        (RSVD_OFF + 0x80_0000, 0x40_0000),
        (RSVD_OFF + 0xC0_0000, 0x2000),
        (RSVD_OFF + 0xC0_2000, 0x1000),
    ];
    write_tdmrs(&m, &[tdmr0(), t1]);
    assert_eq!(call(&m, SYS_CONFIG, TDMR_ARRAY, 2, GLOBAL_HKID, 0), 0);
    assert_eq!(m.tdmrs().count(), 2);
}
