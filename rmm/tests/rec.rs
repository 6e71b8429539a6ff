//! RMI_REC_CREATE / REC_DESTROY.
//!
//! Failure rows are in DEN0137 1.0-rel0 priority order (labels as in the
//! spec and the Arm CCA RMM ACS); each asserts the status and that no
//! granule state, refcount or memory word changed.

mod common;

use cmon_measure::{HashAlgo, Rim};
use common::*;
use fake_platform::FakePlatform;
use rmm::{GranuleState, PhysAddr, Rmm};

const REC: u64 = pool(30);
const REC1: u64 = pool(31);
const ACTIVE_RD: u64 = pool(20);

type Snapshot = Vec<(Option<GranuleState>, u16, Vec<u8>)>;

/// Pool granules 0..32 (RDs, RTTs, RECs) and 100..132 (aux of REC 0, 1).
fn snapshot(rmm: &Rmm<'_, FakePlatform>) -> Snapshot {
    let mut v = world(rmm, 32);
    v.extend((100..132).map(|i| {
        let (s, r) = gstate(rmm, pool(i));
        (s, r, rmm.platform().read_raw(PhysAddr(pool(i)), 4096))
    }));
    v
}

fn setup(rmm: &Rmm<'_, FakePlatform>) {
    create_realm(rmm);
    let other = RealmCfg {
        vmid: 8,
        rtt_base: pool(22),
        ..RealmCfg::default()
    };
    assert_eq!(create_realm_with(rmm, ACTIVE_RD, &other), SUCCESS);
    assert_eq!(rmi(rmm, REALM_ACTIVATE, &[ACTIVE_RD]).x[0], SUCCESS);
    delegate(rmm, REC);
    for a in aux_of(0) {
        delegate(rmm, a);
    }
    delegate(rmm, pool(41)); // a Realm-PAS params page
}

type Mutate = fn(&mut RecCfg, &mut [u64; 3]);

#[test]
fn rec_create_failure_conditions_in_priority_order() {
    let cases: &[(&str, Mutate, u64)] = &[
        ("params_align", |_, a| a[2] += 8, ERROR_INPUT),
        ("params_bound", |_, a| a[2] = NO_GPT_GRANULE, ERROR_INPUT),
        ("params_pas: Realm", |_, a| a[2] = pool(41), ERROR_INPUT),
        (
            "params_pas beats realm_state",
            |_, a| (a[0], a[2]) = (ACTIVE_RD, pool(41)),
            ERROR_INPUT,
        ),
        (
            "params_valid: reserved flag",
            |c, _| c.flags = 2,
            ERROR_INPUT,
        ),
        ("rec_align", |_, a| a[1] += 8, ERROR_INPUT),
        ("rec_bound", |_, a| a[1] = RMM_BASE, ERROR_INPUT),
        (
            "rec_state: UNDELEGATED",
            |_, a| a[1] = pool(42),
            ERROR_INPUT,
        ),
        ("rec_state: RD", |_, a| a[1] = RD, ERROR_INPUT),
        ("rec_state: RTT", |_, a| a[1] = RTT_BASE, ERROR_INPUT),
        (
            "rec_state beats realm_state",
            |_, a| (a[0], a[1]) = (ACTIVE_RD, pool(42)),
            ERROR_INPUT,
        ),
        ("rd_align", |_, a| a[0] += 1, ERROR_INPUT),
        ("rd_bound", |_, a| a[0] = RMM_BASE, ERROR_INPUT),
        ("rd_state: RTT", |_, a| a[0] = RTT_BASE, ERROR_INPUT),
        (
            "realm_state: ACTIVE",
            |_, a| a[0] = ACTIVE_RD,
            error_realm(0),
        ),
        (
            "realm_state beats mpidr_index",
            |c, a| (c.mpidr, a[0]) = (3, ACTIVE_RD),
            error_realm(0),
        ),
        ("mpidr_index: skipped", |c, _| c.mpidr = 1, ERROR_INPUT),
        (
            "mpidr_index: reserved bits",
            |c, _| c.mpidr = 1 << 4,
            ERROR_INPUT,
        ),
        ("num_aux: 15", |c, _| c.num_aux = 15, ERROR_INPUT),
        ("num_aux: 0", |c, _| c.num_aux = 0, ERROR_INPUT),
        ("aux_align", |c, _| c.aux[3] += 8, ERROR_INPUT),
        (
            "aux_alias: two aux",
            |c, _| c.aux[5] = c.aux[2],
            ERROR_INPUT,
        ),
        ("aux_alias: the REC", |c, _| c.aux[0] = REC, ERROR_INPUT),
        ("aux_alias: the RD", |c, _| c.aux[1] = RD, ERROR_INPUT),
        (
            "aux_state: UNDELEGATED",
            |c, _| c.aux[7] = pool(43),
            ERROR_INPUT,
        ),
        ("aux_state: RTT", |c, _| c.aux[15] = RTT_BASE, ERROR_INPUT),
    ];
    for (rule, mutate, want) in cases {
        let env = Env::new();
        let rmm = env.rmm();
        setup(&rmm);
        let mut cfg = RecCfg::nth(0);
        let mut a = [RD, REC, PARAMS];
        mutate(&mut cfg, &mut a);
        rmm.platform()
            .host_write(PhysAddr(PARAMS), &cfg.bytes())
            .unwrap();
        let before = snapshot(&rmm);
        let reads = rmm.platform().ns_reads().len();
        let r = rmi(&rmm, REC_CREATE, &a);
        assert_eq!(r.x[0], *want, "{rule}");
        assert_eq!(r.x[4], 0x4444_4444, "{rule}: x4 preserved");
        assert_eq!(snapshot(&rmm), before, "{rule}: nothing changed");
        assert!(rmm.platform().ns_reads().len() - reads <= 1, "{rule}");
        assert!(rmm.platform().violations().is_empty(), "{rule}");
    }
}

#[test]
fn rec_create_and_destroy_effects() {
    let env = Env::new();
    let rmm = env.rmm();
    setup(&rmm);
    let mut rim = Rim::new(HashAlgo::Sha256, &RealmCfg::default().rim_params()).unwrap();
    let c0 = RecCfg::nth(0);
    rmm.platform()
        .host_write(PhysAddr(PARAMS), &c0.bytes())
        .unwrap();
    let reads = rmm.platform().ns_reads().len();
    assert_eq!(rmi(&rmm, REC_CREATE, &[RD, REC, PARAMS]).x[0], SUCCESS);
    assert_eq!(
        rmm.platform().ns_reads().len() - reads,
        1,
        "params read once"
    );
    rim.measure_rec(&c0.rim_params());
    assert_eq!(gstate(&rmm, REC), (Some(GranuleState::Rec), 0));
    for a in c0.aux {
        assert_eq!(gstate(&rmm, a), (Some(GranuleState::RecAux), 0));
        assert!(rmm.platform().granule_is_zero(PhysAddr(a)));
    }
    assert_eq!(gstate(&rmm, RD), (Some(GranuleState::Rd), 1), "one REC");
    assert_eq!(rmm.platform().read_word(PhysAddr(RD), 7), 1, "REC count");
    // REC granule layout (rec.rs).
    let f = rmm.platform();
    assert_eq!(f.read_word(PhysAddr(REC), 0), RD);
    assert_eq!(f.read_word(PhysAddr(REC), 1), 0, "index");
    assert_eq!(f.read_word(PhysAddr(REC), 2), c0.mpidr);
    assert_eq!(f.read_word(PhysAddr(REC), 3), 1, "runnable");
    assert_eq!(f.read_word(PhysAddr(REC), 4), c0.pc);
    assert_eq!(f.read_word(PhysAddr(REC), 5), 0x3C5, "EL1h, DAIF masked");
    for i in 0..8 {
        assert_eq!(f.read_word(PhysAddr(REC), 8 + i), c0.gprs[i]);
    }
    for i in 8..31 {
        assert_eq!(f.read_word(PhysAddr(REC), 8 + i), 0, "x{i}");
    }
    for (i, a) in c0.aux.iter().enumerate() {
        assert_eq!(f.read_word(PhysAddr(REC), 96 + i), *a);
    }
    assert_eq!(f.read_word(PhysAddr(REC), 112), 16);

    // A second REC, not runnable: index 1.
    let c1 = RecCfg {
        flags: 0,
        ..RecCfg::nth(1)
    };
    assert_eq!(create_rec_with(&rmm, RD, REC1, &c1), SUCCESS);
    rim.measure_rec(&c1.rim_params());
    assert_eq!(f.read_word(PhysAddr(REC1), 1), 1);
    assert_eq!(f.read_word(PhysAddr(REC1), 3), 0, "not runnable");
    assert_eq!(gstate(&rmm, RD), (Some(GranuleState::Rd), 2));
    assert_eq!(
        f.read_raw(PhysAddr(RD + 0x80), 64),
        rim.value().slot().to_vec(),
        "RIM = independent replay"
    );

    // REC_DESTROY failure conditions.
    for (rule, rec) in [
        ("rec_align", REC + 8),
        ("rec_bound", RMM_BASE),
        ("rec_gran_state: UNDELEGATED", pool(42)),
        ("rec_gran_state: RD", RD),
        ("rec_gran_state: REC_AUX", c0.aux[4]),
        ("rec_gran_state: RTT", RTT_BASE),
    ] {
        let before = snapshot(&rmm);
        assert_eq!(rmi(&rmm, REC_DESTROY, &[rec]).x[0], ERROR_INPUT, "{rule}");
        assert_eq!(snapshot(&rmm), before, "{rule}: nothing changed");
    }
    assert_eq!(
        rmi(&rmm, REALM_DESTROY, &[RD]).x[0],
        error_realm(0),
        "realm_live: the realm has RECs"
    );
    // rec_state: a running REC (refcount 1, as REC_ENTER will hold it).
    let _ = rmm.granules().lock(PhysAddr(REC)).unwrap().inc_ref();
    let before = snapshot(&rmm);
    assert_eq!(
        rmi(&rmm, REC_DESTROY, &[REC]).x[0],
        3,
        "rec_state: ERROR_REC"
    );
    assert_eq!(snapshot(&rmm), before);
    let _ = rmm.granules().lock(PhysAddr(REC)).unwrap().dec_ref();

    // Destroy REC 0: REC and aux scrubbed and DELEGATED; count unchanged.
    assert_eq!(rmi(&rmm, REC_DESTROY, &[REC]).x[0], SUCCESS);
    for pa in std::iter::once(REC).chain(c0.aux) {
        assert_eq!(gstate(&rmm, pa), (Some(GranuleState::Delegated), 0));
        assert!(f.granule_is_zero(PhysAddr(pa)));
    }
    assert_eq!(gstate(&rmm, RD), (Some(GranuleState::Rd), 1));
    assert_eq!(f.read_word(PhysAddr(RD), 7), 2, "indices are not reused");
    // Index 0 cannot be created again; index 2 can.
    assert_eq!(
        rmi(&rmm, REC_CREATE, &[RD, REC, PARAMS]).x[0],
        ERROR_INPUT,
        "mpidr_index"
    );
    assert_eq!(rmi(&rmm, REC_DESTROY, &[REC1]).x[0], SUCCESS);
    assert_eq!(gstate(&rmm, RD), (Some(GranuleState::Rd), 0));
    assert_eq!(rmi(&rmm, REALM_DESTROY, &[RD]).x[0], SUCCESS);
    assert!(f.violations().is_empty());
}

/// DEN0137 1.0-rel0 RMI_REC_CREATE `num_recs`: a realm with
/// 2^MAX_RECS_ORDER minus 1 live RECs gets ERROR_REALM, after `realm_state`
/// and before `mpidr_index`. Live RECs count, not the REC index.
#[test]
fn rec_create_num_recs_is_bounded_by_max_recs_order() {
    let env = Env::new();
    let rmm = env.rmm().with_features(rmm::Features {
        max_recs_order: 1,
        ..rmm::Features::CONSERVATIVE
    });
    assert_eq!(rmi(&rmm, FEATURES, &[0]).x[1] >> 38 & 0xF, 1);
    setup(&rmm);
    let rec0 = |rmm: &Rmm<'_, FakePlatform>| {
        let c = RecCfg::nth(0).bytes();
        rmm.platform().host_write(PhysAddr(PARAMS), &c).unwrap();
        rmi(rmm, REC_CREATE, &[RD, REC, PARAMS]).x[0]
    };
    assert_eq!(rec0(&rmm), SUCCESS);
    assert_eq!(
        create_rec_with(&rmm, RD, REC1, &RecCfg::nth(1)),
        error_realm(0)
    );
    for (rule, mpidr) in [
        ("num_recs: one live REC, 2^1 - 1 allowed", 1),
        ("num_recs beats mpidr_index", 5),
    ] {
        let cfg = RecCfg {
            mpidr,
            ..RecCfg::nth(1)
        };
        rmm.platform()
            .host_write(PhysAddr(PARAMS), &cfg.bytes())
            .unwrap();
        let before = snapshot(&rmm);
        let r = rmi(&rmm, REC_CREATE, &[RD, REC1, PARAMS]);
        assert_eq!(r.x[0], error_realm(0), "{rule}");
        assert_eq!(snapshot(&rmm), before, "{rule}: nothing changed");
    }
    // The bound is on live RECs: after REC_DESTROY, index 1 can be created.
    assert_eq!(rmi(&rmm, REC_DESTROY, &[REC]).x[0], SUCCESS);
    assert_eq!(rmi(&rmm, REC_CREATE, &[RD, REC1, PARAMS]).x[0], ERROR_INPUT);
    rmm.platform()
        .host_write(PhysAddr(PARAMS), &RecCfg::nth(1).bytes())
        .unwrap();
    assert_eq!(rmi(&rmm, REC_CREATE, &[RD, REC1, PARAMS]).x[0], SUCCESS);
    assert_eq!(gstate(&rmm, RD), (Some(GranuleState::Rd), 1));
    // MAX_RECS_ORDER 0: no REC at all.
    let env = Env::new();
    let rmm = env.rmm().with_features(rmm::Features {
        max_recs_order: 0,
        ..rmm::Features::CONSERVATIVE
    });
    setup(&rmm);
    assert_eq!(rec0(&rmm), error_realm(0), "num_recs: MAX_RECS_ORDER 0");
    assert!(rmm.platform().violations().is_empty());
}

#[test]
fn mpidr_to_rec_index() {
    use rmm::rec::mpidr_to_index;
    assert_eq!(mpidr_to_index(0), Some(0));
    assert_eq!(mpidr_to_index(0xF), Some(15));
    assert_eq!(mpidr_to_index(0x100), Some(16));
    assert_eq!(mpidr_to_index(0x1_0000), Some(1 << 12));
    assert_eq!(mpidr_to_index(0x100_0000), Some(1 << 20));
    assert_eq!(mpidr_to_index(0x10), None, "Aff0[7:4] reserved");
    assert_eq!(mpidr_to_index(1 << 32), None);
}
