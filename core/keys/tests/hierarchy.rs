//! Behavioural tests of the public `cmon-keys` API.

use cmon_keys::p256::ecdsa::signature::{Signer as _, Verifier as _};
use cmon_keys::{
    KeyError, KeyHierarchy, KeyVersion, P256PublicCoordinates, P384PublicCoordinates, RootSecret,
    SealingIdentity, SealingRequest, import_p384_scalar, p256, p384,
};

const ROOT: [u8; 48] = [0xA5; 48];

fn hierarchy(root: &[u8], current: u32) -> KeyHierarchy {
    KeyHierarchy::new(RootSecret::new(root).unwrap(), KeyVersion(current))
}

fn seal(h: &KeyHierarchy, identity: SealingIdentity<'_>, version: u32) -> [u8; 32] {
    let req = SealingRequest {
        identity,
        version: KeyVersion(version),
    };
    *h.sealing_key(&req).unwrap().as_bytes()
}

/// Lower-case hex, for checking that Debug output does not leak bytes.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn assert_no_leak(debug: &str, secret: &[u8]) {
    let h = hex(secret);
    assert!(!debug.to_lowercase().contains(&h[..16]), "{debug}");
    assert!(!debug.contains(format!("{:?}", &secret[..4]).trim_end_matches(']')));
    assert!(!debug.contains(&format!("{}, {}, {}", secret[0], secret[1], secret[2])));
}

#[test]
fn root_length_limits() {
    for len in [0, 1, 31, 65, 128] {
        assert_eq!(
            RootSecret::new(&vec![1; len]).err(),
            Some(KeyError::RootSecretLength { len })
        );
    }
    for len in [32, 48, 64] {
        assert_eq!(RootSecret::new(&vec![1; len]).unwrap().len(), len);
    }
}

#[test]
fn derivation_is_deterministic() {
    let (a, b) = (hierarchy(&ROOT, 3), hierarchy(&ROOT, 3));
    assert_eq!(
        a.platform_attestation_key().unwrap(),
        b.platform_attestation_key().unwrap()
    );
    assert_eq!(
        a.realm_attestation_key().unwrap(),
        b.realm_attestation_key().unwrap()
    );
    assert_eq!(
        *a.realm_attestation_key_scalar().unwrap(),
        *b.realm_attestation_key_scalar().unwrap()
    );
    assert_eq!(
        a.tdx_report_mac_key().unwrap().as_bytes(),
        b.tdx_report_mac_key().unwrap().as_bytes()
    );
    assert_eq!(
        a.tdx_quote_signing_key().unwrap(),
        b.tdx_quote_signing_key().unwrap()
    );
    assert_eq!(
        a.tdx_pck_signing_key().unwrap(),
        b.tdx_pck_signing_key().unwrap()
    );
    let rim = [9u8; 32];
    assert_eq!(
        seal(&a, SealingIdentity::CcaRim(&rim), 2),
        seal(&b, SealingIdentity::CcaRim(&rim), 2)
    );
}

#[test]
fn different_roots_give_different_keys() {
    let mut other = ROOT;
    other[47] ^= 1;
    let (a, b) = (hierarchy(&ROOT, 0), hierarchy(&other, 0));
    assert_ne!(
        *a.realm_attestation_key_scalar().unwrap(),
        *b.realm_attestation_key_scalar().unwrap()
    );
    assert_ne!(
        a.tdx_report_mac_key().unwrap().as_bytes(),
        b.tdx_report_mac_key().unwrap().as_bytes()
    );
}

#[test]
fn purposes_give_different_keys() {
    let h = hierarchy(&ROOT, 0);
    let cpak = h.platform_attestation_key().unwrap().to_bytes();
    let rak = h.realm_attestation_key().unwrap().to_bytes();
    let quote = h.tdx_quote_signing_key().unwrap().to_bytes();
    let pck = h.tdx_pck_signing_key().unwrap().to_bytes();
    let mac = *h.tdx_report_mac_key().unwrap().as_bytes();
    assert_ne!(quote, pck);
    assert_ne!(&mac, pck.as_slice());
    assert_ne!(cpak, rak);
    assert_ne!(&cpak[..32], quote.as_slice());
    assert_ne!(&rak[..32], quote.as_slice());
    assert_ne!(&mac, quote.as_slice());
    assert_ne!(&mac, &rak[..32]);
    let mrtd = [0u8; 48];
    assert_ne!(seal(&h, SealingIdentity::TdxMrtd(&mrtd), 0), mac);
}

#[test]
fn rak_scalar_matches_rak_signing_key() {
    let h = hierarchy(&ROOT, 0);
    let scalar = h.realm_attestation_key_scalar().unwrap();
    let rak = h.realm_attestation_key().unwrap();
    assert_eq!(rak.to_bytes().as_slice(), &scalar[..]);
    // The RMM side imports the raw scalar it got from EL3.
    assert_eq!(import_p384_scalar(&scalar[..]).unwrap(), rak);
    assert_eq!(
        import_p384_scalar(&[0; 48]).err(),
        Some(KeyError::InvalidScalar)
    );
    assert_eq!(
        import_p384_scalar(&[0xff; 48]).err(),
        Some(KeyError::InvalidScalar)
    );
    assert_eq!(
        import_p384_scalar(&scalar[..47]).err(),
        Some(KeyError::InvalidScalar)
    );
}

#[test]
fn sealing_keys_depend_on_identity_policy_and_version() {
    let h = hierarchy(&ROOT, 5);
    let m64 = [0x11u8; 64];
    let m48 = [0x11u8; 48];
    let keys = [
        seal(&h, SealingIdentity::CcaRim(&m64), 5),
        seal(&h, SealingIdentity::CcaRpv(&m64), 5), // same bytes, other policy
        seal(&h, SealingIdentity::CcaRim(&m64[..48]), 5),
        seal(&h, SealingIdentity::TdxMrtd(&m48), 5),
        seal(&h, SealingIdentity::TdxMrOwner(&m48), 5),
        seal(&h, SealingIdentity::CcaRim(&m64), 4), // older version
        seal(&h, SealingIdentity::CcaRim(&m64), 0),
        seal(&h, SealingIdentity::CcaRim(&[0x12; 64]), 5), // other realm
    ];
    for (i, a) in keys.iter().enumerate() {
        for b in &keys[i + 1..] {
            assert_ne!(a, b);
        }
    }
    let req = SealingRequest {
        identity: SealingIdentity::TdxMrtd(&m48),
        version: KeyVersion(3),
    };
    assert_eq!(h.sealing_key(&req).unwrap().version(), KeyVersion(3));
}

#[test]
fn sealing_key_survives_rotation() {
    // Data sealed under v1 can still be unsealed after the platform moves
    // to v2, as long as v1 is not retired.
    let rim = [3u8; 32];
    let v1 = seal(&hierarchy(&ROOT, 1), SealingIdentity::CcaRim(&rim), 1);
    let rotated = hierarchy(&ROOT, 2);
    assert_eq!(seal(&rotated, SealingIdentity::CcaRim(&rim), 1), v1);
    assert_ne!(seal(&rotated, SealingIdentity::CcaRim(&rim), 2), v1);
}

#[test]
fn version_window_is_enforced() {
    let rim = [3u8; 32];
    let h = hierarchy(&ROOT, 2)
        .with_minimum_version(KeyVersion(1))
        .unwrap();
    assert_eq!(
        (h.minimum_version(), h.current_version()),
        (KeyVersion(1), KeyVersion(2))
    );
    let req = |v| SealingRequest {
        identity: SealingIdentity::CcaRim(&rim),
        version: KeyVersion(v),
    };
    assert_eq!(
        h.sealing_key(&req(3)).err(),
        Some(KeyError::VersionTooNew {
            requested: 3,
            current: 2
        })
    );
    assert_eq!(
        h.sealing_key(&req(u32::MAX)).err(),
        Some(KeyError::VersionTooNew {
            requested: u32::MAX,
            current: 2
        })
    );
    assert_eq!(
        h.sealing_key(&req(0)).err(),
        Some(KeyError::VersionRetired {
            requested: 0,
            minimum: 1
        })
    );
    assert!(h.sealing_key(&req(1)).is_ok());
    assert!(h.sealing_key(&req(2)).is_ok());
    assert_eq!(
        hierarchy(&ROOT, 2)
            .with_minimum_version(KeyVersion(3))
            .err(),
        Some(KeyError::MinimumAboveCurrent {
            minimum: 3,
            current: 2
        })
    );
}

#[test]
fn identity_length_limits() {
    let h = hierarchy(&ROOT, 0);
    for id in [&[][..], &[0u8; 65][..], &[0u8; 4096][..]] {
        let req = SealingRequest {
            identity: SealingIdentity::CcaRpv(id),
            version: KeyVersion(0),
        };
        assert_eq!(
            h.sealing_key(&req).err(),
            Some(KeyError::IdentityLength { len: id.len() })
        );
    }
}

#[test]
fn p384_keys_sign_and_verify() {
    let h = hierarchy(&ROOT, 0);
    for key in [
        h.platform_attestation_key().unwrap(),
        h.realm_attestation_key().unwrap(),
    ] {
        let msg = b"COSE_Sign1 Sig_structure";
        let sig: p384::ecdsa::Signature = key.sign(msg);
        let vk = p384::ecdsa::VerifyingKey::from_sec1_bytes(
            &P384PublicCoordinates::from(key.verifying_key()).to_sec1_uncompressed(),
        )
        .unwrap();
        assert!(vk.verify(msg, &sig).is_ok());
        assert!(vk.verify(b"tampered", &sig).is_err());
        // RFC 6979: deterministic signatures.
        assert_eq!(sig, key.sign(msg));
    }
}

#[test]
fn p256_quote_key_signs_and_verifies() {
    let key = hierarchy(&ROOT, 0).tdx_quote_signing_key().unwrap();
    let msg = [0x5au8; 632]; // Quote v4 header || body
    let sig: p256::ecdsa::Signature = key.sign(&msg);
    let coords = P256PublicCoordinates::from(key.verifying_key());
    let vk = p256::ecdsa::VerifyingKey::from_sec1_bytes(&coords.to_sec1_uncompressed()).unwrap();
    assert!(vk.verify(&msg, &sig).is_ok());
    assert_eq!(&coords.to_raw_xy()[..32], &coords.x);
}

#[test]
fn p384_coordinates_match_sec1_encoding() {
    let rak = hierarchy(&ROOT, 0).realm_attestation_key().unwrap();
    let coords = P384PublicCoordinates::from_verifying_key(rak.verifying_key());
    let sec1 = rak.verifying_key().to_sec1_point(false);
    let bytes = sec1.as_bytes();
    assert_eq!(bytes.len(), 97);
    assert_eq!(bytes[0], 0x04);
    assert_eq!(&bytes[1..49], &coords.x);
    assert_eq!(&bytes[49..], &coords.y);
}

#[test]
fn debug_output_contains_no_secret_bytes() {
    let root = RootSecret::new(&ROOT).unwrap();
    let dbg = format!("{root:?}");
    assert_no_leak(&dbg, &ROOT);
    assert!(dbg.contains("REDACTED"));

    let h = KeyHierarchy::new(root, KeyVersion(1));
    assert_no_leak(&format!("{h:?}"), &ROOT);

    let mac = h.tdx_report_mac_key().unwrap();
    assert_no_leak(&format!("{mac:?}"), mac.as_bytes());
    let rim = [1u8; 32];
    let sk = h
        .sealing_key(&SealingRequest {
            identity: SealingIdentity::CcaRim(&rim),
            version: KeyVersion(1),
        })
        .unwrap();
    let dbg = format!("{sk:?}");
    assert_no_leak(&dbg, sk.as_bytes());
    assert!(dbg.contains("version"));
    let rak = h.realm_attestation_key().unwrap();
    assert_no_leak(&format!("{rak:?}"), &rak.to_bytes());
}

#[test]
fn errors_display() {
    let e = KeyError::VersionTooNew {
        requested: 3,
        current: 2,
    };
    assert_eq!(e.to_string(), "key version 3 is above current version 2");
    let _: &dyn core::error::Error = &e;
}
