//! The platform trust anchor as a JSON Web Key: the public half of the CPAK
//! (CCA Platform Attestation Key) that EL3 derives from the development root
//! secret and signs platform tokens with (cca-attestation.md §4.5).
//!
//! Format: an EC public JWK (RFC 7517 §4, RFC 7518 §6.2.1) —
//! `{"kty":"EC","crv":"P-384","x":..,"y":..,"alg":"ES384","use":"sig","kid":..}`
//! with x and y the 48-byte big-endian affine coordinates in unpadded
//! base64url (RFC 7518 §6.2.1.2/3: full field length, leading zeros kept).
//!
//! The JSON reader is deliberately minimal: one flat object whose values are
//! strings or arrays of strings (enough for any public EC JWK, e.g. with
//! `key_ops`), with RFC 8259 escapes. Anything else is an error.

use std::path::PathBuf;

use cmon_evidence::{
    COSE_KEY_P384_LEN, P384_COORD_LEN, VerifyingKey, cose_key_from_verifying_key, cose_key_p384,
    parse_cose_key_p384, verifying_key_from_cose_key,
};
use cmon_keys::{KeyHierarchy, KeyVersion, RootSecret};
use sha2::{Digest, Sha256};

use crate::{Paths, Result, b64url, bail, token::hex};

/// Key version EL3 builds its hierarchy with (platform/qemu-virt/src/
/// services.rs `KEY_VERSION`). Attestation keys do not depend on it
/// (core/keys: "Attestation and MAC keys are not versioned"), but mirroring
/// EL3's call keeps this a faithful replay.
const EL3_KEY_VERSION: KeyVersion = KeyVersion(1);

/// The CPAK public key EL3 derives from `root` (the bytes of
/// target/dev-root-secret.bin), exactly as platform/qemu-virt does:
/// `KeyHierarchy::new(RootSecret::new(bytes), 1).platform_attestation_key()`.
pub fn cpak_public(root: &[u8]) -> Result<VerifyingKey> {
    let root = RootSecret::new(root).map_err(|e| format!("device root secret: {e:?}"))?;
    let keys = KeyHierarchy::new(root, EL3_KEY_VERSION);
    let cpak = keys
        .platform_attestation_key()
        .map_err(|e| format!("CPAK derivation: {e:?}"))?;
    Ok(*cpak.verifying_key())
}

/// A stable key id: hex SHA-256 of the key's §4.4 COSE_Key encoding (the
/// same value the platform token's instance ID carries after its 0x01 byte).
pub fn kid(key: &VerifyingKey) -> String {
    hex(&Sha256::digest(cose_key_from_verifying_key(key)))
}

/// The JWK text of `key` (one line, newline-terminated).
pub fn jwk_json(key: &VerifyingKey) -> String {
    let cose: [u8; COSE_KEY_P384_LEN] = cose_key_from_verifying_key(key);
    // The encoding was just produced from a valid key; it always parses.
    let (x, y) = parse_cose_key_p384(&cose).unwrap_or(([0; 48], [0; 48]));
    format!(
        "{{\"kty\":\"EC\",\"crv\":\"P-384\",\"x\":\"{}\",\"y\":\"{}\",\
         \"alg\":\"ES384\",\"use\":\"sig\",\"kid\":\"{}\"}}\n",
        b64url::encode(&x),
        b64url::encode(&y),
        kid(key)
    )
}

/// Derive the CPAK from target/dev-root-secret.bin and write its public JWK
/// to target/attestation/platform-key.jwk.json; returns the path.
///
/// The secret is only read, never generated here: a fresh secret would not
/// match the firmware that was booted.
pub fn write_platform_jwk(paths: &Paths) -> Result<PathBuf> {
    let secret_path = paths.dev_root_secret();
    let secret = std::fs::read(&secret_path).map_err(|e| {
        format!(
            "{}: {e} (it is created by `cargo xtask build`)",
            paths.rel(&secret_path).display()
        )
    })?;
    let key = cpak_public(&secret)?;
    let out = paths.platform_jwk();
    std::fs::create_dir_all(paths.attestation_dir())
        .map_err(|e| format!("{}: {e}", paths.attestation_dir().display()))?;
    crate::build::write(&out, jwk_json(&key).as_bytes())?;
    Ok(out)
}

/// Parse an EC P-384 public JWK into a verifying key.
///
/// Requires `kty` "EC", `crv` "P-384", x and y of exactly 48 bytes forming a
/// point on the curve; `alg` (if present) must be "ES384" and `use` (if
/// present) "sig". A private key (`d`) is refused: a trust anchor file must
/// not carry the secret.
pub fn parse_jwk(text: &str) -> Result<VerifyingKey> {
    let members = parse_flat_object(text)?;
    let get = |name: &str| -> Result<Option<&str>> {
        match members.iter().find(|(k, _)| k == name) {
            None => Ok(None),
            Some((_, Json::Str(s))) => Ok(Some(s.as_str())),
            Some(_) => bail!("JWK: member {name:?} must be a string"),
        }
    };
    let require = |name: &str, want: &str| -> Result<()> {
        match get(name)? {
            Some(v) if v == want => Ok(()),
            Some(v) => bail!("JWK: {name} is {v:?}, expected {want:?}"),
            None => bail!("JWK: missing {name:?}"),
        }
    };
    require("kty", "EC")?;
    require("crv", "P-384")?;
    if get("alg")?.is_some() {
        require("alg", "ES384")?;
    }
    if get("use")?.is_some() {
        require("use", "sig")?;
    }
    if members.iter().any(|(k, _)| k == "d") {
        bail!("JWK: contains a private key (\"d\"); give the public key only");
    }
    let coord = |name: &str| -> Result<[u8; P384_COORD_LEN]> {
        let text = get(name)?.ok_or_else(|| format!("JWK: missing {name:?}"))?;
        let bytes = b64url::decode(text).map_err(|e| format!("JWK {name}: {e}"))?;
        bytes.as_slice().try_into().map_err(|_| {
            format!(
                "JWK {name}: {} bytes, a P-384 coordinate has {P384_COORD_LEN}",
                bytes.len()
            )
        })
    };
    let (x, y) = (coord("x")?, coord("y")?);
    verifying_key_from_cose_key(&cose_key_p384(&x, &y))
        .map_err(|_| "JWK: x/y is not a point on P-384".to_string())
}

/// A member value of the minimal JSON reader.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Json {
    Str(String),
    StrArray(Vec<String>),
}

/// A cursor over JSON text (RFC 8259).
struct Reader<'a> {
    s: &'a [u8],
    i: usize,
}

impl Reader<'_> {
    fn ws(&mut self) {
        while self.s.get(self.i).is_some_and(|c| b" \t\r\n".contains(c)) {
            self.i += 1;
        }
    }

    /// Skip whitespace and consume `c`.
    fn eat(&mut self, c: u8) -> Result<()> {
        self.ws();
        if self.s.get(self.i) != Some(&c) {
            bail!("JSON: expected '{}' at byte {}", char::from(c), self.i);
        }
        self.i += 1;
        Ok(())
    }

    /// Skip whitespace; the next byte, not consumed.
    fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.s.get(self.i).copied()
    }

    fn string(&mut self) -> Result<String> {
        self.eat(b'"')?;
        let mut out = Vec::new();
        loop {
            let Some(&c) = self.s.get(self.i) else {
                bail!("JSON: unterminated string");
            };
            self.i += 1;
            match c {
                b'"' => break,
                b'\\' => {
                    let e = *self.s.get(self.i).ok_or("JSON: unterminated escape")?;
                    self.i += 1;
                    let ch = match e {
                        b'"' | b'\\' | b'/' => char::from(e),
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let hex = self.s.get(self.i..self.i + 4).ok_or("JSON: short \\u")?;
                            self.i += 4;
                            let hex = std::str::from_utf8(hex).map_err(|_| "JSON: bad \\u")?;
                            let v = u32::from_str_radix(hex, 16).map_err(|_| "JSON: bad \\u")?;
                            // Surrogate pairs never occur in a JWK; refuse them.
                            char::from_u32(v).ok_or("JSON: unsupported \\u escape")?
                        }
                        _ => bail!("JSON: bad escape \\{}", char::from(e)),
                    };
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                }
                0..=0x1F => bail!("JSON: control character in string"),
                _ => out.push(c),
            }
        }
        String::from_utf8(out).map_err(|_| "JSON: string is not UTF-8".to_string())
    }

    fn value(&mut self) -> Result<Json> {
        match self.peek() {
            Some(b'"') => Ok(Json::Str(self.string()?)),
            Some(b'[') => {
                self.eat(b'[')?;
                let mut items = Vec::new();
                if self.peek() == Some(b']') {
                    self.i += 1;
                    return Ok(Json::StrArray(items));
                }
                loop {
                    items.push(self.string()?);
                    match self.peek() {
                        Some(b',') => self.i += 1,
                        Some(b']') => {
                            self.i += 1;
                            return Ok(Json::StrArray(items));
                        }
                        _ => bail!("JSON: expected ',' or ']' at byte {}", self.i),
                    }
                }
            }
            _ => bail!("JSON: only string and string-array values are supported in a JWK"),
        }
    }
}

/// Parse `{ "name": value, ... }` with string / string-array values.
/// Duplicate names are rejected (RFC 7517 §4: member names must be unique).
fn parse_flat_object(text: &str) -> Result<Vec<(String, Json)>> {
    let mut r = Reader {
        s: text.as_bytes(),
        i: 0,
    };
    r.eat(b'{')?;
    let mut members: Vec<(String, Json)> = Vec::new();
    if r.peek() == Some(b'}') {
        r.i += 1;
    } else {
        loop {
            let name = r.string()?;
            r.eat(b':')?;
            let value = r.value()?;
            if members.iter().any(|(k, _)| *k == name) {
                bail!("JSON: duplicate member {name:?}");
            }
            members.push((name, value));
            match r.peek() {
                Some(b',') => r.i += 1,
                Some(b'}') => {
                    r.i += 1;
                    break;
                }
                _ => bail!("JSON: expected ',' or '}}' at byte {}", r.i),
            }
        }
    }
    if r.peek().is_some() {
        bail!("JSON: trailing data after the object");
    }
    Ok(members)
}

#[cfg(test)]
#[path = "jwk_tests.rs"]
mod tests;
