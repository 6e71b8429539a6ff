//! TDH.VP.ENTER, TD exits and the guest leaves (TDCALL): the failure table
//! in the 1.5 module's check order, the §6.3 state on first entry, the
//! TDG.VP.VMCALL register hand-over in both directions, asynchronous
//! exits, TDG.VP.INFO, TDG.MR.RTMR.EXTEND and the unknown-leaf answers.
mod common;
use common::*;

use cmon_measure::Rtmr;
use tdx_module_shim::enter::{Gprs, GuestState, TdExit, exit_reason, gpr};
use tdx_module_shim::tdg::Tdcall;
use tdx_module_shim::vp::TDVPS_PAGES;
use tdx_module_shim::*;

const VP_ADDCX: u64 = 4;
const VP_CREATE: u64 = 10;
const VP_INIT: u64 = 22;
const TDVPR: u64 = 0x22_0000;
const VCX0: u64 = 0x22_1000;
const TDVPR2: u64 = 0x23_0000;
const VCX2: u64 = 0x23_1000;
const INV: Code = Code::OperandInvalid;

/// The content of the TD's page at GPA 0x1000: byte i = i * 7.
fn page() -> [u8; 4096] {
    core::array::from_fn(|i| (i * 7) as u8)
}

fn add_vcpu(m: &M, tdvpr: u64, cx: u64, init: bool) {
    assert_eq!(call(m, VP_CREATE, tdvpr, TDR, 0, 0), 0);
    for i in 0..(TDVPS_PAGES as u64 - 1) {
        assert_eq!(call(m, VP_ADDCX, cx + 0x1000 * i, tdvpr, 0, 0), 0);
    }
    if init {
        assert_eq!(call_on(m, LP0, VP_INIT, tdvpr, 0x1234, 0, 0).0, 0);
    }
}

/// A TD with one READY vCPU (associated with LP0 by VP.INIT), a second
/// vCPU created but not initialised, one page at GPA 0x1000, and
/// `finalize` deciding whether it is RUNNABLE.
fn td(finalize: bool) -> M {
    let m = initialized();
    add_vcpu(&m, TDVPR, VCX0, true);
    add_vcpu(&m, TDVPR2, VCX2, false);
    sept_for_low_gpa(&m);
    m.platform().vmm_write(SRC0, &page());
    assert_eq!(call(&m, PAGE_ADD, 0x1000, TDR, DATA0, SRC0), 0);
    if finalize {
        assert_eq!(call(&m, MR_FINALIZE, TDR, 0, 0, 0), 0);
    }
    m
}

fn vmm_with_rcx(rcx: u64) -> Gprs {
    let mut r = [0u64; 16];
    r[gpr::RCX] = rcx;
    r[gpr::RBX] = 0xB0B0; // VMM-owned, must survive a TD exit
    r
}

fn enter(m: &M, lp: Lp, rcx: u64) -> Result<enter::Entry, u64> {
    enter_rax(m, lp, 0, rcx)
}

fn enter_rax(m: &M, lp: Lp, rax: u64, rcx: u64) -> Result<enter::Entry, u64> {
    let mut r = vmm_with_rcx(rcx);
    r[gpr::RAX] = rax;
    m.vp_enter(lp, &mut r).ok_or(r[gpr::RAX])
}

#[test]
fn vp_enter_failures_in_module_order() {
    let m = td(true);
    let cases: [(&str, Lp, u64, u64); 6] = [
        ("reserved bit 0", LP0, TDVPR | 1, st(INV, OperandId::Rcx)),
        (
            "reserved bit 54",
            LP0,
            TDVPR | 1 << 54,
            st(INV, OperandId::Rcx),
        ),
        (
            "not a TDVPR",
            LP0,
            TDR,
            st(Code::PageMetadataIncorrect, OperandId::Rcx),
        ),
        (
            "vCPU not initialised",
            LP0,
            TDVPR2,
            c(Code::VcpuStateIncorrect),
        ),
        ("associated with LP0", LP1, TDVPR, c(Code::VcpuAssociated)),
        (
            "resume_l1 without L2",
            LP0,
            TDVPR | 1 << 53,
            st(INV, OperandId::Rcx),
        ),
    ];
    for (what, lp, rcx, want) in cases {
        assert_eq!(enter(&m, lp, rcx).err(), Some(want), "{what}");
    }
    assert_eq!(
        enter(&m, LP0, TDVPR | 1 << 52).err(),
        Some(st(INV, OperandId::Rcx)),
        "host_recoverability_hint without an asynchronous exit"
    );
    // The dispatch checks every SEAMCALL gets: RAX decoding, LP range.
    for (what, rax) in [
        ("version 1", 1u64 << 16),
        ("leaf 1 here", 1),
        ("reserved RAX bits", 1 << 40),
    ] {
        assert_eq!(
            enter_rax(&m, LP0, rax, TDVPR).err(),
            Some(st(INV, OperandId::Rax)),
            "{what}"
        );
    }
    let far = Lp {
        index: 99,
        package: 0,
    };
    assert_eq!(
        enter(&m, far, TDVPR).err(),
        Some(c(Code::SysLpInitNotDone)),
        "LP outside the module's LPs"
    );
    assert_eq!(m.running_vcpu(LP0), None, "nothing entered");
    let before = td(false);
    assert_eq!(
        enter(&before, LP0, TDVPR).err(),
        Some(c(Code::OpStateIncorrect)),
        "TD not finalised"
    );
}

#[test]
fn first_entry_has_the_initial_state_and_the_vcpu_is_active() {
    let m = td(true);
    let e = enter(&m, LP0, TDVPR).expect("enters");
    assert_eq!((e.tdvpr, e.tdr, e.vcpu_index), (Hpa(TDVPR), Hpa(TDR), 0));
    let g = e.state;
    assert_eq!(g.rip, 0xFFFF_FFF0);
    assert_eq!(g.rflags, 2);
    assert_eq!((g.gprs[gpr::RCX], g.gprs[gpr::R8]), (0x1234, 0x1234));
    assert_eq!(g.gprs[gpr::RBX], 48, "GPAW");
    assert_eq!(g.gprs[gpr::RSI], 0, "vCPU index");
    assert_eq!(m.running_vcpu(LP0), Some(Hpa(TDVPR)));
    assert_eq!(
        enter(&m, LP0, TDVPR).err(),
        Some(c(Code::VcpuStateIncorrect)),
        "already ACTIVE"
    );
}

/// Run one TDCALL with `set` applied to the state, return the state.
fn tdcall(m: &M, set: impl FnOnce(&mut GuestState)) -> (Tdcall, GuestState) {
    let mut g = GuestState::default();
    set(&mut g);
    (m.tdcall(LP0, &mut g), g)
}

#[test]
fn vmcall_hands_the_named_registers_over_both_ways() {
    let m = td(true);
    let mut g = enter(&m, LP0, TDVPR).unwrap().state;
    // TDG.VP.VMCALL IO write of 'A' to port 0x3F8: R10..R15 exposed.
    g.rip = 0x2000;
    g.gprs[gpr::RAX] = 0;
    g.gprs[gpr::RCX] = 0xFC00;
    g.gprs[gpr::RBX] = 0x5EC2E7; // not exposed
    g.gprs[gpr::R10] = 0;
    g.gprs[gpr::R11] = 30;
    g.gprs[gpr::R12] = 1;
    g.gprs[gpr::R13] = 1;
    g.gprs[gpr::R14] = 0x3F8;
    g.gprs[gpr::R15] = u64::from(b'A');
    assert_eq!(m.tdcall(LP0, &mut g), Tdcall::ExitToVmm);
    let mut vmm = vmm_with_rcx(TDVPR);
    m.td_exit(LP0, &g, TdExit::Vmcall, &mut vmm);
    assert_eq!(vmm[gpr::RAX], exit_reason::TDCALL);
    assert_eq!(vmm[gpr::RCX], 0xFC00);
    assert_eq!(vmm[gpr::R11..=gpr::R15], [30, 1, 1, 0x3F8, 65]);
    assert_eq!(vmm[gpr::RBX], 0xB0B0, "unexposed GPRs stay the VMM's");
    assert_eq!(m.running_vcpu(LP0), None);
    // The VMM completes the call (R10 = success, R11 = 0) and re-enters.
    vmm[gpr::RAX] = 0; // TDH.VP.ENTER
    vmm[gpr::RCX] = TDVPR;
    vmm[gpr::R10] = 0;
    vmm[gpr::R11] = 0;
    vmm[gpr::R12] = 0xAAAA;
    let e = m.vp_enter(LP0, &mut vmm).expect("re-enters");
    let s = e.state;
    assert_eq!(s.rip, 0x2000, "resumes after the TDCALL");
    assert_eq!(s.gprs[gpr::RAX], 0, "TDG.VP.VMCALL returns TDX_SUCCESS");
    assert_eq!(s.gprs[gpr::R11], 0);
    assert_eq!(s.gprs[gpr::R12], 0xAAAA, "exposed GPRs come from the VMM");
    assert_eq!(s.gprs[gpr::RBX], 0x5EC2E7, "others are the guest's");
}

#[test]
fn a_bad_vmcall_bitmap_stays_in_the_td() {
    let m = td(true);
    enter(&m, LP0, TDVPR).unwrap();
    for bad in [1u64, 2, 1 << 4, 1 << 5, 1 << 32] {
        let (r, g) = tdcall(&m, |g| g.gprs[gpr::RCX] = bad | 0xFC00);
        assert_eq!(r, Tdcall::Resume, "bitmap {bad:#x}");
        assert_eq!(g.gprs[gpr::RAX], st(INV, OperandId::Rcx));
    }
    assert_eq!(m.running_vcpu(LP0), Some(Hpa(TDVPR)));
}

#[test]
fn an_interrupt_exit_resumes_the_guest_unchanged() {
    let m = td(true);
    let mut g = enter(&m, LP0, TDVPR).unwrap().state;
    g.rip = 0x1234_5678;
    g.gprs = core::array::from_fn(|i| 0x100 + i as u64);
    let mut vmm = vmm_with_rcx(TDVPR);
    m.td_exit(LP0, &g, TdExit::ExternalInterrupt, &mut vmm);
    assert_eq!(vmm[gpr::RAX], exit_reason::EXTERNAL_INTERRUPT);
    assert_eq!(vmm[gpr::RCX], 0);
    // Now the recoverability hint is allowed.
    let e = enter(&m, LP0, TDVPR | 1 << 52).expect("re-enters");
    assert_eq!(e.state, g);
}

#[test]
fn guest_leaves_info_rtmr_and_unknown() {
    let m = td(true);
    enter(&m, LP0, TDVPR).unwrap();
    let (_, g) = tdcall(&m, |g| g.gprs[gpr::RAX] = 1);
    assert_eq!(g.gprs[gpr::RAX], 0, "TDG.VP.INFO");
    assert_eq!(g.gprs[gpr::RCX], 48, "GPAW");
    assert_eq!(g.gprs[gpr::R8], 1 | 4 << 32, "num_vcpus | max_vcpus");
    assert_eq!((g.gprs[gpr::R9], g.gprs[gpr::R10]), (0, 0));

    // RTMR[2] extended with the 48 bytes at GPA 0x1040.
    let ext = |gpa: u64, idx: u64| {
        tdcall(&m, |g| {
            g.gprs[gpr::RAX] = 2;
            g.gprs[gpr::RCX] = gpa;
            g.gprs[gpr::RDX] = idx;
        })
        .1
        .gprs[gpr::RAX]
    };
    assert_eq!(ext(0x1040, 2), 0);
    let mut want = Rtmr::new();
    let mut data = [0u8; 48];
    data.copy_from_slice(&page()[0x40..0x70]);
    want.extend(&data);
    assert_eq!(m.td_info(Hpa(TDR)).unwrap().rtmr[2], want.value());
    // (A 64-byte-aligned 48-byte range never crosses a page.)
    let bad: [(&str, u64, u64, u64); 4] = [
        ("index 4", 0x1040, 4, st(INV, OperandId::Rdx)),
        ("unaligned", 0x1041, 0, st(INV, OperandId::Rcx)),
        ("unmapped", 0x5000, 0, st(INV, OperandId::Rcx)),
        ("shared GPA", 1 << 47 | 0x1000, 0, st(INV, OperandId::Rcx)),
    ];
    for (what, gpa, idx, want_st) in bad {
        assert_eq!(ext(gpa, idx), want_st, "{what}");
    }
    assert_eq!(m.td_info(Hpa(TDR)).unwrap().rtmr[0], [0; 48], "unchanged");

    let (_, g) = tdcall(&m, |g| g.gprs[gpr::RAX] = 3);
    assert_eq!(g.gprs[gpr::RAX], c(Code::NoValidVeInfo), "VEINFO.GET");
    for rax in [99u64, 1 << 16 | 1, 1 << 24] {
        let (_, g) = tdcall(&m, |g| g.gprs[gpr::RAX] = rax);
        assert_eq!(g.gprs[gpr::RAX], st(INV, OperandId::Rax), "leaf {rax:#x}");
    }
    // Not in a TD on LP1.
    let mut g = GuestState::default();
    g.gprs[gpr::RAX] = 1;
    assert_eq!(m.tdcall(LP1, &mut g), Tdcall::Resume);
    assert_eq!(g.gprs[gpr::RAX], st(INV, OperandId::Rax));
}

/// A TDCALL with RAX = `leaf` and RCX, RDX, R8 set.
fn tdg(m: &M, leaf: u64, rcx: u64, rdx: u64, r8: u64) -> GuestState {
    tdcall(m, |g| {
        g.gprs[gpr::RAX] = leaf;
        g.gprs[gpr::RCX] = rcx;
        g.gprs[gpr::RDX] = rdx;
        g.gprs[gpr::R8] = r8;
    })
    .1
}

#[test]
fn tdreport_carries_the_td_and_verifies() {
    use cmon_evidence::tdx::{parse_tdreport, verify_report_mac};
    let m = td(true);
    enter(&m, LP0, TDVPR).unwrap();
    // RTMR[3] first, so the report shows a non-zero RTMR.
    assert_eq!(tdg(&m, 2, 0x1080, 3, 0).gprs[gpr::RAX], 0);
    // REPORTDATA at GPA 0x1040, report written at GPA 0x1400.
    assert_eq!(tdg(&m, 4, 0x1400, 0x1040, 0).gprs[gpr::RAX], 0);
    let mut bytes = [0u8; 1024];
    // (REPORTMACSTRUCT is bytes 0..256 of it.)
    m.platform().read(DATA0 + 0x400, &mut bytes);
    let key = m.platform().keys().unwrap().tdx_report_mac_key().unwrap();
    verify_report_mac(&bytes, key.as_bytes()).expect("our MAC");
    let r = parse_tdreport(&bytes).unwrap();
    let info = m.td_info(Hpa(TDR)).unwrap();
    assert_eq!(r.td_info.mrtd, info.mrtd.unwrap());
    assert_eq!(r.td_info.rtmr[3], info.rtmr[3]);
    assert_ne!(r.td_info.rtmr[3], [0; 48]);
    assert_eq!(r.report_data[..], page()[0x40..0x80]);
    assert_eq!(r.tee_tcb_info.mrseam, [0x5E; 48], "MRSEAM from the config");
    assert_eq!(r.td_info.xfam, info.xfam);

    // TDG.MR.VERIFYREPORT on the REPORTMACSTRUCT at 0x1400.
    assert_eq!(tdg(&m, 22, 0x1400, 0, 0).gprs[gpr::RAX], 0);
    assert_eq!(
        tdg(&m, 22, 0x1480, 0, 0).gprs[gpr::RAX],
        st(INV, OperandId::Rcx),
        "not 256-aligned"
    );
    // The TD changes one bit of REPORTDATA in its copy.
    let w = DATA0 + 0x400 + 0x80;
    m.platform().set_word(w, m.platform().word(w) ^ 1);
    assert_eq!(
        tdg(&m, 22, 0x1400, 0, 0).gprs[gpr::RAX],
        c(Code::InvalidReportMacStruct)
    );

    let bad: [(&str, u64, u64, u64, u64); 5] = [
        (
            "output not 1024-aligned",
            0x1200,
            0x1040,
            0,
            st(INV, OperandId::Rcx),
        ),
        (
            "REPORTDATA not 64-aligned",
            0x1400,
            0x1044,
            0,
            st(INV, OperandId::Rdx),
        ),
        ("subtype 1", 0x1400, 0x1040, 1, st(INV, OperandId::R8)),
        (
            "REPORTDATA unmapped",
            0x1400,
            0x9040,
            0,
            st(INV, OperandId::Rdx),
        ),
        (
            "output unmapped",
            0x9400,
            0x1040,
            0,
            st(INV, OperandId::Rcx),
        ),
    ];
    for (what, rcx, rdx, r8, want) in bad {
        assert_eq!(tdg(&m, 4, rcx, rdx, r8).gprs[gpr::RAX], want, "{what}");
    }
}

#[test]
fn sealing_leaves_bind_mrtd_or_mrowner_and_a_version() {
    use cmon_keys::{KeyVersion, SealingIdentity, SealingRequest};
    let m = td(true);
    enter(&m, LP0, TDVPR).unwrap();
    let v = tdg(&m, 0x7F00, 0, 0, 0);
    assert_eq!(v.gprs[..3], [0, 1, 2], "status, minimum, current");
    let key = |g: &GuestState| -> Vec<u8> {
        g.gprs[gpr::R8..=gpr::R11]
            .iter()
            .flat_map(|w| w.to_le_bytes())
            .collect()
    };
    let mrtd_v2 = tdg(&m, 0x7F01, 0, 2, 0);
    assert_eq!(mrtd_v2.gprs[gpr::RAX], 0);
    let info = m.td_info(Hpa(TDR)).unwrap();
    let want = m
        .platform()
        .keys()
        .unwrap()
        .sealing_key(&SealingRequest {
            identity: SealingIdentity::TdxMrtd(&info.mrtd.unwrap()),
            version: KeyVersion(2),
        })
        .unwrap();
    assert_eq!(key(&mrtd_v2), want.as_bytes().to_vec(), "bound to MRTD");
    let owner_v2 = tdg(&m, 0x7F01, 1, 2, 0);
    let mrtd_v1 = tdg(&m, 0x7F01, 0, 1, 0);
    assert_ne!(key(&owner_v2), key(&mrtd_v2), "policy changes the key");
    assert_ne!(key(&mrtd_v1), key(&mrtd_v2), "version changes the key");
    for (what, rcx, rdx, want) in [
        ("version above current", 0, 3, st(INV, OperandId::Rdx)),
        ("retired version", 0, 0, st(INV, OperandId::Rdx)),
        ("RES0 policy bit", 2, 1, st(INV, OperandId::Rcx)),
        (
            "version wider than 32 bits",
            0,
            1 << 32 | 1,
            st(INV, OperandId::Rdx),
        ),
    ] {
        assert_eq!(tdg(&m, 0x7F01, rcx, rdx, 0).gprs[gpr::RAX], want, "{what}");
    }
}

#[test]
fn private_pages_of_a_2m_range_come_from_the_sept() {
    let m = td(true);
    let mut out = [(Gpa(0), Hpa(0)); 8];
    assert_eq!(m.private_pages_2m(Hpa(TDR), Gpa(0), &mut out), Some(1));
    assert_eq!(out[0], (Gpa(0x1000), Hpa(DATA0)));
    assert_eq!(m.gpa_to_hpa(Hpa(TDR), Gpa(0x1000)), Some(Hpa(DATA0)));
    assert_eq!(m.gpa_to_hpa(Hpa(TDR), Gpa(0x2000)), None);
    assert_eq!(
        m.private_pages_2m(Hpa(TDR), Gpa(0x1000), &mut out),
        Some(0),
        "not 2 MiB aligned"
    );
    assert_eq!(
        m.private_pages_2m(Hpa(TDR), Gpa(0x20_0000), &mut out),
        Some(0),
        "no level-0 table there"
    );
    assert_eq!(
        m.private_pages_2m(Hpa(TDVPR), Gpa(0), &mut out),
        None,
        "not a TDR"
    );
}
