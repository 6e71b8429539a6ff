//! RMI_GRANULE_DELEGATE / RMI_GRANULE_UNDELEGATE, compliance-suite style.
//!
//! Failure conditions are listed in the priority order of DEN0137 1.0-rel0
//! ("Failure conditions" of each command): gran_align, gran_bound,
//! gran_state, then (delegate only) gran_gpt. Each row's input also violates
//! as many *later* conditions as possible, so the row proves the earlier one
//! wins: the status is ERROR_INPUT, EL3 is not called when the failing check
//! precedes the GTSI call, and no granule or GPT state changes.

mod common;

use common::*;
use fake_platform::{Call, FakePlatform, Pas};
use rmm::granule::GranuleSnapshot;
use rmm::{El3Error, GranuleState, PhysAddr, RmiStatus, Rmm};

type Setup = fn(&Rmm<'_, FakePlatform>);

struct Case {
    /// Spec failure-condition label (or why the row exists).
    rule: &'static str,
    setup: Setup,
    addr: u64,
    /// Expected number of GTSI calls made by the command itself.
    el3_calls: usize,
}

fn nothing(_: &Rmm<'_, FakePlatform>) {}

fn delegated_ns_granule(rmm: &Rmm<'_, FakePlatform>) {
    assert_eq!(status(rmm, DELEGATE, NS_GRANULE), 0);
}

fn delegated_and_secure_neighbour(rmm: &Rmm<'_, FakePlatform>) {
    delegated_ns_granule(rmm);
    rmm.platform()
        .set_pas(PhysAddr(NS_GRANULE + 0x1000), Pas::Secure);
}

fn ns_granule_is_rd(rmm: &Rmm<'_, FakePlatform>) {
    // Simulate an RD (RMI_REALM_CREATE arrives later): delegate, then set the
    // state under the granule lock as the realm code will.
    delegated_ns_granule(rmm);
    let mut g = rmm.granules().lock(PhysAddr(NS_GRANULE)).unwrap();
    g.set_state(GranuleState::Rd);
}

fn ns_granule_is_data(rmm: &Rmm<'_, FakePlatform>) {
    delegated_ns_granule(rmm);
    rmm.granules()
        .lock(PhysAddr(NS_GRANULE))
        .unwrap()
        .set_state(GranuleState::Data);
}

fn ns_granule_secure(rmm: &Rmm<'_, FakePlatform>) {
    rmm.platform().set_pas(PhysAddr(NS_GRANULE), Pas::Secure);
}

fn inject_unk(rmm: &Rmm<'_, FakePlatform>) {
    rmm.platform().fail_next_gtsi(El3Error::Unk);
}

fn inject_again(rmm: &Rmm<'_, FakePlatform>) {
    rmm.platform().fail_next_gtsi(El3Error::Again);
}

fn delegated_then_inject_bad_pas(rmm: &Rmm<'_, FakePlatform>) {
    delegated_ns_granule(rmm);
    rmm.platform().fail_next_gtsi(El3Error::BadPas);
}

fn delegated_then_inject_bad_addr(rmm: &Rmm<'_, FakePlatform>) {
    delegated_ns_granule(rmm);
    rmm.platform().fail_next_gtsi(El3Error::BadAddr);
}

/// Everything observable about the PA's granule and its neighbour.
fn observe(rmm: &Rmm<'_, FakePlatform>, addr: u64) -> Vec<(Option<GranuleSnapshot>, Option<Pas>)> {
    let g = addr & !0xFFF;
    [g, g.wrapping_add(0x1000)]
        .iter()
        .map(|&a| {
            (
                rmm.granules().snapshot(PhysAddr(a)),
                rmm.platform().pas(PhysAddr(a)),
            )
        })
        .collect()
}

fn run_table(fid: u64, cases: &[Case]) {
    let env = Env::new();
    for c in cases {
        let rmm = env.rmm();
        (c.setup)(&rmm);
        rmm.platform().clear_calls();
        let before = observe(&rmm, c.addr);
        let r = rmm.handle_rmi(&[fid, c.addr, 2, 3, 0xABCD, 5, 6, 7]);
        assert_eq!(r.x[0], RmiStatus::ErrorInput.to_raw(), "{}: status", c.rule);
        assert_eq!(r.x[1..4], [0, 0, 0], "{}: no outputs", c.rule);
        assert_eq!(r.x[4], 0xABCD, "{}: x4 preserved", c.rule);
        assert_eq!(
            rmm.platform().gtsi_calls(),
            c.el3_calls,
            "{}: EL3 calls",
            c.rule
        );
        assert_eq!(rmm.platform().zero_calls(), 0, "{}: no scrub", c.rule);
        assert_eq!(observe(&rmm, c.addr), before, "{}: state unchanged", c.rule);
        assert!(rmm.platform().violations().is_empty());
    }
}

#[test]
#[rustfmt::skip]
fn delegate_failure_conditions_in_priority_order() {
    run_table(
        DELEGATE,
        &[
            // 1. gran_align (also: granule DELEGATED, neighbour Secure)
            Case { rule: "gran_align +1", setup: delegated_and_secure_neighbour, addr: NS_GRANULE + 1, el3_calls: 0 },
            Case { rule: "gran_align +0x800", setup: nothing, addr: NS_GRANULE + 0x800, el3_calls: 0 },
            Case { rule: "gran_align in RMM image", setup: nothing, addr: RMM_BASE + 8, el3_calls: 0 },
            Case { rule: "gran_align u64::MAX", setup: nothing, addr: u64::MAX, el3_calls: 0 },
            // 2. gran_bound: in no manifest bank
            Case { rule: "gran_bound PA 0", setup: nothing, addr: 0, el3_calls: 0 },
            Case { rule: "gran_bound below bank 0", setup: nothing, addr: 0x3FFF_F000, el3_calls: 0 },
            Case { rule: "gran_bound gap after bank 0", setup: nothing, addr: 0x1_0000_0000, el3_calls: 0 },
            Case { rule: "gran_bound after bank 1", setup: nothing, addr: 0x2_0010_0000, el3_calls: 0 },
            Case { rule: "gran_bound top of PA space", setup: nothing, addr: !0xFFF, el3_calls: 0 },
            // 2. gran_bound: RMM-owned (already Realm PAS; EL3 must not be asked)
            Case { rule: "gran_bound RMM image base", setup: nothing, addr: RMM_BASE, el3_calls: 0 },
            Case { rule: "gran_bound RMM image middle", setup: nothing, addr: RMM_BASE + 0x80_0000, el3_calls: 0 },
            Case { rule: "gran_bound shared page", setup: nothing, addr: SHARED, el3_calls: 0 },
            // 3. gran_state (also: neighbour Secure)
            Case { rule: "gran_state DELEGATED", setup: delegated_and_secure_neighbour, addr: NS_GRANULE, el3_calls: 0 },
            Case { rule: "gran_state RD", setup: ns_granule_is_rd, addr: NS_GRANULE, el3_calls: 0 },
            Case { rule: "gran_state DATA", setup: ns_granule_is_data, addr: NS_GRANULE, el3_calls: 0 },
            // 4. gran_gpt: EL3 refuses; our state stays UNDELEGATED
            Case { rule: "gran_gpt Secure (BAD_PAS)", setup: ns_granule_secure, addr: NS_GRANULE, el3_calls: 1 },
            Case { rule: "gran_gpt not in GPT (BAD_ADDR)", setup: nothing, addr: NO_GPT_GRANULE, el3_calls: 1 },
            // EL3 failing for any other reason is also ERROR_INPUT, state unchanged
            Case { rule: "EL3 E_RMM_UNK", setup: inject_unk, addr: NS_GRANULE, el3_calls: 1 },
            Case { rule: "EL3 E_RMM_AGAIN", setup: inject_again, addr: NS_GRANULE, el3_calls: 1 },
        ],
    );
}

#[test]
#[rustfmt::skip]
fn undelegate_failure_conditions_in_priority_order() {
    run_table(
        UNDELEGATE,
        &[
            // 1. gran_align (granule is DELEGATED, so only alignment fails)
            Case { rule: "gran_align +1", setup: delegated_ns_granule, addr: NS_GRANULE + 1, el3_calls: 0 },
            Case { rule: "gran_align +0xFFF", setup: delegated_ns_granule, addr: NS_GRANULE + 0xFFF, el3_calls: 0 },
            Case { rule: "gran_align u64::MAX", setup: nothing, addr: u64::MAX, el3_calls: 0 },
            // 2. gran_bound
            Case { rule: "gran_bound PA 0", setup: nothing, addr: 0, el3_calls: 0 },
            Case { rule: "gran_bound gap after bank 0", setup: nothing, addr: 0x1_0000_0000, el3_calls: 0 },
            Case { rule: "gran_bound top of PA space", setup: nothing, addr: !0xFFF, el3_calls: 0 },
            Case { rule: "gran_bound RMM image base", setup: nothing, addr: RMM_BASE, el3_calls: 0 },
            Case { rule: "gran_bound shared page", setup: nothing, addr: SHARED, el3_calls: 0 },
            // 3. gran_state
            Case { rule: "gran_state UNDELEGATED", setup: nothing, addr: NS_GRANULE, el3_calls: 0 },
            Case { rule: "gran_state UNDELEGATED, no GPT", setup: nothing, addr: NO_GPT_GRANULE, el3_calls: 0 },
            Case { rule: "gran_state RD", setup: ns_granule_is_rd, addr: NS_GRANULE, el3_calls: 0 },
            Case { rule: "gran_state DATA", setup: ns_granule_is_data, addr: NS_GRANULE, el3_calls: 0 },
            // Not a spec condition (unreachable with a correct EL3): EL3 fails
            // the undelegation -> no panic, stays DELEGATED, ERROR_INPUT.
            Case { rule: "EL3 BAD_PAS", setup: delegated_then_inject_bad_pas, addr: NS_GRANULE, el3_calls: 1 },
            Case { rule: "EL3 BAD_ADDR", setup: delegated_then_inject_bad_addr, addr: NS_GRANULE, el3_calls: 1 },
        ],
    );
}

#[test]
fn delegate_moves_to_realm_pas_and_zeroes() {
    let env = Env::new();
    let rmm = env.rmm();
    let pa = PhysAddr(NS_GRANULE);
    rmm.platform().host_write(pa, &[0xA5; 4096]).unwrap();
    assert_eq!(rmm.granule_state(pa), Some(GranuleState::Undelegated));

    let r = call(&rmm, DELEGATE, pa.0);
    assert_eq!(r.x, [0, 0, 0, 0, 0x4444_4444]);
    assert_eq!(rmm.granule_state(pa), Some(GranuleState::Delegated));
    assert_eq!(rmm.platform().pas(pa), Some(Pas::Realm));
    assert!(rmm.platform().granule_is_zero(pa));
    assert!(rmm.platform().host_read(pa, 1).is_err(), "host must fault");
    // GPT change first, then the scrub (zeroing NS memory would be undone by the host).
    assert_eq!(
        rmm.platform().calls(),
        vec![Call::Delegate(pa, Ok(())), Call::Zero(pa)]
    );
    assert!(rmm.platform().violations().is_empty());
}

#[test]
fn undelegate_then_redelegate() {
    let env = Env::new();
    let rmm = env.rmm();
    let pa = PhysAddr(NS_GRANULE);
    for round in 0..3 {
        rmm.platform().host_write(pa, &[round + 1; 64]).unwrap();
        assert_eq!(status(&rmm, DELEGATE, pa.0), 0, "round {round}");
        assert_eq!(status(&rmm, UNDELEGATE, pa.0), 0, "round {round}");
        assert_eq!(rmm.granule_state(pa), Some(GranuleState::Undelegated));
        assert_eq!(rmm.platform().pas(pa), Some(Pas::NonSecure));
        // The host gets back a zeroed granule: nothing leaks across owners.
        assert_eq!(rmm.platform().host_read(pa, 4096).unwrap(), vec![0; 4096]);
    }
    assert_eq!(rmm.platform().gtsi_calls(), 6);
    assert!(rmm.platform().violations().is_empty());
}

#[test]
fn undelegate_after_el3_failure_can_be_retried() {
    let env = Env::new();
    let rmm = env.rmm();
    let pa = PhysAddr(NS_GRANULE);
    assert_eq!(status(&rmm, DELEGATE, pa.0), 0);
    rmm.platform().fail_next_gtsi(El3Error::BadPas);
    assert_eq!(
        status(&rmm, UNDELEGATE, pa.0),
        RmiStatus::ErrorInput.to_raw()
    );
    assert_eq!(rmm.granule_state(pa), Some(GranuleState::Delegated));
    assert_eq!(status(&rmm, UNDELEGATE, pa.0), 0);
    assert_eq!(rmm.granule_state(pa), Some(GranuleState::Undelegated));
}

#[test]
fn delegate_after_el3_failure_can_be_retried() {
    let env = Env::new();
    let rmm = env.rmm();
    rmm.platform().fail_next_gtsi(El3Error::Again);
    assert_eq!(status(&rmm, DELEGATE, NS_GRANULE), 1);
    assert_eq!(status(&rmm, DELEGATE, NS_GRANULE), 0);
}

#[test]
fn bank_and_carve_out_edges() {
    let env = Env::new();
    let rmm = env.rmm();
    let ok = [
        0x4000_0000,             // first granule of bank 0
        RMM_BASE - 0x1000,       // just below the RMM carve-out
        RMM_BASE + RMM_LEN,      // just above it (first NS DRAM granule)
        0xFFFF_F000,             // last granule of bank 0
        0x2_0000_0000,           // first granule of bank 1
        NO_GPT_GRANULE - 0x1000, // last GPT-covered granule of bank 1
    ];
    for pa in ok {
        assert_eq!(status(&rmm, DELEGATE, pa), 0, "{pa:#x}");
        assert_eq!(
            rmm.granule_state(PhysAddr(pa)),
            Some(GranuleState::Delegated)
        );
    }
    for pa in [RMM_BASE + RMM_LEN - 0x1000, SHARED, 0x1_0000_0000] {
        assert_eq!(status(&rmm, DELEGATE, pa), 1, "{pa:#x}");
    }
    for pa in ok {
        assert_eq!(status(&rmm, UNDELEGATE, pa), 0, "{pa:#x}");
    }
    assert!(rmm.platform().violations().is_empty());
}

#[test]
fn delegate_with_sve_hint_bit() {
    let env = Env::new();
    let rmm = env.rmm();
    assert_eq!(status(&rmm, DELEGATE | 1 << 16, NS_GRANULE), 0);
    assert_eq!(status(&rmm, UNDELEGATE | 1 << 16, NS_GRANULE), 0);
    assert_eq!(rmm.platform().gtsi_calls(), 2);
}

#[test]
fn reserved_granules_are_not_exposed() {
    let env = Env::new();
    let rmm = env.rmm();
    assert_eq!(rmm.granule_state(PhysAddr(RMM_BASE)), None);
    assert_eq!(rmm.granules().is_reserved(PhysAddr(SHARED)), Some(true));
    assert_eq!(
        rmm.granules().is_reserved(PhysAddr(NS_GRANULE)),
        Some(false)
    );
    assert_eq!(rmm.granules().is_reserved(PhysAddr(0)), None);
}

#[test]
fn delegate_of_granule_without_ram_is_refused_and_rolled_back() {
    // TF-A on QEMU reports a 3 GiB bank whatever `-m` is (rmm-el3-interface
    // §9): a host can name a PA the GPT covers but no RAM backs. The zero-fill
    // aborts; the RMM must not crash, must undo the GPT change and must leave
    // the granule UNDELEGATED.
    let env = Env::new();
    let rmm = env.rmm();
    let pa = PhysAddr(NS_GRANULE);
    rmm.platform().add_ram_hole(pa, 0x1000);
    let r = call(&rmm, DELEGATE, pa.0);
    assert_eq!(r.x, [1, 0, 0, 0, 0x4444_4444], "ERROR_INPUT, x4 preserved");
    assert_eq!(rmm.granule_state(pa), Some(GranuleState::Undelegated));
    assert_eq!(
        rmm.platform().pas(pa),
        Some(Pas::NonSecure),
        "GPT rolled back"
    );
    assert_eq!(
        rmm.platform().calls(),
        vec![
            Call::Delegate(pa, Ok(())),
            Call::Zero(pa),
            Call::Undelegate(pa, Ok(()))
        ]
    );
    // The neighbouring granule (with RAM) still delegates normally.
    assert_eq!(status(&rmm, DELEGATE, pa.0 + 0x1000), 0);
}
