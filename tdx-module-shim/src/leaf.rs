//! SEAMCALL leaf numbers and RAX decoding (tdx-module-abi.md §1, §2).

use crate::status::{Code, OperandId, Status, TdxResult};

/// Host-side (TDH.*) leaf numbers from §2. Leaves outside this list
/// (migration, service TDs, SYS.SHUTDOWN/UPDATE) are unknown to the shim.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u16)]
#[allow(missing_docs)]
pub enum LeafId {
    VpEnter = 0,
    MngAddCx = 1,
    MemPageAdd = 2,
    MemSeptAdd = 3,
    VpAddCx = 4,
    MemPageRelocate = 5,
    MemPageAug = 6,
    MemRangeBlock = 7,
    MngKeyConfig = 8,
    MngCreate = 9,
    VpCreate = 10,
    MngRd = 11,
    MemRd = 12,
    MngWr = 13,
    MemWr = 14,
    MemPageDemote = 15,
    MrExtend = 16,
    MrFinalize = 17,
    VpFlush = 18,
    MngVpFlushDone = 19,
    MngKeyFreeId = 20,
    MngInit = 21,
    VpInit = 22,
    MemPagePromote = 23,
    PhymemPageRdmd = 24,
    MemSeptRd = 25,
    VpRd = 26,
    MngKeyReclaimId = 27,
    PhymemPageReclaim = 28,
    MemPageRemove = 29,
    MemSeptRemove = 30,
    SysKeyConfig = 31,
    SysInfo = 32,
    SysInit = 33,
    SysRd = 34,
    SysLpInit = 35,
    SysTdmrInit = 36,
    SysRdAll = 37,
    MemTrack = 38,
    MemRangeUnblock = 39,
    PhymemCacheWb = 40,
    PhymemPageWbinvd = 41,
    MemSeptWr = 42,
    VpWr = 43,
    SysLpShutdown = 44,
    SysConfig = 45,
}

const ALL: [LeafId; 46] = {
    use LeafId::*;
    [
        VpEnter,
        MngAddCx,
        MemPageAdd,
        MemSeptAdd,
        VpAddCx,
        MemPageRelocate,
        MemPageAug,
        MemRangeBlock,
        MngKeyConfig,
        MngCreate,
        VpCreate,
        MngRd,
        MemRd,
        MngWr,
        MemWr,
        MemPageDemote,
        MrExtend,
        MrFinalize,
        VpFlush,
        MngVpFlushDone,
        MngKeyFreeId,
        MngInit,
        VpInit,
        MemPagePromote,
        PhymemPageRdmd,
        MemSeptRd,
        VpRd,
        MngKeyReclaimId,
        PhymemPageReclaim,
        MemPageRemove,
        MemSeptRemove,
        SysKeyConfig,
        SysInfo,
        SysInit,
        SysRd,
        SysLpInit,
        SysTdmrInit,
        SysRdAll,
        MemTrack,
        MemRangeUnblock,
        PhymemCacheWb,
        PhymemPageWbinvd,
        MemSeptWr,
        VpWr,
        SysLpShutdown,
        SysConfig,
    ]
};

impl LeafId {
    /// The leaf with number `n`, if the sheet lists it.
    pub fn from_u16(n: u16) -> Option<Self> {
        ALL.get(usize::from(n)).copied()
    }

    /// Leaves legal before SYS_READY (§1).
    pub const fn allowed_before_ready(self) -> bool {
        matches!(
            self,
            LeafId::SysInfo
                | LeafId::SysRd
                | LeafId::SysRdAll
                | LeafId::SysInit
                | LeafId::SysLpInit
                | LeafId::SysConfig
                | LeafId::SysKeyConfig
                | LeafId::SysLpShutdown
        )
    }

    /// Leaves that may run on an LP that has not done TDH.SYS.LP.INIT
    /// (§2 leaf 35: LP.INIT is "required on every LP before other leaves").
    pub const fn allowed_before_lp_init(self) -> bool {
        matches!(self, LeafId::SysInit | LeafId::SysLpInit)
    }

    /// Highest version the sheet allows (§1: only PAGE.PROMOTE, SEPT.ADD,
    /// SEPT.REMOVE, MNG.RD, VP.RD and VP.INIT accept version > 0).
    pub const fn max_version(self) -> u8 {
        match self {
            LeafId::MemPagePromote
            | LeafId::MemSeptAdd
            | LeafId::MemSeptRemove
            | LeafId::MngRd
            | LeafId::VpRd
            | LeafId::VpInit => 1,
            _ => 0,
        }
    }
}

/// A decoded RAX: leaf and version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Leaf {
    /// Leaf number.
    pub id: LeafId,
    /// Leaf version (RAX bits 23:16).
    pub version: u8,
}

/// Decode RAX (§1): bits 15:0 leaf, 23:16 version, all others zero.
/// Any violation, an unknown leaf or an unsupported version is
/// `TDX_OPERAND_INVALID` with operand RAX.
pub fn decode_rax(rax: u64) -> TdxResult<Leaf> {
    let bad = Status::with_operand(Code::OperandInvalid, OperandId::Rax);
    if rax >> 24 != 0 {
        return Err(bad);
    }
    let id = LeafId::from_u16((rax & 0xFFFF) as u16).ok_or(bad)?;
    let version = ((rax >> 16) & 0xFF) as u8;
    if version > id.max_version() {
        return Err(bad);
    }
    Ok(Leaf { id, version })
}
