//! RMI_REC_ENTER: entering a REC, the run loop and the REC exit
//! (DEN0137 1.0-rel0; RmiRecRun in cca-rmm-abi.md §4.3, entry flags, exit
//! reasons and ESR masking in §8).
//!
//! # Flow
//!
//! 1. Checks in spec order (below), with the one copy of RecRun.enter.
//! 2. The REC is marked running (granule refcount 1) and every lock is
//!    released: the realm runs with no lock held, so its RSI calls may take
//!    the RD and RTT locks in the normal order.
//! 3. The previous exit is completed (host call results, emulated MMIO
//!    read, SEA injection, RIPAS change with RIPAS_RESPONSE).
//! 4. Loop: [`Platform::run_realm`], classify the exit; either handle it in
//!    the RMM and run again, or stop with a REC exit.
//! 5. The REC context is stored back into the REC (and aux 0) **before**
//!    RecRun.exit is written once with `write_ns`. If that write faults the
//!    command returns ERROR_INPUT (as TF-RMM does) but no REC state is lost:
//!    the realm's registers and any pending operation (host call, MMIO
//!    emulation) are in the REC, and the next REC_ENTER completes them. The
//!    exit record itself is lost; an unanswered emulatable abort simply
//!    repeats (the PC was not advanced).
//! 6. The running mark is dropped.
//!
//! # Exit classification (ESR_EL2.EC)
//!
//! * 0x17 SMC64: RSI, PSCI or SMCCC_VERSION (`rsi.rs`). HCR_EL2.TSC traps
//!   the SMC with ELR at the SMC itself, so the PC is advanced by 4 first.
//! * 0x16 HVC64: UNDEF injected, no exit (§8 "HVC from a realm").
//! * 0x24 data abort: see `Rmm::handle_data_abort` (unprotected IPA:
//!   exit for the host to emulate; protected RIPAS EMPTY: SEA injected).
//! * 0x20 instruction abort: SEA injected for an IPA outside the IPA
//!   space, an unprotected IPA (never executable) or RIPAS EMPTY; else
//!   RMI_EXIT_SYNC non-emulatable.
//! * 0x01 WFI/WFE (only trapped when the host asked): RMI_EXIT_SYNC with
//!   ESR = EC + TI, PC advanced.
//! * IRQ / FIQ / SError: RMI_EXIT_IRQ / FIQ / SERROR.
//! * Anything else: UNDEF injected, no exit.
//!
//! # GIC
//!
//! Accepted RecRun.enter GIC state (TF-RMM `gic_validate_state`, ACS
//! "gicv3_hcr valid (RES0)", "gicv3_lrs valid (HW = 0)"):
//! * gicv3_hcr: only UIE, LRENPIE, NPIE, VGrp0EIE, VGrp0DIE, VGrp1EIE,
//!   VGrp1DIE (bits 1..7) and TDIR (14) may be set; EN belongs to the RMM.
//! * each of the first RmiFeatureRegister0.GICV3_NUM_LRS LRs: HW (61) = 0,
//!   pINTID (44:32) zero except EOI (41), RES0 47:45 and 59:56 zero; a
//!   non-invalid LR has a vINTID < 1020 or 8192..2^24, and no two
//!   non-invalid LRs share a vINTID. LRs beyond GICV3_NUM_LRS must be 0.
//!
//! The validated values go to the CPU's ICH_* registers through
//! `Platform::run_realm` (`GicState`); the LRs, VMCR and APRs come back on
//! every exit (VMCR and APRs are kept in the REC) with ICH_MISR_EL2, and
//! the exit reports them.
//!
//! # Modules
//!
//! * `record`: the RmiRecRun halves (entry copy-in, exit image) and the
//!   exit reason, entry flag and ESR constants.
//! * `context`: the REC context loaded for one REC_ENTER and stored back,
//!   and exception injection into the realm.
//! * `enter`: RMI_REC_ENTER's checks in spec order.
//! * `run_loop`: completing the last exit, the run loop, reporting the exit.
//! * `exit`: classifying each exception taken from the realm.

mod context;
mod enter;
mod exit;
mod record;
mod run_loop;

pub(crate) use context::{RecCtx, arch_mpidr_to_rec};
pub(crate) use exit::Next;
pub(crate) use record::RecExit;
pub use record::{GIC_LRS, enter_flags, esr, exit_reason};
