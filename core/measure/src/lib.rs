//! Measurement registers: CCA RIM/REM and TDX MRTD/RTMR.
//!
//! - [`hash`]: [`HashAlgo`], the streaming [`Hasher`] over RustCrypto
//!   `sha2`, and the 64-byte-slot [`Measurement`].
//! - [`register`]: [`MeasurementRegister`], the `H(value ‖ data)` chain used
//!   for CCA REMs and TDX RTMRs.
//! - [`cca`]: the Realm Initial Measurement and its descriptors
//!   (shared/spec/cca-attestation.md §1-3).
//! - [`tdx`]: MRTD and RTMR (shared/spec/tdx-module-abi.md §7).
//!
//! The crate is `no_std`, allocation-free and never keeps a buffer larger
//! than 384 bytes on the stack (a descriptor with its SHA-2 padding, for
//! runs of RIPAS extensions): 4 KiB images are streamed into the hasher.
//!
//! Build note (qemu-platforms.md §6): `sha2` 0.11 fails to compile for
//! `x86_64-unknown-none` at opt-level 0 unless built with
//! `RUSTFLAGS='--cfg sha2_backend="soft"'` (or a higher opt-level for sha2).
#![no_std]
#![forbid(unsafe_code)]

pub mod cca;
mod desc;
pub mod hash;
pub mod register;
pub mod sha;
pub mod tdx;

pub use cca::{Rim, RimRealmParams, RimRecParams, RimWith, RipasRun};
pub use hash::{HashAlgo, Hasher, HasherWith, Measurement, UnknownHashAlgo};
pub use register::MeasurementRegister;
pub use sha::{Sha2Compress, Sha256With, Sha512With, SoftSha2};
pub use tdx::{Mrtd, Rtmr};

/// Errors of the measurement API. Each one reports a caller bug or an input
/// the corresponding RMI/RSI/SEAMCALL would itself reject.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MeasureError {
    /// `RmiRealmParams.hash_algo` is neither 0 (SHA-256) nor 1 (SHA-512).
    UnknownHashAlgo(u8),
    /// The algorithm passed to [`Rim::new`] differs from the one that
    /// `RmiRealmParams.hash_algo` encodes.
    HashAlgoMismatch {
        /// Algorithm the caller asked for.
        requested: HashAlgo,
        /// Raw `hash_algo` field of the params.
        encoded: u8,
    },
    /// RMI_DATA_CREATE flags other than 0 or 1.
    InvalidDataFlags(u64),
    /// MEASURE_CONTENT was requested without the page content.
    MissingContent,
    /// An address is not aligned as the ABI requires (4 KiB granule/page,
    /// or 256 bytes for TDH.MR.EXTEND).
    Misaligned(u64),
    /// A RIPAS entry with `top <= base`.
    EmptyRange {
        /// Entry base IPA.
        base: u64,
        /// Entry top IPA (exclusive).
        top: u64,
    },
    /// RSI_MEASUREMENT_EXTEND size above 64 bytes.
    DataTooLong(u64),
}
