//! The realm's EL1 timers across REC_ENTER (rmm::timer): the state reported
//! in RmiRecExit.cnt* (cca-rmm-abi.md §8), the EL2 masking of an asserted
//! timer while the REC runs, and the RMI_EXIT_IRQ given instead of running
//! when a timer's output changed since the host last saw it.

mod common;

use common::*;
use fake_platform::FakePlatform;
use rmm::rec::SysReg;
use rmm::timer::{TimerMask, ctl};
use rmm::{PhysAddr, RmiFid, Rmm};

const REC_ENTER: u64 = RmiFid::RecEnter as u64;
const EXIT_IRQ: u64 = 1;
const RSI_VERSION: u64 = 0xC400_0190;

/// An active realm with one runnable REC.
fn setup(rmm: &Rmm<'_, FakePlatform>) {
    create_realm(rmm);
    assert_eq!(create_rec_with(rmm, RD, REC0, &RecCfg::nth(0)), SUCCESS);
    assert_eq!(rmi(rmm, REALM_ACTIVATE, &[RD]).x[0], SUCCESS);
}

fn enter(rmm: &Rmm<'_, FakePlatform>) -> u64 {
    rmm.platform()
        .host_write(PhysAddr(RUN), &[0u8; 0x800])
        .unwrap();
    rmi(rmm, REC_ENTER, &[REC0, RUN]).x[0]
}

/// The realm programs its physical timer for count 1000 and its virtual
/// timer for 5000, then a physical IRQ exits it at count 1000.
fn arm_timers_then_irq(f: &FakePlatform) {
    f.push_realm_step(|_, s, _, _| {
        s[SysReg::CntpCtlEl0 as usize] = ctl::ENABLE | ctl::ISTATUS;
        s[SysReg::CntpCvalEl0 as usize] = 1000;
        s[SysReg::CntvCtlEl0 as usize] = ctl::ENABLE;
        s[SysReg::CntvCvalEl0 as usize] = 5000;
        IRQ_EXIT
    });
}

#[test]
fn asserted_timer_is_reported_then_masked_while_the_rec_runs() {
    let env = Env::new();
    let rmm = env.rmm();
    setup(&rmm);
    let f = rmm.platform();
    f.set_counter(1000);
    arm_timers_then_irq(f);
    assert_eq!(enter(&rmm), SUCCESS);
    let runs = f.realm_runs();
    assert_eq!(
        runs[0].s2.timer_mask,
        TimerMask::default(),
        "nothing asserted yet"
    );
    assert_eq!(exit_word(&rmm, 0), EXIT_IRQ);
    assert_eq!(
        exit_word(&rmm, 0x400),
        ctl::ENABLE | ctl::ISTATUS,
        "cntp_ctl"
    );
    assert_eq!(exit_word(&rmm, 0x408), 1000, "cntp_cval");
    assert_eq!(exit_word(&rmm, 0x410), ctl::ENABLE, "cntv_ctl");
    assert_eq!(exit_word(&rmm, 0x418), 5000, "cntv_cval");

    // Next entry, nothing changed: the REC runs with the physical timer's
    // interrupt masked at EL2 (the host injects it virtually instead).
    f.push_realm_step(|r, s, _, _| {
        // The realm's handler turns the timer off, then calls RSI.
        s[SysReg::CntpCtlEl0 as usize] = 0;
        r.gprs[0] = RSI_VERSION;
        r.gprs[1] = 1 << 16;
        sync(SMC, 0, 0)
    });
    assert_eq!(enter(&rmm), SUCCESS);
    let runs = f.realm_runs();
    assert_eq!(runs.len(), 2);
    assert_eq!(
        runs[1].s2.timer_mask,
        TimerMask {
            virt: false,
            phys: true
        }
    );
    // RSI_VERSION is handled inside the RMM, but the physical timer's
    // output dropped meanwhile: the host hears of it before the realm runs
    // on, and the realm did not run again.
    assert_eq!(exit_word(&rmm, 0), EXIT_IRQ);
    assert_eq!(exit_word(&rmm, 0x400), 0);
    assert_eq!(f.realm_runs().len(), 2);

    // Entered again: unmasked, the realm continues after its SMC.
    push_smc(f, &[RmiFid::Version as u64]);
    f.push_realm_exit(IRQ_EXIT);
    assert_eq!(enter(&rmm), SUCCESS);
    let runs = f.realm_runs();
    assert_eq!(runs[2].s2.timer_mask, TimerMask::default());
    assert_eq!(runs[2].regs_in.gprs[0], 0, "RSI_VERSION returned SUCCESS");
    assert!(f.violations().is_empty());
}

#[test]
fn expiry_while_the_host_runs_exits_irq_without_running_the_realm() {
    let env = Env::new();
    let rmm = env.rmm();
    setup(&rmm);
    let f = rmm.platform();
    f.set_counter(10);
    arm_timers_then_irq(f);
    assert_eq!(enter(&rmm), SUCCESS);
    assert_eq!(exit_word(&rmm, 0x410), ctl::ENABLE);
    // Count 5000 passes while the host runs: the virtual timer now fires.
    // Its ISTATUS in the saved context is stale (0) but the REC_ENTER sees
    // the new level, reports it and does not run the realm.
    f.set_counter(5000);
    assert_eq!(enter(&rmm), SUCCESS);
    assert_eq!(f.realm_runs().len(), 1, "the realm did not run");
    assert_eq!(exit_word(&rmm, 0), EXIT_IRQ);
    assert_eq!(
        exit_word(&rmm, 0x410),
        ctl::ENABLE | ctl::ISTATUS,
        "cntv_ctl"
    );
    assert_eq!(
        exit_word(&rmm, 0x400),
        ctl::ENABLE | ctl::ISTATUS,
        "cntp_ctl"
    );
    // Now the host knows: the realm runs with both masked.
    f.push_realm_exit(IRQ_EXIT);
    assert_eq!(enter(&rmm), SUCCESS);
    let runs = f.realm_runs();
    assert_eq!(
        runs[1].s2.timer_mask,
        TimerMask {
            virt: true,
            phys: true
        }
    );
}

#[test]
fn masked_or_disabled_timers_never_force_an_exit() {
    let env = Env::new();
    let rmm = env.rmm();
    setup(&rmm);
    let f = rmm.platform();
    f.set_counter(100);
    f.push_realm_step(|r, s, _, _| {
        // Expired but IMASK set; expired but disabled. Then an RSI call
        // the RMM handles itself.
        s[SysReg::CntpCtlEl0 as usize] = ctl::ENABLE | ctl::IMASK;
        s[SysReg::CntpCvalEl0 as usize] = 1;
        s[SysReg::CntvCtlEl0 as usize] = 0;
        s[SysReg::CntvCvalEl0 as usize] = 1;
        r.gprs[0] = RSI_VERSION;
        r.gprs[1] = 1 << 16;
        sync(SMC, 0, 0)
    });
    f.push_realm_exit(IRQ_EXIT);
    assert_eq!(enter(&rmm), SUCCESS);
    // No output changed, so the realm ran on after the RSI call.
    let runs = f.realm_runs();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[1].s2.timer_mask, TimerMask::default());
    assert_eq!(exit_word(&rmm, 0), EXIT_IRQ);
    assert_eq!(
        exit_word(&rmm, 0x400),
        ctl::ENABLE | ctl::IMASK | ctl::ISTATUS,
        "ISTATUS shows the condition even when masked"
    );
    assert_eq!(exit_word(&rmm, 0x410), 0, "disabled: no ISTATUS");
}
