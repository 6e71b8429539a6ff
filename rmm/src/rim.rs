//! RIM storage in the RD and its extension (cca-attestation.md §2).
//!
//! The initial value comes from `cmon_measure::Rim::new` (REALM_CREATE);
//! it lives in the RD's 64-byte RIM slot between RMI calls. Every
//! measured command (RTT_INIT_RIPAS, DATA_CREATE, REC_CREATE, all under the
//! RD lock with the realm NEW) resumes it with [`load`]
//! (`Rim::from_value`), extends it through `cmon_measure::Rim` and writes
//! it back with [`store`] only once no failure is possible any more.

use cmon_measure::{HashAlgo, Measurement, RimWith, Sha2Compress};

use crate::platform::GranuleWords;
use crate::realm::{RD_RIM_WORD, load_bytes, store_bytes};

/// Store `m` as the RIM.
pub(crate) fn store(rd: &GranuleWords, m: &Measurement) {
    store_bytes(rd, RD_RIM_WORD, m.slot());
}

/// The RIM kept in the RD, resumed for extension. `None` only if the slot
/// breaks the zero-padding invariant, which `store` never produces.
pub(crate) fn load<E: Sha2Compress>(rd: &GranuleWords, algo: HashAlgo) -> Option<RimWith<E>> {
    let mut slot = [0u8; 64];
    load_bytes(rd, RD_RIM_WORD, &mut slot);
    Measurement::from_slot(algo, &slot).map(RimWith::from_value)
}
