//! RECs (Realm Execution Contexts): the REC granule layout, RMI_REC_CREATE
//! and RMI_REC_DESTROY (DEN0137 1.0-rel0; RmiRecParams in cca-rmm-abi.md
//! §4.2, REC descriptor in cca-attestation.md §2.3).
//!
//! # REC granule layout (64-bit words of the REC granule, little-endian)
//!
//! | Word    | Bytes  | Field |
//! |---------|--------|-------|
//! | 0       | 0x000  | owning RD PA |
//! | 1       | 0x008  | REC index (from the MPIDR, = RD REC count at creation) |
//! | 2       | 0x010  | MPIDR (RmiRecMpidr form, as given by the host) |
//! | 3       | 0x018  | flags: bit 0 RUNNABLE |
//! | 4       | 0x020  | PC (ELR_EL2 at the next REC_ENTER) |
//! | 5       | 0x028  | PSTATE (SPSR_EL2 at the next REC_ENTER): EL1h, DAIF masked |
//! | 8..39   | 0x040  | x0..x30 (words 8..38), word 39 reserved |
//! | 40..71  | 0x140  | EL1/EL0 system-register context, [`SysReg`] order |
//! | 72      | 0x240  | last exit reason + 1 (0 = never ran), for EMUL_MMIO / INJECT_SEA |
//! | 73..75  | 0x248  | last exit ESR, FAR, HPFAR |
//! | 76..80  | 0x260  | pending RIPAS change: base, top (0 = none), value, flags (bit 0 CHANGE_DESTROYED), progress address (`ripas.rs`) |
//! | 81..83  | 0x288  | pending PSCI request: FID + 1 (0 = none), target MPIDR, context id |
//! | 84      | 0x2A0  | pending RSI_HOST_CALL: IPA of the RsiHostCall, bit 0 set (0 = none) |
//! | 85      | 0x2A8  | last exit flags: bit 0 emulatable data abort, bit 1 data abort at an unprotected IPA |
//! | 86      | 0x2B0  | pending PSCI CPU_ON entry point |
//! | 96..111 | 0x300  | aux granule PAs (REC_AUX_COUNT of them) |
//! | 112     | 0x380  | number of aux granules |
//! | 120     | 0x3C0  | GICv3 ICH_HCR_EL2 image (host's validated RecRun.enter.gicv3_hcr) |
//! | 121..136| 0x3C8  | GICv3 list registers (host's validated RecRun.enter.gicv3_lrs) |
//! | rest    |        | zero, reserved |
//!
//! The REC's FP/SIMD state lives in its **first aux granule** (words 0..63
//! q0..q31, each little-endian low word first; word 64 FPSR; word 65
//! FPCR; zero = architectural reset value for a new REC).
//!
//! Everything but words 0..5, 8..15 (x0..x7 from the params), the
//! SCTLR_EL1 slot and the aux list is zero after REC_CREATE. The REC's
//! granule-table refcount is 1 while a CPU runs it (REC_ENTER), so
//! REC_DESTROY of a running REC fails. Aux granule 0 holds the FP/SIMD
//! state (below); the others stay zero until SVE, PMU and attestation
//! state need them.

use core::sync::atomic::Ordering;

use cmon_measure::RimRecParams;

use crate::granule::GranuleGuard;
use crate::platform::{GranuleWords, Platform, Slot};
use crate::realm::{RD_REC_COUNT_WORD, RealmState, le_u64};
use crate::rim;
use crate::rmi::Rmm;
use crate::types::{GranuleState, PhysAddr, RmiStatus};

/// RMI_REC_AUX_COUNT result: auxiliary granules per REC. A constant for
/// every realm (TF-RMM uses 16, `MAX_REC_AUX_GRANULES`, the most the spec
/// allows); they are reserved for per-REC state too large for the REC
/// granule (SIMD/SVE, PMU, attestation heap) once REC_ENTER exists.
pub const REC_AUX_COUNT: usize = 16;

/// Word indices of the REC granule (module docs).
pub mod layout {
    /// Owning RD PA.
    pub const RD: usize = 0;
    /// REC index.
    pub const INDEX: usize = 1;
    /// MPIDR.
    pub const MPIDR: usize = 2;
    /// Flags (bit 0 RUNNABLE).
    pub const FLAGS: usize = 3;
    /// PC.
    pub const PC: usize = 4;
    /// PSTATE.
    pub const PSTATE: usize = 5;
    /// x0 (x0..x30 follow).
    pub const GPRS: usize = 8;
    /// First EL1 system-register slot ([`super::SysReg`] order).
    pub const SYSREGS: usize = 40;
    /// Last exit reason + 1.
    pub const EXIT_REASON: usize = 72;
    /// Last exit ESR, FAR, HPFAR.
    pub const EXIT_SYNDROME: usize = 73;
    /// RIPAS change: base, top, value, flags, progress.
    pub const RIPAS_CHANGE: usize = 76;
    /// PSCI request: FID + 1, target MPIDR, context id.
    pub const PSCI: usize = 81;
    /// Pending host call: RsiHostCall IPA | 1 (0 = none).
    pub const HOST_CALL: usize = 84;
    /// Last exit flags (bit 0 emulatable abort, bit 1 unprotected abort).
    pub const EXIT_FLAGS: usize = 85;
    /// Pending CPU_ON entry point.
    pub const PSCI_ENTRY: usize = 86;
    /// GICv3 HCR image.
    pub const GIC_HCR: usize = 120;
    /// GICv3 list registers (16 words).
    pub const GIC_LRS: usize = 121;
    /// GICv3 ICH_VMCR_EL2 of the REC.
    pub const GIC_VMCR: usize = 137;
    /// GICv3 ICH_AP0R0..3 then ICH_AP1R0..3 (8 words).
    pub const GIC_APRS: usize = 138;
    /// Aux granule PAs.
    pub const AUX: usize = 96;
    /// Number of aux granules.
    pub const NUM_AUX: usize = 112;
}

/// EL1/EL0 registers a REC owns, in slot order from
/// [`layout::SYSREGS`]. REC_ENTER restores them before ERET and saves them
/// on exit.
#[allow(missing_docs)] // The names are the architectural register names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SysReg {
    SctlrEl1 = 0,
    TcrEl1,
    Ttbr0El1,
    Ttbr1El1,
    MairEl1,
    AmairEl1,
    VbarEl1,
    ContextidrEl1,
    TpidrEl0,
    TpidrroEl0,
    TpidrEl1,
    SpEl0,
    SpEl1,
    ElrEl1,
    SpsrEl1,
    EsrEl1,
    FarEl1,
    Afsr0El1,
    Afsr1El1,
    ParEl1,
    CpacrEl1,
    CsselrEl1,
    MdscrEl1,
    CntkctlEl1,
    CntvCtlEl0,
    CntvCvalEl0,
    CntpCtlEl0,
    CntpCvalEl0,
    ZcrEl1,
    /// Count of slots (32 words reserved).
    Count,
}

/// PSTATE at REC creation: AArch64 EL1h (M = 0b0101) with D, A, I, F
/// masked (TF-RMM `runtime/rmi/rec.c`).
pub const PSTATE_INIT: u64 = 0x3C5;
/// SCTLR_EL1 at REC creation: only the RES1 bits (29, 28, 23, 22, 20, 11),
/// so the stage-1 MMU and caches are off.
pub const SCTLR_EL1_INIT: u64 =
    (1 << 29) | (1 << 28) | (1 << 23) | (1 << 22) | (1 << 20) | (1 << 11);

/// RmiRecParams bytes copied in: up to and including aux[15].
const PARAMS_LEN: usize = 0x808 + 8 * REC_AUX_COUNT;
/// RmiRecCreateFlags: RUNNABLE; other bits are reserved (must be zero).
const FLAG_RUNNABLE: u64 = 1;
/// Valid RmiRecMpidr bits: Aff0[3:0], Aff1[15:8], Aff2[23:16], Aff3[31:24].
const MPIDR_MASK: u64 = 0xFFFF_FF0F;

/// REC index of an RmiRecMpidr (TF-RMM `mpidr_to_rec_idx`): Aff0[3:0],
/// then Aff1, Aff2 and Aff3 packed above it. `None` if reserved bits are set.
pub fn mpidr_to_index(mpidr: u64) -> Option<u64> {
    if mpidr & !MPIDR_MASK != 0 {
        return None;
    }
    let aff = |n: u32| (mpidr >> (8 * n)) & 0xFF;
    Some((mpidr & 0xF) | aff(1) << 4 | aff(2) << 12 | aff(3) << 20)
}

/// RmiRecParams (cca-rmm-abi.md §4.2), decoded from the single copy.
struct RecParams {
    flags: u64,
    mpidr: u64,
    pc: u64,
    gprs: [u64; 8],
    num_aux: u64,
    aux: [u64; REC_AUX_COUNT],
}

impl RecParams {
    fn parse(b: &[u8; PARAMS_LEN]) -> RecParams {
        RecParams {
            flags: le_u64(b, 0x000),
            mpidr: le_u64(b, 0x100),
            pc: le_u64(b, 0x200),
            gprs: core::array::from_fn(|i| le_u64(b, 0x300 + 8 * i)),
            num_aux: le_u64(b, 0x800),
            aux: core::array::from_fn(|i| le_u64(b, 0x808 + 8 * i)),
        }
    }
}

fn set(g: &GranuleWords, word: usize, v: u64) {
    g[word].store(v, Ordering::Relaxed);
}

impl<'a, P: Platform> Rmm<'a, P> {
    /// RMI_REC_CREATE(rd, rec, params_ptr). Failure conditions in DEN0137
    /// 1.0-rel0 priority order (labels as in the spec and the Arm CCA RMM
    /// ACS `rmi_rec_create_data.h`):
    ///
    /// 1. `params_align`, `params_bound`, `params_pas` (the one NS read
    ///    faults) -> ERROR_INPUT; then reserved RmiRecCreateFlags bits set
    ///    -> ERROR_INPUT (not a 1.0-rel0 failure condition: the reserved
    ///    bits of RmiRecCreateFlags must be zero)
    /// 2. `rec_align`, `rec_bound`, `rec_state` (DELEGATED) -> ERROR_INPUT
    /// 3. `rd_align`, `rd_bound`, `rd_state` -> ERROR_INPUT
    /// 4. `realm_state`: realm not NEW -> ERROR_REALM(0)
    /// 5. `num_recs`: the realm has 2^MAX_RECS_ORDER - 1 live RECs
    ///    (RMI_FEATURES) -> ERROR_REALM(0)
    /// 6. `mpidr_index`: the MPIDR's REC index is not the realm's REC count
    ///    (or has reserved bits set) -> ERROR_INPUT
    /// 7. `num_aux`: not REC_AUX_COUNT -> ERROR_INPUT
    /// 8. `aux_align`, `aux_alias` (an aux equals the REC, the RD or
    ///    another aux), `aux_state` (DELEGATED) -> ERROR_INPUT
    ///
    /// Lock order: RD (blocking) first; the REC and aux candidates are
    /// object locks taken with try_lock. The REC's state is checked after
    /// the RD's but every earlier row is ERROR_INPUT too, so the order is
    /// not observable.
    pub(crate) fn rec_create(&self, rd: u64, rec: u64, params_pa: u64) -> RmiStatus {
        match self.rec_create_inner(rd, rec, params_pa) {
            Ok(()) => RmiStatus::Success,
            Err(s) => s,
        }
    }

    fn rec_create_inner(&self, rd: u64, rec: u64, params_pa: u64) -> Result<(), RmiStatus> {
        let buf: [u8; PARAMS_LEN] = self.read_params(params_pa)?;
        let p = RecParams::parse(&buf);
        if p.flags & !FLAG_RUNNABLE != 0 {
            return Err(RmiStatus::ErrorInput); // reserved RmiRecCreateFlags bits (MBZ)
        }
        let rec_pa = PhysAddr(rec);
        if !rec_pa.is_granule_aligned() || self.granules.is_reserved(rec_pa) != Some(false) {
            return Err(RmiStatus::ErrorInput); // rec_align, rec_bound
        }
        let (mut rd_g, realm) = self.lock_rd(rd)?;
        if rec == rd {
            return Err(RmiStatus::ErrorInput); // rec_state: never wait for our own lock
        }
        let mut rec_g = self.try_lock_in_state(rec_pa, GranuleState::Delegated)?; // rec_state
        if realm.state != RealmState::New {
            return Err(RmiStatus::ErrorRealm(0)); // realm_state
        }
        // num_recs: the realm already has the most live RECs RMI_FEATURES
        // allows, 2^MAX_RECS_ORDER - 1 (the 4-bit field as reported).
        let max_recs = (1u64 << (self.features.max_recs_order & 0xF)) - 1;
        if u64::from(rd_g.refcount()) >= max_recs {
            return Err(RmiStatus::ErrorRealm(0)); // num_recs
        }
        let rd_map = self.platform.map_granule(rd_g.pa(), Slot::Rd);
        let count = rd_map[RD_REC_COUNT_WORD].load(Ordering::Relaxed);
        if mpidr_to_index(p.mpidr) != Some(count) {
            return Err(RmiStatus::ErrorInput); // mpidr_index
        }
        if p.num_aux != REC_AUX_COUNT as u64 {
            return Err(RmiStatus::ErrorInput); // num_aux
        }
        if p.aux.iter().any(|&a| !PhysAddr(a).is_granule_aligned()) {
            return Err(RmiStatus::ErrorInput); // aux_align
        }
        for (i, &a) in p.aux.iter().enumerate() {
            if a == rec || a == rd || p.aux[..i].contains(&a) {
                return Err(RmiStatus::ErrorInput); // aux_alias
            }
        }
        let mut aux: [Option<GranuleGuard<'a>>; REC_AUX_COUNT] = Default::default();
        for (slot, &a) in aux.iter_mut().zip(p.aux.iter()) {
            *slot = Some(self.try_lock_in_state(PhysAddr(a), GranuleState::Delegated)?); // aux_state
        }
        let mut rim = rim::load::<P::Sha2>(&rd_map, realm.algo).ok_or(RmiStatus::ErrorInput)?;
        // RD refcount = live RECs; 4095 at most (refcount field width).
        rd_g.inc_ref().map_err(|_| RmiStatus::ErrorInput)?;
        // No failure is possible from here on.
        rim.measure_rec(&RimRecParams {
            flags: p.flags,
            pc: p.pc,
            gprs: p.gprs,
        });
        rim::store(&rd_map, &rim.value());
        rd_map[RD_REC_COUNT_WORD].store(count + 1, Ordering::Relaxed);
        drop(rd_map);
        {
            let m = self.platform.map_granule(rec_pa, Slot::Rec);
            set(&m, layout::RD, rd);
            set(&m, layout::INDEX, count);
            set(&m, layout::MPIDR, p.mpidr);
            set(&m, layout::FLAGS, p.flags & FLAG_RUNNABLE);
            set(&m, layout::PC, p.pc);
            set(&m, layout::PSTATE, PSTATE_INIT);
            for (i, &r) in p.gprs.iter().enumerate() {
                set(&m, layout::GPRS + i, r);
            }
            set(
                &m,
                layout::SYSREGS + SysReg::SctlrEl1 as usize,
                SCTLR_EL1_INIT,
            );
            for (i, &a) in p.aux.iter().enumerate() {
                set(&m, layout::AUX + i, a);
            }
            set(&m, layout::NUM_AUX, REC_AUX_COUNT as u64);
        }
        for g in aux.iter_mut().flatten() {
            g.set_state(GranuleState::RecAux);
        }
        rec_g.set_state(GranuleState::Rec);
        Ok(())
    }

    /// RMI_REC_DESTROY(rec). Failure conditions in DEN0137 1.0-rel0 order
    /// (ACS `rmi_rec_destroy_data.h`):
    ///
    /// 1. `rec_align`, `rec_bound`, `rec_gran_state` (not REC) -> ERROR_INPUT
    /// 2. `rec_state`: the REC is running (refcount != 0) -> ERROR_REC
    ///
    /// Effect: the REC and its aux granules are scrubbed and return to
    /// DELEGATED; the RD refcount -1. The RD's REC count (the next REC
    /// index) is not decremented: REC indices are never reused.
    ///
    /// Lock order: the REC is locked alone to read its RD, released, then
    /// the RD is locked and the REC (and its aux granules) locked again
    /// under it; waiting for an object lock is safe because nobody waits
    /// while holding one. If the REC changed in between (host race), the
    /// command starts over.
    pub(crate) fn rec_destroy(&self, rec: u64) -> RmiStatus {
        let rec_pa = PhysAddr(rec);
        loop {
            let owner = {
                let g = match self.lock_granule_in_state(rec_pa, GranuleState::Rec) {
                    Ok(g) => g, // rec_align, rec_bound, rec_gran_state
                    Err(s) => return s,
                };
                if g.refcount() != 0 {
                    return RmiStatus::ErrorRec; // rec_state: running
                }
                self.platform.map_granule(rec_pa, Slot::Rec)[layout::RD].load(Ordering::Relaxed)
            };
            let Some(mut rd_g) = self.granules.lock(PhysAddr(owner)) else {
                return RmiStatus::ErrorInput; // never: a REC's RD outlives it
            };
            let Some(mut rec_g) = self.granules.lock(rec_pa) else {
                return RmiStatus::ErrorInput;
            };
            let m = self.platform.map_granule(rec_pa, Slot::Rec);
            if rec_g.state() != GranuleState::Rec
                || rd_g.state() != GranuleState::Rd
                || m[layout::RD].load(Ordering::Relaxed) != owner
            {
                continue; // raced with REC_DESTROY (+ REC_CREATE): re-check
            }
            if rec_g.refcount() != 0 {
                return RmiStatus::ErrorRec;
            }
            let n = (m[layout::NUM_AUX].load(Ordering::Relaxed) as usize).min(REC_AUX_COUNT);
            let mut aux: [Option<GranuleGuard<'a>>; REC_AUX_COUNT] = Default::default();
            for (i, slot) in aux.iter_mut().take(n).enumerate() {
                let pa = PhysAddr(m[layout::AUX + i].load(Ordering::Relaxed));
                match self.granules.lock(pa) {
                    Some(g) if g.state() == GranuleState::RecAux => *slot = Some(g),
                    _ => return RmiStatus::ErrorInput, // never with a consistent REC
                }
            }
            drop(m);
            // Scrub before changing any state; zeroing RAM we zeroed once
            // cannot fault, and if it did nothing has changed yet.
            for g in aux.iter().flatten() {
                if self.platform.zero_granule(g.pa()).is_err() {
                    return RmiStatus::ErrorInput;
                }
            }
            if self.platform.zero_granule(rec_pa).is_err() {
                return RmiStatus::ErrorInput;
            }
            // A signature this REC left parked in RMM memory dies with it.
            if let Some(att) = &self.attest {
                att.forget(rec_pa);
            }
            for g in aux.iter_mut().flatten() {
                g.set_state(GranuleState::Delegated);
            }
            rec_g.set_state(GranuleState::Delegated);
            let _ = rd_g.dec_ref();
            return RmiStatus::Success;
        }
    }
}
