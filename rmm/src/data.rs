//! DATA granules: RMI_DATA_CREATE, RMI_DATA_CREATE_UNKNOWN and
//! RMI_DATA_DESTROY (DEN0137 1.0-rel0; cca-rmm-abi.md §2, §6.2; RIM per
//! cca-attestation.md §2.3).
//!
//! Locks: the RD (blocking), the walk's RTTs down to level 3 (hand over
//! hand), then the DATA granule. A candidate DELEGATED granule is taken with
//! `try_lock` (crate docs, lock order); DATA_DESTROY waits for its own DATA
//! granule, which is safe because nobody ever waits while holding an object
//! lock.

use core::sync::atomic::Ordering;

use crate::platform::{Platform, Slot};
use crate::realm::RealmState;
use crate::rim;
use crate::rmi::{RmiReturn, Rmm};
use crate::rtt::s2tte::{self, Ripas, S2tte};
use crate::rtt::{PAGE_LEVEL, aligned};
use crate::types::{GRANULE_SIZE, GranuleState, PhysAddr, RmiStatus};

/// RMI_DATA_CREATE flags (RmiDataFlags): measure the content too.
const MEASURE_CONTENT: u64 = 1;
/// Bytes in one DATA granule.
const PAGE: usize = GRANULE_SIZE as usize;
/// A copied-in page as words: 8-byte aligned, so storing it into the DATA
/// granule is one load and one store per word (a byte buffer costs a
/// memcpy per word on the strict-alignment firmware target).
type PageWords = [u64; PAGE / 8];

impl<P: Platform> Rmm<'_, P> {
    /// RMI_DATA_CREATE(rd, data, ipa, src, flags). Failure conditions in
    /// DEN0137 1.0-rel0 priority order (labels as in the spec and the Arm
    /// CCA RMM ACS `rmi_data_create_data.h`):
    ///
    /// 1. `flags` other than 0/1 -> ERROR_INPUT (checked first, as TF-RMM
    ///    does; every condition before `realm_state` is ERROR_INPUT, so its
    ///    place among them is not observable)
    /// 2. `src_align`, `src_bound`, `src_pas`: src not aligned, or the one
    ///    NS read of the 4 KiB source faults -> ERROR_INPUT
    /// 3. `data_align`, `data_bound`, `data_state` (DELEGATED) -> ERROR_INPUT
    /// 4. `rd_align`, `rd_bound`, `rd_state` -> ERROR_INPUT
    /// 5. `ipa_align` (4 KiB), `ipa_bound` (IPA in the PAR) -> ERROR_INPUT
    /// 6. `realm_state`: realm not NEW -> ERROR_REALM(0)
    /// 7. `rtt_walk`: no level-3 RTT for the IPA -> ERROR_RTT(walk level)
    /// 8. `rtte_state`: the level-3 entry is not UNASSIGNED -> ERROR_RTT(3)
    ///
    /// The 1.1 ACS adds `rtte_ripas` (RIPAS must be RAM); 1.0-rel0 (and
    /// cca-rmm-abi.md §2) accepts any RIPAS and makes it RAM.
    ///
    /// Effect: the source copy is written into the DATA granule, the RIM is
    /// extended with a DATA descriptor (content hashed when flags =
    /// MEASURE_CONTENT), the entry becomes ASSIGNED RAM, the L3 RTT's
    /// refcount +1, and the granule DELEGATED -> DATA.
    pub(crate) fn data_create(
        &self,
        rd: u64,
        data: u64,
        ipa: u64,
        src: u64,
        flags: u64,
    ) -> RmiStatus {
        if flags > MEASURE_CONTENT {
            return RmiStatus::ErrorInput;
        }
        let src = PhysAddr(src);
        if !src.is_granule_aligned() {
            return RmiStatus::ErrorInput; // src_align
        }
        // The one and only read of the source (no double fetch), before any
        // lock is taken. 4 KiB of stack.
        let mut buf: PageWords = [0; PAGE / 8];
        if self
            .platform
            .read_ns(src, bytemuck::bytes_of_mut(&mut buf))
            .is_err()
        {
            return RmiStatus::ErrorInput; // src_bound, src_pas
        }
        match self.data_create_common(rd, data, ipa, Some((&buf, flags))) {
            Ok(()) => RmiStatus::Success,
            Err(s) => s,
        }
    }

    /// RMI_DATA_CREATE_UNKNOWN(rd, data, ipa): the conditions of
    /// DATA_CREATE without the src and realm_state rows (ACS
    /// `rmi_data_create_unknown_data.h`): `data_align`, `data_bound`,
    /// `data_state`, `rd_*`, `ipa_align`, `ipa_bound` (ERROR_INPUT),
    /// `rtt_walk` (ERROR_RTT(walk level)), `rtte_state` (ERROR_RTT(3)).
    /// Any realm state; the granule stays zero, the RIPAS is unchanged and
    /// nothing is measured.
    pub(crate) fn data_create_unknown(&self, rd: u64, data: u64, ipa: u64) -> RmiStatus {
        match self.data_create_common(rd, data, ipa, None) {
            Ok(()) => RmiStatus::Success,
            Err(s) => s,
        }
    }

    fn data_create_common(
        &self,
        rd: u64,
        data: u64,
        ipa: u64,
        content: Option<(&PageWords, u64)>,
    ) -> Result<(), RmiStatus> {
        let data_pa = PhysAddr(data);
        if !data_pa.is_granule_aligned() || self.granules.is_reserved(data_pa) != Some(false) {
            return Err(RmiStatus::ErrorInput); // data_align, data_bound
        }
        let (rd_g, realm) = self.lock_rd(rd)?;
        if !aligned(ipa, PAGE_LEVEL) || ipa >= realm.par_end() {
            return Err(RmiStatus::ErrorInput); // ipa_align, ipa_bound
        }
        let walk = self.rtt_walk(&realm, ipa, PAGE_LEVEL)?;
        // data_state: never wait for a lock this command holds; the DATA
        // candidate is the last lock, taken with try_lock.
        if data == rd || data == walk.table.pa().as_u64() {
            return Err(RmiStatus::ErrorInput);
        }
        let mut data_g = self.try_lock_in_state(data_pa, GranuleState::Delegated)?;
        if content.is_some() && realm.state != RealmState::New {
            return Err(RmiStatus::ErrorRealm(0)); // realm_state
        }
        if walk.level < PAGE_LEVEL {
            return Err(RmiStatus::ErrorRtt(walk.level as u8)); // rtt_walk
        }
        let S2tte::Unassigned(ripas) =
            S2tte::decode(self.rtt_read(&walk.table, walk.index), PAGE_LEVEL)
        else {
            return Err(RmiStatus::ErrorRtt(PAGE_LEVEL as u8)); // rtte_state
        };
        let mut table = walk.table;
        // The RIM is computed before anything changes; a failure here would
        // be an RMM bug (unreadable RIM slot) and changes nothing.
        let rim = match content {
            Some((page, flags)) => {
                let mut rim = rim::load::<P::Sha2>(
                    &self.platform.map_granule(rd_g.pa(), Slot::Rd),
                    realm.algo,
                )
                .ok_or(RmiStatus::ErrorInput)?;
                rim.measure_data(ipa, flags, Some(bytemuck::cast_ref(page)))
                    .map_err(|_| RmiStatus::ErrorInput)?;
                Some(rim)
            }
            None => None,
        };
        // At most 512 live entries per RTT: cannot overflow.
        table.inc_ref().map_err(|_| RmiStatus::ErrorInput)?;
        // No failure is possible from here on.
        if let Some((page, _)) = content {
            let m = self.platform.map_granule(data_pa, Slot::Data);
            for (w, v) in m.iter().zip(page) {
                // The bytes were copied in memory order: little-endian words.
                w.store(u64::from_le(*v), Ordering::Relaxed);
            }
        }
        if let Some(rim) = rim {
            rim::store(
                &self.platform.map_granule(rd_g.pa(), Slot::Rd),
                &rim.value(),
            );
        }
        let entry = match (content, ripas) {
            (Some(_), _) | (None, Ripas::Ram) => s2tte::assigned_ram(data, PAGE_LEVEL),
            (None, r) => s2tte::assigned_invalid(r, data),
        };
        // Invalid -> valid: no TLB maintenance needed. The Release store
        // orders the content writes before the mapping.
        self.rtt_write(&table, walk.index, entry);
        data_g.set_state(GranuleState::Data);
        Ok(())
    }

    /// RMI_DATA_DESTROY(rd, ipa) -> x1 = DATA PA, x2 = top. Failure
    /// conditions in DEN0137 1.0-rel0 priority order (ACS
    /// `rmi_data_destroy_data.h`):
    ///
    /// 1. `rd_align`, `rd_bound`, `rd_state`, `ipa_align` (4 KiB),
    ///    `ipa_bound` (in the PAR) -> ERROR_INPUT, x1 = x2 = 0
    /// 2. `rtt_walk`: no level-3 RTT -> ERROR_RTT(walk level), x2 = top
    /// 3. `rtte_state`: the entry is not ASSIGNED -> ERROR_RTT(3), x2 = top
    ///
    /// Effect: ASSIGNED RAM/DESTROYED -> UNASSIGNED DESTROYED, ASSIGNED
    /// EMPTY -> UNASSIGNED EMPTY; a valid mapping is invalidated
    /// (`tlbi_ipa`) before the granule is scrubbed, so a running REC can no
    /// longer write it; the granule DATA -> DELEGATED; the RTT refcount -1.
    pub(crate) fn data_destroy(&self, rd: u64, ipa: u64, x4: u64) -> RmiReturn {
        let ret = |s: RmiStatus, x1: u64, x2: u64| RmiReturn::new(s.to_raw(), [x1, x2, 0], x4);
        let (_rd_g, realm) = match self.lock_rd(rd) {
            Ok(v) => v,
            Err(s) => return ret(s, 0, 0),
        };
        if !aligned(ipa, PAGE_LEVEL) || ipa >= realm.par_end() {
            return ret(RmiStatus::ErrorInput, 0, 0); // ipa_align, ipa_bound
        }
        let walk = match self.rtt_walk(&realm, ipa, PAGE_LEVEL) {
            Ok(w) => w,
            Err(s) => return ret(s, 0, 0),
        };
        if walk.level < PAGE_LEVEL {
            let top = self.rtt_skip_non_live(&walk, ipa);
            return ret(RmiStatus::ErrorRtt(walk.level as u8), 0, top); // rtt_walk
        }
        let old = S2tte::decode(self.rtt_read(&walk.table, walk.index), PAGE_LEVEL);
        let (data_pa, new) = match old {
            S2tte::AssignedRam(oa) | S2tte::AssignedInvalid(Ripas::Destroyed, oa) => {
                (oa, s2tte::unassigned(Ripas::Destroyed))
            }
            S2tte::AssignedInvalid(_, oa) => (oa, s2tte::unassigned(Ripas::Empty)),
            _ => {
                let top = self.rtt_skip_non_live(&walk, ipa);
                return ret(RmiStatus::ErrorRtt(PAGE_LEVEL as u8), 0, top); // rtte_state
            }
        };
        let mut data_g = match self.granules.lock(PhysAddr(data_pa)) {
            Some(g) if g.state() == GranuleState::Data => g,
            _ => return ret(RmiStatus::ErrorInput, 0, 0), // never with a consistent RTT
        };
        let mut table = walk.table;
        // Break: unmap and invalidate first, then scrub.
        self.rtt_write(&table, walk.index, new);
        if old.is_valid() {
            self.platform.tlbi_ipa(realm.vmid, ipa);
        }
        if self.platform.zero_granule(data_g.pa()).is_err() {
            // Cannot happen (the granule is RAM we mapped). Undo.
            self.rtt_write(&table, walk.index, raw_entry(old, data_pa));
            return ret(RmiStatus::ErrorInput, 0, 0);
        }
        let _ = table.dec_ref();
        data_g.set_state(GranuleState::Delegated);
        drop(data_g);
        let walk = crate::rtt::walk::Walk {
            table,
            level: walk.level,
            index: walk.index,
        };
        let top = self.rtt_skip_non_live(&walk, ipa);
        ret(RmiStatus::Success, data_pa, top)
    }
}

/// Re-encode an ASSIGNED level-3 entry (undo path only).
fn raw_entry(e: S2tte, oa: u64) -> u64 {
    match e {
        S2tte::AssignedInvalid(r, _) => s2tte::assigned_invalid(r, oa),
        _ => s2tte::assigned_ram(oa, PAGE_LEVEL),
    }
}
