//! Typed values shared by every module: physical addresses, EL3 error codes,
//! granule states, RMI function identifiers and RMI status codes.
//!
//! Everything that crosses a privilege boundary as a raw `u64`/`i64` is
//! converted into one of these types exactly once, at the boundary, so the
//! rest of the crate never handles an unchecked register value.

/// Size of a granule, the unit of delegation (RMM spec: 4 KiB granules only).
pub const GRANULE_SIZE: u64 = 4096;
/// log2 of [`GRANULE_SIZE`].
pub const GRANULE_SHIFT: u32 = 12;

/// SMCCC `SMC_UNKNOWN` (-1): the x0 value for an unknown or unimplemented FID
/// (cca-rmm-abi.md §1).
pub const SMC_UNKNOWN: u64 = u64::MAX;

/// RMI ABI version implemented: 1.0 = `(1 << 16) | 0` (cca-rmm-abi.md §2).
pub const RMI_ABI_VERSION: u64 = 0x0001_0000;

/// A physical address (any PAS). Not necessarily granule-aligned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct PhysAddr(pub u64);

impl PhysAddr {
    /// The raw address.
    pub const fn as_u64(self) -> u64 {
        self.0
    }

    /// True if the address is a multiple of [`GRANULE_SIZE`].
    pub const fn is_granule_aligned(self) -> bool {
        self.0 & (GRANULE_SIZE - 1) == 0
    }

    /// Global index of the granule that contains this address (`pa >> 12`).
    pub const fn granule_index(self) -> u64 {
        self.0 >> GRANULE_SHIFT
    }

    /// `self + off`, or `None` on overflow of the 64-bit address space.
    pub const fn checked_add(self, off: u64) -> Option<PhysAddr> {
        match self.0.checked_add(off) {
            Some(v) => Some(PhysAddr(v)),
            None => None,
        }
    }
}

/// A granule access aborted (external abort: no memory at that PA).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryFault(pub PhysAddr);

/// Error codes returned by the RMM->EL3 services in x0
/// (rmm-el3-interface.md §5; `E_RMM_OK` = 0 is the absence of an error).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(i64)]
pub enum El3Error {
    /// `E_RMM_UNK` (-1); also what EL3 answers (`SMC_UNKNOWN`) to a FID it does not know.
    Unk = -1,
    /// `E_RMM_BAD_ADDR` (-2): not a valid granule / address outside the buffer.
    BadAddr = -2,
    /// `E_RMM_BAD_PAS` (-3): the granule is not in the PAS the transition starts from.
    BadPas = -3,
    /// `E_RMM_NOMEM` (-4).
    NoMem = -4,
    /// `E_RMM_INVAL` (-5).
    Inval = -5,
    /// `E_RMM_AGAIN` (-6): retry.
    Again = -6,
    /// `E_RMM_FAULT` (-7): IDE calls.
    Fault = -7,
    /// `E_RMM_IN_PROGRESS` (-8): IDE calls.
    InProgress = -8,
}

impl El3Error {
    /// Decode an EL3 error code. `None` for 0 (`E_RMM_OK`) and for any value
    /// outside -8..=-1.
    pub const fn from_raw(raw: i64) -> Option<El3Error> {
        Some(match raw {
            -1 => El3Error::Unk,
            -2 => El3Error::BadAddr,
            -3 => El3Error::BadPas,
            -4 => El3Error::NoMem,
            -5 => El3Error::Inval,
            -6 => El3Error::Again,
            -7 => El3Error::Fault,
            -8 => El3Error::InProgress,
            _ => return None,
        })
    }

    /// Turn EL3's x0 into a `Result`: 0 is success, a known code is that
    /// error, and anything else (a value EL3 must never return) is treated as
    /// [`El3Error::Unk`] so that a misbehaving EL3 can never look like success.
    pub const fn check(raw: i64) -> Result<(), El3Error> {
        if raw == 0 {
            return Ok(());
        }
        match El3Error::from_raw(raw) {
            Some(e) => Err(e),
            None => Err(El3Error::Unk),
        }
    }

    /// The wire value (negative).
    pub const fn raw(self) -> i64 {
        self as i64
    }
}

/// Granule states of the RMM spec. The numeric values are TF-RMM's internal
/// encoding (cca-rmm-abi.md §5); the spec itself does not number them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum GranuleState {
    /// UNDELEGATED (TF-RMM "NS"): owned by the host, Non-secure PAS.
    Undelegated = 0,
    /// DELEGATED: Realm PAS, zero-filled, not yet used for any object.
    Delegated = 1,
    /// RD: Realm Descriptor.
    Rd = 2,
    /// REC: Realm Execution Context.
    Rec = 3,
    /// REC_AUX: auxiliary REC storage.
    RecAux = 4,
    /// DATA: realm memory.
    Data = 5,
    /// RTT: realm translation table.
    Rtt = 6,
}

impl GranuleState {
    /// Decode the TF-RMM numbering; `None` for values above 6.
    pub const fn from_bits(bits: u8) -> Option<GranuleState> {
        Some(match bits {
            0 => GranuleState::Undelegated,
            1 => GranuleState::Delegated,
            2 => GranuleState::Rd,
            3 => GranuleState::Rec,
            4 => GranuleState::RecAux,
            5 => GranuleState::Data,
            6 => GranuleState::Rtt,
            _ => return None,
        })
    }
}

/// SMCCC FID bit 16: SVE live-state hint (SMCCC 1.3), ORed in by TF-A.
pub const FID_SVE_HINT: u64 = 1 << 16;
/// SMCCC FID bits 23:17: must be zero (TF-A: `(fid & 0x00FE0000) != 0` is rejected).
pub const FID_MBZ_MASK: u64 = 0x00FE_0000;

/// All RMI 1.0-rel0 function identifiers (cca-rmm-abi.md §2), SMC64 fast
/// calls `0xC400_0000 | fnum`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u64)]
#[allow(missing_docs)] // The variant names are the spec's command names.
pub enum RmiFid {
    Version = 0xC400_0150,
    GranuleDelegate = 0xC400_0151,
    GranuleUndelegate = 0xC400_0152,
    DataCreate = 0xC400_0153,
    DataCreateUnknown = 0xC400_0154,
    DataDestroy = 0xC400_0155,
    RealmActivate = 0xC400_0157,
    RealmCreate = 0xC400_0158,
    RealmDestroy = 0xC400_0159,
    RecCreate = 0xC400_015A,
    RecDestroy = 0xC400_015B,
    RecEnter = 0xC400_015C,
    RttCreate = 0xC400_015D,
    RttDestroy = 0xC400_015E,
    RttMapUnprotected = 0xC400_015F,
    RttReadEntry = 0xC400_0161,
    RttUnmapUnprotected = 0xC400_0162,
    PsciComplete = 0xC400_0164,
    Features = 0xC400_0165,
    RttFold = 0xC400_0166,
    RecAuxCount = 0xC400_0167,
    RttInitRipas = 0xC400_0168,
    RttSetRipas = 0xC400_0169,
}

impl RmiFid {
    /// Every RMI 1.0 FID, in function-number order.
    pub const ALL: [RmiFid; 23] = [
        RmiFid::Version,
        RmiFid::GranuleDelegate,
        RmiFid::GranuleUndelegate,
        RmiFid::DataCreate,
        RmiFid::DataCreateUnknown,
        RmiFid::DataDestroy,
        RmiFid::RealmActivate,
        RmiFid::RealmCreate,
        RmiFid::RealmDestroy,
        RmiFid::RecCreate,
        RmiFid::RecDestroy,
        RmiFid::RecEnter,
        RmiFid::RttCreate,
        RmiFid::RttDestroy,
        RmiFid::RttMapUnprotected,
        RmiFid::RttReadEntry,
        RmiFid::RttUnmapUnprotected,
        RmiFid::PsciComplete,
        RmiFid::Features,
        RmiFid::RttFold,
        RmiFid::RecAuxCount,
        RmiFid::RttInitRipas,
        RmiFid::RttSetRipas,
    ];

    /// Decode x0 as received from EL3.
    ///
    /// * Bit 16 (SVE hint) is masked first: TF-A ORs the NS caller's hint into
    ///   the FID, and dispatching on the raw value would make every call from
    ///   an SVE-capable host `SMC_UNKNOWN` (cca-rmm-abi.md §1, §11).
    /// * Bits 23:17 are MBZ: any of them set -> `None`.
    /// * Bits 63:32 must be zero: a FID is a 32-bit value and EL3 forwards it
    ///   zero-extended, so anything else is not an RMI call.
    /// * Any other value (0x156, 0x160, 0x163, 0x16A.., RSI, PSCI, ...) -> `None`.
    pub const fn from_raw(raw: u64) -> Option<RmiFid> {
        if raw & FID_MBZ_MASK != 0 || raw >> 32 != 0 {
            return None;
        }
        Some(match raw & !FID_SVE_HINT {
            0xC400_0150 => RmiFid::Version,
            0xC400_0151 => RmiFid::GranuleDelegate,
            0xC400_0152 => RmiFid::GranuleUndelegate,
            0xC400_0153 => RmiFid::DataCreate,
            0xC400_0154 => RmiFid::DataCreateUnknown,
            0xC400_0155 => RmiFid::DataDestroy,
            0xC400_0157 => RmiFid::RealmActivate,
            0xC400_0158 => RmiFid::RealmCreate,
            0xC400_0159 => RmiFid::RealmDestroy,
            0xC400_015A => RmiFid::RecCreate,
            0xC400_015B => RmiFid::RecDestroy,
            0xC400_015C => RmiFid::RecEnter,
            0xC400_015D => RmiFid::RttCreate,
            0xC400_015E => RmiFid::RttDestroy,
            0xC400_015F => RmiFid::RttMapUnprotected,
            0xC400_0161 => RmiFid::RttReadEntry,
            0xC400_0162 => RmiFid::RttUnmapUnprotected,
            0xC400_0164 => RmiFid::PsciComplete,
            0xC400_0165 => RmiFid::Features,
            0xC400_0166 => RmiFid::RttFold,
            0xC400_0167 => RmiFid::RecAuxCount,
            0xC400_0168 => RmiFid::RttInitRipas,
            0xC400_0169 => RmiFid::RttSetRipas,
            _ => return None,
        })
    }

    /// True if the NS caller set the SMCCC 1.3 SVE hint (bit 16) in `raw`:
    /// it has no live SVE state beyond FP/SIMD. The arch code may use this to
    /// skip saving NS SVE state.
    pub const fn sve_hint(raw: u64) -> bool {
        raw & FID_SVE_HINT != 0
    }

    /// The canonical FID (bit 16 clear).
    pub const fn raw(self) -> u64 {
        self as u64
    }
}

/// RMI command status (cca-rmm-abi.md §3). Codes >= 5 belong to later specs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RmiStatus {
    /// RMI_SUCCESS (0).
    Success,
    /// RMI_ERROR_INPUT (1).
    ErrorInput,
    /// RMI_ERROR_REALM (2) with its index.
    ErrorRealm(u8),
    /// RMI_ERROR_REC (3).
    ErrorRec,
    /// RMI_ERROR_RTT (4) with the RTT level as index.
    ErrorRtt(u8),
}

impl RmiStatus {
    /// The x0 wire value: `status | (index << 8)`. This is the only
    /// conversion to the wire format in the crate.
    pub const fn to_raw(self) -> u64 {
        let (status, index) = match self {
            RmiStatus::Success => (0u64, 0u8),
            RmiStatus::ErrorInput => (1, 0),
            RmiStatus::ErrorRealm(i) => (2, i),
            RmiStatus::ErrorRec => (3, 0),
            RmiStatus::ErrorRtt(l) => (4, l),
        };
        status | (index as u64) << 8
    }
}
