//! Classifying one exception taken from the realm (module docs of `run`,
//! cca-rmm-abi.md §7 and §8): handled in the RMM (resume) or reported to
//! the host (a REC exit).

use crate::platform::{ExitKind, Platform, RealmExit};
use crate::realm::RealmInfo;
use crate::rmi::Rmm;
use crate::rtt::s2tte::{Ripas, S2tte};
use crate::rtt::{PAGE_LEVEL, level_size};
use crate::types::PhysAddr;

use super::context::{LAST_EMULATABLE, LAST_UNPROTECTED, RecCtx};
use super::record::{RecExit, esr, exit_reason};

/// What one exit handler decided.
#[allow(clippy::large_enum_variant)] // no_std, no alloc: moved once per exit
pub(crate) enum Next {
    /// Run the realm again.
    Resume,
    /// Stop and report this exit to the host.
    Exit(RecExit),
}

/// The IPA (page) of HPFAR_EL2.FIPA (bits 43:4 = IPA 55:12).
pub(crate) fn hpfar_ipa(hpfar: u64) -> u64 {
    (hpfar & 0x0000_0FFF_FFFF_FFF0) << 8
}

/// HPFAR_EL2 for a page IPA.
pub(crate) fn ipa_hpfar(ipa: u64) -> u64 {
    (ipa >> 12) << 4
}

/// Access size in bytes of a data abort with ISV.
pub(super) fn access_bytes(esr: u64) -> u32 {
    1 << ((esr & esr::SAS_MASK) >> esr::SAS_SHIFT)
}

pub(super) fn access_mask(esr: u64) -> u64 {
    match access_bytes(esr) {
        8 => u64::MAX,
        n => (1u64 << (8 * n)) - 1,
    }
}

impl<P: Platform> Rmm<'_, P> {
    /// Classify one exception taken from the realm (module docs).
    pub(super) fn handle_exit(&self, ctx: &mut RecCtx, realm: &RealmInfo, e: &RealmExit) -> Next {
        match e.kind {
            ExitKind::Irq => return Next::Exit(RecExit::with_reason(exit_reason::IRQ)),
            ExitKind::Fiq => return Next::Exit(RecExit::with_reason(exit_reason::FIQ)),
            ExitKind::SError => {
                let mut x = RecExit::with_reason(exit_reason::SERROR);
                x.esr = e.esr;
                return Next::Exit(x);
            }
            ExitKind::Sync => {}
        }
        let ec = (e.esr & esr::EC_MASK) >> esr::EC_SHIFT;
        match ec {
            esr::EC_SMC64 => self.handle_smc(ctx, realm),
            esr::EC_HVC64 => {
                // ELR_EL2 is past the HVC; the UNDEF is for the HVC itself.
                let hvc = ctx.regs.pc.wrapping_sub(4);
                ctx.inject_undef(hvc);
                Next::Resume
            }
            esr::EC_DABT_LOWER => self.handle_data_abort(ctx, realm, e),
            esr::EC_IABT_LOWER => self.handle_instruction_abort(ctx, realm, e),
            esr::EC_WFX => {
                ctx.regs.pc = ctx.regs.pc.wrapping_add(4);
                Next::Exit(RecExit::sync(e.esr & (esr::EC_MASK | esr::WFX_TI), 0, 0))
            }
            _ => {
                let pc = ctx.regs.pc;
                ctx.inject_undef(pc);
                Next::Resume
            }
        }
    }

    /// RIPAS of the protected page `ipa`, from a walk of the realm's RTTs
    /// under the RD lock (`None` if the RD or an RTT is inconsistent).
    pub(crate) fn ripas_at(&self, rd: PhysAddr, ipa: u64) -> Option<Ripas> {
        let (_rd_g, realm) = self.lock_rd(rd.0).ok()?;
        let walk = self.rtt_walk(&realm, ipa, PAGE_LEVEL).ok()?;
        Some(
            match S2tte::decode(self.rtt_read(&walk.table, walk.index), walk.level) {
                S2tte::Unassigned(r) | S2tte::AssignedInvalid(r, _) => r,
                S2tte::AssignedRam(_) => Ripas::Ram,
                _ => return None,
            },
        )
    }

    /// Data abort from the realm (EC 0x24), §7 and §8:
    ///
    /// * synchronous external abort (FSC 0x10, 0x11, 0x14..0x1F): RMI_EXIT_SYNC,
    ///   ESR masked to EC, SET, FnV, EA, FSC; FAR and HPFAR 0;
    /// * IPA >= 2^s2sz: SEA injected, no exit;
    /// * unprotected IPA with ISV: RMI_EXIT_SYNC emulatable: ESR masked to
    ///   EC, SET, FnV, EA, FSC, ISV, SAS, SF, WnR; FAR with bits 11:0
    ///   cleared; HPFAR given; gprs[0] = the written value (x[SRT] masked
    ///   to the access size, 0 for XZR) for a write;
    /// * unprotected IPA without ISV: RMI_EXIT_SYNC non-emulatable (ESR
    ///   masked to EC, SET, FnV, EA, FSC; FAR 0; HPFAR given); INJECT_SEA
    ///   may answer it;
    /// * protected IPA with RIPAS EMPTY: SEA injected, no exit;
    /// * other protected IPA: RMI_EXIT_SYNC non-emulatable.
    fn handle_data_abort(&self, ctx: &mut RecCtx, realm: &RealmInfo, e: &RealmExit) -> Next {
        let fsc = e.esr & esr::FSC_MASK;
        if matches!(fsc, 0x10 | 0x11 | 0x14..=0x1F) {
            return Next::Exit(RecExit::sync(e.esr & esr::NON_EMULATABLE_MASK, 0, 0));
        }
        let ipa = hpfar_ipa(e.hpfar);
        if ipa >= realm.ipa_end() {
            ctx.inject_sea(false, e.far);
            return Next::Resume;
        }
        if ipa >= realm.par_end() {
            ctx.last.esr = e.esr;
            ctx.last.far = e.far;
            ctx.last.hpfar = e.hpfar;
            ctx.last.flags = LAST_UNPROTECTED;
            if e.esr & esr::ISV == 0 {
                return Next::Exit(RecExit::sync(e.esr & esr::NON_EMULATABLE_MASK, 0, e.hpfar));
            }
            ctx.last.flags |= LAST_EMULATABLE;
            // Only the offset within the granule, FAR[11:0]: with HPFAR it
            // names the register the realm accessed, and the realm's
            // virtual address stays hidden (TF-RMM `exit.c` far_offset,
            // `far & ~GRANULE_MASK`).
            let mut x = RecExit::sync(e.esr & esr::EMULATABLE_MASK, e.far & 0xFFF, e.hpfar);
            if e.esr & esr::WNR != 0 {
                let rt = ((e.esr >> esr::SRT_SHIFT) & 0x1F) as usize;
                let v = ctx.regs.gprs.get(rt).copied().unwrap_or(0);
                x.gprs[0] = v & access_mask(e.esr);
            }
            return Next::Exit(x);
        }
        if self.ripas_at(ctx.rd, ipa) == Some(Ripas::Empty) {
            ctx.inject_sea(false, e.far);
            return Next::Resume;
        }
        Next::Exit(RecExit::sync(e.esr & esr::NON_EMULATABLE_MASK, 0, e.hpfar))
    }

    /// Instruction abort from the realm (EC 0x20): SEA injected for an IPA
    /// beyond the IPA space, an unprotected IPA (ASSIGNED_NS is never
    /// executable, XN) or RIPAS EMPTY; anything else exits as a
    /// non-emulatable abort (ESR masked to EC, SET, FnV, EA, FSC; FAR 0;
    /// HPFAR given). External aborts exit with FAR and HPFAR 0.
    fn handle_instruction_abort(&self, ctx: &mut RecCtx, realm: &RealmInfo, e: &RealmExit) -> Next {
        let fsc = e.esr & esr::FSC_MASK;
        if matches!(fsc, 0x10 | 0x11 | 0x14..=0x1F) {
            return Next::Exit(RecExit::sync(e.esr & esr::NON_EMULATABLE_MASK, 0, 0));
        }
        let ipa = hpfar_ipa(e.hpfar);
        if ipa >= realm.par_end() || self.ripas_at(ctx.rd, ipa) == Some(Ripas::Empty) {
            ctx.inject_sea(true, e.far);
            return Next::Resume;
        }
        Next::Exit(RecExit::sync(e.esr & esr::NON_EMULATABLE_MASK, 0, e.hpfar))
    }

    /// The exit the RMM reports when an RSI command names a protected page
    /// with RIPAS RAM that the host has not mapped: a stage-2 translation
    /// fault at the walk `level` for `ipa` (non-emulatable form), so the
    /// host maps the page (DATA_CREATE_UNKNOWN) and re-enters; the realm
    /// repeats the command (TF-RMM's treatment of RSI addresses).
    pub(crate) fn s2_fault_exit(ipa: u64, level: i64) -> RecExit {
        let esr = esr::EC_DABT_LOWER << esr::EC_SHIFT
            | (esr::FSC_TRANSLATION_L0 + level.clamp(0, 3) as u64);
        RecExit::sync(esr, 0, ipa_hpfar(ipa & !(level_size(PAGE_LEVEL) - 1)))
    }
}
