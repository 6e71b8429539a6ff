//! TDH.MEM.PAGE.AUG, RANGE.BLOCK/UNBLOCK, TRACK, PAGE.REMOVE, SEPT.REMOVE:
//! failure tables in the 1.5 module's check order, each leaving the PAMT,
//! the Secure EPT and the pages unchanged, and busy locks.
mod common;
use common::mem_mgmt::*;
use common::*;

use tdx_module_shim::*;

#[test]
fn aug_table() {
    use OperandId::*;
    run(
        six_cx,
        &[(
            "UNINITIALIZED",
            AUG,
            0x2000,
            TDR,
            AUG0,
            0,
            c(Code::OpStateIncorrect),
        )],
    );
    run(
        runnable,
        &[
            ("tdr not a TDR", AUG, 0x2000, TDCX0, AUG0, 0, st(META, Rdx)),
            ("tdr first", AUG, 0x2000 | 8, TDCX0, 1, 0, st(META, Rdx)),
            ("level 2 (1 GiB)", AUG, 2, TDR, AUG0, 0, st(INV, Rcx)),
            ("reserved bits", AUG, 0x2000 | 8, TDR, AUG0, 0, st(INV, Rcx)),
            (
                "GPA bit 52",
                AUG,
                0x2000 | 1 << 52,
                TDR,
                AUG0,
                0,
                st(INV, Rcx),
            ),
            (
                "shared GPA",
                AUG,
                1 << 47 | 0x2000,
                TDR,
                AUG0,
                0,
                st(INV, Rcx),
            ),
            ("rcx before r8", AUG, 0x2000 | 8, TDR, 1, 0, st(INV, Rcx)),
            (
                "walk failed",
                AUG,
                GB1,
                TDR,
                AUG0,
                0,
                st(Code::EptWalkFailed, Rcx),
            ),
            ("entry MAPPED", AUG, 0x1000, TDR, AUG0, 0, st(STATE, Rcx)),
            ("entry before r8", AUG, 0x1000, TDR, 1, 0, st(STATE, Rcx)),
            (
                "page misaligned",
                AUG,
                0x2000,
                TDR,
                AUG0 + 8,
                0,
                st(INV, R8),
            ),
            (
                "page HKID bits",
                AUG,
                0x2000,
                TDR,
                AUG0 | 1 << 40,
                0,
                st(INV, R8),
            ),
            (
                "page outside TDMR",
                AUG,
                0x2000,
                TDR,
                GIB,
                0,
                st(Code::OperandAddrRangeError, R8),
            ),
            ("page not PT_NDA", AUG, 0x2000, TDR, TDCX0, 0, st(META, R8)),
        ],
    );
}

#[test]
fn block_unblock_track_tables() {
    use OperandId::*;
    let uninit = c(Code::OpStateIncorrect);
    run(
        six_cx,
        &[
            ("BLOCK uninitialized", BLOCK, 0x1000, TDR, 0, 0, uninit),
            ("UNBLOCK uninitialized", UNBLOCK, 0x1000, TDR, 0, 0, uninit),
            ("TRACK uninitialized", TRACK, TDR, 0, 0, 0, uninit),
        ],
    );
    run(
        runnable,
        &[
            ("BLOCK tdr", BLOCK, 0x1000, SEPT0, 0, 0, st(META, Rdx)),
            ("BLOCK level 4", BLOCK, 4, TDR, 0, 0, st(INV, Rcx)),
            (
                "BLOCK reserved",
                BLOCK,
                0x1000 | 0x10,
                TDR,
                0,
                0,
                st(INV, Rcx),
            ),
            (
                "BLOCK shared",
                BLOCK,
                1 << 47 | 0x1000,
                TDR,
                0,
                0,
                st(INV, Rcx),
            ),
            (
                "BLOCK walk",
                BLOCK,
                GB1,
                TDR,
                0,
                0,
                st(Code::EptWalkFailed, Rcx),
            ),
            ("BLOCK FREE", BLOCK, 0x3000, TDR, 0, 0, st(STATE, Rcx)),
            ("UNBLOCK tdr", UNBLOCK, 0x1000, DATA0, 0, 0, st(META, Rdx)),
            ("UNBLOCK level 4", UNBLOCK, 4, TDR, 0, 0, st(INV, Rcx)),
            ("UNBLOCK MAPPED", UNBLOCK, 0x1000, TDR, 0, 0, st(STATE, Rcx)),
            ("UNBLOCK NL_MAPPED", UNBLOCK, 1, TDR, 0, 0, st(STATE, Rcx)),
            ("UNBLOCK FREE", UNBLOCK, 0x3000, TDR, 0, 0, st(STATE, Rcx)),
            ("TRACK tdr", TRACK, TDCX0, 0, 0, 0, st(META, Rcx)),
            ("TRACK misaligned", TRACK, TDR + 8, 0, 0, 0, st(INV, Rcx)),
        ],
    );
    // Walk-failure details: RCX = the FREE entry, RDX = its level (2).
    let m = runnable();
    let (_, r) = call_on(&m, LP0, BLOCK, GB1, TDR, 0, 0);
    assert_eq!((r.rcx, r.rdx), (0, 2));
}

#[test]
fn remove_tables() {
    use OperandId::*;
    let not_blocked = st(Code::GpaRangeNotBlocked, Rcx);
    run(
        runnable,
        &[
            ("PAGE tdr", PAGE_REMOVE, 0x1000, TDVPR, 0, 0, st(META, Rdx)),
            ("PAGE level 3", PAGE_REMOVE, 3, TDR, 0, 0, st(INV, Rcx)),
            (
                "PAGE reserved",
                PAGE_REMOVE,
                0x1000 | 1 << 63,
                TDR,
                0,
                0,
                st(INV, Rcx),
            ),
            (
                "PAGE walk",
                PAGE_REMOVE,
                GB1,
                TDR,
                0,
                0,
                st(Code::EptWalkFailed, Rcx),
            ),
            ("PAGE non-leaf", PAGE_REMOVE, 1, TDR, 0, 0, st(STATE, Rcx)),
            ("PAGE FREE", PAGE_REMOVE, 0x3000, TDR, 0, 0, st(STATE, Rcx)),
            (
                "PAGE not blocked",
                PAGE_REMOVE,
                0x1000,
                TDR,
                0,
                0,
                not_blocked,
            ),
            ("SEPT tdr", SEPT_REMOVE, 1, TDCX0, 0, 0, st(META, Rdx)),
            ("SEPT level 0", SEPT_REMOVE, 0x1000, TDR, 0, 0, st(INV, Rcx)),
            ("SEPT level 4", SEPT_REMOVE, 4, TDR, 0, 0, st(INV, Rcx)),
            (
                "SEPT FREE",
                SEPT_REMOVE,
                1 | 0x20_0000,
                TDR,
                0,
                0,
                st(STATE, Rcx),
            ),
            ("SEPT not blocked", SEPT_REMOVE, 1, TDR, 0, 0, not_blocked),
        ],
    );
    run(
        blocked_tracked,
        &[(
            "SEPT parent not blocked",
            SEPT_REMOVE,
            1,
            TDR,
            0,
            0,
            not_blocked,
        )],
    );
    run(
        augmented,
        &[(
            "PAGE PENDING unblocked",
            PAGE_REMOVE,
            0x2000,
            TDR,
            0,
            0,
            not_blocked,
        )],
    );
}

#[test]
fn busy_locks_change_nothing() {
    use OperandId::*;
    type Busy = (&'static str, fn() -> M, u64, u64, u64, u64, u64, u64);
    let cases: [Busy; 5] = [
        (
            "AUG tdr",
            runnable,
            TDR,
            AUG,
            0x2000,
            TDR,
            AUG0,
            st(BUSY, Rdx),
        ),
        (
            "AUG page",
            runnable,
            AUG0,
            AUG,
            0x2000,
            TDR,
            AUG0,
            st(BUSY, R8),
        ),
        (
            "BLOCK tdr",
            runnable,
            TDR,
            BLOCK,
            0x1000,
            TDR,
            0,
            st(BUSY, Rdx),
        ),
        ("TRACK tdr", runnable, TDR, TRACK, TDR, 0, 0, st(BUSY, Rcx)),
        (
            "REMOVE page",
            blocked_tracked,
            DATA0,
            PAGE_REMOVE,
            0x1000,
            TDR,
            0,
            st(BUSY, Rcx),
        ),
    ];
    for (name, setup, held, leaf, rcx, rdx, r8, want) in cases {
        let m = setup();
        let e = hold_pamt(&m, held);
        let before = (page_words(&m, PT), m.platform().isolated_count());
        assert_eq!(call(&m, leaf, rcx, rdx, r8, 0), want, "{name}");
        assert_eq!(
            (page_words(&m, PT), m.platform().isolated_count()),
            before,
            "{name}"
        );
        unhold_pamt(&m, e);
        assert_eq!(state(&m), state(&m), "{name}: locks released");
        assert_eq!(rdmd(&m, AUG0).0, 0, "{name}: AUG0 still free");
    }
}
