//! TD Quote v4 parser and verifier (`shared/spec/tdx-module-abi.md` §11).
//!
//! Everything is bounds-checked: truncated, padded or garbage input yields
//! an [`EvidenceError`], never a panic.

use alloc::vec::Vec;

use p256::ecdsa::{Signature, VerifyingKey, signature::Verifier};

use super::bytes::{Reader, read};
use super::layout as l;
use super::quote::{
    ATT_KEY_TYPE_ECDSA_P256, CERT_TYPE_PCK_CHAIN, CERT_TYPE_QE_REPORT, CMON_QE_VENDOR_ID,
    P256_RAW_LEN, QUOTE_VERSION, QuoteBody, QuoteHeader, TEE_TYPE_TDX, p256_raw_public_key,
    qe_report_data,
};
use crate::EvidenceError;

/// The fields of a verified quote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuoteFields {
    /// Header.
    pub header: QuoteHeader,
    /// TD 1.0 body (MRTD, RTMRs, REPORTDATA, …).
    pub body: QuoteBody,
    /// Quote signature r‖s over header ‖ body.
    pub signature: [u8; P256_RAW_LEN],
    /// Attestation public key x‖y.
    pub attestation_key: [u8; P256_RAW_LEN],
    /// QE report (SGX report body).
    pub qe_report: [u8; l::QE_REPORT_LEN],
    /// QE report signature r‖s (by the PCK).
    pub qe_report_signature: [u8; P256_RAW_LEN],
    /// QE authentication data.
    pub qe_auth_data: Vec<u8>,
    /// Inner certification data (type 5).
    pub pck_cert_chain: Vec<u8>,
}

/// Split a quote into its fields, checking structure only (no crypto).
///
/// Every length field must match the bytes that follow exactly: no
/// truncation and no trailing data at any level.
fn parse(quote: &[u8]) -> Result<QuoteFields, EvidenceError> {
    let mut r = Reader::new(quote);
    let hb: [u8; l::QUOTE_HEADER_LEN] = r.array()?;
    let header = QuoteHeader {
        version: u16::from_le_bytes(read(&hb, l::header::VERSION)),
        att_key_type: u16::from_le_bytes(read(&hb, l::header::ATT_KEY_TYPE)),
        tee_type: u32::from_le_bytes(read(&hb, l::header::TEE_TYPE)),
        qe_svn: u16::from_le_bytes(read(&hb, l::header::QE_SVN)),
        pce_svn: u16::from_le_bytes(read(&hb, l::header::PCE_SVN)),
        qe_vendor_id: read(&hb, l::header::QE_VENDOR_ID.0),
        user_data: read(&hb, l::header::USER_DATA.0),
    };
    // Only what build_quote_v4 produces is accepted; in particular a quote
    // claiming Intel's vendor id is not one of ours.
    if header.version != QUOTE_VERSION
        || header.att_key_type != ATT_KEY_TYPE_ECDSA_P256
        || header.tee_type != TEE_TYPE_TDX
        || header.qe_vendor_id != CMON_QE_VENDOR_ID
    {
        return Err(EvidenceError::UnsupportedQuote);
    }
    let body = QuoteBody::from_bytes(&r.array()?);
    let sig_data_len = usize::try_from(r.u32()?).map_err(|_| EvidenceError::MalformedQuote)?;
    if sig_data_len != r.remaining() {
        return Err(EvidenceError::MalformedQuote);
    }
    let signature = r.array()?;
    let attestation_key = r.array()?;
    if r.u16()? != CERT_TYPE_QE_REPORT {
        return Err(EvidenceError::UnsupportedQuote);
    }
    let cert_len = usize::try_from(r.u32()?).map_err(|_| EvidenceError::MalformedQuote)?;
    if cert_len != r.remaining() {
        return Err(EvidenceError::MalformedQuote);
    }
    let qe_report = r.array()?;
    let qe_report_signature = r.array()?;
    let auth_len = usize::from(r.u16()?);
    let qe_auth_data = r.take(auth_len)?.to_vec();
    if r.u16()? != CERT_TYPE_PCK_CHAIN {
        return Err(EvidenceError::UnsupportedQuote);
    }
    let chain_len = usize::try_from(r.u32()?).map_err(|_| EvidenceError::MalformedQuote)?;
    if chain_len != r.remaining() {
        return Err(EvidenceError::MalformedQuote);
    }
    let pck_cert_chain = r.take(chain_len)?.to_vec();
    Ok(QuoteFields {
        header,
        body,
        signature,
        attestation_key,
        qe_report,
        qe_report_signature,
        qe_auth_data,
        pck_cert_chain,
    })
}

fn verify_raw(key: &VerifyingKey, msg: &[u8], sig: &[u8; 64]) -> Result<(), EvidenceError> {
    // from_slice rejects r or s of zero or >= n.
    let sig = Signature::from_slice(sig).map_err(|_| EvidenceError::BadSignature)?;
    key.verify(msg, &sig)
        .map_err(|_| EvidenceError::BadSignature)
}

/// Verify a TD Quote v4 made by [`build_quote_v4`](super::build_quote_v4)
/// against a trusted attestation public key and return its fields.
///
/// Checks, in order:
/// 1. structure: header values (v4, ECDSA-P256, TDX, our vendor id), every
///    length field exact, certification data types 6 and 5;
/// 2. the embedded attestation key equals `ak_pub`;
/// 3. the ECDSA-P256/SHA-256 signature over header ‖ body (632 bytes);
/// 4. the QE report's REPORTDATA = SHA-256(AK ‖ QE auth data) ‖ 0³².
///
/// The QE report signature is checked only by
/// [`verify_quote_v4_with_pck`].
///
/// # Errors
/// [`EvidenceError::MalformedQuote`], [`EvidenceError::UnsupportedQuote`],
/// [`EvidenceError::KeyMismatch`], [`EvidenceError::BadSignature`] or
/// [`EvidenceError::QeReportBinding`].
pub fn verify_quote_v4(quote: &[u8], ak_pub: &VerifyingKey) -> Result<QuoteFields, EvidenceError> {
    let fields = parse(quote)?;
    let ak_raw = p256_raw_public_key(ak_pub);
    if fields.attestation_key != ak_raw {
        return Err(EvidenceError::KeyMismatch);
    }
    let signed = quote
        .get(..l::QUOTE_SIG_DATA_LEN_OFFSET)
        .ok_or(EvidenceError::MalformedQuote)?;
    verify_raw(ak_pub, signed, &fields.signature)?;
    let expected = qe_report_data(&ak_raw, &fields.qe_auth_data);
    let got: [u8; 64] = read(&fields.qe_report, l::qe_report::REPORT_DATA.0);
    if got != expected {
        return Err(EvidenceError::QeReportBinding);
    }
    Ok(fields)
}

/// [`verify_quote_v4`], then also the QE report signature (ECDSA-P256 over
/// the 384-byte QE report) against the trusted `pck_pub`.
///
/// # Errors
/// As [`verify_quote_v4`]; [`EvidenceError::BadSignature`] if the QE report
/// signature fails.
pub fn verify_quote_v4_with_pck(
    quote: &[u8],
    ak_pub: &VerifyingKey,
    pck_pub: &VerifyingKey,
) -> Result<QuoteFields, EvidenceError> {
    let fields = verify_quote_v4(quote, ak_pub)?;
    verify_raw(pck_pub, &fields.qe_report, &fields.qe_report_signature)?;
    Ok(fields)
}
