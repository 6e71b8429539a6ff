//! Internal CBOR (RFC 8949) helpers over `coset::cbor` (ciborium 0.2).
//!
//! Encoding goes through ciborium's `Value`, which always emits the
//! preferred (shortest) argument encoding of RFC 8949 §4.2.1 and keeps map
//! entries in insertion order; the sheet's byte layouts rely on both.
//!
//! Decoding is for untrusted bytes: nesting is capped, trailing bytes are
//! rejected and no helper here can panic.

use alloc::{string::String, vec::Vec};
use coset::cbor::{
    self,
    value::{Integer, Value},
};

use crate::EvidenceError;

/// Deepest nesting accepted from untrusted input. The deepest legitimate
/// structure is the platform claim set (map → array → map → item = 4); the
/// margin allows unknown claims while bounding stack use on the RMM's small
/// stacks (ciborium recurses once per level).
const MAX_DEPTH: usize = 16;

/// Serialise `value` to bytes.
///
/// Writing into a `Vec` cannot fail and every `Value` built by this crate is
/// serialisable (no floats, no serde custom errors), so the error arm is
/// unreachable; it returns an empty vector rather than panicking.
pub(crate) fn encode(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    match cbor::ser::into_writer(value, &mut out) {
        Ok(()) => out,
        Err(_) => Vec::new(),
    }
}

/// Decode exactly one CBOR data item that spans all of `bytes`.
pub(crate) fn decode(bytes: &[u8]) -> Result<Value, EvidenceError> {
    let mut rest = bytes;
    let value: Value = cbor::de::from_reader_with_recursion_limit(&mut rest, MAX_DEPTH)
        .map_err(|_| EvidenceError::MalformedCbor)?;
    if rest.is_empty() {
        Ok(value)
    } else {
        Err(EvidenceError::MalformedCbor)
    }
}

/// An integer map key as a CBOR value.
pub(crate) fn key(k: i64) -> Value {
    Value::Integer(Integer::from(k))
}

/// A byte string value.
pub(crate) fn bstr(b: &[u8]) -> Value {
    Value::Bytes(b.to_vec())
}

/// A text string value.
pub(crate) fn tstr(s: &str) -> Value {
    Value::Text(String::from(s))
}

/// Strip tag `expected` from `value`.
pub(crate) fn untag(value: Value, expected: u64) -> Result<Value, EvidenceError> {
    match value {
        Value::Tag(t, inner) if t == expected => Ok(*inner),
        _ => Err(EvidenceError::UnexpectedTag { expected }),
    }
}

/// A byte string, any length.
pub(crate) fn as_bytes(value: Value) -> Result<Vec<u8>, EvidenceError> {
    match value {
        Value::Bytes(b) => Ok(b),
        _ => Err(EvidenceError::UnexpectedType),
    }
}

/// A byte string of exactly `N` bytes.
pub(crate) fn as_byte_array<const N: usize>(value: Value) -> Result<[u8; N], EvidenceError> {
    <[u8; N]>::try_from(as_bytes(value)?.as_slice()).map_err(|_| EvidenceError::InvalidLength)
}

/// A text string.
pub(crate) fn as_text(value: Value) -> Result<String, EvidenceError> {
    match value {
        Value::Text(s) => Ok(s),
        _ => Err(EvidenceError::UnexpectedType),
    }
}

/// An unsigned integer (major type 0).
pub(crate) fn as_uint(value: Value) -> Result<u64, EvidenceError> {
    match value {
        Value::Integer(i) => u64::try_from(i).map_err(|_| EvidenceError::InvalidValue),
        _ => Err(EvidenceError::UnexpectedType),
    }
}

/// An array.
pub(crate) fn as_array(value: Value) -> Result<Vec<Value>, EvidenceError> {
    match value {
        Value::Array(a) => Ok(a),
        _ => Err(EvidenceError::UnexpectedType),
    }
}

/// The integer-keyed entries of a CBOR map, checked for duplicate keys.
///
/// Entries with non-integer keys, or integer keys outside `i64`, are dropped:
/// CWT-style claim sets (RFC 8392 §3) let a recipient ignore claims it does
/// not understand. Lookups consume the entry.
pub(crate) struct IntMap(Vec<(i64, Value)>);

impl IntMap {
    /// Take apart a map value; anything else is [`EvidenceError::UnexpectedType`].
    pub(crate) fn from_value(value: Value) -> Result<Self, EvidenceError> {
        let Value::Map(entries) = value else {
            return Err(EvidenceError::UnexpectedType);
        };
        let mut out: Vec<(i64, Value)> = entries
            .into_iter()
            .filter_map(|(k, v)| match k {
                Value::Integer(i) => i64::try_from(i).ok().map(|k| (k, v)),
                _ => None,
            })
            .collect();
        // RFC 8949 §5.6: a map with duplicate keys is not valid. Sorting keeps
        // this O(n log n) even for hostile, very large maps.
        out.sort_by_key(|(k, _)| *k);
        let duplicate = out.windows(2).find_map(|w| match w {
            [(a, _), (b, _)] if a == b => Some(*a),
            _ => None,
        });
        if let Some(k) = duplicate {
            return Err(EvidenceError::DuplicateKey(k));
        }
        Ok(Self(out))
    }

    /// Remove and return the value under `key`, if present.
    pub(crate) fn take(&mut self, key: i64) -> Option<Value> {
        let idx = self.0.binary_search_by_key(&key, |(k, _)| *k).ok()?;
        Some(self.0.remove(idx).1)
    }

    /// Remove and return the value under `key`, or report it missing.
    pub(crate) fn require(&mut self, key: i64) -> Result<Value, EvidenceError> {
        self.take(key).ok_or(EvidenceError::MissingClaim(key))
    }
}
