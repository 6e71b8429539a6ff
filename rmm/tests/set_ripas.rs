//! The RIPAS change flow (cca-rmm-abi.md §7): RSI_IPA_STATE_SET from a
//! scripted realm (fake `run_realm`), RMI_EXIT_RIPAS_CHANGE, RMI_RTT_SET_RIPAS
//! and the RIPAS_RESPONSE completion on the next RMI_REC_ENTER.
//!
//! Layout (default realm, s2sz 40, VMID 7): an L2 RTT at IPA = 1 GiB and an
//! L3 RTT under its first entry. IPA..IPA+0x3000 RIPAS RAM (INIT_RIPAS);
//! DATA0 at IPA and DATA1 at IPA+0x1000 (assigned RAM), IPA+0x2000
//! unassigned RAM, the rest unassigned EMPTY. REC0 and REC1 runnable; a
//! second realm NEW_RD (NEW) owns NEW_REC.

mod common;

use std::sync::{Arc, Barrier};

use common::*;
use fake_platform::{FakePlatform, Tlbi};
use rmm::platform::{ExitKind, RealmExit};
use rmm::rec::{SysReg, layout};
use rmm::{GranuleState, PhysAddr, RmiFid, Rmm};

const L2: u64 = pool(5);
const L3: u64 = pool(6);
const DATA0: u64 = pool(10);
const DATA1: u64 = pool(11);
const REC0: u64 = pool(30);
const REC1: u64 = pool(31);
const NEW_RD: u64 = pool(20);
const NEW_REC: u64 = pool(32);
const IPA: u64 = 0x4000_0000;
const L2_SIZE: u64 = 0x20_0000;
const PAR_END: u64 = 1 << 39;
const RUN: u64 = 0x9000_2000;
const VMID: u16 = 7;

const REC_ENTER: u64 = RmiFid::RecEnter as u64;
const SET_RIPAS: u64 = RmiFid::RttSetRipas as u64;
const ERROR_REC: u64 = 3;
const RIPAS_RESPONSE_REJECT: u64 = 1 << 4;

const RSI_IPA_STATE_SET: u64 = 0xC400_0197;
const RSI_IPA_STATE_GET: u64 = 0xC400_0198;
const EMPTY: u64 = 0;
const RAM: u64 = 1;
const DESTROYED: u64 = 2;
const CHANGE_DESTROYED: u64 = 1;
const ACCEPT: u64 = 0;
const REJECT: u64 = 1;
const EXIT_RIPAS_CHANGE: u64 = 4;
const EXIT_IRQ: u64 = 1;

fn setup(rmm: &Rmm<'_, FakePlatform>) {
    let f = rmm.platform();
    create_realm(rmm);
    for pa in [L2, L3, DATA0, DATA1] {
        delegate(rmm, pa);
    }
    assert_eq!(rmi(rmm, RTT_CREATE, &[RD, L2, IPA, 2]).x[0], SUCCESS);
    assert_eq!(rmi(rmm, RTT_CREATE, &[RD, L3, IPA, 3]).x[0], SUCCESS);
    let r = rmi(rmm, RTT_INIT_RIPAS, &[RD, IPA, IPA + 0x3000]);
    assert_eq!(r.x[..2], [SUCCESS, IPA + 0x3000]);
    f.host_write(PhysAddr(SRC), &[0xAB; 4096]).unwrap();
    for (pa, ipa) in [(DATA0, IPA), (DATA1, IPA + 0x1000)] {
        assert_eq!(rmi(rmm, DATA_CREATE, &[RD, pa, ipa, SRC, 0]).x[0], SUCCESS);
    }
    assert_eq!(create_rec_with(rmm, RD, REC0, &RecCfg::nth(0)), SUCCESS);
    assert_eq!(create_rec_with(rmm, RD, REC1, &RecCfg::nth(1)), SUCCESS);
    assert_eq!(rmi(rmm, REALM_ACTIVATE, &[RD]).x[0], SUCCESS);
    let other = RealmCfg {
        vmid: 8,
        rtt_base: pool(22),
        ..RealmCfg::default()
    };
    assert_eq!(create_realm_with(rmm, NEW_RD, &other), SUCCESS);
    let c = RecCfg {
        aux: aux_of(2),
        ..RecCfg::nth(0)
    };
    assert_eq!(create_rec_with(rmm, NEW_RD, NEW_REC, &c), SUCCESS);
    f.clear_tlbi_log();
}

/// Write RecRun.enter (flags, no GPRs) and call REC_ENTER(rec, RUN).
fn enter(rmm: &Rmm<'_, FakePlatform>, rec: u64, flags: u64) -> u64 {
    let mut b = vec![0u8; 0x800];
    b[..8].copy_from_slice(&flags.to_le_bytes());
    rmm.platform().host_write(PhysAddr(RUN), &b).unwrap();
    rmi(rmm, REC_ENTER, &[rec, RUN]).x[0]
}

fn exit_word(rmm: &Rmm<'_, FakePlatform>, off: u64) -> u64 {
    let b = rmm
        .platform()
        .host_read(PhysAddr(RUN + 0x800 + off), 8)
        .unwrap();
    u64::from_le_bytes(b.try_into().unwrap())
}

/// The REC's RIPAS-change words (base, top, value, flags, progress).
fn req_words(rmm: &Rmm<'_, FakePlatform>, rec: u64) -> [u64; 5] {
    std::array::from_fn(|i| {
        rmm.platform()
            .read_word(PhysAddr(rec), layout::RIPAS_CHANGE + i)
    })
}

/// The realm of `rec` issues RSI_IPA_STATE_SET; the REC exits with
/// RMI_EXIT_RIPAS_CHANGE carrying the request.
fn request(rmm: &Rmm<'_, FakePlatform>, rec: u64, base: u64, top: u64, ripas: u64, flags: u64) {
    push_smc(
        rmm.platform(),
        &[RSI_IPA_STATE_SET, base, top, ripas, flags],
    );
    assert_eq!(enter(rmm, rec, 0), SUCCESS);
    assert_eq!(exit_word(rmm, 0), EXIT_RIPAS_CHANGE);
    assert_eq!(
        [0x500, 0x508, 0x510].map(|o| exit_word(rmm, o)),
        [base, top, ripas],
        "exit.ripas_base/top/value"
    );
    assert_eq!(req_words(rmm, rec), [base, top, ripas, flags & 1, base]);
}

/// Re-enter `rec` with `flags` and return the realm's x0..x2 and PC as the
/// completed RSI call left them (the realm then takes an IRQ).
fn complete(rmm: &Rmm<'_, FakePlatform>, rec: u64, flags: u64) -> ([u64; 3], u64) {
    assert_eq!(enter(rmm, rec, flags), SUCCESS);
    assert_eq!(exit_word(rmm, 0), EXIT_IRQ);
    let run = *rmm.platform().realm_runs().last().unwrap();
    let g = run.regs_in.gprs;
    assert_eq!(req_words(rmm, rec), [0; 5], "request cleared");
    ([g[0], g[1], g[2]], run.regs_in.pc)
}

fn set_ripas(rmm: &Rmm<'_, FakePlatform>, rec: u64, base: u64, top: u64) -> [u64; 2] {
    let r = rmi(rmm, SET_RIPAS, &[RD, rec, base, top]);
    assert_eq!(r.x[4], top, "x4 (top) preserved");
    [r.x[0], r.x[1]]
}

/// RTT_READ_ENTRY at level 3: (walk level, state, desc, RIPAS).
fn entry(rmm: &Rmm<'_, FakePlatform>, ipa: u64) -> [u64; 4] {
    let r = rmi(rmm, RTT_READ_ENTRY, &[RD, ipa, 3]);
    assert_eq!(r.x[0], SUCCESS);
    [r.x[1], r.x[2], r.x[3], r.x[4]]
}

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

type Args = [u64; 4];
type Mutate = fn(&mut Args);

#[test]
fn rtt_set_ripas_failure_conditions_in_priority_order() {
    let env = Env::new();
    let rmm = env.rmm();
    setup(&rmm);
    let f = rmm.platform();
    request(&rmm, REC0, IPA, IPA + 0x3000, EMPTY, 0);
    // REC1 asks for a range whose walk stops at level 2 (no L3 RTT there).
    request(
        &rmm,
        REC1,
        IPA + L2_SIZE + 0x1000,
        IPA + L2_SIZE + 0x3000,
        RAM,
        0,
    );
    delegate(&rmm, pool(43));
    let valid: Args = [RD, REC0, IPA, IPA + 0x3000];
    let cases: &[(&str, Mutate, u64)] = &[
        ("rd_align", |a| a[0] += 8, ERROR_INPUT),
        ("rd_bound: RMM memory", |a| a[0] = RMM_BASE, ERROR_INPUT),
        ("rd_bound: no DRAM", |a| a[0] = 0x1000, ERROR_INPUT),
        ("rd_state: UNDELEGATED", |a| a[0] = pool(42), ERROR_INPUT),
        ("rd_state: DELEGATED", |a| a[0] = pool(43), ERROR_INPUT),
        ("rd_state: REC", |a| a[0] = REC0, ERROR_INPUT),
        ("rd_state: RTT", |a| a[0] = L3, ERROR_INPUT),
        ("rd_state: DATA", |a| a[0] = DATA0, ERROR_INPUT),
        (
            "rd_state beats rec_owner",
            |a| (a[0], a[1]) = (DATA0, NEW_REC),
            ERROR_INPUT,
        ),
        ("rec_align", |a| a[1] += 8, ERROR_INPUT),
        ("rec_bound: RMM memory", |a| a[1] = RMM_BASE, ERROR_INPUT),
        ("rec_bound: no DRAM", |a| a[1] = 0x1000, ERROR_INPUT),
        (
            "rec_gran_state: UNDELEGATED",
            |a| a[1] = pool(42),
            ERROR_INPUT,
        ),
        (
            "rec_gran_state: DELEGATED",
            |a| a[1] = pool(43),
            ERROR_INPUT,
        ),
        ("rec_gran_state: RD", |a| a[1] = RD, ERROR_INPUT),
        ("rec_gran_state: RTT", |a| a[1] = L3, ERROR_INPUT),
        ("rec_gran_state: DATA", |a| a[1] = DATA0, ERROR_INPUT),
        (
            "rec_gran_state: REC_AUX",
            |a| a[1] = aux_of(0)[0],
            ERROR_INPUT,
        ),
        ("rec_owner", |a| a[1] = NEW_REC, ERROR_REC),
        (
            "rec_owner beats size_valid",
            |a| (a[1], a[3]) = (NEW_REC, a[2]),
            ERROR_REC,
        ),
        ("size_valid: top == base", |a| a[3] = a[2], ERROR_INPUT),
        (
            "size_valid: top < base",
            |a| a[3] = a[2] - 0x1000,
            ERROR_INPUT,
        ),
        (
            "size_valid beats base_bound",
            |a| (a[2], a[3]) = (IPA + 0x2000, IPA),
            ERROR_INPUT,
        ),
        ("base_bound", |a| a[2] += 0x1000, ERROR_INPUT),
        ("base_bound: below", |a| a[2] -= 0x1000, ERROR_INPUT),
        (
            "base_bound beats base_align",
            |a| a[2] += 0x800,
            ERROR_INPUT,
        ),
        ("top_bound", |a| a[3] += 0x1000, ERROR_INPUT),
        (
            "top_bound: no request pending",
            |a| (a[0], a[1]) = (NEW_RD, NEW_REC),
            ERROR_INPUT,
        ),
        (
            "base_align: walk stops at level 2",
            |a| (a[1], a[2], a[3]) = (REC1, IPA + L2_SIZE + 0x1000, IPA + L2_SIZE + 0x3000),
            error_rtt(2),
        ),
        (
            "top_align: entry ends beyond top",
            |a| a[3] = a[2] + 0x800,
            error_rtt(3),
        ),
    ];
    let before = (
        world(&rmm, 50),
        req_words(&rmm, REC0),
        req_words(&rmm, REC1),
    );
    for (name, m, want) in cases {
        let mut a = valid;
        m(&mut a);
        let r = rmi(&rmm, SET_RIPAS, &a);
        assert_eq!(r.x[0], *want, "{name}");
        assert_eq!(r.x[1..4], [0, 0, 0], "{name}: no outputs");
        assert_eq!(r.x[4], a[3], "{name}: x4 preserved");
        let after = (
            world(&rmm, 50),
            req_words(&rmm, REC0),
            req_words(&rmm, REC1),
        );
        assert!(after == before, "{name}: nothing changed");
        assert!(f.tlbi_log().is_empty(), "{name}: no TLBI");
    }
    // "no request pending" for a REC of this realm: REC0 with its request
    // completed.
    assert_eq!(rmi(&rmm, SET_RIPAS, &valid).x[..2], [SUCCESS, IPA + 0x3000]);
    let _ = complete(&rmm, REC0, 0);
    assert_eq!(rmi(&rmm, SET_RIPAS, &valid).x[0], ERROR_INPUT);
    assert_eq!(
        rmi(&rmm, SET_RIPAS, &[RD, REC0, 0, 0x1000]).x[0],
        ERROR_INPUT
    );
    assert!(f.violations().is_empty());
}

#[test]
fn rtt_set_ripas_on_a_running_rec_is_error_rec() {
    let env = Env::new();
    let rmm = env.rmm();
    setup(&rmm);
    let f = rmm.platform();
    request(&rmm, REC0, IPA, IPA + 0x1000, EMPTY, 0);
    let inside = Arc::new(Barrier::new(2));
    let release = Arc::new(Barrier::new(2));
    let (a, b) = (inside.clone(), release.clone());
    f.push_realm_step(move |_, _, _, _| {
        a.wait();
        b.wait();
        RealmExit {
            kind: ExitKind::Irq,
            esr: 0,
            far: 0,
            hpfar: 0,
        }
    });
    std::thread::scope(|s| {
        let t = s.spawn(|| enter(&rmm, REC0, 0));
        inside.wait();
        let r = rmi(&rmm, SET_RIPAS, &[RD, REC0, IPA, IPA + 0x1000]);
        assert_eq!(r.x[..2], [ERROR_REC, 0]);
        release.wait();
        assert_eq!(t.join().unwrap(), SUCCESS);
    });
    assert_eq!(entry(&rmm, IPA), [3, 1, DATA0, RAM], "unchanged");
    assert_eq!(gstate(&rmm, REC0), (Some(GranuleState::Rec), 0));
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
