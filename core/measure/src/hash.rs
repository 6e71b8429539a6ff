//! Hash algorithms, a streaming hasher and the 64-byte measurement value.
//!
//! Everything here is allocation-free and keeps its state in fixed-size
//! fields so it can live on a small firmware stack.

use core::fmt;

use crate::sha::{Sha2Compress, Sha256With, Sha512With, SoftSha2};

/// Width of one measurement slot in bytes.
///
/// cca-attestation.md §1: "64 bytes per slot; zero-padded after 32 bytes for
/// SHA-256". The same slot also holds a 48-byte SHA-384 value (TDX).
pub const SLOT_LEN: usize = 64;

/// A hash algorithm usable for measurements.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HashAlgo {
    /// SHA-256 (FIPS 180-4), 32-byte digest. RMI encoding 0.
    Sha256,
    /// SHA-384 (FIPS 180-4), 48-byte digest. Used by TDX MRTD/RTMR; not
    /// selectable through RMM 1.0 `RmiRealmParams.hash_algo`.
    Sha384,
    /// SHA-512 (FIPS 180-4), 64-byte digest. RMI encoding 1.
    Sha512,
}

impl HashAlgo {
    /// Length of the digest in bytes (32, 48 or 64).
    pub const fn digest_len(self) -> usize {
        match self {
            HashAlgo::Sha256 => 32,
            HashAlgo::Sha384 => 48,
            HashAlgo::Sha512 => 64,
        }
    }

    /// Decodes `RmiRealmParams.hash_algo` (cca-attestation.md §1: 0 = SHA-256,
    /// 1 = SHA-512). Every other value is rejected, because RMM 1.0 defines no
    /// other encoding (SHA-384 = 2 only arrives with RMM v2.0, §7).
    pub const fn from_rmi(encoding: u8) -> Option<Self> {
        match encoding {
            0 => Some(HashAlgo::Sha256),
            1 => Some(HashAlgo::Sha512),
            _ => None,
        }
    }

    /// The `RmiRealmParams.hash_algo` encoding of this algorithm, or `None`
    /// for SHA-384, which RMM 1.0 cannot select (§1).
    pub const fn to_rmi(self) -> Option<u8> {
        match self {
            HashAlgo::Sha256 => Some(0),
            HashAlgo::Sha384 => None,
            HashAlgo::Sha512 => Some(1),
        }
    }
}

/// Error returned when an `RmiRealmParams.hash_algo` value is not 0 or 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnknownHashAlgo(pub u8);

impl TryFrom<u8> for HashAlgo {
    type Error = UnknownHashAlgo;

    /// Same as [`HashAlgo::from_rmi`]: the only `u8` encoding of a hash
    /// algorithm in this project is the RMI one.
    fn try_from(encoding: u8) -> Result<Self, Self::Error> {
        HashAlgo::from_rmi(encoding).ok_or(UnknownHashAlgo(encoding))
    }
}

/// A measurement value: a digest stored in a zero-padded 64-byte slot.
///
/// Bytes beyond `algo.digest_len()` are always zero, as in the RMM's
/// 64-byte measurement slots (cca-attestation.md §1, §2.2). This invariant
/// lets [`Measurement::slot`] be copied straight into a descriptor.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Measurement {
    algo: HashAlgo,
    slot: [u8; SLOT_LEN],
}

impl Measurement {
    /// The all-zero measurement: the initial value of every REM
    /// (cca-attestation.md §3) and RTMR (tdx-module-abi.md §7).
    pub const fn zero(algo: HashAlgo) -> Self {
        Measurement {
            algo,
            slot: [0; SLOT_LEN],
        }
    }

    /// Builds a measurement from a digest of exactly `algo.digest_len()`
    /// bytes. Returns `None` on a length mismatch.
    pub fn from_digest(algo: HashAlgo, digest: &[u8]) -> Option<Self> {
        if digest.len() != algo.digest_len() {
            return None;
        }
        let mut m = Measurement::zero(algo);
        m.slot[..digest.len()].copy_from_slice(digest);
        Some(m)
    }

    /// Builds a measurement from a full 64-byte slot, e.g. one read back
    /// from a realm descriptor. Returns `None` if the padding after
    /// `digest_len()` is not zero, since that would break the slot invariant.
    pub fn from_slot(algo: HashAlgo, slot: &[u8; SLOT_LEN]) -> Option<Self> {
        if slot[algo.digest_len()..].iter().any(|&b| b != 0) {
            return None;
        }
        Some(Measurement { algo, slot: *slot })
    }

    /// A slot whose bytes after `algo.digest_len()` the caller knows to be
    /// zero (crate-internal: the padded descriptor keeps that invariant).
    pub(crate) const fn from_padded_slot(algo: HashAlgo, slot: [u8; SLOT_LEN]) -> Self {
        Measurement { algo, slot }
    }

    /// The algorithm that produced this value.
    pub const fn algo(&self) -> HashAlgo {
        self.algo
    }

    /// The digest itself: `digest_len()` bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.slot[..self.algo.digest_len()]
    }

    /// The whole zero-padded 64-byte slot.
    pub const fn slot(&self) -> &[u8; SLOT_LEN] {
        &self.slot
    }
}

impl fmt::Debug for Measurement {
    /// Prints `Sha256(e3b0…)`: the algorithm and the digest in lower-case hex.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}(", self.algo)?;
        fmt::LowerHex::fmt(self, f)?;
        f.write_str(")")
    }
}

impl fmt::LowerHex for Measurement {
    /// The digest (not the padding) as lower-case hex, no prefix.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.as_bytes() {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// A streaming SHA-2 computation over compression backend `E`
/// (see [`crate::sha`]). [`Hasher`] is the portable instance.
#[derive(Clone, Debug)]
pub enum HasherWith<E> {
    /// SHA-256 state.
    Sha256(Sha256With<E>),
    /// SHA-384 state.
    Sha384(Sha512With<E>),
    /// SHA-512 state.
    Sha512(Sha512With<E>),
}

/// The streaming hasher with RustCrypto's portable compression.
pub type Hasher = HasherWith<SoftSha2>;

/// 256 zero bytes in read-only memory, used to stream long zero runs without
/// a stack buffer.
static ZEROS: [u8; 256] = [0; 256];

impl<E: Sha2Compress> HasherWith<E> {
    /// Starts a new hash computation.
    pub fn new(algo: HashAlgo) -> Self {
        match algo {
            HashAlgo::Sha256 => HasherWith::Sha256(Sha256With::new()),
            HashAlgo::Sha384 => HasherWith::Sha384(Sha512With::new_384()),
            HashAlgo::Sha512 => HasherWith::Sha512(Sha512With::new_512()),
        }
    }

    /// The algorithm of this hasher.
    pub fn algo(&self) -> HashAlgo {
        match self {
            HasherWith::Sha256(_) => HashAlgo::Sha256,
            HasherWith::Sha384(_) => HashAlgo::Sha384,
            HasherWith::Sha512(_) => HashAlgo::Sha512,
        }
    }

    /// Appends `data` to the message.
    pub fn update(&mut self, data: &[u8]) {
        match self {
            HasherWith::Sha256(h) => h.update(data),
            HasherWith::Sha384(h) | HasherWith::Sha512(h) => h.update(data),
        }
    }

    /// Appends `count` zero bytes, in chunks, without a stack buffer.
    pub fn update_zeros(&mut self, mut count: usize) {
        while count > 0 {
            let n = count.min(ZEROS.len());
            self.update(&ZEROS[..n]);
            count -= n;
        }
    }

    /// Finishes the computation.
    pub fn finalize(self) -> Measurement {
        let algo = self.algo();
        let mut m = Measurement::zero(algo);
        match self {
            HasherWith::Sha256(h) => m.slot[..32].copy_from_slice(&h.finalize()),
            HasherWith::Sha384(h) | HasherWith::Sha512(h) => {
                let mut out = [0u8; SLOT_LEN];
                let n = h.finalize_into(&mut out);
                m.slot[..n].copy_from_slice(&out[..n]);
            }
        }
        m
    }

    /// One-shot hash of `data`. Uses the concrete engine directly: the enum
    /// is sized for SHA-512, and moving it around costs more than hashing a
    /// 256-byte measurement descriptor (this is on the RIM-extension path).
    pub fn digest(algo: HashAlgo, data: &[u8]) -> Measurement {
        let mut m = Measurement::zero(algo);
        match algo {
            HashAlgo::Sha256 => {
                let mut h = Sha256With::<E>::new();
                h.update(data);
                m.slot[..32].copy_from_slice(&h.finalize());
            }
            HashAlgo::Sha384 | HashAlgo::Sha512 => {
                let mut h = if algo == HashAlgo::Sha384 {
                    Sha512With::<E>::new_384()
                } else {
                    Sha512With::<E>::new_512()
                };
                h.update(data);
                let mut out = [0u8; SLOT_LEN];
                let n = h.finalize_into(&mut out);
                m.slot[..n].copy_from_slice(&out[..n]);
            }
        }
        m
    }
}
