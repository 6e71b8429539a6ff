//! Memory in every RIPAS state (cca-rmm-abi.md §7), each probe reported to
//! the host in an HC_RESULT host call and printed:
//!
//! * RAM with DATA (the measured image): plain access works;
//! * RAM without DATA: the access exits to the host, which populates the
//!   page with RMI_DATA_CREATE_UNKNOWN; the load is replayed and reads 0;
//! * EMPTY: the RMM injects a synchronous external abort (no host exit);
//! * RAM changed to EMPTY by RSI_IPA_STATE_SET, which the host accepts with
//!   RMI_RTT_SET_RIPAS: then also an SEA;
//! * an unprotected IPA with no device: the host answers with INJECT_SEA;
//! * DESTROYED (the host DATA_DESTROYed a page the realm had filled): the
//!   access exits to the host, which may not inject an SEA for a protected
//!   IPA (REC_ENTER -> ERROR_REC), so the REC can never get past that load
//!   and the host stops running it.

use crate::console::println;
use crate::host::{self, probe};
use crate::layout::{NO_DEVICE_IPA, PAGE_DESTROY, PAGE_EMPTY, PAGE_TO_EMPTY, PAGE_UNKNOWN};
use crate::rsi::{self, Ripas};
use crate::trap::with_armed;
use crate::{arch, fatal};

const PAGE: u64 = 4096;
/// What a load returns if it faults (the register keeps its old value).
const UNTOUCHED: u64 = 0xDEAD_0000_DEAD_0000;
/// A word of the measured image.
static MAGIC: u64 = 0x7265_616C_6D21_0001;

fn ripas_name(r: u64) -> &'static str {
    [Ripas::Empty, Ripas::Ram, Ripas::Destroyed]
        .into_iter()
        .find(|&x| x as u64 == r)
        .map_or("?", Ripas::name)
}

fn state(ipa: u64) -> (u64, u64) {
    let (s, _, r) = rsi::ipa_state_get(ipa, ipa + PAGE);
    (s, r)
}

/// REC 0's probes.
pub fn run_rec0() {
    // RAM with DATA: a word of the image itself.
    let ipa = &MAGIC as *const u64 as u64;
    let (gs, r) = state(ipa & !(PAGE - 1));
    let v = arch::probe_load(ipa, UNTOUCHED);
    host::result(0, probe::RAM_DATA, &[ipa, v, MAGIC, gs, r]);
    println!(
        "realm guest: RIPAS {} page with DATA at {ipa:#x}: read {v:#x}",
        ripas_name(r)
    );

    // RAM without DATA: exits to the host, which populates it.
    let (gs, r) = state(PAGE_UNKNOWN);
    let (v, seen) = with_armed(PAGE_UNKNOWN, || arch::probe_load(PAGE_UNKNOWN, UNTOUCHED));
    host::result(0, probe::RAM_UNKNOWN, &[PAGE_UNKNOWN, v, seen.seas, gs, r]);
    println!(
        "realm guest: RIPAS {} page without DATA at {PAGE_UNKNOWN:#x}: read {v:#x} after the host populated it",
        ripas_name(r)
    );

    // EMPTY since creation: the RMM injects an SEA.
    let (_, r) = state(PAGE_EMPTY);
    let (_, seen) = with_armed(PAGE_EMPTY, || arch::probe_load(PAGE_EMPTY, UNTOUCHED));
    host::result(
        0,
        probe::EMPTY,
        &[PAGE_EMPTY, seen.seas, seen.esr, seen.far, r],
    );
    println!(
        "realm guest: RIPAS {} page at {PAGE_EMPTY:#x}: {} SEA (ESR_EL1 {:#x} FAR {:#x})",
        ripas_name(r),
        seen.seas,
        seen.esr,
        seen.far
    );

    // RAM with data -> EMPTY through RSI_IPA_STATE_SET.
    arch::poke(PAGE_TO_EMPTY, MAGIC);
    let (ss, reached, resp) =
        rsi::ipa_state_set(PAGE_TO_EMPTY, PAGE_TO_EMPTY + PAGE, Ripas::Empty, 0);
    let (_, r) = state(PAGE_TO_EMPTY);
    host::result(0, probe::SET_EMPTY, &[PAGE_TO_EMPTY, ss, reached, resp, r]);
    let (_, seen) = with_armed(PAGE_TO_EMPTY, || arch::probe_load(PAGE_TO_EMPTY, UNTOUCHED));
    host::result(
        0,
        probe::SET_EMPTY_SEA,
        &[PAGE_TO_EMPTY, seen.seas, seen.esr, seen.far],
    );
    println!(
        "realm guest: RSI_IPA_STATE_SET {PAGE_TO_EMPTY:#x} -> EMPTY: status {ss}, response {resp}, now {}: {} SEA",
        ripas_name(r),
        seen.seas
    );

    // Unprotected IPA without a device: the host injects an SEA.
    let (_, seen) = with_armed(NO_DEVICE_IPA, || arch::probe_load(NO_DEVICE_IPA, UNTOUCHED));
    host::result(
        0,
        probe::INJECTED_SEA,
        &[NO_DEVICE_IPA, seen.seas, seen.esr, seen.far],
    );
    println!(
        "realm guest: unprotected IPA {NO_DEVICE_IPA:#x} with no device: {} SEA injected by the host",
        seen.seas
    );
}

/// REC 1's last act: fill a page, have the host destroy it, touch it.
pub fn destroyed(rec: usize) -> ! {
    arch::poke(PAGE_DESTROY, MAGIC);
    let (_, [ds, ..]) = host::call(rec, host::HC_DESTROY, &[PAGE_DESTROY]);
    let (gs, r) = state(PAGE_DESTROY);
    host::result(rec, probe::DESTROYED, &[PAGE_DESTROY, ds, gs, r]);
    println!(
        "realm guest: REC {rec}: host destroyed {PAGE_DESTROY:#x} (status {ds}), RIPAS {}; touching it",
        ripas_name(r)
    );
    // The host never resumes this REC past the load (module docs).
    let (v, seen) = with_armed(PAGE_DESTROY, || arch::probe_load(PAGE_DESTROY, UNTOUCHED));
    fatal(
        4,
        format_args!("DESTROYED page access returned {v:#x} ({} SEA)", seen.seas),
    )
}
