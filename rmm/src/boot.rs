//! Cold and warm boot argument validation (rmm-el3-interface.md §1, §2, §6).
//!
//! The arch entry code passes the registers EL3 handed over and, for cold
//! boot, a private copy of the 4 KiB shared page (copy-in once, so no value
//! can change between check and use). The result decides the status sent to
//! EL3 with `RMM_BOOT_COMPLETE`: `Ok` -> `E_RMM_BOOT_SUCCESS`, `Err(e)` ->
//! [`BootError::code`].

use crate::manifest::{self, ConsoleInfo, DramLayout, ManifestError, SHARED_PAGE_SIZE};
use crate::types::PhysAddr;

/// Maximum CPUs supported (upper bound for x2).
pub const MAX_CPUS: u64 = 64;
/// Minimum RMM-EL3 Boot Interface version (TF-RMM rel0 needs 0.3; TF-A v2.12
/// sends 0.4, v2.13 sends 0.6).
pub const MIN_IF_VERSION: Version = Version::new(0, 3);
/// Minimum Boot Manifest version (0.3: DRAM + console; v2.13 sends 0.5).
pub const MIN_MANIFEST_VERSION: Version = Version::new(0, 3);

/// A version in the RMM-EL3 encoding: bit 31 RES0, major 30:16, minor 15:0 (§1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    /// Major (15 bits).
    pub major: u16,
    /// Minor.
    pub minor: u16,
}

impl core::fmt::Display for Version {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

impl Version {
    /// Construct from parts.
    pub const fn new(major: u16, minor: u16) -> Version {
        Version { major, minor }
    }

    /// Decode a register value. `None` if bit 31 or any bit above it is set:
    /// such a value is not a version in this encoding.
    pub const fn from_raw(raw: u64) -> Option<Version> {
        if raw >> 31 != 0 {
            return None;
        }
        Some(Version {
            major: ((raw >> 16) & 0x7FFF) as u16,
            minor: (raw & 0xFFFF) as u16,
        })
    }

    /// Encode.
    pub const fn to_raw(self) -> u64 {
        ((self.major as u64 & 0x7FFF) << 16) | self.minor as u64
    }

    /// TF-RMM rule (§1): major must match, minor must be at least the minimum.
    pub const fn is_compatible_with(self, min: Version) -> bool {
        self.major == min.major && self.minor >= min.minor
    }
}

/// Registers at RMM entry, as EL3 set them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct BootArgs {
    /// Linear CPU index.
    pub x0: u64,
    /// Cold: Boot Interface version. Warm: RES0.
    pub x1: u64,
    /// Cold: maximum number of CPUs. Warm: RES0.
    pub x2: u64,
    /// Cold: PA of the shared page. Warm: RES0.
    pub x3: u64,
}

/// Boot failures; [`BootError::code`] is the `E_RMM_BOOT_*` value (§2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BootError {
    /// `E_RMM_BOOT_UNKNOWN` (-1): RMM-internal set-up failure.
    Init(InitError),
    /// `E_RMM_BOOT_VERSION_NOT_VALID` (-2): Boot Interface version in x1 not supported.
    VersionNotValid,
    /// `E_RMM_BOOT_CPUS_OUT_OF_RANGE` (-3): x2 not in 1..=[`MAX_CPUS`].
    CpusOutOfRange,
    /// `E_RMM_BOOT_CPU_ID_OUT_OF_RANGE` (-4): x0 >= number of CPUs.
    CpuIdOutOfRange,
    /// `E_RMM_BOOT_INVALID_SHARED_BUFFER` (-5): x3 NULL or not 4 KiB-aligned.
    InvalidSharedBuffer,
    /// `E_RMM_BOOT_MANIFEST_VERSION_NOT_SUPPORTED` (-6).
    ManifestVersionNotSupported,
    /// `E_RMM_BOOT_MANIFEST_DATA_ERROR` (-7), with the reason.
    ManifestData(ManifestError),
}

/// RMM-internal initialisation failures, reported as `E_RMM_BOOT_UNKNOWN`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InitError {
    /// The granule-table storage is shorter than `granule::storage_len`.
    StorageTooSmall,
    /// A reserved range wraps around the address space.
    ReservedRangeOverflow,
    /// A reserved granule is already reserved or not UNDELEGATED.
    ReservedConflict,
}

impl BootError {
    /// The signed status for `RMM_BOOT_COMPLETE` x1.
    pub const fn code(self) -> i64 {
        match self {
            BootError::Init(_) => -1,
            BootError::VersionNotValid => -2,
            BootError::CpusOutOfRange => -3,
            BootError::CpuIdOutOfRange => -4,
            BootError::InvalidSharedBuffer => -5,
            BootError::ManifestVersionNotSupported => -6,
            BootError::ManifestData(_) => -7,
        }
    }
}

impl From<ManifestError> for BootError {
    fn from(e: ManifestError) -> BootError {
        BootError::ManifestData(e)
    }
}

/// Everything the RMM learned at cold boot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BootInfo {
    /// Number of CPUs (x2).
    pub max_cpus: u64,
    /// PA of the shared page (x3).
    pub shared_buf: PhysAddr,
    /// Boot Manifest version.
    pub manifest_version: Version,
    /// Boot Interface version (x1).
    pub if_version: Version,
    /// Validated DRAM banks.
    pub dram: DramLayout,
    /// First console, if any.
    pub console: Option<ConsoleInfo>,
}

/// Validate cold-boot registers and the manifest in `shared_page`, a copy of
/// the page at `args.x3`. Checks run in the order of the `E_RMM_BOOT_*` codes
/// (-2 .. -7), so the first failing check decides the code.
pub fn validate_cold_boot(
    args: &BootArgs,
    shared_page: &[u8; SHARED_PAGE_SIZE],
) -> Result<BootInfo, BootError> {
    // -2: x1, major 0 and minor >= 3 (accepts v2.12's 0.4 and v2.13's 0.6).
    let if_version = Version::from_raw(args.x1)
        .filter(|v| v.is_compatible_with(MIN_IF_VERSION))
        .ok_or(BootError::VersionNotValid)?;
    // -3: x2, number of CPUs.
    if args.x2 == 0 || args.x2 > MAX_CPUS {
        return Err(BootError::CpusOutOfRange);
    }
    // -4: x0, this CPU's linear index.
    if args.x0 >= args.x2 {
        return Err(BootError::CpuIdOutOfRange);
    }
    // -5: x3, shared buffer: not NULL, 4 KiB-aligned.
    let shared_buf = PhysAddr(args.x3);
    if args.x3 == 0 || !shared_buf.is_granule_aligned() {
        return Err(BootError::InvalidSharedBuffer);
    }
    // -6: manifest version, same compatibility rule.
    let manifest_version = Version::from_raw(manifest::version_word(shared_page))
        .filter(|v| v.is_compatible_with(MIN_MANIFEST_VERSION))
        .ok_or(BootError::ManifestVersionNotSupported)?;
    // -7: manifest contents.
    let m = manifest::parse(shared_page, shared_buf, manifest_version)?;
    Ok(BootInfo {
        max_cpus: args.x2,
        shared_buf,
        manifest_version,
        if_version,
        dram: m.dram,
        console: m.console,
    })
}

/// Validate warm-boot registers of a secondary CPU: x0 must be below the
/// `max_cpus` learned at cold boot.
///
/// x1..x3 are RES0 and TF-A passes 0. A non-zero value is deliberately
/// **not** an error: the Arm convention for RES0 is that the consumer must
/// not rely on the value, later interface versions may give them a meaning,
/// and failing a warm boot takes a CPU away from the host for good.
pub fn validate_warm_boot(args: &BootArgs, max_cpus: u64) -> Result<(), BootError> {
    if args.x0 >= max_cpus {
        return Err(BootError::CpuIdOutOfRange);
    }
    Ok(())
}
