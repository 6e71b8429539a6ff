//! RTT_READ_ENTRY (DEN0137 1.0-rel0; outputs per cca-rmm-abi.md §6.3).
//! RTT_MAP/UNMAP_UNPROTECTED and RTT_INIT_RIPAS are not implemented yet
//! (SMC_UNKNOWN).

use crate::platform::Platform;
use crate::rmi::{RmiReturn, Rmm};
use crate::types::RmiStatus;

use super::s2tte::S2tte;
use super::{PAGE_LEVEL, aligned};

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
}
