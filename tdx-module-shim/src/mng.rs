//! TD management leaves: TDH.MNG.CREATE, KEY.CONFIG, ADDCX, INIT
//! (tdx-module-abi.md §2, §5, §6.1, §7). Check order follows the module
//! source (`tdh_mng_create.c`, `tdh_mng_add_cx.c`, `tdh_mng_init.c`):
//! explicit TDR first, then TD state, then the other operands.

use core::sync::atomic::Ordering;

use cmon_measure::{Mrtd, Rtmr};

use crate::platform::TdxPlatform;
use crate::status::{Code, OperandId, Status, TdxResult, err};
use crate::td_params::{self, TD_PARAMS_LEN};
use crate::tdr::{self, NUM_TDCX};
use crate::types::{Hpa, KotState, Lifecycle, OpState, PageType, VmmRegs};
use crate::{MAX_HKIDS, Module, Tdcs, TryLock};

impl<P: TdxPlatform> Module<P> {
    /// TDH.MNG.CREATE (leaf 9): RCX = TDR, RDX = HKID.
    pub(crate) fn mng_create(&self, regs: &mut VmmRegs) -> TdxResult<Status> {
        let hkid = regs.rdx;
        if hkid >> 16 != 0 || !self.cfg.is_private_hkid(hkid) {
            return err(Code::OperandInvalid, OperandId::Rdx);
        }
        let hkid = hkid as usize % MAX_HKIDS;
        let g = self.lock_page(regs.rcx, OperandId::Rcx, true, PageType::Nda)?;
        let mut tdcs = self.tdcs[hkid]
            .try_lock()
            .ok_or(Status::with_operand(Code::OperandBusy, OperandId::Kot))?;
        if self.kot[hkid]
            .compare_exchange(
                KotState::Free as u8,
                KotState::Assigned as u8,
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_err()
        {
            return Err(Code::HkidNotFree.into());
        }
        // All checks passed.
        let tdr = g.hpa();
        self.plat.isolate_page(tdr);
        self.plat.zero_page(tdr);
        tdr::write(&self.plat, tdr, tdr::W_HKID, hkid as u64);
        tdr::write(
            &self.plat,
            tdr,
            tdr::W_LIFECYCLE,
            Lifecycle::HkidAssigned as u64,
        );
        *tdcs = Tdcs::new();
        g.set(PageType::Tdr, Hpa(0));
        Ok(Status::SUCCESS)
    }

    /// TDH.MNG.KEY.CONFIG (leaf 8): RCX = TDR; once per package. A package
    /// already configured (or a TD already KEYS_CONFIGURED) returns the
    /// warning `TDX_KEY_CONFIGURED`; other lifecycle states are
    /// `TDX_LIFECYCLE_STATE_INCORRECT`.
    pub(crate) fn mng_key_config(&self, lp: crate::Lp, regs: &mut VmmRegs) -> TdxResult<Status> {
        let g = self.lock_page(regs.rcx, OperandId::Rcx, true, PageType::Tdr)?;
        let tdr = g.hpa();
        let lc = Lifecycle::from_u64(tdr::read(&self.plat, tdr, tdr::W_LIFECYCLE));
        let bit = 1u64 << lp.package;
        let pkgs = tdr::read(&self.plat, tdr, tdr::W_PKG_CONFIG);
        match lc {
            Lifecycle::KeysConfigured => return Ok(Code::KeyConfigured.into()),
            Lifecycle::HkidAssigned if pkgs & bit != 0 => return Ok(Code::KeyConfigured.into()),
            Lifecycle::HkidAssigned => {}
            _ => return Err(Code::LifecycleStateIncorrect.into()),
        }
        tdr::write(&self.plat, tdr, tdr::W_PKG_CONFIG, pkgs | bit);
        if (pkgs | bit).count_ones() == self.cfg.num_packages {
            tdr::write(
                &self.plat,
                tdr,
                tdr::W_LIFECYCLE,
                Lifecycle::KeysConfigured as u64,
            );
        }
        Ok(Status::SUCCESS)
    }

    /// TDH.MNG.ADDCX (leaf 1): RCX = TDCX page, RDX = TDR.
    pub(crate) fn mng_add_cx(&self, regs: &mut VmmRegs) -> TdxResult<Status> {
        let g = self.lock_page(regs.rdx, OperandId::Rdx, true, PageType::Tdr)?;
        let tdr = g.hpa();
        if tdr::read(&self.plat, tdr, tdr::W_FATAL) != 0 {
            return Err(Code::TdFatal.into());
        }
        let lc = Lifecycle::from_u64(tdr::read(&self.plat, tdr, tdr::W_LIFECYCLE));
        if lc != Lifecycle::KeysConfigured {
            return Err(Code::TdKeysNotConfigured.into());
        }
        let n = tdr::read(&self.plat, tdr, tdr::W_NUM_TDCX) as usize;
        if n >= NUM_TDCX {
            return Err(Code::TdcxNumIncorrect.into());
        }
        let cx = self.lock_page(regs.rcx, OperandId::Rcx, true, PageType::Nda)?;
        // All checks passed. A zero page is an all-FREE SEPT root.
        self.plat.isolate_page(cx.hpa());
        self.plat.zero_page(cx.hpa());
        tdr::write(&self.plat, tdr, tdr::W_TDCX + n, cx.hpa().raw());
        tdr::write(&self.plat, tdr, tdr::W_NUM_TDCX, n as u64 + 1);
        self.inc_chldcnt(tdr);
        cx.set(PageType::Tdcx, tdr);
        Ok(Status::SUCCESS)
    }

    pub(crate) fn inc_chldcnt(&self, tdr: Hpa) {
        let c = tdr::read(&self.plat, tdr, tdr::W_CHLDCNT);
        tdr::write(&self.plat, tdr, tdr::W_CHLDCNT, c + 1);
    }

    /// TDH.MNG.INIT (leaf 21): RCX = TDR, RDX = TD_PARAMS (1024 B,
    /// 1024-aligned), copied once and validated ([`td_params::parse`]).
    /// OP_STATE UNINITIALIZED → INITIALIZED; MRTD context started, RTMRs
    /// zero, MRCONFIGID/MROWNER/MROWNERCONFIG copied verbatim (§7).
    pub(crate) fn mng_init(&self, regs: &mut VmmRegs) -> TdxResult<Status> {
        let g = self.lock_page(regs.rcx, OperandId::Rcx, true, PageType::Tdr)?;
        let (_, mut t) = self.lock_tdcs(g.hpa())?;
        if t.op_state != OpState::Uninitialized {
            return Err(Code::OpStateIncorrect.into());
        }
        let src = self.check_hpa(regs.rdx, TD_PARAMS_LEN as u64, OperandId::Rdx)?;
        let mut buf = [0u8; TD_PARAMS_LEN];
        self.plat
            .copy_from_vmm(src.raw(), &mut buf)
            .map_err(|_| Status::with_operand(Code::OperandInvalid, OperandId::Rdx))?;
        let p = td_params::parse(&buf)?;
        *t = Tdcs {
            op_state: OpState::Initialized,
            attributes: p.attributes,
            xfam: p.xfam,
            max_vcpus: p.max_vcpus,
            gpaw52: p.gpaw52,
            tsc_frequency: p.tsc_frequency,
            mr_config_id: p.mr_config_id,
            mr_owner: p.mr_owner,
            mr_owner_config: p.mr_owner_config,
            mrtd: Some(Mrtd::new()),
            mrtd_final: [0; 48],
            rtmr: [Rtmr::new(); 4],
            num_vcpus: 0,
            x2apic_ids: [0; td_params::MAX_VCPUS as usize],
            num_assoc_vcpus: 0,
            td_epoch: 1,
            notify_enables: 0,
            hp_lock_timeout: crate::md::HP_LOCK_TIMEOUT_DEFAULT,
        };
        Ok(Status::SUCCESS)
    }
}
