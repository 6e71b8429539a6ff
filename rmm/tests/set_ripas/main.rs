//! The RIPAS change flow (cca-rmm-abi.md §7): RSI_IPA_STATE_SET from a
//! scripted realm (fake `run_realm`), RMI_EXIT_RIPAS_CHANGE, RMI_RTT_SET_RIPAS
//! and the RIPAS_RESPONSE completion on the next RMI_REC_ENTER.
//!
//! Layout (default realm, s2sz 40, VMID 7): an L2 RTT at IPA = 1 GiB and an
//! L3 RTT under its first entry. IPA..IPA+0x3000 RIPAS RAM (INIT_RIPAS);
//! DATA0 at IPA and DATA1 at IPA+0x1000 (assigned RAM), IPA+0x2000
//! unassigned RAM, the rest unassigned EMPTY. REC0 and REC1 runnable; a
//! second realm NEW_RD (NEW) owns NEW_REC.

#[path = "../common/mod.rs"]
mod common;
mod failures;
mod flow;

use common::*;
use fake_platform::{FakePlatform, Tlbi};
use rmm::rec::{SysReg, layout};
use rmm::{GranuleState, PhysAddr, RmiFid, Rmm};

const IPA: u64 = ACTIVE_IPA;
const L2_SIZE: u64 = 0x20_0000;
const PAR_END: u64 = 1 << 39;
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
    active_realm(rmm, &[0xAB; 4096], 1);
    rmm.platform().clear_tlbi_log();
}

/// Write RecRun.enter (flags, no GPRs) and call REC_ENTER(rec, RUN).
fn enter(rmm: &Rmm<'_, FakePlatform>, rec: u64, flags: u64) -> u64 {
    let mut b = vec![0u8; 0x800];
    b[..8].copy_from_slice(&flags.to_le_bytes());
    rmm.platform().host_write(PhysAddr(RUN), &b).unwrap();
    rmi(rmm, REC_ENTER, &[rec, RUN]).x[0]
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
