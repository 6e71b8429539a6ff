//! Tests of the token verifier on real tokens built with cmon-evidence and
//! keys derived with cmon-keys, as EL3 and the RMM build them.

use super::*;
use cmon_evidence::{
    MEASUREMENT_SLOT_LEN, PlatformClaims, RemHashAlgo, SigningKey, SwComponent,
    cca_token_collection, cose_key_from_verifying_key, encode_platform_claims, encode_realm_claims,
    sign_es384,
};
use cmon_keys::{KeyHierarchy, KeyVersion, RootSecret};

/// Development root secret of the test tokens.
pub const ROOT: [u8; 32] = [0x42; 32];

/// How to spoil a sample token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spoil {
    None,
    /// Flip a bit of the realm token's signature.
    RealmSignature,
    /// Flip a bit of the platform token's signature.
    PlatformSignature,
    /// Platform challenge that is not SHA-256 of the RAK COSE_Key.
    Binding,
}

fn keys() -> KeyHierarchy {
    KeyHierarchy::new(RootSecret::new(&ROOT).unwrap(), KeyVersion(1))
}

/// The RIM and REMs of the sample realm token (SHA-256, hash length).
pub fn sample_rim() -> Vec<u8> {
    (0..32).collect()
}

pub fn sample_rems() -> [Vec<u8>; 4] {
    core::array::from_fn(|i| vec![0x10 * (i as u8 + 1); 32])
}

fn slot(v: &[u8]) -> [u8; MEASUREMENT_SLOT_LEN] {
    let mut s = [0; MEASUREMENT_SLOT_LEN];
    s[..v.len()].copy_from_slice(v);
    s
}

/// Flip one bit in the last byte (inside the signature of a COSE_Sign1).
fn flip_last(mut t: Vec<u8>) -> Vec<u8> {
    if let Some(b) = t.last_mut() {
        *b ^= 1;
    }
    t
}

/// A CCA token: realm token signed by the RAK of [`ROOT`], platform token
/// signed by its CPAK over the RAK binding challenge.
pub fn sample_token(spoil: Spoil) -> Vec<u8> {
    let k = keys();
    let rak: SigningKey = k.realm_attestation_key().unwrap();
    let cpak = k.platform_attestation_key().unwrap();
    let rak_cose = cose_key_from_verifying_key(rak.verifying_key());
    let rems = sample_rems();
    let realm = RealmClaims {
        challenge: [0xC4; 64],
        rpv: [0x11; 64],
        rak_pub_cose_key: rak_cose,
        hash_algo: RemHashAlgo::Sha256,
        rim: slot(&sample_rim()),
        rems: core::array::from_fn(|i| slot(&rems[i])),
    };
    let mut challenge = rak_binding_challenge(&rak_cose).to_vec();
    if spoil == Spoil::Binding {
        challenge[0] ^= 0x80;
    }
    let platform = PlatformClaims {
        profile: PLATFORM_PROFILE.into(),
        challenge,
        implementation_id: [0x7F; 32],
        instance_id: [0x01; 33],
        config: vec![0; 4],
        lifecycle: 0x3000,
        hash_algo_id: "sha-256".into(),
        verification_service: None,
        sw_components: vec![SwComponent {
            measurement_type: "RMM".into(),
            value: vec![0xAB; 32],
            version: Some("0.1.0".into()),
            signer_id: vec![0; 32],
            hash_algo: "sha-256".into(),
        }],
    };
    let mut realm_tok = sign_es384(&rak, encode_realm_claims(&realm));
    let mut plat_tok = sign_es384(&cpak, encode_platform_claims(&platform));
    match spoil {
        Spoil::RealmSignature => realm_tok = flip_last(realm_tok),
        Spoil::PlatformSignature => plat_tok = flip_last(plat_tok),
        _ => {}
    }
    cca_token_collection(&plat_tok, &realm_tok)
}

fn cpak() -> VerifyingKey {
    crate::jwk::cpak_public(&ROOT).unwrap()
}

fn status(rep: &TokenReport, name: &str) -> Status {
    rep.checks
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no check {name}: {:?}", rep.checks))
        .status
}

fn expected() -> Expected {
    Expected {
        rim: Some(sample_rim()),
        rems: Some(sample_rems()),
    }
}

#[test]
fn good_token_passes_every_check() {
    let rep = verify_token(&sample_token(Spoil::None), Some(&cpak()), &expected());
    assert!(rep.fully_verified(), "{}", rep.render());
    for name in [
        "token collection",
        "realm signature",
        "platform profile",
        "platform signature",
        "RAK binding",
        "RIM",
        "REMs",
    ] {
        assert_eq!(status(&rep, name), Status::Pass, "{name}");
    }
    let text = rep.render();
    assert!(text.contains("0x3000 (secured)"), "{text}");
    let rim_line = text.lines().find(|l| l.contains("RIM (44238)")).unwrap();
    assert!(
        rim_line.ends_with(&format!(" {}", hex(&sample_rim()))),
        "{rim_line}"
    );
    assert!(text.contains("type      RMM"));
    assert!(text.contains("RAK public key (44237) x"));
}

#[test]
fn without_platform_key_the_platform_signature_is_not_checked() {
    let rep = verify_token(&sample_token(Spoil::None), None, &Expected::default());
    assert!(rep.passed());
    assert!(!rep.fully_verified());
    assert_eq!(status(&rep, "platform signature"), Status::Skipped);
    assert!(rep.render().contains("NOT CHECKED"));
}

#[test]
fn tampered_signatures_fail() {
    let rep = verify_token(
        &sample_token(Spoil::RealmSignature),
        Some(&cpak()),
        &expected(),
    );
    assert_eq!(status(&rep, "realm signature"), Status::Fail);
    assert_eq!(status(&rep, "platform signature"), Status::Pass);
    assert!(!rep.passed());
    assert_eq!(rep.failures(), ["realm signature"]);

    let rep = verify_token(
        &sample_token(Spoil::PlatformSignature),
        Some(&cpak()),
        &expected(),
    );
    assert_eq!(rep.failures(), ["platform signature"]);
}

#[test]
fn wrong_platform_key_fails() {
    let other = crate::jwk::cpak_public(&[0x43; 32]).unwrap();
    let rep = verify_token(&sample_token(Spoil::None), Some(&other), &expected());
    assert_eq!(rep.failures(), ["platform signature"]);
}

#[test]
fn wrong_binding_fails() {
    let rep = verify_token(&sample_token(Spoil::Binding), Some(&cpak()), &expected());
    assert_eq!(rep.failures(), ["RAK binding"]);
    assert!(rep.render().contains("FAIL        RAK binding"));
}

#[test]
fn wrong_reference_values_fail() {
    let mut e = expected();
    e.rim.as_mut().unwrap()[0] ^= 1;
    e.rems.as_mut().unwrap()[2][31] ^= 1;
    let rep = verify_token(&sample_token(Spoil::None), Some(&cpak()), &e);
    assert_eq!(rep.failures(), ["RIM", "REMs"]);
    let rems = rep.checks.iter().find(|c| c.name == "REMs").unwrap();
    assert!(rems.detail.starts_with("REM3: "), "{}", rems.detail);
}

#[test]
fn garbage_never_panics() {
    let rep = verify_token(b"", None, &Expected::default());
    assert_eq!(rep.failures(), ["token collection"]);
    assert!(!rep.passed());
    let good = sample_token(Spoil::None);
    for n in 0..good.len() {
        let rep = verify_token(&good[..n], Some(&cpak()), &expected());
        assert!(!rep.passed(), "truncated to {n}");
    }
    for i in (0..good.len()).step_by(7) {
        let mut t = good.clone();
        t[i] ^= 0x24;
        let _ = verify_token(&t, Some(&cpak()), &expected());
    }
}

#[test]
fn lifecycle_names() {
    assert_eq!(lifecycle_name(0x3000), "secured");
    assert_eq!(lifecycle_name(0x30FF), "secured");
    assert_eq!(lifecycle_name(0x0000), "unknown");
    assert_eq!(lifecycle_name(0x6001), "decommissioned");
    assert_eq!(lifecycle_name(0x3100), "invalid");
}
