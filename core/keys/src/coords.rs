//! Affine public-key coordinates, as COSE_Key and the TDX quote need them.

use p256::elliptic_curve::point::AffineCoordinates as _;

use crate::KeyError;

/// Affine x and y of a P-384 public key, each 48 bytes big-endian.
///
/// These are exactly the `x` (-2) and `y` (-3) byte strings of the RAK /
/// CPAK COSE_Key (RFC 9053 §7.1.1, cca-attestation.md §4.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct P384PublicCoordinates {
    /// Affine x, big-endian, left-padded to 48 bytes.
    pub x: [u8; 48],
    /// Affine y, big-endian, left-padded to 48 bytes.
    pub y: [u8; 48],
}

impl P384PublicCoordinates {
    /// Coordinates of `key`'s public point.
    #[must_use]
    pub fn from_verifying_key(key: &p384::ecdsa::VerifyingKey) -> Self {
        let p = key.as_affine();
        let mut out = Self {
            x: [0; 48],
            y: [0; 48],
        };
        out.x.copy_from_slice(&p.x());
        out.y.copy_from_slice(&p.y());
        out
    }

    /// SEC 1 §2.3.3 uncompressed encoding `0x04 || x || y` (97 bytes).
    #[must_use]
    pub fn to_sec1_uncompressed(&self) -> [u8; 97] {
        let mut out = [0u8; 97];
        out[0] = 0x04;
        out[1..49].copy_from_slice(&self.x);
        out[49..].copy_from_slice(&self.y);
        out
    }
}

impl From<&p384::ecdsa::VerifyingKey> for P384PublicCoordinates {
    fn from(key: &p384::ecdsa::VerifyingKey) -> Self {
        Self::from_verifying_key(key)
    }
}

/// Affine x and y of a P-256 public key, each 32 bytes big-endian.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct P256PublicCoordinates {
    /// Affine x, big-endian, left-padded to 32 bytes.
    pub x: [u8; 32],
    /// Affine y, big-endian, left-padded to 32 bytes.
    pub y: [u8; 32],
}

impl P256PublicCoordinates {
    /// Coordinates of `key`'s public point.
    #[must_use]
    pub fn from_verifying_key(key: &p256::ecdsa::VerifyingKey) -> Self {
        let p = key.as_affine();
        let mut out = Self {
            x: [0; 32],
            y: [0; 32],
        };
        out.x.copy_from_slice(&p.x());
        out.y.copy_from_slice(&p.y());
        out
    }

    /// Raw `x || y` (64 bytes): the attestation public key field of a DCAP
    /// Quote v4 signature section (tdx-module-abi.md §11).
    #[must_use]
    pub fn to_raw_xy(&self) -> [u8; 64] {
        let mut out = [0u8; 64];
        out[..32].copy_from_slice(&self.x);
        out[32..].copy_from_slice(&self.y);
        out
    }

    /// SEC 1 §2.3.3 uncompressed encoding `0x04 || x || y` (65 bytes).
    #[must_use]
    pub fn to_sec1_uncompressed(&self) -> [u8; 65] {
        let mut out = [0u8; 65];
        out[0] = 0x04;
        out[1..].copy_from_slice(&self.to_raw_xy());
        out
    }
}

impl From<&p256::ecdsa::VerifyingKey> for P256PublicCoordinates {
    fn from(key: &p256::ecdsa::VerifyingKey) -> Self {
        Self::from_verifying_key(key)
    }
}

/// Imports a raw big-endian P-384 private scalar, as returned by
/// `RMM_ATTEST_GET_REALM_KEY` (rmm-el3-interface.md §5) or by
/// [`KeyHierarchy::realm_attestation_key_scalar`](crate::KeyHierarchy::realm_attestation_key_scalar).
///
/// # Errors
/// [`KeyError::InvalidScalar`] unless `scalar` is 48 bytes encoding a value
/// in `1 ..= n-1`.
pub fn import_p384_scalar(scalar: &[u8]) -> Result<p384::ecdsa::SigningKey, KeyError> {
    if scalar.len() != 48 {
        return Err(KeyError::InvalidScalar);
    }
    p384::ecdsa::SigningKey::from_slice(scalar).map_err(|_| KeyError::InvalidScalar)
}
