//! RSI_IPA_STATE_SET input checks and the RIPAS change round trip: accept,
//! reject, and DESTROYED entries with and without CHANGE_DESTROYED.

use super::*;

#[test]
fn ipa_state_set_input_checks_error_input_without_exit() {
    let env = Env::new();
    let rmm = env.rmm();
    setup(&rmm);
    let f = rmm.platform();
    // In the ACS order (rsi_ipa_state_set_data.h).
    let cases: &[(&str, [u64; 4])] = &[
        ("addr_align", [IPA + 0x800, IPA + 0x2000, RAM, 0]),
        ("size_bound: top unaligned", [IPA, IPA + 0x1800, RAM, 0]),
        ("size_bound: top == base", [IPA, IPA, RAM, 0]),
        ("size_bound: top < base", [IPA + 0x2000, IPA, RAM, 0]),
        ("rgn_bound: top beyond PAR", [IPA, PAR_END + 0x1000, RAM, 0]),
        (
            "rgn_bound: unprotected",
            [PAR_END, PAR_END + 0x1000, EMPTY, 0],
        ),
        ("ripas_valid: DESTROYED", [IPA, IPA + 0x1000, DESTROYED, 0]),
        ("ripas_valid: 3", [IPA, IPA + 0x1000, 3, 0]),
        (
            "ripas_valid: upper bits",
            [IPA, IPA + 0x1000, 1 << 32 | RAM, 0],
        ),
        (
            "addr_align beats ripas_valid",
            [IPA + 8, IPA + 0x1000, 7, 0],
        ),
    ];
    for (_, a) in cases {
        push_smc(f, &[RSI_IPA_STATE_SET, a[0], a[1], a[2], a[3]]);
    }
    assert_eq!(enter(&rmm, REC0, 0), SUCCESS);
    assert_eq!(exit_word(&rmm, 0), EXIT_IRQ, "no RIPAS_CHANGE exit");
    let runs = f.realm_runs();
    assert_eq!(runs.len(), cases.len() + 1);
    for (i, (name, a)) in cases.iter().enumerate() {
        let g = runs[i + 1].regs_in.gprs;
        assert_eq!(g[0], 1, "{name}: RSI_ERROR_INPUT");
        assert_eq!(g[1..4], a[..3], "{name}: other registers preserved");
    }
    assert_eq!(req_words(&rmm, REC0), [0; 5]);
    // The whole PAR is a valid range; reserved flag bits are ignored.
    request(&rmm, REC0, 0, PAR_END, EMPTY, 0xFFFF_FFFE);
    assert_eq!(req_words(&rmm, REC0)[3], 0, "only CHANGE_DESTROYED is kept");
}

#[test]
fn ripas_change_round_trips_with_accept_and_reject() {
    let env = Env::new();
    let rmm = env.rmm();
    setup(&rmm);
    let f = rmm.platform();
    let rim = f.read_raw(PhysAddr(RD + 0x80), 64);
    let pc0 = RecCfg::nth(0).pc;

    // RIPAS_RESPONSE with nothing pending is ignored.
    push_smc(f, &[RSI_IPA_STATE_GET, IPA, IPA + 0x1000]);
    assert_eq!(enter(&rmm, REC0, RIPAS_RESPONSE_REJECT), SUCCESS);
    assert_eq!(f.realm_runs()[1].regs_in.gprs[..3], [0, IPA + 0x1000, RAM]);

    // 1. EMPTY over two DATA pages and an unassigned RAM page; the host
    //    applies it in two calls.
    request(&rmm, REC0, IPA, IPA + 0x3000, EMPTY, 0);
    let pc_after_smc = rmm.platform().read_word(PhysAddr(REC0), layout::PC);
    assert_eq!(pc_after_smc, pc0 + 8, "PC past the IPA_STATE_SET SMC");
    assert_eq!(
        set_ripas(&rmm, REC0, IPA, IPA + 0x1000),
        [SUCCESS, IPA + 0x1000]
    );
    assert_eq!(req_words(&rmm, REC0)[4], IPA + 0x1000, "progress");
    assert_eq!(f.tlbi_log(), vec![Tlbi::Ipa(VMID, IPA)], "valid -> EMPTY");
    assert_eq!(entry(&rmm, IPA), [3, 1, DATA0, EMPTY]);
    assert_eq!(entry(&rmm, IPA + 0x1000), [3, 1, DATA1, RAM], "not yet");
    // A stale base is refused; the right one continues.
    assert_eq!(set_ripas(&rmm, REC0, IPA, IPA + 0x3000), [ERROR_INPUT, 0]);
    assert_eq!(
        set_ripas(&rmm, REC0, IPA + 0x1000, IPA + 0x3000),
        [SUCCESS, IPA + 0x3000]
    );
    assert_eq!(
        f.tlbi_log(),
        vec![Tlbi::Ipa(VMID, IPA), Tlbi::Ipa(VMID, IPA + 0x1000)],
        "no TLBI for the unassigned entry"
    );
    assert_eq!(entry(&rmm, IPA + 0x1000), [3, 1, DATA1, EMPTY]);
    assert_eq!(entry(&rmm, IPA + 0x2000), [3, 0, 0, EMPTY]);
    // The whole range is done: nothing is left to apply.
    assert_eq!(
        set_ripas(&rmm, REC0, IPA + 0x3000, IPA + 0x4000),
        [ERROR_INPUT, 0]
    );
    assert_eq!(f.read_raw(PhysAddr(RD + 0x80), 64), rim, "RIM not extended");
    // Accepted: x0 = SUCCESS, x1 = top, x2 = ACCEPT, after the SMC.
    assert_eq!(
        complete(&rmm, REC0, 0),
        ([0, IPA + 0x3000, ACCEPT], pc0 + 8)
    );
    // The realm now takes an SEA on the EMPTY page (no host exit).
    f.push_realm_exit(sync(0x24 << 26 | IL | 0x07, 0x1234, (IPA >> 12) << 4));
    assert_eq!(enter(&rmm, REC0, 0), SUCCESS);
    let runs = f.realm_runs();
    assert_eq!(
        runs.last().unwrap().sysregs_in[SysReg::EsrEl1 as usize],
        0x25 << 26 | IL | 0x10,
        "SEA injected"
    );

    // 2. RAM over IPA..IPA+0x4000; the host does half and rejects.
    f.clear_tlbi_log();
    request(&rmm, REC0, IPA, IPA + 0x4000, RAM, 0);
    assert_eq!(
        set_ripas(&rmm, REC0, IPA, IPA + 0x2000),
        [SUCCESS, IPA + 0x2000]
    );
    assert!(f.tlbi_log().is_empty(), "invalid -> valid needs no TLBI");
    assert_eq!(entry(&rmm, IPA), [3, 1, DATA0, RAM], "mapped again");
    assert_eq!(entry(&rmm, IPA + 0x2000), [3, 0, 0, EMPTY]);
    let (x, _) = complete(&rmm, REC0, RIPAS_RESPONSE_REJECT);
    assert_eq!(x, [0, IPA + 0x2000, REJECT]);

    // 3. RAM, completed, then "rejected": a completed request is accepted.
    request(&rmm, REC0, IPA + 0x2000, IPA + 0x4000, RAM, 0);
    assert_eq!(
        set_ripas(&rmm, REC0, IPA + 0x2000, IPA + 0x4000),
        [SUCCESS, IPA + 0x4000]
    );
    let (x, _) = complete(&rmm, REC0, RIPAS_RESPONSE_REJECT);
    assert_eq!(x, [0, IPA + 0x4000, ACCEPT]);
    assert_eq!(entry(&rmm, IPA + 0x3000), [3, 0, 0, RAM]);

    // 4. EMPTY with no host progress and a reject: EMPTY is never rejected.
    request(&rmm, REC0, IPA, IPA + 0x1000, EMPTY, 0);
    let (x, _) = complete(&rmm, REC0, RIPAS_RESPONSE_REJECT);
    assert_eq!(x, [0, IPA, ACCEPT]);
    assert_eq!(entry(&rmm, IPA), [3, 1, DATA0, RAM], "unchanged");
    // RSI_IPA_STATE_GET sees what SET_RIPAS did.
    push_smc(f, &[RSI_IPA_STATE_GET, IPA, IPA + 0x10_0000]);
    assert_eq!(enter(&rmm, REC0, 0), SUCCESS);
    let g = f.realm_runs().last().unwrap().regs_in.gprs;
    assert_eq!(g[..3], [0, IPA + 0x4000, RAM]);
    assert_eq!(f.read_raw(PhysAddr(RD + 0x80), 64), rim, "RIM not extended");
    assert!(f.violations().is_empty());
}

#[test]
fn destroyed_entries_change_only_with_change_destroyed() {
    let env = Env::new();
    let rmm = env.rmm();
    setup(&rmm);
    let f = rmm.platform();
    let data2 = pool(12);
    delegate(&rmm, data2);
    // IPA+0x1000: DATA_DESTROY of assigned RAM leaves UNASSIGNED DESTROYED.
    assert_eq!(rmi(&rmm, DATA_DESTROY, &[RD, IPA + 0x1000]).x[0], SUCCESS);
    assert_eq!(entry(&rmm, IPA + 0x1000), [3, 0, 0, DESTROYED]);
    // IPA+0x2000: DATA_CREATE_UNKNOWN over a DESTROYED entry keeps the RIPAS,
    // so it becomes ASSIGNED DESTROYED.
    let cu = |ipa| rmi(&rmm, DATA_CREATE_UNKNOWN, &[RD, data2, ipa]).x[0];
    assert_eq!(cu(IPA + 0x2000), SUCCESS);
    assert_eq!(rmi(&rmm, DATA_DESTROY, &[RD, IPA + 0x2000]).x[0], SUCCESS);
    assert_eq!(cu(IPA + 0x2000), SUCCESS);
    assert_eq!(entry(&rmm, IPA + 0x2000), [3, 1, 0, DESTROYED]);
    f.clear_tlbi_log();

    // RAM without CHANGE_DESTROYED: no progress at a DESTROYED entry.
    request(&rmm, REC0, IPA + 0x1000, IPA + 0x3000, RAM, 0);
    let r = set_ripas(&rmm, REC0, IPA + 0x1000, IPA + 0x3000);
    assert_eq!(r, [error_rtt(3), 0]);
    assert_eq!(entry(&rmm, IPA + 0x1000), [3, 0, 0, DESTROYED]);
    assert_eq!(req_words(&rmm, REC0)[4], IPA + 0x1000, "no progress");
    let (x, _) = complete(&rmm, REC0, RIPAS_RESPONSE_REJECT);
    assert_eq!(x, [0, IPA + 0x1000, REJECT]);

    // EMPTY without CHANGE_DESTROYED: the walk stops at the DESTROYED entry
    // after changing the entry before it.
    request(&rmm, REC0, IPA, IPA + 0x3000, EMPTY, 0);
    assert_eq!(
        set_ripas(&rmm, REC0, IPA, IPA + 0x3000),
        [SUCCESS, IPA + 0x1000]
    );
    assert_eq!(entry(&rmm, IPA), [3, 1, DATA0, EMPTY]);
    assert_eq!(
        entry(&rmm, IPA + 0x2000),
        [3, 1, 0, DESTROYED],
        "beyond the stop"
    );
    assert_eq!(
        set_ripas(&rmm, REC0, IPA + 0x1000, IPA + 0x3000),
        [error_rtt(3), 0]
    );
    let (x, _) = complete(&rmm, REC0, 0);
    assert_eq!(x, [0, IPA + 0x1000, ACCEPT]);

    // With CHANGE_DESTROYED both DESTROYED entries become RAM; the assigned
    // one becomes a valid mapping of its DATA granule again.
    f.clear_tlbi_log();
    request(
        &rmm,
        REC0,
        IPA + 0x1000,
        IPA + 0x3000,
        RAM,
        CHANGE_DESTROYED,
    );
    let r = set_ripas(&rmm, REC0, IPA + 0x1000, IPA + 0x3000);
    assert_eq!(r, [SUCCESS, IPA + 0x3000]);
    assert_eq!(entry(&rmm, IPA + 0x1000), [3, 0, 0, RAM]);
    assert_eq!(entry(&rmm, IPA + 0x2000), [3, 1, data2, RAM]);
    assert!(f.tlbi_log().is_empty(), "invalid -> valid");
    let (x, _) = complete(&rmm, REC0, RIPAS_RESPONSE_REJECT);
    assert_eq!(x, [0, IPA + 0x3000, ACCEPT], "completed RAM is accepted");

    // And back to EMPTY: the valid page is invalidated. Liveness is
    // unchanged: the L3 RTT still counts its two DATA granules.
    request(&rmm, REC0, IPA + 0x2000, IPA + 0x3000, EMPTY, 0);
    let r = set_ripas(&rmm, REC0, IPA + 0x2000, IPA + 0x3000);
    assert_eq!(r, [SUCCESS, IPA + 0x3000]);
    assert_eq!(f.tlbi_log(), vec![Tlbi::Ipa(VMID, IPA + 0x2000)]);
    assert_eq!(entry(&rmm, IPA + 0x2000), [3, 1, data2, EMPTY]);
    assert_eq!(gstate(&rmm, L3), (Some(GranuleState::Rtt), 2));
    assert!(f.violations().is_empty());
}
