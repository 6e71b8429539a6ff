//! Attestation evidence encoding for the CCA RMM (COSE_Key, ES384
//! COSE_Sign1, the CCA token containers and claim sets) and for the TDX
//! module shim (TDREPORT_STRUCT and TD Quote v4, module [`tdx`]).
//!
//! Normative reference: `shared/spec/cca-attestation.md` §4 (token format)
//! and §5 (generation protocol); RFC 9052/9053 (COSE), RFC 8949 (CBOR).
//!
//! | Sheet | Item | API |
//! |---|---|---|
//! | §4.1 | tag-399 token collection | [`cca_token_collection`], [`parse_cca_token_collection`] |
//! | §4.2 | ES384 COSE_Sign1 | [`Sign1Es384`], [`sign_es384`], [`verify_es384`] |
//! | §4.3 | realm claims | [`RealmClaims`], [`encode_realm_claims`], [`decode_realm_claims`] |
//! | §4.4 | RAK as COSE_Key | [`cose_key_p384`], [`cose_key_from_verifying_key`] |
//! | §4.5 | platform claims | [`PlatformClaims`], [`encode_platform_claims`], [`decode_platform_claims`] |
//! | §4.6 | RAK binding | [`rak_binding_challenge`] |
//!
//! | tdx-module-abi.md | Item | API |
//! |---|---|---|
//! | §10 | TDREPORT_STRUCT and our MAC | [`tdx::build_tdreport`], [`tdx::parse_tdreport`], [`tdx::verify_report_mac`] |
//! | §11 | TD Quote v4 | [`tdx::build_quote_v4`], [`tdx::verify_quote_v4`] |
//!
//! The crate is `no_std` + `alloc`. CBOR goes through `coset`'s re-export
//! of `ciborium` built without default features (qemu-platforms.md §6).
//! Encoders are infallible; decoders take untrusted bytes and return
//! [`EvidenceError`] instead of panicking.

#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;

mod cbor;
mod cca;
mod claims;
mod cose_key;
mod error;
mod es384_steps;
mod sign1;
pub mod tdx;
mod token_writer;

pub use cca::{
    CCA_PLATFORM_TOKEN_KEY, CCA_REALM_TOKEN_KEY, CCA_TOKEN_COLLECTION_TAG, cca_token_collection,
    parse_cca_token_collection,
};
pub use claims::{
    MEASUREMENT_SLOT_LEN, PLATFORM_PROFILE, PlatformClaims, RAK_HASH_ALGO, REALM_PROFILE,
    RealmClaims, RemHashAlgo, SwComponent, decode_platform_claims, decode_realm_claims,
    encode_platform_claims, encode_realm_claims, platform_key, realm_key,
};
pub use cose_key::{
    COSE_KEY_P384_LEN, P384_COORD_LEN, cose_key_from_verifying_key, cose_key_p384,
    parse_cose_key_p384, rak_binding_challenge, rak_binding_challenge_for_key,
    verifying_key_from_cose_key,
};
pub use error::EvidenceError;
pub use es384_steps::{BaseTable, COMB_TABLES, Es384Signer, Progress, SIGN_STEPS, SignerState};
pub use sign1::{
    COSE_SIGN1_TAG, ES384_SIGNATURE_LEN, PROTECTED_HEADER_ES384, Sign1Es384, sign_es384,
    sign1_payload_unverified, verify_es384,
};
pub use token_writer::{TokenLayout, write_cca_token};

/// Re-export of the P-384 key types used in this crate's signatures.
pub use p384::ecdsa::{SigningKey, VerifyingKey};
