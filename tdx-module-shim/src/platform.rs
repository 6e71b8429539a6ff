//! The one trait through which the TDX module logic reaches the machine.
//!
//! The shim image (`tdx-module-shim/image`) implements it on x86-64 under
//! QEMU q35: module-owned pages are reached through the module's own page
//! tables, VMM memory through the ring-3 VMM's address space, and
//! "isolation" is unmapping/remapping a page in the VMM's page tables. Host
//! tests implement it over a sparse page arena (`tests/common`).
//!
//! Contract for implementors:
//! 1. Every method may be called concurrently from several LPs (`Sync`).
//! 2. `map_page` and `zero_page` are only called for 4 KiB-aligned pages
//!    the module owns: PAMT pages of a TDMR that TDH.SYS.CONFIG accepted
//!    (inside a CMR, so RAM; already isolated), and pages inside an
//!    initialised TDMR that the module has isolated (TDR, TDCX, SEPT, TD
//!    private pages). The view is `AtomicU64`s because several LPs may map
//!    the same page at once; the logic serialises mutation with PAMT entry
//!    locks (compare-and-swap on the mapped PAMT words) and never holds a
//!    plain `&mut` to page memory. A mapping is valid until dropped.
//! 3. `copy_from_vmm` reads memory the VMM named (TDMR_INFO, TD_PARAMS,
//!    PAGE.ADD source). The range lies within one 4 KiB page. The VMM may
//!    name memory that does not exist or that the module has isolated; the
//!    access then returns `VmmAccessError` instead of faulting. The logic
//!    copies once, validates the copy and never re-reads (no double fetch).
//! 7. `copy_to_vmm` writes memory the VMM named as an output buffer
//!    (TDH.SYS.INFO's TDSYSINFO_STRUCT and CMR_INFO, TDH.SYS.RDALL's list
//!    page). The range lies within one 4 KiB page. As for `copy_from_vmm`,
//!    memory that does not exist or that the module has isolated returns
//!    `VmmAccessError` and nothing is written. A write must never land in
//!    a page once `isolate_page` of it has returned, even when the two race
//!    on different LPs: the module writes TD data into an isolated page
//!    right after. The logic calls it after every check of the leaf has
//!    passed, once per output buffer, with the whole buffer.
//! 4. `isolate_page` removes the page from every VMM-accessible mapping
//!    (and flushes the VMM's TLB entries for it on all LPs) before
//!    returning; afterwards `copy_from_vmm` and `copy_to_vmm` of that page
//!    fail and the VMM cannot read or write it. `release_page` gives it back. Both are only
//!    called for pages of contract 2 and never fail. The page-table
//!    change must be complete before `isolate_page` returns, because the
//!    module writes TD data into the page right after.
//! 6. `keys` is the device key hierarchy (the root secret stays behind it):
//!    the TDREPORT MAC key, sealing keys and, in the image, the quoting
//!    keys come from it (docs/tdx-attestation.md). `None` if the platform
//!    has no root secret; then TDG.MR.REPORT and the sealing leaves fail.
//! 5. `Lock<T>` is a try-lock cell (the logic never waits): the image
//!    provides a spin-lock cell whose `try_lock` is a single
//!    compare-and-swap with acquire/release ordering; tests use
//!    `std::sync::Mutex::try_lock`.

use core::ops::{Deref, DerefMut};
use core::sync::atomic::AtomicU64;

use crate::types::Hpa;

/// Words in a 4 KiB page.
pub const PAGE_WORDS: usize = 512;

/// The view of a mapped page.
pub type PageWords = [AtomicU64; PAGE_WORDS];

/// A VMM-named range could not be read or written (no memory there, or
/// isolated).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VmmAccessError(pub u64);

/// A cell whose contents are reached only through a non-blocking lock.
pub trait TryLock<T>: Sync {
    /// The held lock; released when dropped.
    type Guard<'a>: DerefMut<Target = T>
    where
        Self: 'a;
    /// A new unlocked cell holding `value`.
    fn new(value: T) -> Self;
    /// Take the lock if it is free; `None` if another LP holds it.
    fn try_lock(&self) -> Option<Self::Guard<'_>>;
}

/// Machine access for the module logic.
pub trait TdxPlatform: Sync {
    /// Try-lock cell type (contract 5).
    type Lock<T: Send>: TryLock<T>;
    /// A live mapping of one module-owned page; unmapped when dropped.
    type Mapping<'a>: Deref<Target = PageWords>
    where
        Self: 'a;

    /// Map the module-owned page at `hpa` (contract 2).
    fn map_page(&self, hpa: Hpa) -> Self::Mapping<'_>;
    /// Fill the module-owned page at `hpa` with zeros (contract 2).
    fn zero_page(&self, hpa: Hpa);
    /// Copy `buf.len()` bytes of VMM memory at `hpa` into `buf` (contract 3).
    fn copy_from_vmm(&self, hpa: u64, buf: &mut [u8]) -> Result<(), VmmAccessError>;
    /// Copy `buf` into VMM memory at `hpa` (contract 7).
    fn copy_to_vmm(&self, hpa: u64, buf: &[u8]) -> Result<(), VmmAccessError>;
    /// Take the page at `hpa` away from the VMM (contract 4).
    fn isolate_page(&self, hpa: Hpa);
    /// Give the page at `hpa` back to the VMM (contract 4).
    fn release_page(&self, hpa: Hpa);
    /// The device key hierarchy (contract 6).
    fn keys(&self) -> Option<&cmon_keys::KeyHierarchy>;
}
