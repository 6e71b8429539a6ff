//! Realm Management Monitor logic (RMI/RSI), host-testable.
//!
//! This crate is the architecture-independent half of an Arm CCA RMM running
//! at R-EL2, implementing RMM spec DEN0137 1.0-rel0 (RMI 1.0) against the
//! RMM-EL3 interface spoken by TF-A v2.12/v2.13. The AArch64 glue
//! (`rmm-image`) owns the exception vectors, the SMC instructions and the MMU;
//! everything that decides *what* to do lives here and is exercised on the
//! host with `fake-platform`.
//!
//! # Design
//!
//! * **Boundary typing.** Registers from EL3 and the NS host are decoded once
//!   into [`types`] values ([`PhysAddr`], [`RmiFid`], [`El3Error`], ...);
//!   statuses are encoded once ([`RmiStatus::to_raw`]).
//! * **Copy-in.** Boot validation ([`boot`], [`manifest`]) reads a private copy
//!   of the shared page, never the page itself: no double fetch.
//! * **No global state, no alloc, no unsafe.** [`Rmm`] owns the [`Platform`],
//!   the [`GranuleTable`] (over caller-provided `AtomicU16` storage) and the
//!   [`Features`]. Host tests build as many independent monitors as they like
//!   and run them in parallel.
//! * **Hardware behind one trait.** [`Platform`] (GTSI calls to EL3, granule
//!   zeroing and mapping, NS copies, TLB invalidation) is the only way out
//!   of the crate.
//! * **SMP.** [`Rmm::handle_rmi`] takes `&self` and may run on every CPU at
//!   once. Granule state changes happen only under that granule's spin lock
//!   ([`granule::GranuleGuard`], Acquire/Release). EL3 calls are made
//!   while holding the lock of the granule concerned, which serialises the
//!   GPT transition with our state change.
//! * **Lock order** (commands that hold several granule locks):
//!   1. the RD of an existing realm (blocking);
//!   2. RTTs, parent before child, root to leaf (blocking; a walk locks the
//!      child before releasing the parent, hand over hand);
//!   3. object granules: a REC before its REC_AUX granules; DATA;
//!      DELEGATED granules being claimed as a new RD/RTT/DATA/REC/REC_AUX.
//!      A command that holds no lock may wait for its first one. A
//!      DELEGATED candidate taken while other locks are held always uses
//!      `try_lock`, and a busy granule fails that granule's state check
//!      (ERROR_INPUT): the host is racing two commands on one granule.
//!      Granules that already belong to the realm are waited for in this
//!      order: DATA_DESTROY waits for its DATA granule under the RD and the
//!      L3 RTT, REC_DESTROY for the REC under the RD and for the REC_AUX
//!      granules under the REC. Nobody waits while holding a DATA, REC_AUX
//!      or candidate lock, nobody waits for a REC while holding a REC_AUX,
//!      and nobody waits for a parent RTT or an RD while holding an RTT or
//!      an object, so there is no cycle. REC_DESTROY learns its RD from the
//!      REC, so it reads it under the REC lock, releases it, and then takes
//!      RD -> REC in order (re-checking the REC). REC_ENTER does the same,
//!      marks the REC running (refcount 1) and releases every lock before
//!      the realm runs; RSI calls made by the realm then take RD -> RTTs
//!      (-> DATA) like any command. PSCI_COMPLETE takes RD -> its two RECs
//!      in ascending PA order (waiting for the higher while holding the
//!      lower; nobody waits for a lower REC while holding a higher one).
//!      RTT_SET_RIPAS takes RD -> REC (read, then released) -> RTTs, and
//!      the REC again after the RTTs are released to store its progress; a
//!      REC that is not running cannot change while its RD is held.
//!      Exception: REALM_DESTROY waits for its own root RTTs under its RD
//!      (level 2 after level 1).
//!
//!   Every command gathers its locks, evaluates all failure conditions in
//!   the spec's priority order, and only then changes state, so a failing
//!   command changes nothing.
//! * **Errors never panic.** Bad input yields an RMI error status with all
//!   state unchanged; impossible-with-a-correct-EL3 failures are reported as
//!   errors too, not panics.
//!
//! # Boot flow for the arch code
//!
//! 1. Copy the shared page at x3 once into RMM memory.
//! 2. [`boot::validate_cold_boot`]; on `Err(e)` report `e.code()` with
//!    `RMM_BOOT_COMPLETE`.
//! 3. Carve `granule::storage_len(&info.dram)` `AtomicU16`s, then
//!    [`Rmm::new`] with the RMM image and the shared page as reserved ranges,
//!    and [`Rmm::with_features`]; fetch the RAK and the platform token from
//!    EL3 and hand them over with [`Rmm::with_attestation`].
//! 4. Secondary CPUs: [`boot::validate_warm_boot`].
//! 5. Per RMI call: [`Rmm::handle_rmi`] and return `x` via `RMM_RMI_REQ_COMPLETE`.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod attest;
pub mod boot;
mod data;
pub mod features;
pub mod granule;
pub mod manifest;
pub mod platform;
pub mod realm;
pub mod rec;
mod rim;
pub mod ripas;
pub mod rmi;
pub mod rsi;
pub(crate) mod rtt;
pub mod run;
pub mod timer;
pub mod types;
pub mod vmid;

pub use attest::{AttestSetupError, Attestation, Rak};
pub use boot::{BootArgs, BootError, BootInfo, validate_cold_boot, validate_warm_boot};
pub use features::Features;
pub use granule::{GranuleGuard, GranuleTable, storage_len};
pub use manifest::{ConsoleInfo, DramBank, DramLayout};
pub use platform::{
    ExitKind, FpState, GRANULE_WORDS, GicState, GranuleWords, NsAccessError, Platform, RealmExit,
    RealmRegs, RealmSysregs, SealError, SealPolicy, Slot, Stage2,
};
pub use rmi::{RmiReturn, Rmm};
pub use types::{
    El3Error, GRANULE_SIZE, GranuleState, MemoryFault, PhysAddr, RmiFid, RmiStatus, SMC_UNKNOWN,
};
