//! Key hierarchy from one device root secret (HKDF, P-384/P-256).
//!
//! Every key of the CCA RMM and the TDX-module shim is derived from a single
//! [`RootSecret`] with HKDF (RFC 5869). The derivation is deterministic and
//! needs no RNG (ECDSA signing is RFC 6979 deterministic too,
//! qemu-platforms.md §6).
//!
//! # Why HKDF-SHA-384
//!
//! - It matches the strongest key derived here (P-384, 192-bit security),
//!   and CCA realm tokens (ES384) and TDX measurements already use SHA-384,
//!   so no extra hash is linked in.
//! - One HKDF-Expand block (HashLen = 48) is exactly one P-384 scalar
//!   candidate.
//! - The HKDF wrapper is generic over the hash; the tests run the RFC 5869
//!   Appendix A SHA-256 vectors through the same code.
//!
//! # Byte layout (version 1) — normative for verifiers and other implementations
//!
//! **Extract** (RFC 5869 §2.2):
//!
//! ```text
//! PRK = HMAC-SHA-384(salt = "cmon/v1/extract", IKM = root secret)   // 48 bytes
//! ```
//!
//! **Expand** (RFC 5869 §2.3): `OKM = HKDF-Expand(PRK, info, L)` with
//!
//! ```text
//! info = "cmon/v1/"               8 bytes, ASCII, version-1 prefix
//!     || purpose                  ASCII label from the table below, no NUL
//!     || 0x00                     1 byte, terminates the purpose
//!     || I2OSP(L, 2)              output length in bytes, big-endian u16
//!     || for each context field, in order:
//!          I2OSP(len(field), 2)   big-endian u16
//!       || field
//! ```
//!
//! `I2OSP(x, n)` is the `n`-byte big-endian encoding of `x` (RFC 8017 §4.1).
//! The encoding is injective: the purpose ends at the first NUL, and the
//! fields are length-prefixed up to the end of `info`, so no two
//! (purpose, L, fields) tuples share an `info`. Putting `L` in `info` keeps
//! a short key from being a prefix of a longer one with the same label.
//!
//! | Purpose            | L  | Context fields                               | Output |
//! |--------------------|----|----------------------------------------------|--------|
//! | `cca-cpak`         | 48 | `[ctr]` (1 byte)                             | CPAK, P-384 scalar |
//! | `cca-rak`          | 48 | `[ctr]` (1 byte)                             | RAK, P-384 scalar |
//! | `tdx-quote-ak`     | 32 | `[ctr]` (1 byte)                             | quote key, P-256 scalar |
//! | `tdx-pck`          | 32 | `[ctr]` (1 byte)                             | QE-report ("PCK") key, P-256 scalar |
//! | `tdx-report-mac`   | 32 | none                                         | TDREPORT MAC key |
//! | `seal-cca-rim`     | 32 | `I2OSP(version, 4)`, RIM (1..=64 bytes)      | sealing key |
//! | `seal-cca-rpv`     | 32 | `I2OSP(version, 4)`, RPV (1..=64 bytes)      | sealing key |
//! | `seal-tdx-mrtd`    | 32 | `I2OSP(version, 4)`, MRTD (48 bytes)         | sealing key |
//! | `seal-tdx-mrowner` | 32 | `I2OSP(version, 4)`, MROWNER (48 bytes)      | sealing key |
//!
//! Example, RAK candidate 0:
//! `"cmon/v1/cca-rak" 00 00 30 00 01 00`.
//!
//! **EC private keys** use rejection sampling, never a modular reduction
//! (which would bias the key): for `ctr = 0, 1, …, 255`, take
//! `c = HKDF-Expand(PRK, info(purpose, L, [ctr]), L)` as a big-endian
//! integer; the first `c` with `1 <= c <= n-1` is the private scalar
//! (FIPS 186-5 §A.2.2, "rejection sampling"). The scalar is used unchanged;
//! for the RAK it is also the raw 48-byte value EL3 hands the RMM
//! (rmm-el3-interface.md §5, `RMM_ATTEST_GET_REALM_KEY`).
//!
//! **Key versions**: a [`KeyHierarchy`] has a current [`KeyVersion`] and a
//! minimum one. Sealing keys are served for `minimum ..= current` only;
//! other versions give [`KeyError::VersionTooNew`] or
//! [`KeyError::VersionRetired`]. Attestation and MAC keys are not versioned:
//! rotating them means a new root or a new label version (`cmon/v2/`).
//!
//! # Secret hygiene
//!
//! [`RootSecret`], the PRK, [`SealingKey`], [`MacKey`], the raw RAK scalar
//! and the `p384`/`p256` signing keys are wiped on drop; `Debug` never shows
//! key bytes. No function panics; errors are [`KeyError`].
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod coords;
mod error;
mod hierarchy;
mod kdf;
mod root;
mod sealing;

pub use coords::{P256PublicCoordinates, P384PublicCoordinates, import_p384_scalar};
pub use error::KeyError;
pub use hierarchy::{
    EXTRACT_SALT, KeyHierarchy, PURPOSE_CCA_CPAK, PURPOSE_CCA_RAK, PURPOSE_TDX_PCK,
    PURPOSE_TDX_QUOTE_AK, PURPOSE_TDX_REPORT_MAC,
};
pub use root::{ROOT_SECRET_MAX_LEN, ROOT_SECRET_MIN_LEN, RootSecret};
pub use sealing::{
    KeyVersion, MAX_IDENTITY_LEN, MacKey, SYMMETRIC_KEY_LEN, SealingIdentity, SealingKey,
    SealingRequest,
};

pub use p256;
pub use p384;
pub use zeroize::Zeroizing;

/// Compile-time check that transient HMAC/HKDF states are wiped: the SHA-2
/// block cores must implement `ZeroizeOnDrop` (the `sha2/zeroize` feature).
const _: fn() = || {
    fn wiped_on_drop<T: zeroize::ZeroizeOnDrop>() {}
    wiped_on_drop::<sha2::Sha384>();
    wiped_on_drop::<sha2::Sha256>();
};
