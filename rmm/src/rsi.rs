//! Realm SMCs: RSI 1.0 (cca-rmm-abi.md §9, REMs per cca-attestation.md §3),
//! realm PSCI (§10) and SMCCC_VERSION (§1), handled in the REC_ENTER run
//! loop; and RMI_PSCI_COMPLETE.
//!
//! x0 carries the FID: only its low 32 bits count (SMCCC), and bit 16 (the
//! SVE hint) is masked before dispatch, as for RMI (§1). Results go to
//! x0.. of the realm; registers that are not results are preserved. FIDs
//! the RMM does not implement answer SMC_UNKNOWN (-1, which is also PSCI
//! NOT_SUPPORTED): RSI_ATTEST_TOKEN_INIT/CONTINUE are not implemented
//! yet. RSI_IPA_STATE_SET is in `ripas.rs`.
//!
//! RSI commands that name realm memory (REALM_CONFIG, HOST_CALL) take the
//! RD lock, walk the RTTs and map the DATA granule while the L3 RTT is
//! locked, so DATA_DESTROY cannot race the access. A protected page with
//! RIPAS RAM that is not mapped makes the REC exit with a stage-2
//! translation fault for that page and the SMC is re-executed after the
//! host mapped it (TF-RMM); any other unusable address is RSI_ERROR_INPUT.

use core::sync::atomic::Ordering;

use cmon_measure::{HasherWith, Measurement};

use crate::platform::{GranuleWords, Platform, Slot};
use crate::realm::{
    RD_HASH_WORD, RD_REC_COUNT_WORD, RD_REM_WORD, RD_RIM_WORD, RD_RPV_WORD, RD_STATE_WORD,
    RealmInfo, RealmState,
};
use crate::rec::{PSTATE_INIT, SCTLR_EL1_INIT, SysReg, layout, mpidr_to_index};
use crate::rmi::Rmm;
use crate::rtt::s2tte::{Ripas, S2tte};
use crate::rtt::{ENTRIES, PAGE_LEVEL, level_size};
use crate::run::{Next, RecCtx, RecExit, arch_mpidr_to_rec, exit_reason};
use crate::types::{FID_SVE_HINT, GRANULE_SIZE, GranuleState, PhysAddr, RmiStatus, SMC_UNKNOWN};

/// RSI ABI version 1.0.
pub const RSI_ABI_VERSION: u64 = 0x1_0000;
/// SMCCC version reported to realms (v1.2).
pub const SMCCC_VERSION_1_2: u64 = 0x1_0002;
/// PSCI version reported to realms (1.1).
pub const PSCI_VERSION_1_1: u64 = 0x1_0001;

/// Realm-facing FIDs (bit 16 clear).
#[allow(missing_docs)]
pub mod fid {
    pub const SMCCC_VERSION: u64 = 0x8000_0000;
    pub const RSI_VERSION: u64 = 0xC400_0190;
    pub const RSI_FEATURES: u64 = 0xC400_0191;
    pub const RSI_MEASUREMENT_READ: u64 = 0xC400_0192;
    pub const RSI_MEASUREMENT_EXTEND: u64 = 0xC400_0193;
    pub const RSI_ATTEST_TOKEN_INIT: u64 = 0xC400_0194;
    pub const RSI_ATTEST_TOKEN_CONTINUE: u64 = 0xC400_0195;
    pub const RSI_REALM_CONFIG: u64 = 0xC400_0196;
    pub const RSI_IPA_STATE_SET: u64 = 0xC400_0197;
    pub const RSI_IPA_STATE_GET: u64 = 0xC400_0198;
    pub const RSI_HOST_CALL: u64 = 0xC400_0199;
    pub const PSCI_VERSION: u64 = 0x8400_0000;
    pub const PSCI_CPU_SUSPEND: u64 = 0x8400_0001;
    pub const PSCI_CPU_SUSPEND64: u64 = 0xC400_0001;
    pub const PSCI_CPU_OFF: u64 = 0x8400_0002;
    pub const PSCI_CPU_ON: u64 = 0x8400_0003;
    pub const PSCI_CPU_ON64: u64 = 0xC400_0003;
    pub const PSCI_AFFINITY_INFO: u64 = 0x8400_0004;
    pub const PSCI_AFFINITY_INFO64: u64 = 0xC400_0004;
    pub const PSCI_SYSTEM_OFF: u64 = 0x8400_0008;
    pub const PSCI_SYSTEM_RESET: u64 = 0x8400_0009;
    pub const PSCI_FEATURES: u64 = 0x8400_000A;
}

/// RSI status codes (§9).
#[allow(missing_docs)]
pub mod status {
    pub const SUCCESS: u64 = 0;
    pub const ERROR_INPUT: u64 = 1;
    pub const ERROR_STATE: u64 = 2;
}

/// PSCI return codes (DEN0022), as 64-bit register values.
#[allow(missing_docs)]
pub mod psci {
    pub const SUCCESS: u64 = 0;
    pub const NOT_SUPPORTED: u64 = -1i64 as u64;
    pub const INVALID_PARAMS: u64 = -2i64 as u64;
    pub const DENIED: u64 = -3i64 as u64;
    pub const ALREADY_ON: u64 = -4i64 as u64;
    pub const INVALID_ADDRESS: u64 = -9i64 as u64;
    /// AFFINITY_INFO: ON / OFF.
    pub const ON: u64 = 0;
    pub const OFF: u64 = 1;
}

/// Bytes of RsiHostCall: imm (u16 in an 8-byte slot) + gprs[31].
const HOST_CALL_LEN: u64 = 0x100;

/// Why a realm page could not be used.
enum PageError {
    /// Not a usable address: RSI_ERROR_INPUT.
    Input,
    /// RIPAS RAM but not mapped: stage-2 fault exit at this walk level.
    Unmapped(i64),
}

impl<P: Platform> Rmm<'_, P> {
    /// Run `f` on the DATA granule mapped at protected `ipa` of the realm
    /// `rd`, under the RD and RTT locks.
    fn with_realm_page<R>(
        &self,
        rd: PhysAddr,
        ipa: u64,
        f: impl FnOnce(&GranuleWords) -> R,
    ) -> Result<R, PageError> {
        let (_rd_g, realm) = self.lock_rd(rd.0).map_err(|_| PageError::Input)?;
        if ipa >= realm.par_end() {
            return Err(PageError::Input);
        }
        let page = ipa & !(GRANULE_SIZE - 1);
        let walk = self
            .rtt_walk(&realm, page, PAGE_LEVEL)
            .map_err(|_| PageError::Input)?;
        match S2tte::decode(self.rtt_read(&walk.table, walk.index), walk.level) {
            S2tte::AssignedRam(oa) => {
                let pa = oa + (page & (level_size(walk.level) - 1));
                let m = self.platform.map_granule(PhysAddr(pa), Slot::Data);
                Ok(f(&m))
            }
            S2tte::Unassigned(Ripas::Ram) => Err(PageError::Unmapped(walk.level)),
            _ => Err(PageError::Input),
        }
    }

    /// An SMC from the realm (EC 0x17). The trapped SMC's ELR points at the
    /// SMC (HCR_EL2.TSC), so the PC is advanced past it first.
    pub(crate) fn handle_smc(&self, ctx: &mut RecCtx, realm: &RealmInfo) -> Next {
        ctx.regs.pc = ctx.regs.pc.wrapping_add(4);
        let x = ctx.regs.gprs;
        let f = (x[0] & 0xFFFF_FFFF) & !FID_SVE_HINT;
        let ret = |ctx: &mut RecCtx, vals: &[u64]| {
            ctx.regs.gprs[..vals.len()].copy_from_slice(vals);
        };
        match f {
            fid::SMCCC_VERSION => ret(ctx, &[SMCCC_VERSION_1_2]),
            fid::RSI_VERSION => {
                let s = if x[1] == RSI_ABI_VERSION {
                    status::SUCCESS
                } else {
                    status::ERROR_INPUT
                };
                ret(ctx, &[s, RSI_ABI_VERSION, RSI_ABI_VERSION]);
            }
            fid::RSI_FEATURES => ret(ctx, &[status::SUCCESS, 0]),
            fid::RSI_MEASUREMENT_READ => {
                let v = self.measurement_read(ctx.rd, x[1]);
                match v {
                    Some(words) => {
                        ret(ctx, &[status::SUCCESS]);
                        ctx.regs.gprs[1..9].copy_from_slice(&words);
                    }
                    None => ret(ctx, &[status::ERROR_INPUT]),
                }
            }
            fid::RSI_MEASUREMENT_EXTEND => {
                let data: [u64; 8] = core::array::from_fn(|i| x[3 + i]);
                let s = self.measurement_extend(ctx.rd, x[1], x[2], &data);
                ret(ctx, &[s]);
            }
            fid::RSI_REALM_CONFIG => return self.realm_config(ctx, x[1]),
            fid::RSI_IPA_STATE_GET => {
                let r = self.ipa_state_get(ctx.rd, x[1], x[2]);
                match r {
                    Some((top, ripas)) => ret(ctx, &[status::SUCCESS, top, ripas]),
                    None => ret(ctx, &[status::ERROR_INPUT]),
                }
            }
            fid::RSI_IPA_STATE_SET => {
                return self.ipa_state_set(ctx, realm, [x[1], x[2], x[3], x[4]]);
            }
            fid::RSI_HOST_CALL => return self.host_call(ctx, x[1]),
            fid::PSCI_VERSION
            | fid::PSCI_CPU_SUSPEND
            | fid::PSCI_CPU_SUSPEND64
            | fid::PSCI_CPU_OFF
            | fid::PSCI_CPU_ON
            | fid::PSCI_CPU_ON64
            | fid::PSCI_AFFINITY_INFO
            | fid::PSCI_AFFINITY_INFO64
            | fid::PSCI_SYSTEM_OFF
            | fid::PSCI_SYSTEM_RESET
            | fid::PSCI_FEATURES => return self.realm_psci(ctx, realm, f),
            0x8400_0000..=0x8400_001F | 0xC400_0000..=0xC400_001F => {
                ret(ctx, &[psci::NOT_SUPPORTED]);
            }
            _ => ret(ctx, &[SMC_UNKNOWN]),
        }
        Next::Resume
    }

    /// RSI_MEASUREMENT_READ: index 0 = RIM, 1..4 = REM; the 64-byte slot
    /// as eight little-endian words (SHA-256 zero-padded).
    fn measurement_read(&self, rd: PhysAddr, index: u64) -> Option<[u64; 8]> {
        let word = match index {
            0 => RD_RIM_WORD,
            1..=4 => RD_REM_WORD + 8 * (index as usize - 1),
            _ => return None,
        };
        let (rd_g, _) = self.lock_rd(rd.0).ok()?;
        let m = self.platform.map_granule(rd_g.pa(), Slot::Rd);
        Some(core::array::from_fn(|i| {
            m[word + i].load(Ordering::Relaxed)
        }))
    }

    /// RSI_MEASUREMENT_EXTEND (cca-attestation.md §3): index 1..4, size <=
    /// 64; REM = H(REM[0..hashlen] || data[0..size]) with the data taken
    /// from x3..x10 little-endian, through the platform's SHA-2 backend,
    /// under the RD lock (extends from several RECs are serialised).
    fn measurement_extend(&self, rd: PhysAddr, index: u64, size: u64, data: &[u64; 8]) -> u64 {
        if !(1..=4).contains(&index) || size > 64 {
            return status::ERROR_INPUT;
        }
        let Ok((rd_g, realm)) = self.lock_rd(rd.0) else {
            return status::ERROR_INPUT;
        };
        let m = self.platform.map_granule(rd_g.pa(), Slot::Rd);
        let word = RD_REM_WORD + 8 * (index as usize - 1);
        let mut slot = [0u8; 64];
        for (chunk, w) in slot.chunks_exact_mut(8).zip(m.iter().skip(word)) {
            chunk.copy_from_slice(&w.load(Ordering::Relaxed).to_le_bytes());
        }
        let Some(old) = Measurement::from_slot(realm.algo, &slot) else {
            return status::ERROR_INPUT; // never: the slot is only written here
        };
        let mut bytes = [0u8; 64];
        for (chunk, r) in bytes.chunks_exact_mut(8).zip(data) {
            chunk.copy_from_slice(&r.to_le_bytes());
        }
        let mut h = HasherWith::<P::Sha2>::new(realm.algo);
        h.update(old.as_bytes());
        h.update(&bytes[..size as usize]);
        crate::realm::store_bytes(&m, word, h.finalize().slot());
        status::SUCCESS
    }

    /// RSI_REALM_CONFIG(ipa): writes RsiRealmConfig (ipa_width u64 @0x0,
    /// hash_algo @0x8 (RMI/RSI encoding 0 SHA-256, 1 SHA-512), rpv[64]
    /// @0x200) into the realm's granule at `ipa`, which must be 4 KiB
    /// aligned, protected and ASSIGNED RAM.
    fn realm_config(&self, ctx: &mut RecCtx, ipa: u64) -> Next {
        if !ipa.is_multiple_of(GRANULE_SIZE) {
            ctx.regs.gprs[0] = status::ERROR_INPUT;
            return Next::Resume;
        }
        let config = {
            let Ok((rd_g, realm)) = self.lock_rd(ctx.rd.0) else {
                ctx.regs.gprs[0] = status::ERROR_INPUT;
                return Next::Resume;
            };
            let m = self.platform.map_granule(rd_g.pa(), Slot::Rd);
            let rpv: [u64; 8] =
                core::array::from_fn(|i| m[RD_RPV_WORD + i].load(Ordering::Relaxed));
            (
                u64::from(realm.s2sz),
                m[RD_HASH_WORD].load(Ordering::Relaxed),
                rpv,
            )
        };
        let r = self.with_realm_page(ctx.rd, ipa, |g| {
            g[0].store(config.0, Ordering::Relaxed);
            g[1].store(config.1, Ordering::Relaxed);
            for (i, &w) in config.2.iter().enumerate() {
                g[0x200 / 8 + i].store(w, Ordering::Relaxed);
            }
        });
        self.rsi_page_result(ctx, ipa, r.map(|()| status::SUCCESS))
    }

    /// Common end of the RSI commands that touch realm memory.
    fn rsi_page_result(&self, ctx: &mut RecCtx, ipa: u64, r: Result<u64, PageError>) -> Next {
        match r {
            Ok(s) => {
                ctx.regs.gprs[0] = s;
                Next::Resume
            }
            Err(PageError::Input) => {
                ctx.regs.gprs[0] = status::ERROR_INPUT;
                Next::Resume
            }
            Err(PageError::Unmapped(level)) => {
                // Re-execute the SMC once the host has mapped the page.
                ctx.regs.pc = ctx.regs.pc.wrapping_sub(4);
                Next::Exit(Self::s2_fault_exit(ipa, level))
            }
        }
    }

    /// RSI_IPA_STATE_GET(base, top), rel0 two-argument form: both 4 KiB
    /// aligned, base < top <= PAR (else RSI_ERROR_INPUT). Returns the end
    /// of the leading run of entries with one RIPAS in the RTT where the
    /// walk for `base` stops (capped at `top`) and that RIPAS.
    fn ipa_state_get(&self, rd: PhysAddr, base: u64, top: u64) -> Option<(u64, u64)> {
        if !base.is_multiple_of(GRANULE_SIZE) || !top.is_multiple_of(GRANULE_SIZE) || top <= base {
            return None;
        }
        let (_rd_g, realm) = self.lock_rd(rd.0).ok()?;
        if top > realm.par_end() {
            return None;
        }
        let walk = self.rtt_walk(&realm, base, PAGE_LEVEL).ok()?;
        let m = self.platform.map_granule(walk.table.pa(), Slot::Rtt);
        let ripas_of = |i: usize| match S2tte::decode(m[i].load(Ordering::Relaxed), walk.level) {
            S2tte::Unassigned(r) | S2tte::AssignedInvalid(r, _) => Some(r),
            S2tte::AssignedRam(_) => Some(Ripas::Ram),
            _ => None,
        };
        let ripas = ripas_of(walk.index)?;
        let size = level_size(walk.level);
        let mut end = (base & !(size - 1)) + size;
        for i in walk.index + 1..ENTRIES {
            if end >= top || ripas_of(i) != Some(ripas) {
                break;
            }
            end += size;
        }
        Some((end.min(top), ripas as u64))
    }

    /// RSI_HOST_CALL(addr): the RsiHostCall at `addr` (256-byte aligned,
    /// protected, mapped RAM) is read and the REC exits with
    /// RMI_EXIT_HOST_CALL, imm and gprs[0..30] copied out; the call stays
    /// pending until the next REC_ENTER copies enter.gprs back.
    fn host_call(&self, ctx: &mut RecCtx, addr: u64) -> Next {
        if !addr.is_multiple_of(HOST_CALL_LEN) {
            ctx.regs.gprs[0] = status::ERROR_INPUT;
            return Next::Resume;
        }
        let off = ((addr % GRANULE_SIZE) / 8) as usize;
        let r = self.with_realm_page(ctx.rd, addr, |g| {
            let imm = g[off].load(Ordering::Relaxed) & 0xFFFF;
            let gprs: [u64; 31] = core::array::from_fn(|i| g[off + 1 + i].load(Ordering::Relaxed));
            (imm, gprs)
        });
        match r {
            Ok((imm, gprs)) => {
                ctx.host_call = Some(addr);
                let mut x = RecExit::with_reason(exit_reason::HOST_CALL);
                x.imm = imm;
                x.gprs = gprs;
                Next::Exit(x)
            }
            Err(e) => self.rsi_page_result(ctx, addr, Err(e)),
        }
    }

    /// Complete a pending host call on REC_ENTER: enter.gprs[0..30] into
    /// the structure, realm x0 = RSI_SUCCESS. If the page is no longer
    /// mapped (RIPAS RAM) the REC_ENTER reports a stage-2 fault exit
    /// without running the realm and the call stays pending; if it is no
    /// longer usable at all the realm gets RSI_ERROR_INPUT. Returns the
    /// walk level of the stage-2 fault to report, if any.
    pub(crate) fn host_call_complete(
        &self,
        ctx: &mut RecCtx,
        addr: u64,
        gprs: &[u64; 31],
    ) -> Option<i64> {
        let off = ((addr % GRANULE_SIZE) / 8) as usize;
        let r = self.with_realm_page(ctx.rd, addr, |g| {
            for (i, &v) in gprs.iter().enumerate() {
                g[off + 1 + i].store(v, Ordering::Relaxed);
            }
        });
        match r {
            Ok(()) => ctx.regs.gprs[0] = status::SUCCESS,
            Err(PageError::Input) => ctx.regs.gprs[0] = status::ERROR_INPUT,
            Err(PageError::Unmapped(level)) => return Some(level),
        }
        None
    }

    /// Realm PSCI (§10).
    fn realm_psci(&self, ctx: &mut RecCtx, realm: &RealmInfo, f: u64) -> Next {
        let smc32 = f >> 30 & 1 == 0;
        let arg = |i: usize| {
            let v = ctx.regs.gprs[i];
            if smc32 { v & 0xFFFF_FFFF } else { v }
        };
        let (a1, a2, a3) = (arg(1), arg(2), arg(3));
        let notify = |fid: u64, target: u64| {
            let mut x = RecExit::with_reason(exit_reason::PSCI);
            x.gprs[0] = fid;
            x.gprs[1] = target;
            Next::Exit(x)
        };
        match f {
            fid::PSCI_VERSION => ctx.regs.gprs[0] = PSCI_VERSION_1_1,
            fid::PSCI_FEATURES => {
                let supported = matches!(
                    a1 & 0xFFFF_FFFF,
                    fid::PSCI_VERSION
                        | fid::PSCI_CPU_SUSPEND
                        | fid::PSCI_CPU_SUSPEND64
                        | fid::PSCI_CPU_OFF
                        | fid::PSCI_CPU_ON
                        | fid::PSCI_CPU_ON64
                        | fid::PSCI_AFFINITY_INFO
                        | fid::PSCI_AFFINITY_INFO64
                        | fid::PSCI_SYSTEM_OFF
                        | fid::PSCI_SYSTEM_RESET
                        | fid::PSCI_FEATURES
                        | fid::SMCCC_VERSION
                );
                ctx.regs.gprs[0] = if supported {
                    psci::SUCCESS
                } else {
                    psci::NOT_SUPPORTED
                };
            }
            fid::PSCI_CPU_SUSPEND | fid::PSCI_CPU_SUSPEND64 => {
                ctx.regs.gprs[0] = psci::SUCCESS;
                return notify(f, 0);
            }
            fid::PSCI_CPU_OFF => {
                ctx.runnable = false;
                return notify(f, 0);
            }
            fid::PSCI_SYSTEM_OFF | fid::PSCI_SYSTEM_RESET => {
                if let Ok((rd_g, _)) = self.lock_rd(ctx.rd.0) {
                    self.platform.map_granule(rd_g.pa(), Slot::Rd)[RD_STATE_WORD]
                        .store(RealmState::SystemOff as u64, Ordering::Relaxed);
                }
                return notify(f, 0);
            }
            fid::PSCI_CPU_ON | fid::PSCI_CPU_ON64 => {
                if a2 >= realm.par_end() {
                    ctx.regs.gprs[0] = psci::INVALID_ADDRESS;
                } else if !self.target_in_realm(ctx.rd, a1) {
                    ctx.regs.gprs[0] = psci::INVALID_PARAMS;
                } else if same_rec(ctx.mpidr, a1) {
                    ctx.regs.gprs[0] = psci::ALREADY_ON;
                } else {
                    ctx.psci = [f + 1, a1, a3];
                    ctx.psci_entry = a2;
                    return notify(f, a1);
                }
            }
            fid::PSCI_AFFINITY_INFO | fid::PSCI_AFFINITY_INFO64 => {
                if a2 != 0 || !self.target_in_realm(ctx.rd, a1) {
                    ctx.regs.gprs[0] = psci::INVALID_PARAMS;
                } else if same_rec(ctx.mpidr, a1) {
                    ctx.regs.gprs[0] = psci::ON;
                } else {
                    ctx.psci = [f + 1, a1, 0];
                    return notify(f, a1);
                }
            }
            _ => ctx.regs.gprs[0] = psci::NOT_SUPPORTED,
        }
        Next::Resume
    }

    /// The realm-format MPIDR `target` names a REC of the realm (index <
    /// REC count).
    fn target_in_realm(&self, rd: PhysAddr, target: u64) -> bool {
        let Some(index) = realm_mpidr_index(target) else {
            return false;
        };
        let Ok((rd_g, _)) = self.lock_rd(rd.0) else {
            return false;
        };
        index
            < self.platform.map_granule(rd_g.pa(), Slot::Rd)[RD_REC_COUNT_WORD]
                .load(Ordering::Relaxed)
    }

    /// RMI_PSCI_COMPLETE(calling_rec, target_rec, status). Failure
    /// conditions in DEN0137 1.0-rel0 order (TF-RMM CBMC testbench
    /// `tb_rmi_psci_complete.c`; all ERROR_INPUT):
    ///
    /// 1. `alias`: calling == target
    /// 2. `calling_align`, `calling_bound`, `calling_state` (REC)
    /// 3. `target_align`, `target_bound`, `target_state` (REC)
    /// 4. `pending`: the calling REC has no PSCI request pending
    /// 5. `owner`: the RECs belong to different realms
    /// 6. `target`: the target's MPIDR is not the one requested
    /// 7. `status` (§10): CPU_ON takes SUCCESS or DENIED (DENIED while
    ///    the target is on is refused); AFFINITY_INFO takes SUCCESS only
    ///
    /// Effect: CPU_ON, target off, SUCCESS: the target is reset (PC =
    /// entry, x0 = context id, other GPRs 0, EL1h with DAIF masked, MMU
    /// off) and made runnable; the caller gets SUCCESS, ALREADY_ON (target
    /// on) or DENIED. AFFINITY_INFO: the caller gets ON or OFF. The
    /// caller's x1..x3 are zeroed and its request cleared.
    ///
    /// The target's FP state (aux 0) is not reset by CPU_ON yet. The target
    /// REC is mapped through `Slot::RecAux` (no REC_AUX is mapped here).
    ///
    /// Locks: the calling REC alone to find its RD, then RD -> both RECs in
    /// ascending PA order. Neither REC can be running: the caller has a
    /// request pending (REC_ENTER refuses it) and the target is only
    /// changed when it is not runnable.
    pub(crate) fn psci_complete(&self, calling: u64, target: u64, st: u64) -> RmiStatus {
        if calling == target {
            return RmiStatus::ErrorInput; // alias
        }
        let (rd_g, _realm, calling_g) = match self.lock_rec_and_rd(calling) {
            Ok(v) => v, // calling_align, calling_bound, calling_state
            Err(s) => return s,
        };
        // The target: RD -> RECs in PA order. We hold the caller; take the
        // target with try_lock if it is above, else drop and relock both.
        let target_pa = PhysAddr(target);
        if !target_pa.is_granule_aligned() || self.granules.is_reserved(target_pa) != Some(false) {
            return RmiStatus::ErrorInput; // target_align, target_bound
        }
        if target_pa == rd_g.pa() {
            return RmiStatus::ErrorInput; // target_state: never wait for our own lock
        }
        let (calling_g, target_g) = if target > calling {
            let Some(t) = self.granules.lock(target_pa) else {
                return RmiStatus::ErrorInput;
            };
            (calling_g, t)
        } else {
            drop(calling_g);
            let Some(t) = self.granules.lock(target_pa) else {
                return RmiStatus::ErrorInput;
            };
            let Some(c) = self.granules.lock(PhysAddr(calling)) else {
                return RmiStatus::ErrorInput;
            };
            if c.state() != GranuleState::Rec {
                return RmiStatus::ErrorInput; // raced with REC_DESTROY
            }
            (c, t)
        };
        if target_g.state() != GranuleState::Rec {
            return RmiStatus::ErrorInput; // target_state
        }
        let cm = self.platform.map_granule(calling_g.pa(), Slot::Rec);
        let tm = self.platform.map_granule(target_g.pa(), Slot::RecAux);
        let cw = |i: usize| cm[i].load(Ordering::Relaxed);
        let tw = |i: usize| tm[i].load(Ordering::Relaxed);
        if cw(layout::RD) != rd_g.pa().as_u64() {
            return RmiStatus::ErrorInput; // raced: the caller changed
        }
        let req = cw(layout::PSCI);
        if req == 0 {
            return RmiStatus::ErrorInput; // pending
        }
        if tw(layout::RD) != cw(layout::RD) {
            return RmiStatus::ErrorInput; // owner
        }
        let requested = cw(layout::PSCI + 1);
        if !same_rec(tw(layout::MPIDR), requested) {
            return RmiStatus::ErrorInput; // target
        }
        let f = req - 1;
        let target_on = tw(layout::FLAGS) & 1 != 0;
        let caller_x0 = match f {
            fid::PSCI_CPU_ON | fid::PSCI_CPU_ON64 => match (st, target_on) {
                (psci::SUCCESS, true) => psci::ALREADY_ON,
                (psci::SUCCESS, false) => {
                    let entry = cw(layout::PSCI_ENTRY);
                    let ctx_id = cw(layout::PSCI + 2);
                    reset_rec(&tm, entry, ctx_id);
                    psci::SUCCESS
                }
                (psci::DENIED, false) => psci::DENIED,
                _ => return RmiStatus::ErrorInput, // status
            },
            _ => {
                if st != psci::SUCCESS {
                    return RmiStatus::ErrorInput; // status
                }
                if target_on { psci::ON } else { psci::OFF }
            }
        };
        cm[layout::GPRS].store(caller_x0, Ordering::Relaxed);
        for i in 1..=3 {
            cm[layout::GPRS + i].store(0, Ordering::Relaxed);
        }
        for i in 0..3 {
            cm[layout::PSCI + i].store(0, Ordering::Relaxed);
        }
        cm[layout::PSCI_ENTRY].store(0, Ordering::Relaxed);
        RmiStatus::Success
    }
}

/// Reset a REC for PSCI CPU_ON (§10): PC = entry, x0 = context id, other
/// GPRs 0, PSTATE EL1h with DAIF masked, SCTLR_EL1 reset (MMU off), other
/// EL1 registers 0, no pending exit state, runnable.
fn reset_rec(m: &GranuleWords, entry: u64, ctx_id: u64) {
    let set = |i: usize, v: u64| m[i].store(v, Ordering::Relaxed);
    set(layout::PC, entry);
    set(layout::PSTATE, PSTATE_INIT);
    for i in 0..31 {
        set(layout::GPRS + i, 0);
    }
    set(layout::GPRS, ctx_id);
    for i in 0..SysReg::Count as usize {
        set(layout::SYSREGS + i, 0);
    }
    set(layout::SYSREGS + SysReg::SctlrEl1 as usize, SCTLR_EL1_INIT);
    for i in layout::EXIT_REASON..layout::PSCI {
        set(i, 0);
    }
    set(layout::HOST_CALL, 0);
    set(layout::EXIT_FLAGS, 0);
    set(layout::FLAGS, 1);
}

/// REC index of a realm-format MPIDR (Aff3 in 39:32; MT/U/RES1 ignored).
fn realm_mpidr_index(mpidr: u64) -> Option<u64> {
    mpidr_to_index(arch_mpidr_to_rec(mpidr))
}

/// The REC with RmiRecMpidr `rec_mpidr` is the one the realm-format MPIDR
/// `target` names.
fn same_rec(rec_mpidr: u64, target: u64) -> bool {
    match (mpidr_to_index(rec_mpidr), realm_mpidr_index(target)) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}
