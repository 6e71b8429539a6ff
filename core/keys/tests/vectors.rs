//! Known-answer vectors for the documented version-1 layout.
//!
//! The expected values were computed outside Rust, with Python's `hmac` and
//! `hashlib` (HKDF-SHA-384 written out from RFC 5869 §2.2-§2.3) following
//! the byte layout in the crate docs. They pin the layout: a change here
//! breaks every verifier and every previously sealed blob.

use cmon_keys::{KeyHierarchy, KeyVersion, RootSecret, SealingIdentity, SealingRequest};

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn h() -> KeyHierarchy {
    KeyHierarchy::new(RootSecret::new(&[0xA5; 48]).unwrap(), KeyVersion(7))
}

#[test]
fn kat_tdx_report_mac_key() {
    assert_eq!(
        h().tdx_report_mac_key().unwrap().as_bytes().to_vec(),
        hex("f1bc1cfdbda3ffcfa59351c50d7edd4754675c913abe4e75945e091a9af2759d")
    );
}

#[test]
fn kat_sealing_key_tdx_mrtd_v7() {
    let mrtd = [0x11u8; 48];
    let key = h()
        .sealing_key(&SealingRequest {
            identity: SealingIdentity::TdxMrtd(&mrtd),
            version: KeyVersion(7),
        })
        .unwrap();
    assert_eq!(
        key.as_bytes().to_vec(),
        hex("c8bf31279b0d931ee9afca657406526cf0a91ecbad500fc4215cbe95cbb12583")
    );
}

#[test]
fn kat_ec_scalars() {
    let h = h();
    assert_eq!(
        h.realm_attestation_key_scalar().unwrap().to_vec(),
        hex("2b9058bda65dfab40d63f37553c220f6b71ca2223801b6ec\
             2084417e2cfa1cd235e9bc7d839171bb179f51cc4cf316c8")
    );
    assert_eq!(
        h.platform_attestation_key().unwrap().to_bytes().to_vec(),
        hex("73f4a6c740679537e9ab1af0833a9ef0d6440ee31b57c469\
             b4a27f84d259d04a97ff965c36ba4ad7883b01f223125e6b")
    );
    assert_eq!(
        h.tdx_quote_signing_key().unwrap().to_bytes().to_vec(),
        hex("8fd985fa9a9b139399881990f4415504dd3dfdd133420e16f9940eae95752e14")
    );
    assert_eq!(
        h.tdx_pck_signing_key().unwrap().to_bytes().to_vec(),
        hex("02d0bcd038c73fb900ed18397eb77d49fc67f0e2d59395ddfe3599d741c9e2b9")
    );
}
