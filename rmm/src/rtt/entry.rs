//! RTT_READ_ENTRY (DEN0137 1.0-rel0; outputs per cca-rmm-abi.md §6.3),
//! RTT_INIT_RIPAS (§7, RIM per cca-attestation.md §2.3) and
//! RTT_MAP/UNMAP_UNPROTECTED (§6.2).

use core::sync::atomic::Ordering;

use crate::platform::{Platform, Slot};
use crate::realm::RealmState;
use crate::rim;
use crate::rmi::{RmiReturn, Rmm};
use crate::types::{GRANULE_SIZE, RmiStatus};

use super::s2tte::{self, Ripas, S2tte};
use super::{PAGE_LEVEL, aligned, level_size};

/// RTT_READ_ENTRY state values (§6.3).
const STATE_UNASSIGNED: u64 = 0;
const STATE_ASSIGNED: u64 = 1;
const STATE_TABLE: u64 = 2;

impl<P: Platform> Rmm<'_, P> {
    /// RMI_RTT_READ_ENTRY(rd, ipa, level) -> x1 = walk level, x2 = state,
    /// x3 = desc, x4 = RIPAS. Failure conditions (DEN0137 1.0-rel0 order):
    /// `rd_align`, `rd_bound`, `rd_state`, `level_bound` (start..=3),
    /// `ipa_align` (entry at `level`), `ipa_bound` (< 2^s2sz), all
    /// ERROR_INPUT with x1..x4 = 0. A walk that stops early is not an error:
    /// the entry where it stopped is reported.
    pub(crate) fn rtt_read_entry(&self, rd: u64, ipa: u64, level: i64) -> RmiReturn {
        let fail = RmiReturn {
            x: [RmiStatus::ErrorInput.to_raw(), 0, 0, 0, 0],
        };
        let Ok((_rd_g, realm)) = self.lock_rd(rd) else {
            return fail;
        };
        if !(realm.start_level..=PAGE_LEVEL).contains(&level)
            || !aligned(ipa, level)
            || ipa >= realm.ipa_end()
        {
            return fail;
        }
        let Ok(walk) = self.rtt_walk(&realm, ipa, level) else {
            return fail;
        };
        let e = S2tte::decode(self.rtt_read(&walk.table, walk.index), walk.level);
        let (state, desc, ripas) = match e {
            S2tte::Unassigned(r) => (STATE_UNASSIGNED, 0, r as u64),
            S2tte::AssignedInvalid(r @ super::s2tte::Ripas::Empty, oa) => {
                (STATE_ASSIGNED, oa, r as u64)
            }
            S2tte::AssignedInvalid(r, _) => (STATE_ASSIGNED, 0, r as u64),
            S2tte::AssignedRam(oa) => (STATE_ASSIGNED, oa, 1),
            S2tte::UnassignedNs => (STATE_UNASSIGNED, 0, 0),
            S2tte::AssignedNs(d) => (STATE_ASSIGNED, d & super::s2tte::HOST_NS_MASK, 0),
            S2tte::Table(pa) => (STATE_TABLE, pa, 0),
        };
        RmiReturn {
            x: [
                RmiStatus::Success.to_raw(),
                walk.level as u64,
                state,
                desc,
                ripas,
            ],
        }
    }

    /// RMI_RTT_INIT_RIPAS(rd, base, top) -> x1 = top reached. Walks one RTT:
    /// from the entry covering `base` (walk towards level 3) to the end of
    /// that table or `top`, turning UNASSIGNED EMPTY into UNASSIGNED RAM and
    /// accepting UNASSIGNED RAM; the RIM is extended once per entry with
    /// that entry's bounds at the walk level (cca-attestation.md §2.3).
    ///
    /// Failure conditions in DEN0137 1.0-rel0 priority order (labels as in
    /// the spec and the Arm CCA RMM ACS `rmi_rtt_init_ripas_data.h`, whose
    /// `top_gran_align_compare_no_progress` row orders the last two):
    ///
    /// 1. `rd_align`, `rd_bound`, `rd_state` -> ERROR_INPUT
    /// 2. `size_valid`: top <= base -> ERROR_INPUT
    /// 3. `top_bound`: top beyond the PAR -> ERROR_INPUT
    /// 4. `realm_state`: realm not NEW -> ERROR_REALM(0)
    /// 5. `base_align`: base not aligned to an entry at the walk level ->
    ///    ERROR_RTT(walk level)
    /// 6. `rtte_state`: the entry at base is not UNASSIGNED EMPTY/RAM ->
    ///    ERROR_RTT(walk level)
    /// 7. `top_gran_align`: top not 4 KiB-aligned -> ERROR_INPUT
    /// 8. `no_progress`: the entry at base ends beyond top ->
    ///    ERROR_RTT(walk level)
    ///
    /// x1 = 0 on every error. Later entries that cannot be initialised (not
    /// UNASSIGNED EMPTY/RAM, or ending beyond top) end the walk early with
    /// SUCCESS and x1 = the first address not initialised.
    pub(crate) fn rtt_init_ripas(&self, rd: u64, base: u64, top: u64, x4: u64) -> RmiReturn {
        match self.rtt_init_ripas_inner(rd, base, top) {
            Ok(reached) => RmiReturn::new(RmiStatus::Success.to_raw(), [reached, 0, 0], x4),
            Err(s) => RmiReturn::status(s, x4),
        }
    }

    fn rtt_init_ripas_inner(&self, rd: u64, base: u64, top: u64) -> Result<u64, RmiStatus> {
        let (rd_g, realm) = self.lock_rd(rd)?;
        if top <= base {
            return Err(RmiStatus::ErrorInput); // size_valid
        }
        if top > realm.par_end() {
            return Err(RmiStatus::ErrorInput); // top_bound
        }
        if realm.state != RealmState::New {
            return Err(RmiStatus::ErrorRealm(0)); // realm_state
        }
        let walk = self.rtt_walk(&realm, base, PAGE_LEVEL)?;
        let level = walk.level;
        let rtt_err = RmiStatus::ErrorRtt(level as u8);
        if !aligned(base, level) {
            return Err(rtt_err); // base_align
        }
        let size = level_size(level);
        let mut rim =
            rim::load::<P::Sha2>(&self.platform.map_granule(rd_g.pa(), Slot::Rd), realm.algo)
                .ok_or(RmiStatus::ErrorInput)?;
        let m = self.platform.map_granule(walk.table.pa(), Slot::Rtt);
        let ripas_of = |i: usize| match S2tte::decode(m[i].load(Ordering::Relaxed), level) {
            S2tte::Unassigned(r @ (Ripas::Empty | Ripas::Ram)) => Some(r),
            _ => None,
        };
        if ripas_of(walk.index).is_none() {
            return Err(rtt_err); // rtte_state
        }
        if !top.is_multiple_of(GRANULE_SIZE) {
            return Err(RmiStatus::ErrorInput); // top_gran_align
        }
        if top - base < size {
            return Err(rtt_err); // no_progress
        }
        // No failure is possible from here on (a RIPAS extension only
        // rejects unaligned or empty ranges, excluded above). One run of
        // extensions covers the whole table walk: the descriptor and its
        // SHA-2 padding are built once (cmon_measure::RipasRun).
        let mut addr = base;
        {
            let mut run = rim.ripas_run();
            for (i, e) in m.iter().enumerate().skip(walk.index) {
                let next = addr + size;
                if next > top {
                    break;
                }
                let Some(ripas) = ripas_of(i) else { break };
                if run.measure(addr, next).is_err() {
                    break;
                }
                if ripas == Ripas::Empty {
                    e.store(s2tte::unassigned(Ripas::Ram), Ordering::Release);
                }
                addr = next;
            }
        }
        drop(m);
        rim::store(
            &self.platform.map_granule(rd_g.pa(), Slot::Rd),
            &rim.value(),
        );
        Ok(addr)
    }

    /// `level_bound`, `ipa_align`, `ipa_bound` of the map commands
    /// (RTT_MAP/UNMAP_UNPROTECTED): level in 1..=3 (cca-rmm-abi.md §2; not
    /// above the start level), IPA aligned to an entry at `level`, outside
    /// the PAR and below 2^s2sz.
    fn unprotected_args_ok(realm: &crate::realm::RealmInfo, ipa: u64, level: i64) -> bool {
        (realm.start_level.max(1)..=PAGE_LEVEL).contains(&level)
            && aligned(ipa, level)
            && ipa >= realm.par_end()
            && ipa < realm.ipa_end()
    }

    /// RMI_RTT_MAP_UNPROTECTED(rd, ipa, level, desc). Failure conditions
    /// in DEN0137 1.0-rel0 priority order (ACS
    /// `rmi_rtt_map_unprotected_data.h`):
    ///
    /// 1. `attr_valid`: desc has bits other than OA, MemAttr, S2AP, or the
    ///    reserved MemAttr -> ERROR_INPUT
    /// 2. `rd_align`, `rd_bound`, `rd_state` -> ERROR_INPUT
    /// 3. `level_bound` (1..=3), `addr_align` (OA aligned to level),
    ///    `ipa_align`, `ipa_bound` (outside PAR) -> ERROR_INPUT
    /// 4. `rtt_walk`: the walk stops above `level` -> ERROR_RTT(walk level)
    /// 5. `rtte_state`: the entry is not UNASSIGNED_NS -> ERROR_RTT(level)
    ///
    /// Effect: ASSIGNED_NS with the host's OA/MemAttr/S2AP; the RTT's
    /// refcount +1. Invalid -> valid, so no TLB maintenance.
    pub(crate) fn rtt_map_unprotected(
        &self,
        rd: u64,
        ipa: u64,
        level: i64,
        desc: u64,
    ) -> RmiStatus {
        if !s2tte::host_ns_desc_valid(desc) {
            return RmiStatus::ErrorInput; // attr_valid
        }
        let (_rd_g, realm) = match self.lock_rd(rd) {
            Ok(v) => v,
            Err(s) => return s,
        };
        if !Self::unprotected_args_ok(&realm, ipa, level) || !s2tte::host_ns_oa_aligned(desc, level)
        {
            return RmiStatus::ErrorInput; // level_bound, addr_align, ipa_align, ipa_bound
        }
        let walk = match self.rtt_walk(&realm, ipa, level) {
            Ok(w) => w,
            Err(s) => return s,
        };
        if walk.level < level {
            return RmiStatus::ErrorRtt(walk.level as u8); // rtt_walk
        }
        if S2tte::decode(self.rtt_read(&walk.table, walk.index), level) != S2tte::UnassignedNs {
            return RmiStatus::ErrorRtt(level as u8); // rtte_state
        }
        let mut table = walk.table;
        if table.inc_ref().is_err() {
            return RmiStatus::ErrorInput; // cannot happen: <= 512 live entries
        }
        self.rtt_write(&table, walk.index, s2tte::assigned_ns(desc, level));
        RmiStatus::Success
    }

    /// RMI_RTT_UNMAP_UNPROTECTED(rd, ipa, level) -> x1 = top. Failure
    /// conditions in DEN0137 1.0-rel0 priority order (ACS
    /// `rmi_rtt_unmap_unprotected_data.h`):
    ///
    /// 1. `rd_align`, `rd_bound`, `rd_state`, `level_bound`, `ipa_align`,
    ///    `ipa_bound` (outside PAR) -> ERROR_INPUT, x1 = 0
    /// 2. `rtt_walk`: the walk stops above `level` -> ERROR_RTT(walk level),
    ///    x1 = top
    /// 3. `rtte_state`: the entry is not ASSIGNED_NS -> ERROR_RTT(level),
    ///    x1 = top
    ///
    /// Effect: UNASSIGNED_NS, `tlbi_ipa`, the RTT's refcount -1; x1 = the
    /// top of the non-live run from the entry (as RTT_DESTROY's x2).
    pub(crate) fn rtt_unmap_unprotected(
        &self,
        rd: u64,
        ipa: u64,
        level: i64,
        x4: u64,
    ) -> RmiReturn {
        let ret = |s: RmiStatus, x1: u64| RmiReturn::new(s.to_raw(), [x1, 0, 0], x4);
        let (_rd_g, realm) = match self.lock_rd(rd) {
            Ok(v) => v,
            Err(s) => return ret(s, 0),
        };
        if !Self::unprotected_args_ok(&realm, ipa, level) {
            return ret(RmiStatus::ErrorInput, 0);
        }
        let walk = match self.rtt_walk(&realm, ipa, level) {
            Ok(w) => w,
            Err(s) => return ret(s, 0),
        };
        if walk.level < level {
            let top = self.rtt_skip_non_live(&walk, ipa);
            return ret(RmiStatus::ErrorRtt(walk.level as u8), top); // rtt_walk
        }
        let S2tte::AssignedNs(_) = S2tte::decode(self.rtt_read(&walk.table, walk.index), level)
        else {
            let top = self.rtt_skip_non_live(&walk, ipa);
            return ret(RmiStatus::ErrorRtt(level as u8), top); // rtte_state
        };
        self.rtt_write(&walk.table, walk.index, s2tte::UNASSIGNED_NS);
        self.platform.tlbi_ipa(realm.vmid, ipa);
        let mut walk = walk;
        let _ = walk.table.dec_ref();
        let top = self.rtt_skip_non_live(&walk, ipa);
        ret(RmiStatus::Success, top)
    }
}
