//! The GICv3 virtual CPU interface end to end: the host injects a virtual
//! interrupt through RecRun.enter.gicv3_lrs (cca-rmm-abi.md §4.3), the RMM
//! loads it into ICH_LR0_EL2, the realm acknowledges it through its
//! (virtual) ICC_IAR1_EL1, and the exit reports the LR as active.

use crate::checks::Report;
use crate::hw;
use crate::realm::{EXIT_HOST_CALL, load_gic_payload};
use crate::rmi::SUCCESS;
use crate::stress::{Layout, RecSpec};

/// ICH_LR_EL2 fields: State [63:62] (1 pending, 2 active), Group [60],
/// Priority [55:48], vINTID [31:0].
const LR_PENDING: u64 = 1 << 62;
const LR_GROUP1: u64 = 1 << 60;
const VINTID: u64 = 42;
const ENTER_LRS: u64 = 0x308;
const EXIT_GPRS: u64 = 0xA00;
const EXIT_LRS: u64 = 0xB08;

pub fn run(r: &mut Report) {
    let l = Layout::for_cpu(5);
    let Some(naux) = l.build(
        load_gic_payload,
        &[RecSpec {
            mpidr: 0,
            runnable: true,
        }],
    ) else {
        r.check("gic_realm_built", false, format_args!("build failed"));
        return;
    };
    hw::write_u64(
        l.run() + ENTER_LRS,
        LR_PENDING | LR_GROUP1 | (0xA0 << 48) | VINTID,
    );
    let (s, reason) = l.enter(0);
    let intid = hw::read_u64(l.run() + EXIT_GPRS);
    let lr = hw::read_u64(l.run() + EXIT_LRS);
    r.check(
        "gic_virtual_interrupt_acked",
        s == SUCCESS && reason == EXIT_HOST_CALL && intid == VINTID,
        format_args!("realm's ICC_IAR1_EL1 -> {intid} (injected {VINTID} through LR0)"),
    );
    r.check(
        "gic_lr_active_on_exit",
        lr >> 62 == 2 && lr & 0xFFFF_FFFF == VINTID,
        format_args!("exit LR0 {lr:#x} (state active)"),
    );
    hw::write_u64(l.run() + ENTER_LRS, 0);
    let clean = l.teardown(naux, 1);
    r.check(
        "gic_realm_teardown",
        clean,
        format_args!("every granule back to NS and zero"),
    );
}
