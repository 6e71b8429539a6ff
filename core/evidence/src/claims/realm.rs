//! Realm token claims (cca-attestation.md §4.3, TF-RMM
//! `attestation_defs_priv.h`).

use alloc::{vec, vec::Vec};
use coset::cbor::value::Value;

use crate::{
    EvidenceError, cbor,
    cose_key::{COSE_KEY_P384_LEN, parse_cose_key_p384},
};

/// Profile of an RMM 1.0 realm token (sheet §4.3, claim 265).
pub const REALM_PROFILE: &str = "tag:arm.com,2023:realm#1.0.0";

/// The RAK hash algorithm (claim 44240); fixed by sheet §1 and §4.6.
pub const RAK_HASH_ALGO: &str = "sha-256";

/// Width of a measurement slot: RIM and REMs are stored in 64 bytes and
/// zero-padded after 32 bytes for SHA-256 (sheet §1).
pub const MEASUREMENT_SLOT_LEN: usize = 64;

/// Realm claim keys, in the order TF-RMM emits them (sheet §4.3).
pub mod realm_key {
    /// Realm challenge, bstr(64).
    pub const CHALLENGE: i64 = 10;
    /// Realm personalization value, bstr(64).
    pub const PERSONALIZATION_VALUE: i64 = 44235;
    /// RAK public key as COSE_Key, bstr(107).
    pub const PUBLIC_KEY: i64 = 44237;
    /// RIM/REM hash algorithm, tstr.
    pub const HASH_ALGO_ID: i64 = 44236;
    /// RAK hash algorithm, tstr `"sha-256"`.
    pub const PUBLIC_KEY_HASH_ALGO_ID: i64 = 44240;
    /// Profile, tstr.
    pub const PROFILE: i64 = 265;
    /// Realm initial measurement, bstr(hash length).
    pub const RIM: i64 = 44238;
    /// Realm extensible measurements, array(4) of bstr(hash length).
    pub const REM: i64 = 44239;
}

/// Hash algorithm of the RIM and the REMs (sheet §1, `RmiRealmParams.hash_algo`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemHashAlgo {
    /// SHA-256 (`hash_algo` = 0), 32-byte measurements.
    Sha256,
    /// SHA-512 (`hash_algo` = 1), 64-byte measurements.
    Sha512,
}

impl RemHashAlgo {
    /// Map `RmiRealmParams.hash_algo` (0 or 1) to the algorithm.
    pub fn from_rmi(value: u8) -> Option<Self> {
        match value {
            0 => Some(Self::Sha256),
            1 => Some(Self::Sha512),
            _ => None,
        }
    }

    /// Digest length in bytes: 32 or 64.
    pub fn digest_len(self) -> usize {
        match self {
            Self::Sha256 => 32,
            Self::Sha512 => 64,
        }
    }

    /// The claim-44236 identifier: `"sha-256"` or `"sha-512"` (sheet §4.3).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sha256 => "sha-256",
            Self::Sha512 => "sha-512",
        }
    }

    /// Parse a claim-44236 identifier.
    pub fn from_id(id: &str) -> Option<Self> {
        match id {
            "sha-256" => Some(Self::Sha256),
            "sha-512" => Some(Self::Sha512),
            _ => None,
        }
    }

    /// The meaningful prefix of a 64-byte measurement slot.
    fn measurement(self, slot: &[u8; MEASUREMENT_SLOT_LEN]) -> &[u8] {
        // digest_len() is 32 or 64, never beyond the slot.
        slot.split_at(self.digest_len()).0
    }
}

/// The claims of a realm token (sheet §4.3).
///
/// Measurements are held in 64-byte slots, as the RMM stores them (sheet
/// §1): only the first [`RemHashAlgo::digest_len`] bytes are encoded, and
/// decoding zero-pads. The profile (265) and RAK hash algorithm (44240) are
/// fixed and therefore not fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RealmClaims {
    /// Claim 10: the 64-byte challenge from RSI_ATTEST_TOKEN_INIT x1..x8.
    pub challenge: [u8; 64],
    /// Claim 44235: the realm personalization value (RmiRealmParams.rpv).
    pub rpv: [u8; 64],
    /// Claim 44237: the RAK public key in the COSE_Key form of sheet §4.4.
    pub rak_pub_cose_key: [u8; COSE_KEY_P384_LEN],
    /// Claim 44236: the RIM/REM hash algorithm.
    pub hash_algo: RemHashAlgo,
    /// Claim 44238: the RIM, in a zero-padded 64-byte slot.
    pub rim: [u8; MEASUREMENT_SLOT_LEN],
    /// Claim 44239: REM1..REM4, each in a zero-padded 64-byte slot.
    pub rems: [[u8; MEASUREMENT_SLOT_LEN]; 4],
}

/// Encode the realm claims map with the keys, order and types of sheet §4.3:
/// 10, 44235, 44237, 44236, 44240, 265, 44238, 44239.
pub fn encode_realm_claims(claims: &RealmClaims) -> Vec<u8> {
    let algo = claims.hash_algo;
    let rems = claims
        .rems
        .iter()
        .map(|slot| cbor::bstr(algo.measurement(slot)))
        .collect();
    let map = Value::Map(vec![
        (
            cbor::key(realm_key::CHALLENGE),
            cbor::bstr(&claims.challenge),
        ),
        (
            cbor::key(realm_key::PERSONALIZATION_VALUE),
            cbor::bstr(&claims.rpv),
        ),
        (
            cbor::key(realm_key::PUBLIC_KEY),
            cbor::bstr(&claims.rak_pub_cose_key),
        ),
        (
            cbor::key(realm_key::HASH_ALGO_ID),
            cbor::tstr(algo.as_str()),
        ),
        (
            cbor::key(realm_key::PUBLIC_KEY_HASH_ALGO_ID),
            cbor::tstr(RAK_HASH_ALGO),
        ),
        (cbor::key(realm_key::PROFILE), cbor::tstr(REALM_PROFILE)),
        (
            cbor::key(realm_key::RIM),
            cbor::bstr(algo.measurement(&claims.rim)),
        ),
        (cbor::key(realm_key::REM), Value::Array(rems)),
    ]);
    cbor::encode(&map)
}

/// Read one measurement of exactly `algo.digest_len()` bytes into a slot.
fn measurement_slot(
    value: Value,
    algo: RemHashAlgo,
) -> Result<[u8; MEASUREMENT_SLOT_LEN], EvidenceError> {
    let bytes = cbor::as_bytes(value)?;
    if bytes.len() != algo.digest_len() {
        return Err(EvidenceError::InvalidLength);
    }
    let mut slot = [0u8; MEASUREMENT_SLOT_LEN];
    slot.iter_mut().zip(bytes).for_each(|(d, s)| *d = s);
    Ok(slot)
}

/// Decode a realm claims map (the realm COSE_Sign1 payload).
///
/// Entry order is not enforced; duplicate keys are rejected and unknown
/// claims ignored. All eight claims of sheet §4.3 are required, with their
/// exact types and lengths; the profile must be [`REALM_PROFILE`], claim
/// 44240 must be `"sha-256"` and claim 44237 must be the §4.4 COSE_Key form.
pub fn decode_realm_claims(bytes: &[u8]) -> Result<RealmClaims, EvidenceError> {
    let mut map = cbor::IntMap::from_value(cbor::decode(bytes)?)?;

    if cbor::as_text(map.require(realm_key::PROFILE)?)? != REALM_PROFILE {
        return Err(EvidenceError::UnsupportedProfile);
    }
    let challenge = cbor::as_byte_array(map.require(realm_key::CHALLENGE)?)?;
    let rpv = cbor::as_byte_array(map.require(realm_key::PERSONALIZATION_VALUE)?)?;
    let rak_pub_cose_key = cbor::as_byte_array(map.require(realm_key::PUBLIC_KEY)?)?;
    parse_cose_key_p384(&rak_pub_cose_key)?;
    let hash_algo = RemHashAlgo::from_id(&cbor::as_text(map.require(realm_key::HASH_ALGO_ID)?)?)
        .ok_or(EvidenceError::UnsupportedHashAlgorithm)?;
    if cbor::as_text(map.require(realm_key::PUBLIC_KEY_HASH_ALGO_ID)?)? != RAK_HASH_ALGO {
        return Err(EvidenceError::UnsupportedHashAlgorithm);
    }
    let rim = measurement_slot(map.require(realm_key::RIM)?, hash_algo)?;

    let rem_values = cbor::as_array(map.require(realm_key::REM)?)?;
    if rem_values.len() != 4 {
        return Err(EvidenceError::InvalidLength);
    }
    let mut rems = [[0u8; MEASUREMENT_SLOT_LEN]; 4];
    for (slot, value) in rems.iter_mut().zip(rem_values) {
        *slot = measurement_slot(value, hash_algo)?;
    }

    Ok(RealmClaims {
        challenge,
        rpv,
        rak_pub_cose_key,
        hash_algo,
        rim,
        rems,
    })
}
