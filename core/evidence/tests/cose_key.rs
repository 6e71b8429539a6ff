//! COSE_Key encoding of the RAK (cca-attestation.md §4.4) and the platform
//! binding hash (§4.6).

mod common;

use cmon_evidence::{
    COSE_KEY_P384_LEN, EvidenceError, cose_key_from_verifying_key, cose_key_p384,
    parse_cose_key_p384, rak_binding_challenge, rak_binding_challenge_for_key,
    verifying_key_from_cose_key,
};
use coset::{CborSerializable, CoseKeyBuilder, iana};
use p384::elliptic_curve::point::AffineCoordinates;

const X: [u8; 48] = {
    let mut a = [0u8; 48];
    let mut i = 0;
    while i < 48 {
        a[i] = i as u8 + 1;
        i += 1;
    }
    a
};
const Y: [u8; 48] = {
    let mut a = [0u8; 48];
    let mut i = 0;
    while i < 48 {
        a[i] = i as u8 + 0x31;
        i += 1;
    }
    a
};

#[test]
fn exact_bytes_and_length() {
    let key = cose_key_p384(&X, &Y);
    assert_eq!(key.len(), 107);
    assert_eq!(COSE_KEY_P384_LEN, 107);
    let mut expected = vec![0xA4, 0x01, 0x02, 0x20, 0x02, 0x21, 0x58, 0x30];
    expected.extend_from_slice(&X);
    expected.extend_from_slice(&[0x22, 0x58, 0x30]);
    expected.extend_from_slice(&Y);
    assert_eq!(key.as_slice(), expected.as_slice());
}

#[test]
fn binding_challenge_known_answer() {
    // SHA-256 of the 107 bytes above, computed independently with Python's
    // hashlib.
    let expected: [u8; 32] = [
        0x8e, 0x12, 0x17, 0xd5, 0x04, 0x0a, 0x61, 0x17, 0x58, 0x14, 0x1a, 0xa9, 0x5c, 0x63, 0x2f,
        0xd7, 0xf5, 0xe4, 0xa0, 0x8f, 0x93, 0x2d, 0x31, 0x5c, 0x06, 0x79, 0x9b, 0xa7, 0x84, 0xf5,
        0xcc, 0xfb,
    ];
    assert_eq!(rak_binding_challenge(&cose_key_p384(&X, &Y)), expected);
}

#[test]
fn same_bytes_as_coset_and_ciborium() {
    // coset's generic EC2 encoder happens to produce the same layout; check
    // so that a drift in either is caught.
    let coset_bytes =
        CoseKeyBuilder::new_ec2_pub_key(iana::EllipticCurve::P_384, X.to_vec(), Y.to_vec())
            .build()
            .to_vec()
            .unwrap();
    assert_eq!(coset_bytes, cose_key_p384(&X, &Y).to_vec());

    let v = common::ciborium_decode(&cose_key_p384(&X, &Y));
    assert_eq!(common::map_keys(&v), vec![1, -1, -2, -3]);
}

#[test]
fn from_verifying_key_uses_affine_coordinates() {
    let sk = common::rak();
    let vk = sk.verifying_key();
    let key = cose_key_from_verifying_key(vk);
    let x: [u8; 48] = vk.as_affine().x().into();
    let y: [u8; 48] = vk.as_affine().y().into();
    assert_eq!(key, cose_key_p384(&x, &y));
    // And the SEC1 uncompressed form agrees: 04 ‖ x ‖ y.
    let point = vk.to_sec1_point(false);
    let sec1 = point.as_bytes();
    assert_eq!(sec1[0], 0x04);
    assert_eq!(&sec1[1..49], &key[8..56]);
    assert_eq!(&sec1[49..97], &key[59..107]);
    assert_eq!(
        rak_binding_challenge_for_key(vk),
        rak_binding_challenge(&key)
    );
}

#[test]
fn parse_round_trip_and_key_recovery() {
    let vk = *common::rak().verifying_key();
    let key = cose_key_from_verifying_key(&vk);
    let (x, y) = parse_cose_key_p384(&key).unwrap();
    assert_eq!(cose_key_p384(&x, &y), key);
    assert_eq!(verifying_key_from_cose_key(&key).unwrap(), vk);
}

#[test]
fn parse_rejects_other_forms() {
    let key = cose_key_p384(&X, &Y);
    assert_eq!(
        parse_cose_key_p384(&key[..106]),
        Err(EvidenceError::InvalidLength)
    );
    assert_eq!(parse_cose_key_p384(&[]), Err(EvidenceError::InvalidLength));
    let mut long = key.to_vec();
    long.push(0);
    assert_eq!(
        parse_cose_key_p384(&long),
        Err(EvidenceError::InvalidLength)
    );
    for idx in [0usize, 1, 2, 3, 4, 5, 6, 7, 56, 57, 58] {
        let mut bad = key;
        bad[idx] ^= 0x01;
        assert_eq!(
            parse_cose_key_p384(&bad),
            Err(EvidenceError::InvalidKey),
            "byte {idx}"
        );
    }
}

#[test]
fn off_curve_point_is_rejected() {
    // (X, Y) is not on P-384.
    assert_eq!(
        verifying_key_from_cose_key(&cose_key_p384(&X, &Y)),
        Err(EvidenceError::InvalidKey)
    );
    assert_eq!(
        verifying_key_from_cose_key(&cose_key_p384(&[0; 48], &[0; 48])),
        Err(EvidenceError::InvalidKey)
    );
}
