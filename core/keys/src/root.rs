//! The device root secret.

use core::fmt;

use zeroize::Zeroize;

use crate::KeyError;

/// Shortest accepted root secret: 256 bits, the minimum IKM entropy for the
/// 128-bit-and-above keys derived here (RFC 5869 §3.3 leaves IKM length open).
pub const ROOT_SECRET_MIN_LEN: usize = 32;
/// Longest accepted root secret (one SHA-384/SHA-512 block's worth of key).
pub const ROOT_SECRET_MAX_LEN: usize = 64;

/// The one device root secret from which every key is derived.
///
/// Properties (all enforced by the type):
/// - 32..=64 bytes, checked by [`RootSecret::new`];
/// - wiped with [`zeroize`] when dropped;
/// - neither `Clone` nor `Copy`;
/// - `Debug` prints only the length;
/// - no method returns the bytes: the only consumer is
///   [`KeyHierarchy::new`](crate::KeyHierarchy::new), inside this crate.
///
/// ```
/// use cmon_keys::RootSecret;
/// let root = RootSecret::new(&[0x42; 32]).unwrap();
/// assert_eq!(root.len(), 32);
/// ```
///
/// The bytes cannot be read back, neither through a field nor a method:
///
/// ```compile_fail
/// use cmon_keys::RootSecret;
/// let root = RootSecret::new(&[0x42; 32]).unwrap();
/// let leaked: &[u8] = &root.bytes; // private field: error E0616
/// ```
///
/// ```compile_fail
/// use cmon_keys::RootSecret;
/// let root = RootSecret::new(&[0x42; 32]).unwrap();
/// let leaked: &[u8] = root.as_ref(); // no AsRef/Deref/as_bytes: error
/// ```
///
/// ```compile_fail
/// use cmon_keys::RootSecret;
/// let root = RootSecret::new(&[0x42; 32]).unwrap();
/// let copy = root.clone(); // not Clone: error E0599
/// ```
pub struct RootSecret {
    bytes: [u8; ROOT_SECRET_MAX_LEN],
    len: usize,
}

impl RootSecret {
    /// Copies `secret` into a new root secret.
    ///
    /// The caller still owns `secret` and must wipe its own copy (for
    /// example the buffer it was read into from OTP or a fuse bank).
    ///
    /// # Errors
    /// [`KeyError::RootSecretLength`] unless `32 <= secret.len() <= 64`.
    pub fn new(secret: &[u8]) -> Result<Self, KeyError> {
        let len = secret.len();
        if !(ROOT_SECRET_MIN_LEN..=ROOT_SECRET_MAX_LEN).contains(&len) {
            return Err(KeyError::RootSecretLength { len });
        }
        let mut bytes = [0u8; ROOT_SECRET_MAX_LEN];
        if let Some(dst) = bytes.get_mut(..len) {
            dst.copy_from_slice(secret);
        }
        Ok(Self { bytes, len })
    }

    /// Length of the secret in bytes (32..=64). The length is not secret.
    #[must_use]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Always `false`: a root secret holds at least 32 bytes.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The secret bytes, for this crate only (HKDF-Extract IKM).
    pub(crate) fn expose(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or(&[])
    }
}

impl Drop for RootSecret {
    fn drop(&mut self) {
        self.bytes.zeroize();
        self.len.zeroize();
    }
}

impl zeroize::ZeroizeOnDrop for RootSecret {}

impl fmt::Debug for RootSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RootSecret([REDACTED; {} bytes])", self.len)
    }
}
