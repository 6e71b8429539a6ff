//! RMI_DATA_CREATE / DATA_CREATE_UNKNOWN / DATA_DESTROY.
//!
//! Default realm: s2sz 40, level-1 roots, PAR = [0, 2^39); an L2 table at
//! IPA = 1 GiB and an L3 table under its entry 0. Failure rows are in
//! DEN0137 1.0-rel0 priority order (labels as in the spec and the Arm CCA
//! RMM ACS); each asserts the status, x1/x2, and that no granule state,
//! refcount, memory word (RD with its RIM, RTTs, DATA) or TLB changed.

mod common;

use cmon_measure::{HashAlgo, Rim};
use common::*;
use fake_platform::{FakePlatform, Pas, Tlbi};
use rmm::{GranuleState, PhysAddr, Rmm};

const L2: u64 = pool(5);
const L3: u64 = pool(6);
const D0: u64 = pool(10);
const D1: u64 = pool(11);
const D2: u64 = pool(12);
const D3: u64 = pool(13);
const IPA: u64 = 0x4000_0000;
const L2_SIZE: u64 = 0x20_0000;
const PAR_END: u64 = 1 << 39;
const ACTIVE_RD: u64 = pool(20);

fn page() -> Vec<u8> {
    (0..4096u32).map(|i| (i * 7 + 3) as u8).collect()
}

fn setup(rmm: &Rmm<'_, FakePlatform>) {
    create_realm(rmm);
    for pa in [L2, L3, D0, D1, D2, D3] {
        delegate(rmm, pa);
    }
    assert_eq!(rmi(rmm, RTT_CREATE, &[RD, L2, IPA, 2]).x[0], SUCCESS);
    assert_eq!(rmi(rmm, RTT_CREATE, &[RD, L3, IPA, 3]).x[0], SUCCESS);
    rmm.platform().host_write(PhysAddr(SRC), &page()).unwrap();
    let other = RealmCfg {
        vmid: 8,
        rtt_base: pool(22),
        ..RealmCfg::default()
    };
    assert_eq!(create_realm_with(rmm, ACTIVE_RD, &other), SUCCESS);
    assert_eq!(rmi(rmm, REALM_ACTIVATE, &[ACTIVE_RD]).x[0], SUCCESS);
}

type Snapshot = (Vec<(Option<GranuleState>, u16, Vec<u8>)>, Vec<Tlbi>);

fn snapshot(rmm: &Rmm<'_, FakePlatform>) -> Snapshot {
    (world(rmm, 24), rmm.platform().tlbi_log())
}

fn read(rmm: &Rmm<'_, FakePlatform>, ipa: u64) -> [u64; 5] {
    rmi(rmm, RTT_READ_ENTRY, &[RD, ipa, 3]).x
}

#[test]
fn data_create_failure_conditions_in_priority_order() {
    let env = Env::new();
    let rmm = env.rmm();
    setup(&rmm);
    delegate(&rmm, pool(40)); // a Realm-PAS source
    assert_eq!(
        rmi(&rmm, DATA_CREATE, &[RD, D1, IPA + 0x1000, SRC, 0]).x[0],
        SUCCESS
    );
    let cases: &[(&str, [u64; 5], u64)] = &[
        ("flags", [RD, D0, IPA, SRC, 2], ERROR_INPUT),
        ("src_align", [RD, D0, IPA, SRC + 8, 1], ERROR_INPUT),
        ("src_bound", [RD, D0, IPA, NO_GPT_GRANULE, 1], ERROR_INPUT),
        ("src_pas: Realm", [RD, D0, IPA, pool(40), 1], ERROR_INPUT),
        (
            "src_pas beats realm_state",
            [ACTIVE_RD, D0, IPA, pool(40), 1],
            ERROR_INPUT,
        ),
        ("data_align", [RD, D0 + 8, IPA, SRC, 1], ERROR_INPUT),
        ("data_bound", [RD, RMM_BASE, IPA, SRC, 1], ERROR_INPUT),
        // data_bound2 (no LPA2, PA >= 2^48): in no DRAM bank, so
        // data_bound already refuses it.
        (
            "data_bound2: PA 2^48",
            [RD, 1 << 48, IPA, SRC, 1],
            ERROR_INPUT,
        ),
        (
            "data_state: UNDELEGATED",
            [RD, pool(41), IPA, SRC, 1],
            ERROR_INPUT,
        ),
        ("data_state: RD", [RD, RD, IPA, SRC, 1], ERROR_INPUT),
        (
            "data_state: the walked L3",
            [RD, L3, IPA, SRC, 1],
            ERROR_INPUT,
        ),
        (
            "data_state: root RTT",
            [RD, RTT_BASE, IPA, SRC, 1],
            ERROR_INPUT,
        ),
        ("data_state: DATA", [RD, D1, IPA, SRC, 1], ERROR_INPUT),
        (
            "data_state beats rtt_walk",
            [RD, pool(41), IPA + L2_SIZE, SRC, 1],
            ERROR_INPUT,
        ),
        (
            "data_state beats realm_state",
            [ACTIVE_RD, pool(41), IPA, SRC, 1],
            ERROR_INPUT,
        ),
        ("rd_align", [RD + 1, D0, IPA, SRC, 1], ERROR_INPUT),
        ("rd_bound", [RMM_BASE, D0, IPA, SRC, 1], ERROR_INPUT),
        ("rd_state", [L3, D0, IPA, SRC, 1], ERROR_INPUT),
        ("ipa_align", [RD, D0, IPA + 0x800, SRC, 1], ERROR_INPUT),
        (
            "ipa_bound: unprotected",
            [RD, D0, PAR_END, SRC, 1],
            ERROR_INPUT,
        ),
        (
            "ipa_bound: beyond s2sz",
            [RD, D0, 1 << 40, SRC, 1],
            ERROR_INPUT,
        ),
        (
            "realm_state: ACTIVE",
            [ACTIVE_RD, D0, IPA, SRC, 1],
            error_realm(0),
        ),
        (
            "rtt_walk: L2",
            [RD, D0, IPA + L2_SIZE, SRC, 1],
            error_rtt(2),
        ),
        ("rtt_walk: root", [RD, D0, 0, SRC, 1], error_rtt(1)),
        (
            "rtte_state: ASSIGNED",
            [RD, D0, IPA + 0x1000, SRC, 1],
            error_rtt(3),
        ),
    ];
    for (rule, a, want) in cases {
        let before = snapshot(&rmm);
        let reads = rmm.platform().ns_reads().len();
        let r = rmi(&rmm, DATA_CREATE, a);
        assert_eq!(r.x[0], *want, "{rule}");
        assert_eq!(r.x[4], a[3], "{rule}: x4 (src) preserved");
        assert_eq!(snapshot(&rmm), before, "{rule}: nothing changed");
        let new_reads = rmm.platform().ns_reads().len() - reads;
        assert!(new_reads <= 1, "{rule}: source read at most once");
    }
    assert!(rmm.platform().violations().is_empty());
}

#[test]
fn data_create_unknown_failure_conditions_in_priority_order() {
    let env = Env::new();
    let rmm = env.rmm();
    setup(&rmm);
    assert_eq!(
        rmi(&rmm, DATA_CREATE_UNKNOWN, &[RD, D1, IPA + 0x1000]).x[0],
        SUCCESS
    );
    let cases: &[(&str, [u64; 3], u64)] = &[
        ("data_align", [RD, D0 + 8, IPA], ERROR_INPUT),
        ("data_bound", [RD, RMM_BASE, IPA], ERROR_INPUT),
        ("data_bound2: PA 2^48", [RD, 1 << 48, IPA], ERROR_INPUT),
        ("data_state: UNDELEGATED", [RD, pool(41), IPA], ERROR_INPUT),
        ("data_state: RTT", [RD, L3, IPA], ERROR_INPUT),
        ("data_state: DATA", [RD, D1, IPA], ERROR_INPUT),
        (
            "data_state beats rtt_walk",
            [RD, pool(41), IPA + L2_SIZE],
            ERROR_INPUT,
        ),
        ("rd_align", [RD + 1, D0, IPA], ERROR_INPUT),
        ("rd_bound", [RMM_BASE, D0, IPA], ERROR_INPUT),
        ("rd_state", [D1, D0, IPA], ERROR_INPUT),
        ("ipa_align", [RD, D0, IPA + 0x10], ERROR_INPUT),
        ("ipa_bound: unprotected", [RD, D0, PAR_END], ERROR_INPUT),
        ("rtt_walk", [RD, D0, IPA + L2_SIZE], error_rtt(2)),
        ("rtte_state", [RD, D0, IPA + 0x1000], error_rtt(3)),
    ];
    for (rule, a, want) in cases {
        let before = snapshot(&rmm);
        let r = rmi(&rmm, DATA_CREATE_UNKNOWN, a);
        assert_eq!(r.x[0], *want, "{rule}");
        assert_eq!(snapshot(&rmm), before, "{rule}: nothing changed");
    }
    assert!(rmm.platform().violations().is_empty());
}

#[test]
fn data_create_copies_once_measures_and_maps() {
    let env = Env::new();
    let rmm = env.rmm();
    setup(&rmm);
    let mut rim = Rim::new(HashAlgo::Sha256, &RealmCfg::default().rim_params()).unwrap();
    let src: [u8; 4096] = page().try_into().unwrap();

    // Measured content.
    let reads = rmm.platform().ns_reads().len();
    assert_eq!(rmi(&rmm, DATA_CREATE, &[RD, D0, IPA, SRC, 1]).x[0], SUCCESS);
    let new_reads = rmm.platform().ns_reads()[reads..].to_vec();
    assert_eq!(new_reads, vec![(PhysAddr(SRC), 4096)], "one 4 KiB read");
    rim.measure_data(IPA, 1, Some(&src)).unwrap();
    assert_eq!(rmm.platform().read_raw(PhysAddr(D0), 4096), page());
    assert_eq!(gstate(&rmm, D0), (Some(GranuleState::Data), 0));
    assert_eq!(gstate(&rmm, L3), (Some(GranuleState::Rtt), 1));
    assert_eq!(read(&rmm, IPA), [SUCCESS, 3, 1, D0, 1], "ASSIGNED RAM");

    // Unmeasured content: copied, descriptor without the hash.
    assert_eq!(
        rmi(&rmm, DATA_CREATE, &[RD, D1, IPA + 0x1000, SRC, 0]).x[0],
        SUCCESS
    );
    rim.measure_data(IPA + 0x1000, 0, None).unwrap();
    assert_eq!(rmm.platform().read_raw(PhysAddr(D1), 4096), page());
    assert_eq!(
        rmm.platform().read_raw(PhysAddr(RD + 0x80), 64),
        rim.value().slot().to_vec()
    );

    // DATA_CREATE_UNKNOWN on RIPAS EMPTY: ASSIGNED EMPTY, zero, unmeasured.
    assert_eq!(
        rmi(&rmm, DATA_CREATE_UNKNOWN, &[RD, D2, IPA + 0x2000]).x[0],
        SUCCESS
    );
    assert_eq!(read(&rmm, IPA + 0x2000), [SUCCESS, 3, 1, D2, 0]);
    assert!(rmm.platform().granule_is_zero(PhysAddr(D2)));
    assert_eq!(gstate(&rmm, D2), (Some(GranuleState::Data), 0));

    // On RIPAS RAM, after activation: ASSIGNED RAM, still unmeasured.
    let r = rmi(&rmm, RTT_INIT_RIPAS, &[RD, IPA + 0x3000, IPA + 0x4000]);
    assert_eq!((r.x[0], r.x[1]), (SUCCESS, IPA + 0x4000));
    rim.measure_ripas(IPA + 0x3000, IPA + 0x4000).unwrap();
    assert_eq!(rmi(&rmm, REALM_ACTIVATE, &[RD]).x[0], SUCCESS);
    assert_eq!(
        rmi(&rmm, DATA_CREATE_UNKNOWN, &[RD, D3, IPA + 0x3000]).x[0],
        SUCCESS
    );
    assert_eq!(read(&rmm, IPA + 0x3000), [SUCCESS, 3, 1, D3, 1]);
    assert_eq!(gstate(&rmm, L3), (Some(GranuleState::Rtt), 4));
    assert_eq!(
        rmm.platform().read_raw(PhysAddr(RD + 0x80), 64),
        rim.value().slot().to_vec(),
        "RIM = independent replay"
    );
    assert!(rmm.platform().tlbi_log().is_empty(), "invalid -> valid");
    assert!(rmm.platform().violations().is_empty());
}

#[test]
fn data_create_source_fault_changes_nothing() {
    let env = Env::new();
    let rmm = env.rmm();
    setup(&rmm);
    // The host moves its source page to Secure between writing and calling.
    rmm.platform().set_pas(PhysAddr(SRC), Pas::Secure);
    let before = snapshot(&rmm);
    assert_eq!(
        rmi(&rmm, DATA_CREATE, &[RD, D0, IPA, SRC, 1]).x[0],
        ERROR_INPUT
    );
    assert_eq!(snapshot(&rmm), before);
    assert_eq!(gstate(&rmm, D0), (Some(GranuleState::Delegated), 0));
}

#[test]
fn data_destroy_failures_and_effects() {
    let env = Env::new();
    let rmm = env.rmm();
    setup(&rmm);
    assert_eq!(rmi(&rmm, DATA_CREATE, &[RD, D0, IPA, SRC, 1]).x[0], SUCCESS);
    assert_eq!(
        rmi(&rmm, DATA_CREATE_UNKNOWN, &[RD, D1, IPA + 0x1000]).x[0],
        SUCCESS
    );
    let cases: &[(&str, [u64; 2], [u64; 3])] = &[
        ("rd_align", [RD + 1, IPA], [ERROR_INPUT, 0, 0]),
        ("rd_bound", [RMM_BASE, IPA], [ERROR_INPUT, 0, 0]),
        ("rd_state", [D0, IPA], [ERROR_INPUT, 0, 0]),
        ("ipa_align", [RD, IPA + 0x800], [ERROR_INPUT, 0, 0]),
        ("ipa_bound: unprotected", [RD, PAR_END], [ERROR_INPUT, 0, 0]),
        ("ipa_bound: beyond s2sz", [RD, 1 << 40], [ERROR_INPUT, 0, 0]),
        (
            "rtt_walk: top = end of the non-live run in the L2",
            [RD, IPA + L2_SIZE],
            [error_rtt(2), 0, 2 * IPA],
        ),
        (
            "rtte_state: top = end of the L3",
            [RD, IPA + 0x5000],
            [error_rtt(3), 0, IPA + L2_SIZE],
        ),
    ];
    for (rule, a, want) in cases {
        let before = snapshot(&rmm);
        let r = rmi(&rmm, DATA_DESTROY, a);
        assert_eq!([r.x[0], r.x[1], r.x[2]], *want, "{rule}");
        assert_eq!(r.x[4], 0x4444_4444, "{rule}: x4 preserved");
        assert_eq!(snapshot(&rmm), before, "{rule}: nothing changed");
    }
    // ASSIGNED RAM -> UNASSIGNED DESTROYED, invalidated, scrubbed.
    let r = rmi(&rmm, DATA_DESTROY, &[RD, IPA]);
    assert_eq!([r.x[0], r.x[1], r.x[2]], [SUCCESS, D0, IPA + 0x1000]);
    assert_eq!(read(&rmm, IPA), [SUCCESS, 3, 0, 0, 2]);
    assert_eq!(rmm.platform().tlbi_log(), vec![Tlbi::Ipa(7, IPA)]);
    assert_eq!(gstate(&rmm, D0), (Some(GranuleState::Delegated), 0));
    assert!(rmm.platform().granule_is_zero(PhysAddr(D0)));
    // ASSIGNED EMPTY -> UNASSIGNED EMPTY, no TLBI (never valid).
    let r = rmi(&rmm, DATA_DESTROY, &[RD, IPA + 0x1000]);
    assert_eq!([r.x[0], r.x[1], r.x[2]], [SUCCESS, D1, IPA + L2_SIZE]);
    assert_eq!(read(&rmm, IPA + 0x1000), [SUCCESS, 3, 0, 0, 0]);
    assert_eq!(rmm.platform().tlbi_log().len(), 1);
    assert_eq!(gstate(&rmm, L3), (Some(GranuleState::Rtt), 0));
    assert_eq!(
        rmi(&rmm, DATA_DESTROY, &[RD, IPA]).x[0],
        error_rtt(3),
        "already destroyed"
    );
    // Granules can be undelegated again.
    assert_eq!(status(&rmm, UNDELEGATE, D0), SUCCESS);
    assert_eq!(status(&rmm, UNDELEGATE, D1), SUCCESS);
    assert!(rmm.platform().violations().is_empty());
}
