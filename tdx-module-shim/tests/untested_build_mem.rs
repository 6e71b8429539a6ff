//! Conditions the coverage table listed as untested, part 2: the TDR and
//! TD-state checks of the TD build leaves (TDH.MEM.SEPT.ADD,
//! TDH.MEM.PAGE.ADD, TDH.MR.EXTEND, TDH.MR.FINALIZE) and of
//! TDH.MNG.KEY.FREEID, SEPT.ADD's R8 alignment, PAGE.ADD's shared GPA and
//! MR.EXTEND's OP_STATE. Each case passes every earlier check of its leaf
//! and fails the one it names, with the exact status, and changes nothing;
//! the same call succeeds on the valid setup (`control`).
mod common;
#[path = "common/untested.rs"]
mod untested;

use common::contention::*;
use common::mem_mgmt::*;
use common::*;
use untested::*;

use tdx_module_shim::*;

const RANGE: Code = Code::OperandAddrRangeError;

/// KEYS_CONFIGURED with five TDCX pages (one short).
fn five_cx() -> M {
    let m = keys_configured();
    for i in 0..5 {
        assert_eq!(call(&m, MNG_ADDCX, TDCX0 + 0x1000 * i, TDR, 0, 0), 0);
    }
    m
}

/// `built` (INITIALIZED, SEPT for GPA 0..2 MiB, GPA 0x1000 added), then
/// VPFLUSHDONE: BLOCKED, every TDCX page present.
fn blocked_built() -> M {
    block(built())
}

/// `built`, finalised: RUNNABLE.
fn finalized() -> M {
    let m = built();
    assert_eq!(call(&m, MR_FINALIZE, TDR, 0, 0, 0), 0);
    m
}

/// `blocked_built` after CACHE.WB on both packages: KEY.FREEID may run.
fn freeable() -> M {
    wb_both(blocked_built())
}

/// The four build leaves, with operands valid on `built`, the TDR operand
/// replaced by `tdr`.
fn build_calls(tdr: u64) -> [(&'static str, Call); 4] {
    [
        (
            "SEPT.ADD",
            seam(SEPT_ADD, 0x20_0000 | 1, tdr, SEPT0 + 0x3000, 0),
        ),
        ("PAGE.ADD", seam(PAGE_ADD, 0x2000, tdr, AUG0, SRC0)),
        ("MR.EXTEND", seam(MR_EXTEND, 0x1000, tdr, 0, 0)),
        ("MR.FINALIZE", seam(MR_FINALIZE, tdr, 0, 0, 0)),
    ]
}

/// The TDR operand of the build leaves: RDX, but RCX for MR.FINALIZE.
fn tdr_op(leaf: &str) -> OperandId {
    if leaf == "MR.FINALIZE" {
        OperandId::Rcx
    } else {
        OperandId::Rdx
    }
}

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

/// (name, setup, status of the build leaves there).
type TdState = (&'static str, fn() -> M, Code);

#[test]
fn build_leaves_tdr_operand_and_td_state() {
    let mut rows: Vec<Row> = Vec::new();
    // Rows 1, 2: the TDR operand's alignment, HKID bits, TDMR range.
    for (bad, what, code) in [
        (TDR + 8, "misaligned", INV),
        (TDR | 1 << 40, "hkid bits", INV),
        (GIB, "outside tdmrs", RANGE),
        (RAM_END, "above ram", RANGE),
    ] {
        for (leaf, call) in build_calls(bad) {
            let name = leak(format!("{leaf} tdr {what}"));
            rows.push((name, built, call, st(code, tdr_op(leaf))));
        }
    }
    // Row 6: not KEYS_CONFIGURED (checked before the TDCX count, row 7).
    // Row 7: fewer than 6 TDCX pages.
    let states: [TdState; 4] = [
        ("hkid assigned", hkid_assigned, Code::TdKeysNotConfigured),
        ("blocked", blocked_built, Code::TdKeysNotConfigured),
        ("no tdcx", keys_configured, Code::TdcsNotAllocated),
        ("five tdcx", five_cx, Code::TdcsNotAllocated),
    ];
    for (what, setup, code) in states {
        for (leaf, call) in build_calls(TDR) {
            rows.push((leak(format!("{leaf} {what}")), setup, call, c(code)));
        }
    }
    run_rows(&rows);
    for (leaf, call) in build_calls(TDR) {
        control(leaf, built, call);
    }
}

#[test]
fn build_leaves_operand_rows() {
    use OperandId::*;
    let sept_add = |r8| seam(SEPT_ADD, 0x20_0000 | 1, TDR, r8, 0);
    let page_add = |rcx| seam(PAGE_ADD, rcx, TDR, AUG0, SRC0);
    let extend = seam(MR_EXTEND, 0x1000, TDR, 0, 0);
    let finalize = |rcx| seam(MR_FINALIZE, rcx, 0, 0, 0);
    let op_state = c(Code::OpStateIncorrect);
    run_rows(&[
        // SEPT.ADD row 14: the entry is FREE (row 13), R8 is not a page.
        (
            "SEPT.ADD page misaligned",
            built,
            sept_add(SEPT0 + 0x3008),
            st(INV, R8),
        ),
        (
            "SEPT.ADD page hkid bits",
            built,
            sept_add((SEPT0 + 0x3000) | 1 << 41),
            st(INV, R8),
        ),
        // PAGE.ADD row 11: shared GPAs, before the SEPT walk (row 12; no
        // SEPT covers them).
        (
            "PAGE.ADD shared gpa",
            built,
            page_add(1 << 47 | 0x2000),
            st(INV, Rcx),
        ),
        (
            "PAGE.ADD gpa bit 50",
            built,
            page_add(1 << 50),
            st(INV, Rcx),
        ),
        // MR.EXTEND row 9: RUNNABLE, UNINITIALIZED.
        ("MR.EXTEND runnable", finalized, extend, op_state),
        ("MR.EXTEND uninitialized", six_cx, extend, op_state),
        // MR.FINALIZE row 4: RCX is a page of another type.
        (
            "MR.FINALIZE tdcx page",
            built,
            finalize(TDCX0),
            st(META, Rcx),
        ),
        (
            "MR.FINALIZE sept page",
            built,
            finalize(SEPT0),
            st(META, Rcx),
        ),
        (
            "MR.FINALIZE private page",
            built,
            finalize(DATA0),
            st(META, Rcx),
        ),
        (
            "MR.FINALIZE free page",
            built,
            finalize(0x4F_0000),
            st(META, Rcx),
        ),
    ]);
    control("SEPT.ADD", built, sept_add(SEPT0 + 0x3000));
    control("PAGE.ADD", built, page_add(0x2000));
    control("MR.EXTEND", built, extend);
    control("MR.FINALIZE", built, finalize(TDR));
}

#[test]
fn key_freeid_tdr_operand() {
    use OperandId::Rcx;
    let freeid = |rcx| seam(FREEID, rcx, 0, 0, 0);
    run_rows(&[
        // Rows 1, 2.
        ("freeid misaligned", freeable, freeid(TDR + 8), st(INV, Rcx)),
        (
            "freeid hkid bits",
            freeable,
            freeid(TDR | 1 << 40),
            st(INV, Rcx),
        ),
        (
            "freeid outside tdmrs",
            freeable,
            freeid(GIB),
            st(RANGE, Rcx),
        ),
        // Row 4: a page of the TD, and a free page.
        ("freeid tdcx page", freeable, freeid(TDCX0), st(META, Rcx)),
        ("freeid sept page", freeable, freeid(SEPT0), st(META, Rcx)),
        (
            "freeid private page",
            freeable,
            freeid(DATA0),
            st(META, Rcx),
        ),
        (
            "freeid free page",
            freeable,
            freeid(0x4F_0000),
            st(META, Rcx),
        ),
    ]);
    control("KEY.FREEID", freeable, freeid(TDR));
}
