//! RIM storage in the RD and its extension (cca-attestation.md §2).
//!
//! The initial value comes from `cmon_measure::Rim::new` (REALM_CREATE);
//! it lives in the RD's 64-byte RIM slot between RMI calls.
//!
//! Extension (DATA_CREATE, REC_CREATE, RTT_INIT_RIPAS) is not implemented
//! yet. Note for it: `cmon_measure::Rim` cannot be rebuilt from a stored
//! value (there is no `Rim::from_value`), so either core/measure gains one
//! or the `RIM = H(D)` step (§2.2) is applied here with `Hasher::digest`
//! over the crate's own `data_descriptor` / `rec_descriptor` /
//! `ripas_descriptor`.

use cmon_measure::Measurement;

use crate::platform::GranuleWords;
use crate::realm::{RD_RIM_WORD, store_bytes};

/// Store `m` as the RIM.
pub(crate) fn store(rd: &GranuleWords, m: &Measurement) {
    store_bytes(rd, RD_RIM_WORD, m.slot());
}
