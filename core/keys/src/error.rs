//! The one error type of this crate.

use core::fmt;

/// Every failure `cmon-keys` can report. No function of this crate panics;
/// each fallible operation returns one of these instead.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyError {
    /// The device root secret is not 32..=64 bytes long.
    RootSecretLength {
        /// Length that was supplied.
        len: usize,
    },
    /// A sealing key was requested for a version above the platform's
    /// current key version (keys for future versions must not exist yet).
    VersionTooNew {
        /// Version that was requested.
        requested: u32,
        /// The hierarchy's current version.
        current: u32,
    },
    /// A sealing key was requested for a version below the minimum version
    /// still supported (the version was retired).
    VersionRetired {
        /// Version that was requested.
        requested: u32,
        /// Lowest version still served.
        minimum: u32,
    },
    /// A minimum version above the current version was configured.
    MinimumAboveCurrent {
        /// Requested minimum version.
        minimum: u32,
        /// The hierarchy's current version.
        current: u32,
    },
    /// A sealing identity is empty or longer than
    /// [`MAX_IDENTITY_LEN`](crate::MAX_IDENTITY_LEN) bytes.
    IdentityLength {
        /// Length that was supplied.
        len: usize,
    },
    /// Every rejection-sampling candidate was 0 or >= n. Probability below
    /// 2^-8000 for an honest root; treat as a broken root secret.
    ScalarDerivationExhausted,
    /// A raw EC private scalar had the wrong length, was 0, or was >= n.
    InvalidScalar,
    /// The HKDF `info` string would exceed its fixed buffer, a field is
    /// longer than 65535 bytes, or a purpose label contains NUL (internal
    /// limits; unreachable through the public API).
    InfoTooLong,
    /// HKDF-Expand was asked for more than 255 * HashLen bytes
    /// (RFC 5869 §2.3) or HKDF was given a PRK shorter than HashLen.
    HkdfLength,
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::RootSecretLength { len } => {
                write!(f, "root secret is {len} bytes, expected 32..=64")
            }
            Self::VersionTooNew { requested, current } => {
                write!(
                    f,
                    "key version {requested} is above current version {current}"
                )
            }
            Self::VersionRetired { requested, minimum } => {
                write!(f, "key version {requested} is retired (minimum {minimum})")
            }
            Self::MinimumAboveCurrent { minimum, current } => {
                write!(
                    f,
                    "minimum key version {minimum} is above current {current}"
                )
            }
            Self::IdentityLength { len } => {
                write!(f, "sealing identity is {len} bytes, expected 1..=64")
            }
            Self::ScalarDerivationExhausted => {
                f.write_str("no valid EC scalar after 256 candidates")
            }
            Self::InvalidScalar => f.write_str("invalid EC private scalar"),
            Self::InfoTooLong => f.write_str("HKDF info string too long"),
            Self::HkdfLength => f.write_str("HKDF output or PRK length out of range"),
        }
    }
}

impl core::error::Error for KeyError {}
