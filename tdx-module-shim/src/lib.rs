//! SEAM-style TDX module shim: the host-testable module logic.
//!
//! This crate plays the role of the Intel TDX module 1.5 for the VMM
//! (SEAMCALL, TDH.* leaves), following shared/spec/tdx-module-abi.md. The
//! shim image (`tdx-module-shim/image`) traps SEAMCALL, builds a
//! [`VmmRegs`] and calls [`Module::seamcall`] on the calling LP.
//!
//! - [`status`]: completion status codes and operand IDs (§3);
//! - [`leaf`]: leaf numbers and RAX decoding (§1, §2);
//! - [`platform`]: the [`TdxPlatform`] trait (the machine behind the logic);
//! - [`pamt`] / [`tdmr`]: TDMRs, PAMT and TDH.SYS.CONFIG validation (§4);
//! - [`sys`]: TDH.SYS.* (§2, §5 module state, §6.2 metadata);
//!   [`sys_info`]: TDH.SYS.INFO and TDH.SYS.RDALL (§2 leaves 32, 37);
//! - [`mng`], [`td_params`]: TD creation and TDH.MNG.INIT (§5, §6.1);
//! - [`mem`]: Secure EPT, TDH.MEM.PAGE.ADD and measurement (§5, §7);
//! - `mem_mgmt`: a running TD's memory: TDH.MEM.PAGE.AUG, RANGE.BLOCK,
//!   RANGE.UNBLOCK, TRACK, PAGE.REMOVE, SEPT.REMOVE and the guest's
//!   TDG.MEM.PAGE.ACCEPT (§2 leaves 6, 7, 39, 38, 29, 30; §8 leaf 6);
//! - `mem_2m`: 2 MiB private pages (PAGE.AUG / ACCEPT / BLOCK / REMOVE /
//!   RECLAIM / RDMD at level 1);
//! - [`md`]: metadata field rules, TD-scope metadata, TDH.MNG.RD and
//!   TDH.MNG.WR (§2 leaves 11, 13);
//! - [`md_vp`]: VP-scope metadata, TDH.VP.RD and TDH.VP.WR (§2 leaves 26, 43);
//! - [`vp`]: TDH.VP.CREATE, ADDCX, INIT, FLUSH (§2, §5, §6.3);
//! - [`enter`]: TDH.VP.ENTER and TD exits (§2 leaf 0, §8 VMCALL);
//! - [`tdg`]: guest leaves TDG.VP.INFO, TDG.MR.RTMR.EXTEND, VEINFO.GET,
//!   TDG.MEM.PAGE.ACCEPT (§8); `tdg_vm`: TDG.VM.RD / TDG.VM.WR (§8 7, 8);
//! - `teardown`: VPFLUSHDONE, CACHE.WB, KEY.FREEID, PAGE.RECLAIM,
//!   PAGE.WBINVD, PAGE.RDMD (§2 "Teardown", §5).
//!
//! No global state: a [`Module`] owns every table, so host tests run in
//! parallel. `#![forbid(unsafe_code)]`, no allocation. Every register from
//! the VMM is untrusted; a failing leaf leaves module state unchanged.
//!
//! Locking: each leaf takes PAMT entry locks (in PAMT memory, by
//! compare-and-swap) and at most one TDCS try-lock, and never waits: a
//! contended lock returns `TDX_OPERAND_BUSY` plus the operand's ID.
#![no_std]
#![forbid(unsafe_code)]

pub mod enter;
pub mod leaf;
pub mod md;
pub mod md_vp;
pub mod mem;
mod mem_2m;
mod mem_mgmt;
pub mod mng;
pub mod pamt;
pub mod platform;
pub mod shared_ept;
pub mod status;
pub mod sys;
pub mod sys_info;
pub mod td_params;
pub mod tdg;
pub mod tdg_report;
mod tdg_vm;
pub mod tdmr;
mod tdr;
mod teardown;
#[cfg(feature = "test-hooks")]
mod test_hook;
pub mod types;
pub mod vp;

use core::sync::atomic::{AtomicBool, AtomicU8, AtomicU16, AtomicU32, AtomicU64, Ordering};

use cmon_measure::{Mrtd, Rtmr};

pub use leaf::{Leaf, LeafId, decode_rax};
pub use platform::{PAGE_WORDS, PageWords, TdxPlatform, TryLock, VmmAccessError};
pub use status::{Code, OperandId, Status};
#[doc(hidden)]
#[cfg(feature = "test-hooks")]
pub use test_hook::{HeldLock, TestLock};
pub use types::{Gpa, Hpa, Level, Lifecycle, Lp, OpState, PageType, SysState, VmmRegs};

use pamt::{PamtGuard, PamtLevel, TdmrTable, WalkError};
use status::{TdxResult, err};
use types::{KotState, PAGE_SIZE};

/// Logical processors the module can track.
pub const MAX_LPS: usize = 256;
/// Packages the module can track (bitmaps are u64).
pub const MAX_PACKAGES: u32 = 64;
/// HKIDs the module can track (KOT size); the HKID field is at most 6 bits.
pub const MAX_HKIDS: usize = 64;
/// Convertible memory ranges (MAX_CMR in the module source).
pub const MAX_CMRS: usize = 32;

/// One convertible memory range.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cmr {
    /// Base (4 KiB-aligned).
    pub base: u64,
    /// Size (4 KiB multiple); 0 = unused.
    pub size: u64,
}

/// Static facts the image tells the module at boot (trusted).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ModuleConfig {
    /// Number of LPs; each must run TDH.SYS.LP.INIT.
    pub num_lps: u32,
    /// Number of packages; each must run the KEY.CONFIG leaves.
    pub num_packages: u32,
    /// Physical address width in bits, including the HKID bits.
    pub max_pa: u32,
    /// HKID bits at the top of the physical address (1 << hkid_bits ≤ [`MAX_HKIDS`]).
    pub hkid_bits: u32,
    /// First private HKID; HKIDs below it are shared (MKTME).
    pub first_private_hkid: u16,
    /// Number of private HKIDs.
    pub num_private_hkids: u16,
    /// Convertible memory ranges, ascending, non-overlapping; unused entries have size 0.
    pub cmrs: [Cmr; MAX_CMRS],
    /// CPUID(1).EAX (family/model/stepping) a vCPU finds in RDX after
    /// TDH.VP.INIT (§6.3).
    pub cpuid1_eax: u32,
    /// The module's own TCB facts for TEE_TCB_INFO (§10).
    pub tee: TeeFacts,
}

/// What TDG.MR.REPORT reports about the module itself (TEE_TCB_INFO and
/// CPUSVN, §10). The image measures its own code into `mrseam`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TeeFacts {
    /// MRSEAM: SHA-384 of the module image.
    pub mrseam: [u8; 48],
    /// TEE_TCB_SVN.
    pub tee_tcb_svn: [u8; 16],
    /// CPUSVN.
    pub cpu_svn: [u8; 16],
}

/// `ModuleConfig` rejected by [`Module::new`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConfigError(pub &'static str);

impl ModuleConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        if self.num_lps == 0 || self.num_lps as usize > MAX_LPS {
            return Err(ConfigError("num_lps"));
        }
        if self.num_packages == 0 || self.num_packages > MAX_PACKAGES {
            return Err(ConfigError("num_packages"));
        }
        if self.max_pa > 52 || self.hkid_bits > 6 || self.hkid_bits + 32 > self.max_pa {
            return Err(ConfigError("max_pa/hkid_bits"));
        }
        let end = u32::from(self.first_private_hkid) + u32::from(self.num_private_hkids);
        if self.first_private_hkid == 0 || end > 1 << self.hkid_bits {
            return Err(ConfigError("private HKID range"));
        }
        let mut prev_end = 0;
        for c in self.cmrs.iter().filter(|c| c.size != 0) {
            let Some(e) = c.base.checked_add(c.size) else {
                return Err(ConfigError("CMR overflow"));
            };
            if c.base % PAGE_SIZE != 0 || c.size % PAGE_SIZE != 0 || c.base < prev_end {
                return Err(ConfigError("CMR alignment/order"));
            }
            prev_end = e;
        }
        Ok(())
    }

    /// Bit position of the lowest HKID bit in a PA.
    pub const fn hkid_shift(&self) -> u32 {
        self.max_pa - self.hkid_bits
    }

    pub(crate) fn is_private_hkid(&self, hkid: u64) -> bool {
        let first = u64::from(self.first_private_hkid);
        hkid >= first && hkid < first + u64::from(self.num_private_hkids)
    }

    /// True if `[start, end)` lies inside the union of contiguous CMRs.
    pub(crate) fn in_cmr(&self, start: u64, end: u64) -> bool {
        let mut run: Option<(u64, u64)> = None;
        for c in self.cmrs.iter().filter(|c| c.size != 0) {
            let (b, e) = (c.base, c.base + c.size);
            run = match run {
                Some((rb, re)) if re == b => Some((rb, e)),
                _ => Some((b, e)),
            };
            let (rb, re) = run.unwrap_or((b, e));
            if start >= rb && end <= re {
                return true;
            }
        }
        false
    }
}

/// TDCS state the shim keeps in module memory (per HKID; reset by
/// TDH.MNG.CREATE). The TDCX pages are held and typed in the PAMT; page 2
/// is the Secure-EPT root.
#[derive(Debug)]
pub(crate) struct Tdcs {
    pub op_state: OpState,
    pub attributes: u64,
    pub xfam: u64,
    pub max_vcpus: u16,
    pub gpaw52: bool,
    pub tsc_frequency: u16,
    pub mr_config_id: [u8; 48],
    pub mr_owner: [u8; 48],
    pub mr_owner_config: [u8; 48],
    pub mrtd: Option<Mrtd>,
    pub mrtd_final: [u8; 48],
    pub rtmr: [Rtmr; 4],
    /// vCPUs initialised (TDH.VP.INIT assigns index = this count).
    pub num_vcpus: u32,
    /// x2APIC ID of each initialised vCPU (TDH.VP.INIT v1).
    pub x2apic_ids: [u32; td_params::MAX_VCPUS as usize],
    /// vCPUs associated with an LP (checked by TDH.MNG.VPFLUSHDONE).
    pub num_assoc_vcpus: u32,
    /// TD_EPOCH: advanced by TDH.MEM.TRACK; 1 after TDH.MNG.INIT
    /// (`tdh_mng_init.c`). The per-epoch REFCOUNTs are atomics in
    /// [`Module`] because a TD exit must update them without a lock.
    pub td_epoch: u64,
    /// NOTIFY_ENABLES (bit 0: notify the guest on a zero-step attack
    /// suspicion); written by TDH.MNG.WR on DEBUG TDs (`md.rs`).
    pub notify_enables: u64,
    /// HP_LOCK_TIMEOUT in µs (TDH.MNG.WR, `md.rs`). The shim has no
    /// host-priority locks that would time out; the value is kept for the
    /// VMM only.
    pub hp_lock_timeout: u64,
}

impl Tdcs {
    fn new() -> Self {
        Tdcs {
            op_state: OpState::Uninitialized,
            attributes: 0,
            xfam: 0,
            max_vcpus: 0,
            gpaw52: false,
            tsc_frequency: 0,
            mr_config_id: [0; 48],
            mr_owner: [0; 48],
            mr_owner_config: [0; 48],
            mrtd: None,
            mrtd_final: [0; 48],
            rtmr: [Rtmr::new(); 4],
            num_vcpus: 0,
            x2apic_ids: [0; td_params::MAX_VCPUS as usize],
            num_assoc_vcpus: 0,
            td_epoch: 0,
            notify_enables: 0,
            hp_lock_timeout: md::HP_LOCK_TIMEOUT_DEFAULT,
        }
    }
}

/// Leaves (and versions) this shim implements; every other leaf answers
/// like an unknown one, `TDX_OPERAND_INVALID` + RAX, in any module state.
pub fn implemented(leaf: Leaf) -> bool {
    use LeafId::*;
    match leaf.id {
        SysInit | SysLpInit | SysConfig | SysKeyConfig | SysTdmrInit | SysRd | SysRdAll
        | SysInfo | PhymemPageRdmd | MngCreate | MngKeyConfig | MngAddCx | MngInit
        | MngKeyReclaimId | MemPageAdd | MrExtend | MrFinalize | MngRd | MngWr | MngVpFlushDone
        | PhymemCacheWb | MngKeyFreeId | PhymemPageReclaim | PhymemPageWbinvd | VpCreate
        | VpAddCx | VpFlush | VpRd | VpWr | MemPageAug | MemRangeBlock | MemRangeUnblock
        | MemTrack | MemPageRemove => true,
        VpInit => leaf.version <= 1,
        MemSeptAdd | MemSeptRemove => leaf.version == 0,
        _ => false,
    }
}

/// Snapshot of a TD returned by [`Module::td_info`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct TdInfo {
    pub op_state: OpState,
    pub attributes: u64,
    pub xfam: u64,
    pub max_vcpus: u16,
    pub gpaw52: bool,
    pub tsc_frequency: u16,
    pub mr_config_id: [u8; 48],
    pub mr_owner: [u8; 48],
    pub mr_owner_config: [u8; 48],
    pub mrtd: Option<[u8; 48]>,
    pub rtmr: [[u8; 48]; 4],
    /// TDR.CHLDCNT.
    pub chldcnt: u64,
}

/// The TDX module: every table it owns, over platform `P`.
pub struct Module<P: TdxPlatform> {
    plat: P,
    cfg: ModuleConfig,
    sys_state: AtomicU8,
    global: sys::GlobalLock,
    lp_init: [AtomicBool; MAX_LPS],
    num_init_lps: AtomicU32,
    pkg_config: AtomicU64,
    global_hkid: AtomicU16,
    kot: [AtomicU8; MAX_HKIDS],
    /// Per HKID: packages that still owe TDH.PHYMEM.CACHE.WB (set by
    /// TDH.MNG.VPFLUSHDONE, `wbinvd_bitmap` in the module source).
    kot_wbinvd: [AtomicU64; MAX_HKIDS],
    /// Per package: TDH.PHYMEM.CACHE.WB in progress.
    wbt_busy: [AtomicBool; MAX_PACKAGES as usize],
    tdmrs: TdmrTable,
    tdcs: [P::Lock<Tdcs>; MAX_HKIDS],
    /// Per LP: the TDVPR of the vCPU inside TDH.VP.ENTER there (0 = none).
    running: [AtomicU64; MAX_LPS],
    /// Per HKID: the TD's two TLB-epoch REFCOUNTs (vCPUs running in an
    /// even / odd TD_EPOCH), `epoch_and_refcount` in the module's TDCS.
    epoch_refs: [[AtomicU32; 2]; MAX_HKIDS],
}

impl<P: TdxPlatform> core::fmt::Debug for Module<P> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Module")
            .field("cfg", &self.cfg)
            .field("sys_state", &self.sys_state())
            .finish_non_exhaustive()
    }
}

impl<P: TdxPlatform> Module<P> {
    /// A module in SYSINIT_PENDING.
    pub fn new(plat: P, cfg: ModuleConfig) -> Result<Self, ConfigError> {
        cfg.validate()?;
        Ok(Module {
            plat,
            cfg,
            sys_state: AtomicU8::new(SysState::SysinitPending as u8),
            global: sys::GlobalLock::default(),
            lp_init: core::array::from_fn(|_| AtomicBool::new(false)),
            num_init_lps: AtomicU32::new(0),
            pkg_config: AtomicU64::new(0),
            global_hkid: AtomicU16::new(0),
            kot: core::array::from_fn(|_| AtomicU8::new(KotState::Free as u8)),
            kot_wbinvd: core::array::from_fn(|_| AtomicU64::new(0)),
            wbt_busy: core::array::from_fn(|_| AtomicBool::new(false)),
            tdmrs: TdmrTable::new(),
            tdcs: core::array::from_fn(|_| P::Lock::new(Tdcs::new())),
            running: core::array::from_fn(|_| AtomicU64::new(0)),
            epoch_refs: core::array::from_fn(|_| [AtomicU32::new(0), AtomicU32::new(0)]),
        })
    }

    /// The platform.
    pub fn platform(&self) -> &P {
        &self.plat
    }

    /// The configuration.
    pub fn config(&self) -> &ModuleConfig {
        &self.cfg
    }

    /// Current module state.
    pub fn sys_state(&self) -> SysState {
        SysState::from_u8(self.sys_state.load(Ordering::Acquire))
    }

    /// The TDMR table.
    pub fn tdmrs(&self) -> &TdmrTable {
        &self.tdmrs
    }

    /// Handle one SEAMCALL from `lp`: decode RAX, run the leaf, write RAX
    /// and the leaf's outputs into `regs`.
    pub fn seamcall(&self, lp: Lp, regs: &mut VmmRegs) {
        let st = self.dispatch(lp, regs).unwrap_or_else(|e| e);
        regs.rax = st.to_raw();
    }

    fn dispatch(&self, lp: Lp, regs: &mut VmmRegs) -> TdxResult<Status> {
        let leaf = decode_rax(regs.rax)?;
        if !implemented(leaf) {
            // Not implemented: the status for an unknown leaf.
            return err(Code::OperandInvalid, OperandId::Rax);
        }
        if lp.index >= self.cfg.num_lps || lp.package >= self.cfg.num_packages {
            return Err(Code::SysLpInitNotDone.into());
        }
        if !leaf.id.allowed_before_lp_init()
            && !self.lp_init[lp.index as usize].load(Ordering::Acquire)
        {
            return Err(Code::SysLpInitNotDone.into());
        }
        if !leaf.id.allowed_before_ready() && self.sys_state() != SysState::SysReady {
            return Err(Code::SysNotReady.into());
        }
        match leaf.id {
            LeafId::SysInit => self.sys_init(regs),
            LeafId::SysLpInit => self.sys_lp_init(lp),
            LeafId::SysConfig => self.sys_config(regs),
            LeafId::SysKeyConfig => self.sys_key_config(lp),
            LeafId::SysTdmrInit => self.sys_tdmr_init(regs),
            LeafId::SysRd => self.sys_rd(regs),
            LeafId::SysRdAll => self.sys_rdall(regs),
            LeafId::SysInfo => self.sys_info(regs),
            LeafId::PhymemPageRdmd => self.phymem_page_rdmd(regs),
            LeafId::MngCreate => self.mng_create(regs),
            LeafId::MngKeyConfig => self.mng_key_config(lp, regs),
            LeafId::MngAddCx => self.mng_add_cx(regs),
            LeafId::MngInit => self.mng_init(regs),
            LeafId::MngKeyReclaimId => Ok(Status::SUCCESS),
            LeafId::MemSeptAdd if leaf.version == 0 => self.mem_sept_add(regs),
            LeafId::MemPageAdd => self.mem_page_add(regs),
            LeafId::MrExtend => self.mr_extend(regs),
            LeafId::MrFinalize => self.mr_finalize(regs),
            LeafId::MngRd => self.mng_rd(leaf.version, regs),
            LeafId::MngWr => self.mng_wr(regs),
            LeafId::MngVpFlushDone => self.mng_vpflushdone(regs),
            LeafId::PhymemCacheWb => self.phymem_cache_wb(lp, regs),
            LeafId::MngKeyFreeId => self.mng_key_freeid(regs),
            LeafId::PhymemPageReclaim => self.phymem_page_reclaim(regs),
            LeafId::PhymemPageWbinvd => self.phymem_page_wbinvd(regs),
            LeafId::VpCreate => self.vp_create(regs),
            LeafId::VpAddCx => self.vp_add_cx(regs),
            LeafId::VpInit => self.vp_init(lp, leaf.version, regs),
            LeafId::VpFlush => self.vp_flush(lp, regs),
            LeafId::VpRd => self.vp_rd(lp, leaf.version, regs),
            LeafId::VpWr => self.vp_wr(lp, regs),
            LeafId::MemPageAug => self.mem_page_aug(regs),
            LeafId::MemRangeBlock => self.mem_range_block(regs),
            LeafId::MemRangeUnblock => self.mem_range_unblock(regs),
            LeafId::MemTrack => self.mem_track(regs),
            LeafId::MemPageRemove => self.mem_page_remove(regs),
            LeafId::MemSeptRemove if leaf.version == 0 => self.mem_sept_remove(regs),
            _ => err(Code::OperandInvalid, OperandId::Rax),
        }
    }

    /// Check a page operand and lock its PAMT entry, in the module's order
    /// (§4 "Every leaf that takes a page checks"): 4 KiB alignment and HKID
    /// bits (`OPERAND_INVALID`), then [`Self::lock_at`] for a 4 KiB page.
    pub(crate) fn lock_page(
        &self,
        raw: u64,
        op: OperandId,
        exclusive: bool,
        expected: PageType,
    ) -> TdxResult<PamtGuard<'_, P>> {
        let hpa = self.check_hpa(raw, PAGE_SIZE, op)?;
        self.lock_at(hpa, op, exclusive, expected, PamtLevel::P4k)
    }

    /// The rest of a page-operand check (`non_shared_hpa_metadata_check_and_lock`
    /// in the module's `helpers.c`): inside an initialised TDMR
    /// (`OPERAND_ADDR_RANGE_ERROR`), the PAMT walk to `size` (`OPERAND_BUSY`;
    /// a 2 MiB page in the way of a 4 KiB walk is `PAGE_METADATA_INCORRECT`),
    /// page type (`PAGE_METADATA_INCORRECT`); each plus `op`.
    pub(crate) fn lock_at(
        &self,
        hpa: Hpa,
        op: OperandId,
        exclusive: bool,
        expected: PageType,
        size: PamtLevel,
    ) -> TdxResult<PamtGuard<'_, P>> {
        let loc = self
            .tdmrs
            .locate(hpa)
            .ok_or(Status::with_operand(Code::OperandAddrRangeError, op))?;
        let g = pamt::walk(&self.plat, loc, hpa, exclusive, Some(size)).map_err(|e| match e {
            WalkError::Busy => Status::with_operand(Code::OperandBusy, op),
            WalkError::Size => Status::with_operand(Code::PageMetadataIncorrect, op),
        })?;
        if g.page_type() != Some(expected) {
            return err(Code::PageMetadataIncorrect, op);
        }
        Ok(g)
    }

    /// Alignment and HKID-bits check of an HPA operand.
    pub(crate) fn check_hpa(&self, raw: u64, align: u64, op: OperandId) -> TdxResult<Hpa> {
        if !raw.is_multiple_of(align) || raw >> self.cfg.hkid_shift() != 0 {
            return err(Code::OperandInvalid, op);
        }
        Ok(Hpa(raw))
    }

    /// A snapshot of the TD whose TDR is `tdr` (after TDH.MNG.INIT), for
    /// the image's TDREPORT path and tests. `mrtd` is `Some` once RUNNABLE.
    pub fn td_info(&self, tdr: Hpa) -> TdxResult<TdInfo> {
        let g = self.lock_page(tdr.raw(), OperandId::Rcx, false, PageType::Tdr)?;
        let (_, t) = self.lock_tdcs(g.hpa())?;
        if t.op_state == OpState::Uninitialized {
            return Err(Code::OpStateIncorrect.into());
        }
        Ok(TdInfo {
            op_state: t.op_state,
            attributes: t.attributes,
            xfam: t.xfam,
            max_vcpus: t.max_vcpus,
            gpaw52: t.gpaw52,
            tsc_frequency: t.tsc_frequency,
            mr_config_id: t.mr_config_id,
            mr_owner: t.mr_owner,
            mr_owner_config: t.mr_owner_config,
            mrtd: (t.op_state == OpState::Runnable).then_some(t.mrtd_final),
            rtmr: [0, 1, 2, 3].map(|i| t.rtmr[i].value()),
            chldcnt: tdr::read(&self.plat, g.hpa(), tdr::W_CHLDCNT),
        })
    }
}
