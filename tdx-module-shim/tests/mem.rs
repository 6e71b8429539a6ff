//! TDH.MEM.SEPT.ADD, PAGE.ADD, MR.EXTEND: failure tables, contention.
mod common;
use common::*;

use tdx_module_shim::*;

const INV: Code = Code::OperandInvalid;
const RANGE: Code = Code::OperandAddrRangeError;
const META: Code = Code::PageMetadataIncorrect;

fn with_sept() -> M {
    let m = initialized();
    sept_for_low_gpa(&m);
    m.platform().vmm_write(SRC0, &[0x5A; 4096]);
    m
}

#[test]
fn sept_add_table() {
    use OperandId::*;
    run_table(
        six_cx,
        &[(
            "before init",
            SEPT_ADD,
            3,
            TDR,
            SEPT0,
            0,
            c(Code::OpStateIncorrect),
        )],
    );
    run_table(
        initialized,
        &[
            ("level 0", SEPT_ADD, 0, TDR, SEPT0, 0, st(INV, Rcx)),
            (
                "level 4 on 4-level",
                SEPT_ADD,
                4,
                TDR,
                SEPT0,
                0,
                st(INV, Rcx),
            ),
            (
                "reserved bits",
                SEPT_ADD,
                3 | 0x8,
                TDR,
                SEPT0,
                0,
                st(INV, Rcx),
            ),
            (
                "misaligned gpa",
                SEPT_ADD,
                1 | 0x1000,
                TDR,
                SEPT0,
                0,
                st(INV, Rcx),
            ),
            (
                "shared gpa",
                SEPT_ADD,
                3 | 1 << 47,
                TDR,
                SEPT0,
                0,
                st(INV, Rcx),
            ),
            (
                "walk failed",
                SEPT_ADD,
                1,
                TDR,
                SEPT0,
                0,
                st(Code::EptWalkFailed, Rcx),
            ),
            ("page wrong type", SEPT_ADD, 3, TDR, TDCX0, 0, st(META, R8)),
            ("page out of range", SEPT_ADD, 3, TDR, GIB, 0, st(RANGE, R8)),
            ("tdr wrong", SEPT_ADD, 3, TDCX0, SEPT0, 0, st(META, Rdx)),
        ],
    );
    run_table(
        with_sept,
        &[(
            "entry not free",
            SEPT_ADD,
            1,
            TDR,
            SEPT0 + 0x3000,
            0,
            st(Code::EptEntryStateIncorrect, Rcx),
        )],
    );
    // Walk-failure details: RCX = entry (FREE = 0), RDX = level.
    let m = initialized();
    let (s, r) = call_on(&m, LP0, SEPT_ADD, 1, TDR, SEPT0, 0);
    assert_eq!((s, r.rcx, r.rdx), (st(Code::EptWalkFailed, Rcx), 0, 3));
}

#[test]
fn page_add_table() {
    use OperandId::*;
    run_table(
        with_sept,
        &[
            (
                "level 1",
                PAGE_ADD,
                0x1000 | 1,
                TDR,
                DATA0,
                SRC0,
                st(INV, Rcx),
            ),
            (
                "gpa reserved bits",
                PAGE_ADD,
                0x1000 | 1 << 60,
                TDR,
                DATA0,
                SRC0,
                st(INV, Rcx),
            ),
            (
                "no PT",
                PAGE_ADD,
                0x20_0000,
                TDR,
                DATA0,
                SRC0,
                st(Code::EptWalkFailed, Rcx),
            ),
            (
                "source misaligned",
                PAGE_ADD,
                0x1000,
                TDR,
                DATA0,
                SRC0 + 8,
                st(INV, R9),
            ),
            (
                "source hkid bits",
                PAGE_ADD,
                0x1000,
                TDR,
                DATA0,
                SRC0 | 1 << 42,
                st(INV, R9),
            ),
            (
                "source isolated",
                PAGE_ADD,
                0x1000,
                TDR,
                DATA0,
                TDR,
                st(INV, R9),
            ),
            (
                "source not RAM",
                PAGE_ADD,
                0x1000,
                TDR,
                DATA0,
                RAM_END,
                st(INV, R9),
            ),
            (
                "target is sept",
                PAGE_ADD,
                0x1000,
                TDR,
                SEPT0,
                SRC0,
                st(META, R8),
            ),
            (
                "target is tdr",
                PAGE_ADD,
                0x1000,
                TDR,
                TDR,
                SRC0,
                st(Code::OperandBusy, R8),
            ),
            (
                "target out of range",
                PAGE_ADD,
                0x1000,
                TDR,
                GIB,
                SRC0,
                st(RANGE, R8),
            ),
            (
                "tdr not a tdr",
                PAGE_ADD,
                0x1000,
                SRC0,
                DATA0,
                SRC0,
                st(META, Rdx),
            ),
        ],
    );
    run_table(
        six_cx,
        &[(
            "before init",
            PAGE_ADD,
            0x1000,
            TDR,
            DATA0,
            SRC0,
            c(Code::OpStateIncorrect),
        )],
    );
    // Busy target, then success, then the GPA is taken.
    let m = with_sept();
    let e = hold_pamt(&m, DATA0);
    assert_eq!(
        call(&m, PAGE_ADD, 0x1000, TDR, DATA0, SRC0),
        st(Code::OperandBusy, R8)
    );
    unhold_pamt(&m, e);
    assert_eq!(call(&m, PAGE_ADD, 0x1000, TDR, DATA0, SRC0), 0);
    assert_eq!(
        call(&m, PAGE_ADD, 0x1000, TDR, DATA0 + 0x1000, SRC0),
        st(Code::EptEntryStateIncorrect, Rcx)
    );
    // A TDR held by another LP.
    let e = hold_pamt(&m, TDR);
    assert_eq!(
        call(&m, PAGE_ADD, 0x2000, TDR, DATA0 + 0x1000, SRC0),
        st(Code::OperandBusy, Rdx)
    );
    assert_eq!(
        call(&m, MR_FINALIZE, TDR, 0, 0, 0),
        st(Code::OperandBusy, Rcx)
    );
    unhold_pamt(&m, e);
}

#[test]
fn mr_extend_table() {
    use OperandId::*;
    fn added() -> M {
        let m = with_sept();
        assert_eq!(call(&m, PAGE_ADD, 0x1000, TDR, DATA0, SRC0), 0);
        m
    }
    run_table(
        added,
        &[
            ("misaligned", MR_EXTEND, 0x1080, TDR, 0, 0, st(INV, Rcx)),
            (
                "shared",
                MR_EXTEND,
                0x1000 | 1 << 47,
                TDR,
                0,
                0,
                st(INV, Rcx),
            ),
            (
                "not mapped",
                MR_EXTEND,
                0x2000,
                TDR,
                0,
                0,
                st(Code::EptEntryStateIncorrect, Rcx),
            ),
            (
                "no PT",
                MR_EXTEND,
                0x40_0000,
                TDR,
                0,
                0,
                st(Code::EptWalkFailed, Rcx),
            ),
            ("tdr wrong", MR_EXTEND, 0x1000, DATA0, 0, 0, st(META, Rdx)),
        ],
    );
}

#[test]
fn unimplemented_leaves_are_unknown() {
    let m = initialized();
    // VP.ENTER, MEM.SEPT.RD, MEM.RD, SEPT.ADD v1, SEPT.REMOVE v1, VP.INIT v2.
    for leaf in [0u64, 25, 12, 3 | 1 << 16, 30 | 1 << 16, 22 | 2 << 16] {
        assert_eq!(
            call(&m, leaf, TDR, 0, 0, 0),
            st(INV, OperandId::Rax),
            "leaf {leaf:#x}"
        );
    }
    // MNG.KEY.RECLAIMID: a no-op success in 1.5.
    assert_eq!(call(&m, 27, TDR, 0, 0, 0), 0);
}

#[test]
fn failed_lock_leaves_lock_word_unchanged() {
    let m = with_sept();
    let e = hold_pamt(&m, TDR);
    let w = m.platform().word(e);
    assert_eq!(
        call(&m, PAGE_ADD, 0x2000, TDR, DATA0 + 0x1000, SRC0),
        st(Code::OperandBusy, OperandId::Rdx)
    );
    assert_eq!(
        call(&m, RDMD, TDR, 0, 0, 0),
        st(Code::OperandBusy, OperandId::Rcx)
    );
    assert_eq!(m.platform().word(e), w);
    unhold_pamt(&m, e);
}

#[test]
fn concurrent_page_add_never_waits() {
    let m = with_sept();
    for i in 0..8u64 {
        m.platform()
            .vmm_write(SRC0 + 0x1000 * (i + 1), &[i as u8; 4096]);
    }
    std::thread::scope(|s| {
        for lp in [LP0, LP1] {
            let m = &m;
            s.spawn(move || {
                for i in 0..8u64 {
                    loop {
                        let (st_, _) = call_on(
                            m,
                            lp,
                            PAGE_ADD,
                            0x2000 + 0x1000 * i,
                            TDR,
                            DATA0 + 0x1000 * (i + 1),
                            SRC0 + 0x1000 * (i + 1),
                        );
                        if st_ >> 32 != Code::OperandBusy as u64 >> 32 {
                            break;
                        }
                    }
                }
            });
        }
    });
    // Each GPA was added exactly once; the loser saw EPT_ENTRY_STATE_INCORRECT or PAGE_METADATA_INCORRECT.
    assert_eq!(m.td_info(Hpa(TDR)).unwrap().chldcnt, 6 + 3 + 8);
}
