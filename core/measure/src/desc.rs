//! A 256-byte measurement descriptor laid out together with its FIPS 180-4
//! padding, for RIM extensions done many times in a row (one per RTT entry
//! of RMI_RTT_INIT_RIPAS, cca-attestation.md §2.3).
//!
//! The streaming hasher handles any message, but an extension always
//! hashes exactly [`DESC_LEN`] bytes, so the padding (§5.1.1 / §5.1.2) is
//! the same every time and can be written once. The whole padded message is
//! then one call into the compression backend (5 SHA-256 blocks, or 3
//! SHA-384/512 blocks), and the digest goes straight back into the
//! descriptor's own RIM slot (@0x10), where the next extension of the chain
//! needs it. Between two extensions only the fields that change (the RIM
//! and, for RIPAS, base and top) are rewritten.

use crate::cca::DESC_LEN;
use crate::hash::{HashAlgo, Measurement, SLOT_LEN};
use crate::sha::{IV256, IV384, IV512, Sha2Compress};

/// Offset of the RIM slot in every descriptor (§2.3 header).
pub(crate) const RIM_OFFSET: usize = 0x10;

/// Room for the largest padded descriptor: 3 SHA-512 blocks (the SHA-256
/// form, 5 blocks of 64 bytes, uses the first 320 bytes).
const PADDED_LEN: usize = 384;

/// SHA-256 blocks of a padded descriptor: 256 bytes + 0x80 + length.
const BLOCKS_256: usize = 5;
/// SHA-384/512 blocks of a padded descriptor.
const BLOCKS_512: usize = 3;

/// A descriptor followed by its SHA-2 padding for `algo`.
///
/// Invariant: bytes `RIM_OFFSET + digest_len .. RIM_OFFSET + SLOT_LEN` are
/// zero (they are copied from a [`Measurement`] slot and never written), so
/// the RIM slot is always a valid zero-padded measurement.
#[derive(Clone, Debug)]
#[repr(C, align(16))]
pub(crate) struct PaddedDescriptor {
    bytes: [u8; PADDED_LEN],
    algo: HashAlgo,
}

impl PaddedDescriptor {
    /// `desc` with the padding of a [`DESC_LEN`]-byte message for `algo`.
    pub(crate) fn new(algo: HashAlgo, desc: &[u8; DESC_LEN]) -> Self {
        let mut bytes = [0u8; PADDED_LEN];
        bytes[..DESC_LEN].copy_from_slice(desc);
        // The 1 bit after the message, zeros, then the message length in
        // bits, big-endian: 64 bits for SHA-256, 128 for SHA-384/512 (whose
        // upper half is zero here).
        bytes[DESC_LEN] = 0x80;
        let bits = (DESC_LEN as u64 * 8).to_be_bytes();
        let end = match algo {
            HashAlgo::Sha256 => BLOCKS_256 * 64,
            HashAlgo::Sha384 | HashAlgo::Sha512 => BLOCKS_512 * 128,
        };
        bytes[end - 8..end].copy_from_slice(&bits);
        PaddedDescriptor { bytes, algo }
    }

    /// Writes the little-endian u64 field at `offset` (< 0x100) of the
    /// descriptor.
    pub(crate) fn set_u64(&mut self, offset: usize, value: u64) {
        self.bytes[offset..offset + 8].copy_from_slice(&value.to_le_bytes());
    }

    /// The RIM slot as a measurement (the invariant makes it valid).
    pub(crate) fn rim(&self) -> Measurement {
        let mut slot = [0u8; SLOT_LEN];
        slot.copy_from_slice(&self.bytes[RIM_OFFSET..RIM_OFFSET + SLOT_LEN]);
        Measurement::from_padded_slot(self.algo, slot)
    }

    /// Replaces the RIM slot with H(descriptor) (§2.2): the RIM after this
    /// extension, in place for the next one.
    pub(crate) fn extend_rim<E: Sha2Compress>(&mut self) {
        match self.algo {
            HashAlgo::Sha256 => {
                let mut h = IV256;
                let (blocks, _) = self.bytes.as_chunks::<64>();
                E::compress256(&mut h, &blocks[..BLOCKS_256]);
                let slot = &mut self.bytes[RIM_OFFSET..RIM_OFFSET + 32];
                for (o, w) in slot.chunks_exact_mut(4).zip(h) {
                    o.copy_from_slice(&w.to_be_bytes());
                }
            }
            HashAlgo::Sha384 | HashAlgo::Sha512 => {
                let mut h = if self.algo == HashAlgo::Sha384 {
                    IV384
                } else {
                    IV512
                };
                let (blocks, _) = self.bytes.as_chunks::<128>();
                E::compress512(&mut h, &blocks[..BLOCKS_512]);
                let n = self.algo.digest_len();
                let slot = &mut self.bytes[RIM_OFFSET..RIM_OFFSET + n];
                for (o, w) in slot.chunks_exact_mut(8).zip(h) {
                    o.copy_from_slice(&w.to_be_bytes());
                }
            }
        }
    }
}
