//! Completion status (RAX) and operand IDs.
//!
//! Normative: shared/spec/tdx-module-abi.md §3 (values from intel/tdx-module
//! `include/auto_gen/tdx_error_codes_defs.h`, tag `TDX_1.5.01`). Codes the
//! sheet does not list but the module source defines (TDMR/PAMT validation
//! of TDH.SYS.CONFIG, `TDX_SYS_LP_INIT_NOT_PENDING`, `TDX_TDCX_NUM_INCORRECT`,
//! operand IDs 71/72) are marked "(source)" below; they were read from the
//! same header.
//!
//! [`Status::to_raw`] is the one conversion to the 64-bit wire value: the
//! class code in bits 63:32 plus the details (operand ID, or up to four info
//! bytes for TDMR errors, `api_error_with_multiple_info`) in bits 31:0.

/// Completion status class codes (bits 63:32 of RAX; bits 31:0 are zero).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u64)]
#[allow(missing_docs)]
pub enum Code {
    Success = 0,
    NonRecoverableVcpu = 0x4000_0001_0000_0000,
    NonRecoverableTd = 0x6000_0002_0000_0000,
    InterruptedResumable = 0x8000_0003_0000_0000,
    OperandInvalid = 0xC000_0100_0000_0000,
    OperandAddrRangeError = 0xC000_0101_0000_0000,
    OperandBusy = 0x8000_0200_0000_0000,
    PreviousTlbEpochBusy = 0x8000_0201_0000_0000,
    SysBusy = 0x8000_0202_0000_0000,
    RndNoEntropy = 0x8000_0203_0000_0000,
    PageMetadataIncorrect = 0xC000_0300_0000_0000,
    PageAlreadyFree = 0x0000_0301_0000_0000,
    PageNotOwnedByTd = 0xC000_0302_0000_0000,
    PageNotFree = 0xC000_0303_0000_0000,
    TdAssociatedPagesExist = 0xC000_0400_0000_0000,
    SysInitNotPending = 0xC000_0500_0000_0000,
    SysLpInitNotDone = 0xC000_0502_0000_0000,
    SysLpInitDone = 0xC000_0503_0000_0000,
    SysNotReady = 0xC000_0505_0000_0000,
    SysShutdown = 0xC000_0506_0000_0000,
    SysKeyConfigNotPending = 0xC000_0507_0000_0000,
    /// (source)
    SysLpInitNotPending = 0xC000_050B_0000_0000,
    SysConfigNotPending = 0xC000_050C_0000_0000,
    TdFatal = 0xE000_0604_0000_0000,
    TdNonDebug = 0xC000_0605_0000_0000,
    TdcsNotAllocated = 0xC000_0606_0000_0000,
    LifecycleStateIncorrect = 0xC000_0607_0000_0000,
    OpStateIncorrect = 0xC000_0608_0000_0000,
    /// (source)
    TdcxNumIncorrect = 0xC000_0610_0000_0000,
    /// (source) Details: the conflicting x2APIC ID.
    X2apicIdNotUnique = 0xC000_0621_0000_0000,
    VcpuStateIncorrect = 0xC000_0700_0000_0000,
    VcpuAssociated = 0x8000_0701_0000_0000,
    VcpuNotAssociated = 0x8000_0702_0000_0000,
    NoValidVeInfo = 0xC000_0704_0000_0000,
    MaxVcpusExceeded = 0xC000_0705_0000_0000,
    InvalidReportMacStruct = 0xC000_1001_0000_0000,
    KeyGenerationFailed = 0x8000_0800_0000_0000,
    TdKeysNotConfigured = 0x8000_0810_0000_0000,
    KeyStateIncorrect = 0xC000_0811_0000_0000,
    /// Warning.
    KeyConfigured = 0x0000_0815_0000_0000,
    WbcacheNotComplete = 0x8000_0817_0000_0000,
    HkidNotFree = 0xC000_0820_0000_0000,
    /// Warning (source).
    NoHkidReadyToWbcache = 0x0000_0821_0000_0000,
    /// (source)
    WbcacheResumeError = 0xC000_0823_0000_0000,
    FlushvpNotDone = 0x8000_0824_0000_0000,
    InvalidTdmr = 0xC000_0A00_0000_0000,
    /// (source)
    NonOrderedTdmr = 0xC000_0A01_0000_0000,
    /// (source)
    TdmrOutsideCmrs = 0xC000_0A02_0000_0000,
    /// Warning.
    TdmrAlreadyInitialized = 0x0000_0A03_0000_0000,
    /// (source)
    InvalidPamt = 0xC000_0A10_0000_0000,
    /// (source)
    PamtOutsideCmrs = 0xC000_0A11_0000_0000,
    /// (source)
    PamtOverlap = 0xC000_0A12_0000_0000,
    /// (source)
    InvalidReservedInTdmr = 0xC000_0A20_0000_0000,
    /// (source)
    NonOrderedReservedInTdmr = 0xC000_0A21_0000_0000,
    EptWalkFailed = 0xC000_0B00_0000_0000,
    EptEntryFree = 0xC000_0B01_0000_0000,
    EptEntryNotFree = 0xC000_0B02_0000_0000,
    GpaRangeNotBlocked = 0xC000_0B06_0000_0000,
    /// Warning.
    GpaRangeAlreadyBlocked = 0x0000_0B07_0000_0000,
    TlbTrackingNotDone = 0xC000_0B08_0000_0000,
    /// Warning; details: the SEPT level.
    PageAlreadyAccepted = 0x0000_0B0A_0000_0000,
    /// Details: the SEPT level.
    PageSizeMismatch = 0xC000_0B0B_0000_0000,
    EptEntryStateIncorrect = 0xC000_0B0D_0000_0000,
    /// (source) TDH.MEM.SEPT.REMOVE of a SEPT page with a non-FREE entry.
    EptPageNotFree = 0xC000_0B0E_0000_0000,
    MetadataFieldIdIncorrect = 0xC000_0C00_0000_0000,
    MetadataFieldNotWritable = 0xC000_0C01_0000_0000,
    MetadataFieldNotReadable = 0xC000_0C02_0000_0000,
    /// (source) A metadata write whose value the field refuses.
    MetadataFieldValueNotValid = 0xC000_0C03_0000_0000,
    /// (source) TDH.SYS.RDALL: the list buffer is full, more fields remain.
    MetadataListOverflow = 0xC000_0C04_0000_0000,
    /// (source) A write mask the field does not accept (e.g. a partial
    /// write of a field that is only written whole).
    MetadataWrMaskNotValid = 0xC000_0C0A_0000_0000,
    /// Warning (source): TDH.MNG.RD v1 with a null field ID.
    MetadataFirstFieldIdInContext = 0x0000_0C0B_0000_0000,
}

/// Operand IDs added into bits 31:0 (§3 "Operand IDs").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
#[allow(missing_docs)]
pub enum OperandId {
    Rax = 0,
    Rcx = 1,
    Rdx = 2,
    Rbx = 3,
    Rbp = 5,
    Rsi = 6,
    Rdi = 7,
    R8 = 8,
    R9 = 9,
    R10 = 10,
    R11 = 11,
    R12 = 12,
    R13 = 13,
    R14 = 14,
    R15 = 15,
    Attributes = 64,
    Xfam = 65,
    ExecControls = 66,
    EptpControls = 67,
    MaxVcpus = 68,
    CpuidConfig = 69,
    TscFrequency = 70,
    /// (source)
    NumL2Vms = 71,
    /// (source)
    Ia32ArchCapabilitiesConfig = 72,
    TdmrInfoPa = 96,
    Tdr = 128,
    Tdcx = 129,
    Tdvpr = 130,
    Tdcs = 144,
    Tdvps = 145,
    SeptTree = 146,
    SeptEntry = 147,
    Rtmr = 168,
    TdEpoch = 169,
    OpState = 172,
    /// (source) A metadata element whose atomic update lost a race.
    MetadataField = 176,
    Sys = 184,
    Tdmr = 185,
    Kot = 186,
    Ket = 187,
    Wbcache = 188,
}

/// A completion status: a [`Code`] plus its 32-bit details field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Status {
    code: Code,
    details: u32,
}

impl Status {
    /// `TDX_SUCCESS`.
    pub const SUCCESS: Status = Status::new(Code::Success);

    /// A status with zero details.
    pub const fn new(code: Code) -> Self {
        Status { code, details: 0 }
    }

    /// A status naming the operand that caused it.
    pub const fn with_operand(code: Code, op: OperandId) -> Self {
        Status {
            code,
            details: op as u32,
        }
    }

    /// A status with raw details (e.g. the x2APIC ID of
    /// `TDX_X2APIC_ID_NOT_UNIQUE`).
    pub const fn with_details(code: Code, details: u32) -> Self {
        Status { code, details }
    }

    /// A status with up to four info bytes (the TDMR errors of
    /// TDH.SYS.CONFIG: TDMR index, PAMT level, other index).
    pub const fn with_info(code: Code, info: [u8; 4]) -> Self {
        Status {
            code,
            details: u32::from_le_bytes(info),
        }
    }

    /// The class code.
    pub const fn code(self) -> Code {
        self.code
    }

    /// Bits 31:0.
    pub const fn details(self) -> u32 {
        self.details
    }

    /// True for bit 63 (ERROR) set.
    pub const fn is_error(self) -> bool {
        self.to_raw() >> 63 != 0
    }

    /// The 64-bit RAX value: the only wire conversion.
    pub const fn to_raw(self) -> u64 {
        self.code as u64 | self.details as u64
    }
}

impl From<Code> for Status {
    fn from(code: Code) -> Self {
        Status::new(code)
    }
}

/// Result of an internal step: `Err` carries the status to return.
pub type TdxResult<T> = Result<T, Status>;

/// Shorthand: `Err(code + operand)`.
pub(crate) fn err<T>(code: Code, op: OperandId) -> TdxResult<T> {
    Err(Status::with_operand(code, op))
}
