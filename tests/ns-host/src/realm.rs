//! Realm lifecycle without running the realm: every command a VMM uses to
//! build and tear down a realm (cca-rmm-abi.md §2, parameter layouts §4.1 and
//! §4.2), checked through RTT_READ_ENTRY, the statuses of commands that must
//! fail in the state reached, and finally every granule back to Non-secure
//! and zero.

use crate::checks::Report;
use crate::hw;
use crate::rmi::*;

/// Realm granules and NS parameter pages (NS DRAM, away from the other
/// checks' pools).
pub const BASE: u64 = 0x5100_0000;
pub const RD: u64 = BASE;
pub const RTT_L1: u64 = BASE + 0x1000;
pub const RTT_L2: u64 = BASE + 0x2000;
pub const RTT_L3: u64 = BASE + 0x3000;
pub const DATA: u64 = BASE + 0x4000;
pub const REC: u64 = BASE + 0x5000;
pub const DATA2: u64 = BASE + 0x6000;
/// Up to MAX_AUX REC auxiliary granules.
pub const AUX: u64 = BASE + 0x1_0000;
pub const REALM_PARAMS: u64 = BASE + 0x2_0000;
pub const REC_PARAMS: u64 = BASE + 0x2_1000;
pub const SRC: u64 = BASE + 0x2_2000;
/// The NS RmiRecRun page.
pub const RUN: u64 = BASE + 0x2_3000;
pub const MAX_AUX: u64 = 16;

/// IPA of the measured DATA granule; the unknown one follows it.
pub const DATA_IPA: u64 = 0x1000;

const ERROR_REALM: u64 = 2;
const ERROR_RTT: u64 = 4;
const RTT_UNASSIGNED: u64 = 0;
const RTT_ASSIGNED: u64 = 1;
const RTT_TABLE: u64 = 2;
const RIPAS_EMPTY: u64 = 0;
const RIPAS_RAM: u64 = 1;
const RIPAS_DESTROYED: u64 = 2;

fn put(pa: u64, off: u64, v: u64) {
    hw::write_u64(pa + off, v);
}

/// RmiRealmParams for a SHA-256 realm with a 39-bit IPA space, VMID 7,
/// and a personalization value.
pub fn realm_params() {
    write_realm_params(REALM_PARAMS, 7, RTT_L1);
    put(REALM_PARAMS, 0x400, 0x1122_3344_5566_7788); // RPV (not measured)
}

/// RmiRecParams for REC 0, runnable, entering at DATA_IPA.
pub fn rec_params(aux: u64) {
    hw::fill_page(REC_PARAMS, 0);
    put(REC_PARAMS, 0x000, 1); // RUNNABLE
    put(REC_PARAMS, 0x100, 0); // MPIDR of REC 0
    put(REC_PARAMS, 0x200, DATA_IPA); // PC
    put(REC_PARAMS, 0x800, aux);
    for i in 0..aux {
        put(REC_PARAMS, 0x808 + 8 * i, AUX + 0x1000 * i);
    }
}

pub fn rmi(fid: u64, a: [u64; 4]) -> [u64; 8] {
    hw::smc([fid, a[0], a[1], a[2], a[3], 0, 0, 0])
}

fn aux_granules(n: u64) -> impl Iterator<Item = u64> {
    (0..n.min(MAX_AUX)).map(|i| AUX + 0x1000 * i)
}

/// Run the lifecycle; results go to `r`.
pub fn run(r: &mut Report) {
    let s = rmi(RMI_REC_AUX_COUNT, [0; 4])[0];
    // REC_AUX_COUNT takes an RD; before one exists it must fail cleanly.
    r.check(
        "rec_aux_count_no_rd",
        s == ERROR_INPUT,
        format_args!("status {s}"),
    );

    let granules = [RD, RTT_L1, RTT_L2, RTT_L3, DATA, DATA2, REC];
    let ok = granules.iter().all(|&g| delegate(g) == SUCCESS);
    r.check(
        "realm_granules_delegated",
        ok,
        format_args!("{} granules", granules.len()),
    );

    realm_params();
    let s = rmi(RMI_REALM_CREATE, [RD, REALM_PARAMS, 0, 0])[0];
    r.check("realm_create", s == SUCCESS, format_args!("status {s:#x}"));
    let s = rmi(RMI_REALM_CREATE, [RD, REALM_PARAMS, 0, 0])[0];
    r.check(
        "realm_create_rd_in_use",
        s == ERROR_INPUT,
        format_args!("status {s:#x}"),
    );
    let s = undelegate(RD);
    r.check(
        "undelegate_live_rd",
        s == ERROR_INPUT,
        format_args!("status {s:#x}"),
    );

    let aux = rmi(RMI_REC_AUX_COUNT, [RD, 0, 0, 0]);
    let naux = aux[1];
    r.check(
        "rec_aux_count",
        aux[0] == SUCCESS && naux <= MAX_AUX,
        format_args!("{naux} aux granules"),
    );
    let ok = aux_granules(naux).all(|g| delegate(g) == SUCCESS);
    r.check("aux_granules_delegated", ok, format_args!("{naux}"));

    let s = rmi(RMI_RTT_CREATE, [RD, RTT_L3, 0, 3])[0];
    r.check(
        "rtt_create_skipping_level",
        s == ERROR_RTT | (1 << 8),
        format_args!("L3 under L1 -> {s:#x}"),
    );
    let a = rmi(RMI_RTT_CREATE, [RD, RTT_L2, 0, 2])[0];
    let b = rmi(RMI_RTT_CREATE, [RD, RTT_L3, 0, 3])[0];
    r.check(
        "rtt_create_l2_l3",
        a == SUCCESS && b == SUCCESS,
        format_args!("{a:#x} {b:#x}"),
    );
    let e = rmi(RMI_RTT_READ_ENTRY, [RD, DATA_IPA, 3, 0]);
    r.check(
        "read_entry_unassigned_empty",
        e[0] == SUCCESS && e[1] == 3 && e[2] == RTT_UNASSIGNED && e[4] == RIPAS_EMPTY,
        format_args!("level {} state {} ripas {}", e[1], e[2], e[4]),
    );
    let e = rmi(RMI_RTT_READ_ENTRY, [RD, 0, 2, 0]);
    r.check(
        "read_entry_table",
        e[0] == SUCCESS && e[1] == 2 && e[2] == RTT_TABLE && e[3] == RTT_L3,
        format_args!("L2 entry: state {} desc {:#x}", e[2], e[3]),
    );

    let i = rmi(RMI_RTT_INIT_RIPAS, [RD, 0, 0x3000, 0]);
    r.check(
        "rtt_init_ripas",
        i[0] == SUCCESS && i[1] == 0x3000,
        format_args!("status {:#x} top {:#x}", i[0], i[1]),
    );
    load_realm_code(SRC);
    let s = hw::smc([RMI_DATA_CREATE, RD, DATA, DATA_IPA, SRC, 2, 0, 0])[0];
    r.check(
        "data_create_bad_flags",
        s == ERROR_INPUT,
        format_args!("flags 2 -> {s:#x}"),
    );
    // x5 = 1: MEASURE_CONTENT.
    let s = hw::smc([RMI_DATA_CREATE, RD, DATA, DATA_IPA, SRC, 1, 0, 0])[0];
    r.check(
        "data_create_measured",
        s == SUCCESS,
        format_args!("status {s:#x}"),
    );
    let s = rmi(RMI_DATA_CREATE_UNKNOWN, [RD, DATA2, DATA_IPA + 0x1000, 0])[0];
    r.check(
        "data_create_unknown",
        s == SUCCESS,
        format_args!("status {s:#x}"),
    );
    let e = rmi(RMI_RTT_READ_ENTRY, [RD, DATA_IPA, 3, 0]);
    r.check(
        "read_entry_assigned_ram",
        e[0] == SUCCESS && e[2] == RTT_ASSIGNED && e[3] == DATA && e[4] == RIPAS_RAM,
        format_args!("state {} desc {:#x} ripas {}", e[2], e[3], e[4]),
    );
    let s = rmi(RMI_RTT_DESTROY, [RD, 0, 3, 0])[0];
    r.check(
        "rtt_destroy_live",
        s == ERROR_RTT | (3 << 8),
        format_args!("L3 with DATA -> {s:#x}"),
    );

    rec_params(naux.min(MAX_AUX));
    let s = rmi(RMI_REC_CREATE, [RD, REC, REC_PARAMS, 0])[0];
    r.check("rec_create", s == SUCCESS, format_args!("status {s:#x}"));
    let s = rmi(RMI_REALM_ACTIVATE, [RD, 0, 0, 0])[0];
    r.check(
        "realm_activate",
        s == SUCCESS,
        format_args!("status {s:#x}"),
    );
    let s = rmi(RMI_REALM_ACTIVATE, [RD, 0, 0, 0])[0];
    r.check(
        "realm_activate_twice",
        s & 0xFF == ERROR_REALM,
        format_args!("status {s:#x}"),
    );
    // A fresh DELEGATED granule, so that only the realm state is wrong.
    let spare = BASE + 0x7000;
    let d = delegate(spare);
    let s = hw::smc([RMI_DATA_CREATE, RD, spare, DATA_IPA + 0x2000, SRC, 1, 0, 0])[0];
    let u = undelegate(spare);
    r.check(
        "data_create_after_activate",
        d == SUCCESS && s & 0xFF == ERROR_REALM && u == SUCCESS,
        format_args!("status {s:#x}"),
    );
    run_payload(r);
    let s = rmi(RMI_REALM_DESTROY, [RD, 0, 0, 0])[0];
    r.check(
        "realm_destroy_live",
        s & 0xFF == ERROR_REALM,
        format_args!("with a REC and RTTs -> {s:#x}"),
    );

    // Teardown, innermost first.
    let a = rmi(RMI_REC_DESTROY, [REC, 0, 0, 0])[0];
    let d = rmi(RMI_DATA_DESTROY, [RD, DATA_IPA, 0, 0]);
    let d2 = rmi(RMI_DATA_DESTROY, [RD, DATA_IPA + 0x1000, 0, 0]);
    r.check(
        "rec_and_data_destroy",
        a == SUCCESS && d[0] == SUCCESS && d[1] == DATA && d2[1] == DATA2,
        format_args!("rec {a:#x} data {:#x} -> {:#x}, {:#x}", d[0], d[1], d2[1]),
    );
    let e = rmi(RMI_RTT_READ_ENTRY, [RD, DATA_IPA, 3, 0]);
    r.check(
        "read_entry_destroyed",
        e[0] == SUCCESS && e[2] == RTT_UNASSIGNED && e[4] == RIPAS_DESTROYED,
        format_args!("state {} ripas {}", e[2], e[4]),
    );
    let l3 = rmi(RMI_RTT_DESTROY, [RD, 0, 3, 0]);
    let l2 = rmi(RMI_RTT_DESTROY, [RD, 0, 2, 0]);
    r.check(
        "rtt_destroy",
        l3[0] == SUCCESS && l3[1] == RTT_L3 && l2[0] == SUCCESS && l2[1] == RTT_L2,
        format_args!(
            "L3 {:#x} -> {:#x}, L2 {:#x} -> {:#x}",
            l3[0], l3[1], l2[0], l2[1]
        ),
    );
    let s = rmi(RMI_REALM_DESTROY, [RD, 0, 0, 0])[0];
    r.check("realm_destroy", s == SUCCESS, format_args!("status {s:#x}"));

    let mut back = 0u64;
    let mut total = 0u64;
    for g in granules.into_iter().chain(aux_granules(naux)) {
        total += 1;
        if undelegate(g) == SUCCESS && crate::checks::page_is(g, 0) {
            back += 1;
        }
    }
    r.check(
        "realm_granules_back_to_ns_and_zero",
        back == total,
        format_args!("{back} of {total} granules"),
    );
}

unsafe extern "C" {
    static realm_code_start: u8;
    static realm_code_end: u8;
    static realm_hostcall_loop_start: u8;
    static realm_hostcall_loop_end: u8;
    static realm_attest_loop_start: u8;
    static realm_attest_loop_end: u8;
    static realm_psci_start: u8;
    static realm_psci_end: u8;
    static realm_gic_start: u8;
    static realm_gic_end: u8;
    static realm_timer_start: u8;
    static realm_timer_end: u8;
}

core::arch::global_asm!(include_str!("asm/realm_code.S"));

/// `pub fn $name(page)`: copy the payload between the assembly symbols
/// `$start` and `$end` (asm/realm_code.S) to the start of `page`.
macro_rules! payload_loader {
    ($(#[$doc:meta])* $name:ident, $start:ident, $end:ident) => {
        $(#[$doc])*
        pub fn $name(page: u64) {
            // SAFETY: taking the addresses of two symbols of this image.
            let range = unsafe { (&$start as *const u8 as u64, &$end as *const u8 as u64) };
            load_code(page, range);
        }
    };
}

payload_loader!(
    /// The lifecycle payload: RSI, host calls, UART, RIPAS change, SYSTEM_OFF.
    load_realm_code, realm_code_start, realm_code_end
);
payload_loader!(
    /// A loop of RSI_HOST_CALLs (benchmarks, stress).
    load_hostcall_loop, realm_hostcall_loop_start, realm_hostcall_loop_end
);
payload_loader!(
    /// Measurement extends and attestation tokens in a loop (benchmarks).
    load_attest_loop, realm_attest_loop_start, realm_attest_loop_end
);
payload_loader!(
    /// Two RECs: REC 0 starts REC 1 with PSCI CPU_ON.
    load_psci_pair, realm_psci_start, realm_psci_end
);
payload_loader!(
    /// Acknowledge a virtual interrupt through ICC_IAR1_EL1.
    load_gic_payload, realm_gic_start, realm_gic_end
);
payload_loader!(
    /// Arm the EL1 physical timer and acknowledge its injected interrupt.
    load_timer_payload, realm_timer_start, realm_timer_end
);

fn load_code(page: u64, (start, end): (u64, u64)) {
    hw::fill_page(page, 0);
    let mut off = 0;
    while start + off < end {
        hw::write_u64(page + off, hw::read_u64(start + off));
        off += 8;
    }
}

/// RmiRecExitReason values (cca-rmm-abi.md §8).
const EXIT_PSCI: u64 = 3;
pub const EXIT_HOST_CALL: u64 = 5;
const EXIT_RIPAS_CHANGE: u64 = 4;
const EXIT_SYNC: u64 = 0;
/// RmiRecEnterFlags.EMUL_MMIO.
const ENTER_EMUL_MMIO: u64 = 1;
/// The emulated UART's data register (unprotected IPA).
const UART_IPA: u64 = 0x40_0900_0000;
const EXIT_ESR: u64 = 0x900;
const EXIT_FAR: u64 = 0x908;
const EXIT_HPFAR: u64 = 0x910;
/// RecRun offsets (§4.3).
const ENTER_GPRS: u64 = 0x200;
pub const EXIT_REASON: u64 = 0x800;
const EXIT_GPRS: u64 = 0xA00;
const EXIT_IMM: u64 = 0xE00;

/// Run REC 0 of the active realm through its payload: two host calls with
/// the host's answer round-tripping through the realm, then PSCI SYSTEM_OFF,
/// after which the realm can no longer run.
pub fn run_payload(r: &mut Report) {
    hw::fill_page(RUN, 0);
    let s = rmi(RMI_REC_ENTER, [REC, RUN, 0, 0])[0];
    let reason = hw::read_u64(RUN + EXIT_REASON);
    let imm = hw::read_u64(RUN + EXIT_IMM) & 0xFFFF;
    let (g0, g1) = (
        hw::read_u64(RUN + EXIT_GPRS),
        hw::read_u64(RUN + EXIT_GPRS + 8),
    );
    r.check(
        "rec_enter_host_call",
        s == SUCCESS && reason == EXIT_HOST_CALL && imm == 0x1234,
        format_args!("status {s:#x} exit {reason} imm {imm:#x}"),
    );
    r.check(
        "realm_rsi_version",
        g0 == 0 && g1 == 0x1_0000,
        format_args!("RSI_VERSION in the realm -> status {g0}, lower {g1:#x}"),
    );
    hw::write_u64(RUN + ENTER_GPRS, 41);
    let s = rmi(RMI_REC_ENTER, [REC, RUN, 0, 0])[0];
    let reason = hw::read_u64(RUN + EXIT_REASON);
    let g0 = hw::read_u64(RUN + EXIT_GPRS);
    r.check(
        "host_call_round_trip",
        s == SUCCESS && reason == EXIT_HOST_CALL && g0 == 42,
        format_args!("host answered 41, realm returned {g0}"),
    );
    // The realm prints through the emulated UART: each store is an
    // emulatable data-abort exit (EC 0x24, ISV, WnR) carrying the byte in
    // gprs[0]; EMUL_MMIO completes it on the next entry.
    let mut line = [0u8; 96];
    let mut n = 0;
    let mut s = rmi(RMI_REC_ENTER, [REC, RUN, 0, 0])[0];
    while s == SUCCESS && hw::read_u64(RUN + EXIT_REASON) == EXIT_SYNC && n < line.len() {
        let esr = hw::read_u64(RUN + EXIT_ESR);
        // The faulting IPA: HPFAR.FIPA gives the page, FAR the offset in it
        // (the RMM exposes only FAR[11:0]).
        let page = (hw::read_u64(RUN + EXIT_HPFAR) >> 4) << 12;
        let ipa = page | hw::read_u64(RUN + EXIT_FAR);
        if esr >> 26 != 0x24 || esr & (1 << 24) == 0 || esr & (1 << 6) == 0 || ipa != UART_IPA {
            break;
        }
        line[n] = hw::read_u64(RUN + EXIT_GPRS) as u8;
        n += 1;
        hw::write_u64(RUN, ENTER_EMUL_MMIO);
        s = rmi(RMI_REC_ENTER, [REC, RUN, 0, 0])[0];
        hw::write_u64(RUN, 0);
    }
    let text = core::str::from_utf8(&line[..n]).unwrap_or("?");
    crate::hw::print(format_args!("realm says: {text}"));
    r.check(
        "realm_mmio_uart",
        text.starts_with("hello from a realm") && text.ends_with('\n'),
        format_args!("{n} bytes through emulated MMIO writes"),
    );
    // RIPAS change requested by the realm, applied by the host.
    let reason = hw::read_u64(RUN + EXIT_REASON);
    let (rb, rt, rv) = (
        hw::read_u64(RUN + 0xD00),
        hw::read_u64(RUN + 0xD08),
        hw::read_u64(RUN + 0xD10) & 0xFF,
    );
    r.check(
        "realm_ripas_change_exit",
        reason == EXIT_RIPAS_CHANGE && rb == 0x2000 && rt == 0x3000 && rv == RIPAS_EMPTY,
        format_args!("exit {reason}: [{rb:#x}, {rt:#x}) -> RIPAS {rv}"),
    );
    let sr = rmi(RMI_RTT_SET_RIPAS, [RD, REC, 0x2000, 0x3000]);
    let e = rmi(RMI_RTT_READ_ENTRY, [RD, 0x2000, 3, 0]);
    r.check(
        "rtt_set_ripas",
        sr[0] == SUCCESS && sr[1] == 0x3000 && e[2] == RTT_ASSIGNED && e[4] == RIPAS_EMPTY,
        format_args!(
            "status {:#x} reached {:#x}; entry state {} ripas {}",
            sr[0], sr[1], e[2], e[4]
        ),
    );
    let s = rmi(RMI_REC_ENTER, [REC, RUN, 0, 0])[0];
    let (g0, g1, g2) = (
        hw::read_u64(RUN + EXIT_GPRS),
        hw::read_u64(RUN + EXIT_GPRS + 8),
        hw::read_u64(RUN + EXIT_GPRS + 16),
    );
    r.check(
        "realm_ripas_change_accepted",
        s == SUCCESS && g0 == 0 && g1 == 0x3000 && g2 == 0,
        format_args!("realm saw status {g0}, reached {g1:#x}, response {g2} (ACCEPT = 0)"),
    );
    let s = rmi(RMI_REC_ENTER, [REC, RUN, 0, 0])[0];
    let reason = hw::read_u64(RUN + EXIT_REASON);
    let g0 = hw::read_u64(RUN + EXIT_GPRS);
    r.check(
        "realm_psci_system_off",
        s == SUCCESS && reason == EXIT_PSCI && g0 == 0x8400_0008,
        format_args!("exit {reason} FID {g0:#x}"),
    );
    let s = rmi(RMI_REC_ENTER, [REC, RUN, 0, 0])[0];
    r.check(
        "rec_enter_after_system_off",
        s == ERROR_REALM | (1 << 8),
        format_args!("status {s:#x}"),
    );
}
