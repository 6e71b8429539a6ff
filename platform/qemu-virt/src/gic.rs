//! GICv3 set-up that belongs to EL3 (what TF-A's GICv3 driver does for a
//! BL33): the Secure-only configuration a Non-secure host cannot do itself.
//!
//! With two security states (`virt,secure=on`) the interrupt group registers
//! are Secure-only and every interrupt resets to Group 0, which is signalled
//! as FIQ and taken to EL3. We own no Secure interrupts, so EL3 makes every
//! SGI, PPI and SPI Non-secure Group 1, enables affinity routing and Group 1
//! NS in the distributor, wakes each CPU's redistributor and lets the lower
//! ELs use the system-register CPU interface (ICC_SRE_EL3). The host then
//! enables and routes what it wants, and a realm's EL1 timer PPIs reach
//! R-EL2 as IRQs while the realm runs (HCR_EL2.IMO). GICv3 architecture
//! specification (IHI 0069) §12.9 (GICD_CTLR, IGROUPR, IGRPMODR), §12.11
//! (GICR_TYPER, GICR_WAKER); QEMU map in qemu-platforms.md §2.3.

use crate::arch::{self, mmio_read32, mmio_read64, mmio_write32, read_sysreg, write_sysreg};

const GICD_BASE: u64 = 0x0800_0000;
const GICR_BASE: u64 = 0x080A_0000;
const GICR_REGION_END: u64 = GICR_BASE + 0xF6_0000;
/// RD_base and SGI_base frames of one redistributor.
const GICR_STRIDE: u64 = 0x2_0000;
const SGI_BASE: u64 = 0x1_0000;

const GICD_CTLR: u64 = 0x0;
const GICD_TYPER: u64 = 0x4;
const GICD_IGROUPR: u64 = 0x80;
const GICD_IGRPMODR: u64 = 0xD00;
/// Secure view of GICD_CTLR.
const CTLR_ENABLE_G1NS: u32 = 1 << 1;
const CTLR_ARE_S: u32 = 1 << 4;
const CTLR_ARE_NS: u32 = 1 << 5;
const CTLR_RWP: u32 = 1 << 31;

const GICR_TYPER: u64 = 0x8;
const GICR_WAKER: u64 = 0x14;
const TYPER_LAST: u64 = 1 << 4;
const WAKER_PROCESSOR_SLEEP: u32 = 1 << 1;
const WAKER_CHILDREN_ASLEEP: u32 = 1 << 2;

/// ICC_SRE_EL3: SRE | DFB | DIB | Enable (lower ELs may use ICC_SRE_EL2/EL1).
const ICC_SRE_EL3_INIT: u64 = 0xF;

/// Bounded register polls: a GIC that never completes is reported, not
/// waited for forever.
const POLL_LIMIT: u32 = 1_000_000;

fn wait_until(mut done: impl FnMut() -> bool, what: &str) {
    for _ in 0..POLL_LIMIT {
        if done() {
            return;
        }
    }
    crate::fatal(format_args!("GIC: {what} did not complete"));
}

/// Distributor set-up, once on the boot CPU.
pub fn init_distributor() {
    mmio_write32(GICD_BASE + GICD_CTLR, CTLR_ARE_S | CTLR_ARE_NS);
    wait_until(
        || mmio_read32(GICD_BASE + GICD_CTLR) & CTLR_RWP == 0,
        "GICD_CTLR write",
    );
    // INTIDs 32 .. 32 * (ITLinesNumber + 1) are SPIs; one bit each.
    let lines = (mmio_read32(GICD_BASE + GICD_TYPER) & 0x1F) + 1;
    for n in 1..lines {
        mmio_write32(GICD_BASE + GICD_IGROUPR + 4 * u64::from(n), u32::MAX);
        mmio_write32(GICD_BASE + GICD_IGRPMODR + 4 * u64::from(n), 0);
    }
    mmio_write32(
        GICD_BASE + GICD_CTLR,
        CTLR_ARE_S | CTLR_ARE_NS | CTLR_ENABLE_G1NS,
    );
    wait_until(
        || mmio_read32(GICD_BASE + GICD_CTLR) & CTLR_RWP == 0,
        "GICD_CTLR write",
    );
}

/// The running CPU's redistributor (GICR_TYPER.Affinity_Value = its MPIDR
/// affinity, Aff3.Aff2.Aff1.Aff0).
fn this_redistributor() -> Option<u64> {
    let mpidr = read_sysreg!("mpidr_el1");
    let aff = ((mpidr >> 32) & 0xFF) << 24 | (mpidr & 0xFF_FFFF);
    let mut rd = GICR_BASE;
    while rd < GICR_REGION_END {
        let typer = mmio_read64(rd + GICR_TYPER);
        if typer >> 32 == aff {
            return Some(rd);
        }
        if typer & TYPER_LAST != 0 {
            break;
        }
        rd += GICR_STRIDE;
    }
    None
}

/// Per-CPU set-up: wake this CPU's redistributor, make its SGIs and PPIs
/// Non-secure Group 1, open the system-register interface to lower ELs.
pub fn init_this_cpu() {
    let Some(rd) = this_redistributor() else {
        crate::fatal(format_args!("GIC: no redistributor for this CPU"));
    };
    let waker = mmio_read32(rd + GICR_WAKER);
    mmio_write32(rd + GICR_WAKER, waker & !WAKER_PROCESSOR_SLEEP);
    wait_until(
        || mmio_read32(rd + GICR_WAKER) & WAKER_CHILDREN_ASLEEP == 0,
        "redistributor wake-up",
    );
    mmio_write32(rd + SGI_BASE + GICD_IGROUPR, u32::MAX);
    mmio_write32(rd + SGI_BASE + GICD_IGRPMODR, 0);
    write_sysreg!("S3_6_C12_C12_5", ICC_SRE_EL3_INIT);
    arch::isb();
}
