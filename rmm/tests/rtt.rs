//! RMI_RTT_CREATE / RTT_DESTROY / RTT_READ_ENTRY.
//!
//! Default realm: s2sz 40, two concatenated level-1 roots (1 GiB entries),
//! PAR = [0, 2^39).

mod common;

use common::*;
use fake_platform::Tlbi;
use rmm::{GranuleState, PhysAddr};

const L2: u64 = pool(5);
const L3: u64 = pool(6);
const IPA: u64 = 0x4000_0000; // 1 GiB: root 0, entry 1.
const NS_IPA: u64 = 1 << 39;

fn setup() -> (Env, ()) {
    (Env::new(), ())
}

fn read(rmm: &rmm::Rmm<'_, fake_platform::FakePlatform>, ipa: u64, level: u64) -> [u64; 5] {
    rmi(rmm, RTT_READ_ENTRY, &[RD, ipa, level]).x
}

#[test]
fn rtt_create_failure_conditions_in_priority_order() {
    let (env, ()) = setup();
    let rmm = env.rmm();
    create_realm(&rmm);
    delegate(&rmm, L2);
    delegate(&rmm, L3);
    // L3 under an IPA whose L2 does not exist yet: rtt_walk at level 1.
    let cases: &[(&str, [u64; 4], u64)] = &[
        ("rd_align", [RD + 1, L2, IPA, 2], ERROR_INPUT),
        ("rd_bound", [RMM_BASE, L2, IPA, 2], ERROR_INPUT),
        ("rd_state", [RTT_BASE, L2, IPA, 2], ERROR_INPUT),
        ("level_bound: start level", [RD, L2, IPA, 1], ERROR_INPUT),
        ("level_bound: 4", [RD, L2, IPA, 4], ERROR_INPUT),
        ("ipa_align", [RD, L2, IPA + 0x1000, 2], ERROR_INPUT),
        ("ipa_bound", [RD, L2, 1 << 40, 2], ERROR_INPUT),
        (
            "rtt_align (beats rtt_walk)",
            [RD, L3 + 8, IPA, 3],
            ERROR_INPUT,
        ),
        ("rtt_bound", [RD, RMM_BASE, IPA, 3], ERROR_INPUT),
        // rtt_bound2 (no LPA2, PA >= 2^48): such a PA is in no DRAM bank,
        // so rtt_bound already refuses it.
        ("rtt_bound2: PA 2^48", [RD, 1 << 48, IPA, 3], ERROR_INPUT),
        (
            "rtt_state: UNDELEGATED (beats rtt_walk)",
            [RD, pool(30), IPA, 3],
            ERROR_INPUT,
        ),
        ("rtt_state: the RD", [RD, RD, IPA, 2], ERROR_INPUT),
        ("rtt_state: a root RTT", [RD, RTT_BASE, IPA, 2], ERROR_INPUT),
        ("rtt_walk: no L2 yet", [RD, L3, IPA, 3], error_rtt(1)),
    ];
    for (rule, a, want) in cases {
        let before = world(&rmm, 8);
        let r = rmi(&rmm, RTT_CREATE, a);
        assert_eq!(r.x[0], *want, "{rule}");
        assert_eq!(world(&rmm, 8), before, "{rule}: nothing changed");
    }
    assert_eq!(rmi(&rmm, RTT_CREATE, &[RD, L2, IPA, 2]).x[0], SUCCESS);
    delegate(&rmm, pool(7));
    let before = world(&rmm, 8);
    assert_eq!(
        rmi(&rmm, RTT_CREATE, &[RD, pool(7), IPA, 2]).x[0],
        error_rtt(1),
        "rtte_state"
    );
    assert_eq!(world(&rmm, 8), before);
    assert!(rmm.platform().violations().is_empty());
}

#[test]
fn rtt_create_read_entry_destroy_round_trip() {
    let (env, ()) = setup();
    let rmm = env.rmm();
    create_realm(&rmm);
    delegate(&rmm, L2);
    delegate(&rmm, L3);
    // Before: the walk stops at the root (level 1), UNASSIGNED EMPTY.
    assert_eq!(read(&rmm, IPA, 3), [SUCCESS, 1, 0, 0, 0]);
    assert_eq!(rmi(&rmm, RTT_CREATE, &[RD, L2, IPA, 2]).x[0], SUCCESS);
    assert_eq!(rmi(&rmm, RTT_CREATE, &[RD, L3, IPA, 3]).x[0], SUCCESS);
    assert_eq!(
        gstate(&rmm, RTT_BASE),
        (Some(GranuleState::Rtt), 1),
        "root: one table"
    );
    assert_eq!(gstate(&rmm, L2), (Some(GranuleState::Rtt), 1));
    assert_eq!(gstate(&rmm, L3), (Some(GranuleState::Rtt), 0));
    assert_eq!(read(&rmm, IPA, 1), [SUCCESS, 1, 2, L2, 0], "table at L1");
    assert_eq!(read(&rmm, IPA, 2), [SUCCESS, 2, 2, L3, 0], "table at L2");
    assert_eq!(read(&rmm, IPA + 0x5000, 3), [SUCCESS, 3, 0, 0, 0]);
    // READ_ENTRY argument checks.
    for (rule, a) in [
        ("rd_align", [RD + 1, IPA, 3]),
        ("rd_bound", [RMM_BASE, IPA, 3]),
        ("rd_state", [L2, IPA, 3]),
        ("level_bound: below start", [RD, IPA, 0]),
        ("level_bound: 4", [RD, IPA, 4]),
        ("ipa_align", [RD, IPA + 0x800, 3]),
        ("ipa_bound", [RD, 1 << 40, 3]),
    ] {
        assert_eq!(
            rmi(&rmm, RTT_READ_ENTRY, &a).x,
            [ERROR_INPUT, 0, 0, 0, 0],
            "{rule}"
        );
    }
    // RTT_DESTROY of the L2 while it holds the L3: rtt_live at level 2.
    let r = rmi(&rmm, RTT_DESTROY, &[RD, IPA, 2]);
    assert_eq!((r.x[0], r.x[1], r.x[2]), (error_rtt(2), 0, IPA));
    // Destroy L3, then L2: parent entries become UNASSIGNED DESTROYED.
    rmm.platform().clear_tlbi_log();
    let r = rmi(&rmm, RTT_DESTROY, &[RD, IPA, 3]);
    assert_eq!((r.x[0], r.x[1], r.x[4]), (SUCCESS, L3, 0x4444_4444));
    // top: the rest of the L2 table is non-live -> end of the 1 GiB block.
    assert_eq!(r.x[2], 2 * IPA);
    assert_eq!(
        read(&rmm, IPA, 3),
        [SUCCESS, 2, 0, 0, 2],
        "unassigned destroyed"
    );
    let r = rmi(&rmm, RTT_DESTROY, &[RD, IPA, 2]);
    assert_eq!((r.x[0], r.x[1]), (SUCCESS, L2));
    // Root 0 entries 2..511 are non-live: top = end of root 0 = PAR end.
    assert_eq!(r.x[2], 1 << 39);
    assert_eq!(
        rmm.platform().tlbi_log(),
        vec![Tlbi::Ipa(7, IPA), Tlbi::Ipa(7, IPA)],
        "table removals invalidate"
    );
    for pa in [L2, L3] {
        assert_eq!(gstate(&rmm, pa), (Some(GranuleState::Delegated), 0));
        assert!(rmm.platform().granule_is_zero(PhysAddr(pa)));
    }
    assert_eq!(gstate(&rmm, RTT_BASE), (Some(GranuleState::Rtt), 0));
    // rtt_walk / rtte_state with top.
    let r = rmi(&rmm, RTT_DESTROY, &[RD, IPA, 3]);
    assert_eq!((r.x[0], r.x[2]), (error_rtt(1), 1 << 39), "rtt_walk");
    let r = rmi(&rmm, RTT_DESTROY, &[RD, IPA, 2]);
    assert_eq!((r.x[0], r.x[2]), (error_rtt(1), 1 << 39), "rtte_state");
    // The realm can now be destroyed.
    assert_eq!(rmi(&rmm, REALM_DESTROY, &[RD]).x[0], SUCCESS);
    assert!(rmm.platform().violations().is_empty());
}

#[test]
fn unfold_of_unprotected_space_and_destroy_outside_par() {
    let (env, ()) = setup();
    let rmm = env.rmm();
    create_realm(&rmm);
    delegate(&rmm, L2);
    assert_eq!(
        read(&rmm, NS_IPA, 2),
        [SUCCESS, 1, 0, 0, 0],
        "unassigned_ns"
    );
    assert_eq!(rmi(&rmm, RTT_CREATE, &[RD, L2, NS_IPA, 2]).x[0], SUCCESS);
    // The new table inherited UNASSIGNED_NS.
    assert_eq!(rmm.platform().read_word(PhysAddr(L2), 511), 1 << 55);
    assert_eq!(
        gstate(&rmm, RTT_BASE + 0x1000),
        (Some(GranuleState::Rtt), 1)
    );
    let r = rmi(&rmm, RTT_DESTROY, &[RD, NS_IPA, 2]);
    assert_eq!((r.x[0], r.x[1]), (SUCCESS, L2));
    // Parent entry back to UNASSIGNED_NS (not DESTROYED) outside PAR.
    assert_eq!(
        rmm.platform().read_word(PhysAddr(RTT_BASE + 0x1000), 0),
        1 << 55
    );
    assert_eq!(rmi(&rmm, REALM_DESTROY, &[RD]).x[0], SUCCESS);
}

#[test]
fn realm_destroy_refused_while_root_has_a_table() {
    let (env, ()) = setup();
    let rmm = env.rmm();
    create_realm(&rmm);
    delegate(&rmm, L2);
    assert_eq!(rmi(&rmm, RTT_CREATE, &[RD, L2, IPA, 2]).x[0], SUCCESS);
    let before = world(&rmm, 8);
    assert_eq!(
        rmi(&rmm, REALM_DESTROY, &[RD]).x[0],
        error_realm(0),
        "realm_live"
    );
    assert_eq!(world(&rmm, 8), before);
}

/// RMI_RTT_DESTROY failure conditions in DEN0137 1.0-rel0 B4.3.16 order
/// (`rd_*`, `level_bound`, `ipa_align`, `ipa_bound` are ERROR_INPUT with
/// top = 0; `rtt_walk` / `rtte_state` give the walk level and top =
/// walk_top; `rtt_live` gives `level` and top = ipa). Nothing changes.
#[test]
fn rtt_destroy_failure_conditions_in_priority_order() {
    let (env, ()) = setup();
    let rmm = env.rmm();
    create_realm(&rmm);
    delegate(&rmm, L2);
    delegate(&rmm, L3);
    assert_eq!(rmi(&rmm, RTT_CREATE, &[RD, L2, IPA, 2]).x[0], SUCCESS);
    assert_eq!(rmi(&rmm, RTT_CREATE, &[RD, L3, IPA, 3]).x[0], SUCCESS);
    let cases: &[(&str, [u64; 3], [u64; 3])] = &[
        ("rd_align", [RD + 1, IPA, 3], [ERROR_INPUT, 0, 0]),
        ("rd_bound", [RMM_BASE, IPA, 3], [ERROR_INPUT, 0, 0]),
        ("rd_state: RTT", [L2, IPA, 3], [ERROR_INPUT, 0, 0]),
        (
            "rd_state: UNDELEGATED",
            [pool(40), IPA, 3],
            [ERROR_INPUT, 0, 0],
        ),
        (
            "level_bound: start level",
            [RD, IPA, 1],
            [ERROR_INPUT, 0, 0],
        ),
        ("level_bound: 4", [RD, IPA, 4], [ERROR_INPUT, 0, 0]),
        ("level_bound: -1", [RD, IPA, u64::MAX], [ERROR_INPUT, 0, 0]),
        ("ipa_align", [RD, IPA + 0x1000, 3], [ERROR_INPUT, 0, 0]),
        ("ipa_bound", [RD, 1 << 40, 2], [ERROR_INPUT, 0, 0]),
        (
            "level_bound beats rtt_walk",
            [RD, 2 * IPA, 4],
            [ERROR_INPUT, 0, 0],
        ),
        (
            "rtt_walk: no L2 there",
            [RD, 2 * IPA, 3],
            [error_rtt(1), 0, 1 << 39],
        ),
        (
            "rtte_state: L3 entry is not a table",
            [RD, IPA + 0x20_0000, 3],
            [error_rtt(2), 0, 2 * IPA],
        ),
        (
            "rtt_live: the L2 holds the L3",
            [RD, IPA, 2],
            [error_rtt(2), 0, IPA],
        ),
    ];
    for (rule, a, want) in cases {
        let before = world(&rmm, 8);
        let r = rmi(&rmm, RTT_DESTROY, a);
        assert_eq!([r.x[0], r.x[1], r.x[2]], *want, "{rule}");
        assert_eq!(r.x[4], 0x4444_4444, "{rule}: x4 preserved");
        assert!(world(&rmm, 8) == before, "{rule}: nothing changed");
        assert!(rmm.platform().tlbi_log().is_empty(), "{rule}: no TLBI");
    }
    assert!(rmm.platform().violations().is_empty());
}
