//! `rmm::Platform` on real AArch64: GTSI calls are SMCs to EL3, granule and
//! host-memory access goes through per-CPU slot buffers (slots.rs), and
//! stage-2 TLB maintenance is broadcast (Inner Shareable).

use crate::{arch, slots};
use rmm::{
    El3Error, FpState, GicState, MemoryFault, NsAccessError, PhysAddr, Platform, RealmExit,
    RealmRegs, RealmSysregs, SealError, SealPolicy, Slot, Stage2,
};

pub const RMM_GTSI_DELEGATE: u64 = 0xC400_01B0;
pub const RMM_GTSI_UNDELEGATE: u64 = 0xC400_01B1;
/// Our EL3's vendor (SiP) sealing service (docs/sealing.md). Under another
/// EL3 (TF-A) these answer SMC_UNKNOWN and realms get RSI_ERROR_UNKNOWN.
const CMON_SIP_SEALING_VERSIONS: u64 = 0xC200_0010;
const CMON_SIP_SEALING_KEY: u64 = 0xC200_0011;
/// ISR_EL1.I and ISR_EL1.F.
const ISR_IRQ_FIQ: u64 = 1 << 7 | 1 << 6;

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

    fn irq_pending(&self) -> bool {
        arch::read_sysreg!("isr_el1") & ISR_IRQ_FIQ != 0
    }

    fn sealing_versions(&self) -> Option<(u32, u32)> {
        let r = arch::smc([CMON_SIP_SEALING_VERSIONS, 0, 0, 0, 0, 0, 0, 0]);
        (r[0] == 0).then(|| (r[1] as u32, r[2] as u32))
    }

    fn sealing_key(
        &self,
        policy: SealPolicy,
        identity: &[u8],
        version: u32,
    ) -> Result<[u8; 32], SealError> {
        let mut a = [0u64; 18];
        a[0] = CMON_SIP_SEALING_KEY;
        a[1] = match policy {
            SealPolicy::Rim => 0,
            SealPolicy::Rpv => 1,
        };
        a[2] = version.into();
        a[3] = identity.len().min(64) as u64;
        for (w, c) in a[4..12].iter_mut().zip(identity.chunks(8)) {
            let mut b = [0u8; 8];
            b[..c.len()].copy_from_slice(c);
            *w = u64::from_le_bytes(b);
        }
        let mut r = arm_rt::smc18(a);
        let out = match r[0] as i64 {
            0 => {
                let mut key = [0u8; 32];
                for (c, w) in key.chunks_exact_mut(8).zip(&r[1..5]) {
                    c.copy_from_slice(&w.to_le_bytes());
                }
                Ok(key)
            }
            -3 => Err(SealError::VersionTooNew),
            -4 => Err(SealError::VersionRetired),
            _ => Err(SealError::NotSupported),
        };
        r.fill(0);
        out
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
