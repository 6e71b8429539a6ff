//! The one trait through which RMM logic reaches hardware.
//!
//! `rmm-image` implements it on real AArch64 (SMCs to EL3, transient stage-1
//! mappings); `fake-platform` implements it over a host memory arena and a
//! fake GPT so that every RMI command is tested with `cargo test`.
//!
//! Contract for implementors:
//! 1. Every method may be called concurrently from several CPUs (`Sync`).
//! 2. `gtsi_*` perform exactly the EL3 services RMM_GTSI_DELEGATE /
//!    RMM_GTSI_UNDELEGATE (shared/spec/rmm-el3-interface.md §5) and report
//!    EL3's error code unchanged.
//! 3. `zero_granule` is only called for granules the RMM owns in Realm PAS
//!    (lock held by the caller). It reports `MemoryFault` instead of
//!    crashing when the access aborts: a manifest DRAM bank may be larger
//!    than the memory actually fitted (TF-A on QEMU reports a fixed 3 GiB,
//!    rmm-el3-interface.md §9), so a host can name a PA with no RAM behind it.

use crate::types::{El3Error, MemoryFault, PhysAddr};

/// Hardware access for the monitor logic.
pub trait Platform: Sync {
    /// RMM_GTSI_DELEGATE: move the granule at `pa` from Non-secure to Realm PAS.
    fn gtsi_delegate(&self, pa: PhysAddr) -> Result<(), El3Error>;
    /// RMM_GTSI_UNDELEGATE: move the granule at `pa` from Realm to Non-secure PAS.
    fn gtsi_undelegate(&self, pa: PhysAddr) -> Result<(), El3Error>;
    /// Fill the 4 KiB Realm-PAS granule at `pa` with zeros; `Err` if the
    /// memory access aborted (no RAM at `pa`).
    fn zero_granule(&self, pa: PhysAddr) -> Result<(), MemoryFault>;
}
