//! The set of VMIDs in use by realms, owned by [`crate::Rmm`] (no global
//! state). One bit per VMID in `AtomicU64` words; reserve and release are a
//! single atomic RMW, so two REALM_CREATEs on different CPUs can never get
//! the same VMID (DEN0137 RMI_REALM_CREATE `vmid_valid`).

use core::sync::atomic::{AtomicU8, AtomicU64, Ordering};

const WORDS: usize = (1 << 16) / 64;

/// VMID allocation bitmap (8 KiB: 16-bit VMIDs).
#[derive(Debug)]
pub struct VmidSet {
    words: [AtomicU64; WORDS],
    /// VMID width in bits (8 or 16).
    bits: AtomicU8,
}

impl VmidSet {
    /// All VMIDs free, 16-bit width.
    pub(crate) fn new() -> VmidSet {
        VmidSet {
            words: [const { AtomicU64::new(0) }; WORDS],
            bits: AtomicU8::new(16),
        }
    }

    /// Set the width (clamped to 8..=16); only called before the first RMI.
    pub(crate) fn set_bits(&self, bits: u8) {
        self.bits.store(bits.clamp(8, 16), Ordering::Relaxed);
    }

    /// True if `vmid` fits the hardware VMID width.
    pub(crate) fn is_valid(&self, vmid: u64) -> bool {
        vmid >> self.bits.load(Ordering::Relaxed) == 0
    }

    /// Reserve `vmid`; false if invalid or already in use.
    pub(crate) fn reserve(&self, vmid: u64) -> bool {
        if !self.is_valid(vmid) {
            return false;
        }
        let (w, bit) = ((vmid / 64) as usize, 1u64 << (vmid % 64));
        match self.words.get(w) {
            Some(word) => word.fetch_or(bit, Ordering::AcqRel) & bit == 0,
            None => false,
        }
    }

    /// Free `vmid` (REALM_DESTROY).
    pub(crate) fn release(&self, vmid: u16) {
        let (w, bit) = (usize::from(vmid) / 64, 1u64 << (vmid % 64));
        if let Some(word) = self.words.get(w) {
            word.fetch_and(!bit, Ordering::AcqRel);
        }
    }

    /// True if `vmid` is in use (tests, diagnostics).
    pub fn in_use(&self, vmid: u16) -> bool {
        let (w, bit) = (usize::from(vmid) / 64, 1u64 << (vmid % 64));
        self.words
            .get(w)
            .is_some_and(|word| word.load(Ordering::Acquire) & bit != 0)
    }
}
