//! Helpers for the TD memory-management tests (`tests/mem_mgmt*.rs`):
//! leaf numbers, a RUNNABLE TD with SEPT for GPA 0..2 MiB, and the state
//! a failing leaf must leave unchanged.

use super::*;
use tdx_module_shim::enter::{GuestState, TdExit, gpr};
use tdx_module_shim::vp::TDVPS_PAGES;
use tdx_module_shim::*;

pub const AUG: u64 = 6;
pub const BLOCK: u64 = 7;
pub const PAGE_REMOVE: u64 = 29;
pub const SEPT_REMOVE: u64 = 30;
pub const TRACK: u64 = 38;
pub const UNBLOCK: u64 = 39;
pub const ACCEPT: u64 = 6;
pub const TDVPR: u64 = 0x22_0000;
pub const VCX0: u64 = 0x22_1000;
/// The page PAGE.AUG adds at GPA 0x2000.
pub const AUG0: u64 = 0x31_0000;
/// The level-0 SEPT table for GPA 0..2 MiB (sept_for_low_gpa).
pub const PT: u64 = SEPT0 + 0x2000;
pub const PD: u64 = SEPT0 + 0x1000;
pub const GB1: u64 = 0x4000_0000;

pub const INV: Code = Code::OperandInvalid;
pub const STATE: Code = Code::EptEntryStateIncorrect;
pub const META: Code = Code::PageMetadataIncorrect;
pub const BUSY: Code = Code::OperandBusy;

/// A RUNNABLE TD: one initialised vCPU, SEPT for GPA 0..2 MiB, the page
/// at GPA 0x1000 (DATA0) added and MAPPED.
pub fn runnable() -> M {
    let m = initialized();
    assert_eq!(call(&m, 10, TDVPR, TDR, 0, 0), 0, "VP.CREATE");
    for i in 0..(TDVPS_PAGES as u64 - 1) {
        assert_eq!(call(&m, 4, VCX0 + 0x1000 * i, TDVPR, 0, 0), 0);
    }
    assert_eq!(call(&m, 22, TDVPR, 0, 0, 0), 0, "VP.INIT");
    sept_for_low_gpa(&m);
    m.platform().vmm_write(SRC0, &[0x5A; 4096]);
    assert_eq!(call(&m, PAGE_ADD, 0x1000, TDR, DATA0, SRC0), 0);
    assert_eq!(call(&m, MR_FINALIZE, TDR, 0, 0, 0), 0);
    m
}

/// `runnable` plus a PENDING page at GPA 0x2000 (AUG0).
pub fn augmented() -> M {
    let m = runnable();
    assert_eq!(call(&m, AUG, 0x2000, TDR, AUG0, 0), 0);
    m
}

/// `runnable` with GPA 0x1000 blocked and the block tracked.
pub fn blocked_tracked() -> M {
    let m = runnable();
    assert_eq!(call(&m, BLOCK, 0x1000, TDR, 0, 0), 0);
    assert_eq!(call(&m, TRACK, TDR, 0, 0, 0), 0);
    m
}

pub fn sept_state(e: u64) -> u64 {
    (e >> 52) & 7
}

pub fn pt_entry(m: &M, gpa: u64) -> u64 {
    m.platform().word(PT + 8 * ((gpa >> 12) & 511))
}

pub fn page_words(m: &M, pa: u64) -> Vec<u64> {
    (0..512).map(|i| m.platform().word(pa + 8 * i)).collect()
}

pub fn bepoch(m: &M, pa: u64) -> u64 {
    let (s, r) = call_on(m, LP0, RDMD, pa, 0, 0, 0);
    assert_eq!(s, 0);
    r.r9
}

pub type State = (
    (Vec<(u64, u64)>, usize, Option<TdInfo>),
    Vec<u64>,
    Vec<u64>,
    Vec<u64>,
    Vec<u64>,
    (u64, u64, u64),
);

/// Everything these leaves may change: PAMT, isolation, TD info, the PD
/// and PT, both data pages, AUG0's PAMT entry and the BEPOCHs.
pub fn state(m: &M) -> State {
    (
        snapshot(m),
        page_words(m, PD),
        page_words(m, PT),
        page_words(m, DATA0),
        page_words(m, AUG0),
        (rdmd(m, AUG0).0, bepoch(m, DATA0), bepoch(m, PT)),
    )
}

pub fn run(setup: fn() -> M, cases: &[Case]) {
    for &(name, leaf, rcx, rdx, r8, r9, want) in cases {
        let m = setup();
        let before = state(&m);
        assert_eq!(call(&m, leaf, rcx, rdx, r8, r9), want, "{name}");
        assert_eq!(state(&m), before, "{name}: state changed");
    }
}

pub fn enter_vcpu(m: &M) {
    let mut r = [0u64; 16];
    r[gpr::RCX] = TDVPR;
    m.vp_enter(LP0, &mut r).expect("enters");
}

pub fn exit_vcpu(m: &M) {
    let mut r = [0u64; 16];
    m.td_exit(
        LP0,
        &GuestState::default(),
        TdExit::ExternalInterrupt,
        &mut r,
    );
}

/// One TDCALL from the running vCPU; returns its RAX.
pub fn tdcall(m: &M, rax: u64, rcx: u64, rdx: u64) -> u64 {
    let mut g = GuestState::default();
    (g.gprs[gpr::RAX], g.gprs[gpr::RCX], g.gprs[gpr::RDX]) = (rax, rcx, rdx);
    m.tdcall(LP0, &mut g);
    g.gprs[gpr::RAX]
}

/// One TDCALL from the running vCPU: its outcome and the guest registers.
pub fn tdcall_full(m: &M, rax: u64, rcx: u64) -> (tdg::Tdcall, GuestState) {
    let mut g = GuestState::default();
    (g.gprs[gpr::RAX], g.gprs[gpr::RCX]) = (rax, rcx);
    let out = m.tdcall(LP0, &mut g);
    (out, g)
}
