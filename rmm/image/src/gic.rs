//! GICv3 virtual CPU interface registers (ICH_*_EL2) for running a REC.
//!
//! EL3 switches ICH_HCR_EL2 and ICH_VMCR_EL2 per world, but not the list
//! registers or active-priority registers (rmm-el3-interface.md §4), so the
//! host's own LRs/APRs are saved around every realm run and restored after.

use crate::arch::{read_sysreg, write_sysreg};
use rmm::GicState;

/// ICH_HCR_EL2.En: enable the virtual CPU interface.
const HCR_EN: u64 = 1;

macro_rules! lr_regs {
    ($m:ident) => {
        $m!(0, "S3_4_C12_C12_0");
        $m!(1, "S3_4_C12_C12_1");
        $m!(2, "S3_4_C12_C12_2");
        $m!(3, "S3_4_C12_C12_3");
        $m!(4, "S3_4_C12_C12_4");
        $m!(5, "S3_4_C12_C12_5");
        $m!(6, "S3_4_C12_C12_6");
        $m!(7, "S3_4_C12_C12_7");
        $m!(8, "S3_4_C12_C13_0");
        $m!(9, "S3_4_C12_C13_1");
        $m!(10, "S3_4_C12_C13_2");
        $m!(11, "S3_4_C12_C13_3");
        $m!(12, "S3_4_C12_C13_4");
        $m!(13, "S3_4_C12_C13_5");
        $m!(14, "S3_4_C12_C13_6");
        $m!(15, "S3_4_C12_C13_7");
    };
}

/// AP0R0..3 then AP1R0..3.
macro_rules! apr_regs {
    ($m:ident) => {
        $m!(0, "S3_4_C12_C8_0");
        $m!(1, "S3_4_C12_C8_1");
        $m!(2, "S3_4_C12_C8_2");
        $m!(3, "S3_4_C12_C8_3");
        $m!(4, "S3_4_C12_C9_0");
        $m!(5, "S3_4_C12_C9_1");
        $m!(6, "S3_4_C12_C9_2");
        $m!(7, "S3_4_C12_C9_3");
    };
}

/// Implemented list registers and active-priority registers per group
/// (ICH_VTR_EL2.ListRegs + 1; 1 << (PREbits + 1 - 5)).
fn geometry() -> (usize, usize) {
    let vtr = read_sysreg!("S3_4_C12_C11_1");
    let lrs = (vtr & 0x1F) as usize + 1;
    let pre_bits = ((vtr >> 29) & 7) as usize + 1;
    (lrs.min(16), 1 << pre_bits.saturating_sub(5).min(2))
}

/// The LRs and APRs currently in the CPU.
#[derive(Clone, Copy, Debug, Default)]
pub struct Saved {
    lrs: [u64; 16],
    aprs: [u64; 8],
}

fn save_into(lrs: &mut [u64; 16], aprs: &mut [u64; 8]) {
    let (n, a) = geometry();
    macro_rules! lr {
        ($i:expr, $r:tt) => {
            if $i < n {
                lrs[$i] = read_sysreg!($r);
            }
        };
    }
    lr_regs!(lr);
    macro_rules! apr {
        ($i:expr, $r:tt) => {
            if $i % 4 < a {
                aprs[$i] = read_sysreg!($r);
            }
        };
    }
    apr_regs!(apr);
}

fn load_from(lrs: &[u64; 16], aprs: &[u64; 8]) {
    let (n, a) = geometry();
    macro_rules! lr {
        ($i:expr, $r:tt) => {
            if $i < n {
                write_sysreg!($r, lrs[$i]);
            }
        };
    }
    lr_regs!(lr);
    macro_rules! apr {
        ($i:expr, $r:tt) => {
            if $i % 4 < a {
                write_sysreg!($r, aprs[$i]);
            }
        };
    }
    apr_regs!(apr);
}

/// Save the host's LRs/APRs and load the REC's interface state.
pub fn enter(gic: &GicState) -> Saved {
    let mut host = Saved::default();
    save_into(&mut host.lrs, &mut host.aprs);
    load_from(&gic.lrs, &gic.aprs);
    write_sysreg!("S3_4_C12_C11_7", gic.vmcr); // ICH_VMCR_EL2
    write_sysreg!("S3_4_C12_C11_0", gic.hcr | HCR_EN); // ICH_HCR_EL2
    host
}

/// Save the REC's interface state and give the host its LRs/APRs back.
pub fn exit(gic: &mut GicState, host: &Saved) {
    gic.misr = read_sysreg!("S3_4_C12_C11_2"); // ICH_MISR_EL2
    gic.vmcr = read_sysreg!("S3_4_C12_C11_7");
    save_into(&mut gic.lrs, &mut gic.aprs);
    write_sysreg!("S3_4_C12_C11_0", 0); // virtual interface off outside the realm
    load_from(&host.lrs, &host.aprs);
}
