//! Realm lifecycle without running the realm: the commands a VMM uses to
//! build and tear down a realm that the RMM implements so far (realm,
//! REC_AUX_COUNT and RTT commands) (cca-rmm-abi.md §2, parameter layouts §4.1 and
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
pub const REALM_PARAMS: u64 = BASE + 0x2_0000;
pub const MAX_AUX: u64 = 16;

/// IPA width 39: level-1 start, one root table (512 x 1 GiB).
const S2SZ: u64 = 39;
/// An IPA inside the first level-3 table.
pub const DATA_IPA: u64 = 0x1000;

const ERROR_REALM: u64 = 2;
const ERROR_RTT: u64 = 4;
const RTT_TABLE: u64 = 2;
const RIPAS_EMPTY: u64 = 0;

fn put(pa: u64, off: u64, v: u64) {
    hw::write_u64(pa + off, v);
}

pub fn realm_params() {
    hw::fill_page(REALM_PARAMS, 0);
    put(REALM_PARAMS, 0x008, S2SZ);
    put(REALM_PARAMS, 0x030, 0); // hash_algo SHA-256
    put(REALM_PARAMS, 0x400, 0x1122_3344_5566_7788); // RPV (not measured)
    put(REALM_PARAMS, 0x800, 7); // VMID
    put(REALM_PARAMS, 0x808, RTT_L1);
    put(REALM_PARAMS, 0x810, 1); // rtt_level_start
    put(REALM_PARAMS, 0x818, 1); // rtt_num_start
}

pub fn rmi(fid: u64, a: [u64; 4]) -> [u64; 8] {
    hw::smc([fid, a[0], a[1], a[2], a[3], 0, 0, 0])
}

/// Run the lifecycle; results go to `r`.
pub fn run(r: &mut Report) {
    let aux = rmi(RMI_REC_AUX_COUNT, [0; 4]);
    // REC_AUX_COUNT takes an RD; before one exists it must fail cleanly.
    r.check(
        "rec_aux_count_no_rd",
        aux[0] == ERROR_INPUT,
        format_args!("status {}", aux[0]),
    );

    let granules = [RD, RTT_L1, RTT_L2, RTT_L3];
    let mut ok = true;
    for g in granules {
        ok &= delegate(g) == SUCCESS;
    }
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
        e[0] == SUCCESS && e[1] == 3 && e[2] == 0 && e[4] == RIPAS_EMPTY,
        format_args!("level {} state {} ripas {}", e[1], e[2], e[4]),
    );
    let e = rmi(RMI_RTT_READ_ENTRY, [RD, 0, 2, 0]);
    r.check(
        "read_entry_table",
        e[0] == SUCCESS && e[1] == 2 && e[2] == RTT_TABLE && e[3] == RTT_L3,
        format_args!("L2 entry: state {} desc {:#x}", e[2], e[3]),
    );
    let s = rmi(RMI_RTT_DESTROY, [RD, 0, 2, 0])[0];
    r.check(
        "rtt_destroy_live",
        s == ERROR_RTT | (2 << 8),
        format_args!("L2 with a live L3 -> {s:#x}"),
    );

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
    let s = rmi(RMI_REALM_DESTROY, [RD, 0, 0, 0])[0];
    r.check(
        "realm_destroy_live_rtts",
        s & 0xFF == ERROR_REALM,
        format_args!("status {s:#x}"),
    );

    // Teardown, innermost first.
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

    let mut back = true;
    for g in granules {
        back &= undelegate(g) == SUCCESS && crate::checks::page_is(g, 0);
    }
    r.check(
        "realm_granules_back_to_ns_and_zero",
        back,
        format_args!("{} granules", granules.len()),
    );
}
