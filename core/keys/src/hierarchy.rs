//! The key hierarchy: HKDF-SHA-384 over the device root secret.
//! Byte layouts are documented in the crate docs (`lib.rs`).

use core::fmt;

use sha2::Sha384;
use zeroize::Zeroizing;

use crate::kdf::{Hkdf, Info};
use crate::sealing::{MAX_IDENTITY_LEN, MacKey, SYMMETRIC_KEY_LEN, SealingKey, SealingRequest};
use crate::{KeyError, KeyVersion, RootSecret, import_p384_scalar};

/// HKDF-Extract salt (RFC 5869 §3.1: a fixed, non-secret, application
/// specific salt is allowed and separates this hierarchy from any other use
/// of the same root).
pub const EXTRACT_SALT: &[u8] = b"cmon/v1/extract";

/// Purpose label of the CCA Platform Attestation Key (P-384).
pub const PURPOSE_CCA_CPAK: &str = "cca-cpak";
/// Purpose label of the CCA Realm Attestation Key (P-384).
pub const PURPOSE_CCA_RAK: &str = "cca-rak";
/// Purpose label of the TDREPORT MAC key (32 bytes).
pub const PURPOSE_TDX_REPORT_MAC: &str = "tdx-report-mac";
/// Purpose label of the TDX quote attestation key (P-256).
pub const PURPOSE_TDX_QUOTE_AK: &str = "tdx-quote-ak";
/// Purpose label of the TDX quote "PCK" (P-256): signs the QE report in the
/// quote's certification data. A project key, not Intel's PCK.
pub const PURPOSE_TDX_PCK: &str = "tdx-pck";

/// Number of rejection-sampling candidates tried per EC key (counter
/// 0..=255, one byte).
const MAX_EC_CANDIDATES: u16 = 256;

/// Key hierarchy rooted in one [`RootSecret`].
///
/// Holds only the HKDF-SHA-384 PRK state (the root itself is wiped when
/// [`KeyHierarchy::new`] consumes it) and the served key-version window.
/// Every derivation is deterministic: the same root gives the same keys.
pub struct KeyHierarchy {
    kdf: Hkdf<Sha384>,
    current: KeyVersion,
    minimum: KeyVersion,
}

impl KeyHierarchy {
    /// Runs HKDF-Extract (RFC 5869 §2.2) with salt [`EXTRACT_SALT`] over
    /// `root`, then drops (and so zeroises) `root`.
    ///
    /// `current` is the platform's current key version: sealing keys are
    /// served for versions `0 ..= current` (see
    /// [`with_minimum_version`](Self::with_minimum_version) to retire old
    /// ones).
    #[must_use]
    pub fn new(root: RootSecret, current: KeyVersion) -> Self {
        let kdf = Hkdf::<Sha384>::extract(EXTRACT_SALT, root.expose());
        drop(root);
        Self {
            kdf,
            current,
            minimum: KeyVersion(0),
        }
    }

    /// Retires every version below `minimum`.
    ///
    /// # Errors
    /// [`KeyError::MinimumAboveCurrent`] if `minimum > current`.
    pub fn with_minimum_version(mut self, minimum: KeyVersion) -> Result<Self, KeyError> {
        if minimum > self.current {
            return Err(KeyError::MinimumAboveCurrent {
                minimum: minimum.0,
                current: self.current.0,
            });
        }
        self.minimum = minimum;
        Ok(self)
    }

    /// The platform's current key version.
    #[must_use]
    pub fn current_version(&self) -> KeyVersion {
        self.current
    }

    /// The lowest key version still served.
    #[must_use]
    pub fn minimum_version(&self) -> KeyVersion {
        self.minimum
    }

    /// CCA Platform Attestation Key (CPAK, P-384): signs the platform token
    /// (cca-attestation.md §4.5).
    ///
    /// # Errors
    /// [`KeyError::ScalarDerivationExhausted`] (never for a real root).
    pub fn platform_attestation_key(&self) -> Result<p384::ecdsa::SigningKey, KeyError> {
        let scalar = self.derive_scalar::<48>(PURPOSE_CCA_CPAK, p384_scalar_ok)?;
        import_p384_scalar(&scalar[..])
    }

    /// CCA Realm Attestation Key (RAK, P-384): signs realm tokens
    /// (cca-attestation.md §4.2). Same key as
    /// [`realm_attestation_key_scalar`](Self::realm_attestation_key_scalar).
    ///
    /// # Errors
    /// [`KeyError::ScalarDerivationExhausted`] (never for a real root).
    pub fn realm_attestation_key(&self) -> Result<p384::ecdsa::SigningKey, KeyError> {
        let scalar = self.realm_attestation_key_scalar()?;
        import_p384_scalar(&scalar[..])
    }

    /// The RAK as a raw 48-byte big-endian scalar in `1 ..= n-1`: the form
    /// EL3 returns from `RMM_ATTEST_GET_REALM_KEY` (rmm-el3-interface.md §5).
    /// Wiped on drop; the RMM imports it with
    /// [`import_p384_scalar`](crate::import_p384_scalar).
    ///
    /// # Errors
    /// [`KeyError::ScalarDerivationExhausted`] (never for a real root).
    pub fn realm_attestation_key_scalar(&self) -> Result<Zeroizing<[u8; 48]>, KeyError> {
        self.derive_scalar::<48>(PURPOSE_CCA_RAK, p384_scalar_ok)
    }

    /// TDREPORT MAC key, 32 bytes (tdx-module-abi.md §10: the shim defines
    /// its own MAC scheme).
    ///
    /// # Errors
    /// Only internal encoding errors, unreachable in practice.
    pub fn tdx_report_mac_key(&self) -> Result<MacKey, KeyError> {
        let info = Info::new(PURPOSE_TDX_REPORT_MAC, SYMMETRIC_KEY_LEN)?;
        let mut key = MacKey {
            bytes: [0; SYMMETRIC_KEY_LEN],
        };
        self.kdf.expand(info.as_bytes(), &mut key.bytes)?;
        Ok(key)
    }

    /// TDX quote attestation key (P-256, ECDSA-P256 with SHA-256 over the
    /// quote header and body; tdx-module-abi.md §11).
    ///
    /// # Errors
    /// [`KeyError::ScalarDerivationExhausted`] (never for a real root).
    pub fn tdx_quote_signing_key(&self) -> Result<p256::ecdsa::SigningKey, KeyError> {
        let scalar = self.derive_scalar::<32>(PURPOSE_TDX_QUOTE_AK, p256_scalar_ok)?;
        p256::ecdsa::SigningKey::from_slice(&scalar[..]).map_err(|_| KeyError::InvalidScalar)
    }

    /// TDX quote "PCK" (P-256): signs the 384-byte QE report inside the
    /// quote's type-6 certification data (tdx-module-abi.md §11). Intel's
    /// PCK chains to Intel's root; this one is derived from the device root
    /// like every other key here, so verifiers must pin its public key.
    ///
    /// # Errors
    /// [`KeyError::ScalarDerivationExhausted`] (never for a real root).
    pub fn tdx_pck_signing_key(&self) -> Result<p256::ecdsa::SigningKey, KeyError> {
        let scalar = self.derive_scalar::<32>(PURPOSE_TDX_PCK, p256_scalar_ok)?;
        p256::ecdsa::SigningKey::from_slice(&scalar[..]).map_err(|_| KeyError::InvalidScalar)
    }

    /// 256-bit sealing key bound to `req.identity` and `req.version`.
    ///
    /// # Errors
    /// - [`KeyError::VersionTooNew`] if `req.version > current_version()`;
    /// - [`KeyError::VersionRetired`] if `req.version < minimum_version()`;
    /// - [`KeyError::IdentityLength`] if the identity is empty or longer
    ///   than [`MAX_IDENTITY_LEN`].
    pub fn sealing_key(&self, req: &SealingRequest<'_>) -> Result<SealingKey, KeyError> {
        let version = req.version;
        if version > self.current {
            return Err(KeyError::VersionTooNew {
                requested: version.0,
                current: self.current.0,
            });
        }
        if version < self.minimum {
            return Err(KeyError::VersionRetired {
                requested: version.0,
                minimum: self.minimum.0,
            });
        }
        let (purpose, identity) = req.identity.label_and_bytes();
        if identity.is_empty() || identity.len() > MAX_IDENTITY_LEN {
            return Err(KeyError::IdentityLength {
                len: identity.len(),
            });
        }
        let info = Info::new(purpose, SYMMETRIC_KEY_LEN)?
            .field(&version.0.to_be_bytes())?
            .field(identity)?;
        let mut key = SealingKey {
            bytes: [0; SYMMETRIC_KEY_LEN],
            version,
        };
        self.kdf.expand(info.as_bytes(), &mut key.bytes)?;
        Ok(key)
    }

    /// Rejection sampling of an EC private scalar (FIPS 186-5 §A.2.2 style,
    /// no modular reduction, hence no bias):
    /// candidate_c = HKDF-Expand(PRK, info(purpose, N, [c]), N) for
    /// c = 0, 1, ..., 255; the first candidate that, read big-endian, lies
    /// in `1 ..= n-1` is the key. Rejection odds per try: about 2^-190
    /// (P-384) and 2^-32 (P-256).
    fn derive_scalar<const N: usize>(
        &self,
        purpose: &str,
        in_range: impl Fn(&[u8]) -> bool,
    ) -> Result<Zeroizing<[u8; N]>, KeyError> {
        let mut candidate = Zeroizing::new([0u8; N]);
        for counter in 0..MAX_EC_CANDIDATES {
            let counter = u8::try_from(counter).map_err(|_| KeyError::ScalarDerivationExhausted)?;
            let info = Info::new(purpose, N)?.field(&[counter])?;
            self.kdf.expand(info.as_bytes(), &mut candidate[..])?;
            if in_range(&candidate[..]) {
                return Ok(candidate);
            }
        }
        Err(KeyError::ScalarDerivationExhausted)
    }
}

/// True if `b` (48 bytes, big-endian) is a P-384 scalar in `1 ..= n-1`.
/// `SecretKey` performs the range check without a point multiplication and
/// wipes itself on drop.
fn p384_scalar_ok(b: &[u8]) -> bool {
    b.len() == 48 && p384::SecretKey::from_slice(b).is_ok()
}

/// True if `b` (32 bytes, big-endian) is a P-256 scalar in `1 ..= n-1`.
fn p256_scalar_ok(b: &[u8]) -> bool {
    b.len() == 32 && p256::SecretKey::from_slice(b).is_ok()
}

impl fmt::Debug for KeyHierarchy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyHierarchy")
            .field("prk", &"[REDACTED]")
            .field("current", &self.current)
            .field("minimum", &self.minimum)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rejection loop really rejects: refusing the first candidate
    /// yields candidate 1, and refusing all of them is an error, not a panic.
    #[test]
    fn rejection_sampling_moves_to_next_counter() {
        let h = KeyHierarchy::new(RootSecret::new(&[7; 32]).unwrap(), KeyVersion(0));
        let expand = |counter: u8| {
            let mut out = [0u8; 48];
            let info = Info::new("t", 48)
                .and_then(|i| i.field(&[counter]))
                .unwrap();
            h.kdf.expand(info.as_bytes(), &mut out).unwrap();
            out
        };
        let (c0, c1) = (expand(0), expand(1));
        assert_ne!(c0, c1);
        assert_eq!(*h.derive_scalar::<48>("t", |_| true).unwrap(), c0);
        assert_eq!(*h.derive_scalar::<48>("t", |b| b != c0).unwrap(), c1);
        let never = h.derive_scalar::<48>("t", |_| false);
        assert_eq!(never.err(), Some(KeyError::ScalarDerivationExhausted));
    }

    /// The range checks refuse 0 and n and accept n - 1.
    #[test]
    fn scalar_range_checks() {
        assert!(!p384_scalar_ok(&[0; 48]));
        let n384: [u8; 48] = [
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xc7, 0x63, 0x4d, 0x81,
            0xf4, 0x37, 0x2d, 0xdf, 0x58, 0x1a, 0x0d, 0xb2, 0x48, 0xb0, 0xa7, 0x7a, 0xec, 0xec,
            0x19, 0x6a, 0xcc, 0xc5, 0x29, 0x73,
        ];
        assert!(!p384_scalar_ok(&n384));
        let mut n_minus_1 = n384;
        n_minus_1[47] -= 1;
        assert!(p384_scalar_ok(&n_minus_1));
        assert!(!p256_scalar_ok(&[0; 32]));
        assert!(!p256_scalar_ok(&[0xff; 32]));
        assert!(!p256_scalar_ok(&[0x01; 31]));
        assert!(p256_scalar_ok(&[0x01; 32]));
    }
}
