//! Symmetric key types: sealing keys (bound to an identity and a key
//! version) and the TDREPORT MAC key.

use core::fmt;

use zeroize::Zeroize;

/// Longest sealing identity accepted, in bytes. CCA RIM is 32 or 64 bytes
/// (cca-attestation.md §4.3, claim 44238) and the RPV 64 bytes; TDX MRTD and
/// MROWNER are 48 bytes (tdx-module-abi.md §10).
pub const MAX_IDENTITY_LEN: usize = 64;

/// Length of a [`SealingKey`] and of a [`MacKey`], in bytes (256 bits).
pub const SYMMETRIC_KEY_LEN: usize = 32;

/// A platform key version (the "key generation" counter).
///
/// The hierarchy serves sealing keys for versions in
/// `minimum ..= current`; bumping `current` rotates keys, raising `minimum`
/// retires old ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct KeyVersion(pub u32);

impl KeyVersion {
    /// Wraps a raw version number.
    #[must_use]
    pub const fn new(version: u32) -> Self {
        Self(version)
    }

    /// The raw version number (encoded big-endian in the HKDF info).
    #[must_use]
    pub const fn get(self) -> u32 {
        self.0
    }
}

/// What a sealing key is bound to. Each variant has its own HKDF purpose
/// label, so equal bytes under different variants give unrelated keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SealingIdentity<'a> {
    /// CCA Realm Initial Measurement (32 or 64 bytes): seals to one exact
    /// realm image. Purpose label `seal-cca-rim`.
    CcaRim(&'a [u8]),
    /// CCA Realm Personalization Value (64 bytes): seals to a policy chosen
    /// by the realm owner. Purpose label `seal-cca-rpv`.
    CcaRpv(&'a [u8]),
    /// TDX MRTD (SHA-384 of the TD build). Purpose label `seal-tdx-mrtd`.
    TdxMrtd(&'a [u8; 48]),
    /// TDX MROWNER (owner-chosen policy). Purpose label `seal-tdx-mrowner`.
    TdxMrOwner(&'a [u8; 48]),
}

impl<'a> SealingIdentity<'a> {
    /// The HKDF purpose label and the identity bytes.
    pub(crate) fn label_and_bytes(&self) -> (&'static str, &'a [u8]) {
        match *self {
            Self::CcaRim(b) => ("seal-cca-rim", b),
            Self::CcaRpv(b) => ("seal-cca-rpv", b),
            Self::TdxMrtd(b) => ("seal-tdx-mrtd", b),
            Self::TdxMrOwner(b) => ("seal-tdx-mrowner", b),
        }
    }
}

/// A request for a sealing key: identity plus key version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SealingRequest<'a> {
    /// Identity (measurement or policy) the key is bound to.
    pub identity: SealingIdentity<'a>,
    /// Key version; must lie in the hierarchy's `minimum ..= current`.
    pub version: KeyVersion,
}

/// A 256-bit sealing key. Wiped on drop; `Debug` shows only the version.
pub struct SealingKey {
    pub(crate) bytes: [u8; SYMMETRIC_KEY_LEN],
    pub(crate) version: KeyVersion,
}

impl SealingKey {
    /// The key bytes (for example an AES-256-GCM or HMAC key).
    #[must_use]
    pub fn as_bytes(&self) -> &[u8; SYMMETRIC_KEY_LEN] {
        &self.bytes
    }

    /// The key version this key was derived for. Store it next to sealed
    /// data so the right key can be re-derived after a rotation.
    #[must_use]
    pub fn version(&self) -> KeyVersion {
        self.version
    }
}

impl Drop for SealingKey {
    fn drop(&mut self) {
        self.bytes.zeroize();
    }
}

impl zeroize::ZeroizeOnDrop for SealingKey {}

impl fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SealingKey")
            .field("version", &self.version)
            .field("bytes", &"[REDACTED]")
            .finish()
    }
}

/// The 256-bit TDREPORT MAC key (the shim's own REPORTMACSTRUCT.MAC scheme,
/// see tdx-module-abi.md §10: the real MAC is CPU-internal and unpublished).
/// Suitable as an HMAC-SHA-256 or HMAC-SHA-384 key. Wiped on drop.
pub struct MacKey {
    pub(crate) bytes: [u8; SYMMETRIC_KEY_LEN],
}

impl MacKey {
    /// The key bytes.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8; SYMMETRIC_KEY_LEN] {
        &self.bytes
    }
}

impl Drop for MacKey {
    fn drop(&mut self) {
        self.bytes.zeroize();
    }
}

impl zeroize::ZeroizeOnDrop for MacKey {}

impl fmt::Debug for MacKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MacKey([REDACTED])")
    }
}
