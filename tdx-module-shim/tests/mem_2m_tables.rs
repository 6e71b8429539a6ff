//! 2 MiB private pages: failure tables in the 1.5 module's check order
//! (PAGE.AUG at level 1, TDG.MEM.PAGE.ACCEPT's `check_tdaccept_failure`
//! cases, BLOCK / UNBLOCK / PAGE.REMOVE / SEPT leaves on a 2 MiB leaf,
//! RDMD), each leaving the SEPT, the PAMT (PAMT_2M entries, sizes,
//! BEPOCHs, lock words), isolation and CHLDCNT unchanged.
mod common;
use common::mem_2m::*;
use common::mem_mgmt::*;
use common::*;

use tdx_module_shim::enter::gpr;
use tdx_module_shim::tdg::Tdcall;
use tdx_module_shim::*;

#[test]
fn aug_2m_table() {
    use OperandId::*;
    let range = st(Code::OperandAddrRangeError, R8);
    run2m(
        runnable,
        &[
            (
                "GPA not 2M-aligned",
                AUG,
                l1(G2M + 0x1000),
                TDR,
                BIG,
                0,
                st(INV, Rcx),
            ),
            (
                "shared GPA",
                AUG,
                l1(1 << 47 | G2M),
                TDR,
                BIG,
                0,
                st(INV, Rcx),
            ),
            ("walk failed", AUG, l1(GB1), TDR, BIG, 0, st(WALK, Rcx)),
            (
                "entry is a 4K table",
                AUG,
                l1(0),
                TDR,
                BIG,
                0,
                st(STATE, Rcx),
            ),
            ("entry before r8", AUG, l1(0), TDR, 1, 0, st(STATE, Rcx)),
            (
                "page not 2M-aligned",
                AUG,
                l1(G2M),
                TDR,
                BIG + 0x1000,
                0,
                st(INV, R8),
            ),
            (
                "page HKID bits",
                AUG,
                l1(G2M),
                TDR,
                BIG | 1 << 40,
                0,
                st(INV, R8),
            ),
            ("page outside TDMR", AUG, l1(G2M), TDR, GIB, 0, range),
            (
                "page reserved",
                AUG,
                l1(G2M),
                TDR,
                RSVD_OFF,
                0,
                st(META, R8),
            ),
            // The TDR's walk holds this PAMT_2M entry shared, so it
            // cannot be promoted (the module's `promote_sharex_lock_hp`).
            (
                "range holds the TDR",
                AUG,
                l1(G2M),
                TDR,
                TDR,
                0,
                st(BUSY, R8),
            ),
        ],
    );
    run2m(
        || {
            let m = runnable();
            assert_eq!(call(&m, AUG, 0x3000, TDR, BIG2 + 0x7000, 0), 0);
            m
        },
        &[("4K page in use", AUG, l1(G2M), TDR, BIG2, 0, st(META, R8))],
    );
    run2m(
        aug2m,
        &[
            (
                "entry PENDING 2M",
                AUG,
                l1(G2M),
                TDR,
                BIG2,
                0,
                st(STATE, Rcx),
            ),
            (
                "page is a 2M page",
                AUG,
                l1(G2M_B),
                TDR,
                BIG,
                0,
                st(META, R8),
            ),
            (
                "4K inside 2M leaf",
                AUG,
                G2M + 0x3000,
                TDR,
                AUG0,
                0,
                st(WALK, Rcx),
            ),
        ],
    );
    // Details in RCX / RDX: the entry and level | state << 8.
    let details = [
        (runnable as fn() -> M, l1(GB1), (0, 2)),
        (runnable, l1(0), (PT | 7 | 1 << 52, 1 | 1 << 8)),
        (aug2m, G2M + 0x3000, (BIG | 3 << 52, 1 | S_PENDING << 8)),
        (aug2m, l1(G2M), (BIG | 3 << 52, 1 | S_PENDING << 8)),
    ];
    for (setup, rcx, want) in details {
        let (_, r) = call_on(&setup(), LP0, AUG, rcx, TDR, BIG2, 0);
        assert_eq!((r.rcx, r.rdx), want, "{rcx:#x}");
    }
    // The new page's PAMT_2M lock is held by another LP.
    let m = runnable();
    hold_pamt_2m(&m, BIG);
    let before = state2m(&m);
    assert_eq!(call(&m, AUG, l1(G2M), TDR, BIG, 0), st(BUSY, R8));
    assert_eq!(state2m(&m), before);
}

/// What an ACCEPT answers: a status in RAX, or an EPT-violation exit.
#[derive(Clone, Copy)]
enum Want {
    Rax(u64),
    Exit(u64),
}

/// Name, setup, RCX of the ACCEPT, outcome.
type AcceptCase = (&'static str, fn() -> M, u64, Want);

#[test]
fn accept_2m_table() {
    use Want::*;
    let rcx = OperandId::Rcx;
    let nl_blocked = || {
        let m = runnable();
        assert_eq!(call(&m, BLOCK, l1(0), TDR, 0, 0), 0);
        m
    };
    let size = Rax(with_level(Code::PageSizeMismatch, 1));
    let accepted = Rax(with_level(Code::PageAlreadyAccepted, 1));
    let cases: [AcceptCase; 14] = [
        (
            "2M GPA misaligned",
            aug2m,
            l1(G2M + 0x1000),
            Rax(st(INV, rcx)),
        ),
        ("2M shared GPA", aug2m, l1(1 << 47 | G2M), Rax(st(INV, rcx))),
        (
            "2M over FREE",
            aug2m,
            l1(G2M_B),
            Exit(accept_eeq(1, 1, 0, false)),
        ),
        (
            "2M, walk stops",
            aug2m,
            l1(GB1),
            Exit(accept_eeq(1, 2, 0, false)),
        ),
        ("2M over a 4K table", runnable, l1(0), size),
        ("2M over NL_BLOCKED", nl_blocked, l1(0), size),
        (
            "4K in PENDING 2M",
            aug2m,
            G2M + 0x5000,
            Exit(accept_eeq(0, 1, S_PENDING, true)),
        ),
        ("4K in MAPPED 2M", accepted2m, G2M + 0x5000, accepted),
        ("2M MAPPED", accepted2m, l1(G2M), accepted),
        (
            "2M BLOCKED",
            blocked2m,
            l1(G2M),
            Exit(accept_eeq(1, 1, S_BLOCKED, true)),
        ),
        (
            "4K in BLOCKED 2M",
            blocked2m,
            G2M + 0x5000,
            Exit(accept_eeq(0, 1, S_BLOCKED, true)),
        ),
        (
            "2M PENDING_BLOCKED",
            pending_blocked2m,
            l1(G2M),
            Exit(accept_eeq(1, 1, S_PENDING_BLOCKED, true)),
        ),
        (
            "4K in PENDING_BLOCKED 2M",
            pending_blocked2m,
            G2M,
            Exit(accept_eeq(0, 1, S_PENDING_BLOCKED, true)),
        ),
        ("2M level 2", aug2m, 2, Rax(st(INV, rcx))),
    ];
    for (name, setup, rcx, want) in cases {
        let m = setup();
        enter_vcpu(&m);
        let before = state2m(&m);
        let (out, g) = tdcall_full(&m, ACCEPT, rcx);
        match want {
            Rax(s) => assert_eq!((out, g.gprs[gpr::RAX]), (Tdcall::Resume, s), "{name}"),
            Exit(eeq) => {
                assert_eq!(out, violation(rcx, eeq), "{name}");
                assert_eq!(g.gprs[gpr::RAX], ACCEPT, "{name}: the TDCALL reruns");
            }
        }
        assert_eq!(state2m(&m), before, "{name}: state changed");
    }
}

fn blocked_tracked2m() -> M {
    let m = blocked2m();
    assert_eq!(call(&m, TRACK, TDR, 0, 0, 0), 0);
    m
}

#[test]
fn sept_leaves_on_a_2m_leaf_table() {
    use OperandId::*;
    let not_blocked = st(Code::GpaRangeNotBlocked, Rcx);
    let untracked = st(Code::TlbTrackingNotDone, Rcx);
    run2m(
        accepted2m,
        &[
            (
                "REMOVE 4K inside",
                PAGE_REMOVE,
                G2M + 0x5000,
                TDR,
                0,
                0,
                st(WALK, Rcx),
            ),
            (
                "REMOVE 2M not blocked",
                PAGE_REMOVE,
                l1(G2M),
                TDR,
                0,
                0,
                not_blocked,
            ),
            (
                "BLOCK 4K inside",
                BLOCK,
                G2M + 0x5000,
                TDR,
                0,
                0,
                st(WALK, Rcx),
            ),
            (
                "UNBLOCK 2M MAPPED",
                UNBLOCK,
                l1(G2M),
                TDR,
                0,
                0,
                st(STATE, Rcx),
            ),
            ("UNBLOCK 4K inside", UNBLOCK, G2M, TDR, 0, 0, st(WALK, Rcx)),
            (
                "SEPT.REMOVE 2M leaf",
                SEPT_REMOVE,
                l1(G2M),
                TDR,
                0,
                0,
                st(STATE, Rcx),
            ),
            (
                "SEPT.ADD over 2M leaf",
                SEPT_ADD,
                l1(G2M),
                TDR,
                BIG2,
                0,
                st(STATE, Rcx),
            ),
        ],
    );
    run2m(
        blocked2m,
        &[
            (
                "BLOCK 2M again",
                BLOCK,
                l1(G2M),
                TDR,
                0,
                0,
                st(BLOCKED_ALREADY, Rcx),
            ),
            (
                "UNBLOCK 2M untracked",
                UNBLOCK,
                l1(G2M),
                TDR,
                0,
                0,
                untracked,
            ),
            (
                "REMOVE 2M untracked",
                PAGE_REMOVE,
                l1(G2M),
                TDR,
                0,
                0,
                untracked,
            ),
        ],
    );
    run2m(
        initialized2m,
        &[(
            "PAGE.ADD inside PENDING 2M",
            PAGE_ADD,
            G2M + 0x3000,
            TDR,
            AUG0,
            SRC0,
            st(WALK, Rcx),
        )],
    );
    // Details: the walk stops at the 2 MiB leaf; NOT_BLOCKED names it.
    let m = accepted2m();
    let (_, r) = call_on(&m, LP0, PAGE_REMOVE, G2M + 0x5000, TDR, 0, 0);
    assert_eq!((r.rcx, r.rdx), (BIG | 7 | 2 << 52, 1 | S_MAPPED << 8));
    let (_, r) = call_on(&m, LP0, PAGE_REMOVE, l1(G2M), TDR, 0, 0);
    assert_eq!((r.rcx, r.rdx), (BIG | 7 | 2 << 52, 1 | S_MAPPED << 8));
    // The 2 MiB page's PAMT_2M lock is held: BUSY + RCX after the walk.
    let m = blocked_tracked2m();
    let e = hold_pamt_2m(&m, BIG);
    let before = state2m(&m);
    assert_eq!(call(&m, PAGE_REMOVE, l1(G2M), TDR, 0, 0), st(BUSY, Rcx));
    assert_eq!(state2m(&m), before);
    unhold_pamt(&m, e);
    assert_eq!(
        call(&m, PAGE_REMOVE, l1(G2M), TDR, 0, 0),
        0,
        "after release"
    );
}

#[test]
fn rdmd_of_a_2m_page() {
    let m = accepted2m();
    // Any 4 KiB page inside: the PAMT_2M entry, size 1, its BEPOCH.
    assert_eq!(call(&m, BLOCK, l1(G2M), TDR, 0, 0), 0);
    assert_eq!(rdmd_full(&m, BIG + 0x1F_F000), (0, 3, TDR, 1, 1));
    // A page outside any 2 MiB page: its PAMT_4K entry, size 0; no
    // BEPOCH for a TDR page.
    assert_eq!(rdmd_full(&m, TDR), (0, 4, 0, 0, 0));
    // PAMT_2M held exclusively: the shared walk fails, outputs stay 0.
    let e = hold_pamt_2m(&m, BIG);
    let busy = st(BUSY, OperandId::Rcx);
    assert_eq!(rdmd_full(&m, BIG + 0x3000), (busy, 0, 0, 0, 0));
    unhold_pamt(&m, e);
    let e = hold_pamt_2m(&m, TDR);
    assert_eq!(rdmd_full(&m, TDR), (busy, 0, 0, 0, 0), "4 KiB below it");
    unhold_pamt(&m, e);
}
