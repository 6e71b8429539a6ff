//! RSI commands answered inside the RMM and realm PSCI with
//! RMI_PSCI_COMPLETE (cca-rmm-abi.md §9, §10; cca-attestation.md §3).

use super::*;

#[test]
fn rsi_measurements_match_an_independent_register() {
    let env = Env::new();
    let rmm = env.rmm();
    setup(&rmm);
    let f = rmm.platform();
    let data = [0x0807_0605_0403_0201u64, 0x0A09];
    push_smc(f, &[RSI_MEASUREMENT_EXTEND, 2, 10, data[0], data[1]]);
    push_smc(f, &[RSI_MEASUREMENT_READ | 1 << 16, 2]);
    push_smc(f, &[RSI_MEASUREMENT_READ, 0]);
    push_smc(f, &[RSI_MEASUREMENT_EXTEND, 5, 8]);
    push_smc(f, &[RSI_MEASUREMENT_EXTEND, 1, 65]);
    push_smc(f, &[RSI_MEASUREMENT_READ, 5]);
    assert_eq!(enter(&rmm, REC0, 0, &[]), SUCCESS);
    let runs = f.realm_runs();
    assert_eq!(runs.len(), 7);
    assert_eq!(runs[1].regs_in.gprs[0], 0, "extend SUCCESS");
    let mut rem = MeasurementRegister::new(HashAlgo::Sha256);
    rem.extend(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    let got: Vec<u8> = runs[2].regs_in.gprs[1..9]
        .iter()
        .flat_map(|w| w.to_le_bytes())
        .collect();
    assert_eq!(runs[2].regs_in.gprs[0], 0);
    assert_eq!(got, rem.value().slot().to_vec(), "REM[2]");
    assert_eq!(f.read_raw(PhysAddr(RD + 0xC0 + 64), 64), got, "REM slot 2");
    let rim: Vec<u8> = runs[3].regs_in.gprs[1..9]
        .iter()
        .flat_map(|w| w.to_le_bytes())
        .collect();
    assert_eq!(rim, f.read_raw(PhysAddr(RD + 0x80), 64), "index 0 = RIM");
    for (i, r) in runs[4..7].iter().enumerate() {
        assert_eq!(r.regs_in.gprs[0], 1, "ERROR_INPUT case {i}");
    }
    assert_eq!(
        f.read_raw(PhysAddr(RD + 0xC0), 64),
        vec![0; 64],
        "REM 1 untouched"
    );
}

#[test]
fn rsi_realm_config_version_ipa_state_and_unknown() {
    let env = Env::new();
    let rmm = env.rmm();
    setup(&rmm);
    let f = rmm.platform();
    push_smc(f, &[RSI_REALM_CONFIG, IPA + 0x1000]);
    push_smc(f, &[RSI_REALM_CONFIG, IPA + 0x3000]); // EMPTY
    push_smc(f, &[RSI_REALM_CONFIG, IPA + 0x1008]); // misaligned
    push_smc(f, &[RSI_VERSION, 0x1_0000]);
    push_smc(f, &[0x8000_0000]); // SMCCC_VERSION
    push_smc(f, &[0xC400_01AF, 1, 2, 3]); // unknown
    push_smc(f, &[RSI_IPA_STATE_GET, IPA, IPA + 0x10_0000]);
    push_smc(f, &[RSI_IPA_STATE_GET, IPA + 0x3000, IPA + 0x5000]);
    push_smc(f, &[RSI_IPA_STATE_GET, IPA, NS_IPA + 0x1000]);
    assert_eq!(enter(&rmm, REC0, 0, &[]), SUCCESS);
    let r: Vec<[u64; 4]> = f
        .realm_runs()
        .iter()
        .skip(1)
        .map(|r| {
            let g = r.regs_in.gprs;
            [g[0], g[1], g[2], g[3]]
        })
        .collect();
    assert_eq!(r[0][0], 0, "REALM_CONFIG");
    assert_eq!(f.read_word(PhysAddr(DATA1), 0), 40, "ipa_width");
    assert_eq!(f.read_word(PhysAddr(DATA1), 1), 0, "hash_algo SHA-256");
    assert_eq!(
        f.read_raw(PhysAddr(DATA1 + 0x200), 64),
        vec![0x5A; 64],
        "rpv"
    );
    assert_eq!(r[1][0], 1);
    assert_eq!(r[2][0], 1);
    assert_eq!(r[3][..3], [0, 0x1_0000, 0x1_0000]);
    assert_eq!(r[4][0], 0x1_0002);
    assert_eq!(r[5], [u64::MAX, 1, 2, 3], "SMC_UNKNOWN, rest preserved");
    assert_eq!(r[6][..3], [0, IPA + 0x3000, 1], "RAM run");
    assert_eq!(r[7][..3], [0, IPA + 0x5000, 0], "EMPTY run capped at top");
    assert_eq!(r[8][0], 1, "top beyond PAR");
}

#[test]
fn psci_cpu_on_affinity_and_system_off() {
    let env = Env::new();
    let rmm = env.rmm();
    setup(&rmm);
    let f = rmm.platform();
    push_smc(f, &[0x8400_0000]); // PSCI_VERSION
    push_smc(f, &[0x8400_000A, 0xC400_0003]); // FEATURES(CPU_ON)
    push_smc(f, &[0x8400_000A, 0x8400_0005]); // FEATURES(MIGRATE)
    push_smc(f, &[0xC400_0003, 0, 0x8_8000, 0]); // CPU_ON self
    push_smc(f, &[0xC400_0003, 7, 0x8_8000, 0]); // no such REC
    push_smc(f, &[0xC400_0003, 1, NS_IPA, 0]); // entry outside PAR
    push_smc(f, &[0xC400_0004, 0, 0]); // AFFINITY_INFO self
    push_smc(f, &[0xC400_0003, 1, 0x8_8000, 0xC0FFEE]);
    assert_eq!(enter(&rmm, REC0, 0, &[]), SUCCESS);
    let runs = f.realm_runs();
    let x0: Vec<u64> = runs[1..8].iter().map(|r| r.regs_in.gprs[0]).collect();
    assert_eq!(
        x0,
        [
            0x1_0001,
            0,
            u64::MAX,
            -4i64 as u64,
            -2i64 as u64,
            -9i64 as u64,
            0
        ]
    );
    assert_eq!(exit_word(&rmm, 0), 3, "RMI_EXIT_PSCI");
    assert_eq!(exit_gprs(&rmm)[..3], [0xC400_0003, 1, 0]);
    assert_eq!(
        enter(&rmm, REC0, 0, &[]),
        ERROR_REC,
        "rec_psci: PSCI pending"
    );
    assert_eq!(enter(&rmm, REC1, 0, &[]), ERROR_REC, "target not runnable");
    // PSCI_COMPLETE failure rows, then success.
    assert_eq!(rmi(&rmm, PSCI_COMPLETE, &[REC0, REC0, 0]).x[0], ERROR_INPUT);
    assert_eq!(rmi(&rmm, PSCI_COMPLETE, &[REC1, REC0, 0]).x[0], ERROR_INPUT);
    assert_eq!(rmi(&rmm, PSCI_COMPLETE, &[REC0, RD, 0]).x[0], ERROR_INPUT);
    assert_eq!(
        rmi(&rmm, PSCI_COMPLETE, &[REC0, NEW_REC, 0]).x[0],
        ERROR_INPUT,
        "owner"
    );
    assert_eq!(
        rmi(&rmm, PSCI_COMPLETE, &[REC0, REC1, 5]).x[0],
        ERROR_INPUT,
        "status"
    );
    assert_eq!(rmi(&rmm, PSCI_COMPLETE, &[REC0, REC1, 0]).x[0], SUCCESS);
    assert_eq!(rec_word(&rmm, REC1, layout::PC), 0x8_8000);
    assert_eq!(rec_word(&rmm, REC1, layout::GPRS), 0xC0FFEE);
    assert_eq!(rec_word(&rmm, REC1, layout::GPRS + 1), 0);
    assert_eq!(rec_word(&rmm, REC1, layout::FLAGS), 1);
    assert_eq!(rec_word(&rmm, REC0, layout::GPRS), 0, "caller: SUCCESS");
    assert_eq!(rmi(&rmm, PSCI_COMPLETE, &[REC0, REC1, 0]).x[0], ERROR_INPUT);
    // REC1 runs; AFFINITY_INFO(REC0) is asked of the host; SYSTEM_OFF.
    push_smc(f, &[0xC400_0004, 0, 0]);
    assert_eq!(enter(&rmm, REC1, 0, &[]), SUCCESS);
    assert_eq!(f.realm_runs().last().unwrap().regs_in.pc, 0x8_8000);
    assert_eq!(exit_gprs(&rmm)[..2], [0xC400_0004, 0]);
    assert_eq!(rmi(&rmm, PSCI_COMPLETE, &[REC1, REC0, 0]).x[0], SUCCESS);
    assert_eq!(rec_word(&rmm, REC1, layout::GPRS), 0, "ON");
    push_smc(f, &[0x8400_0008]);
    assert_eq!(enter(&rmm, REC1, 0, &[]), SUCCESS);
    assert_eq!(exit_word(&rmm, 0), 3);
    assert_eq!(exit_word(&rmm, 0x200), 0x8400_0008);
    assert_eq!(enter(&rmm, REC0, 0, &[]), error_realm(1), "system_off");
    assert!(f.violations().is_empty());
}

/// RMI_PSCI_COMPLETE failure conditions in DEN0137 1.0-rel0 B4.3.7 order,
/// all ERROR_INPUT; no REC changes. Then the same call with valid inputs
/// succeeds.
#[test]
fn psci_complete_failure_conditions_in_priority_order() {
    let env = Env::new();
    let rmm = env.rmm();
    let f = rmm.platform();
    // An active realm with REC 0 (runnable), REC 1 and REC 2 (not).
    create_realm(&rmm);
    let rec2 = pool(33);
    let recs = [REC0, REC1, rec2];
    for (i, &rec) in recs.iter().enumerate() {
        let c = RecCfg {
            flags: u64::from(i == 0),
            ..RecCfg::nth(i as u64)
        };
        assert_eq!(create_rec_with(&rmm, RD, rec, &c), SUCCESS);
    }
    assert_eq!(rmi(&rmm, REALM_ACTIVATE, &[RD]).x[0], SUCCESS);
    // A REC of another realm.
    let other = RealmCfg {
        vmid: 8,
        rtt_base: pool(22),
        ..RealmCfg::default()
    };
    assert_eq!(create_realm_with(&rmm, NEW_RD, &other), SUCCESS);
    let c = RecCfg {
        aux: aux_of(3),
        ..RecCfg::nth(0)
    };
    assert_eq!(create_rec_with(&rmm, NEW_RD, NEW_REC, &c), SUCCESS);
    // REC 0 asks for PSCI_CPU_ON(MPIDR 1).
    push_smc(f, &[0xC400_0003, 1, 0x8_8000, 0]);
    assert_eq!(enter(&rmm, REC0, 0, &[]), SUCCESS);
    assert_eq!(exit_word(&rmm, 0), 3, "RMI_EXIT_PSCI");
    delegate(&rmm, pool(43));
    let rows: &[(&str, [u64; 3])] = &[
        ("alias", [REC0, REC0, 0]),
        ("calling_align", [REC0 + 8, REC1, 0]),
        ("calling_bound", [RMM_BASE, REC1, 0]),
        ("calling_state: RD", [RD, REC1, 0]),
        ("calling_state: DELEGATED", [pool(43), REC1, 0]),
        ("target_align", [REC0, REC1 + 8, 0]),
        ("target_bound", [REC0, RMM_BASE, 0]),
        ("target_state: RD", [REC0, RD, 0]),
        ("target_state: REC_AUX", [REC0, aux_of(1)[0], 0]),
        ("pending: REC 1 has no request", [REC1, REC0, 0]),
        ("owner: a REC of another realm", [REC0, NEW_REC, 0]),
        ("target: REC 2 is not MPIDR 1", [REC0, rec2, 0]),
        ("status: CPU_ON takes SUCCESS or DENIED", [REC0, REC1, 5]),
    ];
    let recs_now = || recs.map(|r| (gstate(&rmm, r), f.read_raw(PhysAddr(r), 4096)));
    let before = recs_now();
    for (rule, a) in rows {
        let r = rmi(&rmm, PSCI_COMPLETE, a);
        assert_eq!(r.x[0], ERROR_INPUT, "{rule}");
        assert_eq!(r.x[4], 0x4444_4444, "{rule}: x4 preserved");
        assert!(recs_now() == before, "{rule}: nothing changed");
    }
    assert_eq!(rmi(&rmm, PSCI_COMPLETE, &[REC0, REC1, 0]).x[0], SUCCESS);
    assert_eq!(rec_word(&rmm, REC1, layout::FLAGS), 1, "target runnable");
    assert_eq!(rec_word(&rmm, REC1, layout::PC), 0x8_8000);
    assert!(f.violations().is_empty());
}
