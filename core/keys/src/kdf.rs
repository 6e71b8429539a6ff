//! HKDF (RFC 5869) wrapper, generic over the hash, and the `info` encoder.
//!
//! The hierarchy instantiates it with SHA-384; the unit tests run the
//! RFC 5869 Appendix A SHA-256 vectors through exactly the same functions.

use hkdf::hmac::EagerHash;
use zeroize::Zeroize;

use crate::KeyError;

/// An HKDF instance after Extract: holds the HMAC state keyed with the PRK.
///
/// With the `sha2/zeroize` feature (enabled in this crate's manifest and
/// checked at compile time in `lib.rs`) that state is wiped on drop.
pub(crate) struct Hkdf<H: EagerHash> {
    inner: hkdf::Hkdf<H>,
}

impl<H: EagerHash> Hkdf<H> {
    /// HKDF-Extract (RFC 5869 §2.2): `PRK = HMAC-Hash(salt, IKM)`.
    pub(crate) fn extract(salt: &[u8], ikm: &[u8]) -> Self {
        let (mut prk, inner) = hkdf::Hkdf::<H>::extract(Some(salt), ikm);
        prk.as_mut_slice().zeroize();
        Self { inner }
    }

    /// [`extract`](Self::extract), also copying the PRK into `prk_out`
    /// (the tests compare it with the RFC 5869 vectors).
    ///
    /// `prk_out.len()` must equal HashLen, else [`KeyError::HkdfLength`].
    #[cfg(test)]
    pub(crate) fn extract_with_prk(
        salt: &[u8],
        ikm: &[u8],
        prk_out: &mut [u8],
    ) -> Result<Self, KeyError> {
        let (mut prk, inner) = hkdf::Hkdf::<H>::extract(Some(salt), ikm);
        let res = if prk_out.len() == prk.len() {
            prk_out.copy_from_slice(&prk);
            Ok(Self { inner })
        } else {
            Err(KeyError::HkdfLength)
        };
        prk.as_mut_slice().zeroize();
        res
    }

    /// HKDF-Expand (RFC 5869 §2.3): fills `okm` (at most 255 * HashLen bytes).
    pub(crate) fn expand(&self, info: &[u8], okm: &mut [u8]) -> Result<(), KeyError> {
        self.inner
            .expand(info, okm)
            .map_err(|_| KeyError::HkdfLength)
    }

    /// HashLen of `H` in bytes.
    #[cfg(test)]
    pub(crate) fn hash_len() -> usize {
        use hkdf::hmac::digest::{OutputSizeUser, typenum::Unsigned};
        <H as OutputSizeUser>::OutputSize::USIZE
    }
}

/// Version-1 label prefix of every `info` string (see the crate docs).
pub(crate) const INFO_PREFIX: &[u8] = b"cmon/v1/";

/// Capacity of the `info` buffer. The longest info this crate builds is a
/// sealing info: 8 + 16 + 1 + 2 + (2 + 4) + (2 + 64) = 99 bytes.
const INFO_CAP: usize = 128;

/// Builder for the injective `info` encoding documented in the crate docs:
///
/// `"cmon/v1/" || purpose || 0x00 || I2OSP(L, 2) || { I2OSP(len, 2) || field }*`
pub(crate) struct Info {
    buf: [u8; INFO_CAP],
    len: usize,
}

impl Info {
    /// Starts an info string for `purpose` (ASCII, no NUL) and output length
    /// `okm_len` bytes.
    pub(crate) fn new(purpose: &str, okm_len: usize) -> Result<Self, KeyError> {
        let mut info = Self {
            buf: [0; INFO_CAP],
            len: 0,
        };
        if purpose.as_bytes().contains(&0) {
            return Err(KeyError::InfoTooLong);
        }
        info.push(INFO_PREFIX)?;
        info.push(purpose.as_bytes())?;
        info.push(&[0])?;
        let l = u16::try_from(okm_len).map_err(|_| KeyError::HkdfLength)?;
        info.push(&l.to_be_bytes())?;
        Ok(info)
    }

    /// Appends one length-prefixed context field.
    pub(crate) fn field(mut self, field: &[u8]) -> Result<Self, KeyError> {
        let n = u16::try_from(field.len()).map_err(|_| KeyError::InfoTooLong)?;
        self.push(&n.to_be_bytes())?;
        self.push(field)?;
        Ok(self)
    }

    /// The encoded bytes.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or(&[])
    }

    fn push(&mut self, data: &[u8]) -> Result<(), KeyError> {
        let end = self
            .len
            .checked_add(data.len())
            .ok_or(KeyError::InfoTooLong)?;
        let dst = self
            .buf
            .get_mut(self.len..end)
            .ok_or(KeyError::InfoTooLong)?;
        dst.copy_from_slice(data);
        self.len = end;
        Ok(())
    }
}

#[cfg(test)]
#[path = "kdf_tests.rs"]
mod tests;
