//! TDH.SYS.* leaves (tdx-module-abi.md §2, §5 module state, §6.2 metadata).

use core::sync::atomic::{AtomicU32, Ordering};

use crate::pamt::{self, MAX_TDMRS, PamtLevel, TdmrInfo};
use crate::platform::TdxPlatform;
use crate::status::{Code, OperandId, Status, TdxResult, err};
use crate::tdmr::check_tdmr;
use crate::types::{GIB, Hpa, KotState, Lp, PAGE_SIZE, PageType, SysState, VmmRegs};
use crate::{MAX_HKIDS, Module, td_params};

/// Alignment of the TDMR_INFO pointer array and of each entry (§2 leaf 45).
const TDMR_INFO_ALIGN: u64 = 512;

/// The module's global shared/exclusive try-lock (`global_lock` in the
/// module source): SYS.INIT/CONFIG/KEY.CONFIG take it exclusively,
/// LP.INIT shared, so LP.INIT can run on every LP at once. Contention is
/// `TDX_SYS_BUSY`.
#[derive(Debug, Default)]
pub(crate) struct GlobalLock(AtomicU32);

const EXCL: u32 = 1 << 31;

pub(crate) struct GlobalGuard<'a> {
    lock: &'a GlobalLock,
    exclusive: bool,
}

impl GlobalLock {
    pub(crate) fn try_lock(&self, exclusive: bool) -> TdxResult<GlobalGuard<'_>> {
        let ok = if exclusive {
            self.0
                .compare_exchange(0, EXCL, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
        } else {
            self.0
                .fetch_update(Ordering::Acquire, Ordering::Relaxed, |c| {
                    (c & EXCL == 0 && c < EXCL - 1).then_some(c + 1)
                })
                .is_ok()
        };
        if ok {
            Ok(GlobalGuard {
                lock: self,
                exclusive,
            })
        } else {
            Err(Code::SysBusy.into())
        }
    }
}

impl Drop for GlobalGuard<'_> {
    fn drop(&mut self) {
        if self.exclusive {
            self.lock.0.store(0, Ordering::Release);
        } else {
            self.lock.0.fetch_sub(1, Ordering::Release);
        }
    }
}

/// Metadata fields returned by TDH.SYS.RD and dumped by TDH.SYS.RDALL
/// (`sys_info.rs`): exactly the ones the sheet lists as read by Linux
/// (§6.2), one element each, in the order of the module's
/// `global_sys_lookup` table (class code, then field code), which is the
/// order SYS.RD's next field ID and RDALL's list walk. The next field ID
/// after the last one is −1.
pub const SYS_RD_FIELDS: [(u64, u64); 20] = [
    (0x0800_0001_0000_0003, 5),                     // MINOR_VERSION
    (0x0800_0001_0000_0004, 1),                     // MAJOR_VERSION
    (0x0800_0001_0000_0005, 0),                     // UPDATE_VERSION
    (0x0A00_0003_0000_0008, 1 << 18),               // TDX_FEATURES0: NO_RBP_MOD
    (0x9100_0001_0000_0008, MAX_TDMRS as u64),      // MAX_TDMRS
    (0x9100_0001_0000_0009, pamt::MAX_RSVD as u64), // MAX_RESERVED_PER_TDMR
    (0x9100_0001_0000_0010, pamt::PAMT_ENTRY_SIZE), // PAMT_4K_ENTRY_SIZE
    (0x9100_0001_0000_0011, pamt::PAMT_ENTRY_SIZE), // PAMT_2M_ENTRY_SIZE
    (0x9100_0001_0000_0012, pamt::PAMT_ENTRY_SIZE), // PAMT_1G_ENTRY_SIZE
    (0x9800_0001_0000_0000, PAGE_SIZE),             // TDR_BASE_SIZE
    (
        0x9800_0001_0000_0100,
        crate::tdr::NUM_TDCX as u64 * PAGE_SIZE,
    ), // TDCS_BASE_SIZE
    // TDVPS_BASE_SIZE: the TDVPR and its TDCX pages (vp.rs).
    (
        0x9800_0001_0000_0200,
        crate::vp::TDVPS_PAGES as u64 * PAGE_SIZE,
    ),
    (0x1900_0003_0000_0000, td_params::ATTRIBUTES_FIXED0),
    (0x1900_0003_0000_0001, td_params::ATTRIBUTES_FIXED1),
    (0x1900_0003_0000_0002, td_params::XFAM_FIXED0),
    (0x1900_0003_0000_0003, td_params::XFAM_FIXED1),
    (0x9900_0001_0000_0004, 0), // NUM_CPUID_CONFIG: none configurable
    (0x9900_0001_0000_0008, td_params::MAX_VCPUS as u64), // MAX_VCPUS_PER_TD
    // CPUID_CONFIG leaves/values: empty lists (NUM_CPUID_CONFIG = 0), so
    // the two entries below are never indexed; kept for a stable table.
    (0x9900_0003_0000_0400, 0),
    (0x9900_0003_0000_0500, 0),
];

/// The SYS.RD value of field `id` (0 if the table has no such field).
pub(crate) fn sys_field(id: u64) -> u64 {
    SYS_RD_FIELDS.iter().find(|f| f.0 == id).map_or(0, |f| f.1)
}

impl<P: TdxPlatform> Module<P> {
    /// TDH.SYS.INIT (leaf 33): SYSINIT_PENDING → SYSINIT_DONE; RCX must be 0.
    pub(crate) fn sys_init(&self, regs: &mut VmmRegs) -> TdxResult<Status> {
        let _g = self.global.try_lock(true)?;
        if self.sys_state() != SysState::SysinitPending {
            return Err(Code::SysInitNotPending.into());
        }
        if regs.rcx != 0 {
            return err(Code::OperandInvalid, OperandId::Rcx);
        }
        self.set_state(SysState::SysinitDone);
        Ok(Status::SUCCESS)
    }

    /// TDH.SYS.LP.INIT (leaf 35). Order from the module source
    /// (`tdh_sys_lp_init.c`): global lock shared (`SYS_BUSY`), state
    /// SYSINIT_DONE (`SYS_LP_INIT_NOT_PENDING`), LP not yet initialised
    /// (`SYS_LP_INIT_DONE`).
    pub(crate) fn sys_lp_init(&self, lp: Lp) -> TdxResult<Status> {
        let _g = self.global.try_lock(false)?;
        if self.sys_state() != SysState::SysinitDone {
            return Err(Code::SysLpInitNotPending.into());
        }
        let flag = &self.lp_init[lp.index as usize];
        if flag
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Relaxed)
            .is_err()
        {
            return Err(Code::SysLpInitDone.into());
        }
        self.num_init_lps.fetch_add(1, Ordering::AcqRel);
        Ok(Status::SUCCESS)
    }

    /// TDH.SYS.CONFIG (leaf 45): RCX = TDMR_INFO pointer array, RDX =
    /// count, R8 = global private HKID. Order from `tdh_sys_config.c`.
    pub(crate) fn sys_config(&self, regs: &mut VmmRegs) -> TdxResult<Status> {
        let _g = self.global.try_lock(true)?;
        if self.sys_state() != SysState::SysinitDone
            || self.num_init_lps.load(Ordering::Acquire) < self.cfg.num_lps
        {
            return Err(Code::SysConfigNotPending.into());
        }
        let array = self.check_hpa(regs.rcx, TDMR_INFO_ALIGN, OperandId::Rcx)?;
        let count = regs.rdx;
        if count == 0 || count > MAX_TDMRS as u64 {
            return err(Code::OperandInvalid, OperandId::Rdx);
        }
        let hkid = regs.r8;
        if hkid >> 16 != 0 || !self.cfg.is_private_hkid(hkid) {
            return err(Code::OperandInvalid, OperandId::R8);
        }
        let bad_rcx = Status::with_operand(Code::OperandInvalid, OperandId::Rcx);
        for i in 0..count as usize {
            let mut pa = [0u8; 8];
            self.plat
                .copy_from_vmm(array.raw() + 8 * i as u64, &mut pa)
                .map_err(|_| bad_rcx)?;
            let entry = self.check_hpa(u64::from_le_bytes(pa), TDMR_INFO_ALIGN, OperandId::Rcx)?;
            let mut buf = [0u8; TdmrInfo::LEN];
            self.plat
                .copy_from_vmm(entry.raw(), &mut buf)
                .map_err(|_| bad_rcx)?;
            let t = TdmrInfo::from_bytes(&buf);
            check_tdmr(&self.cfg, &self.tdmrs, i, &t)?;
            self.tdmrs.stage(i, &t);
        }
        // All checks passed: the leaf cannot fail from here on.
        for i in 0..count as usize {
            let t = self.tdmrs.get(i);
            for (base, size) in t.pamt {
                for off in (0..size).step_by(PAGE_SIZE as usize) {
                    self.plat.isolate_page(Hpa(base + off));
                }
            }
        }
        self.kot[hkid as usize % MAX_HKIDS].store(KotState::Reserved as u8, Ordering::Release);
        self.global_hkid.store(hkid as u16, Ordering::Release);
        self.pkg_config.store(0, Ordering::Release);
        self.tdmrs.publish(count as usize);
        self.set_state(SysState::SysconfigDone);
        Ok(Status::SUCCESS)
    }

    /// TDH.SYS.KEY.CONFIG (leaf 31): once per package; the last package
    /// moves the module to SYS_READY (`tdh_sys_key_config.c`).
    pub(crate) fn sys_key_config(&self, lp: Lp) -> TdxResult<Status> {
        let _g = self.global.try_lock(true)?;
        if self.sys_state() != SysState::SysconfigDone {
            return Err(Code::SysKeyConfigNotPending.into());
        }
        let bit = 1u64 << lp.package;
        let prev = self.pkg_config.fetch_or(bit, Ordering::AcqRel);
        if prev & bit != 0 {
            return Ok(Code::KeyConfigured.into());
        }
        if (prev | bit).count_ones() == self.cfg.num_packages {
            self.set_state(SysState::SysReady);
        }
        Ok(Status::SUCCESS)
    }

    /// TDH.SYS.TDMR.INIT (leaf 36): RCX = TDMR base. Each call initialises
    /// the PAMT of one 1 GiB block (shim chunk size) and returns RDX = the
    /// next address to initialise; a finished TDMR returns the warning
    /// `TDX_TDMR_ALREADY_INITIALIZED`. A concurrent call on the same TDMR
    /// is `TDX_OPERAND_BUSY` + RCX (operand choice unconfirmed).
    pub(crate) fn sys_tdmr_init(&self, regs: &mut VmmRegs) -> TdxResult<Status> {
        let i = self
            .tdmrs
            .find_base(regs.rcx)
            .ok_or(Status::with_operand(Code::OperandInvalid, OperandId::Rcx))?;
        if !self.tdmrs.try_busy(i) {
            return err(Code::OperandBusy, OperandId::Rcx);
        }
        let t = self.tdmrs.get(i);
        let next = self.tdmrs.next_init(i);
        let end = t.base + t.size;
        if next >= end {
            self.tdmrs.unbusy(i);
            regs.rdx = end;
            return Ok(Code::TdmrAlreadyInitialized.into());
        }
        self.init_block(&t, next);
        self.tdmrs.set_next_init(i, next + GIB);
        self.tdmrs.unbusy(i);
        regs.rdx = next + GIB;
        Ok(Status::SUCCESS)
    }

    fn init_block(&self, t: &TdmrInfo, block: u64) {
        let k = (block - t.base) / GIB;
        if k == 0 {
            let (b, s) = t.pamt[PamtLevel::P1g as usize];
            for off in (0..s).step_by(PAGE_SIZE as usize) {
                self.plat.zero_page(Hpa(b + off));
            }
        }
        let per_block = |lvl: PamtLevel| (GIB / lvl.granule()) * pamt::PAMT_ENTRY_SIZE;
        for lvl in [PamtLevel::P2m, PamtLevel::P4k] {
            let len = per_block(lvl);
            let start = t.pamt[lvl as usize].0 + k * len;
            for off in (0..len).step_by(PAGE_SIZE as usize) {
                self.plat.zero_page(Hpa(start + off));
            }
        }
        let pamt4k = t.pamt[PamtLevel::P4k as usize].0;
        for (off, size) in t.rsvd_used() {
            let (rs, re) = (t.base + off, t.base + off + size);
            let (s, e) = (rs.max(block), re.min(block + GIB));
            let mut a = s;
            while a < e {
                let entry = Hpa(pamt4k + ((a - t.base) / PAGE_SIZE) * pamt::PAMT_ENTRY_SIZE);
                pamt::init_entry(&self.plat, entry, PageType::Rsvd);
                a += PAGE_SIZE;
            }
        }
    }

    /// TDH.SYS.RD (leaf 34): RDX = field ID → R8 = value, RDX = next field
    /// ID. Unknown IDs: `TDX_METADATA_FIELD_ID_INCORRECT` + RDX.
    pub(crate) fn sys_rd(&self, regs: &mut VmmRegs) -> TdxResult<Status> {
        let pos = SYS_RD_FIELDS
            .iter()
            .position(|&(id, _)| id == regs.rdx)
            .ok_or(Status::with_operand(
                Code::MetadataFieldIdIncorrect,
                OperandId::Rdx,
            ))?;
        regs.r8 = SYS_RD_FIELDS[pos].1;
        regs.rdx = SYS_RD_FIELDS.get(pos + 1).map_or(u64::MAX, |f| f.0);
        Ok(Status::SUCCESS)
    }

    pub(crate) fn set_state(&self, s: SysState) {
        self.sys_state.store(s as u8, Ordering::Release);
    }
}
