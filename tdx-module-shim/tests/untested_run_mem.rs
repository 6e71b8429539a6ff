//! The memory-management leaves' conditions that had no test:
//! TDH.MEM.PAGE.AUG, RANGE.BLOCK, RANGE.UNBLOCK, TRACK, PAGE.REMOVE and
//! SEPT.REMOVE. The TDR operand (misaligned, HKID bits, outside every
//! TDMR), the TD state checks (FATAL set by hand, keys not yet configured
//! or no longer configured after VPFLUSHDONE, no TDCX page), OP_STATE,
//! shared GPAs and SEPT walk failures. Each case in the leaf's check
//! order, with RCX and RDX (0 on entry, or the entry details), state
//! unchanged and every lock released (`run_cases`).
mod common;
mod run_cases;
use common::contention::*;
use common::mem_mgmt::*;
use common::*;
use run_cases::*;

use tdx_module_shim::*;

const KEYS: Code = Code::TdKeysNotConfigured;
const TDCS_NA: Code = Code::TdcsNotAllocated;
const OP: Code = Code::OpStateIncorrect;
/// A shared GPA of a GPAW-48 TD (bit 47).
const SHARED: u64 = 1 << 47;

/// The TDR-operand and TD-state rows every leaf here checks first, in
/// order, for `leaf` with RCX = `gpa` (the TDR in RDX), on `setup`.
fn tdr_and_td_state(leaf: u64, gpa: u64, r8: u64, setup: fn() -> M) -> [Row; 7] {
    use OperandId::*;
    let ok = seam(leaf, gpa, TDR, r8, 0);
    [
        case(
            "tdr misaligned",
            setup,
            seam(leaf, gpa, TDR + 8, r8, 0),
            st(INV, Rdx),
            Out::Zero,
        ),
        case(
            "tdr hkid bits",
            setup,
            seam(leaf, gpa, TDR | HKID_BIT, r8, 0),
            st(INV, Rdx),
            Out::Zero,
        ),
        case(
            "tdr outside tdmr",
            setup,
            seam(leaf, gpa, OUTSIDE, r8, 0),
            st(RANGE, Rdx),
            Out::Zero,
        ),
        tweaked(
            "td fatal",
            setup,
            Tweak::Fatal,
            ok,
            c(Code::TdFatal),
            Out::Zero,
        ),
        case(
            "keys not configured yet",
            hkid_assigned,
            ok,
            c(KEYS),
            Out::Zero,
        ),
        tweaked(
            "keys not configured after vpflushdone",
            setup,
            Tweak::FlushDone,
            ok,
            c(KEYS),
            Out::Zero,
        ),
        case("no tdcx page", keys_configured, ok, c(TDCS_NA), Out::Zero),
    ]
}

#[test]
fn page_aug_untested_conditions() {
    run_cases(&tdr_and_td_state(AUG, 0x2000, AUG0, runnable));
}

#[test]
fn range_block_untested_conditions() {
    run_cases(&tdr_and_td_state(BLOCK, 0x1000, 0, runnable));
}

#[test]
fn range_unblock_untested_conditions() {
    use OperandId::*;
    run_cases(&tdr_and_td_state(UNBLOCK, 0x1000, 0, blocked_tracked));
    run_cases(&[case(
        "shared GPA",
        blocked_tracked,
        seam(UNBLOCK, SHARED | 0x1000, TDR, 0, 0),
        st(INV, Rcx),
        Out::Zero,
    )]);
}

#[test]
fn track_untested_conditions() {
    use OperandId::*;
    let track = seam(TRACK, TDR, 0, 0, 0);
    run_cases(&[
        case(
            "tdr outside tdmr",
            runnable,
            seam(TRACK, OUTSIDE, 0, 0, 0),
            st(RANGE, Rcx),
            Out::Kept,
        ),
        tweaked(
            "td fatal",
            runnable,
            Tweak::Fatal,
            track,
            c(Code::TdFatal),
            Out::Kept,
        ),
        case(
            "keys not configured yet",
            hkid_assigned,
            track,
            c(KEYS),
            Out::Kept,
        ),
        tweaked(
            "keys not configured after vpflushdone",
            runnable,
            Tweak::FlushDone,
            track,
            c(KEYS),
            Out::Kept,
        ),
        case(
            "no tdcx page",
            keys_configured,
            track,
            c(TDCS_NA),
            Out::Kept,
        ),
    ]);
}

#[test]
fn page_remove_untested_conditions() {
    use OperandId::*;
    run_cases(&tdr_and_td_state(PAGE_REMOVE, 0x1000, 0, blocked_tracked));
    run_cases(&[
        case(
            "UNINITIALIZED",
            six_cx,
            seam(PAGE_REMOVE, 0x1000, TDR, 0, 0),
            c(OP),
            Out::Zero,
        ),
        case(
            "shared GPA",
            blocked_tracked,
            seam(PAGE_REMOVE, SHARED | 0x1000, TDR, 0, 0),
            st(INV, Rcx),
            Out::Zero,
        ),
    ]);
}

/// `runnable` with the level-2 entry of GPA 0 (the PDPT entry that points
/// to the PD) NL_BLOCKED.
fn pd_blocked() -> M {
    let m = runnable();
    assert_eq!(call(&m, BLOCK, 2, TDR, 0, 0), 0);
    m
}

#[test]
fn sept_remove_untested_conditions() {
    use OperandId::*;
    const NL_BLOCKED: u64 = 6;
    let walk = st(Code::EptWalkFailed, Rcx);
    run_cases(&tdr_and_td_state(SEPT_REMOVE, 1, 0, runnable));
    run_cases(&[
        case(
            "UNINITIALIZED",
            six_cx,
            seam(SEPT_REMOVE, 1, TDR, 0, 0),
            c(OP),
            Out::Zero,
        ),
        case(
            "shared GPA",
            runnable,
            seam(SEPT_REMOVE, SHARED | 1, TDR, 0, 0),
            st(INV, Rcx),
            Out::Zero,
        ),
        // GPA 1 GiB: the PDPT entry is FREE (level 2, state 0).
        case(
            "walk stops at a FREE entry",
            runnable,
            seam(SEPT_REMOVE, GB1 | 1, TDR, 0, 0),
            walk,
            Out::Details(0, 2),
        ),
        case(
            "walk stops at an NL_BLOCKED entry",
            pd_blocked,
            seam(SEPT_REMOVE, 1, TDR, 0, 0),
            walk,
            Out::Details(PD | NL_BLOCKED << 52, 2 | NL_BLOCKED << 8),
        ),
    ]);
}
