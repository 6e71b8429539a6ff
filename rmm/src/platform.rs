//! The one trait through which RMM logic reaches hardware.
//!
//! `rmm-image` implements it on real AArch64 (SMCs to EL3, transient stage-1
//! mappings through per-CPU slot buffers, TLB maintenance); `fake-platform`
//! implements it over a host memory arena and a fake GPT so that every RMI
//! command is tested with `cargo test`.
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
//! 4. `map_granule` is only called for granules the RMM owns (state
//!    DELEGATED or an object state, so known to be RAM in Realm PAS). The
//!    mapping is valid until the returned guard is dropped. Several CPUs may
//!    map the same granule at once, which is why the view is `AtomicU64`s:
//!    the logic serialises mutation with granule locks and never holds a
//!    plain `&mut` to granule memory. At most one mapping per `Slot` per CPU
//!    is live at a time (the caller guarantees it).
//! 5. `read_ns` / `write_ns` access Non-secure memory named by the host. The
//!    range must lie within one 4 KiB granule. The host may change the GPT
//!    (or name memory that does not exist) at any time, so an access that
//!    faults returns `NsAccessError` instead of crashing. Callers copy in
//!    once, validate the copy, and never re-read (no double fetch).
//! 6. `tlbi_*` invalidate stage-2 (and combined stage-1+2) TLB entries of the
//!    realm with `vmid` on all CPUs (Inner Shareable), completing before
//!    returning, so a removed or changed RTT entry can no longer be used.
//! 7. `Sha2` computes exactly FIPS 180-4 SHA-2 compression; it must not
//!    leave any trace in state other worlds can observe (a hardware backend
//!    saves and restores every SIMD register it uses).
//! 8. `run_realm` runs one REC on this CPU until the first exception taken
//!    to R-EL2, then returns. It loads `regs`, `sysregs` and `fp` into the
//!    CPU, programs stage 2 from `s2` (VTTBR = VMID + root RTT, VTCR from the
//!    IPA width and start level, VMPIDR, HCR_EL2 with VM, FWB, TSC (realm
//!    SMCs trap), IMO/FMO/AMO, TWI/TWE as requested), makes prior RTT writes
//!    visible to the walker (DSB + ISB), runs the REC, and on return has
//!    written the REC's registers back into the same three structures. The
//!    host's (NS) EL1 system registers and FP/SIMD registers are preserved
//!    across the call (and its GIC list registers, see `GicState`), and the
//!    realm's are never left in the CPU: neither
//!    world can observe the other's state. Injecting exceptions into the
//!    realm (UNDEF, SEA) is done by the logic by editing `regs`/`sysregs`.
//!    The realm uses its EL1 virtual and physical timers and the physical
//!    counter untrapped, with no counter offsets; the physical interrupt of
//!    each timer named in `s2.timer_mask` is masked at EL2 while it runs
//!    (CNTHCTL_EL2.CNTVMASK/CNTPMASK).
//! 9. `counter` reads the physical count the realm's timers compare against
//!    (CNTPCT_EL0, after an ISB so it is not read early).
//! 10. `irq_pending` reports whether a physical IRQ or FIQ is pending at
//!     this CPU now (ISR_EL1.I/F as R-EL2 sees them), without taking it.
//!     Long RSI work (token signing) polls it between bounded steps and
//!     exits to the host when it is true (cca-attestation.md §5).
//! 11. `sealing_key` derives a 256-bit key from the device root secret,
//!     which the RMM never holds, for a policy, the realm identity bytes of
//!     that policy (RIM or RPV) and a key version (docs/sealing.md). The
//!     same inputs give the same key on every boot of the same device; a
//!     version outside the platform's window is refused.

use core::ops::Deref;
use core::sync::atomic::AtomicU64;

use crate::timer::TimerMask;
use crate::types::{El3Error, MemoryFault, PhysAddr};

/// Words in one 4 KiB granule.
pub const GRANULE_WORDS: usize = 512;

/// The view of a mapped granule.
pub type GranuleWords = [AtomicU64; GRANULE_WORDS];

/// Which per-CPU mapping slot an access uses. Commands that need several
/// granules at once (e.g. an RTT walk holding a parent and a child) use
/// different slots.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Slot {
    /// The granule being delegated / zeroed.
    Delegated,
    /// A Realm Descriptor.
    Rd,
    /// An RTT being walked or modified.
    Rtt,
    /// The parent (or second) RTT during a walk, fold or create.
    RttParent,
    /// A DATA granule.
    Data,
    /// A REC.
    Rec,
    /// A REC auxiliary granule.
    RecAux,
}

/// What a sealing key is bound to (vendor RSI, docs/sealing.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SealPolicy {
    /// The realm's RIM: only the same realm image and creation sequence
    /// re-derives the key.
    Rim,
    /// The realm's personalization value: any realm its owner gives the
    /// same RPV re-derives it (signer-style policy).
    Rpv,
}

/// Why the platform gave no sealing key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SealError {
    /// The platform (EL3) has no sealing service.
    NotSupported,
    /// The version is above the platform's current key version.
    VersionTooNew,
    /// The version is below the platform's minimum (retired).
    VersionRetired,
}

/// A host-named NS range could not be accessed (GPF: not Non-secure PAS, or
/// no memory there).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NsAccessError(pub PhysAddr);

/// General-purpose state of a REC that is not running.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct RealmRegs {
    /// x0..x30.
    pub gprs: [u64; 31],
    /// Where the REC resumes (ELR_EL2 on entry, the exception address on exit).
    pub pc: u64,
    /// PSTATE (SPSR_EL2 on entry / exit).
    pub pstate: u64,
}

/// EL1/EL0 system registers of a REC, in `rec::SysReg` order (unused slots
/// ignored).
pub type RealmSysregs = [u64; 32];

/// FP/SIMD state of a REC: q0..q31, then FPSR and FPCR.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C, align(16))]
pub struct FpState {
    /// V0..V31.
    pub q: [u128; 32],
    /// FPSR.
    pub fpsr: u64,
    /// FPCR.
    pub fpcr: u64,
}

/// GICv3 virtual CPU interface state of a REC (cca-rmm-abi.md §4.3, §8).
/// The platform loads it into the ICH_* registers before the REC runs (with
/// ICH_HCR_EL2.En set) and reads LRs, VMCR, APRs and MISR back on exit. The
/// host's own list registers are preserved across the run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GicState {
    /// ICH_HCR_EL2 as validated from RecRun.enter (En is the platform's).
    pub hcr: u64,
    /// ICH_LR<n>_EL2 (entries beyond the CPU's list registers are 0).
    pub lrs: [u64; 16],
    /// ICH_VMCR_EL2 (the realm's virtual CPU interface control).
    pub vmcr: u64,
    /// ICH_AP0R<n>_EL2 then ICH_AP1R<n>_EL2, n = 0..3.
    pub aprs: [u64; 8],
    /// ICH_MISR_EL2 at the exit (output only).
    pub misr: u64,
}

/// How to run a REC: its realm's stage-2 configuration and trap choices.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stage2 {
    /// The realm's VMID.
    pub vmid: u16,
    /// PA of the first (concatenated) root RTT.
    pub rtt_root: PhysAddr,
    /// IPA width (RmiRealmParams.s2sz).
    pub s2sz: u8,
    /// Level of the root RTTs (0..=3).
    pub start_level: i8,
    /// VMPIDR_EL2 for this REC (its MPIDR as the realm sees it).
    pub vmpidr: u64,
    /// Trap WFI to R-EL2 (RecRun.enter.flags.TRAP_WFI).
    pub trap_wfi: bool,
    /// Trap WFE to R-EL2 (RecRun.enter.flags.TRAP_WFE).
    pub trap_wfe: bool,
    /// EL1 timer interrupts masked at EL2 while the REC runs, because their
    /// output is asserted and already reported to the host (`timer.rs`).
    pub timer_mask: TimerMask,
}

/// Why `run_realm` returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitKind {
    /// A synchronous exception (ESR_EL2 says which).
    Sync,
    /// A physical IRQ.
    Irq,
    /// A physical FIQ.
    Fiq,
    /// An SError.
    SError,
}

/// What the hardware reported when the REC stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RealmExit {
    /// The kind of exception.
    pub kind: ExitKind,
    /// ESR_EL2.
    pub esr: u64,
    /// FAR_EL2.
    pub far: u64,
    /// HPFAR_EL2.
    pub hpfar: u64,
}

/// Hardware access for the monitor logic.
pub trait Platform: Sync {
    /// A live mapping of one granule; unmapped when dropped.
    type Mapping<'a>: Deref<Target = GranuleWords>
    where
        Self: 'a;
    /// SHA-2 block compression for measurements (RIM, REM): the CPU's
    /// instructions where the platform has them (contract 7).
    type Sha2: cmon_measure::Sha2Compress;

    /// RMM_GTSI_DELEGATE: move the granule at `pa` from Non-secure to Realm PAS.
    fn gtsi_delegate(&self, pa: PhysAddr) -> Result<(), El3Error>;
    /// RMM_GTSI_UNDELEGATE: move the granule at `pa` from Realm to Non-secure PAS.
    fn gtsi_undelegate(&self, pa: PhysAddr) -> Result<(), El3Error>;
    /// Fill the 4 KiB Realm-PAS granule at `pa` with zeros; `Err` if the
    /// memory access aborted (no RAM at `pa`).
    fn zero_granule(&self, pa: PhysAddr) -> Result<(), MemoryFault>;
    /// Map the Realm-PAS granule at `pa` (contract 4).
    fn map_granule(&self, pa: PhysAddr, slot: Slot) -> Self::Mapping<'_>;
    /// Copy `buf.len()` bytes of Non-secure memory at `pa` into `buf`
    /// (contract 5).
    fn read_ns(&self, pa: PhysAddr, buf: &mut [u8]) -> Result<(), NsAccessError>;
    /// Copy `buf` to Non-secure memory at `pa` (contract 5).
    fn write_ns(&self, pa: PhysAddr, buf: &[u8]) -> Result<(), NsAccessError>;
    /// Invalidate stage-2 TLB entries for `ipa` (one page or block) of the
    /// realm with `vmid`, on all CPUs (contract 6).
    fn tlbi_ipa(&self, vmid: u16, ipa: u64);
    /// Invalidate all TLB entries of the realm with `vmid`, on all CPUs.
    fn tlbi_vmid(&self, vmid: u16);
    /// The physical count (CNTPCT_EL0) now (contract 9).
    fn counter(&self) -> u64;
    /// Is a physical interrupt pending at this CPU (contract 10)?
    fn irq_pending(&self) -> bool;
    /// The sealing key versions the platform serves, `(minimum, current)`,
    /// or `None` without a sealing service (contract 11).
    fn sealing_versions(&self) -> Option<(u32, u32)>;
    /// A sealing key from the device root secret (contract 11).
    fn sealing_key(
        &self,
        policy: SealPolicy,
        identity: &[u8],
        version: u32,
    ) -> Result<[u8; 32], SealError>;
    /// Run a REC until its next exit to R-EL2 (contract 8).
    fn run_realm(
        &self,
        regs: &mut RealmRegs,
        sysregs: &mut RealmSysregs,
        fp: &mut FpState,
        gic: &mut GicState,
        s2: &Stage2,
    ) -> RealmExit;
}
