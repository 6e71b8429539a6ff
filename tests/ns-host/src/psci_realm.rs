//! A realm with two RECs: REC 0 starts REC 1 with realm PSCI CPU_ON
//! (cca-rmm-abi.md §10), the host completes the request with
//! RMI_PSCI_COMPLETE and runs both.

use crate::checks::Report;
use crate::hw;
use crate::realm::{EXIT_HOST_CALL, load_psci_pair, rmi};
use crate::rmi::*;
use crate::stress::{Layout, RecSpec};

const EXIT_PSCI: u64 = 3;
const EXIT_GPRS: u64 = 0xA00;
const PSCI_CPU_ON: u64 = 0xC400_0003;

pub fn run(r: &mut Report) {
    let l = Layout::for_cpu(7);
    let recs = [
        RecSpec {
            mpidr: 0,
            runnable: true,
        },
        RecSpec {
            mpidr: 1,
            runnable: false,
        },
    ];
    let Some(naux) = l.build(load_psci_pair, &recs) else {
        r.check("two_rec_realm_built", false, format_args!("build failed"));
        return;
    };
    let gpr = |i: u64| hw::read_u64(l.run() + EXIT_GPRS + 8 * i);
    let (s, reason) = l.enter(1);
    r.check(
        "rec1_not_runnable",
        s & 0xFF == 3,
        format_args!("REC_ENTER of a REC never started -> {s:#x} (ERROR_REC)"),
    );
    let (s, reason0) = l.enter(0);
    let (fid, target) = (gpr(0), gpr(1));
    r.check(
        "realm_psci_cpu_on_exit",
        s == SUCCESS && reason0 == EXIT_PSCI && fid == PSCI_CPU_ON && target == 1,
        format_args!("exit {reason0} FID {fid:#x} target MPIDR {target} (after {reason})"),
    );
    let (s, _) = l.enter(0);
    r.check(
        "rec0_blocked_until_complete",
        s & 0xFF == 3,
        format_args!("REC_ENTER with a PSCI request pending -> {s:#x}"),
    );
    let c = rmi(RMI_PSCI_COMPLETE, [l.rec(0), l.rec(1), 0, 0])[0];
    r.check(
        "rmi_psci_complete",
        c == SUCCESS,
        format_args!("status {c:#x}"),
    );
    let (s, reason1) = l.enter(1);
    let ctx = gpr(0);
    r.check(
        "rec1_started_with_context",
        s == SUCCESS && reason1 == EXIT_HOST_CALL && ctx == 0x77,
        format_args!("REC 1 ran, host call with context id {ctx:#x}"),
    );
    let (s, reason0) = l.enter(0);
    let ret = gpr(0);
    r.check(
        "rec0_cpu_on_success",
        s == SUCCESS && reason0 == EXIT_HOST_CALL && ret == 0,
        format_args!("REC 0 saw PSCI return {}", ret as i64),
    );
    let clean = l.teardown(naux, 2);
    r.check(
        "two_rec_realm_teardown",
        clean,
        format_args!("every granule back to NS and zero"),
    );
}
