//! The single error type of this crate (CCA tokens and TDX evidence).

use core::fmt;

/// Everything that can go wrong while decoding or verifying evidence.
///
/// Encoders in this crate are infallible; every decoder and verifier reports
/// failures through this enum and never panics, whatever the input bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvidenceError {
    /// The input is not well-formed CBOR (RFC 8949), is truncated, nests
    /// deeper than the decoder allows, or has bytes after the top-level item.
    MalformedCbor,
    /// A CBOR tag other than the expected one (or no tag) was found.
    UnexpectedTag {
        /// The tag the format requires (18 for COSE_Sign1, 399 for the CCA
        /// token collection).
        expected: u64,
    },
    /// A CBOR item has the wrong major type or shape for its position.
    UnexpectedType,
    /// A map key appears more than once (RFC 8949 §5.6: such maps are invalid).
    DuplicateKey(i64),
    /// A mandatory claim or map entry is absent.
    MissingClaim(i64),
    /// A byte or text string, or an array, has a length the format forbids.
    InvalidLength,
    /// An integer claim is outside its permitted range.
    InvalidValue,
    /// The COSE protected header does not select ES384 (RFC 9053 §2.1),
    /// or names a critical header this crate does not understand.
    UnsupportedAlgorithm,
    /// A hash-algorithm identifier string is not one the sheet allows
    /// (cca-attestation.md §4.3).
    UnsupportedHashAlgorithm,
    /// The profile claim (265) is not the one this decoder implements.
    UnsupportedProfile,
    /// The COSE_Key is not the exact EC2/P-384 form of sheet §4.4,
    /// or its coordinates are not a point on P-384.
    InvalidKey,
    /// The COSE_Sign1 has no payload (detached payloads are not used by CCA).
    MissingPayload,
    /// The ECDSA signature did not verify.
    BadSignature,
    /// A TDREPORT's REPORTTYPE.TYPE is not 0x81 (TDX; tdx-module-abi.md §10).
    UnsupportedReportType,
    /// A TDREPORT's TEE_TCB_INFO_HASH or TEE_INFO_HASH does not match the
    /// SHA-384 of the report's own TEE_TCB_INFO / TDINFO bytes (§10).
    ReportHashMismatch,
    /// The TDREPORT MAC does not verify under the given key (our MAC scheme,
    /// `docs/tdx-attestation.md`).
    BadMac,
    /// A quote is truncated, has trailing bytes, or its length fields
    /// disagree with its size (tdx-module-abi.md §11).
    MalformedQuote,
    /// A quote header or certification-data field has a value this
    /// implementation does not produce: version, attestation key type, TEE
    /// type, QE vendor id or certification data type (§11).
    UnsupportedQuote,
    /// The attestation key embedded in a quote is not the expected key, or
    /// is not a valid P-256 point.
    KeyMismatch,
    /// The QE report's REPORTDATA is not SHA-256(attestation key ‖ QE auth
    /// data) followed by 32 zero bytes (§11).
    QeReportBinding,
}

impl fmt::Display for EvidenceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MalformedCbor => f.write_str("malformed or truncated CBOR"),
            Self::UnexpectedTag { expected } => write!(f, "expected CBOR tag {expected}"),
            Self::UnexpectedType => f.write_str("unexpected CBOR item type"),
            Self::DuplicateKey(k) => write!(f, "duplicate map key {k}"),
            Self::MissingClaim(k) => write!(f, "missing claim {k}"),
            Self::InvalidLength => f.write_str("invalid length"),
            Self::InvalidValue => f.write_str("integer value out of range"),
            Self::UnsupportedAlgorithm => f.write_str("unsupported COSE algorithm or header"),
            Self::UnsupportedHashAlgorithm => f.write_str("unsupported hash algorithm identifier"),
            Self::UnsupportedProfile => f.write_str("unsupported token profile"),
            Self::InvalidKey => f.write_str("invalid COSE_Key / P-384 public key"),
            Self::MissingPayload => f.write_str("COSE_Sign1 has no payload"),
            Self::BadSignature => f.write_str("signature verification failed"),
            Self::UnsupportedReportType => f.write_str("TDREPORT type is not TDX (0x81)"),
            Self::ReportHashMismatch => f.write_str("TDREPORT hash does not match its contents"),
            Self::BadMac => f.write_str("TDREPORT MAC verification failed"),
            Self::MalformedQuote => f.write_str("malformed or truncated quote"),
            Self::UnsupportedQuote => f.write_str("unsupported quote header or data type"),
            Self::KeyMismatch => f.write_str("quote attestation key mismatch"),
            Self::QeReportBinding => f.write_str("QE report does not bind the attestation key"),
        }
    }
}

impl core::error::Error for EvidenceError {}
