//! `rmm::Platform` on real AArch64: GTSI calls are SMCs to EL3, granule
//! access goes through slot buffers.

use crate::{arch, slots};
use rmm::{El3Error, MemoryFault, PhysAddr, Platform};

pub const RMM_GTSI_DELEGATE: u64 = 0xC400_01B0;
pub const RMM_GTSI_UNDELEGATE: u64 = 0xC400_01B1;

#[derive(Debug)]
pub struct ArmPlatform;

fn el3_result(x0: u64) -> Result<(), El3Error> {
    El3Error::check(x0 as i64)
}

impl Platform for ArmPlatform {
    fn gtsi_delegate(&self, pa: PhysAddr) -> Result<(), El3Error> {
        el3_result(arch::smc([RMM_GTSI_DELEGATE, pa.0, 0, 0, 0, 0, 0, 0])[0])
    }

    fn gtsi_undelegate(&self, pa: PhysAddr) -> Result<(), El3Error> {
        el3_result(arch::smc([RMM_GTSI_UNDELEGATE, pa.0, 0, 0, 0, 0, 0, 0])[0])
    }

    fn zero_granule(&self, pa: PhysAddr) -> Result<(), MemoryFault> {
        slots::with_realm_granule(slots::Slot::Delegated, pa.0, slots::zero_page)
            .map_err(|()| MemoryFault(pa))
    }
}
