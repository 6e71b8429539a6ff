//! The tag-399 CCA token collection (cca-attestation.md §4.1) and an
//! end-to-end token built and verified the way a verifier would (§4.6).

mod common;

use ciborium::Value;
use cmon_evidence::{
    EvidenceError, RemHashAlgo, cca_token_collection, decode_platform_claims, decode_realm_claims,
    encode_platform_claims, encode_realm_claims, parse_cca_token_collection, rak_binding_challenge,
    sign_es384, sign1_payload_unverified, verify_es384, verifying_key_from_cose_key,
};

fn encode(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::into_writer(v, &mut out).unwrap();
    out
}

#[test]
fn collection_layout() {
    let platform = vec![0xD2; 1518];
    let realm = vec![0xD2; 300];
    let bytes = cca_token_collection(&platform, &realm);
    // tag(399) map(2) 44234: bstr(1518) = 59 05 EE.
    assert_eq!(
        &bytes[..8],
        &[0xD9, 0x01, 0x8F, 0xA2, 0x19, 0xAC, 0xCA, 0x59]
    );
    assert_eq!(&bytes[8..10], &[0x05, 0xEE]);
    assert_eq!(&bytes[10..10 + 1518], platform.as_slice());
    // 44241: bstr(300) = 59 01 2C.
    assert_eq!(&bytes[1528..1534], &[0x19, 0xAC, 0xD1, 0x59, 0x01, 0x2C]);
    assert_eq!(&bytes[1534..], realm.as_slice());

    let Value::Tag(399, inner) = common::ciborium_decode(&bytes) else {
        panic!("tag 399 expected")
    };
    assert_eq!(common::map_keys(&inner), vec![44234, 44241]);
}

#[test]
fn collection_round_trip() {
    let (p, r) = parse_cca_token_collection(&cca_token_collection(b"plat", b"realm")).unwrap();
    assert_eq!((p.as_slice(), r.as_slice()), (&b"plat"[..], &b"realm"[..]));
}

#[test]
fn collection_in_other_order_is_accepted() {
    let swapped = Value::Tag(
        399,
        Box::new(Value::Map(vec![
            (Value::Integer(44241.into()), Value::Bytes(b"r".to_vec())),
            (Value::Integer(44234.into()), Value::Bytes(b"p".to_vec())),
        ])),
    );
    let (p, r) = parse_cca_token_collection(&encode(&swapped)).unwrap();
    assert_eq!((p, r), (b"p".to_vec(), b"r".to_vec()));
}

#[test]
fn collection_rejects_malformed() {
    let entry = |k: i64, v: Value| (Value::Integer(k.into()), v);
    let tagged = |t: u64, entries: Vec<(Value, Value)>| {
        encode(&Value::Tag(t, Box::new(Value::Map(entries))))
    };
    let p = || entry(44234, Value::Bytes(vec![1]));
    let r = || entry(44241, Value::Bytes(vec![2]));

    assert_eq!(
        parse_cca_token_collection(&tagged(907, vec![p(), r()])),
        Err(EvidenceError::UnexpectedTag { expected: 399 })
    );
    assert_eq!(
        parse_cca_token_collection(&encode(&Value::Map(vec![p(), r()]))),
        Err(EvidenceError::UnexpectedTag { expected: 399 })
    );
    assert_eq!(
        parse_cca_token_collection(&tagged(399, vec![p()])),
        Err(EvidenceError::InvalidLength)
    );
    assert_eq!(
        parse_cca_token_collection(&tagged(399, vec![p(), r(), entry(1, Value::Null)])),
        Err(EvidenceError::InvalidLength)
    );
    assert_eq!(
        parse_cca_token_collection(&tagged(399, vec![p(), p()])),
        Err(EvidenceError::DuplicateKey(44234))
    );
    assert_eq!(
        parse_cca_token_collection(&tagged(399, vec![p(), entry(1, Value::Null)])),
        Err(EvidenceError::MissingClaim(44241))
    );
    assert_eq!(
        parse_cca_token_collection(&tagged(
            399,
            vec![p(), entry(44241, Value::Text("r".into()))]
        )),
        Err(EvidenceError::UnexpectedType)
    );
    assert_eq!(
        parse_cca_token_collection(&encode(&Value::Tag(399, Box::new(Value::Array(vec![]))))),
        Err(EvidenceError::UnexpectedType)
    );
}

/// Build a complete CCA token as RMM + EL3 would, then check it the way the
/// offline verifier of sheet §6 does: both signatures and the §4.6 binding.
#[test]
fn end_to_end_token_verifies_and_binds() {
    let rak = common::rak();
    let cpak = common::cpak();
    let realm = common::realm_claims(RemHashAlgo::Sha256);
    let platform = common::platform_claims(&realm);

    let realm_token = sign_es384(&rak, encode_realm_claims(&realm));
    let platform_token = sign_es384(&cpak, encode_platform_claims(&platform));
    let token = cca_token_collection(&platform_token, &realm_token);

    // Verifier side.
    let (p, r) = parse_cca_token_collection(&token).unwrap();
    let platform_claims =
        decode_platform_claims(&verify_es384(&p, cpak.verifying_key()).unwrap()).unwrap();
    let unverified = decode_realm_claims(&sign1_payload_unverified(&r).unwrap()).unwrap();
    let embedded_rak = verifying_key_from_cose_key(&unverified.rak_pub_cose_key).unwrap();
    assert_eq!(&embedded_rak, rak.verifying_key());
    let realm_claims = decode_realm_claims(&verify_es384(&r, &embedded_rak).unwrap()).unwrap();

    assert_eq!(realm_claims, realm);
    assert_eq!(platform_claims, platform);
    assert_eq!(
        platform_claims.challenge,
        rak_binding_challenge(&realm_claims.rak_pub_cose_key).to_vec()
    );
}
