//! RFC 5869 Appendix A test cases 1-3 (HKDF-SHA-256), run through the same
//! generic [`Hkdf`] wrapper the hierarchy uses with SHA-384, plus checks of
//! the `info` encoding.

use super::{Hkdf, Info};
use crate::KeyError;
use sha2::{Sha256, Sha384};

/// Decodes a hex string into a fixed-size array (test helper).
fn hex<const N: usize>(s: &str) -> [u8; N] {
    let mut out = [0u8; N];
    assert_eq!(s.len(), 2 * N, "hex length");
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).expect("hex digit");
    }
    out
}

/// Runs one RFC 5869 SHA-256 case through the wrapper.
fn run_sha256<const L: usize>(salt: &[u8], ikm: &[u8], info: &[u8], prk: &str, okm: &str) {
    let mut prk_got = [0u8; 32];
    let kdf = Hkdf::<Sha256>::extract_with_prk(salt, ikm, &mut prk_got).expect("extract");
    assert_eq!(prk_got, hex::<32>(prk), "PRK");
    let mut okm_got = [0u8; L];
    kdf.expand(info, &mut okm_got).expect("expand");
    assert_eq!(okm_got, hex::<L>(okm), "OKM");
}

#[test]
fn rfc5869_a1_basic_sha256() {
    let salt: [u8; 13] = core::array::from_fn(|i| i as u8);
    let info: [u8; 10] = core::array::from_fn(|i| 0xf0 + i as u8);
    run_sha256::<42>(
        &salt,
        &[0x0b; 22],
        &info,
        "077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5",
        "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf\
         34007208d5b887185865",
    );
}

#[test]
fn rfc5869_a2_long_inputs_sha256() {
    let ikm: [u8; 80] = core::array::from_fn(|i| i as u8);
    let salt: [u8; 80] = core::array::from_fn(|i| 0x60 + i as u8);
    let info: [u8; 80] = core::array::from_fn(|i| 0xb0 + i as u8);
    run_sha256::<82>(
        &salt,
        &ikm,
        &info,
        "06a6b88c5853361a06104c9ceb35b45cef760014904671014a193f40c15fc244",
        "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c\
         59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71\
         cc30c58179ec3e87c14c01d5c1f3434f1d87",
    );
}

#[test]
fn rfc5869_a3_zero_salt_and_info_sha256() {
    run_sha256::<42>(
        &[],
        &[0x0b; 22],
        &[],
        "19ef24a32c717b167f33a91d6f648bdf96596776afdb6377ac434c1c293ccb04",
        "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d\
         9d201395faa4b61a96c8",
    );
}

#[test]
fn expand_length_limit_is_an_error_not_a_panic() {
    // RFC 5869 §2.3: L <= 255 * HashLen.
    let kdf = Hkdf::<Sha256>::extract(b"s", b"k");
    assert_eq!(Hkdf::<Sha256>::hash_len(), 32);
    let mut max = [0u8; 255 * 32];
    assert_eq!(kdf.expand(b"", &mut max), Ok(()));
    let mut over = [0u8; 255 * 32 + 1];
    assert_eq!(kdf.expand(b"", &mut over), Err(KeyError::HkdfLength));
    // A PRK output buffer of the wrong size is refused.
    let mut bad = [0u8; 31];
    assert!(Hkdf::<Sha384>::extract_with_prk(b"s", b"k", &mut bad).is_err());
}

#[test]
fn info_layout_is_exactly_as_documented() {
    let info = Info::new("cca-rak", 48)
        .and_then(|i| i.field(&[7]))
        .expect("info");
    let want: &[u8] = b"cmon/v1/cca-rak\x00\x00\x30\x00\x01\x07";
    assert_eq!(info.as_bytes(), want);

    let seal = Info::new("seal-cca-rim", 32)
        .and_then(|i| i.field(&3u32.to_be_bytes()))
        .and_then(|i| i.field(&[0xaa, 0xbb]))
        .expect("info");
    let want: &[u8] = b"cmon/v1/seal-cca-rim\x00\x00\x20\x00\x04\x00\x00\x00\x03\x00\x02\xaa\xbb";
    assert_eq!(seal.as_bytes(), want);
}

#[test]
fn info_fields_cannot_be_shifted_across_boundaries() {
    // ("ab", "c") and ("a", "bc") must encode differently.
    let a = Info::new("p", 32)
        .and_then(|i| i.field(b"ab"))
        .and_then(|i| i.field(b"c"))
        .expect("info");
    let b = Info::new("p", 32)
        .and_then(|i| i.field(b"a"))
        .and_then(|i| i.field(b"bc"))
        .expect("info");
    assert_ne!(a.as_bytes(), b.as_bytes());
    // NUL in a purpose would break the purpose/field boundary: refused.
    assert!(Info::new("a\0b", 32).is_err());
    // Overflowing the fixed buffer is an error, not a panic.
    assert_eq!(
        Info::new("p", 32).and_then(|i| i.field(&[0u8; 200])).err(),
        Some(KeyError::InfoTooLong)
    );
}
