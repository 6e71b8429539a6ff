//! RMI_RTT_FOLD, RMI_RTT_MAP_UNPROTECTED, RMI_RTT_UNMAP_UNPROTECTED, and
//! fold/unfold round trips.
//!
//! Default realm: s2sz 40, level-1 roots, PAR = [0, 2^39). Protected
//! tables at IPA = 1 GiB, unprotected ones at NS_IPA = 2^39.

mod common;

use common::*;
use fake_platform::{FakePlatform, Tlbi};
use rmm::{GranuleState, PhysAddr, Rmm};

const L2: u64 = pool(5);
const L3: u64 = pool(6);
const NS_L2: u64 = pool(7);
const NS_L3: u64 = pool(8);
const IPA: u64 = 0x4000_0000;
const NS_IPA: u64 = 1 << 39;
const L2_SIZE: u64 = 0x20_0000;
/// 2 MiB-aligned run of 512 granules for block folds.
const BLOCK_PA: u64 = 0x8200_0000;
/// Host NS memory mapped into the unprotected IPA space.
const NS_PA: u64 = 0x8800_0000;
/// MemAttr 0b0101 (Normal non-cacheable with FWB), S2AP RW.
const NS_ATTRS: u64 = (0b0101 << 2) | (0b11 << 6);

type Snapshot = (Vec<(Option<GranuleState>, u16, Vec<u8>)>, Vec<Tlbi>);

fn snapshot(rmm: &Rmm<'_, FakePlatform>) -> Snapshot {
    (world(rmm, 12), rmm.platform().tlbi_log())
}

fn setup(rmm: &Rmm<'_, FakePlatform>) {
    create_realm(rmm);
    for pa in [L2, L3, NS_L2, NS_L3] {
        delegate(rmm, pa);
    }
    for (t, ipa, level) in [
        (L2, IPA, 2),
        (L3, IPA, 3),
        (NS_L2, NS_IPA, 2),
        (NS_L3, NS_IPA, 3),
    ] {
        assert_eq!(rmi(rmm, RTT_CREATE, &[RD, t, ipa, level]).x[0], SUCCESS);
    }
}

fn read(rmm: &Rmm<'_, FakePlatform>, ipa: u64, level: u64) -> [u64; 5] {
    rmi(rmm, RTT_READ_ENTRY, &[RD, ipa, level]).x
}

#[test]
fn map_unprotected_failure_conditions_and_effect() {
    let env = Env::new();
    let rmm = env.rmm();
    setup(&rmm);
    let desc = NS_PA | NS_ATTRS;
    let cases: &[(&str, [u64; 4], u64)] = &[
        (
            "attr_valid: descriptor type bits",
            [RD, NS_IPA, 3, desc | 0b11],
            ERROR_INPUT,
        ),
        (
            "attr_valid: NS bit",
            [RD, NS_IPA, 3, desc | 1 << 55],
            ERROR_INPUT,
        ),
        (
            "addr_bound: OA >= 2^48 (no LPA2: also attr_valid)",
            [RD, NS_IPA, 3, desc | 1 << 48],
            ERROR_INPUT,
        ),
        (
            "attr_valid: reserved MemAttr",
            [RD, NS_IPA, 3, NS_PA | 0b0100 << 2],
            ERROR_INPUT,
        ),
        ("rd_align", [RD + 1, NS_IPA, 3, desc], ERROR_INPUT),
        ("rd_bound", [RMM_BASE, NS_IPA, 3, desc], ERROR_INPUT),
        ("rd_state", [L3, NS_IPA, 3, desc], ERROR_INPUT),
        ("level_bound: 0", [RD, NS_IPA, 0, desc], ERROR_INPUT),
        ("level_bound: 4", [RD, NS_IPA, 4, desc], ERROR_INPUT),
        (
            "addr_align: OA not 2 MiB-aligned",
            [RD, NS_IPA, 2, NS_PA + 0x1000],
            ERROR_INPUT,
        ),
        ("ipa_align", [RD, NS_IPA + 0x800, 3, desc], ERROR_INPUT),
        ("ipa_bound: protected", [RD, IPA, 3, desc], ERROR_INPUT),
        (
            "ipa_bound: beyond s2sz",
            [RD, 1 << 40, 3, desc],
            ERROR_INPUT,
        ),
        (
            "ipa_bound beats rtt_walk",
            [RD, IPA + L2_SIZE, 3, desc],
            ERROR_INPUT,
        ),
        ("rtt_walk", [RD, NS_IPA + L2_SIZE, 3, desc], error_rtt(2)),
    ];
    for (rule, a, want) in cases {
        let before = snapshot(&rmm);
        let r = rmi(&rmm, RTT_MAP_UNPROTECTED, a);
        assert_eq!(r.x[0], *want, "{rule}");
        assert_eq!(snapshot(&rmm), before, "{rule}: nothing changed");
    }
    assert_eq!(
        rmi(&rmm, RTT_MAP_UNPROTECTED, &[RD, NS_IPA, 3, desc]).x[0],
        SUCCESS
    );
    assert_eq!(
        read(&rmm, NS_IPA, 3),
        [SUCCESS, 3, 1, desc, 0],
        "ASSIGNED_NS"
    );
    // RMM-forced bits: AF, NS (55), XN 0b10, page descriptor.
    let raw = rmm.platform().read_word(PhysAddr(NS_L3), 0);
    assert_eq!(raw, desc | 1 << 10 | 1 << 55 | 0b10 << 53 | 0b11);
    assert_eq!(gstate(&rmm, NS_L3), (Some(GranuleState::Rtt), 1));
    assert!(rmm.platform().tlbi_log().is_empty());
    let before = snapshot(&rmm);
    assert_eq!(
        rmi(&rmm, RTT_MAP_UNPROTECTED, &[RD, NS_IPA, 3, desc]).x[0],
        error_rtt(3),
        "rtte_state: already ASSIGNED_NS"
    );
    assert_eq!(snapshot(&rmm), before);
    // A 1 GiB block at the root level (level 1 is the start level here).
    assert_eq!(
        rmi(
            &rmm,
            RTT_MAP_UNPROTECTED,
            &[RD, NS_IPA + IPA, 1, 0x4000_0000 | NS_ATTRS]
        )
        .x[0],
        SUCCESS
    );
    assert_eq!(read(&rmm, NS_IPA + IPA, 1)[..3], [SUCCESS, 1, 1]);
    assert!(rmm.platform().violations().is_empty());
}

#[test]
fn unmap_unprotected_failure_conditions_and_effect() {
    let env = Env::new();
    let rmm = env.rmm();
    setup(&rmm);
    let desc = NS_PA | NS_ATTRS;
    assert_eq!(
        rmi(&rmm, RTT_MAP_UNPROTECTED, &[RD, NS_IPA, 3, desc]).x[0],
        SUCCESS
    );
    let cases: &[(&str, [u64; 3], [u64; 2])] = &[
        ("rd_align", [RD + 1, NS_IPA, 3], [ERROR_INPUT, 0]),
        ("rd_bound", [RMM_BASE, NS_IPA, 3], [ERROR_INPUT, 0]),
        ("rd_state", [L2, NS_IPA, 3], [ERROR_INPUT, 0]),
        ("level_bound", [RD, NS_IPA, 4], [ERROR_INPUT, 0]),
        ("ipa_align", [RD, NS_IPA + 0x10, 3], [ERROR_INPUT, 0]),
        ("ipa_bound: protected", [RD, IPA, 3], [ERROR_INPUT, 0]),
        (
            "rtt_walk: top = end of the L2's non-live run",
            [RD, NS_IPA + L2_SIZE, 3],
            [error_rtt(2), NS_IPA + IPA],
        ),
        (
            "rtte_state: top = end of the L3",
            [RD, NS_IPA + 0x1000, 3],
            [error_rtt(3), NS_IPA + L2_SIZE],
        ),
        (
            "rtte_state: entry live -> top = ipa",
            [RD, NS_IPA, 2],
            [error_rtt(2), NS_IPA],
        ),
    ];
    for (rule, a, want) in cases {
        let before = snapshot(&rmm);
        let r = rmi(&rmm, RTT_UNMAP_UNPROTECTED, a);
        assert_eq!([r.x[0], r.x[1]], *want, "{rule}");
        assert_eq!(r.x[4], 0x4444_4444, "{rule}: x4 preserved");
        assert_eq!(snapshot(&rmm), before, "{rule}: nothing changed");
    }
    let r = rmi(&rmm, RTT_UNMAP_UNPROTECTED, &[RD, NS_IPA, 3]);
    assert_eq!([r.x[0], r.x[1]], [SUCCESS, NS_IPA + L2_SIZE]);
    assert_eq!(read(&rmm, NS_IPA, 3), [SUCCESS, 3, 0, 0, 0]);
    assert_eq!(rmm.platform().read_word(PhysAddr(NS_L3), 0), 1 << 55);
    assert_eq!(rmm.platform().tlbi_log(), vec![Tlbi::Ipa(7, NS_IPA)]);
    assert_eq!(gstate(&rmm, NS_L3), (Some(GranuleState::Rtt), 0));
    assert!(rmm.platform().violations().is_empty());
}

#[test]
fn fold_failure_conditions_in_priority_order() {
    let env = Env::new();
    let rmm = env.rmm();
    setup(&rmm);
    // L3: entry 0 RIPAS RAM, the rest EMPTY -> not homogeneous.
    assert_eq!(
        rmi(&rmm, RTT_INIT_RIPAS, &[RD, IPA, IPA + 0x1000]).x[0],
        SUCCESS
    );
    let cases: &[(&str, [u64; 3], u64)] = &[
        ("rd_align", [RD + 1, IPA, 3], ERROR_INPUT),
        ("rd_bound", [RMM_BASE, IPA, 3], ERROR_INPUT),
        ("rd_state", [L3, IPA, 3], ERROR_INPUT),
        ("level_bound: start level", [RD, IPA, 1], ERROR_INPUT),
        ("level_bound: 4", [RD, IPA, 4], ERROR_INPUT),
        ("ipa_align", [RD, IPA + 0x1000, 3], ERROR_INPUT),
        ("ipa_bound", [RD, 1 << 40, 3], ERROR_INPUT),
        ("level_bound beats rtt_walk", [RD, 2 * IPA, 4], ERROR_INPUT),
        ("rtt_walk", [RD, 2 * IPA, 3], error_rtt(1)),
        (
            "rtte_state: unassigned",
            [RD, IPA + L2_SIZE, 3],
            error_rtt(2),
        ),
        ("rtt_homogeneous: mixed RIPAS", [RD, IPA, 3], error_rtt(3)),
        ("rtt_homogeneous: holds a table", [RD, IPA, 2], error_rtt(2)),
    ];
    for (rule, a, want) in cases {
        let before = snapshot(&rmm);
        let r = rmi(&rmm, RTT_FOLD, a);
        assert_eq!([r.x[0], r.x[1]], [*want, 0], "{rule}");
        assert_eq!(snapshot(&rmm), before, "{rule}: nothing changed");
    }
    // One DATA in an otherwise unassigned L3: not homogeneous.
    delegate(&rmm, pool(9));
    assert_eq!(
        rmi(&rmm, DATA_CREATE_UNKNOWN, &[RD, pool(9), IPA + 0x1000]).x[0],
        SUCCESS
    );
    assert_eq!(rmi(&rmm, RTT_FOLD, &[RD, IPA, 3]).x[0], error_rtt(3));
    assert!(rmm.platform().violations().is_empty());
}

#[test]
fn fold_unfold_round_trips() {
    let env = Env::new();
    let rmm = env.rmm();
    setup(&rmm);
    let f = rmm.platform();

    // 1. Unassigned RAM: fold to one L2 entry, unfold back.
    let r = rmi(&rmm, RTT_INIT_RIPAS, &[RD, IPA, IPA + L2_SIZE]);
    assert_eq!((r.x[0], r.x[1]), (SUCCESS, IPA + L2_SIZE));
    f.clear_tlbi_log();
    let r = rmi(&rmm, RTT_FOLD, &[RD, IPA, 3]);
    assert_eq!((r.x[0], r.x[1], r.x[4]), (SUCCESS, L3, 0x4444_4444));
    assert_eq!(gstate(&rmm, L3), (Some(GranuleState::Delegated), 0));
    assert!(f.granule_is_zero(PhysAddr(L3)));
    assert_eq!(
        gstate(&rmm, L2),
        (Some(GranuleState::Rtt), 0),
        "no table left"
    );
    assert_eq!(read(&rmm, IPA + 0x5000, 3), [SUCCESS, 2, 0, 0, 1]);
    assert_eq!(f.tlbi_log(), vec![Tlbi::Ipa(7, IPA)]);
    assert_eq!(rmi(&rmm, RTT_CREATE, &[RD, L3, IPA, 3]).x[0], SUCCESS);
    assert_eq!(
        read(&rmm, IPA + 0x5000, 3),
        [SUCCESS, 3, 0, 0, 1],
        "unfolded"
    );
    assert_eq!(gstate(&rmm, L3), (Some(GranuleState::Rtt), 0));

    // 2. 512 ASSIGNED RAM pages over a 2 MiB-aligned run -> an L2 block.
    for i in 0..512 {
        let pa = BLOCK_PA + i * 0x1000;
        delegate(&rmm, pa);
        let r = rmi(&rmm, DATA_CREATE_UNKNOWN, &[RD, pa, IPA + i * 0x1000]);
        assert_eq!(r.x[0], SUCCESS);
    }
    assert_eq!(gstate(&rmm, L3), (Some(GranuleState::Rtt), 512));
    f.clear_tlbi_log();
    let r = rmi(&rmm, RTT_FOLD, &[RD, IPA, 3]);
    assert_eq!((r.x[0], r.x[1]), (SUCCESS, L3));
    assert_eq!(
        read(&rmm, IPA, 3),
        [SUCCESS, 2, 1, BLOCK_PA, 1],
        "RAM block"
    );
    assert_eq!(
        gstate(&rmm, L2),
        (Some(GranuleState::Rtt), 1),
        "block is live"
    );
    assert_eq!(gstate(&rmm, L3), (Some(GranuleState::Delegated), 0));
    assert_eq!(
        f.tlbi_log(),
        vec![Tlbi::Vmid(7)],
        "valid pages may be cached"
    );
    // DATA_DESTROY cannot reach a block: the walk stops at level 2.
    assert_eq!(rmi(&rmm, DATA_DESTROY, &[RD, IPA]).x[0], error_rtt(2));
    // Unfold: 512 pages with consecutive OAs, refcount 512.
    assert_eq!(rmi(&rmm, RTT_CREATE, &[RD, L3, IPA, 3]).x[0], SUCCESS);
    assert_eq!(
        read(&rmm, IPA + 0x3000, 3),
        [SUCCESS, 3, 1, BLOCK_PA + 0x3000, 1]
    );
    assert_eq!(gstate(&rmm, L3), (Some(GranuleState::Rtt), 512));
    for i in 0..512 {
        let r = rmi(&rmm, DATA_DESTROY, &[RD, IPA + i * 0x1000]);
        assert_eq!((r.x[0], r.x[1]), (SUCCESS, BLOCK_PA + i * 0x1000));
    }
    assert_eq!(gstate(&rmm, L3), (Some(GranuleState::Rtt), 0));
    // Now all UNASSIGNED DESTROYED: folds to one DESTROYED entry.
    assert_eq!(rmi(&rmm, RTT_FOLD, &[RD, IPA, 3]).x[0], SUCCESS);
    assert_eq!(read(&rmm, IPA, 3), [SUCCESS, 2, 0, 0, 2]);

    // 3. 512 ASSIGNED_NS pages -> an unprotected L2 block, then unmap.
    for i in 0..512 {
        let desc = (NS_PA + i * 0x1000) | NS_ATTRS;
        let r = rmi(
            &rmm,
            RTT_MAP_UNPROTECTED,
            &[RD, NS_IPA + i * 0x1000, 3, desc],
        );
        assert_eq!(r.x[0], SUCCESS);
    }
    let r = rmi(&rmm, RTT_FOLD, &[RD, NS_IPA, 3]);
    assert_eq!((r.x[0], r.x[1]), (SUCCESS, NS_L3));
    assert_eq!(read(&rmm, NS_IPA, 3), [SUCCESS, 2, 1, NS_PA | NS_ATTRS, 0]);
    let r = rmi(&rmm, RTT_UNMAP_UNPROTECTED, &[RD, NS_IPA, 2]);
    assert_eq!([r.x[0], r.x[1]], [SUCCESS, NS_IPA + IPA]);
    assert_eq!(gstate(&rmm, NS_L2), (Some(GranuleState::Rtt), 0));

    // Tear down: the realm can be destroyed.
    for (ipa, level) in [(IPA, 2), (NS_IPA, 2)] {
        assert_eq!(rmi(&rmm, RTT_DESTROY, &[RD, ipa, level]).x[0], SUCCESS);
    }
    assert_eq!(rmi(&rmm, REALM_DESTROY, &[RD]).x[0], SUCCESS);
    assert!(f.violations().is_empty());
}

#[test]
fn fold_refuses_non_contiguous_or_mixed_ns_pages() {
    let env = Env::new();
    let rmm = env.rmm();
    setup(&rmm);
    for i in 0..512 {
        let attrs = if i == 100 { 0b0110 << 2 } else { NS_ATTRS };
        let desc = (NS_PA + i * 0x1000) | attrs;
        let r = rmi(
            &rmm,
            RTT_MAP_UNPROTECTED,
            &[RD, NS_IPA + i * 0x1000, 3, desc],
        );
        assert_eq!(r.x[0], SUCCESS);
    }
    let before = snapshot(&rmm);
    assert_eq!(rmi(&rmm, RTT_FOLD, &[RD, NS_IPA, 3]).x[0], error_rtt(3));
    assert_eq!(snapshot(&rmm), before);
}
