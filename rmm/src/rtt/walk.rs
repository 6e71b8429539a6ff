//! The RTT walk (DEN0137 RttWalk): from the root RTT covering an IPA down
//! towards a target level, following table entries.
//!
//! Locking: the caller holds the RD lock. The walk locks the root, then
//! each child before releasing its parent (hand over hand), so it only ever
//! waits for a lock deeper in the tree than every lock it holds. It returns
//! with the last table locked.

use core::sync::atomic::Ordering;

use crate::granule::GranuleGuard;
use crate::platform::{Platform, Slot};
use crate::realm::RealmInfo;
use crate::rmi::Rmm;
use crate::types::{GRANULE_SIZE, GranuleState, PhysAddr, RmiStatus};

use super::s2tte::S2tte;
use super::{ENTRIES, level_shift};

/// Where a walk stopped.
#[derive(Debug)]
pub(crate) struct Walk<'a> {
    /// The RTT holding the entry, locked.
    pub table: GranuleGuard<'a>,
    /// Its level.
    pub level: i64,
    /// Index of the entry for the IPA in `table`.
    pub index: usize,
}

impl<'a, P: Platform> Rmm<'a, P> {
    /// Walk `realm`'s RTTs for `ipa` (< 2^s2sz, checked by the caller) down
    /// to `target` at most. Fails only if an RTT granule is not in state RTT,
    /// which a consistent RMM never produces (ERROR_INPUT, nothing changed).
    pub(crate) fn rtt_walk(
        &self,
        realm: &RealmInfo,
        ipa: u64,
        target: i64,
    ) -> Result<Walk<'a>, RmiStatus> {
        let mut level = realm.start_level;
        let root_index = ipa >> level_shift(level);
        let root = realm.rtt_base + (root_index / ENTRIES as u64) * GRANULE_SIZE;
        let mut table = self.lock_rtt(root)?;
        let mut index = (root_index % ENTRIES as u64) as usize;
        while level < target {
            let raw = self.platform.map_granule(table.pa(), Slot::RttParent)[index]
                .load(Ordering::Relaxed);
            let S2tte::Table(next) = S2tte::decode(raw, level) else {
                break;
            };
            // Child before releasing the parent: hand over hand.
            let child = self.lock_rtt(next)?;
            table = child;
            level += 1;
            index = ((ipa >> level_shift(level)) % ENTRIES as u64) as usize;
        }
        Ok(Walk {
            table,
            level,
            index,
        })
    }

    fn lock_rtt(&self, pa: u64) -> Result<GranuleGuard<'a>, RmiStatus> {
        match self.granules.lock(PhysAddr(pa)) {
            Some(g) if g.state() == GranuleState::Rtt => Ok(g),
            _ => Err(RmiStatus::ErrorInput),
        }
    }

    /// Read entry `index` of the locked RTT `table`.
    pub(crate) fn rtt_read(&self, table: &GranuleGuard<'_>, index: usize) -> u64 {
        self.platform.map_granule(table.pa(), Slot::Rtt)[index % ENTRIES].load(Ordering::Relaxed)
    }

    /// Write entry `index` of the locked RTT `table`.
    pub(crate) fn rtt_write(&self, table: &GranuleGuard<'_>, index: usize, value: u64) {
        self.platform.map_granule(table.pa(), Slot::Rtt)[index % ENTRIES]
            .store(value, Ordering::Release);
    }

    /// `top` output of RTT_DESTROY / DATA_DESTROY / UNMAP_UNPROTECTED
    /// (DEN0137 "top IPA of non-live RTT entries, from the entry at which
    /// the RTT walk terminated"): `ipa` itself if that entry is live, else
    /// the end of the run of non-live entries in that table.
    pub(crate) fn rtt_skip_non_live(&self, walk: &Walk<'_>, ipa: u64) -> u64 {
        let m = self.platform.map_granule(walk.table.pa(), Slot::Rtt);
        let live = |i: usize| S2tte::decode(m[i].load(Ordering::Relaxed), walk.level).is_live();
        if live(walk.index) {
            return ipa;
        }
        let end = (walk.index + 1..ENTRIES)
            .find(|&i| live(i))
            .unwrap_or(ENTRIES);
        let size_shift = level_shift(walk.level);
        let base = (ipa >> size_shift) << size_shift;
        base + (((end - walk.index) as u64) << size_shift)
    }
}
