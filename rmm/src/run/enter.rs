//! RMI_REC_ENTER: locking the REC and its RD, and the entry checks in
//! spec order (module docs of `run`).

use core::sync::atomic::Ordering;

use crate::granule::GranuleGuard;
use crate::platform::{Platform, Slot};
use crate::realm::{RealmInfo, RealmState};
use crate::rec::layout;
use crate::rmi::Rmm;
use crate::types::{GranuleState, PhysAddr, RmiStatus};

use super::context::{LAST_EMULATABLE, LAST_UNPROTECTED, RecCtx};
use super::record::{ENTER_LEN, EnterWords, GIC_LRS, RecEnter, enter_flags};

/// ICH_HCR_EL2 bits the host may set (module docs).
const GIC_HCR_HOST_MASK: u64 = 0xFE | (1 << 14);

/// RecRun.enter GIC state check (module docs).
fn gic_state_valid(hcr: u64, lrs: &[u64; GIC_LRS], num_lrs: usize) -> bool {
    const HW: u64 = 1 << 61;
    const EOI: u64 = 1 << 41;
    const PINTID: u64 = 0x1FFF << 32;
    const RES0: u64 = (0b111 << 45) | (0b1111 << 56);
    const STATE_SHIFT: u32 = 62;
    if hcr & !GIC_HCR_HOST_MASK != 0 {
        return false;
    }
    for (i, &lr) in lrs.iter().enumerate() {
        if i >= num_lrs {
            if lr != 0 {
                return false;
            }
            continue;
        }
        if lr & HW != 0 || lr & PINTID & !EOI != 0 || lr & RES0 != 0 {
            return false;
        }
        if lr >> STATE_SHIFT == 0 {
            continue;
        }
        let vintid = lr & 0xFFFF_FFFF;
        if !(vintid < 1020 || (8192..1 << 24).contains(&vintid)) {
            return false;
        }
        let dup = lrs[..i.min(num_lrs)]
            .iter()
            .any(|&o| o >> STATE_SHIFT != 0 && o & 0xFFFF_FFFF == vintid);
        if dup {
            return false;
        }
    }
    true
}

impl<'a, P: Platform> Rmm<'a, P> {
    /// Lock a REC (`rec_align`, `rec_bound`, `rec_gran_state`: ERROR_INPUT)
    /// and its RD in lock order: the REC alone to learn its RD, then RD ->
    /// REC, re-checking that the REC still belongs to that RD (host race:
    /// start over). Waiting for a REC under its RD is allowed (crate docs).
    pub(crate) fn lock_rec_and_rd(
        &self,
        rec: u64,
    ) -> Result<(GranuleGuard<'a>, RealmInfo, GranuleGuard<'a>), RmiStatus> {
        let rec_pa = PhysAddr(rec);
        loop {
            let owner = {
                let g = self.lock_granule_in_state(rec_pa, GranuleState::Rec)?;
                self.platform.map_granule(g.pa(), Slot::Rec)[layout::RD].load(Ordering::Relaxed)
            };
            let rd_g = self
                .granules
                .lock(PhysAddr(owner))
                .ok_or(RmiStatus::ErrorInput)?;
            let rec_g = self.granules.lock(rec_pa).ok_or(RmiStatus::ErrorInput)?;
            let same = rec_g.state() == GranuleState::Rec
                && rd_g.state() == GranuleState::Rd
                && self.platform.map_granule(rec_pa, Slot::Rec)[layout::RD].load(Ordering::Relaxed)
                    == owner;
            if !same {
                continue;
            }
            let info = RealmInfo::load(&self.platform.map_granule(rd_g.pa(), Slot::Rd))
                .ok_or(RmiStatus::ErrorInput)?;
            return Ok((rd_g, info, rec_g));
        }
    }

    /// RMI_REC_ENTER(rec, run_ptr). Failure conditions in DEN0137 1.0-rel0
    /// priority order, as generated from the spec into TF-RMM's CBMC
    /// testbench `tb_rmi_rec_enter.c` (ACS `rmi_rec_enter` uses the same
    /// labels):
    ///
    /// 1. `run_align`, `run_bound` (not in a DRAM bank / RMM-owned),
    ///    `run_pas` (the one NS read of RecRun.enter faults) -> ERROR_INPUT
    /// 2. `rec_align`, `rec_bound`, `rec_gran_state` -> ERROR_INPUT
    /// 3. `realm_new` -> ERROR_REALM(0); `system_off` -> ERROR_REALM(1)
    /// 4. `rec_state`: the REC is running on another CPU (refcount 1, TF-RMM)
    ///    -> ERROR_REC
    /// 5. `rec_runnable`: RUNNABLE clear -> ERROR_REC
    /// 6. `rec_mmio`: EMUL_MMIO set but the last exit was not an emulatable
    ///    data abort -> ERROR_REC; likewise INJECT_SEA set but the last exit
    ///    was not a data abort at an unprotected IPA (cca-rmm-abi.md §8;
    ///    same status, so its place among the ERROR_REC rows is not
    ///    observable). The check applies even when INJECT_SEA makes
    ///    EMUL_MMIO ignored.
    /// 7. `rec_gicv3`: GIC state not as accepted (module docs) -> ERROR_REC
    /// 8. `rec_psci`: a PSCI request is pending -> ERROR_REC
    ///
    /// Unknown entry flag bits are ignored (TF-RMM). RIPAS_RESPONSE answers
    /// a pending RIPAS change (`ripas.rs`) and is ignored otherwise. On any
    /// failure nothing changes and RecRun.exit is not written.
    pub(crate) fn rec_enter(&self, rec: u64, run_ptr: u64) -> RmiStatus {
        let run_pa = PhysAddr(run_ptr);
        if !run_pa.is_granule_aligned() {
            return RmiStatus::ErrorInput; // run_align
        }
        if self.granules.is_reserved(run_pa) != Some(false) {
            return RmiStatus::ErrorInput; // run_bound
        }
        // The one and only read of RecRun.enter (no double fetch).
        let mut buf: EnterWords = [0; ENTER_LEN / 8];
        if self
            .platform
            .read_ns(run_pa, bytemuck::bytes_of_mut(&mut buf))
            .is_err()
        {
            return RmiStatus::ErrorInput; // run_pas
        }
        let enter = RecEnter::parse(&buf);
        let (rd_g, realm, mut rec_g) = match self.lock_rec_and_rd(rec) {
            Ok(v) => v, // rec_align, rec_bound, rec_gran_state
            Err(s) => return s,
        };
        match realm.state {
            RealmState::New => return RmiStatus::ErrorRealm(0), // realm_new
            RealmState::SystemOff => return RmiStatus::ErrorRealm(1), // system_off
            RealmState::Active => {}
        }
        if rec_g.refcount() != 0 {
            return RmiStatus::ErrorRec; // rec_state: running
        }
        let mut ctx = RecCtx::load(&self.platform, rec_g.pa());
        if !ctx.runnable {
            return RmiStatus::ErrorRec; // rec_runnable
        }
        if enter.flags & enter_flags::EMUL_MMIO != 0 && ctx.last.flags & LAST_EMULATABLE == 0 {
            return RmiStatus::ErrorRec; // rec_mmio
        }
        if enter.flags & enter_flags::INJECT_SEA != 0 && ctx.last.flags & LAST_UNPROTECTED == 0 {
            return RmiStatus::ErrorRec; // flags inconsistent (§8 INJECT_SEA)
        }
        let num_lrs = usize::from(self.features.gicv3_num_lrs).min(GIC_LRS);
        if !gic_state_valid(enter.gicv3_hcr, &enter.gicv3_lrs, num_lrs) {
            return RmiStatus::ErrorRec; // rec_gicv3
        }
        if ctx.psci[0] != 0 {
            return RmiStatus::ErrorRec; // rec_psci
        }
        if rec_g.inc_ref().is_err() {
            return RmiStatus::ErrorRec; // cannot happen: refcount was 0
        }
        // Running: no lock is held while the realm runs.
        drop(rec_g);
        drop(rd_g);

        let status = self.run_rec(&mut ctx, &enter, &realm, run_pa);

        if let Some(mut g) = self.granules.lock(ctx.rec) {
            let _ = g.dec_ref();
        }
        status
    }
}
