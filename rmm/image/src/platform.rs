//! `rmm::Platform` on real AArch64: GTSI calls are SMCs to EL3, granule and
//! host-memory access goes through per-CPU slot buffers (slots.rs), and
//! stage-2 TLB maintenance is broadcast (Inner Shareable).

use crate::{arch, slots};
use rmm::{
    El3Error, FpState, GicState, MemoryFault, NsAccessError, PhysAddr, Platform, RealmExit,
    RealmRegs, RealmSysregs, Slot, Stage2,
};

pub const RMM_GTSI_DELEGATE: u64 = 0xC400_01B0;
pub const RMM_GTSI_UNDELEGATE: u64 = 0xC400_01B1;

#[derive(Debug)]
pub struct ArmPlatform;

fn el3_result(x0: u64) -> Result<(), El3Error> {
    El3Error::check(x0 as i64)
}

impl Platform for ArmPlatform {
    type Mapping<'a> = slots::SlotMapping;
    type Sha2 = crate::sha::RmmSha2;

    fn gtsi_delegate(&self, pa: PhysAddr) -> Result<(), El3Error> {
        el3_result(arch::smc([RMM_GTSI_DELEGATE, pa.0, 0, 0, 0, 0, 0, 0])[0])
    }

    fn gtsi_undelegate(&self, pa: PhysAddr) -> Result<(), El3Error> {
        el3_result(arch::smc([RMM_GTSI_UNDELEGATE, pa.0, 0, 0, 0, 0, 0, 0])[0])
    }

    fn zero_granule(&self, pa: PhysAddr) -> Result<(), MemoryFault> {
        slots::zero_realm_granule(pa.0).map_err(|()| MemoryFault(pa))
    }

    fn map_granule(&self, pa: PhysAddr, slot: Slot) -> slots::SlotMapping {
        slots::map_realm(slot, pa.0)
    }

    fn read_ns(&self, pa: PhysAddr, buf: &mut [u8]) -> Result<(), NsAccessError> {
        slots::read_ns(pa.0, buf).map_err(|()| NsAccessError(pa))
    }

    fn write_ns(&self, pa: PhysAddr, buf: &[u8]) -> Result<(), NsAccessError> {
        slots::write_ns(pa.0, buf).map_err(|()| NsAccessError(pa))
    }

    fn tlbi_ipa(&self, vmid: u16, ipa: u64) {
        arch::tlbi_s2_ipa(vmid, ipa);
    }

    fn tlbi_vmid(&self, vmid: u16) {
        arch::tlbi_s2_vmid(vmid);
    }

    fn counter(&self) -> u64 {
        arch::isb();
        arch::read_sysreg!("cntpct_el0")
    }

    fn run_realm(
        &self,
        regs: &mut RealmRegs,
        sysregs: &mut RealmSysregs,
        fp: &mut FpState,
        gic: &mut GicState,
        s2: &Stage2,
    ) -> RealmExit {
        crate::realm_run::run(regs, sysregs, fp, gic, s2)
    }
}
