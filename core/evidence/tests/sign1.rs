//! ES384 COSE_Sign1 (RFC 9052 §4.2/§4.4; cca-attestation.md §4.2).

mod common;

use ciborium::Value;
use cmon_evidence::{
    COSE_SIGN1_TAG, ES384_SIGNATURE_LEN, EvidenceError, PROTECTED_HEADER_ES384, Sign1Es384,
    sign_es384, sign1_payload_unverified, verify_es384,
};
use coset::{CoseSign1Builder, HeaderBuilder, TaggedCborSerializable, iana};
use p384::ecdsa::{Signature, signature::Verifier, signature::hazmat::PrehashSigner};
use sha2::{Digest, Sha384};

const PAYLOAD: &[u8] = b"\xA1\x0A\x43abc";

#[test]
fn protected_header_bytes() {
    assert_eq!(PROTECTED_HEADER_ES384, [0xA1, 0x01, 0x38, 0x22]);
    let token = sign_es384(&common::rak(), PAYLOAD.to_vec());
    // D2 = tag 18, 84 = array(4), 44 A1 01 38 22 = protected bstr,
    // A0 = empty unprotected map, 45 ... = payload bstr(5).
    assert_eq!(
        &token[..8],
        &[0xD2, 0x84, 0x44, 0xA1, 0x01, 0x38, 0x22, 0xA0]
    );
    assert_eq!(token[8], 0x40 | PAYLOAD.len() as u8);
    assert_eq!(&token[9..9 + PAYLOAD.len()], PAYLOAD);
    // bstr(96) signature closes the array.
    assert_eq!(&token[9 + PAYLOAD.len()..][..2], &[0x58, 0x60]);
    assert_eq!(token.len(), 9 + PAYLOAD.len() + 2 + ES384_SIGNATURE_LEN);
}

#[test]
fn tbs_is_the_rfc9052_sig_structure() {
    let tbs = Sign1Es384::new(PAYLOAD.to_vec()).tbs();
    let mut expected = vec![0x84, 0x6A];
    expected.extend_from_slice(b"Signature1");
    expected.extend_from_slice(&[0x44, 0xA1, 0x01, 0x38, 0x22, 0x40]);
    expected.push(0x40 | PAYLOAD.len() as u8);
    expected.extend_from_slice(PAYLOAD);
    assert_eq!(tbs, expected);
}

#[test]
fn sign_verify_round_trip() {
    let sk = common::rak();
    let token = sign_es384(&sk, PAYLOAD.to_vec());
    assert_eq!(verify_es384(&token, sk.verifying_key()).unwrap(), PAYLOAD);
    assert_eq!(sign1_payload_unverified(&token).unwrap(), PAYLOAD);
    // RFC 6979: deterministic.
    assert_eq!(token, sign_es384(&sk, PAYLOAD.to_vec()));
}

#[test]
fn two_step_prehash_signing_matches_one_shot() {
    let sk = common::rak();
    let pending = Sign1Es384::new(PAYLOAD.to_vec());
    assert_eq!(pending.payload(), PAYLOAD);
    let digest: [u8; 48] = Sha384::digest(pending.tbs()).into();
    assert_eq!(pending.tbs_sha384(), digest);
    let sig: Signature = sk.sign_prehash(&digest).unwrap();
    let token = pending.finish(&sig.to_bytes().into());
    assert_eq!(token, sign_es384(&sk, PAYLOAD.to_vec()));
}

#[test]
fn independent_decode_with_ciborium() {
    let sk = common::rak();
    let token = sign_es384(&sk, PAYLOAD.to_vec());
    let Value::Tag(tag, inner) = common::ciborium_decode(&token) else {
        panic!("not tagged");
    };
    assert_eq!(tag, 18);
    assert_eq!(tag, COSE_SIGN1_TAG);
    let items = inner.as_array().expect("array").clone();
    assert_eq!(items.len(), 4);
    let protected = items[0].as_bytes().expect("protected bstr");
    assert_eq!(protected.as_slice(), &PROTECTED_HEADER_ES384);
    assert_eq!(items[1], Value::Map(vec![]));
    assert_eq!(items[2].as_bytes().expect("payload").as_slice(), PAYLOAD);
    let sig = items[3].as_bytes().expect("signature");
    assert_eq!(sig.len(), 96);

    // Rebuild the Sig_structure independently and verify the raw signature.
    let sig_structure = Value::Array(vec![
        Value::Text("Signature1".into()),
        Value::Bytes(protected.clone()),
        Value::Bytes(vec![]),
        Value::Bytes(PAYLOAD.to_vec()),
    ]);
    let mut tbs = Vec::new();
    ciborium::into_writer(&sig_structure, &mut tbs).unwrap();
    let sig = Signature::from_slice(sig).unwrap();
    sk.verifying_key().verify(&tbs, &sig).unwrap();
}

#[test]
fn tampering_is_detected() {
    let sk = common::rak();
    let token = sign_es384(&sk, PAYLOAD.to_vec());
    let n = token.len();

    let mut bad_sig = token.clone();
    bad_sig[n - 1] ^= 0x01;
    assert_eq!(
        verify_es384(&bad_sig, sk.verifying_key()),
        Err(EvidenceError::BadSignature)
    );

    let mut bad_r = token.clone();
    bad_r[n - 96] ^= 0x80;
    assert!(verify_es384(&bad_r, sk.verifying_key()).is_err());

    let mut bad_payload = token.clone();
    bad_payload[10] ^= 0x01;
    assert_eq!(
        verify_es384(&bad_payload, sk.verifying_key()),
        Err(EvidenceError::BadSignature)
    );

    let other = common::cpak();
    assert_eq!(
        verify_es384(&token, other.verifying_key()),
        Err(EvidenceError::BadSignature)
    );
}

#[test]
fn all_zero_signature_is_rejected() {
    let sk = common::rak();
    let token = Sign1Es384::new(PAYLOAD.to_vec()).finish(&[0; 96]);
    assert_eq!(
        verify_es384(&token, sk.verifying_key()),
        Err(EvidenceError::BadSignature)
    );
}

#[test]
fn wrong_tag_or_untagged_is_rejected() {
    let sk = common::rak();
    let token = sign_es384(&sk, PAYLOAD.to_vec());
    // Untagged: drop D2.
    assert_eq!(
        verify_es384(&token[1..], sk.verifying_key()),
        Err(EvidenceError::UnexpectedTag { expected: 18 })
    );
    // Tag 17 (COSE_Mac0) instead.
    let mut retagged = token.clone();
    retagged[0] = 0xD1;
    assert_eq!(
        verify_es384(&retagged, sk.verifying_key()),
        Err(EvidenceError::UnexpectedTag { expected: 18 })
    );
    // Trailing garbage.
    let mut trailing = token.clone();
    trailing.push(0x00);
    assert_eq!(
        verify_es384(&trailing, sk.verifying_key()),
        Err(EvidenceError::MalformedCbor)
    );
}

#[test]
fn other_algorithm_or_crit_is_rejected() {
    let sk = common::rak();
    let es256 = CoseSign1Builder::new()
        .protected(
            HeaderBuilder::new()
                .algorithm(iana::Algorithm::ES256)
                .build(),
        )
        .payload(PAYLOAD.to_vec())
        .signature(vec![1; 96])
        .build()
        .to_tagged_vec()
        .unwrap();
    assert_eq!(
        verify_es384(&es256, sk.verifying_key()),
        Err(EvidenceError::UnsupportedAlgorithm)
    );

    let crit = CoseSign1Builder::new()
        .protected(
            HeaderBuilder::new()
                .algorithm(iana::Algorithm::ES384)
                .add_critical(iana::HeaderParameter::Kid)
                .build(),
        )
        .payload(PAYLOAD.to_vec())
        .signature(vec![1; 96])
        .build()
        .to_tagged_vec()
        .unwrap();
    assert_eq!(
        verify_es384(&crit, sk.verifying_key()),
        Err(EvidenceError::UnsupportedAlgorithm)
    );
}

#[test]
fn detached_payload_and_short_signature_are_rejected() {
    let sk = common::rak();
    let detached = CoseSign1Builder::new()
        .protected(
            HeaderBuilder::new()
                .algorithm(iana::Algorithm::ES384)
                .build(),
        )
        .signature(vec![1; 96])
        .build()
        .to_tagged_vec()
        .unwrap();
    assert_eq!(
        verify_es384(&detached, sk.verifying_key()),
        Err(EvidenceError::MissingPayload)
    );
    assert_eq!(
        sign1_payload_unverified(&detached),
        Err(EvidenceError::MissingPayload)
    );

    let short = CoseSign1Builder::new()
        .protected(
            HeaderBuilder::new()
                .algorithm(iana::Algorithm::ES384)
                .build(),
        )
        .payload(PAYLOAD.to_vec())
        .signature(vec![1; 95])
        .build()
        .to_tagged_vec()
        .unwrap();
    assert_eq!(
        verify_es384(&short, sk.verifying_key()),
        Err(EvidenceError::InvalidLength)
    );
}

#[test]
fn extra_unprotected_headers_still_verify() {
    // A verifier must not depend on the (unsigned) unprotected bucket.
    let sk = common::rak();
    let tbs_source = Sign1Es384::new(PAYLOAD.to_vec());
    let sig: Signature = sk.sign_prehash(&tbs_source.tbs_sha384()).unwrap();
    let token = CoseSign1Builder::new()
        .protected(
            HeaderBuilder::new()
                .algorithm(iana::Algorithm::ES384)
                .build(),
        )
        .unprotected(HeaderBuilder::new().key_id(b"rak".to_vec()).build())
        .payload(PAYLOAD.to_vec())
        .signature(sig.to_bytes().to_vec())
        .build()
        .to_tagged_vec()
        .unwrap();
    assert_eq!(verify_es384(&token, sk.verifying_key()).unwrap(), PAYLOAD);
}
