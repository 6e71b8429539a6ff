//! Realm (cca-attestation.md §4.3) and platform (§4.5) claim sets.

mod common;

use ciborium::Value;
use cmon_evidence::{
    EvidenceError, PLATFORM_PROFILE, REALM_PROFILE, RemHashAlgo, decode_platform_claims,
    decode_realm_claims, encode_platform_claims, encode_realm_claims, platform_key, realm_key,
};

fn encode(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::into_writer(v, &mut out).unwrap();
    out
}

/// Rewrite the entries of an encoded map with `f` and re-encode.
fn edit_map(bytes: &[u8], f: impl FnOnce(&mut Vec<(Value, Value)>)) -> Vec<u8> {
    let Value::Map(mut entries) = common::ciborium_decode(bytes) else {
        panic!("not a map")
    };
    f(&mut entries);
    encode(&Value::Map(entries))
}

fn set(entries: &mut [(Value, Value)], key: i64, value: Value) {
    let entry = entries
        .iter_mut()
        .find(|(k, _)| *k == Value::Integer(key.into()))
        .expect("key present");
    entry.1 = value;
}

#[test]
fn realm_key_order_and_types() {
    let claims = common::realm_claims(RemHashAlgo::Sha256);
    let bytes = encode_realm_claims(&claims);
    let v = common::ciborium_decode(&bytes);
    assert_eq!(
        common::map_keys(&v),
        vec![10, 44235, 44237, 44236, 44240, 265, 44238, 44239]
    );
    let m = v.as_map().unwrap();
    assert_eq!(m[0].1.as_bytes().unwrap().as_slice(), &claims.challenge);
    assert_eq!(m[1].1.as_bytes().unwrap().as_slice(), &claims.rpv);
    assert_eq!(
        m[2].1.as_bytes().unwrap().as_slice(),
        &claims.rak_pub_cose_key
    );
    assert_eq!(m[3].1.as_text(), Some("sha-256"));
    assert_eq!(m[4].1.as_text(), Some("sha-256"));
    assert_eq!(m[5].1.as_text(), Some("tag:arm.com,2023:realm#1.0.0"));
    assert_eq!(m[5].1.as_text(), Some(REALM_PROFILE));
    assert_eq!(m[6].1.as_bytes().unwrap().as_slice(), &[0xAA; 32]);
    let rems = m[7].1.as_array().unwrap();
    assert_eq!(rems.len(), 4);
    for (i, rem) in rems.iter().enumerate() {
        assert_eq!(
            rem.as_bytes().unwrap().as_slice(),
            &[0x11 * (i as u8 + 1); 32]
        );
    }
    // Exact head: map(8), 0A 58 40 <challenge>, 19 AC CB 58 40 <rpv>,
    // 19 AC CD 58 6B <COSE_Key>.
    assert_eq!(&bytes[..4], &[0xA8, 0x0A, 0x58, 0x40]);
    assert_eq!(&bytes[68..73], &[0x19, 0xAC, 0xCB, 0x58, 0x40]);
    assert_eq!(&bytes[137..142], &[0x19, 0xAC, 0xCD, 0x58, 0x6B]);
    assert_eq!(
        &bytes[142..150],
        &[0xA4, 0x01, 0x02, 0x20, 0x02, 0x21, 0x58, 0x30]
    );
}

#[test]
fn realm_round_trip_both_algorithms() {
    for algo in [RemHashAlgo::Sha256, RemHashAlgo::Sha512] {
        let claims = common::realm_claims(algo);
        let bytes = encode_realm_claims(&claims);
        assert_eq!(decode_realm_claims(&bytes).unwrap(), claims, "{algo:?}");
    }
    let v = common::ciborium_decode(&encode_realm_claims(&common::realm_claims(
        RemHashAlgo::Sha512,
    )));
    let m = v.as_map().unwrap();
    assert_eq!(m[3].1.as_text(), Some("sha-512"));
    assert_eq!(m[6].1.as_bytes().unwrap().len(), 64);
}

#[test]
fn realm_encoder_ignores_slot_padding() {
    let mut claims = common::realm_claims(RemHashAlgo::Sha256);
    let clean = encode_realm_claims(&claims);
    claims.rim[40] = 0xFF;
    claims.rems[3][63] = 0xFF;
    assert_eq!(encode_realm_claims(&claims), clean);
}

#[test]
fn rem_hash_algo_mapping() {
    assert_eq!(RemHashAlgo::from_rmi(0), Some(RemHashAlgo::Sha256));
    assert_eq!(RemHashAlgo::from_rmi(1), Some(RemHashAlgo::Sha512));
    assert_eq!(RemHashAlgo::from_rmi(2), None);
    assert_eq!(RemHashAlgo::from_id("sha-512"), Some(RemHashAlgo::Sha512));
    assert_eq!(RemHashAlgo::from_id("SHA-256"), None);
}

#[test]
fn realm_decoder_checks() {
    let good = encode_realm_claims(&common::realm_claims(RemHashAlgo::Sha256));
    let cases: Vec<(i64, Value, EvidenceError)> = vec![
        (
            realm_key::PROFILE,
            Value::Text("tag:arm.com,2024:realm#2.0.0".into()),
            EvidenceError::UnsupportedProfile,
        ),
        (
            realm_key::CHALLENGE,
            Value::Bytes(vec![0; 32]),
            EvidenceError::InvalidLength,
        ),
        (
            realm_key::PERSONALIZATION_VALUE,
            Value::Text("x".into()),
            EvidenceError::UnexpectedType,
        ),
        (
            realm_key::PUBLIC_KEY,
            Value::Bytes(vec![0; 107]),
            EvidenceError::InvalidKey,
        ),
        (
            realm_key::PUBLIC_KEY,
            Value::Bytes(vec![0; 97]),
            EvidenceError::InvalidLength,
        ),
        (
            realm_key::HASH_ALGO_ID,
            Value::Text("sha-384".into()),
            EvidenceError::UnsupportedHashAlgorithm,
        ),
        (
            realm_key::PUBLIC_KEY_HASH_ALGO_ID,
            Value::Text("sha-512".into()),
            EvidenceError::UnsupportedHashAlgorithm,
        ),
        (
            realm_key::RIM,
            Value::Bytes(vec![0; 64]),
            EvidenceError::InvalidLength,
        ),
        (
            realm_key::REM,
            Value::Array(vec![Value::Bytes(vec![0; 32]); 3]),
            EvidenceError::InvalidLength,
        ),
        (
            realm_key::REM,
            Value::Bytes(vec![0; 32]),
            EvidenceError::UnexpectedType,
        ),
    ];
    for (key, value, err) in cases {
        let bad = edit_map(&good, |e| set(e, key, value.clone()));
        assert_eq!(decode_realm_claims(&bad), Err(err), "key {key} = {value:?}");
    }
    let missing = edit_map(&good, |e| {
        e.retain(|(k, _)| *k != Value::Integer(44238.into()))
    });
    assert_eq!(
        decode_realm_claims(&missing),
        Err(EvidenceError::MissingClaim(44238))
    );
    let duplicate = edit_map(&good, |e| {
        e.push((Value::Integer(10.into()), Value::Bytes(vec![0; 64])))
    });
    assert_eq!(
        decode_realm_claims(&duplicate),
        Err(EvidenceError::DuplicateKey(10))
    );
    assert_eq!(
        decode_realm_claims(&[0x80]),
        Err(EvidenceError::UnexpectedType)
    );
}

#[test]
fn realm_decoder_tolerates_order_and_unknown_claims() {
    let claims = common::realm_claims(RemHashAlgo::Sha512);
    let good = encode_realm_claims(&claims);
    let shuffled = edit_map(&good, |e| {
        e.reverse();
        e.push((Value::Integer(44243.into()), Value::Bytes(vec![1])));
        e.push((Value::Text("x".into()), Value::Null));
    });
    assert_eq!(decode_realm_claims(&shuffled).unwrap(), claims);
}

#[test]
fn platform_key_order_and_types() {
    let realm = common::realm_claims(RemHashAlgo::Sha256);
    let claims = common::platform_claims(&realm);
    let bytes = encode_platform_claims(&claims);
    let v = common::ciborium_decode(&bytes);
    assert_eq!(
        common::map_keys(&v),
        vec![265, 10, 2396, 256, 2401, 2395, 2402, 2400, 2399]
    );
    let m = v.as_map().unwrap();
    assert_eq!(
        m[0].1.as_text(),
        Some("tag:arm.com,2023:cca_platform#1.0.0")
    );
    assert_eq!(m[0].1.as_text(), Some(PLATFORM_PROFILE));
    assert_eq!(m[1].1.as_bytes().unwrap().len(), 32);
    assert_eq!(m[3].1.as_bytes().unwrap()[0], 0x01);
    assert_eq!(m[4].1.as_bytes().unwrap().as_slice(), &[0xCF; 4]);
    assert_eq!(i128::from(m[5].1.as_integer().unwrap()), 0x3003);
    assert_eq!(m[6].1.as_text(), Some("sha-256"));
    let sw = m[8].1.as_array().unwrap();
    assert_eq!(common::map_keys(&sw[0]), vec![1, 2, 4, 5, 6]);
    assert_eq!(common::map_keys(&sw[1]), vec![1, 2, 5, 6]);
    // 19 09 5B 19 30 03: lifecycle key 2395 and value 0x3003.
    assert!(
        bytes
            .windows(6)
            .any(|w| w == [0x19, 0x09, 0x5B, 0x19, 0x30, 0x03])
    );
}

#[test]
fn platform_round_trip() {
    let realm = common::realm_claims(RemHashAlgo::Sha256);
    let mut claims = common::platform_claims(&realm);
    assert_eq!(
        decode_platform_claims(&encode_platform_claims(&claims)).unwrap(),
        claims
    );
    claims.verification_service = None;
    claims.challenge = vec![7; 64];
    let bytes = encode_platform_claims(&claims);
    assert_eq!(common::map_keys(&common::ciborium_decode(&bytes)).len(), 8);
    assert_eq!(decode_platform_claims(&bytes).unwrap(), claims);
}

#[test]
fn platform_decoder_checks() {
    let realm = common::realm_claims(RemHashAlgo::Sha256);
    let good = encode_platform_claims(&common::platform_claims(&realm));
    let cases: Vec<(i64, Value, EvidenceError)> = vec![
        (
            platform_key::CHALLENGE,
            Value::Bytes(vec![0; 33]),
            EvidenceError::InvalidLength,
        ),
        (
            platform_key::IMPLEMENTATION_ID,
            Value::Bytes(vec![0; 31]),
            EvidenceError::InvalidLength,
        ),
        (
            platform_key::INSTANCE_ID,
            Value::Bytes(vec![0; 32]),
            EvidenceError::InvalidLength,
        ),
        (
            platform_key::LIFECYCLE,
            Value::Integer(0x1_0000.into()),
            EvidenceError::InvalidValue,
        ),
        (
            platform_key::LIFECYCLE,
            Value::Integer((-1).into()),
            EvidenceError::InvalidValue,
        ),
        (
            platform_key::HASH_ALGO_ID,
            Value::Bytes(vec![]),
            EvidenceError::UnexpectedType,
        ),
        (
            platform_key::SW_COMPONENTS,
            Value::Array(vec![Value::Map(vec![])]),
            EvidenceError::MissingClaim(1),
        ),
    ];
    for (key, value, err) in cases {
        let bad = edit_map(&good, |e| set(e, key, value.clone()));
        assert_eq!(
            decode_platform_claims(&bad),
            Err(err),
            "key {key} = {value:?}"
        );
    }
    let missing = edit_map(&good, |e| {
        e.retain(|(k, _)| *k != Value::Integer(2396.into()))
    });
    assert_eq!(
        decode_platform_claims(&missing),
        Err(EvidenceError::MissingClaim(2396))
    );
    let profile_kept = edit_map(&good, |e| set(e, 265, Value::Text("other".into())));
    assert_eq!(
        decode_platform_claims(&profile_kept).unwrap().profile,
        "other"
    );
}
