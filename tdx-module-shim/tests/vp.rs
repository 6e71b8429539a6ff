//! vCPU leaves: TDH.VP.CREATE, VP.ADDCX, VP.INIT, VP.FLUSH. Failure tables
//! in the module's check order (exact status and operand, state
//! unchanged), the success paths with their PAMT effects and the §6.3
//! initial state, and the teardown they take part in (VP.FLUSH before
//! MNG.VPFLUSHDONE, TDVPR and TDCX pages reclaimed zeroed).
mod common;
use common::*;

use tdx_module_shim::vp::{TDVPS_PAGES, VcpuState, init_reg};
use tdx_module_shim::*;

const VP_ADDCX: u64 = 4;
const VP_CREATE: u64 = 10;
const VP_FLUSH: u64 = 18;
const VP_INIT: u64 = 22;
const VP_INIT_V1: u64 = 22 | 1 << 16;
const VPFLUSHDONE: u64 = 19;
const INV: Code = Code::OperandInvalid;
const META: Code = Code::PageMetadataIncorrect;
const BUSY: Code = Code::OperandBusy;

const TDVPR: u64 = 0x22_0000;
const VCX0: u64 = 0x22_1000;
const TDVPR2: u64 = 0x23_0000;
const VCX2: u64 = 0x23_1000;

fn vcx(base: u64, i: u64) -> u64 {
    base + 0x1000 * i
}

fn created_vcpu() -> M {
    let m = initialized();
    assert_eq!(call(&m, VP_CREATE, TDVPR, TDR, 0, 0), 0);
    m
}

fn full_vcpu() -> M {
    let m = created_vcpu();
    for i in 0..(TDVPS_PAGES as u64 - 1) {
        assert_eq!(call(&m, VP_ADDCX, vcx(VCX0, i), TDVPR, 0, 0), 0, "TDCX {i}");
    }
    m
}

fn ready_vcpu() -> M {
    let m = full_vcpu();
    assert_eq!(call_on(&m, LP0, VP_INIT_V1, TDVPR, 0x1234, 7, 0).0, 0);
    m
}

/// A second vCPU with all its pages, not initialised.
fn second_vcpu(m: &M) {
    assert_eq!(call(m, VP_CREATE, TDVPR2, TDR, 0, 0), 0);
    for i in 0..(TDVPS_PAGES as u64 - 1) {
        assert_eq!(call(m, VP_ADDCX, vcx(VCX2, i), TDVPR2, 0, 0), 0);
    }
}

fn chldcnt(m: &M) -> u64 {
    m.td_info(Hpa(TDR)).unwrap().chldcnt
}

#[test]
fn vp_create_failures_in_order() {
    use OperandId::*;
    run_table(
        initialized,
        &[
            (
                "tdr misaligned",
                VP_CREATE,
                TDVPR,
                TDR + 8,
                0,
                0,
                st(INV, Rdx),
            ),
            (
                "tdr hkid bits",
                VP_CREATE,
                TDVPR,
                TDR | 1 << 40,
                0,
                0,
                st(INV, Rdx),
            ),
            (
                "tdr not a TDR",
                VP_CREATE,
                TDVPR,
                TDCX0,
                0,
                0,
                st(META, Rdx),
            ),
            (
                "tdvpr misaligned",
                VP_CREATE,
                TDVPR + 1,
                TDR,
                0,
                0,
                st(INV, Rcx),
            ),
            ("tdvpr in use", VP_CREATE, TDCX0, TDR, 0, 0, st(META, Rcx)),
        ],
    );
    // Wrong OP_STATE: before MNG.INIT (UNINITIALIZED) and after
    // MR.FINALIZE (RUNNABLE).
    let m = six_cx();
    assert_eq!(
        call(&m, VP_CREATE, TDVPR, TDR, 0, 0),
        c(Code::OpStateIncorrect)
    );
    let m = initialized();
    assert_eq!(call(&m, MR_FINALIZE, TDR, 0, 0, 0), 0);
    assert_eq!(
        call(&m, VP_CREATE, TDVPR, TDR, 0, 0),
        c(Code::OpStateIncorrect)
    );
    assert_eq!(rdmd(&m, TDVPR), (PageType::Nda as u64, 0));
}

#[test]
fn vp_create_makes_a_tdvpr_owned_by_the_tdr() {
    let m = initialized();
    let before = chldcnt(&m);
    m.platform().set_word(TDVPR, 0xDEAD);
    assert_eq!(call(&m, VP_CREATE, TDVPR, TDR, 0, 0), 0);
    assert_eq!(rdmd(&m, TDVPR), (PageType::Tdvpr as u64, TDR));
    assert!(m.platform().is_isolated(TDVPR), "gone from the VMM");
    assert_eq!(chldcnt(&m), before + 1);
    let (state, _, _) = m.vcpu_info(Hpa(TDVPR)).unwrap();
    assert_eq!(state, VcpuState::Uninitialized as u64);
    // The same page twice: no longer PT_NDA.
    assert_eq!(
        call(&m, VP_CREATE, TDVPR, TDR, 0, 0),
        st(META, OperandId::Rcx)
    );
}

#[test]
fn vp_addcx_failures_in_order() {
    use OperandId::*;
    run_table(
        created_vcpu,
        &[
            (
                "tdvpr misaligned",
                VP_ADDCX,
                VCX0,
                TDVPR + 8,
                0,
                0,
                st(INV, Rdx),
            ),
            (
                "tdvpr not a TDVPR",
                VP_ADDCX,
                VCX0,
                TDR,
                0,
                0,
                st(META, Rdx),
            ),
            (
                "tdcx misaligned",
                VP_ADDCX,
                VCX0 + 4,
                TDVPR,
                0,
                0,
                st(INV, Rcx),
            ),
            ("tdcx in use", VP_ADDCX, TDCX0, TDVPR, 0, 0, st(META, Rcx)),
            (
                "tdcx is the tdvpr",
                VP_ADDCX,
                TDVPR,
                TDVPR,
                0,
                0,
                st(BUSY, Rcx),
            ),
        ],
    );
    // Too many pages.
    let m = full_vcpu();
    assert_eq!(
        call(&m, VP_ADDCX, 0x24_0000, TDVPR, 0, 0),
        c(Code::TdcxNumIncorrect)
    );
    assert_eq!(rdmd(&m, 0x24_0000), (PageType::Nda as u64, 0));
    // After VP.INIT the vCPU no longer takes pages.
    let m = ready_vcpu();
    assert_eq!(
        call(&m, VP_ADDCX, 0x24_0000, TDVPR, 0, 0),
        c(Code::VcpuStateIncorrect)
    );
}

#[test]
fn vp_addcx_pages_are_owned_by_the_tdr() {
    let m = full_vcpu();
    for i in 0..(TDVPS_PAGES as u64 - 1) {
        assert_eq!(rdmd(&m, vcx(VCX0, i)), (PageType::Tdcx as u64, TDR));
        assert!(m.platform().is_isolated(vcx(VCX0, i)));
    }
}

#[test]
fn vp_init_failures_in_order() {
    use OperandId::*;
    // Missing TDCX pages.
    let m = created_vcpu();
    assert_eq!(call(&m, VP_ADDCX, VCX0, TDVPR, 0, 0), 0);
    assert_eq!(call(&m, VP_INIT, TDVPR, 0, 0, 0), c(Code::TdcxNumIncorrect));
    run_table(
        full_vcpu,
        &[
            (
                "tdvpr misaligned",
                VP_INIT,
                TDVPR + 8,
                0,
                0,
                0,
                st(INV, Rcx),
            ),
            ("tdvpr not a TDVPR", VP_INIT, TDR, 0, 0, 0, st(META, Rcx)),
            (
                "x2apic id over 32 bits",
                VP_INIT_V1,
                TDVPR,
                0,
                1 << 32,
                0,
                st(INV, R8),
            ),
        ],
    );
    // Twice.
    let m = ready_vcpu();
    assert_eq!(
        call(&m, VP_INIT, TDVPR, 0, 0, 0),
        c(Code::VcpuStateIncorrect)
    );
    // A duplicate x2APIC ID names the ID.
    second_vcpu(&m);
    let (s, _) = call_on(&m, LP0, VP_INIT_V1, TDVPR2, 0, 7, 0);
    assert_eq!(s, 0xC000_0621_0000_0007);
    let (state, _, _) = m.vcpu_info(Hpa(TDVPR2)).unwrap();
    assert_eq!(state, VcpuState::Uninitialized as u64, "unchanged");
    assert_eq!(call_on(&m, LP0, VP_INIT_V1, TDVPR2, 0, 8, 0).0, 0);
}

#[test]
fn vp_init_sets_the_architectural_initial_state() {
    let m = ready_vcpu();
    let (state, index, r) = m.vcpu_info(Hpa(TDVPR)).unwrap();
    assert_eq!(state, VcpuState::Ready as u64);
    assert_eq!(index, 0);
    assert_eq!(r[init_reg::RIP], 0xFFFF_FFF0);
    assert_eq!(r[init_reg::RCX], 0x1234);
    assert_eq!(r[init_reg::R8], 0x1234);
    assert_eq!(r[init_reg::RDX], 0x000A_06A0, "CPUID(1).EAX");
    assert_eq!(r[init_reg::RBX], 48, "GPAW of a 48-bit TD");
    assert_eq!(r[init_reg::RSI], 0);
    assert_eq!(r[init_reg::CR0], 0x21);
    assert_eq!(r[init_reg::CR4], 0x2040);
    assert_eq!(r[init_reg::EFER], 0x901);
    assert_eq!(r[init_reg::RFLAGS], 0x2);
    assert_eq!(r[init_reg::DR7], 0x400);
    assert_eq!(r[init_reg::PAT], 0x0007_0406_0007_0406);
    // The second vCPU gets index 1 in RSI.
    second_vcpu(&m);
    assert_eq!(call_on(&m, LP1, VP_INIT_V1, TDVPR2, 0, 9, 0).0, 0);
    let (_, index, r) = m.vcpu_info(Hpa(TDVPR2)).unwrap();
    assert_eq!((index, r[init_reg::RSI]), (1, 1));
    let info = m.td_info(Hpa(TDR)).unwrap();
    assert_eq!(info.op_state, OpState::Initialized);
}

#[test]
fn vp_init_beyond_max_vcpus_is_refused() {
    // TD_PARAMS allows 4 vCPUs.
    let m = initialized();
    for v in 0..5u64 {
        let tdvpr = 0x30_0000 + 0x1_0000 * (v + 1);
        assert_eq!(call(&m, VP_CREATE, tdvpr, TDR, 0, 0), 0);
        for i in 0..(TDVPS_PAGES as u64 - 1) {
            assert_eq!(call(&m, VP_ADDCX, tdvpr + 0x1000 * (i + 1), tdvpr, 0, 0), 0);
        }
        let want = if v < 4 { 0 } else { c(Code::MaxVcpusExceeded) };
        assert_eq!(call(&m, VP_INIT, tdvpr, 0, 0, 0), want, "vCPU {v}");
    }
}

#[test]
fn vp_flush_is_needed_before_vpflushdone() {
    let m = ready_vcpu();
    assert_eq!(call(&m, MR_FINALIZE, TDR, 0, 0, 0), 0);
    // Associated with LP0 by VP.INIT.
    assert_eq!(call(&m, VPFLUSHDONE, TDR, 0, 0, 0), c(Code::FlushvpNotDone));
    // Not from another LP.
    assert_eq!(
        call_on(&m, LP1, VP_FLUSH, TDVPR, 0, 0, 0).0,
        c(Code::VcpuNotAssociated)
    );
    assert_eq!(
        call_on(&m, LP0, VP_FLUSH, TDVPR + 8, 0, 0, 0).0,
        st(INV, OperandId::Rcx)
    );
    assert_eq!(
        call_on(&m, LP0, VP_FLUSH, TDR, 0, 0, 0).0,
        st(META, OperandId::Rcx)
    );
    assert_eq!(call_on(&m, LP0, VP_FLUSH, TDVPR, 0, 0, 0).0, 0);
    // Flushed: a second flush finds it not associated.
    assert_eq!(
        call_on(&m, LP0, VP_FLUSH, TDVPR, 0, 0, 0).0,
        c(Code::VcpuNotAssociated)
    );
    assert_eq!(call(&m, VPFLUSHDONE, TDR, 0, 0, 0), 0);
    // Blocked: the TD's keys are no longer configured.
    assert_eq!(
        call_on(&m, LP0, VP_FLUSH, TDVPR, 0, 0, 0).0,
        c(Code::TdKeysNotConfigured)
    );
}

#[test]
fn teardown_reclaims_vcpu_pages_zeroed() {
    let m = ready_vcpu();
    assert_eq!(call(&m, MR_FINALIZE, TDR, 0, 0, 0), 0);
    assert_eq!(call_on(&m, LP0, VP_FLUSH, TDVPR, 0, 0, 0).0, 0);
    assert_eq!(call(&m, VPFLUSHDONE, TDR, 0, 0, 0), 0);
    assert_eq!(call_on(&m, LP0, 40, 0, 0, 0, 0).0, 0);
    assert_eq!(call_on(&m, LP1, 40, 0, 0, 0, 0).0, 0);
    assert_eq!(call(&m, 20, TDR, 0, 0, 0), 0);
    // The TDR still has children: the vCPU pages and the TDCS.
    assert_eq!(call(&m, 28, TDR, 0, 0, 0), c(Code::TdAssociatedPagesExist));
    let mut pages: Vec<u64> = (0..(TDVPS_PAGES as u64 - 1))
        .map(|i| vcx(VCX0, i))
        .collect();
    pages.push(TDVPR);
    pages.extend((0..6).map(|i| TDCX0 + 0x1000 * i));
    for &p in &pages {
        let (s, r) = call_on(&m, LP0, 28, p, 0, 0, 0);
        assert_eq!(s, 0, "reclaim {p:#x}");
        assert_eq!(r.rdx, TDR, "owner of {p:#x}");
    }
    assert_eq!(call(&m, 28, TDR, 0, 0, 0), 0);
    for p in pages.into_iter().chain([TDR]) {
        assert_eq!(rdmd(&m, p), (PageType::Nda as u64, 0));
        assert!(!m.platform().is_isolated(p), "{p:#x} back to the VMM");
        let mut buf = [0xFFu8; 4096];
        m.platform().read(p, &mut buf);
        assert!(buf.iter().all(|&b| b == 0), "{p:#x} zeroed");
    }
}
