//! base64url without padding (RFC 4648 §5, as JOSE uses it: RFC 7515 §2
//! "Base64url Encoding"), for the JWK coordinates (RFC 7518 §6.2.1.2).
//!
//! Hand-written because it is 60 lines; the decoder is strict (no padding,
//! no whitespace, canonical trailing bits) so that one key has exactly one
//! textual form.

/// The RFC 4648 Table 2 alphabet ("URL and Filename safe").
const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Encode `data` as base64url with the trailing `=` padding omitted.
pub fn encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        // 1 input byte -> 2 characters, 2 -> 3, 3 -> 4 (RFC 4648 §4).
        for i in 0..=chunk.len() {
            let sextet = (n >> (18 - 6 * i)) & 0x3F;
            out.push(char::from(ALPHABET[sextet as usize]));
        }
    }
    out
}

/// The 6-bit value of one alphabet character.
fn sextet(c: u8) -> Option<u32> {
    ALPHABET.iter().position(|&a| a == c).map(|p| p as u32)
}

/// Decode unpadded base64url. Rejects `=`, characters outside the alphabet,
/// a length of 1 mod 4 (no whole byte) and non-zero unused trailing bits.
pub fn decode(text: &str) -> Result<Vec<u8>, String> {
    let bytes = text.as_bytes();
    if bytes.len() % 4 == 1 {
        return Err(format!("base64url: length {} is impossible", bytes.len()));
    }
    let mut out = Vec::with_capacity(bytes.len() / 4 * 3 + 2);
    for chunk in bytes.chunks(4) {
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            let v = sextet(c)
                .ok_or_else(|| format!("base64url: invalid character {:?}", char::from(c)))?;
            n |= v << (18 - 6 * i);
        }
        let whole = chunk.len() - 1; // bytes carried by this group
        let mask = match whole {
            1 => 0xFFFF,
            2 => 0xFF,
            _ => 0,
        };
        if n & mask != 0 {
            return Err("base64url: non-canonical trailing bits".into());
        }
        out.extend_from_slice(&n.to_be_bytes()[1..1 + whole]);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4648 §10 test vectors, with the padding removed (RFC 7515 §2).
    const VECTORS: [(&str, &str); 7] = [
        ("", ""),
        ("f", "Zg"),
        ("fo", "Zm8"),
        ("foo", "Zm9v"),
        ("foob", "Zm9vYg"),
        ("fooba", "Zm9vYmE"),
        ("foobar", "Zm9vYmFy"),
    ];

    #[test]
    fn rfc4648_vectors() {
        for (plain, enc) in VECTORS {
            assert_eq!(encode(plain.as_bytes()), enc);
            assert_eq!(decode(enc).unwrap(), plain.as_bytes());
        }
    }

    #[test]
    fn url_safe_alphabet() {
        // 0xFB 0xFF -> "+/8=" in base64, "-_8" in base64url.
        assert_eq!(encode(&[0xFB, 0xFF]), "-_8");
        assert_eq!(decode("-_8").unwrap(), [0xFB, 0xFF]);
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(decode(&encode(&all)).unwrap(), all);
    }

    #[test]
    fn rejects_bad_input() {
        // Padding, impossible length, base64 (not url) alphabet, whitespace,
        // and non-zero trailing bits ("Zh", "Zm9"; canonical: "Zg", "Zm8").
        for bad in ["Zg==", "Z", "Zm9vY", "Zm+v", "Zm/v", "Zm9 v", "Zh", "Zm9"] {
            assert!(decode(bad).is_err(), "{bad}");
        }
    }
}
