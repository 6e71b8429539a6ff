//! The generic hash-chain register behind CCA REMs and TDX RTMRs.

use crate::hash::{HashAlgo, Hasher, Measurement};

/// A measurement register extended as `value = H(value[..len] ‖ data)`.
///
/// - CCA REM (cca-attestation.md §3): `REM[i] = H(REM[i][0..hashlen] ‖
///   data[0..size])`, initial value zero, SHA-256 or SHA-512.
/// - TDX RTMR (tdx-module-abi.md §7): `RTMR[i] = SHA-384(RTMR[i] ‖ data48)`,
///   initial value zero.
///
/// Only the digest bytes of the old value are hashed, never the slot's zero
/// padding: TF-RMM `measurement_extend` feeds `PSA_HASH_LENGTH(alg)` bytes.
///
/// Size limits of the data (≤ 64 bytes for RSI_MEASUREMENT_EXTEND, exactly
/// 48 for TDG.MR.RTMR.EXTEND) are ABI checks and belong to the caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MeasurementRegister {
    value: Measurement,
}

impl MeasurementRegister {
    /// A register holding the all-zero value (the initial value of REMs and
    /// RTMRs).
    pub const fn new(algo: HashAlgo) -> Self {
        MeasurementRegister {
            value: Measurement::zero(algo),
        }
    }

    /// A register starting from an arbitrary value, e.g. a restored one.
    pub const fn with_value(value: Measurement) -> Self {
        MeasurementRegister { value }
    }

    /// The algorithm of this register.
    pub const fn algo(&self) -> HashAlgo {
        self.value.algo()
    }

    /// The current value.
    pub const fn value(&self) -> Measurement {
        self.value
    }

    /// Extends the register: `value = H(value[..digest_len] ‖ data)`.
    pub fn extend(&mut self, data: &[u8]) {
        let mut h = Hasher::new(self.algo());
        h.update(self.value.as_bytes());
        h.update(data);
        self.value = h.finalize();
    }
}
