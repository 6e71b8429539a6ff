//! Tests of the JWK writer and reader.

use super::*;

const ROOT: [u8; 32] = [0x5A; 32];

fn key() -> VerifyingKey {
    cpak_public(&ROOT).unwrap()
}

/// `jwk_json(key())` with member `name` replaced by `value` (raw JSON).
fn with_member(name: &str, value: &str) -> String {
    let text = jwk_json(&key());
    let start = text.find(&format!("\"{name}\":")).unwrap() + name.len() + 3;
    let end = start + text[start..].find([',', '}']).unwrap();
    format!("{}{value}{}", &text[..start], &text[end..])
}

#[test]
fn round_trip() {
    let k = key();
    let text = jwk_json(&k);
    assert!(text.starts_with("{\"kty\":\"EC\",\"crv\":\"P-384\",\"x\":\""));
    assert!(text.contains("\"alg\":\"ES384\",\"use\":\"sig\",\"kid\":\""));
    assert_eq!(parse_jwk(&text).unwrap(), k);
    // 48 bytes -> 64 base64url characters, no padding.
    let x = text
        .split("\"x\":\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    assert_eq!(x.len(), 64);
    assert_eq!(kid(&k).len(), 64);
}

#[test]
fn cpak_matches_the_firmware_derivation() {
    // The same call EL3 makes (platform/qemu-virt/src/services.rs).
    let h = KeyHierarchy::new(RootSecret::new(&ROOT).unwrap(), KeyVersion(1));
    let cpak = h.platform_attestation_key().unwrap();
    assert_eq!(key(), *cpak.verifying_key());
    assert_ne!(key(), cpak_public(&[0xA5; 32]).unwrap());
    assert!(cpak_public(&[1; 8]).is_err(), "root secret too short");
}

#[test]
fn accepts_whitespace_order_and_extra_members() {
    let text = jwk_json(&key());
    let x = text
        .split("\"x\":\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let y = text
        .split("\"y\":\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let other = format!(
        "\n {{ \"y\" : \"{y}\",\"x\":\"{x}\", \"key_ops\": [\"verify\"],\n\
         \"crv\":\"P-384\", \"kty\":\"EC\", \"k\\u0069d\": \"a\\/b\" }}\n"
    );
    assert_eq!(parse_jwk(&other).unwrap(), key());
}

#[test]
fn rejects_wrong_kty_crv_alg_use() {
    for (name, value) in [
        ("kty", "\"RSA\""),
        ("kty", "\"ec\""),
        ("crv", "\"P-256\""),
        ("alg", "\"ES256\""),
        ("use", "\"enc\""),
        ("kty", "[\"EC\"]"),
        ("crv", "1"),
    ] {
        assert!(
            parse_jwk(&with_member(name, value)).is_err(),
            "{name}={value}"
        );
    }
}

#[test]
fn rejects_bad_coordinates() {
    // Too short, too long, padded, not base64url, off the curve.
    let short = format!("\"{}\"", b64url::encode(&[7; 47]));
    let long = format!("\"{}\"", b64url::encode(&[7; 49]));
    let off_curve = format!("\"{}\"", b64url::encode(&[7; 48]));
    for (name, value) in [
        ("x", short.as_str()),
        ("y", long.as_str()),
        ("y", off_curve.as_str()),
        ("x", "\"AAAA==\""),
        ("x", "\"not base64!\""),
    ] {
        let err = parse_jwk(&with_member(name, value)).unwrap_err();
        assert!(err.starts_with("JWK"), "{err}");
    }
    assert!(
        parse_jwk(&with_member("x", "\"x\"")).is_err(),
        "1-char base64url"
    );
}

#[test]
fn rejects_missing_members_private_keys_and_bad_json() {
    let text = jwk_json(&key());
    let no_y = text.replace("\"y\":", "\"z\":");
    assert!(parse_jwk(&no_y).unwrap_err().contains("missing \"y\""));
    let no_kty = text.replace("\"kty\":\"EC\",", "");
    assert!(parse_jwk(&no_kty).unwrap_err().contains("missing \"kty\""));
    let private = text.replace("\"use\"", "\"d\":\"AAAA\",\"use\"");
    assert!(parse_jwk(&private).unwrap_err().contains("private"));
    let dup = text.replace("\"use\":\"sig\"", "\"use\":\"sig\",\"use\":\"sig\"");
    assert!(parse_jwk(&dup).unwrap_err().contains("duplicate"));
    for bad in [
        "",
        "[]",
        "{",
        "{\"kty\"}",
        "{\"kty\":\"EC\"",
        "{\"kty\":\"EC\",}",
        "{\"kty\":\"E\\q\"}",
        "{\"kty\":\"E\\u12\"}",
        "{\"kty\":\"\\ud800\"}",
        "{\"kty\":\"EC\"} x",
        "{\"kty\":[\"a\",]}",
        "{\"kty\":{}}",
        "{\"kty\":\"a\nb\"}",
    ] {
        assert!(parse_jwk(bad).is_err(), "{bad:?}");
    }
    // Truncations of a valid JWK never panic.
    for n in 0..text.len() {
        let _ = parse_jwk(&text[..n]);
    }
}
