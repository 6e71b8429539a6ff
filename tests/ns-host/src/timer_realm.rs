//! The realm's EL1 physical timer end to end (rmm::timer): the realm arms
//! its timer and waits; its expiry reaches the host as RmiRecExit.cntp_ctl
//! showing ENABLE | ISTATUS, on the RMI_EXIT_IRQ of the physical interrupt
//! or on the first exit after ISTATUS is set; the host injects the timer PPI as a virtual interrupt
//! through RecRun.enter.gicv3_lrs; the RMM masks the physical interrupt
//! (CNTHCTL_EL2.CNTPMASK) so the realm runs and acknowledges it, turns the
//! timer off and reports, and the exit shows the timer off.

use crate::checks::Report;
use crate::hw;
use crate::realm::{EXIT_HOST_CALL, load_timer_payload};
use crate::rmi::SUCCESS;
use crate::stress::{Layout, RecSpec};

/// EL1 physical timer PPI (QEMU virt, as in the Linux DT binding: PPI 14).
const CNTP_PPI: u64 = 30;
const ENTER_FLAGS: u64 = 0x0;
const TRAP_WFI: u64 = 1 << 2;
const ENTER_LRS: u64 = 0x308;
const EXIT_IRQ: u64 = 1;
const EXIT_SYNC: u64 = 0;
const EXIT_GPRS: u64 = 0xA00;
const EXIT_LRS: u64 = 0xB08;
const EXIT_CNTP_CTL: u64 = 0xC00;
const CTL_ENABLE: u64 = 1;
const CTL_IMASK: u64 = 2;
const CTL_ISTATUS: u64 = 4;
const LR_PENDING: u64 = 1 << 62;
const LR_GROUP1: u64 = 1 << 60;
/// Entries allowed before the timer must have fired (each WFI the realm
/// executes exits to the host, TRAP_WFI, so a broken path cannot hang).
const MAX_WAITS: usize = 10_000;

/// QEMU virt GICv3 redistributors: RD_base + 0x20000 per CPU, SGI_base
/// frame at +0x10000 (qemu-platforms.md §2.3; GICv3 spec §12.11).
const GICR_BASE: u64 = 0x080A_0000;
const GICR_STRIDE: u64 = 0x2_0000;
const GICR_TYPER: u64 = 0x8;
const SGI_BASE: u64 = 0x1_0000;
const GICR_ISENABLER0: u64 = 0x100;
const GICR_ICENABLER0: u64 = 0x180;
const GICR_IPRIORITYR: u64 = 0x400;

/// This CPU's redistributor (GICR_TYPER.Affinity_Value = MPIDR affinity).
pub fn redistributor() -> Option<u64> {
    let aff = hw::mpidr();
    (0..8u64)
        .map(|i| GICR_BASE + i * GICR_STRIDE)
        .find(|rd| hw::read_u64(rd + GICR_TYPER) >> 32 == aff)
}

/// Enable (or disable) the EL1 physical timer PPI at this CPU's
/// redistributor, priority 0x80. EL3 made it Non-secure Group 1.
fn timer_ppi(rd: u64, on: bool) {
    ppi(rd, CNTP_PPI, on);
}

/// Enable (or disable) PPI `n` at redistributor `rd`, priority 0x80.
pub fn ppi(rd: u64, n: u64, on: bool) {
    let sgi = rd + SGI_BASE;
    let prio = sgi + GICR_IPRIORITYR + (n & !3);
    let shift = 8 * (n & 3);
    let v = hw::mmio_read32(prio) & !(0xFF << shift);
    hw::mmio_write32(prio, v | (0x80 << shift));
    let reg = if on { GICR_ISENABLER0 } else { GICR_ICENABLER0 };
    hw::mmio_write32(sgi + reg, 1 << n);
}

pub fn run(r: &mut Report) {
    let Some(rd) = redistributor() else {
        r.check("timer_realm_gic", false, format_args!("no redistributor"));
        return;
    };
    hw::gic_cpu_interface_on();
    timer_ppi(rd, true);
    let l = Layout::for_cpu(6);
    let spec = [RecSpec {
        mpidr: 0,
        runnable: true,
    }];
    let Some(naux) = l.build(load_timer_payload, &spec) else {
        r.check("timer_realm_built", false, format_args!("build failed"));
        return;
    };
    // Run until an exit reports the timer's output asserted. The host must
    // look at RmiRecExit.cntp_ctl on every exit, as KVM does: the expiry may
    // be reported by an RMI_EXIT_IRQ (the interrupt exited the realm) or by
    // whatever exit came first (here a trapped WFI) once ISTATUS is set,
    // after which the RMM masks the interrupt at EL2.
    hw::write_u64(l.run() + ENTER_FLAGS, TRAP_WFI);
    let mut waits = 0;
    let (mut last, mut ctl) = ((0, 0), 0);
    while waits < MAX_WAITS {
        last = l.enter(0);
        ctl = hw::read_u64(l.run() + EXIT_CNTP_CTL);
        let asserted = ctl & (CTL_ENABLE | CTL_IMASK | CTL_ISTATUS) == CTL_ENABLE | CTL_ISTATUS;
        if last.0 != SUCCESS || asserted || !(last.1 == EXIT_SYNC || last.1 == EXIT_IRQ) {
            break;
        }
        waits += 1;
    }
    r.check(
        "timer_expiry_reported",
        last.0 == SUCCESS
            && (last.1 == EXIT_IRQ || last.1 == EXIT_SYNC)
            && ctl & (CTL_ENABLE | CTL_ISTATUS) == CTL_ENABLE | CTL_ISTATUS,
        format_args!(
            "exit reason {} ({}) after {waits} other exits, cntp_ctl {ctl:#x}",
            last.1,
            if last.1 == EXIT_IRQ { "IRQ" } else { "SYNC" }
        ),
    );
    // Inject the timer PPI; the realm acknowledges it.
    hw::write_u64(l.run() + ENTER_FLAGS, 0);
    hw::write_u64(
        l.run() + ENTER_LRS,
        LR_PENDING | LR_GROUP1 | (0xA0 << 48) | CNTP_PPI,
    );
    let (s, reason) = l.enter(0);
    let intid = hw::read_u64(l.run() + EXIT_GPRS);
    let seen_ctl = hw::read_u64(l.run() + EXIT_GPRS + 8);
    let ctl = hw::read_u64(l.run() + EXIT_CNTP_CTL);
    let lr = hw::read_u64(l.run() + EXIT_LRS);
    r.check(
        "timer_virtual_interrupt_handled",
        s == SUCCESS
            && reason == EXIT_HOST_CALL
            && intid == CNTP_PPI
            && seen_ctl & CTL_ISTATUS != 0
            && ctl & CTL_ENABLE == 0
            && lr >> 62 == 0,
        format_args!(
            "realm acked INTID {intid} (cntp_ctl then {seen_ctl:#x}), exit cntp_ctl {ctl:#x}, LR0 {lr:#x}"
        ),
    );
    hw::write_u64(l.run() + ENTER_LRS, 0);
    timer_ppi(rd, false);
    r.check(
        "timer_realm_teardown",
        l.teardown(naux, 1),
        format_args!("every granule back to NS and zero"),
    );
}
