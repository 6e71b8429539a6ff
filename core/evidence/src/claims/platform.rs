//! Platform token claims (cca-attestation.md §4.5; CCA platform profile of
//! draft-ffm-rats-cca-token).

use alloc::{string::String, vec, vec::Vec};
use coset::cbor::value::{Integer, Value};

use crate::{EvidenceError, cbor};

/// Profile of a CCA platform token (sheet §4.5, claim 265).
pub const PLATFORM_PROFILE: &str = "tag:arm.com,2023:cca_platform#1.0.0";

/// Platform claim keys, in the order of the sheet §4.5 table.
pub mod platform_key {
    /// Profile, tstr.
    pub const PROFILE: i64 = 265;
    /// Challenge (the RAK binding hash, §4.6), bstr of 32, 48 or 64 bytes.
    pub const CHALLENGE: i64 = 10;
    /// Implementation ID, bstr(32).
    pub const IMPLEMENTATION_ID: i64 = 2396;
    /// Instance ID (UEID), bstr(33).
    pub const INSTANCE_ID: i64 = 256;
    /// Platform configuration, bstr.
    pub const CONFIG: i64 = 2401;
    /// Security lifecycle, uint.
    pub const LIFECYCLE: i64 = 2395;
    /// Hash algorithm ID, tstr.
    pub const HASH_ALGO_ID: i64 = 2402;
    /// Verification service indicator, tstr (URL).
    pub const VERIFICATION_SERVICE: i64 = 2400;
    /// Software components, array of maps.
    pub const SW_COMPONENTS: i64 = 2399;

    /// Keys inside one software-component map (sheet §4.5).
    pub mod sw_component {
        /// Measurement type, tstr.
        pub const MEASUREMENT_TYPE: i64 = 1;
        /// Measurement value, bstr.
        pub const MEASUREMENT_VALUE: i64 = 2;
        /// Version, tstr (optional).
        pub const VERSION: i64 = 4;
        /// Signer ID, bstr.
        pub const SIGNER_ID: i64 = 5;
        /// Hash algorithm, tstr.
        pub const HASH_ALGO: i64 = 6;
    }
}

use platform_key::sw_component as swk;

/// One measured platform software component (sheet §4.5, claim 2399 entry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwComponent {
    /// Key 1: measurement type, e.g. `"BL2"`.
    pub measurement_type: String,
    /// Key 2: measurement value (a digest).
    pub value: Vec<u8>,
    /// Key 4: version, if the platform reports one.
    pub version: Option<String>,
    /// Key 5: signer ID (hash of the signing authority's key).
    pub signer_id: Vec<u8>,
    /// Key 6: hash algorithm of `value`, e.g. `"sha-256"`.
    pub hash_algo: String,
}

/// The claims of a CCA platform token (sheet §4.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformClaims {
    /// Claim 265: normally [`PLATFORM_PROFILE`].
    pub profile: String,
    /// Claim 10: the challenge; SHA-256 of the RAK COSE_Key (§4.6), so
    /// 32 bytes in practice (48 and 64 are also permitted).
    pub challenge: Vec<u8>,
    /// Claim 2396: implementation ID.
    pub implementation_id: [u8; 32],
    /// Claim 256: instance ID (UEID; first byte 0x01 = RAND type).
    pub instance_id: [u8; 33],
    /// Claim 2401: platform configuration.
    pub config: Vec<u8>,
    /// Claim 2395: security lifecycle, e.g. 0x3003 (secured).
    pub lifecycle: u16,
    /// Claim 2402: hash algorithm ID, e.g. `"sha-256"`.
    pub hash_algo_id: String,
    /// Claim 2400: verification service URL; omitted from the encoding
    /// when `None`.
    pub verification_service: Option<String>,
    /// Claim 2399: the software components, in order.
    pub sw_components: Vec<SwComponent>,
}

/// Encode one software component with keys 1, 2, 4 (if present), 5, 6.
fn encode_sw_component(c: &SwComponent) -> Value {
    let mut entries = vec![
        (
            cbor::key(swk::MEASUREMENT_TYPE),
            cbor::tstr(&c.measurement_type),
        ),
        (cbor::key(swk::MEASUREMENT_VALUE), cbor::bstr(&c.value)),
    ];
    if let Some(version) = &c.version {
        entries.push((cbor::key(swk::VERSION), cbor::tstr(version)));
    }
    entries.push((cbor::key(swk::SIGNER_ID), cbor::bstr(&c.signer_id)));
    entries.push((cbor::key(swk::HASH_ALGO), cbor::tstr(&c.hash_algo)));
    Value::Map(entries)
}

/// Encode the platform claims map in the order of the sheet §4.5 table:
/// 265, 10, 2396, 256, 2401, 2395, 2402, 2400 (if present), 2399.
///
/// Values are written as given; lengths are not checked here.
pub fn encode_platform_claims(claims: &PlatformClaims) -> Vec<u8> {
    let mut entries = vec![
        (
            cbor::key(platform_key::PROFILE),
            cbor::tstr(&claims.profile),
        ),
        (
            cbor::key(platform_key::CHALLENGE),
            cbor::bstr(&claims.challenge),
        ),
        (
            cbor::key(platform_key::IMPLEMENTATION_ID),
            cbor::bstr(&claims.implementation_id),
        ),
        (
            cbor::key(platform_key::INSTANCE_ID),
            cbor::bstr(&claims.instance_id),
        ),
        (cbor::key(platform_key::CONFIG), cbor::bstr(&claims.config)),
        (
            cbor::key(platform_key::LIFECYCLE),
            Value::Integer(Integer::from(claims.lifecycle)),
        ),
        (
            cbor::key(platform_key::HASH_ALGO_ID),
            cbor::tstr(&claims.hash_algo_id),
        ),
    ];
    if let Some(url) = &claims.verification_service {
        entries.push((
            cbor::key(platform_key::VERIFICATION_SERVICE),
            cbor::tstr(url),
        ));
    }
    let components = claims
        .sw_components
        .iter()
        .map(encode_sw_component)
        .collect();
    entries.push((
        cbor::key(platform_key::SW_COMPONENTS),
        Value::Array(components),
    ));
    cbor::encode(&Value::Map(entries))
}

/// Decode one software-component map.
fn decode_sw_component(value: Value) -> Result<SwComponent, EvidenceError> {
    let mut map = cbor::IntMap::from_value(value)?;
    Ok(SwComponent {
        measurement_type: cbor::as_text(map.require(swk::MEASUREMENT_TYPE)?)?,
        value: cbor::as_bytes(map.require(swk::MEASUREMENT_VALUE)?)?,
        version: map.take(swk::VERSION).map(cbor::as_text).transpose()?,
        signer_id: cbor::as_bytes(map.require(swk::SIGNER_ID)?)?,
        hash_algo: cbor::as_text(map.require(swk::HASH_ALGO)?)?,
    })
}

/// Decode a platform claims map (the platform COSE_Sign1 payload).
///
/// Entry order is not enforced; duplicate keys are rejected and unknown
/// claims ignored. Every claim of sheet §4.5 is required except 2400 (and
/// key 4 inside a software component). The challenge must be 32, 48 or 64
/// bytes, the IDs 32 and 33 bytes, the lifecycle must fit in 16 bits. The
/// profile is returned, not checked: compare it with [`PLATFORM_PROFILE`].
pub fn decode_platform_claims(bytes: &[u8]) -> Result<PlatformClaims, EvidenceError> {
    let mut map = cbor::IntMap::from_value(cbor::decode(bytes)?)?;

    let profile = cbor::as_text(map.require(platform_key::PROFILE)?)?;
    let challenge = cbor::as_bytes(map.require(platform_key::CHALLENGE)?)?;
    if !matches!(challenge.len(), 32 | 48 | 64) {
        return Err(EvidenceError::InvalidLength);
    }
    let implementation_id = cbor::as_byte_array(map.require(platform_key::IMPLEMENTATION_ID)?)?;
    let instance_id = cbor::as_byte_array(map.require(platform_key::INSTANCE_ID)?)?;
    let config = cbor::as_bytes(map.require(platform_key::CONFIG)?)?;
    let lifecycle = u16::try_from(cbor::as_uint(map.require(platform_key::LIFECYCLE)?)?)
        .map_err(|_| EvidenceError::InvalidValue)?;
    let hash_algo_id = cbor::as_text(map.require(platform_key::HASH_ALGO_ID)?)?;
    let verification_service = map
        .take(platform_key::VERIFICATION_SERVICE)
        .map(cbor::as_text)
        .transpose()?;
    let sw_components = cbor::as_array(map.require(platform_key::SW_COMPONENTS)?)?
        .into_iter()
        .map(decode_sw_component)
        .collect::<Result<Vec<_>, _>>()?;

    Ok(PlatformClaims {
        profile,
        challenge,
        implementation_id,
        instance_id,
        config,
        lifecycle,
        hash_algo_id,
        verification_service,
        sw_components,
    })
}
