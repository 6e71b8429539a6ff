//! COSE_Sign1 with ES384 (RFC 9052 §4.2 and §4.4, RFC 9053 §2.1), as used
//! for both CCA tokens (cca-attestation.md §4.2 and §4.5).
//!
//! Wire form: `D2 84 44 A1 01 38 22 A0 <bstr payload> 58 60 <r ‖ s>` — tag
//! 18, array(4) of protected bstr `{1: -35}`, empty unprotected map, payload
//! bstr and a 96-byte signature.
//!
//! Signing is split in two so that the RMM can run the ECDSA in bounded
//! slices or delegate it to EL3 (sheet §5): [`Sign1Es384::tbs`] yields the
//! Sig_structure to hash with SHA-384, [`Sign1Es384::finish`] wraps the
//! resulting signature.

use alloc::vec::Vec;
use coset::{
    Algorithm, AsCborValue, CoseSign1, Header, ProtectedHeader, TaggedCborSerializable, iana,
};
use p384::ecdsa::{Signature, SigningKey, VerifyingKey, signature::Signer, signature::Verifier};
use sha2::{Digest, Sha384};

use crate::{EvidenceError, cbor};

/// The serialised protected header `{1 (alg): -35 (ES384)}` (sheet §4.2;
/// RFC 9053 §2.1 assigns -35 to ES384).
pub const PROTECTED_HEADER_ES384: [u8; 4] = [0xA1, 0x01, 0x38, 0x22];

/// Length of an ES384 signature: r ‖ s, 48 bytes each, big-endian
/// (RFC 9053 §2.1).
pub const ES384_SIGNATURE_LEN: usize = 96;

/// CBOR tag of a COSE_Sign1 (RFC 9052 §2, `D2`).
pub const COSE_SIGN1_TAG: u64 = 18;

/// The external AAD; CCA tokens use none, so the Sig_structure carries `h''`.
const EXTERNAL_AAD: &[u8] = b"";

/// An ES384 COSE_Sign1 waiting for its signature.
///
/// ```text
/// let s = Sign1Es384::new(claims);
/// let digest = Sha384(s.tbs());          // possibly over many time slices
/// let token = s.finish(&ecdsa_sign_prehash(digest));
/// ```
#[derive(Debug, Clone)]
pub struct Sign1Es384 {
    /// The message with an empty signature; `protected.original_data`
    /// pins the exact header bytes used for both the TBS and the output.
    sign1: CoseSign1,
}

impl Sign1Es384 {
    /// Start a COSE_Sign1 over `payload` (e.g. an encoded claims map).
    pub fn new(payload: Vec<u8>) -> Self {
        let protected = ProtectedHeader {
            // Pin the bytes rather than trusting coset's header encoder:
            // they are covered by the signature and checked by verifiers.
            original_data: Some(PROTECTED_HEADER_ES384.to_vec()),
            header: Header {
                alg: Some(Algorithm::Assigned(iana::Algorithm::ES384)),
                ..Header::default()
            },
        };
        Self {
            sign1: CoseSign1 {
                protected,
                unprotected: Header::default(),
                payload: Some(payload),
                signature: Vec::new(),
            },
        }
    }

    /// The payload being signed.
    pub fn payload(&self) -> &[u8] {
        self.sign1.payload.as_deref().unwrap_or_default()
    }

    /// The to-be-signed bytes: the CBOR Sig_structure
    /// `["Signature1", h'A1013822', h'', payload]` of RFC 9052 §4.4.
    ///
    /// ES384 signs SHA-384 of these bytes (sheet §4.2).
    pub fn tbs(&self) -> Vec<u8> {
        self.sign1.tbs_data(EXTERNAL_AAD)
    }

    /// SHA-384 of [`tbs`](Self::tbs): the prehash handed to an interruptible
    /// or EL3-side signer (sheet §5, `RMM_EL3_TOKEN_SIGN`).
    pub fn tbs_sha384(&self) -> [u8; 48] {
        Sha384::digest(self.tbs()).into()
    }

    /// Attach `signature` (r ‖ s, each 48 bytes big-endian) and return the
    /// tagged COSE_Sign1 bytes (tag 18, array(4); sheet §4.2).
    pub fn finish(self, signature: &[u8; ES384_SIGNATURE_LEN]) -> Vec<u8> {
        let mut sign1 = self.sign1;
        sign1.signature = signature.to_vec();
        // Serialising a CoseSign1 with an ES384 header into a Vec cannot
        // fail; the error arm is unreachable and avoids a panic path.
        sign1.to_tagged_vec().unwrap_or_default()
    }
}

/// Sign `payload` as an ES384 COSE_Sign1 in one step.
///
/// ECDSA P-384 over SHA-384 of the Sig_structure, with RFC 6979
/// deterministic nonces (no RNG needed).
pub fn sign_es384(key: &SigningKey, payload: Vec<u8>) -> Vec<u8> {
    let pending = Sign1Es384::new(payload);
    let signature: Signature = key.sign(&pending.tbs());
    pending.finish(&signature.to_bytes().into())
}

/// Decode a tagged COSE_Sign1 and check that its protected header selects
/// ES384 without critical headers; returns the parsed message.
fn decode_es384(token: &[u8]) -> Result<CoseSign1, EvidenceError> {
    let value = cbor::untag(cbor::decode(token)?, COSE_SIGN1_TAG)?;
    let sign1 = CoseSign1::from_cbor_value(value).map_err(|_| EvidenceError::UnexpectedType)?;
    let header = &sign1.protected.header;
    // RFC 9052 §3.1: a recipient must reject critical headers it does not
    // process; this crate processes none beyond `alg`.
    if header.alg != Some(Algorithm::Assigned(iana::Algorithm::ES384)) || !header.crit.is_empty() {
        return Err(EvidenceError::UnsupportedAlgorithm);
    }
    if sign1.payload.is_none() {
        return Err(EvidenceError::MissingPayload);
    }
    Ok(sign1)
}

/// Verify a tagged ES384 COSE_Sign1 against `key` and return its payload.
///
/// The TBS is rebuilt from the protected header bytes exactly as received
/// (RFC 9052 §4.4). Any decoding problem, wrong algorithm, signature of the
/// wrong length or failed check yields an error; nothing here panics.
pub fn verify_es384(token: &[u8], key: &VerifyingKey) -> Result<Vec<u8>, EvidenceError> {
    let sign1 = decode_es384(token)?;
    if sign1.signature.len() != ES384_SIGNATURE_LEN {
        return Err(EvidenceError::InvalidLength);
    }
    let signature =
        Signature::from_slice(&sign1.signature).map_err(|_| EvidenceError::BadSignature)?;
    key.verify(&sign1.tbs_data(EXTERNAL_AAD), &signature)
        .map_err(|_| EvidenceError::BadSignature)?;
    sign1.payload.ok_or(EvidenceError::MissingPayload)
}

/// Return the payload of a tagged ES384 COSE_Sign1 **without** verifying
/// the signature.
///
/// A verifier needs this for the realm token, whose signing key (the RAK) is
/// carried inside its own payload (claim 44237, sheet §4.3). Always follow up
/// with [`verify_es384`].
pub fn sign1_payload_unverified(token: &[u8]) -> Result<Vec<u8>, EvidenceError> {
    decode_es384(token)?
        .payload
        .ok_or(EvidenceError::MissingPayload)
}
