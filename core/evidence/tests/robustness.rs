//! Decoders take untrusted bytes: truncated, corrupted, hostile or random
//! input must give an error, never a panic, hang or huge allocation.

mod common;

use cmon_evidence::{
    RemHashAlgo, VerifyingKey, cca_token_collection, decode_platform_claims, decode_realm_claims,
    encode_platform_claims, encode_realm_claims, parse_cca_token_collection, parse_cose_key_p384,
    sign_es384, sign1_payload_unverified, verify_es384, verifying_key_from_cose_key,
};

/// Run every decoder over `bytes`; only the absence of panics is checked.
fn all_decoders(bytes: &[u8], vk: &VerifyingKey) {
    let _ = verify_es384(bytes, vk);
    let _ = sign1_payload_unverified(bytes);
    let _ = parse_cca_token_collection(bytes);
    let _ = decode_realm_claims(bytes);
    let _ = decode_platform_claims(bytes);
    let _ = parse_cose_key_p384(bytes);
    let _ = verifying_key_from_cose_key(bytes);
}

fn samples() -> Vec<Vec<u8>> {
    let realm = common::realm_claims(RemHashAlgo::Sha512);
    let platform = common::platform_claims(&realm);
    let realm_claims = encode_realm_claims(&realm);
    let platform_claims = encode_platform_claims(&platform);
    let realm_token = sign_es384(&common::rak(), realm_claims.clone());
    let platform_token = sign_es384(&common::cpak(), platform_claims.clone());
    let collection = cca_token_collection(&platform_token, &realm_token);
    vec![realm_claims, platform_claims, realm_token, collection]
}

#[test]
fn every_truncation_is_an_error() {
    let vk = *common::rak().verifying_key();
    let [realm_claims, platform_claims, realm_token, collection] =
        <[Vec<u8>; 4]>::try_from(samples()).unwrap();
    for n in 0..collection.len() {
        assert!(
            parse_cca_token_collection(&collection[..n]).is_err(),
            "collection[..{n}]"
        );
    }
    for n in 0..realm_token.len() {
        assert!(
            verify_es384(&realm_token[..n], &vk).is_err(),
            "token[..{n}]"
        );
        assert!(sign1_payload_unverified(&realm_token[..n]).is_err());
    }
    for n in 0..realm_claims.len() {
        assert!(
            decode_realm_claims(&realm_claims[..n]).is_err(),
            "realm[..{n}]"
        );
    }
    for n in 0..platform_claims.len() {
        assert!(
            decode_platform_claims(&platform_claims[..n]).is_err(),
            "platform[..{n}]"
        );
    }
}

#[test]
fn single_byte_corruptions_do_not_panic() {
    let vk = *common::rak().verifying_key();
    for sample in samples() {
        // Every position for the short samples; a stride for the long ones
        // keeps the test fast.
        let step = (sample.len() / 300).max(1);
        for i in (0..sample.len()).step_by(step) {
            for flip in [0x01u8, 0x80, 0xFF] {
                let mut bad = sample.clone();
                bad[i] ^= flip;
                all_decoders(&bad, &vk);
            }
        }
    }
}

#[test]
fn hostile_headers_are_rejected_cheaply() {
    let cases: Vec<Vec<u8>> = vec![
        // Byte string / array / map claiming 2^64-1 items.
        vec![0x5B, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF],
        vec![0x9B, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF],
        vec![0xBB, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF],
        vec![
            0xD9, 0x01, 0x8F, 0xBB, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        ],
        // Deep nesting: arrays, maps and tags.
        vec![0x81; 100_000],
        [0xA1, 0x00].repeat(50_000),
        [0xD2].repeat(100_000),
        // Unterminated indefinite-length items and a stray break.
        vec![0x5F, 0x41, 0x00],
        vec![0x9F, 0x9F, 0x9F],
        vec![0xFF],
        // Reserved additional-information values 28..30.
        vec![0x1C],
        vec![0xD2, 0x84, 0x5D],
        // Bignum-sized map key and lifecycle.
        vec![0xA1, 0xC2, 0x49, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0x00],
        vec![
            0xA1, 0x3B, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00,
        ],
    ];
    let vk = *common::rak().verifying_key();
    for case in cases {
        all_decoders(&case, &vk);
        assert!(parse_cca_token_collection(&case).is_err());
        assert!(decode_realm_claims(&case).is_err());
    }
}

#[test]
fn random_garbage_does_not_panic() {
    let vk = *common::rak().verifying_key();
    // xorshift64*: deterministic, no extra dev-dependency.
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    };
    for _ in 0..20_000 {
        let len = (next() % 200) as usize;
        let mut bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        // Bias towards plausible starts so the decoders get past byte 0.
        let prefix: &[u8] = match next() % 4 {
            0 => &[0xD9, 0x01, 0x8F, 0xA2],
            1 => &[0xD2, 0x84, 0x44, 0xA1, 0x01, 0x38, 0x22, 0xA0],
            2 => &[0xA8, 0x0A, 0x58, 0x40],
            _ => &[],
        };
        bytes.splice(0..0, prefix.iter().copied());
        all_decoders(&bytes, &vk);
    }
}
