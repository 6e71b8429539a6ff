//! The whole CCA token written into a fixed buffer, without allocation, for
//! the RMM's RSI_ATTEST_TOKEN_INIT (cca-attestation.md §4 and §5).
//!
//! The token's shape is fixed once the platform token and the hash
//! algorithm are known, and the ES384 signature has a fixed length (96
//! bytes), so INIT writes every byte of the final tag-399 collection at
//! once with a zero signature, and remembers where the signature goes. The
//! signer then fills in those 96 bytes, and CONTINUE copies out bytes that
//! never change again (so a realm can never read a half-built token).
//!
//! The encodings are the same as [`encode_realm_claims`](crate::encode_realm_claims),
//! [`Sign1Es384`](crate::Sign1Es384) and [`cca_token_collection`](crate::cca_token_collection)
//! produce with `alloc`; the tests compare them byte for byte.
//!
//! ```text
//! D9 01 8F A2                           tag(399) map(2)             §4.1
//!   19 AC CA <bstr platform COSE_Sign1>   44234
//!   19 AC D1 <bstr realm COSE_Sign1>      44241
//!     D2 84 44 A1 01 38 22 A0             tag(18) [h'A1013822', {}, §4.2
//!     <bstr claims map(8)>                  payload,
//!     58 60 <r ‖ s>                         signature]
//! ```

use sha2::{Digest, Sha384};

use crate::claims::{REALM_PROFILE, RealmClaims, realm_key};
use crate::{
    CCA_PLATFORM_TOKEN_KEY, CCA_REALM_TOKEN_KEY, ES384_SIGNATURE_LEN, EvidenceError,
    PROTECTED_HEADER_ES384, RAK_HASH_ALGO,
};

/// Where the pieces of a written token are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TokenLayout {
    /// Total length of the collection in bytes.
    pub len: usize,
    /// Offset of the 96-byte realm-token signature.
    pub signature_offset: usize,
    /// SHA-384 of the realm token's Sig_structure (RFC 9052 §4.4): the
    /// ES384 prehash.
    pub tbs_sha384: [u8; 48],
}

/// A bounds-checked writer over the caller's buffer.
struct Writer<'b> {
    buf: &'b mut [u8],
    at: usize,
}

impl Writer<'_> {
    fn bytes(&mut self, b: &[u8]) -> Result<(), EvidenceError> {
        let end = self
            .at
            .checked_add(b.len())
            .ok_or(EvidenceError::InvalidLength)?;
        self.buf
            .get_mut(self.at..end)
            .ok_or(EvidenceError::InvalidLength)?
            .copy_from_slice(b);
        self.at = end;
        Ok(())
    }

    /// A CBOR head (RFC 8949 §3): major type and argument, shortest form.
    fn head(&mut self, major: u8, arg: u64) -> Result<(), EvidenceError> {
        let mt = major << 5;
        match arg {
            0..=23 => self.bytes(&[mt | arg as u8]),
            24..=0xFF => self.bytes(&[mt | 24, arg as u8]),
            0x100..=0xFFFF => {
                self.bytes(&[mt | 25])?;
                self.bytes(&(arg as u16).to_be_bytes())
            }
            _ => {
                self.bytes(&[mt | 26])?;
                self.bytes(&(arg as u32).to_be_bytes())
            }
        }
    }

    /// An integer map key (major type 0 or 1).
    fn key(&mut self, k: i64) -> Result<(), EvidenceError> {
        if k >= 0 {
            self.head(0, k as u64)
        } else {
            self.head(1, (-1 - k) as u64)
        }
    }

    fn bstr(&mut self, b: &[u8]) -> Result<(), EvidenceError> {
        self.head(2, b.len() as u64)?;
        self.bytes(b)
    }

    fn tstr(&mut self, s: &str) -> Result<(), EvidenceError> {
        self.head(3, s.len() as u64)?;
        self.bytes(s.as_bytes())
    }
}

/// Length of the CBOR head for a byte string of `len` bytes.
fn head_len(len: usize) -> usize {
    match len {
        0..=23 => 1,
        24..=0xFF => 2,
        0x100..=0xFFFF => 3,
        _ => 5,
    }
}

/// Encode the realm claims map (sheet §4.3, TF-RMM's key order).
fn write_claims(w: &mut Writer<'_>, c: &RealmClaims) -> Result<(), EvidenceError> {
    let n = c.hash_algo.digest_len();
    w.head(5, 8)?;
    w.key(realm_key::CHALLENGE)?;
    w.bstr(&c.challenge)?;
    w.key(realm_key::PERSONALIZATION_VALUE)?;
    w.bstr(&c.rpv)?;
    w.key(realm_key::PUBLIC_KEY)?;
    w.bstr(&c.rak_pub_cose_key)?;
    w.key(realm_key::HASH_ALGO_ID)?;
    w.tstr(c.hash_algo.as_str())?;
    w.key(realm_key::PUBLIC_KEY_HASH_ALGO_ID)?;
    w.tstr(RAK_HASH_ALGO)?;
    w.key(realm_key::PROFILE)?;
    w.tstr(REALM_PROFILE)?;
    w.key(realm_key::RIM)?;
    w.bstr(&c.rim[..n])?;
    w.key(realm_key::REM)?;
    w.head(4, 4)?;
    for rem in &c.rems {
        w.bstr(&rem[..n])?;
    }
    Ok(())
}

/// Length of the encoded claims map.
fn claims_len(c: &RealmClaims) -> Result<usize, EvidenceError> {
    let mut scratch = [0u8; 1024];
    let mut w = Writer {
        buf: &mut scratch,
        at: 0,
    };
    write_claims(&mut w, c)?;
    Ok(w.at)
}

/// Write the complete tag-399 token for `platform_token` (a COSE_Sign1 as
/// EL3 returned it) and the realm `claims` into `buf`, with an all-zero
/// signature at [`TokenLayout::signature_offset`]. Fails with
/// [`EvidenceError::InvalidLength`] if `buf` is too small; never panics.
pub fn write_cca_token(
    buf: &mut [u8],
    platform_token: &[u8],
    claims: &RealmClaims,
) -> Result<TokenLayout, EvidenceError> {
    let payload_len = claims_len(claims)?;
    // Realm COSE_Sign1: tag + array + protected bstr + unprotected map,
    // payload bstr, signature bstr.
    let realm_len = 1
        + 1
        + 1
        + PROTECTED_HEADER_ES384.len()
        + 1
        + head_len(payload_len)
        + payload_len
        + head_len(ES384_SIGNATURE_LEN)
        + ES384_SIGNATURE_LEN;

    let mut w = Writer { buf, at: 0 };
    w.bytes(&[0xD9, 0x01, 0x8F])?; // tag(399)
    w.head(5, 2)?;
    w.key(CCA_PLATFORM_TOKEN_KEY)?;
    w.bstr(platform_token)?;
    w.key(CCA_REALM_TOKEN_KEY)?;
    w.head(2, realm_len as u64)?;
    let realm_start = w.at;
    w.head(6, crate::COSE_SIGN1_TAG)?;
    w.head(4, 4)?;
    w.bstr(&PROTECTED_HEADER_ES384)?;
    w.head(5, 0)?;
    w.head(2, payload_len as u64)?;
    let payload_start = w.at;
    write_claims(&mut w, claims)?;
    let payload_end = w.at;
    w.head(2, ES384_SIGNATURE_LEN as u64)?;
    let signature_offset = w.at;
    w.bytes(&[0; ES384_SIGNATURE_LEN])?;
    if w.at - realm_start != realm_len {
        return Err(EvidenceError::InvalidLength);
    }

    // Sig_structure = ["Signature1", h'A1013822', h'', payload] (RFC 9052
    // §4.4), hashed as it would be serialised.
    let mut head = [0u8; 32];
    let mut hw = Writer {
        buf: &mut head,
        at: 0,
    };
    hw.head(4, 4)?;
    hw.tstr("Signature1")?;
    hw.bstr(&PROTECTED_HEADER_ES384)?;
    hw.bstr(&[])?;
    hw.head(2, payload_len as u64)?;
    let head_used = hw.at;
    let mut h = Sha384::new();
    h.update(&head[..head_used]);
    h.update(&w.buf[payload_start..payload_end]);
    Ok(TokenLayout {
        len: w.at,
        signature_offset,
        tbs_sha384: h.finalize().into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        RemHashAlgo, Sign1Es384, cca_token_collection, encode_realm_claims,
        parse_cca_token_collection,
    };

    fn claims(hash_algo: RemHashAlgo) -> RealmClaims {
        RealmClaims {
            challenge: [0xC1; 64],
            rpv: [0x52; 64],
            rak_pub_cose_key: [0x77; 107],
            hash_algo,
            rim: [0x31; 64],
            rems: [[1; 64], [2; 64], [3; 64], [4; 64]],
        }
    }

    #[test]
    fn same_bytes_as_the_alloc_encoders() {
        for algo in [RemHashAlgo::Sha256, RemHashAlgo::Sha512] {
            let c = claims(algo);
            let platform = [0xAB; 700];
            let mut buf = [0u8; 4096];
            let layout = write_cca_token(&mut buf, &platform, &c).expect("fits");
            let sig = [0x5A; 96];
            buf[layout.signature_offset..layout.signature_offset + 96].copy_from_slice(&sig);

            let pending = Sign1Es384::new(encode_realm_claims(&c));
            assert_eq!(layout.tbs_sha384, pending.tbs_sha384());
            let realm = pending.finish(&sig);
            let expected = cca_token_collection(&platform, &realm);
            assert_eq!(&buf[..layout.len], &expected[..]);
            let (p, r) = parse_cca_token_collection(&buf[..layout.len]).expect("parses");
            assert_eq!((p.as_slice(), r.as_slice()), (&platform[..], &realm[..]));
        }
    }

    #[test]
    fn a_small_buffer_is_an_error() {
        let c = claims(RemHashAlgo::Sha256);
        let mut buf = [0u8; 600];
        assert_eq!(
            write_cca_token(&mut buf, &[0; 500], &c),
            Err(EvidenceError::InvalidLength)
        );
    }
}
