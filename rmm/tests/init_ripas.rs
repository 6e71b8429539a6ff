//! RMI_RTT_INIT_RIPAS.
//!
//! Default realm: s2sz 40, two concatenated level-1 roots, PAR = [0, 2^39).
//! Layout used here (IPA = 1 GiB): an L2 table under root entry 1, an L3
//! table under its entry 0, and L2 entry 2 made UNASSIGNED DESTROYED by an
//! RTT_CREATE + RTT_DESTROY.

mod common;

use cmon_measure::{HashAlgo, Rim};
use common::*;
use fake_platform::FakePlatform;
use rmm::{PhysAddr, Rmm};

const L2: u64 = pool(5);
const L3: u64 = pool(6);
const SCRATCH: u64 = pool(7);
const IPA: u64 = 0x4000_0000;
const L2_SIZE: u64 = 0x20_0000;
const PAR_END: u64 = 1 << 39;

/// Second realm (RD pool(20), roots pool(22..24), VMID 8), activated.
const ACTIVE_RD: u64 = pool(20);

fn setup(rmm: &Rmm<'_, FakePlatform>) {
    create_realm(rmm);
    for pa in [L2, L3, SCRATCH] {
        delegate(rmm, pa);
    }
    assert_eq!(rmi(rmm, RTT_CREATE, &[RD, L2, IPA, 2]).x[0], SUCCESS);
    assert_eq!(rmi(rmm, RTT_CREATE, &[RD, L3, IPA, 3]).x[0], SUCCESS);
    let d = IPA + 2 * L2_SIZE;
    assert_eq!(rmi(rmm, RTT_CREATE, &[RD, SCRATCH, d, 3]).x[0], SUCCESS);
    assert_eq!(rmi(rmm, RTT_DESTROY, &[RD, d, 3]).x[0], SUCCESS);
    let other = RealmCfg {
        vmid: 8,
        rtt_base: pool(22),
        ..RealmCfg::default()
    };
    assert_eq!(create_realm_with(rmm, ACTIVE_RD, &other), SUCCESS);
    assert_eq!(rmi(rmm, REALM_ACTIVATE, &[ACTIVE_RD]).x[0], SUCCESS);
}

fn rim_of(rmm: &Rmm<'_, FakePlatform>) -> Vec<u8> {
    rmm.platform().read_raw(PhysAddr(RD + 0x80), 64)
}

fn read(rmm: &Rmm<'_, FakePlatform>, ipa: u64, level: u64) -> [u64; 5] {
    rmi(rmm, RTT_READ_ENTRY, &[RD, ipa, level]).x
}

#[test]
fn init_ripas_failure_conditions_in_priority_order() {
    let env = Env::new();
    let rmm = env.rmm();
    setup(&rmm);
    let destroyed = IPA + 2 * L2_SIZE;
    let cases: &[(&str, [u64; 3], u64)] = &[
        ("rd_align", [RD + 1, IPA, IPA + 0x1000], ERROR_INPUT),
        ("rd_bound", [RMM_BASE, IPA, IPA + 0x1000], ERROR_INPUT),
        ("rd_state: RTT", [RTT_BASE, IPA, IPA + 0x1000], ERROR_INPUT),
        (
            "rd_state: DELEGATED",
            [SCRATCH, IPA, IPA + 0x1000],
            ERROR_INPUT,
        ),
        ("size_valid: top == base", [RD, IPA, IPA], ERROR_INPUT),
        (
            "size_valid: top < base",
            [RD, IPA + 0x1000, IPA],
            ERROR_INPUT,
        ),
        ("top_bound", [RD, IPA, PAR_END + 0x1000], ERROR_INPUT),
        (
            "top_bound beats realm_state",
            [ACTIVE_RD, IPA, PAR_END + 0x1000],
            ERROR_INPUT,
        ),
        (
            "realm_state: ACTIVE",
            [ACTIVE_RD, IPA, IPA + 0x1000],
            error_realm(0),
        ),
        (
            "realm_state beats base_align",
            [ACTIVE_RD, IPA + 0x800, IPA + 0x1000],
            error_realm(0),
        ),
        (
            "base_align: L2 entry, base 4 KiB-aligned only",
            [RD, IPA + L2_SIZE + 0x1000, IPA + 2 * L2_SIZE],
            error_rtt(2),
        ),
        (
            "base_align: L3 entry, base unaligned",
            [RD, IPA + 0x10, IPA + 0x2000],
            error_rtt(3),
        ),
        (
            "rtte_state: UNASSIGNED DESTROYED",
            [RD, destroyed, destroyed + L2_SIZE],
            error_rtt(2),
        ),
        (
            "rtte_state beats top_gran_align",
            [RD, destroyed, destroyed + 0x800],
            error_rtt(2),
        ),
        ("top_gran_align", [RD, IPA, IPA + 0x1800], ERROR_INPUT),
        (
            "top_gran_align beats no_progress",
            [RD, IPA + L2_SIZE, IPA + L2_SIZE + 0x800],
            ERROR_INPUT,
        ),
        (
            "no_progress: L2 entry beyond top",
            [RD, IPA + L2_SIZE, IPA + L2_SIZE + 0x1000],
            error_rtt(2),
        ),
    ];
    for (rule, a, want) in cases {
        let before = world(&rmm, 24);
        let r = rmi(&rmm, RTT_INIT_RIPAS, a);
        assert_eq!(r.x[0], *want, "{rule}");
        assert_eq!(r.x[1], 0, "{rule}: x1");
        assert_eq!(r.x[4], 0x4444_4444, "{rule}: x4 preserved");
        assert_eq!(world(&rmm, 24), before, "{rule}: nothing changed");
    }
    assert!(rmm.platform().violations().is_empty());
}

#[test]
fn init_ripas_walks_one_rtt_and_extends_rim_per_entry() {
    let env = Env::new();
    let rmm = env.rmm();
    setup(&rmm);
    let mut rim = Rim::new(HashAlgo::Sha256, &RealmCfg::default().rim_params()).unwrap();
    assert_eq!(rim_of(&rmm), rim.value().slot().to_vec());

    // Three L3 entries.
    let r = rmi(&rmm, RTT_INIT_RIPAS, &[RD, IPA, IPA + 0x3000]);
    assert_eq!((r.x[0], r.x[1]), (SUCCESS, IPA + 0x3000));
    for i in 0..3 {
        rim.measure_ripas(IPA + i * 0x1000, IPA + (i + 1) * 0x1000)
            .unwrap();
        assert_eq!(read(&rmm, IPA + i * 0x1000, 3), [SUCCESS, 3, 0, 0, 1]);
    }
    assert_eq!(read(&rmm, IPA + 0x3000, 3), [SUCCESS, 3, 0, 0, 0]);
    assert_eq!(rim_of(&rmm), rim.value().slot().to_vec());

    // Already-RAM entries are accepted and measured again.
    let r = rmi(&rmm, RTT_INIT_RIPAS, &[RD, IPA + 0x1000, IPA + 0x5000]);
    assert_eq!((r.x[0], r.x[1]), (SUCCESS, IPA + 0x5000));
    for i in 1..5 {
        rim.measure_ripas(IPA + i * 0x1000, IPA + (i + 1) * 0x1000)
            .unwrap();
    }
    assert_eq!(rim_of(&rmm), rim.value().slot().to_vec());

    // One RTT only: the walk stops at the end of the L3 table.
    let last = IPA + 511 * 0x1000;
    let r = rmi(&rmm, RTT_INIT_RIPAS, &[RD, last, IPA + 4 * L2_SIZE]);
    assert_eq!((r.x[0], r.x[1]), (SUCCESS, IPA + L2_SIZE));
    rim.measure_ripas(last, IPA + L2_SIZE).unwrap();
    assert_eq!(rim_of(&rmm), rim.value().slot().to_vec());

    // L2 entries: entry 1 is initialised (one 2 MiB descriptor), entry 2
    // (DESTROYED) ends the walk.
    let r = rmi(
        &rmm,
        RTT_INIT_RIPAS,
        &[RD, IPA + L2_SIZE, IPA + 4 * L2_SIZE],
    );
    assert_eq!((r.x[0], r.x[1]), (SUCCESS, IPA + 2 * L2_SIZE));
    rim.measure_ripas(IPA + L2_SIZE, IPA + 2 * L2_SIZE).unwrap();
    assert_eq!(read(&rmm, IPA + L2_SIZE, 3), [SUCCESS, 2, 0, 0, 1]);
    assert_eq!(rim_of(&rmm), rim.value().slot().to_vec());

    // Root level: one 1 GiB entry, then the table entry ends the walk.
    let r = rmi(&rmm, RTT_INIT_RIPAS, &[RD, 0, 2 * IPA]);
    assert_eq!((r.x[0], r.x[1]), (SUCCESS, IPA));
    rim.measure_ripas(0, IPA).unwrap();
    assert_eq!(read(&rmm, 0, 3), [SUCCESS, 1, 0, 0, 1]);
    assert_eq!(rim_of(&rmm), rim.value().slot().to_vec());

    // The walk stops before an entry that ends beyond top.
    let r = rmi(&rmm, RTT_INIT_RIPAS, &[RD, IPA + 0x5000, IPA + 0x7800]);
    assert_eq!(r.x[0], ERROR_INPUT, "top_gran_align");
    let r = rmi(&rmm, RTT_INIT_RIPAS, &[RD, 2 * IPA, 3 * IPA + 0x1000]);
    assert_eq!(
        (r.x[0], r.x[1]),
        (SUCCESS, 3 * IPA),
        "second 1 GiB not whole"
    );
    rim.measure_ripas(2 * IPA, 3 * IPA).unwrap();
    assert_eq!(rim_of(&rmm), rim.value().slot().to_vec());

    // No RTT refcount changes: unassigned entries are not live.
    assert_eq!(gstate(&rmm, L3).1, 0);
    assert_eq!(gstate(&rmm, L2).1, 1);
    // After activation the RIM is frozen.
    assert_eq!(rmi(&rmm, REALM_ACTIVATE, &[RD]).x[0], SUCCESS);
    let r = rmi(&rmm, RTT_INIT_RIPAS, &[RD, IPA + 0x5000, IPA + 0x6000]);
    assert_eq!(r.x[0], error_realm(0));
    assert_eq!(rim_of(&rmm), rim.value().slot().to_vec());
    assert!(rmm.platform().violations().is_empty());
}
