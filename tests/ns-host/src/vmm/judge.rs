//! The realm guest's checks: what the guest reported in host calls against
//! what the host itself did and saw.

use super::CONFIG_GUEST_RIM;
use super::build::{LINK_IPA, Realm, Teardown};
use super::state::{OBS, Obs, bit_set};
use crate::checks::Report;
use crate::hw::{self, println};

/// Probe ids and constants shared with tests/realm-guest (host.rs,
/// layout.rs, probes.rs, smp.rs, trap.rs).
mod probe {
    pub const CONFIG: usize = 1;
    pub const CPU_ON: usize = 2;
    pub const PING_PONG: usize = 3;
    pub const COUNTER: usize = 4;
    pub const RAM_DATA: usize = 5;
    pub const RAM_UNKNOWN: usize = 6;
    pub const EMPTY: usize = 7;
    pub const SET_EMPTY: usize = 8;
    pub const SET_EMPTY_SEA: usize = 9;
    pub const INJECTED_SEA: usize = 10;
    pub const DESTROYED: usize = 11;
    pub const SECONDARIES_DONE: usize = 12;
    pub const ATTEST_BAD_INPUT: usize = 13;
    pub const ATTEST_TOKEN: usize = 14;
    pub const SEALING: usize = 15;
}
const MAGIC: u64 = 0x7265_616C_6D21_0001;
const INCREMENTS: u64 = 20_000;
/// ESR_EL1 of the SEA the realm takes: EC 0x25, IL, DFSC 0x10.
const ESR_SEA: u64 = 0x25 << 26 | 1 << 25 | 0x10;
const ERROR_REC: u64 = 3;

/// One check per guest feature, then the teardown.
pub fn report(
    r: &mut Report,
    realm: &Realm,
    nrecs: usize,
    concurrent: bool,
    started: usize,
    t: Teardown,
) {
    let o: Obs = *OBS.lock();
    let res = |id: usize| o.results[id];
    let lines: u64 = o.uart_lines.iter().sum();
    r.check(
        "realm_guest_uart",
        o.uart_lines[0] >= 8 && o.uart_lines[1..nrecs].iter().all(|&l| l >= 1),
        format_args!(
            "{lines} lines ({} bytes through emulated PL011 MMIO exits), REC 0: {}",
            o.uart_bytes, o.uart_lines[0]
        ),
    );
    let c = res(probe::CONFIG);
    r.check(
        "realm_guest_rsi_config",
        c[1] == 0 && c[2] == 0x1_0000 && c[4] == 39 && c[5] == 0,
        format_args!(
            "RSI status {:#x}, version {:#x}, IPA width {}, hash algo {}",
            c[1], c[2], c[4], c[5]
        ),
    );
    rim_check(r, &o, realm);
    let on = res(probe::CPU_ON);
    r.check(
        "realm_guest_cpu_on",
        on[1] == nrecs as u64 && on[2] == 0 && o.cpu_on == nrecs as u64 - 1,
        format_args!(
            "guest runs {} RECs; host completed {} CPU_ONs with RMI_PSCI_COMPLETE, {} AFFINITY_INFOs",
            on[1], o.cpu_on, o.affinity
        ),
    );
    if concurrent {
        let p = res(probe::PING_PONG);
        r.check(
            "realm_guest_concurrent",
            p[1] == 1 && p[2] == p[3] && p[3] > 0 && started == nrecs - 1,
            format_args!(
                "{} of {} ping-pong rounds between REC 0 and RECs 1..{} through shared memory, \
                 each REC on its own host CPU",
                p[2],
                p[3],
                nrecs - 1
            ),
        );
    } else {
        println!(
            "[SKIP] realm_guest_concurrent: one host CPU runs the {nrecs} RECs in turn, \
             so they cannot meet in a ping-pong (run with -smp 2 or more)"
        );
    }
    let k = res(probe::COUNTER);
    r.check(
        "realm_guest_shared_counter",
        k[1] == nrecs as u64 * INCREMENTS && k[2] == k[1],
        format_args!(
            "{} atomic increments seen by REC 0, want {}",
            k[1],
            nrecs as u64 * INCREMENTS
        ),
    );
    let d = res(probe::RAM_DATA);
    r.check(
        "realm_guest_ripas_ram_data",
        d[2] == MAGIC && d[4] == 0 && d[5] == 1 && d[1] >= LINK_IPA,
        format_args!(
            "IPA {:#x} (measured image): read {:#x}, RIPAS {}",
            d[1], d[2], d[5]
        ),
    );
    let u = res(probe::RAM_UNKNOWN);
    r.check(
        "realm_guest_ripas_ram_unknown",
        u[2] == 0 && u[3] == 0 && u[5] == 1 && bit_set(&o.populated, u[1]),
        format_args!(
            "IPA {:#x}: RIPAS {}, exit to the host, DATA_CREATE_UNKNOWN, guest read {:#x}",
            u[1], u[5], u[2]
        ),
    );
    let e = res(probe::EMPTY);
    r.check(
        "realm_guest_ripas_empty_sea",
        e[2] == 1 && e[3] == ESR_SEA && e[4] == e[1] && e[5] == 0 && !bit_set(&o.exited, e[1]),
        format_args!(
            "IPA {:#x} RIPAS {}: SEA in the realm (ESR_EL1 {:#x}, FAR {:#x}), no host exit",
            e[1], e[5], e[3], e[4]
        ),
    );
    let s = res(probe::SET_EMPTY);
    let ss = res(probe::SET_EMPTY_SEA);
    let rc = o.ripas_change;
    r.check(
        "realm_guest_ipa_state_set",
        rc.base == s[1]
            && rc.top == s[1] + 0x1000
            && rc.value == 0
            && rc.status == 0
            && rc.reached == rc.top
            && rc.state == 1
            && rc.ripas == 0
            && s[2] == 0
            && s[3] == rc.top
            && s[4] == 0
            && s[5] == 0
            && ss[2] == 1
            && ss[3] == ESR_SEA
            && ss[4] == s[1],
        format_args!(
            "[{:#x}, {:#x}) -> EMPTY: RTT_SET_RIPAS {:#x} reached {:#x}, entry ASSIGNED EMPTY; \
             realm: status {}, response {}, then {} SEA",
            rc.base, rc.top, rc.status, rc.reached, s[2], s[4], ss[2]
        ),
    );
    let i = res(probe::INJECTED_SEA);
    r.check(
        "realm_guest_inject_sea",
        i[2] == 1 && i[3] == ESR_SEA && i[4] == i[1] && o.injected & !0xFFF == i[1] & !0xFFF,
        format_args!(
            "unprotected IPA {:#x} without a device: host set INJECT_SEA, realm took {} SEA",
            i[1], i[2]
        ),
    );
    let x = res(probe::DESTROYED);
    let dd = o.destroyed;
    let done = res(probe::SECONDARIES_DONE);
    r.check(
        "realm_guest_ripas_destroyed",
        dd.destroy_status == 0
            && dd.ipa == x[1]
            && x[2] == 0
            && x[3] == 0
            && x[4] == 2
            && dd.exit_ipa == x[1]
            && dd.inject_status == ERROR_REC
            && dd.reenter_status == 0
            && dd.reexit_ipa == x[1]
            && done[2] == 2,
        format_args!(
            "IPA {:#x}: DATA_DESTROY {:#x} -> RIPAS {}; realm access exited, INJECT_SEA -> {:#x} \
             (protected IPA), re-entry exits again at {:#x}; REC 1 stopped",
            x[1], dd.destroy_status, x[4], dd.inject_status, dd.reexit_ipa
        ),
    );
    r.check(
        "realm_guest_secondaries_off",
        done[3] == nrecs as u64 - 2 && o.cpu_off == nrecs as u64 - 2,
        format_args!(
            "{} RECs CPU_OFF, seen OFF by REC 0 through AFFINITY_INFO",
            done[3]
        ),
    );
    attest_checks(r, &o);
    let first = o.first_error.unwrap_or(("none", 0, 0));
    r.check(
        "realm_guest_system_off",
        o.system_off_by == Some(0) && o.guest_fatal.is_none() && o.errors == 0,
        format_args!(
            "SYSTEM_OFF from REC {:?}; guest fatal {:?}; {} host errors (first: {} {:#x} {:#x}); {} populate races",
            o.system_off_by, o.guest_fatal, o.errors, first.0, first.1, first.2, o.populate_races
        ),
    );
    r.check(
        "realm_guest_teardown",
        t.failed_commands == 0 && t.back == t.granules,
        format_args!(
            "{} of {} granules back to Non-secure and zero ({} failed destroy commands)",
            t.back, t.granules, t.failed_commands
        ),
    );
}

/// The RIM the guest read (RSI_MEASUREMENT_READ 0) against the one
/// `cargo xtask` computed with cmon-measure for this creation sequence.
fn rim_check(r: &mut Report, o: &Obs, realm: &Realm) {
    let want: [u64; 4] = core::array::from_fn(|i| hw::read_u64(CONFIG_GUEST_RIM + 8 * i as u64));
    let Some(got) = o.rim else {
        r.check(
            "realm_guest_rim",
            false,
            format_args!("the guest never reported its RIM"),
        );
        return;
    };
    if want == [0; 4] {
        println!(
            "[SKIP] realm_guest_rim: no expected RIM at {CONFIG_GUEST_RIM:#x} (not booted by cargo xtask)"
        );
        return;
    }
    r.check(
        "realm_guest_rim",
        got[0] == 0 && got[1..] == want,
        format_args!(
            "RSI_MEASUREMENT_READ(0) = {:016x}{:016x}{:016x}{:016x} equals the RIM cmon-measure \
             computed for {} image pages + {} RECs",
            got[1].swap_bytes(),
            got[2].swap_bytes(),
            got[3].swap_bytes(),
            got[4].swap_bytes(),
            realm.image_pages(),
            realm.nrecs()
        ),
    );
}

/// The realm's attestation and sealing results, and the token itself:
/// printed as `CCA-TOKEN-HEX` lines for `cargo xtask` to verify offline
/// (docs/attestation.md).
fn attest_checks(r: &mut Report, o: &Obs) {
    let b = o.results[probe::ATTEST_BAD_INPUT];
    r.check(
        "realm_guest_attest_bad_input",
        b[2] > 0 && b[1] == (1 << b[2]) - 1,
        format_args!(
            "{} of {} bad RSI calls (CONTINUE before INIT, unaligned / unprotected / EMPTY \
             buffer, offset and size bounds, measurement index and size) got the spec's status",
            b[1].count_ones(),
            b[2]
        ),
    );
    let t = o.results[probe::ATTEST_TOKEN];
    let a = super::state::ATTEST.lock();
    let whole = a.received == a.len && a.len as u64 == t[4];
    r.check(
        "realm_guest_attest_token",
        t[1] == 0 && t[2] == 4096 && t[3] == 0 && t[4] > 0 && whole,
        format_args!(
            "INIT {} (bound {}), token {} bytes in {} CONTINUE calls ({} pre-empted by IRQs), \
             {} bytes handed to the host",
            t[1], t[2], t[4], t[5], t[6], a.received
        ),
    );
    if whole && a.len > 0 {
        for line in a.token[..a.len].chunks(64) {
            let mut hex = [0u8; 128];
            for (i, byte) in line.iter().enumerate() {
                const D: &[u8; 16] = b"0123456789abcdef";
                hex[2 * i] = D[(byte >> 4) as usize];
                hex[2 * i + 1] = D[(byte & 0xF) as usize];
            }
            let text = core::str::from_utf8(&hex[..2 * line.len()]).unwrap_or("");
            println!("CCA-TOKEN-HEX {text}");
        }
        println!("CCA-TOKEN-END {}", a.len);
    }
    drop(a);
    let s = o.results[probe::SEALING];
    let st = s[1];
    r.check(
        "realm_guest_sealing_key",
        st & 0xFF_FFFF == 0 && (st >> 24) & 0xFF == 1 && (st >> 32) & 0xFF == 0 && s[5] == 1,
        format_args!(
            "versions {}..{}; RIM-bound key fingerprint {:016x}, RPV-bound {:016x}, \
             re-derived equal; next version refused (status {})",
            s[2] >> 32,
            s[2] & 0xFFFF_FFFF,
            s[3],
            s[4],
            (st >> 24) & 0xFF
        ),
    );
    println!("SEALING-FINGERPRINT rim={:016x} rpv={:016x}", s[3], s[4]);
}
