//! RAK / CPAK public keys as COSE_Key (RFC 9052 §7, RFC 9053 §7.1.1 EC2),
//! in the exact byte form of cca-attestation.md §4.4.
//!
//! The encoding is written by hand rather than through `coset::CoseKey`
//! because it is hashed for the platform binding (sheet §4.6) and must match
//! TF-RMM/t_cose byte for byte: `A4 01 02 20 02 21 58 30 <x> 22 58 30 <y>`.

use p384::{
    AffinePoint, FieldBytes, ecdsa::VerifyingKey, elliptic_curve::point::AffineCoordinates,
};
use sha2::{Digest, Sha256};

use crate::EvidenceError;

/// Length of a P-384 coordinate (big-endian, fixed width).
pub const P384_COORD_LEN: usize = 48;

/// Length of the P-384 COSE_Key encoding of sheet §4.4.
pub const COSE_KEY_P384_LEN: usize = 107;

/// `map(4) kty(1): EC2(2) crv(-1): P-384(2) x(-2): bstr(48)` — the 8 bytes
/// in front of x (sheet §4.4; RFC 9053 §7.1 and §7.1.1 labels).
const PREFIX_X: [u8; 8] = [0xA4, 0x01, 0x02, 0x20, 0x02, 0x21, 0x58, 0x30];

/// `y(-3): bstr(48)` — the 3 bytes in front of y (sheet §4.4).
const PREFIX_Y: [u8; 3] = [0x22, 0x58, 0x30];

/// Encode a P-384 public key (affine x, y; big-endian) as the 107-byte
/// COSE_Key of sheet §4.4: `A4 01 02 20 02 21 58 30 <x> 22 58 30 <y>`.
///
/// The coordinates are not checked to lie on the curve; use
/// [`cose_key_from_verifying_key`] when starting from a validated key.
pub fn cose_key_p384(
    x: &[u8; P384_COORD_LEN],
    y: &[u8; P384_COORD_LEN],
) -> [u8; COSE_KEY_P384_LEN] {
    let mut out = [0u8; COSE_KEY_P384_LEN];
    let (head, tail) = out.split_at_mut(PREFIX_X.len());
    head.copy_from_slice(&PREFIX_X);
    let (xs, tail) = tail.split_at_mut(P384_COORD_LEN);
    xs.copy_from_slice(x);
    let (py, ys) = tail.split_at_mut(PREFIX_Y.len());
    py.copy_from_slice(&PREFIX_Y);
    ys.copy_from_slice(y);
    out
}

/// Encode a validated P-384 public key as the COSE_Key of sheet §4.4.
pub fn cose_key_from_verifying_key(key: &VerifyingKey) -> [u8; COSE_KEY_P384_LEN] {
    let affine = key.as_affine();
    let x: [u8; P384_COORD_LEN] = affine.x().into();
    let y: [u8; P384_COORD_LEN] = affine.y().into();
    cose_key_p384(&x, &y)
}

/// Split a COSE_Key in the exact form of sheet §4.4 into its (x, y)
/// coordinates.
///
/// Only that one byte layout is accepted — other valid CBOR encodings of the
/// same key would hash differently (§4.6) and are rejected with
/// [`EvidenceError::InvalidKey`]; a wrong length gives
/// [`EvidenceError::InvalidLength`]. The point is not checked to be on the
/// curve; [`verifying_key_from_cose_key`] does that.
pub fn parse_cose_key_p384(
    bytes: &[u8],
) -> Result<([u8; P384_COORD_LEN], [u8; P384_COORD_LEN]), EvidenceError> {
    let bytes: &[u8; COSE_KEY_P384_LEN] =
        bytes.try_into().map_err(|_| EvidenceError::InvalidLength)?;
    let (head, tail) = bytes.split_at(PREFIX_X.len());
    let (xs, tail) = tail.split_at(P384_COORD_LEN);
    let (py, ys) = tail.split_at(PREFIX_Y.len());
    if head != PREFIX_X || py != PREFIX_Y {
        return Err(EvidenceError::InvalidKey);
    }
    let x = xs.try_into().map_err(|_| EvidenceError::InvalidKey)?;
    let y = ys.try_into().map_err(|_| EvidenceError::InvalidKey)?;
    Ok((x, y))
}

/// Decode a sheet §4.4 COSE_Key into a P-384 verifying key, checking that
/// the point is on the curve and not the identity.
pub fn verifying_key_from_cose_key(bytes: &[u8]) -> Result<VerifyingKey, EvidenceError> {
    let (x, y) = parse_cose_key_p384(bytes)?;
    let point = AffinePoint::from_coordinates(&FieldBytes::from(x), &FieldBytes::from(y));
    let point: Option<AffinePoint> = point.into();
    let point = point.ok_or(EvidenceError::InvalidKey)?;
    VerifyingKey::from_affine(point).map_err(|_| EvidenceError::InvalidKey)
}

/// The platform-token challenge that binds a RAK (sheet §4.6):
/// SHA-256 over the exact 107-byte COSE_Key carried in realm claim 44237.
///
/// The RMM passes this as the `RMM_ATTEST_GET_PLAT_TOKEN` challenge; a
/// verifier compares it with platform claim 10.
pub fn rak_binding_challenge(cose_key: &[u8; COSE_KEY_P384_LEN]) -> [u8; 32] {
    Sha256::digest(cose_key).into()
}

/// [`rak_binding_challenge`] of [`cose_key_from_verifying_key`]`(key)`.
pub fn rak_binding_challenge_for_key(key: &VerifyingKey) -> [u8; 32] {
    rak_binding_challenge(&cose_key_from_verifying_key(key))
}
