//! Realm PSCI (cca-rmm-abi.md §10) and its host half, RMI_PSCI_COMPLETE.

use super::*;

impl<P: Platform> Rmm<'_, P> {
    /// Realm PSCI (§10).
    pub(super) fn realm_psci(&self, ctx: &mut RecCtx, realm: &RealmInfo, f: u64) -> Next {
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
