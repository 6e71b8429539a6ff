//! RSI_IPA_STATE_GET (cca-rmm-abi.md §7, §9). RSI_IPA_STATE_SET is in
//! `ripas.rs`.

use super::*;

impl<P: Platform> Rmm<'_, P> {
    /// RSI_IPA_STATE_GET(base, top), rel0 two-argument form: both 4 KiB
    /// aligned, base < top <= PAR (else RSI_ERROR_INPUT). Returns the end
    /// of the leading run of entries with one RIPAS in the RTT where the
    /// walk for `base` stops (capped at `top`) and that RIPAS.
    pub(super) fn ipa_state_get(&self, rd: PhysAddr, base: u64, top: u64) -> Option<(u64, u64)> {
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
}
