//! The RIPAS change flow (cca-rmm-abi.md §7): RSI_IPA_STATE_SET records a
//! request in the REC and exits with RMI_EXIT_RIPAS_CHANGE; the host applies
//! it with RMI_RTT_SET_RIPAS, one RTT per call; the next RMI_REC_ENTER
//! completes the realm's RSI call with the address reached and the host's
//! RIPAS_RESPONSE.
//!
//! # The request in the REC (words 76..80, `rec::layout::RIPAS_CHANGE`)
//!
//! | word | field |
//! |------|-------|
//! | 76   | base (4 KiB aligned) |
//! | 77   | top; 0 = no request pending (a request always has top > base) |
//! | 78   | requested RIPAS (0 EMPTY, 1 RAM) |
//! | 79   | flags: bit 0 CHANGE_DESTROYED (RsiRipasChangeFlags bit 0) |
//! | 80   | progress: the next address RTT_SET_RIPAS must start from |
//!
//! The words change only while the REC is not running: RSI_IPA_STATE_SET and
//! the completion run inside REC_ENTER and are stored back with the rest of
//! the REC context; RTT_SET_RIPAS refuses a running REC (ERROR_REC) and
//! updates the progress under the RD lock, which keeps REC_ENTER (and every
//! other command that could touch the REC) out.
//!
//! # Entry updates (TF-RMM `update_ripas`, cca-rmm-abi.md §6.2)
//!
//! | entry | request RAM | request EMPTY |
//! |-------|-------------|---------------|
//! | unassigned_empty | unassigned_ram | unchanged |
//! | unassigned_ram | unchanged | unassigned_empty |
//! | unassigned_destroyed | unassigned_ram if CHANGE_DESTROYED, else stop | unassigned_empty if CHANGE_DESTROYED, else stop |
//! | assigned_empty | assigned_ram (invalid -> valid, no TLBI) | unchanged |
//! | assigned_ram | unchanged | assigned_empty, then `tlbi_ipa` (valid -> invalid) |
//! | assigned_destroyed | assigned_ram if CHANGE_DESTROYED, else stop | assigned_empty if CHANGE_DESTROYED, else stop |
//! | table, unassigned_ns, assigned_ns | stop | stop |
//!
//! The OA of an assigned entry is kept, so the DATA granule stays findable
//! and RTT_READ_ENTRY / DATA_DESTROY see the new RIPAS. RTT refcounts do not
//! change (assigned entries stay live). Unlike RTT_INIT_RIPAS the RIM is not
//! extended: it is frozen once the realm is active.

use core::sync::atomic::{AtomicU64, Ordering};

use crate::platform::{GranuleWords, Platform, Slot};
use crate::realm::RealmInfo;
use crate::rec::layout;
use crate::rmi::{RmiReturn, Rmm};
use crate::rsi::status;
use crate::rtt::s2tte::{self, Ripas, S2tte};
use crate::rtt::{ENTRIES, PAGE_LEVEL, aligned, level_size};
use crate::run::{Next, RecCtx, RecExit, exit_reason};
use crate::types::{GRANULE_SIZE, GranuleState, PhysAddr, RmiStatus};

/// RsiRipasChangeFlags bit 0 (and bit 0 of the REC flags word): a
/// DESTROYED entry may change.
pub const CHANGE_DESTROYED: u64 = 1 << 0;
/// RsiResponse: the host accepted the change.
pub const RSI_ACCEPT: u64 = 0;
/// RsiResponse: the host rejected the change.
pub const RSI_REJECT: u64 = 1;

/// Word offsets of the request, from `rec::layout::RIPAS_CHANGE`.
const W_BASE: usize = 0;
const W_TOP: usize = 1;
const W_VALUE: usize = 2;
const W_FLAGS: usize = 3;
const W_PROGRESS: usize = 4;

/// A RIPAS change request of a REC (module docs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct RipasChange {
    pub base: u64,
    pub top: u64,
    pub value: u64,
    pub flags: u64,
    pub progress: u64,
}

impl RipasChange {
    /// A request is pending.
    pub(crate) fn pending(&self) -> bool {
        self.top != 0
    }

    /// Read the request from a mapped REC granule.
    pub(crate) fn load(rec: &GranuleWords) -> RipasChange {
        let w = |i: usize| rec[layout::RIPAS_CHANGE + i].load(Ordering::Relaxed);
        RipasChange {
            base: w(W_BASE),
            top: w(W_TOP),
            value: w(W_VALUE),
            flags: w(W_FLAGS),
            progress: w(W_PROGRESS),
        }
    }

    /// Write the request into a mapped REC granule.
    pub(crate) fn store(&self, rec: &GranuleWords) {
        let set = |i: usize, v: u64| rec[layout::RIPAS_CHANGE + i].store(v, Ordering::Relaxed);
        set(W_BASE, self.base);
        set(W_TOP, self.top);
        set(W_VALUE, self.value);
        set(W_FLAGS, self.flags);
        set(W_PROGRESS, self.progress);
    }

    fn ripas(&self) -> Ripas {
        if self.value == Ripas::Ram as u64 {
            Ripas::Ram
        } else {
            Ripas::Empty
        }
    }
}

/// What RTT_SET_RIPAS does with one entry: `None` = stop the walk here;
/// `Some((new, tlbi))` = write `new` (if any), then invalidate the TLBs for
/// the entry if it was valid and is not any more.
fn update_entry(
    old: S2tte,
    level: i64,
    to: Ripas,
    change_destroyed: bool,
) -> Option<(Option<u64>, bool)> {
    let keep = Some((None, false));
    let write = |v: u64| Some((Some(v), false));
    match (to, old) {
        (_, S2tte::Unassigned(Ripas::Destroyed)) if !change_destroyed => None,
        (_, S2tte::AssignedInvalid(Ripas::Destroyed, _)) if !change_destroyed => None,
        (Ripas::Ram, S2tte::Unassigned(Ripas::Ram) | S2tte::AssignedRam(_)) => keep,
        (Ripas::Ram, S2tte::Unassigned(_)) => write(s2tte::unassigned(Ripas::Ram)),
        (Ripas::Ram, S2tte::AssignedInvalid(Ripas::Empty | Ripas::Destroyed, oa)) => {
            write(s2tte::assigned_ram(oa, level))
        }
        (Ripas::Empty, S2tte::Unassigned(Ripas::Empty))
        | (Ripas::Empty, S2tte::AssignedInvalid(Ripas::Empty, _)) => keep,
        (Ripas::Empty, S2tte::Unassigned(_)) => write(s2tte::unassigned(Ripas::Empty)),
        (Ripas::Empty, S2tte::AssignedInvalid(Ripas::Destroyed, oa)) => {
            write(s2tte::assigned_invalid(Ripas::Empty, oa))
        }
        (Ripas::Empty, S2tte::AssignedRam(oa)) => {
            Some((Some(s2tte::assigned_invalid(Ripas::Empty, oa)), true))
        }
        _ => None,
    }
}

impl<P: Platform> Rmm<'_, P> {
    /// RSI_IPA_STATE_SET(base, top, ripas, flags) from the realm (§7, §9).
    /// Input checks in the order of the Arm CCA RMM ACS
    /// `rsi_ipa_state_set_data.h` (all RSI_ERROR_INPUT, so the order is not
    /// observable; no exit, the realm gets x0 = RSI_ERROR_INPUT):
    ///
    /// 1. `addr_align`: base not 4 KiB aligned
    /// 2. `size_bound`: top not 4 KiB aligned, or top <= base
    /// 3. `rgn_bound`: top beyond the PAR (the range is not protected)
    /// 4. `ripas_valid`: ripas is neither EMPTY (0) nor RAM (1)
    ///
    /// Flag bits other than CHANGE_DESTROYED are ignored (TF-RMM). On
    /// success the request is recorded in the REC (progress = base) and the
    /// REC exits with RMI_EXIT_RIPAS_CHANGE, exit.ripas_base/top/value set;
    /// the realm's x0..x2 are written when the next REC_ENTER completes the
    /// call ([`Rmm::complete_ripas_change`]).
    pub(crate) fn ipa_state_set(
        &self,
        ctx: &mut RecCtx,
        realm: &RealmInfo,
        args: [u64; 4],
    ) -> Next {
        let [base, top, ripas, flags] = args;
        let valid = base.is_multiple_of(GRANULE_SIZE) // addr_align
            && top.is_multiple_of(GRANULE_SIZE) && top > base // size_bound
            && top <= realm.par_end() // rgn_bound
            && (ripas == Ripas::Empty as u64 || ripas == Ripas::Ram as u64); // ripas_valid
        if !valid {
            ctx.regs.gprs[0] = status::ERROR_INPUT;
            return Next::Resume;
        }
        ctx.ripas = RipasChange {
            base,
            top,
            value: ripas,
            flags: flags & CHANGE_DESTROYED,
            progress: base,
        };
        let mut x = RecExit::with_reason(exit_reason::RIPAS_CHANGE);
        x.ripas_base = base;
        x.ripas_top = top;
        x.ripas_value = ripas;
        Next::Exit(x)
    }

    /// Complete a pending RIPAS change on REC_ENTER (TF-RMM
    /// `complete_set_ripas`): realm x0 = RSI_SUCCESS, x1 = the address
    /// reached, x2 = RSI_REJECT if the host set RIPAS_RESPONSE and the
    /// request was RAM and not completed, else RSI_ACCEPT (a realm can always
    /// give memory up, so an EMPTY request is never rejected). The request is
    /// cleared.
    pub(crate) fn complete_ripas_change(ctx: &mut RecCtx, reject: bool) {
        let req = ctx.ripas;
        if !req.pending() {
            return;
        }
        let rejected = reject && req.ripas() == Ripas::Ram && req.progress != req.top;
        ctx.regs.gprs[0] = status::SUCCESS;
        ctx.regs.gprs[1] = req.progress;
        ctx.regs.gprs[2] = if rejected { RSI_REJECT } else { RSI_ACCEPT };
        ctx.ripas = RipasChange::default();
    }

    /// RMI_RTT_SET_RIPAS(rd, rec, base, top) -> x1 = the address reached.
    /// Failure conditions in DEN0137 1.0-rel0 priority order and with the
    /// statuses of B4.3.21.2:
    ///
    /// 1. `rd_align`, `rd_bound`, `rd_state` -> ERROR_INPUT
    /// 2. `rec_align`, `rec_bound`, `rec_gran_state` (REC) -> ERROR_INPUT
    /// 3. `rec_state`: the REC is running (refcount 1) -> ERROR_REC;
    ///    `rec_owner`: the REC belongs to another realm -> ERROR_REC
    ///    (same status, so their order is not observable)
    /// 4. `size_valid`: top <= base -> ERROR_INPUT
    /// 5. `base_bound`: base is not the REC's progress address ->
    ///    ERROR_INPUT
    /// 6. `top_bound`: top beyond the requested top (always the case when
    ///    no request is pending: the stored top is 0) -> ERROR_INPUT
    /// 7. `base_align`: base not aligned to an entry at the level where the
    ///    walk towards level 3 stops, *and* that entry's RIPAS is not the
    ///    requested one -> ERROR_RTT(walk level)
    /// 8. `top_gran_align`: top not 4 KiB aligned -> ERROR_INPUT
    /// 9. `no_progress`: nothing can change from base (the entry at base
    ///    cannot take the RIPAS, or must change but ends beyond top) ->
    ///    ERROR_RTT(walk level)
    ///
    /// Effect: from the entry at base to the end of that RTT or top, each
    /// entry is updated (module docs) until one cannot be (DESTROYED
    /// without CHANGE_DESTROYED, a table) or would cross top; the progress
    /// moves to the address reached, returned in x1. An entry that already
    /// has the requested RIPAS needs no change, so it counts as done even
    /// where base is inside it or top cuts it (the spec's `ripas !=
    /// rec.ripas_value` in `base_align` and `no_progress`). x1 = 0 on every
    /// error and nothing changes.
    ///
    /// Locks: RD; the REC under it (as REC_DESTROY does), released before
    /// the walk (a non-running REC cannot change while its RD is held:
    /// REC_ENTER, REC_DESTROY and PSCI_COMPLETE all need the RD); the RTTs
    /// hand over hand; the REC again to store the progress.
    pub(crate) fn rtt_set_ripas(&self, rd: u64, rec: u64, base: u64, top: u64) -> RmiReturn {
        match self.rtt_set_ripas_inner(rd, rec, base, top) {
            Ok(reached) => RmiReturn::new(RmiStatus::Success.to_raw(), [reached, 0, 0], top),
            Err(s) => RmiReturn::status(s, top),
        }
    }

    fn rtt_set_ripas_inner(
        &self,
        rd: u64,
        rec: u64,
        base: u64,
        top: u64,
    ) -> Result<u64, RmiStatus> {
        let (rd_g, realm) = self.lock_rd(rd)?; // rd_align, rd_bound, rd_state
        let rec_pa = PhysAddr(rec);
        if rec_pa == rd_g.pa() {
            return Err(RmiStatus::ErrorInput); // rec_gran_state: never wait for our own lock
        }
        let req = {
            let rec_g = self.lock_granule_in_state(rec_pa, GranuleState::Rec)?; // rec_align, rec_bound, rec_gran_state
            if rec_g.refcount() != 0 {
                return Err(RmiStatus::ErrorRec); // running
            }
            let m = self.platform.map_granule(rec_pa, Slot::Rec);
            if m[layout::RD].load(Ordering::Relaxed) != rd {
                return Err(RmiStatus::ErrorRec); // rec_owner
            }
            RipasChange::load(&m)
        };
        if top <= base {
            return Err(RmiStatus::ErrorInput); // size_valid
        }
        if base != req.progress {
            return Err(RmiStatus::ErrorInput); // base_bound
        }
        if top > req.top {
            return Err(RmiStatus::ErrorInput); // top_bound
        }
        let walk = self.rtt_walk(&realm, base, PAGE_LEVEL)?;
        let level = walk.level;
        let size = level_size(level);
        let to = req.ripas();
        let change_destroyed = req.flags & CHANGE_DESTROYED != 0;
        let reached = {
            let m = self.platform.map_granule(walk.table.pa(), Slot::Rtt);
            let update = |e: &AtomicU64| {
                update_entry(
                    S2tte::decode(e.load(Ordering::Relaxed), level),
                    level,
                    to,
                    change_destroyed,
                )
            };
            // The entry already has the requested RIPAS (`ripas ==
            // rec.ripas_value`): nothing to write in it.
            let unchanged = |u: Option<(Option<u64>, bool)>| u == Some((None, false));
            if !aligned(base, level) && !unchanged(update(&m[walk.index])) {
                return Err(RmiStatus::ErrorRtt(level as u8)); // base_align
            }
            if !top.is_multiple_of(GRANULE_SIZE) {
                return Err(RmiStatus::ErrorInput); // top_gran_align
            }
            let mut addr = base & !(size - 1);
            let mut reached = base;
            for e in m.iter().take(ENTRIES).skip(walk.index) {
                let next = addr + size;
                let Some((new, tlbi)) = update(e) else {
                    break;
                };
                if next > top {
                    if unchanged(Some((new, tlbi))) {
                        reached = top; // nothing to change up to top
                    }
                    break;
                }
                if let Some(v) = new {
                    e.store(v, Ordering::Release);
                }
                if tlbi {
                    self.platform.tlbi_ipa(realm.vmid, addr);
                }
                addr = next;
                reached = next;
            }
            reached
        };
        if reached == base {
            return Err(RmiStatus::ErrorRtt(level as u8)); // no_progress
        }
        drop(walk);
        // Under the RD the REC is still this realm's idle REC (docs above).
        if let Some(rec_g) = self.granules.lock(rec_pa)
            && rec_g.state() == GranuleState::Rec
        {
            let m = self.platform.map_granule(rec_pa, Slot::Rec);
            m[layout::RIPAS_CHANGE + W_PROGRESS].store(reached, Ordering::Relaxed);
        }
        drop(rd_g);
        Ok(reached)
    }
}
