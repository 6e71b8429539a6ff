//! Typed values of the TDX module ABI (tdx-module-abi.md §2, §4, §5).

/// 4 KiB.
pub const PAGE_SIZE: u64 = 4096;
/// 2 MiB.
pub const PAGE_2M: u64 = 1 << 21;
/// 1 GiB.
pub const GIB: u64 = 1 << 30;

/// A host physical address with the HKID bits clear.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Hpa(pub u64);

impl Hpa {
    /// Raw value.
    pub const fn raw(self) -> u64 {
        self.0
    }
    /// `self + off`.
    pub const fn add(self, off: u64) -> Hpa {
        Hpa(self.0 + off)
    }
}

/// A guest physical address (level bits stripped).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Gpa(pub u64);

/// Secure-EPT level (§1 "GPA|level"): 0 = 4 KiB ... 4 = 256 TiB (5-level root).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Level(u8);

impl Level {
    /// 4 KiB leaf level.
    pub const L0: Level = Level(0);

    /// Level `n` (0..=4).
    pub const fn new(n: u8) -> Option<Level> {
        if n <= 4 { Some(Level(n)) } else { None }
    }
    /// Numeric level.
    pub const fn get(self) -> u8 {
        self.0
    }
    /// Bytes mapped by one entry at this level.
    pub const fn entry_span(self) -> u64 {
        PAGE_SIZE << (9 * self.0 as u32)
    }
    /// Index of `gpa` in a table of this level.
    pub const fn index(self, gpa: Gpa) -> usize {
        ((gpa.0 >> (12 + 9 * self.0 as u32)) & 511) as usize
    }
}

/// PAMT page types (§4, `pamt_manager.h`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum PageType {
    /// Free convertible memory.
    Nda = 0,
    /// TDMR reserved areas, including the PAMT itself.
    Rsvd = 1,
    /// TD private page.
    Reg = 3,
    /// TD root page.
    Tdr = 4,
    /// TDCS (and, in 1.5, TDVPS extension) page.
    Tdcx = 5,
    /// vCPU root page.
    Tdvpr = 6,
    /// Secure-EPT page.
    Ept = 8,
}

impl PageType {
    /// Decode a PAMT type byte; unknown values are `None`.
    pub const fn from_u8(v: u8) -> Option<Self> {
        Some(match v {
            0 => PageType::Nda,
            1 => PageType::Rsvd,
            3 => PageType::Reg,
            4 => PageType::Tdr,
            5 => PageType::Tdcx,
            6 => PageType::Tdvpr,
            8 => PageType::Ept,
            _ => return None,
        })
    }
}

/// Module state (§5 `sys_state`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum SysState {
    /// Before TDH.SYS.INIT.
    SysinitPending = 0,
    /// After TDH.SYS.INIT.
    SysinitDone = 1,
    /// After TDH.SYS.CONFIG.
    SysconfigDone = 2,
    /// After TDH.SYS.KEY.CONFIG on every package.
    SysReady = 3,
    /// After TDH.SYS.SHUTDOWN (not implemented).
    SysShutdown = 4,
}

impl SysState {
    pub(crate) const fn from_u8(v: u8) -> Self {
        match v {
            0 => SysState::SysinitPending,
            1 => SysState::SysinitDone,
            2 => SysState::SysconfigDone,
            3 => SysState::SysReady,
            _ => SysState::SysShutdown,
        }
    }
}

/// TD lifecycle (§5 TDR.LIFECYCLE_STATE).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Lifecycle {
    /// After TDH.MNG.CREATE.
    HkidAssigned = 0,
    /// After TDH.MNG.KEY.CONFIG on every package.
    KeysConfigured = 1,
    /// After TDH.MNG.VPFLUSHDONE.
    Blocked = 2,
    /// After TDH.MNG.KEY.FREEID.
    Teardown = 3,
}

impl Lifecycle {
    pub(crate) const fn from_u64(v: u64) -> Self {
        match v {
            0 => Lifecycle::HkidAssigned,
            1 => Lifecycle::KeysConfigured,
            2 => Lifecycle::Blocked,
            _ => Lifecycle::Teardown,
        }
    }
}

/// TDCS OP_STATE (§5; only the non-migration states are reachable).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum OpState {
    /// Before TDH.MNG.INIT.
    Uninitialized = 0,
    /// After TDH.MNG.INIT.
    Initialized = 1,
    /// After TDH.MR.FINALIZE.
    Runnable = 2,
}

/// KOT entry state per HKID (§5: FREE → ASSIGNED → FLUSHED → FREE).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum KotState {
    /// Not in use.
    Free = 0,
    /// Assigned to a TD.
    Assigned = 1,
    /// Flushed (after VPFLUSHDONE).
    Flushed = 2,
    /// The module's own global private HKID (TDH.SYS.CONFIG R8).
    Reserved = 3,
}

/// A logical processor as seen by the module: its index (0..num_lps) and
/// its package (0..num_packages).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lp {
    /// LP index.
    pub index: u32,
    /// Package index.
    pub package: u32,
}

/// The SEAMCALL register file (inputs and outputs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct VmmRegs {
    pub rax: u64,
    pub rcx: u64,
    pub rdx: u64,
    pub r8: u64,
    pub r9: u64,
    pub r10: u64,
    pub r11: u64,
}
