//! RTT fold and unfold on the hardware RMM, observed only through
//! RMI_RTT_READ_ENTRY (cca-rmm-abi.md §6.3, §6.4): a level-3 RTT of
//! unassigned RAM entries folds into an unassigned RAM level-2 entry; a
//! level-3 RTT of 512 assigned, contiguous, 2 MiB-aligned DATA granules
//! folds into an assigned level-2 block; RTT_CREATE under either unfolds it
//! into 512 entries that copy the parent; a table that is no longer
//! homogeneous does not fold. Then everything is torn down and every
//! granule is back to Non-secure and zero.

use crate::checks::{Report, page_is};
use crate::realm::rmi;
use crate::rmi::*;

const RMI_RTT_FOLD: u64 = 0xC400_0166;
const BASE: u64 = 0x5400_0000;
const RD: u64 = BASE;
const L1: u64 = BASE + 0x1000;
const L2: u64 = BASE + 0x2000;
const L3_RAM: u64 = BASE + 0x3000;
const L3_DATA: u64 = BASE + 0x4000;
const PARAMS: u64 = BASE + 0x5000;
/// 512 DATA granules, 2 MiB aligned, so they can back one level-2 block.
const DATA: u64 = BASE + 0x20_0000;
const PAGES: u64 = 512;
/// The IPA ranges of the two level-3 RTTs (level-2 entries 1 and 2).
const IPA_DATA: u64 = 0x20_0000;
const IPA_RAM: u64 = 0x40_0000;
const VMID: u64 = 60;

const UNASSIGNED: u64 = 0;
const ASSIGNED: u64 = 1;
const TABLE: u64 = 2;
const RIPAS_RAM: u64 = 1;
const ERROR_RTT: u64 = 4;

/// RTT_READ_ENTRY: (status, walk level, state, desc, ripas).
fn read(ipa: u64, level: u64) -> (u64, u64, u64, u64, u64) {
    let x = rmi(RMI_RTT_READ_ENTRY, [RD, ipa, level, 0]);
    (x[0], x[1], x[2], x[3], x[4])
}

fn data(i: u64) -> u64 {
    DATA + 0x1000 * i
}

pub fn run(r: &mut Report) {
    let tables = [RD, L1, L2, L3_RAM, L3_DATA];
    let mut ok = tables.iter().all(|&g| delegate(g) == SUCCESS);
    ok &= (0..PAGES).all(|i| delegate(data(i)) == SUCCESS);
    write_realm_params(PARAMS, VMID, L1);
    ok &= rmi(RMI_REALM_CREATE, [RD, PARAMS, 0, 0])[0] == SUCCESS;
    ok &= rmi(RMI_RTT_CREATE, [RD, L2, 0, 2])[0] == SUCCESS;
    ok &= rmi(RMI_RTT_CREATE, [RD, L3_RAM, IPA_RAM, 3])[0] == SUCCESS;
    ok &= rmi(RMI_RTT_CREATE, [RD, L3_DATA, IPA_DATA, 3])[0] == SUCCESS;
    r.check(
        "fold_realm_built",
        ok,
        format_args!("RD, 4 RTTs, 512 DATA granules delegated"),
    );
    if !ok {
        return;
    }
    fold_unassigned(r);
    fold_assigned(r);
    teardown(r);
}

/// 512 unassigned RAM entries fold into one unassigned RAM level-2 entry.
fn fold_unassigned(r: &mut Report) {
    let s = rmi(RMI_RTT_INIT_RIPAS, [RD, IPA_RAM, IPA_RAM + 0x20_0000, 0]);
    let f = rmi(RMI_RTT_FOLD, [RD, IPA_RAM, 3, 0]);
    let e = read(IPA_RAM + 0x5000, 3);
    r.check(
        "rtt_fold_unassigned_ram",
        s[0] == SUCCESS
            && f[0] == SUCCESS
            && f[1] == L3_RAM
            && e == (SUCCESS, 2, UNASSIGNED, 0, RIPAS_RAM),
        format_args!(
            "INIT_RIPAS {:#x}, fold {:#x} -> {:#x}; entry {e:x?}",
            s[0], f[0], f[1]
        ),
    );
    // Unfold: a new level-3 RTT copies the parent into all 512 entries.
    let c = rmi(RMI_RTT_CREATE, [RD, L3_RAM, IPA_RAM, 3])[0];
    let parent = read(IPA_RAM, 2);
    let first = read(IPA_RAM, 3);
    let last = read(IPA_RAM + 0x1F_F000, 3);
    r.check(
        "rtt_unfold_unassigned_ram",
        c == SUCCESS
            && parent == (SUCCESS, 2, TABLE, L3_RAM, 0)
            && first == (SUCCESS, 3, UNASSIGNED, 0, RIPAS_RAM)
            && last == first,
        format_args!("RTT_CREATE {c:#x}; L2 {parent:x?}; L3 first {first:x?} last {last:x?}"),
    );
}

/// 512 assigned RAM pages with contiguous, aligned PAs fold into a block.
fn fold_assigned(r: &mut Report) {
    let mut ok = rmi(RMI_RTT_INIT_RIPAS, [RD, IPA_DATA, IPA_DATA + 0x20_0000, 0])[0] == SUCCESS;
    ok &= (0..PAGES).all(|i| {
        rmi(
            RMI_DATA_CREATE_UNKNOWN,
            [RD, data(i), IPA_DATA + 0x1000 * i, 0],
        )[0] == SUCCESS
    });
    let f = rmi(RMI_RTT_FOLD, [RD, IPA_DATA, 3, 0]);
    let block = read(IPA_DATA, 2);
    let inside = read(IPA_DATA + 0x7000, 3);
    r.check(
        "rtt_fold_assigned_block",
        ok && f[0] == SUCCESS
            && f[1] == L3_DATA
            && block == (SUCCESS, 2, ASSIGNED, DATA, RIPAS_RAM)
            && inside == block,
        format_args!("fold {:#x} -> {:#x}; L2 entry {block:x?}", f[0], f[1]),
    );
    let c = rmi(RMI_RTT_CREATE, [RD, L3_DATA, IPA_DATA, 3])[0];
    let p7 = read(IPA_DATA + 0x7000, 3);
    let p511 = read(IPA_DATA + 0x1F_F000, 3);
    r.check(
        "rtt_unfold_assigned_block",
        c == SUCCESS
            && p7 == (SUCCESS, 3, ASSIGNED, data(7), RIPAS_RAM)
            && p511 == (SUCCESS, 3, ASSIGNED, data(511), RIPAS_RAM),
        format_args!("RTT_CREATE {c:#x}; page 7 {p7:x?}; page 511 {p511:x?}"),
    );
    // One page destroyed: the table is no longer homogeneous.
    let d = rmi(RMI_DATA_DESTROY, [RD, IPA_DATA + 0x5000, 0, 0]);
    let f = rmi(RMI_RTT_FOLD, [RD, IPA_DATA, 3, 0])[0];
    let still = read(IPA_DATA, 2);
    r.check(
        "rtt_fold_mixed_refused",
        d[0] == SUCCESS
            && d[1] == data(5)
            && f == ERROR_RTT | 3 << 8
            && still == (SUCCESS, 2, TABLE, L3_DATA, 0),
        format_args!("DATA_DESTROY {:#x}; fold -> {f:#x}; L2 {still:x?}", d[0]),
    );
}

fn teardown(r: &mut Report) {
    let mut ok = (0..PAGES)
        .filter(|&i| i != 5)
        .all(|i| rmi(RMI_DATA_DESTROY, [RD, IPA_DATA + 0x1000 * i, 0, 0])[0] == SUCCESS);
    ok &= rmi(RMI_RTT_DESTROY, [RD, IPA_DATA, 3, 0])[0] == SUCCESS;
    ok &= rmi(RMI_RTT_DESTROY, [RD, IPA_RAM, 3, 0])[0] == SUCCESS;
    ok &= rmi(RMI_RTT_DESTROY, [RD, 0, 2, 0])[0] == SUCCESS;
    ok &= rmi(RMI_REALM_DESTROY, [RD, 0, 0, 0])[0] == SUCCESS;
    let granules = [RD, L1, L2, L3_RAM, L3_DATA]
        .into_iter()
        .chain((0..PAGES).map(data));
    let (mut back, mut total) = (0, 0);
    for g in granules {
        total += 1;
        if undelegate(g) == SUCCESS && page_is(g, 0) {
            back += 1;
        }
    }
    r.check(
        "fold_realm_teardown",
        ok && back == total,
        format_args!("{back} of {total} granules back to NS and zero"),
    );
}
