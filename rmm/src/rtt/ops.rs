//! RTT_CREATE (with unfold), RTT_DESTROY and RTT_FOLD (DEN0137 1.0-rel0;
//! TF-RMM behaviour in cca-rmm-abi.md §6.4).

use core::sync::atomic::Ordering;

use crate::platform::{Platform, Slot};
use crate::realm::RealmInfo;
use crate::rmi::{RmiReturn, Rmm};
use crate::types::{GranuleState, PhysAddr, RmiStatus};

use super::s2tte::HOST_NS_MASK;
use super::s2tte::{self, Ripas, S2tte};
use super::{ENTRIES, PAGE_LEVEL, aligned, level_size};

impl<'a, P: Platform> Rmm<'a, P> {
    /// `level_bound`, `ipa_align`, `ipa_bound` of the structure commands
    /// (RTT_CREATE/DESTROY/FOLD): level in start+1..=3, IPA aligned to an
    /// entry at level-1 and below 2^s2sz (all ERROR_INPUT).
    pub(crate) fn structure_args_ok(realm: &RealmInfo, ipa: u64, level: i64) -> bool {
        (realm.start_level + 1..=PAGE_LEVEL).contains(&level)
            && aligned(ipa, level - 1)
            && ipa < realm.ipa_end()
    }

    /// RMI_RTT_CREATE(rd, rtt, ipa, level). Failure conditions in the
    /// order of DEN0137 1.0-rel0 (labels as in the spec and the Arm CCA RMM
    /// ACS `rmi_rtt_create_data.h`):
    ///
    /// 1. `rd_align`, `rd_bound`, `rd_state` -> ERROR_INPUT
    /// 2. `level_bound`, `ipa_align`, `ipa_bound` -> ERROR_INPUT
    /// 3. `rtt_align`, `rtt_bound`, `rtt_state` (DELEGATED) -> ERROR_INPUT
    /// 4. `rtt_walk`: the walk to level-1 stops early -> ERROR_RTT(walk level)
    /// 5. `rtte_state`: the level-1 entry is already a table -> ERROR_RTT(level-1)
    ///
    /// Lock order: RD, the walk's RTTs, then the new RTT granule last with
    /// try_lock; its state is checked after the walk but reported before
    /// the walk's errors, and nothing changes before every condition passed.
    pub(crate) fn rtt_create(&self, rd: u64, rtt: u64, ipa: u64, level: i64) -> RmiStatus {
        let (_rd_g, realm) = match self.lock_rd(rd) {
            Ok(v) => v,
            Err(s) => return s,
        };
        if !Self::structure_args_ok(&realm, ipa, level) {
            return RmiStatus::ErrorInput;
        }
        let rtt_pa = PhysAddr(rtt);
        if !rtt_pa.is_granule_aligned() || self.granules.is_reserved(rtt_pa) != Some(false) {
            return RmiStatus::ErrorInput; // rtt_align, rtt_bound
        }
        let walk = match self.rtt_walk(&realm, ipa, level - 1) {
            Ok(w) => w,
            Err(s) => return s,
        };
        // rtt_state. Never wait for a lock this command already holds.
        if rtt == rd || rtt == walk.table.pa().as_u64() {
            return RmiStatus::ErrorInput;
        }
        // try_lock: a candidate granule is never waited for while RTT locks
        // are held (crate docs, lock order).
        let mut child = match self.try_lock_in_state(rtt_pa, GranuleState::Delegated) {
            Ok(g) => g,
            Err(s) => return s,
        };
        if walk.level < level - 1 {
            return RmiStatus::ErrorRtt(walk.level as u8); // rtt_walk
        }
        let mut parent = walk.table;
        let parent_level = walk.level;
        let old = S2tte::decode(self.rtt_read(&parent, walk.index), parent_level);
        if let S2tte::Table(_) = old {
            return RmiStatus::ErrorRtt(parent_level as u8); // rtte_state
        }
        // Unfold: the new RTT inherits the parent entry (§6.4).
        let step = level_size(level);
        let mut live = 0u16;
        {
            let m = self.platform.map_granule(child.pa(), Slot::Rtt);
            for (i, e) in m.iter().enumerate() {
                let off = i as u64 * step;
                let v = match old {
                    S2tte::Unassigned(r) => s2tte::unassigned(r),
                    S2tte::UnassignedNs => s2tte::UNASSIGNED_NS,
                    S2tte::AssignedInvalid(r, oa) => s2tte::assigned_invalid(r, oa + off),
                    S2tte::AssignedRam(oa) => s2tte::assigned_ram(oa + off, level),
                    S2tte::AssignedNs(d) => {
                        s2tte::assigned_ns((d & s2tte::HOST_NS_MASK) + off, level)
                    }
                    S2tte::Table(_) => 0,
                };
                e.store(v, Ordering::Relaxed);
            }
            if old.is_live() {
                live = ENTRIES as u16;
            }
        }
        // Replacing a valid block: break before make, then invalidate.
        if old.is_valid() {
            self.rtt_write(&parent, walk.index, s2tte::unassigned(Ripas::Empty));
            self.platform.tlbi_ipa(realm.vmid, ipa);
        }
        self.rtt_write(&parent, walk.index, s2tte::table(rtt));
        // An unassigned parent entry becomes live (a table); a live block
        // stays live.
        if !old.is_live() && parent.inc_ref().is_err() {
            // Cannot happen: at most 512 live entries per RTT. Undo.
            self.rtt_write(&parent, walk.index, raw_of(old, parent_level));
            return RmiStatus::ErrorInput;
        }
        child.set_state(GranuleState::Rtt);
        for _ in 0..live {
            let _ = child.inc_ref();
        }
        RmiStatus::Success
    }

    /// RMI_RTT_DESTROY(rd, ipa, level) -> x1 = RTT PA, x2 = top. Failure
    /// conditions in the order of DEN0137 1.0-rel0 (ACS
    /// `rmi_rtt_destroy_data.h`):
    ///
    /// 1. `rd_align`, `rd_bound`, `rd_state`, `level_bound`, `ipa_align`,
    ///    `ipa_bound` -> ERROR_INPUT (x1 = x2 = 0)
    /// 2. `rtt_walk` -> ERROR_RTT(walk level), x2 = top
    /// 3. `rtte_state`: level-1 entry not a table -> ERROR_RTT(level-1), x2 = top
    /// 4. `rtt_live`: the RTT has live entries -> ERROR_RTT(level), x2 = top
    pub(crate) fn rtt_destroy(&self, rd: u64, ipa: u64, level: i64, x4: u64) -> RmiReturn {
        let ret = |s: RmiStatus, x1: u64, x2: u64| RmiReturn::new(s.to_raw(), [x1, x2, 0], x4);
        let (_rd_g, realm) = match self.lock_rd(rd) {
            Ok(v) => v,
            Err(s) => return ret(s, 0, 0),
        };
        if !Self::structure_args_ok(&realm, ipa, level) {
            return ret(RmiStatus::ErrorInput, 0, 0);
        }
        let walk = match self.rtt_walk(&realm, ipa, level - 1) {
            Ok(w) => w,
            Err(s) => return ret(s, 0, 0),
        };
        if walk.level < level - 1 {
            let top = self.rtt_skip_non_live(&walk, ipa);
            return ret(RmiStatus::ErrorRtt(walk.level as u8), 0, top);
        }
        let S2tte::Table(child_pa) =
            S2tte::decode(self.rtt_read(&walk.table, walk.index), walk.level)
        else {
            let top = self.rtt_skip_non_live(&walk, ipa);
            return ret(RmiStatus::ErrorRtt(walk.level as u8), 0, top);
        };
        // Parent before child: the lock order of a walk.
        let mut child = match self.granules.lock(PhysAddr(child_pa)) {
            Some(g) if g.state() == GranuleState::Rtt => g,
            _ => return ret(RmiStatus::ErrorInput, 0, 0),
        };
        if child.refcount() != 0 {
            return ret(RmiStatus::ErrorRtt(level as u8), 0, ipa); // rtt_live
        }
        if self.platform.zero_granule(child.pa()).is_err() {
            return ret(RmiStatus::ErrorInput, 0, 0);
        }
        let mut parent = walk.table;
        let new = if ipa < realm.par_end() {
            s2tte::unassigned(Ripas::Destroyed)
        } else {
            s2tte::UNASSIGNED_NS
        };
        self.rtt_write(&parent, walk.index, new);
        self.platform.tlbi_ipa(realm.vmid, ipa);
        let _ = parent.dec_ref();
        child.set_state(GranuleState::Delegated);
        drop(child);
        let walk = super::walk::Walk {
            table: parent,
            level: walk.level,
            index: walk.index,
        };
        let top = self.rtt_skip_non_live(&walk, ipa);
        ret(RmiStatus::Success, child_pa, top)
    }

    /// RMI_RTT_FOLD(rd, ipa, level) -> x1 = PA of the folded RTT. Failure
    /// conditions in DEN0137 1.0-rel0 priority order (ACS
    /// `rmi_rtt_fold_data.h`):
    ///
    /// 1. `rd_align`, `rd_bound`, `rd_state`, `level_bound` (start+1..=3),
    ///    `ipa_align` (entry at level-1), `ipa_bound` -> ERROR_INPUT
    /// 2. `rtt_walk`: the walk to level-1 stops early -> ERROR_RTT(walk level)
    /// 3. `rtte_state`: the level-1 entry is not a table -> ERROR_RTT(level-1)
    /// 4. `rtt_homogeneous`: the child is not foldable (§6.4) -> ERROR_RTT(level)
    ///
    /// Effect: the parent entry becomes the unassigned / unassigned_ns entry
    /// or the block the child described (its refcount -1 if the new entry is
    /// not live), the child is scrubbed and returns to DELEGATED. TLBs: one
    /// `tlbi_ipa` when the child held no valid entry (only the table entry
    /// goes), else `tlbi_vmid` (the child's up to 512 page entries may be
    /// cached; one VMID-wide invalidation replaces 512 by-IPA ones).
    pub(crate) fn rtt_fold(&self, rd: u64, ipa: u64, level: i64, x4: u64) -> RmiReturn {
        let ret = |s: RmiStatus, x1: u64| RmiReturn::new(s.to_raw(), [x1, 0, 0], x4);
        let (_rd_g, realm) = match self.lock_rd(rd) {
            Ok(v) => v,
            Err(s) => return ret(s, 0),
        };
        if !Self::structure_args_ok(&realm, ipa, level) {
            return ret(RmiStatus::ErrorInput, 0);
        }
        let walk = match self.rtt_walk(&realm, ipa, level - 1) {
            Ok(w) => w,
            Err(s) => return ret(s, 0),
        };
        if walk.level < level - 1 {
            return ret(RmiStatus::ErrorRtt(walk.level as u8), 0); // rtt_walk
        }
        let S2tte::Table(child_pa) =
            S2tte::decode(self.rtt_read(&walk.table, walk.index), walk.level)
        else {
            return ret(RmiStatus::ErrorRtt(walk.level as u8), 0); // rtte_state
        };
        // Parent before child: the lock order of a walk.
        let mut child = match self.granules.lock(PhysAddr(child_pa)) {
            Some(g) if g.state() == GranuleState::Rtt => g,
            _ => return ret(RmiStatus::ErrorInput, 0),
        };
        let folded = {
            let m = self.platform.map_granule(child.pa(), Slot::Rtt);
            let e = |i: usize| S2tte::decode(m[i].load(Ordering::Relaxed), level);
            fold_entry(&e, level, child.refcount())
        };
        let Some((new, had_valid)) = folded else {
            return ret(RmiStatus::ErrorRtt(level as u8), 0); // rtt_homogeneous
        };
        if self.platform.zero_granule(child.pa()).is_err() {
            return ret(RmiStatus::ErrorInput, 0);
        }
        let mut parent = walk.table;
        // Break before make: remove the table entry, invalidate, then write
        // the folded entry.
        self.rtt_write(&parent, walk.index, s2tte::unassigned(Ripas::Empty));
        if had_valid {
            self.platform.tlbi_vmid(realm.vmid);
        } else {
            self.platform.tlbi_ipa(realm.vmid, ipa);
        }
        self.rtt_write(&parent, walk.index, new);
        if !S2tte::decode(new, level - 1).is_live() {
            let _ = parent.dec_ref();
        }
        while child.dec_ref().is_ok() {}
        child.set_state(GranuleState::Delegated);
        ret(RmiStatus::Success, child_pa)
    }
}

/// Re-encode a decoded entry (for the impossible-overflow undo path).
fn raw_of(e: S2tte, level: i64) -> u64 {
    match e {
        S2tte::Unassigned(r) => s2tte::unassigned(r),
        S2tte::UnassignedNs => s2tte::UNASSIGNED_NS,
        S2tte::AssignedInvalid(r, oa) => s2tte::assigned_invalid(r, oa),
        S2tte::AssignedRam(oa) => s2tte::assigned_ram(oa, level),
        S2tte::AssignedNs(d) => d,
        S2tte::Table(pa) => s2tte::table(pa),
    }
}

/// The entry replacing a table at `level - 1` whose 512 entries at `level`
/// are `e(0..512)` (§6.4), and whether any of them was valid; `None` if the
/// table is not homogeneous. `live` is the child's refcount.
fn fold_entry(e: &impl Fn(usize) -> S2tte, level: i64, live: u16) -> Option<(u64, bool)> {
    let parent_level = level - 1;
    let step = level_size(level);
    let block_ok = |oa: u64| parent_level >= 1 && aligned(oa, parent_level);
    match e(0) {
        S2tte::Unassigned(r) => {
            let all = (1..ENTRIES).all(|i| e(i) == S2tte::Unassigned(r));
            (all && live == 0).then_some((s2tte::unassigned(r), false))
        }
        S2tte::UnassignedNs => {
            let all = (1..ENTRIES).all(|i| e(i) == S2tte::UnassignedNs);
            (all && live == 0).then_some((s2tte::UNASSIGNED_NS, false))
        }
        S2tte::AssignedRam(oa) => {
            let all = (1..ENTRIES).all(|i| e(i) == S2tte::AssignedRam(oa + i as u64 * step));
            (all && block_ok(oa)).then_some((s2tte::assigned_ram(oa, parent_level), true))
        }
        S2tte::AssignedInvalid(r, oa) => {
            let all = (1..ENTRIES).all(|i| e(i) == S2tte::AssignedInvalid(r, oa + i as u64 * step));
            (all && block_ok(oa)).then_some((s2tte::assigned_invalid(r, oa), false))
        }
        S2tte::AssignedNs(d) => {
            let attrs = d & HOST_NS_MASK & !s2tte::OA_MASK;
            let oa = d & s2tte::OA_MASK;
            let all = (1..ENTRIES).all(|i| match e(i) {
                S2tte::AssignedNs(x) => {
                    x & s2tte::OA_MASK == oa + i as u64 * step
                        && x & HOST_NS_MASK & !s2tte::OA_MASK == attrs
                }
                _ => false,
            });
            (all && block_ok(oa)).then_some((s2tte::assigned_ns(oa | attrs, parent_level), true))
        }
        S2tte::Table(_) => None,
    }
}
