//! Fixtures shared by the integration tests.
// Each test binary uses a different subset of these helpers.
#![allow(dead_code)]

use cmon_evidence::{
    PLATFORM_PROFILE, PlatformClaims, RealmClaims, RemHashAlgo, SigningKey, SwComponent,
    cose_key_from_verifying_key, rak_binding_challenge,
};

/// A P-384 signing key from a fixed scalar (0x01, 0x02, ..., 0x30; < n).
pub fn fixed_key(seed: u8) -> SigningKey {
    let scalar: [u8; 48] = core::array::from_fn(|i| seed.wrapping_add(i as u8));
    SigningKey::from_slice(&scalar).expect("fixed scalar is a valid P-384 key")
}

/// The RAK used throughout the tests.
pub fn rak() -> SigningKey {
    fixed_key(1)
}

/// The CPAK used throughout the tests.
pub fn cpak() -> SigningKey {
    fixed_key(0x40)
}

/// A 64-byte slot whose first `len` bytes are `fill`, the rest zero.
pub fn slot(fill: u8, len: usize) -> [u8; 64] {
    core::array::from_fn(|i| if i < len { fill } else { 0 })
}

/// Realm claims with distinct, recognisable field contents.
pub fn realm_claims(algo: RemHashAlgo) -> RealmClaims {
    let n = algo.digest_len();
    RealmClaims {
        challenge: core::array::from_fn(|i| i as u8),
        rpv: core::array::from_fn(|i| 0x80 | i as u8),
        rak_pub_cose_key: cose_key_from_verifying_key(rak().verifying_key()),
        hash_algo: algo,
        rim: slot(0xAA, n),
        rems: [slot(0x11, n), slot(0x22, n), slot(0x33, n), slot(0x44, n)],
    }
}

/// Platform claims bound to `realm` (sheet §4.6), shaped like the TF-A
/// QEMU sample of sheet §4.5.
pub fn platform_claims(realm: &RealmClaims) -> PlatformClaims {
    PlatformClaims {
        profile: PLATFORM_PROFILE.into(),
        challenge: rak_binding_challenge(&realm.rak_pub_cose_key).to_vec(),
        implementation_id: core::array::from_fn(|i| 0x7F ^ i as u8),
        instance_id: core::array::from_fn(|i| if i == 0 { 0x01 } else { i as u8 }),
        config: vec![0xCF; 4],
        lifecycle: 0x3003,
        hash_algo_id: "sha-256".into(),
        verification_service: Some("http://whatever.com".into()),
        sw_components: vec![
            SwComponent {
                measurement_type: "BL2".into(),
                value: vec![0x9A; 32],
                version: Some("2.10.0".into()),
                signer_id: vec![0x53; 32],
                hash_algo: "sha-256".into(),
            },
            SwComponent {
                measurement_type: "RMM".into(),
                value: vec![0x71; 32],
                version: None,
                signer_id: vec![0x54; 32],
                hash_algo: "sha-256".into(),
            },
        ],
    }
}

/// Decode with the independent, std-enabled ciborium.
pub fn ciborium_decode(bytes: &[u8]) -> ciborium::Value {
    ciborium::from_reader(bytes).expect("independent decoder accepts our output")
}

/// Integer keys of a ciborium map, in wire order.
pub fn map_keys(value: &ciborium::Value) -> Vec<i128> {
    value
        .as_map()
        .expect("map")
        .iter()
        .map(|(k, _)| i128::from(k.as_integer().expect("integer key")))
        .collect()
}
