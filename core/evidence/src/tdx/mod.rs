//! TDX evidence: TDREPORT_STRUCT and TD Quote v4 for the TDX-module shim.
//!
//! Normative reference: `shared/spec/tdx-module-abi.md` §10 (TDREPORT),
//! §11 (Quote v4); byte offsets are in [`layout`]. Design notes and the
//! verifier's procedure: `docs/tdx-attestation.md`.
//!
//! # Our TDREPORT MAC (version 1)
//!
//! On hardware the MAC is computed by the CPU with an unpublished,
//! "model-specific" algorithm (§10). A software shim must define its own;
//! this is it:
//!
//! | Item | Value |
//! |---|---|
//! | Algorithm | HMAC-SHA-256 (RFC 2104) |
//! | Key | 32 bytes: cmon-keys purpose `tdx-report-mac` (`KeyHierarchy::tdx_report_mac_key`) |
//! | Message | report bytes `0x000..0x0E0` (224 B): REPORTMACSTRUCT before the MAC |
//! | Output | 32 bytes at `0x0E0` (the MAC field, §10) |
//!
//! Why these bytes:
//! - the message contains TEE_TCB_INFO_HASH (0x020) and TEE_INFO_HASH
//!   (0x050), SHA-384 of the 239-byte TEE_TCB_INFO and the 512-byte TDINFO,
//!   so the MAC binds the whole report through them;
//! - it lies inside the 256-byte REPORTMACSTRUCT, which is all
//!   TDG.MR.VERIFYREPORT receives (§8 leaf 22), so that leaf can check the
//!   MAC ([`verify_report_mac_struct`]) without the rest of the report.
//!
//! [`verify_report_mac`] additionally recomputes both hashes from the
//! report's own TEE_TCB_INFO and TDINFO bytes: the quoting path uses it.
//!
//! # Quote keys (not Intel-rooted)
//!
//! | Role | Key | Signs |
//! |---|---|---|
//! | attestation key (AK) | P-256, cmon-keys `tdx-quote-ak` | header ‖ body (632 B), SHA-256 |
//! | "PCK" | P-256, cmon-keys `tdx-pck` | the 384-byte QE report |
//!
//! Both derive from the device root secret. The header's QE vendor id is
//! [`CMON_QE_VENDOR_ID`], not Intel's, and the type-5 certification data is
//! [`PCK_CERT_CHAIN_PLACEHOLDER`] unless a PEM chain is supplied. No quote
//! from here chains to Intel's root CA: a verifier must take our AK (and
//! PCK) public keys as its trust anchors ([`verify_quote_v4`],
//! [`verify_quote_v4_with_pck`]).

mod bytes;
pub mod layout;
mod quote;
mod quote_verify;
mod report;

pub use layout::TDREPORT_LEN;
pub use quote::{
    ATT_KEY_TYPE_ECDSA_P256, CERT_TYPE_PCK_CHAIN, CERT_TYPE_QE_REPORT, CMON_QE_VENDOR_ID,
    P256_RAW_LEN, PCK_CERT_CHAIN_PLACEHOLDER, QE_AUTH_DATA, QUOTE_VERSION, QuoteBody, QuoteHeader,
    QuoteParams, TEE_TYPE_TDX, build_quote_v4, p256_raw_public_key, qe_report_data,
};
pub use quote_verify::{QuoteFields, verify_quote_v4, verify_quote_v4_with_pck};
pub use report::{
    REPORT_MAC_KEY_LEN, REPORT_TYPE_TDX, REPORTMACSTRUCT_LEN, ReportType, TDINFO_LEN,
    TEE_TCB_INFO_LEN, TdInfo, TdReport, TdReportInput, TeeTcbInfo, build_tdreport, parse_tdreport,
    verify_report_mac, verify_report_mac_struct,
};
