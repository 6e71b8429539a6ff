//! RMI_REALM_CREATE / ACTIVATE / DESTROY and REC_AUX_COUNT.
//!
//! Failure rows are in DEN0137 1.0-rel0 priority order (labels as in the
//! spec and the Arm CCA RMM ACS). Each row asserts the status and that no
//! granule state, refcount, memory word or VMID changed.

mod common;

use cmon_measure::{HashAlgo, Rim};
use common::*;
use fake_platform::{Pas, Tlbi};
use rmm::{GranuleState, PhysAddr};

type Mutate = fn(&mut RealmCfg, &mut u64, &rmm::Rmm<'_, fake_platform::FakePlatform>);

#[test]
fn realm_create_failure_conditions_in_priority_order() {
    let cases: &[(&str, Mutate, u64)] = &[
        ("params_align", |_, _, _| {}, PARAMS + 8),
        (
            "params_pas",
            |_, _, r| r.platform().set_pas(PhysAddr(PARAMS), Pas::Secure),
            PARAMS,
        ),
        ("params_bound", |_, _, _| {}, NO_GPT_GRANULE),
        ("params_valid: hash_algo", |c, _, _| c.hash_algo = 2, PARAMS),
        ("params_valid: s2sz < 32", |c, _, _| c.s2sz = 31, PARAMS),
        (
            "params_valid: unknown flag",
            |c, _, _| c.flags = 1 << 3,
            PARAMS,
        ),
        (
            "params_supp: s2sz > FEATURES",
            |c, _, _| c.s2sz = 44,
            PARAMS,
        ),
        ("params_supp: LPA2", |c, _, _| c.flags = 1, PARAMS),
        ("params_supp: SVE", |c, _, _| c.flags = 2, PARAMS),
        ("params_supp: PMU", |c, _, _| c.flags = 4, PARAMS),
        ("params_supp: num_bps", |c, _, _| c.num_bps = 2, PARAMS),
        (
            "alias: RD is a root RTT",
            |_, rd, _| *rd = RTT_BASE + 0x1000,
            PARAMS,
        ),
        ("rd_align", |_, rd, _| *rd += 8, PARAMS),
        ("rd_bound: RMM memory", |_, rd, _| *rd = RMM_BASE, PARAMS),
        ("rd_state: UNDELEGATED", |_, rd, _| *rd = pool(40), PARAMS),
        ("rtt_align", |c, _, _| c.rtt_base += 8, PARAMS),
        (
            "rtt_num_level: wrong root count",
            |c, _, _| c.num = 1,
            PARAMS,
        ),
        (
            "rtt_num_level: level too deep",
            |c, _, _| c.level = 2,
            PARAMS,
        ),
        (
            "rtt_num_level: level -1 without LPA2",
            |c, _, _| c.level = -1,
            PARAMS,
        ),
        (
            "rtt_state: second root UNDELEGATED",
            |c, _, _| c.rtt_base = pool(9),
            PARAMS,
        ),
        ("vmid_valid: in use", |c, _, _| c.vmid = 99, PARAMS),
        (
            "vmid_valid: too wide for 8-bit VMIDs",
            |c, _, _| c.vmid = 256,
            PARAMS,
        ),
    ];
    for (rule, mutate, params) in cases {
        let env = Env::new();
        let rmm = env.rmm().with_vmid_bits(8);
        // A realm owning VMID 99 (RD pool(20), roots pool(22..24)).
        let other = RealmCfg {
            vmid: 99,
            rtt_base: pool(22),
            ..RealmCfg::default()
        };
        assert_eq!(create_realm_with(&rmm, pool(20), &other), SUCCESS);
        let mut cfg = RealmCfg::default();
        let mut rd = RD;
        for pa in [RD, RTT_BASE, RTT_BASE + 0x1000, pool(9)] {
            delegate(&rmm, pa);
        }
        mutate(&mut cfg, &mut rd, &rmm);
        if *params == PARAMS {
            rmm.platform()
                .host_write(PhysAddr(PARAMS), &cfg.bytes())
                .ok();
        }
        let before = world(&rmm, 12);
        let r = rmi(&rmm, REALM_CREATE, &[rd, *params]);
        assert_eq!(r.x[0], ERROR_INPUT, "{rule}");
        assert_eq!(r.x[4], 0x4444_4444, "{rule}: x4 preserved");
        assert_eq!(world(&rmm, 12), before, "{rule}: nothing changed");
        assert!(!rmm.vmids().in_use(7), "{rule}");
        assert!(rmm.platform().violations().is_empty(), "{rule}");
    }
}

#[test]
fn realm_create_success_initialises_rd_roots_and_rim() {
    let env = Env::new();
    let rmm = env.rmm();
    let cfg = RealmCfg {
        hash_algo: 1,
        ..RealmCfg::default()
    };
    assert_eq!(create_realm_with(&rmm, RD, &cfg), SUCCESS);
    assert_eq!(gstate(&rmm, RD), (Some(GranuleState::Rd), 0));
    for i in 0..2 {
        assert_eq!(
            gstate(&rmm, RTT_BASE + i * 0x1000),
            (Some(GranuleState::Rtt), 0)
        );
    }
    assert!(rmm.vmids().in_use(7));
    // The params page was read exactly once.
    assert_eq!(rmm.platform().ns_reads().len(), 1);
    // RIM slot (RD bytes 0x80..0xC0) = independent replay.
    let rim = Rim::new(HashAlgo::Sha512, &cfg.rim_params()).unwrap();
    assert_eq!(
        rmm.platform().read_raw(PhysAddr(RD + 0x80), 64),
        rim.value().slot().to_vec()
    );
    assert_eq!(
        rmm.platform().read_raw(PhysAddr(RD + 0x1C0), 64),
        vec![0x5A; 64],
        "RPV"
    );
    // Level-1 roots, 1 GiB entries: PAR = [0, 2^39) = root 0; root 1 is NS.
    let f = rmm.platform();
    assert_eq!(f.read_word(PhysAddr(RTT_BASE), 0), 0, "UNASSIGNED EMPTY");
    assert_eq!(
        f.read_word(PhysAddr(RTT_BASE + 0x1000), 0),
        1 << 55,
        "UNASSIGNED_NS"
    );
    assert_eq!(f.read_word(PhysAddr(RTT_BASE + 0x1000), 511), 1 << 55);
    // A second realm cannot reuse the VMID.
    let again = RealmCfg {
        rtt_base: pool(12),
        num: 2,
        ..cfg
    };
    assert_eq!(create_realm_with(&rmm, pool(10), &again), ERROR_INPUT);
    assert!(f.violations().is_empty());
}

#[test]
fn realm_activate_and_aux_count() {
    let env = Env::new();
    let rmm = env.rmm();
    create_realm(&rmm);
    for (rule, rd, want) in [
        ("rd_align", RD + 1, ERROR_INPUT),
        ("rd_bound", RMM_BASE, ERROR_INPUT),
        ("rd_state", RTT_BASE, ERROR_INPUT),
    ] {
        assert_eq!(rmi(&rmm, REALM_ACTIVATE, &[rd]).x[0], want, "{rule}");
        assert_eq!(rmi(&rmm, REC_AUX_COUNT, &[rd]).x[0], want, "{rule}");
    }
    let r = rmi(&rmm, REC_AUX_COUNT, &[RD]);
    assert_eq!((r.x[0], r.x[1], r.x[4]), (SUCCESS, 16, 0x4444_4444));
    assert_eq!(rmi(&rmm, REALM_ACTIVATE, &[RD]).x[0], SUCCESS);
    assert_eq!(
        rmi(&rmm, REALM_ACTIVATE, &[RD]).x[0],
        error_realm(0),
        "realm_state"
    );
}

#[test]
fn realm_destroy_returns_everything_to_delegated_and_zero() {
    let env = Env::new();
    let rmm = env.rmm();
    create_realm(&rmm);
    for (rule, rd) in [
        ("rd_align", RD + 1),
        ("rd_bound", RMM_BASE),
        ("rd_state", RTT_BASE),
    ] {
        assert_eq!(rmi(&rmm, REALM_DESTROY, &[rd]).x[0], ERROR_INPUT, "{rule}");
    }
    rmm.platform().clear_tlbi_log();
    assert_eq!(rmi(&rmm, REALM_DESTROY, &[RD]).x[0], SUCCESS);
    for pa in [RD, RTT_BASE, RTT_BASE + 0x1000] {
        assert_eq!(gstate(&rmm, pa), (Some(GranuleState::Delegated), 0));
        assert!(rmm.platform().granule_is_zero(PhysAddr(pa)));
    }
    assert!(!rmm.vmids().in_use(7));
    assert_eq!(rmm.platform().tlbi_log(), vec![Tlbi::Vmid(7)]);
    // The VMID and granules can be used again.
    let cfg = RealmCfg::default();
    rmm.platform()
        .host_write(PhysAddr(PARAMS), &cfg.bytes())
        .unwrap();
    assert_eq!(rmi(&rmm, REALM_CREATE, &[RD, PARAMS]).x[0], SUCCESS);
    assert!(rmm.platform().violations().is_empty());
}
