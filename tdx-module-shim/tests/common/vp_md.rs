//! Helpers for the TDH.VP.RD / TDH.VP.WR tests (`tests/vp_md*.rs`): leaf
//! numbers, a TD with vCPUs in each state, and the state a failing leaf
//! must leave unchanged.

use super::*;
use tdx_module_shim::vp::TDVPS_PAGES;
use tdx_module_shim::*;

pub const VP_ADDCX: u64 = 4;
pub const VP_CREATE: u64 = 10;
pub const MNG_RD: u64 = 11;
pub const VP_FLUSH: u64 = 18;
pub const VPFLUSHDONE: u64 = 19;
pub const VP_INIT: u64 = 22;
pub const VP_RD: u64 = 26;
pub const VP_RD_V1: u64 = 26 | 1 << 16;
pub const VP_WR: u64 = 43;
pub const ALL: u64 = u64::MAX;
pub const INV: Code = Code::OperandInvalid;

pub const TDVPR: u64 = 0x22_0000;
pub const VCX0: u64 = 0x22_1000;
pub const TDVPR2: u64 = 0x23_0000;
pub const VCX2: u64 = 0x23_1000;
/// A vCPU with only its TDVPR page.
pub const TDVPR3: u64 = 0x24_0000;
/// A shared HPA for the VMM's EPT root (HKID 0).
pub const EPT_ROOT: u64 = 0x1234_5000;
/// TDVPS word 6 (`vp.rs`).
pub const W_SHARED_EPTP: u64 = 6;

pub fn add_vcpu(m: &M, tdvpr: u64, cx: u64, pages: u64) {
    assert_eq!(call(m, VP_CREATE, tdvpr, TDR, 0, 0), 0);
    for i in 0..pages {
        assert_eq!(call(m, VP_ADDCX, cx + 0x1000 * i, tdvpr, 0, 0), 0);
    }
}

/// A TD (DEBUG or not) with vCPU 0 initialised on LP0 and vCPU 1 created
/// with all its pages but not initialised; RUNNABLE if `finalize`.
pub fn td(debug: bool, finalize: bool) -> M {
    let m = initialized_as(debug);
    add_vcpu(&m, TDVPR, VCX0, TDVPS_PAGES as u64 - 1);
    assert_eq!(call_on(&m, LP0, VP_INIT, TDVPR, 0x1234, 0, 0).0, 0);
    add_vcpu(&m, TDVPR2, VCX2, TDVPS_PAGES as u64 - 1);
    add_vcpu(&m, TDVPR3, 0, 0);
    if finalize {
        assert_eq!(call(&m, MR_FINALIZE, TDR, 0, 0, 0), 0);
    }
    m
}

pub fn prod() -> M {
    td(false, true)
}

pub fn dbg() -> M {
    td(true, true)
}

/// VP.RD on LP0: (status, R8, RDX).
pub fn rd_on(m: &M, lp: Lp, id: u64) -> (u64, u64, u64) {
    let (s, r) = call_on(m, lp, VP_RD, TDVPR, id, 0, 0);
    (s, r.r8, r.rdx)
}

pub fn rd(m: &M, id: u64) -> u64 {
    let (s, v, _) = rd_on(m, LP0, id);
    assert_eq!(s, 0, "VP.RD {id:#x}");
    v
}

/// VP.WR on LP0: (status, R8).
pub fn wr(m: &M, id: u64, value: u64, mask: u64) -> (u64, u64) {
    let (s, r) = call_on(m, LP0, VP_WR, TDVPR, id, value, mask);
    (s, r.r8)
}

pub fn num_assoc(m: &M) -> u64 {
    let (s, r) = call_on(m, LP0, MNG_RD, TDR, md::field::NUM_ASSOC_VCPUS, 0, 0);
    assert_eq!(s, 0);
    r.r8
}

/// (name, leaf, RCX, RDX, R8, R9, expected status).
pub type VpCase = (&'static str, u64, u64, u64, u64, u64, u64);

/// Everything a failing VP.RD/WR must not change: PAMT and TD snapshot,
/// both vCPUs' TDVPR words and guest-state pages, NUM_ASSOC_VCPUS.
pub type State = ((Vec<(u64, u64)>, usize, Option<TdInfo>), Vec<u64>, u64);

pub fn state(m: &M) -> State {
    let p = m.platform();
    let words = [TDVPR, VCX0, TDVPR2, VCX2]
        .iter()
        .flat_map(|&page| (0..32).map(move |w| page + 8 * w))
        .map(|a| p.word(a))
        .collect();
    let (_, r) = call_on(m, LP0, MNG_RD, TDR, md::field::NUM_ASSOC_VCPUS, 0, 0);
    (snapshot(m), words, r.r8)
}

/// One failing call on `lp`: exact status, R8 = 0, RDX = -1 for VP.RD v1
/// (else unchanged), state unchanged.
pub fn fails(m: &M, lp: Lp, case: VpCase) {
    fails_holding(m, lp, None, case);
}

/// `fails` while another LP holds the PAMT lock of `held`.
pub fn fails_holding(m: &M, lp: Lp, held: Option<u64>, case: VpCase) {
    let (what, leaf, rcx, id, r8, r9, want) = case;
    let before = state(m);
    let lock = held.map(|pa| hold_pamt(m, pa));
    let (s, r) = call_on(m, lp, leaf, rcx, id, r8, r9);
    if let Some(e) = lock {
        unhold_pamt(m, e);
    }
    assert_eq!(s, want, "{what}");
    assert_eq!(r.r8, 0, "{what}: R8");
    let rdx = if leaf == VP_RD_V1 { ALL } else { id };
    assert_eq!(r.rdx, rdx, "{what}: RDX");
    assert_eq!(state(m), before, "{what}: state changed");
}

/// `fails` for each case on a fresh TD from `setup`, on LP0.
pub fn table(setup: fn() -> M, cases: &[VpCase]) {
    for &case in cases {
        fails(&setup(), LP0, case);
    }
}
