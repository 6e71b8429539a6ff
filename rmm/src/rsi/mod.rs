//! Realm SMCs: RSI 1.0 (cca-rmm-abi.md §9, REMs per cca-attestation.md §3),
//! realm PSCI (§10) and SMCCC_VERSION (§1), handled in the REC_ENTER run
//! loop; and RMI_PSCI_COMPLETE.
//!
//! x0 carries the FID: only its low 32 bits count (SMCCC), and bit 16 (the
//! SVE hint) is masked before dispatch, as for RMI (§1). Results go to
//! x0.. of the realm; registers that are not results are preserved. FIDs
//! the RMM does not implement answer SMC_UNKNOWN (-1, which is also PSCI
//! NOT_SUPPORTED). RSI_IPA_STATE_SET is in `ripas.rs`, the attestation
//! token in `attest_token.rs`.
//!
//! RSI commands that name realm memory (REALM_CONFIG, HOST_CALL) take the
//! RD lock, walk the RTTs and map the DATA granule while the L3 RTT is
//! locked, so DATA_DESTROY cannot race the access. A protected page with
//! RIPAS RAM that is not mapped makes the REC exit with a stage-2
//! translation fault for that page and the SMC is re-executed after the
//! host mapped it (TF-RMM); any other unusable address is RSI_ERROR_INPUT.

use core::sync::atomic::Ordering;

use cmon_measure::{HasherWith, Measurement};

use crate::platform::{GranuleWords, Platform, Slot};
use crate::realm::{
    RD_HASH_WORD, RD_REC_COUNT_WORD, RD_REM_WORD, RD_RIM_WORD, RD_RPV_WORD, RD_STATE_WORD,
    RealmInfo, RealmState,
};
use crate::rec::{PSTATE_INIT, SCTLR_EL1_INIT, SysReg, layout, mpidr_to_index};
use crate::rmi::Rmm;
use crate::rtt::s2tte::{Ripas, S2tte};
use crate::rtt::{ENTRIES, PAGE_LEVEL, level_size};
use crate::run::{Next, RecCtx, RecExit, arch_mpidr_to_rec, exit_reason};
use crate::types::{FID_SVE_HINT, GRANULE_SIZE, GranuleState, PhysAddr, RmiStatus, SMC_UNKNOWN};

/// RSI ABI version 1.0.
pub const RSI_ABI_VERSION: u64 = 0x1_0000;
/// SMCCC version reported to realms (v1.2).
pub const SMCCC_VERSION_1_2: u64 = 0x1_0002;
/// PSCI version reported to realms (1.1).
pub const PSCI_VERSION_1_1: u64 = 0x1_0001;

/// Realm-facing FIDs (bit 16 clear).
#[allow(missing_docs)]
pub mod fid {
    pub const SMCCC_VERSION: u64 = 0x8000_0000;
    pub const RSI_VERSION: u64 = 0xC400_0190;
    pub const RSI_FEATURES: u64 = 0xC400_0191;
    pub const RSI_MEASUREMENT_READ: u64 = 0xC400_0192;
    pub const RSI_MEASUREMENT_EXTEND: u64 = 0xC400_0193;
    pub const RSI_ATTEST_TOKEN_INIT: u64 = 0xC400_0194;
    pub const RSI_ATTEST_TOKEN_CONTINUE: u64 = 0xC400_0195;
    pub const RSI_REALM_CONFIG: u64 = 0xC400_0196;
    pub const RSI_IPA_STATE_SET: u64 = 0xC400_0197;
    pub const RSI_IPA_STATE_GET: u64 = 0xC400_0198;
    pub const RSI_HOST_CALL: u64 = 0xC400_0199;
    pub const PSCI_VERSION: u64 = 0x8400_0000;
    pub const PSCI_CPU_SUSPEND: u64 = 0x8400_0001;
    pub const PSCI_CPU_SUSPEND64: u64 = 0xC400_0001;
    pub const PSCI_CPU_OFF: u64 = 0x8400_0002;
    pub const PSCI_CPU_ON: u64 = 0x8400_0003;
    pub const PSCI_CPU_ON64: u64 = 0xC400_0003;
    pub const PSCI_AFFINITY_INFO: u64 = 0x8400_0004;
    pub const PSCI_AFFINITY_INFO64: u64 = 0xC400_0004;
    pub const PSCI_SYSTEM_OFF: u64 = 0x8400_0008;
    pub const PSCI_SYSTEM_RESET: u64 = 0x8400_0009;
    pub const PSCI_FEATURES: u64 = 0x8400_000A;
}

/// RSI status codes (§9).
#[allow(missing_docs)]
pub mod status {
    pub const SUCCESS: u64 = 0;
    pub const ERROR_INPUT: u64 = 1;
    pub const ERROR_STATE: u64 = 2;
    pub const INCOMPLETE: u64 = 3;
    pub const ERROR_UNKNOWN: u64 = 4;
}

/// PSCI return codes (DEN0022), as 64-bit register values.
#[allow(missing_docs)]
pub mod psci {
    pub const SUCCESS: u64 = 0;
    pub const NOT_SUPPORTED: u64 = -1i64 as u64;
    pub const INVALID_PARAMS: u64 = -2i64 as u64;
    pub const DENIED: u64 = -3i64 as u64;
    pub const ALREADY_ON: u64 = -4i64 as u64;
    pub const INVALID_ADDRESS: u64 = -9i64 as u64;
    /// AFFINITY_INFO: ON / OFF.
    pub const ON: u64 = 0;
    pub const OFF: u64 = 1;
}

/// Why a realm page could not be used.
enum PageError {
    /// Not a usable address: RSI_ERROR_INPUT.
    Input,
    /// RIPAS RAM but not mapped: stage-2 fault exit at this walk level.
    Unmapped(i64),
}

mod attest_token;
mod host_call;
mod ipa_state;
mod measurement;
mod psci_calls;
mod realm_config;
mod sealing;

pub use sealing::{CMON_RSI_SEALING_KEY, CMON_RSI_SEALING_VERSIONS, SEAL_FLAG_RPV};

impl<P: Platform> Rmm<'_, P> {
    /// Run `f` on the DATA granule mapped at protected `ipa` of the realm
    /// `rd`, under the RD and RTT locks.
    fn with_realm_page<R>(
        &self,
        rd: PhysAddr,
        ipa: u64,
        f: impl FnOnce(&GranuleWords) -> R,
    ) -> Result<R, PageError> {
        let (_rd_g, realm) = self.lock_rd(rd.0).map_err(|_| PageError::Input)?;
        if ipa >= realm.par_end() {
            return Err(PageError::Input);
        }
        let page = ipa & !(GRANULE_SIZE - 1);
        let walk = self
            .rtt_walk(&realm, page, PAGE_LEVEL)
            .map_err(|_| PageError::Input)?;
        match S2tte::decode(self.rtt_read(&walk.table, walk.index), walk.level) {
            S2tte::AssignedRam(oa) => {
                let pa = oa + (page & (level_size(walk.level) - 1));
                let m = self.platform.map_granule(PhysAddr(pa), Slot::Data);
                Ok(f(&m))
            }
            S2tte::Unassigned(Ripas::Ram) => Err(PageError::Unmapped(walk.level)),
            _ => Err(PageError::Input),
        }
    }

    /// An SMC from the realm (EC 0x17). The trapped SMC's ELR points at the
    /// SMC (HCR_EL2.TSC), so the PC is advanced past it first.
    pub(crate) fn handle_smc(&self, ctx: &mut RecCtx, realm: &RealmInfo) -> Next {
        ctx.regs.pc = ctx.regs.pc.wrapping_add(4);
        let x = ctx.regs.gprs;
        let f = (x[0] & 0xFFFF_FFFF) & !FID_SVE_HINT;
        let ret = |ctx: &mut RecCtx, vals: &[u64]| {
            ctx.regs.gprs[..vals.len()].copy_from_slice(vals);
        };
        match f {
            fid::SMCCC_VERSION => ret(ctx, &[SMCCC_VERSION_1_2]),
            fid::RSI_VERSION => {
                let s = if x[1] == RSI_ABI_VERSION {
                    status::SUCCESS
                } else {
                    status::ERROR_INPUT
                };
                ret(ctx, &[s, RSI_ABI_VERSION, RSI_ABI_VERSION]);
            }
            fid::RSI_FEATURES => ret(ctx, &[status::SUCCESS, 0]),
            fid::RSI_MEASUREMENT_READ => {
                let v = self.measurement_read(ctx.rd, x[1]);
                match v {
                    Some(words) => {
                        ret(ctx, &[status::SUCCESS]);
                        ctx.regs.gprs[1..9].copy_from_slice(&words);
                    }
                    None => ret(ctx, &[status::ERROR_INPUT]),
                }
            }
            fid::RSI_MEASUREMENT_EXTEND => {
                let data: [u64; 8] = core::array::from_fn(|i| x[3 + i]);
                let s = self.measurement_extend(ctx.rd, x[1], x[2], &data);
                ret(ctx, &[s]);
            }
            fid::RSI_ATTEST_TOKEN_INIT => {
                self.attest_token_init(ctx, core::array::from_fn(|i| x[1 + i]));
            }
            fid::RSI_ATTEST_TOKEN_CONTINUE => {
                return self.attest_token_continue(ctx, [x[1], x[2], x[3]]);
            }
            fid::RSI_REALM_CONFIG => return self.realm_config(ctx, x[1]),
            CMON_RSI_SEALING_VERSIONS => self.sealing_versions(ctx),
            CMON_RSI_SEALING_KEY => self.sealing_key(ctx, x[1], x[2]),
            fid::RSI_IPA_STATE_GET => {
                let r = self.ipa_state_get(ctx.rd, x[1], x[2]);
                match r {
                    Some((top, ripas)) => ret(ctx, &[status::SUCCESS, top, ripas]),
                    None => ret(ctx, &[status::ERROR_INPUT]),
                }
            }
            fid::RSI_IPA_STATE_SET => {
                return self.ipa_state_set(ctx, realm, [x[1], x[2], x[3], x[4]]);
            }
            fid::RSI_HOST_CALL => return self.host_call(ctx, x[1]),
            fid::PSCI_VERSION
            | fid::PSCI_CPU_SUSPEND
            | fid::PSCI_CPU_SUSPEND64
            | fid::PSCI_CPU_OFF
            | fid::PSCI_CPU_ON
            | fid::PSCI_CPU_ON64
            | fid::PSCI_AFFINITY_INFO
            | fid::PSCI_AFFINITY_INFO64
            | fid::PSCI_SYSTEM_OFF
            | fid::PSCI_SYSTEM_RESET
            | fid::PSCI_FEATURES => return self.realm_psci(ctx, realm, f),
            0x8400_0000..=0x8400_001F | 0xC400_0000..=0xC400_001F => {
                ret(ctx, &[psci::NOT_SUPPORTED]);
            }
            _ => ret(ctx, &[SMC_UNKNOWN]),
        }
        Next::Resume
    }

    /// Common end of the RSI commands that touch realm memory.
    fn rsi_page_result(&self, ctx: &mut RecCtx, ipa: u64, r: Result<u64, PageError>) -> Next {
        match r {
            Ok(s) => {
                ctx.regs.gprs[0] = s;
                Next::Resume
            }
            Err(PageError::Input) => {
                ctx.regs.gprs[0] = status::ERROR_INPUT;
                Next::Resume
            }
            Err(PageError::Unmapped(level)) => {
                // Re-execute the SMC once the host has mapped the page.
                ctx.regs.pc = ctx.regs.pc.wrapping_sub(4);
                Next::Exit(Self::s2_fault_exit(ipa, level))
            }
        }
    }
}
