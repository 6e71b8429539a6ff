//! Helpers for the 2 MiB private-page tests (`tests/mem_2m*.rs`): the
//! 2 MiB page and GPA they use, setups, PAMT_2M access and the state a
//! failing leaf must leave unchanged.

use super::mem_mgmt::*;
use super::*;
use tdx_module_shim::enter::{self, TdExit};
use tdx_module_shim::tdg::Tdcall;
use tdx_module_shim::*;

/// The 2 MiB page PAGE.AUG adds (2 MiB-aligned, free, no test page in it).
pub const BIG: u64 = 0x60_0000;
/// A second free 2 MiB page.
pub const BIG2: u64 = 0x80_0000;
/// The 2 MiB GPA BIG is added at: PD entry 1 (FREE after sept_for_low_gpa).
pub const G2M: u64 = 0x20_0000;
/// A second FREE 2 MiB GPA.
pub const G2M_B: u64 = 0x40_0000;
pub const WALK: Code = Code::EptWalkFailed;
pub const BLOCKED_ALREADY: Code = Code::GpaRangeAlreadyBlocked;

/// SEPT state encodings (mem.rs).
pub const S_PENDING: u64 = 3;
pub const S_MAPPED: u64 = 2;
pub const S_BLOCKED: u64 = 4;
pub const S_PENDING_BLOCKED: u64 = 5;
pub const S_NL_BLOCKED: u64 = 6;

/// RCX of a level-1 leaf.
pub const fn l1(gpa: u64) -> u64 {
    gpa | 1
}

/// `runnable` plus the PENDING 2 MiB page BIG at G2M.
pub fn aug2m() -> M {
    let m = runnable();
    assert_eq!(call(&m, AUG, l1(G2M), TDR, BIG, 0), 0, "AUG 2M");
    m
}

/// `aug2m` accepted by the TD (vCPU entered, ACCEPT, exited).
pub fn accepted2m() -> M {
    let m = aug2m();
    enter_vcpu(&m);
    assert_eq!(tdcall(&m, ACCEPT, l1(G2M), 0), 0, "ACCEPT 2M");
    exit_vcpu(&m);
    m
}

/// `accepted2m` with the 2 MiB leaf blocked (not tracked).
pub fn blocked2m() -> M {
    let m = accepted2m();
    assert_eq!(call(&m, BLOCK, l1(G2M), TDR, 0, 0), 0);
    m
}

/// `aug2m` with the PENDING 2 MiB leaf blocked (not tracked).
pub fn pending_blocked2m() -> M {
    let m = aug2m();
    assert_eq!(call(&m, BLOCK, l1(G2M), TDR, 0, 0), 0);
    m
}

/// An INITIALIZED TD (no vCPU, SEPT for GPA 0..1 GiB) with a PENDING
/// 2 MiB page BIG at G2M (PAGE.AUG is legal before MR.FINALIZE).
pub fn initialized2m() -> M {
    let m = initialized();
    sept_for_low_gpa(&m);
    assert_eq!(call(&m, AUG, l1(G2M), TDR, BIG, 0), 0, "AUG 2M");
    m
}

/// The PD entry for `gpa` (level 1).
pub fn pd_entry(m: &M, gpa: u64) -> u64 {
    m.platform().word(PD + 8 * ((gpa >> 21) & 511))
}

/// TDH.PHYMEM.PAGE.RDMD: (RAX, RCX type, RDX owner, R8 size, R9 BEPOCH).
pub fn rdmd_full(m: &M, pa: u64) -> (u64, u64, u64, u64, u64) {
    let (s, r) = call_on(m, LP0, RDMD, pa, 0, 0, 0);
    (s, r.rcx, r.rdx, r.r8, r.r9)
}

/// HPA of the PAMT_2M entry of `pa`.
pub fn pamt_2m(m: &M, pa: u64) -> u64 {
    m.tdmrs().locate(Hpa(pa)).unwrap().e2m.raw()
}

/// Hold the PAMT_2M entry lock of `pa` exclusively, as another LP would.
pub fn hold_pamt_2m(m: &M, pa: u64) -> u64 {
    let e = pamt_2m(m, pa);
    let w = m.platform().word(e);
    m.platform().set_word(e, w | 1);
    e
}

/// Add a shared holder to the PAMT_2M entry lock of `pa` (reader count
/// in bits 15:2), as another LP's walk below it would.
pub fn share_pamt_2m(m: &M, pa: u64) -> u64 {
    let e = pamt_2m(m, pa);
    m.platform().set_word(e, m.platform().word(e) + 4);
    e
}

/// Drop the shared holder [`share_pamt_2m`] added.
pub fn unshare_pamt_2m(m: &M, e: u64) {
    m.platform().set_word(e, m.platform().word(e) - 4);
}

/// Page type byte of the PAMT_4K entry of `pa` (raw PAMT memory).
pub fn pamt_4k_type(m: &M, pa: u64) -> u64 {
    (m.platform().word(PAMT_4K + 16 * (pa >> 12)) >> 16) & 0xFF
}

/// The 4 KiB pages of BIG that the tests sample (first, inside, last).
pub const SAMPLES: [u64; 3] = [BIG, BIG + 0x5000, BIG + 0x1F_F000];

/// `1 << (9 * level)` 4 KiB pages of `base` that are isolated.
pub fn isolated_in(m: &M, base: u64, n: u64) -> u64 {
    (0..n)
        .filter(|i| m.platform().is_isolated(base + (i << 12)))
        .count() as u64
}

pub type State2m = (
    State,
    Vec<u64>,
    Vec<Vec<u64>>,
    [(u64, u64, u64, u64, u64); 3],
    u64,
    Vec<u64>,
);

/// Everything the leaves may change: `mem_mgmt::state`, the PD, the
/// sampled pages of BIG, RDMD of BIG, BIG2 and a page inside BIG (PAMT_2M
/// entries, their size and BEPOCH), how many of BIG's pages are
/// isolated, and the lock bits of the PAMT_2M entries of the first 16 MiB.
pub fn state2m(m: &M) -> State2m {
    (
        state(m),
        page_words(m, PD),
        SAMPLES.iter().map(|&p| page_words(m, p)).collect(),
        [
            rdmd_full(m, BIG),
            rdmd_full(m, BIG + 0x5000),
            rdmd_full(m, BIG2),
        ],
        isolated_in(m, BIG, 512),
        (0..8)
            .map(|i| m.platform().word(PAMT_2M + 16 * i) & 0xFFFF)
            .collect(),
    )
}

/// A SEAMCALL failure table: each case on a fresh `setup`, exact RAX and
/// the state unchanged.
pub fn run2m(setup: fn() -> M, cases: &[Case]) {
    for &(name, leaf, rcx, rdx, r8, r9, want) in cases {
        let m = setup();
        let before = state2m(&m);
        assert_eq!(call(&m, leaf, rcx, rdx, r8, r9), want, "{name}");
        assert_eq!(state2m(&m), before, "{name}: state changed");
    }
}

/// EEQ type ACCEPT with `tdaccept_vmx_eeq_info_t` in bits 63:32.
pub fn accept_eeq(req: u64, err_lvl: u64, state: u64, leaf: bool) -> u64 {
    enter::eeq::ACCEPT | (req | err_lvl << 3 | state << 6 | u64::from(leaf) << 14) << 32
}

/// The EPT-violation outcome of an ACCEPT of `rcx` (GPA|level).
pub fn violation(rcx: u64, eeq: u64) -> Tdcall {
    Tdcall::EptViolation(TdExit::EptViolation {
        gpa: Gpa(rcx & !7),
        qualification: 0,
        ext: eeq,
    })
}

/// `status` + details (the level for the ACCEPT warnings and errors).
pub const fn with_level(code: Code, level: u32) -> u64 {
    Status::with_details(code, level).to_raw()
}
