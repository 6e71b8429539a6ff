//! RMI dispatcher and the RMI commands implemented so far (RMM spec DEN0137
//! 1.0-rel0; values in cca-rmm-abi.md §1-§3).

use core::sync::atomic::AtomicU16;

use crate::vmid::VmidSet;

use crate::attest::Attestation;
use crate::boot::{BootError, BootInfo};
use crate::features::Features;
use crate::granule::{GranuleGuard, GranuleTable};
use crate::platform::Platform;
use crate::types::{GranuleState, PhysAddr, RMI_ABI_VERSION, RmiFid, RmiStatus, SMC_UNKNOWN};

/// x0..x4 as the NS caller must see them after the command. The arch code
/// sends them to EL3 as `RMM_RMI_REQ_COMPLETE` x1..x5 (rmm-el3-interface.md §3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RmiReturn {
    /// x0 = status (or `SMC_UNKNOWN`), x1..x4 = outputs.
    pub x: [u64; 5],
}

impl RmiReturn {
    /// Status plus up to three outputs in x1..x3 (unused ones read 0, so no
    /// RMM data leaks) and the caller's own x4: SMCCC 1.2 requires x4 to be
    /// preserved when it is not a result, and EL3 always copies x0..x4 back.
    /// None of the implemented commands has a fourth output yet.
    pub(crate) fn new(status: u64, outputs: [u64; 3], caller_x4: u64) -> RmiReturn {
        RmiReturn {
            x: [status, outputs[0], outputs[1], outputs[2], caller_x4],
        }
    }

    /// A status with no outputs (x1..x3 = 0, x4 preserved).
    pub(crate) fn status(status: RmiStatus, caller_x4: u64) -> RmiReturn {
        RmiReturn::new(status.to_raw(), [0; 3], caller_x4)
    }

    /// `SMC_UNKNOWN` in x0. SMCCC defines only x0 for this case; x1..x3 are 0
    /// and x4 is preserved like for any other call.
    fn unknown(caller_x4: u64) -> RmiReturn {
        RmiReturn::new(SMC_UNKNOWN, [0; 3], caller_x4)
    }
}

/// The monitor: owns the platform, the granule table and the feature
/// values. There is no global state; the arch code keeps one `Rmm` and calls
/// [`Rmm::handle_rmi`] from every CPU (`Rmm` is `Sync`).
#[derive(Debug)]
pub struct Rmm<'a, P: Platform> {
    pub(crate) platform: P,
    pub(crate) granules: GranuleTable<'a>,
    pub(crate) features: Features,
    max_cpus: u64,
    /// VMIDs in use by realms (REALM_CREATE reserves, REALM_DESTROY frees).
    pub(crate) vmids: VmidSet,
    /// RAK, platform token and signer table (None: attestation unavailable).
    pub(crate) attest: Option<Attestation<'a>>,
}

impl<'a, P: Platform> Rmm<'a, P> {
    /// Copy a host parameter block (RmiRealmParams, RmiRecParams) in, once:
    /// `params_align` (4 KiB aligned), then `params_bound` / `params_pas`
    /// (the NS read fails), all ERROR_INPUT. The caller parses only this
    /// copy, never the host's memory again (no double fetch).
    pub(crate) fn read_params<const N: usize>(&self, pa: u64) -> Result<[u8; N], RmiStatus> {
        let pa = PhysAddr(pa);
        if !pa.is_granule_aligned() {
            return Err(RmiStatus::ErrorInput); // params_align
        }
        let mut buf = [0u8; N];
        self.platform
            .read_ns(pa, &mut buf)
            .map_err(|_| RmiStatus::ErrorInput)?; // params_bound, params_pas
        Ok(buf)
    }

    /// Build the monitor after a successful cold boot.
    ///
    /// * `storage`: at least `granule::storage_len(&boot.dram)` entries; reset here.
    /// * `reserved`: `(base, len)` ranges the RMM owns (its image, the shared
    ///   page). Granules overlapping them can never be delegated.
    ///
    /// Features start as [`Features::CONSERVATIVE`]; see [`Rmm::with_features`].
    /// Errors are `E_RMM_BOOT_UNKNOWN` (-1) class ([`BootError::Init`]).
    pub fn new(
        platform: P,
        boot: &BootInfo,
        storage: &'a [AtomicU16],
        reserved: &[(PhysAddr, u64)],
    ) -> Result<Self, BootError> {
        let granules = GranuleTable::new(boot.dram, storage).map_err(BootError::Init)?;
        for &(base, len) in reserved {
            granules.reserve(base, len).map_err(BootError::Init)?;
        }
        Ok(Rmm {
            platform,
            granules,
            features: Features::CONSERVATIVE,
            max_cpus: boot.max_cpus,
            vmids: VmidSet::new(),
            attest: None,
        })
    }

    /// Set the values reported by RMI_FEATURES (the arch reads ID registers).
    pub fn with_features(mut self, features: Features) -> Self {
        self.features = features;
        self
    }

    /// Enable realm attestation tokens (RSI_ATTEST_TOKEN_*) with the RAK
    /// and platform token fetched from EL3 at cold boot.
    pub fn with_attestation(mut self, attest: Attestation<'a>) -> Self {
        self.attest = Some(attest);
        self
    }

    /// Limit realm VMIDs to `bits` bits (8 without FEAT_VMID16, 16 with it;
    /// the default is 16). The arch reads ID_AA64MMFR1_EL1.VMIDBits.
    pub fn with_vmid_bits(self, bits: u8) -> Self {
        self.vmids.set_bits(bits);
        self
    }

    /// The platform (tests inspect the fake EL3 through this).
    pub fn platform(&self) -> &P {
        &self.platform
    }

    /// The granule table.
    pub fn granules(&self) -> &GranuleTable<'a> {
        &self.granules
    }

    /// The VMIDs in use (tests, diagnostics).
    pub fn vmids(&self) -> &VmidSet {
        &self.vmids
    }

    /// Number of CPUs from cold boot (for `validate_warm_boot`).
    pub fn max_cpus(&self) -> u64 {
        self.max_cpus
    }

    /// State of the granule at `pa` (takes its lock briefly), `None` if `pa`
    /// is in no DRAM bank or reserved for the RMM.
    pub fn granule_state(&self, pa: PhysAddr) -> Option<GranuleState> {
        self.granules.lock(pa).map(|g| g.state())
    }

    /// Handle one RMI call. `regs` = x0 (FID, possibly with the SVE hint bit)
    /// .. x7 exactly as received from EL3. Never panics; on every error the
    /// RMM state is unchanged.
    ///
    /// Implemented: VERSION, FEATURES, GRANULE_DELEGATE/UNDELEGATE,
    /// REALM_CREATE/ACTIVATE/DESTROY, REC_AUX_COUNT, REC_CREATE/DESTROY,
    /// DATA_CREATE/CREATE_UNKNOWN/DESTROY, RTT_CREATE/DESTROY/FOLD/
    /// READ_ENTRY/INIT_RIPAS/SET_RIPAS/MAP_UNPROTECTED/UNMAP_UNPROTECTED,
    /// REC_ENTER, PSCI_COMPLETE: every RMI 1.0 command. Unknown FIDs and
    /// FIDs with MBZ bits set return `SMC_UNKNOWN`.
    pub fn handle_rmi(&self, regs: &[u64; 8]) -> RmiReturn {
        let caller_x4 = regs[4];
        let Some(fid) = RmiFid::from_raw(regs[0]) else {
            return RmiReturn::unknown(caller_x4);
        };
        match fid {
            RmiFid::Version => {
                let (status, lower, higher) = rmi_version(regs[1]);
                RmiReturn::new(status.to_raw(), [lower, higher, 0], caller_x4)
            }
            RmiFid::Features => {
                let value = self.rmi_features(regs[1]);
                RmiReturn::new(RmiStatus::Success.to_raw(), [value, 0, 0], caller_x4)
            }
            RmiFid::GranuleDelegate => {
                let status = self.granule_delegate(PhysAddr(regs[1]));
                RmiReturn::new(status.to_raw(), [0; 3], caller_x4)
            }
            RmiFid::GranuleUndelegate => {
                let status = self.granule_undelegate(PhysAddr(regs[1]));
                RmiReturn::new(status.to_raw(), [0; 3], caller_x4)
            }
            RmiFid::RealmCreate => {
                RmiReturn::status(self.realm_create(regs[1], regs[2]), caller_x4)
            }
            RmiFid::RealmActivate => RmiReturn::status(self.realm_activate(regs[1]), caller_x4),
            RmiFid::RealmDestroy => RmiReturn::status(self.realm_destroy(regs[1]), caller_x4),
            RmiFid::RecAuxCount => self.rec_aux_count(regs[1], caller_x4),
            RmiFid::RttCreate => RmiReturn::status(
                self.rtt_create(regs[1], regs[2], regs[3], regs[4] as i64),
                caller_x4,
            ),
            RmiFid::RttDestroy => self.rtt_destroy(regs[1], regs[2], regs[3] as i64, caller_x4),
            RmiFid::RttReadEntry => self.rtt_read_entry(regs[1], regs[2], regs[3] as i64),
            RmiFid::RttMapUnprotected => RmiReturn::status(
                self.rtt_map_unprotected(regs[1], regs[2], regs[3] as i64, regs[4]),
                caller_x4,
            ),
            RmiFid::RttUnmapUnprotected => {
                self.rtt_unmap_unprotected(regs[1], regs[2], regs[3] as i64, caller_x4)
            }
            RmiFid::RttFold => self.rtt_fold(regs[1], regs[2], regs[3] as i64, caller_x4),
            RmiFid::RttInitRipas => self.rtt_init_ripas(regs[1], regs[2], regs[3], caller_x4),
            RmiFid::DataCreate => RmiReturn::status(
                self.data_create(regs[1], regs[2], regs[3], regs[4], regs[5]),
                caller_x4,
            ),
            RmiFid::DataCreateUnknown => RmiReturn::status(
                self.data_create_unknown(regs[1], regs[2], regs[3]),
                caller_x4,
            ),
            RmiFid::DataDestroy => self.data_destroy(regs[1], regs[2], caller_x4),
            RmiFid::RecCreate => {
                RmiReturn::status(self.rec_create(regs[1], regs[2], regs[3]), caller_x4)
            }
            RmiFid::RecDestroy => RmiReturn::status(self.rec_destroy(regs[1]), caller_x4),
            RmiFid::RecEnter => RmiReturn::status(self.rec_enter(regs[1], regs[2]), caller_x4),
            RmiFid::PsciComplete => {
                RmiReturn::status(self.psci_complete(regs[1], regs[2], regs[3]), caller_x4)
            }
            RmiFid::RttSetRipas => self.rtt_set_ripas(regs[1], regs[2], regs[3], regs[4]),
        }
    }

    /// RMI_FEATURES: index 0 is FeatureRegister0; every other index reads 0
    /// (TF-RMM behaviour, cca-rmm-abi.md §2).
    fn rmi_features(&self, index: u64) -> u64 {
        if index == 0 {
            self.features.to_reg0()
        } else {
            0
        }
    }

    /// The checks DELEGATE and UNDELEGATE share, in spec order: `gran_align`,
    /// `gran_bound`, then (under the granule lock) `gran_state`. Returns the
    /// locked granule, or ERROR_INPUT with nothing changed.
    pub(crate) fn lock_granule_in_state(
        &self,
        pa: PhysAddr,
        expected: GranuleState,
    ) -> Result<GranuleGuard<'a>, RmiStatus> {
        // gran_align
        if !pa.is_granule_aligned() {
            return Err(RmiStatus::ErrorInput);
        }
        // gran_bound: the reserved marker is immutable after init, so the
        // lock-free read is exact. Rejecting RMM-owned granules here means EL3
        // is never asked about them (rmm-el3-interface.md §9).
        if self.granules.is_reserved(pa) != Some(false) {
            return Err(RmiStatus::ErrorInput);
        }
        let g = self.granules.lock(pa).ok_or(RmiStatus::ErrorInput)?;
        // gran_state
        if g.state() != expected {
            return Err(RmiStatus::ErrorInput);
        }
        Ok(g)
    }

    /// Like [`Rmm::lock_granule_in_state`] but never waits: used for every
    /// object lock after a command's first one (lock order, crate docs). A
    /// granule locked by another CPU fails its state check (ERROR_INPUT):
    /// the host is racing two commands on one granule.
    pub(crate) fn try_lock_in_state(
        &self,
        pa: PhysAddr,
        expected: GranuleState,
    ) -> Result<GranuleGuard<'a>, RmiStatus> {
        if !pa.is_granule_aligned() || self.granules.is_reserved(pa) != Some(false) {
            return Err(RmiStatus::ErrorInput);
        }
        match self.granules.try_lock(pa) {
            Some(g) if g.state() == expected => Ok(g),
            _ => Err(RmiStatus::ErrorInput),
        }
    }

    /// RMI_GRANULE_DELEGATE. Failure conditions in the priority order of
    /// DEN0137 1.0-rel0, RMI_GRANULE_DELEGATE "Failure conditions":
    ///
    /// 1. `gran_align`: addr not 4 KiB-aligned -> ERROR_INPUT
    /// 2. `gran_bound`: addr not delegable (PaIsDelegable: in no manifest
    ///    DRAM bank, or owned by the RMM) -> ERROR_INPUT
    /// 3. `gran_state`: granule state != UNDELEGATED -> ERROR_INPUT
    /// 4. `gran_gpt`: GPT entry not GPT_NS -> ERROR_INPUT. Only EL3 knows
    ///    the GPT, so this is EL3's RMM_GTSI_DELEGATE refusing (BAD_PAS,
    ///    e.g. the granule went to Secure on an SPM request, or BAD_ADDR).
    ///
    /// Checks 1-2 need no lock; 3 and everything after run under the granule
    /// lock, so two CPUs cannot both pass `gran_state` for one granule.
    fn granule_delegate(&self, pa: PhysAddr) -> RmiStatus {
        let mut g = match self.lock_granule_in_state(pa, GranuleState::Undelegated) {
            Ok(g) => g,
            Err(status) => return status,
        };
        // gran_gpt: any EL3 error leaves the GPT and our state unchanged.
        if self.platform.gtsi_delegate(pa).is_err() {
            return RmiStatus::ErrorInput;
        }
        // Zero only now that the granule is Realm PAS: the host can no longer
        // write it, so the zeros are what the first realm object will see. The
        // scrub happens under the lock, and the Release on unlock orders it
        // before any later user of the granule.
        if self.platform.zero_granule(pa).is_err() {
            // No RAM behind this PA (a manifest bank larger than the memory
            // fitted). Undo the GPT change so nothing changed, and refuse:
            // the spec's gran_bound failure (the PA is not usable memory).
            // Undelegating a granule EL3 just delegated cannot fail with a
            // correct EL3; if it did, the granule stays Realm PAS and our
            // state UNDELEGATED, so no realm can ever use it.
            let _ = self.platform.gtsi_undelegate(pa);
            return RmiStatus::ErrorInput;
        }
        g.set_state(GranuleState::Delegated);
        RmiStatus::Success
    }

    /// RMI_GRANULE_UNDELEGATE. Failure conditions in the priority order of
    /// DEN0137 1.0-rel0, RMI_GRANULE_UNDELEGATE "Failure conditions":
    ///
    /// 1. `gran_align` -> ERROR_INPUT
    /// 2. `gran_bound` -> ERROR_INPUT
    /// 3. `gran_state`: state != DELEGATED -> ERROR_INPUT
    ///
    /// No scrub is needed: a DELEGATED granule is always zero (scrubbed on
    /// delegation and on every return to DELEGATED from an object state).
    fn granule_undelegate(&self, pa: PhysAddr) -> RmiStatus {
        let mut g = match self.lock_granule_in_state(pa, GranuleState::Delegated) {
            Ok(g) => g,
            Err(status) => return status,
        };
        // The spec has no failure condition here: with a correct EL3 this
        // cannot fail. The granule is DELEGATED only because EL3 moved it to
        // Realm PAS, only the RMM can move it back (EL3 accepts GTSI calls only
        // from Realm state), and we hold its lock, so GPT = Realm and the PA is
        // one EL3 already accepted. If EL3 misbehaves anyway, do not panic (that
        // would take down every realm on every CPU): keep it DELEGATED, which
        // matches a Realm-PAS GPT entry, and report ERROR_INPUT.
        if self.platform.gtsi_undelegate(pa).is_err() {
            return RmiStatus::ErrorInput;
        }
        g.set_state(GranuleState::Undelegated);
        RmiStatus::Success
    }
}

/// RMI_VERSION: SUCCESS iff the requested version is exactly 1.0 (TF-RMM
/// requires an exact match); lower = higher = 1.0 are returned either way.
fn rmi_version(requested: u64) -> (RmiStatus, u64, u64) {
    let status = if requested == RMI_ABI_VERSION {
        RmiStatus::Success
    } else {
        RmiStatus::ErrorInput
    };
    (status, RMI_ABI_VERSION, RMI_ABI_VERSION)
}
