//! The CCA attestation token collection (cca-attestation.md §4.1;
//! draft-ffm-rats-cca-token, RMM 1.0 form).
//!
//! ```text
//! D9 01 8F                 tag(399)
//!   A2                     map(2)
//!     19 AC CA  <bstr>     44234: platform COSE_Sign1
//!     19 AC D1  <bstr>     44241: realm COSE_Sign1
//! ```

use alloc::{boxed::Box, vec, vec::Vec};
use coset::cbor::value::Value;

use crate::{EvidenceError, cbor};

/// CBOR tag of the RMM 1.0 CCA token collection (sheet §4.1, `D9 01 8F`).
pub const CCA_TOKEN_COLLECTION_TAG: u64 = 399;

/// Collection key of the platform token (sheet §4.1, `19 AC CA`).
pub const CCA_PLATFORM_TOKEN_KEY: i64 = 44234;

/// Collection key of the realm token (sheet §4.1, `19 AC D1`).
pub const CCA_REALM_TOKEN_KEY: i64 = 44241;

/// Wrap a platform and a realm token (each a tagged COSE_Sign1) into the
/// tag-399 collection of sheet §4.1, platform entry first as TF-RMM does.
///
/// The tokens are embedded as byte strings, unchanged and unchecked.
pub fn cca_token_collection(platform_token: &[u8], realm_token: &[u8]) -> Vec<u8> {
    let map = Value::Map(vec![
        (
            cbor::key(CCA_PLATFORM_TOKEN_KEY),
            cbor::bstr(platform_token),
        ),
        (cbor::key(CCA_REALM_TOKEN_KEY), cbor::bstr(realm_token)),
    ]);
    cbor::encode(&Value::Tag(CCA_TOKEN_COLLECTION_TAG, Box::new(map)))
}

/// Split a CCA token collection into `(platform_token, realm_token)`.
///
/// Requires tag 399 and a map of exactly the two byte-string entries of
/// sheet §4.1 (in either order). The inner tokens are returned as-is; verify
/// them with [`verify_es384`](crate::verify_es384).
pub fn parse_cca_token_collection(bytes: &[u8]) -> Result<(Vec<u8>, Vec<u8>), EvidenceError> {
    let value = cbor::untag(cbor::decode(bytes)?, CCA_TOKEN_COLLECTION_TAG)?;
    let Value::Map(entries) = &value else {
        return Err(EvidenceError::UnexpectedType);
    };
    if entries.len() != 2 {
        return Err(EvidenceError::InvalidLength);
    }
    let mut map = cbor::IntMap::from_value(value)?;
    let platform = cbor::as_bytes(map.require(CCA_PLATFORM_TOKEN_KEY)?)?;
    let realm = cbor::as_bytes(map.require(CCA_REALM_TOKEN_KEY)?)?;
    Ok((platform, realm))
}
