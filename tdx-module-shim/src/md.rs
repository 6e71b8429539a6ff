//! TD-scope metadata and TDH.MNG.RD (tdx-module-abi.md §2 leaf 11).
//!
//! # Field ID encoding (ABI 1.5 "metadata field ID"; the IDs below are the
//! ones of intel/tdx-module `include/auto_gen/tdr_tdcs_fields_lookup.c`)
//!
//! | Bits  | Field |
//! |-------|-------|
//! | 23:0  | FIELD_CODE (element i of a field is base + i) |
//! | 31:24 | reserved, 0 |
//! | 33:32 | ELEMENT_SIZE_CODE: 0 = 8, 1 = 16, 2 = 32, 3 = 64 bits |
//! | 37:34 | LAST_ELEMENT_IN_FIELD (0 for single-element access) |
//! | 46:38 | LAST_FIELD_IN_SEQUENCE (0 for single-element access) |
//! | 49:47 | reserved, 0 |
//! | 50    | INC_SIZE (ignored) |
//! | 51    | WRITE_MASK_VALID (ignored) |
//! | 54:52 | CONTEXT_CODE (forced to 1 = TD by TDH.MNG.RD) |
//! | 55    | reserved, 0 |
//! | 61:56 | CLASS_CODE |
//! | 62    | reserved, 0 |
//! | 63    | NON_ARCH |
//!
//! Check order of `tdh_mng_rd_wr.c` / `md_check_as_single_element_id` /
//! `md_read_element`: TDR (RCX, shared, PT_TDR), TD state (§5: FATAL,
//! KEYS_CONFIGURED, TDCS allocated, OP_STATE INITIALIZED or RUNNABLE);
//! v1 and a null field ID → `TDX_METADATA_FIRST_FIELD_ID_IN_CONTEXT` with
//! RDX = first field ID; reserved bits / LAST_* ≠ 0, unknown class+code or
//! element size ≠ the field's → `TDX_METADATA_FIELD_ID_INCORRECT`; a field
//! whose host read mask is 0 (RTMR of a non-DEBUG TD) →
//! `TDX_METADATA_FIELD_NOT_READABLE`. These metadata codes carry no operand
//! ID. Outputs: R8 = value (0 on error); v1: RDX = next element ID in the
//! shim's field list, or -1 (also -1 on error).
//!
//! The shim exposes the subset below, in the module's table order; "next"
//! walks that subset.

use crate::platform::TdxPlatform;
use crate::status::{Code, OperandId, Status, TdxResult};
use crate::tdr::{self, NUM_TDCX};
use crate::types::{Hpa, OpState, PageType, VmmRegs};
use crate::{Module, Tdcs};

/// TDR / TDCS field IDs (base element) the shim exposes.
#[allow(missing_docs)]
pub mod field {
    pub const FATAL: u64 = 0x8010_0000_0000_0001;
    pub const NUM_TDCX: u64 = 0x8010_0002_0000_0002;
    pub const CHLDCNT: u64 = 0x8010_0003_0000_0004;
    pub const LIFECYCLE_STATE: u64 = 0x8010_0002_0000_0005;
    pub const TDCX_PA: u64 = 0x8010_0003_0000_0010;
    pub const HKID: u64 = 0x8110_0001_0000_0001;
    pub const PKG_CONFIG_BITMAP: u64 = 0x8110_0003_0000_0002;
    pub const NUM_VCPUS: u64 = 0x9010_0002_0000_0001;
    pub const NUM_ASSOC_VCPUS: u64 = 0x9010_0002_0000_0002;
    pub const OP_STATE: u64 = 0x9010_0002_0000_0004;
    pub const NUM_L2_VMS: u64 = 0x9010_0001_0000_0005;
    pub const ATTRIBUTES: u64 = 0x1110_0003_0000_0000;
    pub const XFAM: u64 = 0x1110_0003_0000_0001;
    pub const MAX_VCPUS: u64 = 0x1110_0002_0000_0002;
    pub const GPAW: u64 = 0x1110_0000_0000_0003;
    pub const TSC_FREQUENCY: u64 = 0x1110_0001_0000_000C;
    pub const MRTD: u64 = 0x1310_0003_0000_0000;
    pub const MRCONFIGID: u64 = 0x1310_0003_0000_0010;
    pub const MROWNER: u64 = 0x1310_0003_0000_0018;
    pub const MROWNERCONFIG: u64 = 0x1310_0003_0000_0020;
    pub const RTMR: u64 = 0x1310_0003_0000_0040;
}

/// Number of TDCX_PA fields in the module's table.
const TDCX_PA_FIELDS: u32 = 9;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Src {
    Fatal,
    NumTdcx,
    Chldcnt,
    Lifecycle,
    TdcxPa,
    Hkid,
    PkgConfig,
    NumVcpus,
    NumAssocVcpus,
    OpState,
    NumL2Vms,
    Attributes,
    Xfam,
    MaxVcpus,
    Gpaw,
    TscFrequency,
    Mrtd,
    MrConfigId,
    MrOwner,
    MrOwnerConfig,
    Rtmr,
}

/// One table entry: `fields` fields of `elems` elements each.
#[derive(Clone, Copy, Debug)]
struct Entry {
    id: u64,
    fields: u32,
    elems: u32,
    src: Src,
    /// Host-readable only for DEBUG TDs (prod read mask 0).
    debug_only: bool,
}

const fn e(id: u64, fields: u32, elems: u32, src: Src) -> Entry {
    Entry {
        id,
        fields,
        elems,
        src,
        debug_only: false,
    }
}

const TABLE: [Entry; 21] = [
    e(field::FATAL, 1, 1, Src::Fatal),
    e(field::NUM_TDCX, 1, 1, Src::NumTdcx),
    e(field::CHLDCNT, 1, 1, Src::Chldcnt),
    e(field::LIFECYCLE_STATE, 1, 1, Src::Lifecycle),
    e(field::TDCX_PA, TDCX_PA_FIELDS, 1, Src::TdcxPa),
    e(field::HKID, 1, 1, Src::Hkid),
    e(field::PKG_CONFIG_BITMAP, 1, 1, Src::PkgConfig),
    e(field::NUM_VCPUS, 1, 1, Src::NumVcpus),
    e(field::NUM_ASSOC_VCPUS, 1, 1, Src::NumAssocVcpus),
    e(field::OP_STATE, 1, 1, Src::OpState),
    e(field::NUM_L2_VMS, 1, 1, Src::NumL2Vms),
    e(field::ATTRIBUTES, 1, 1, Src::Attributes),
    e(field::XFAM, 1, 1, Src::Xfam),
    e(field::MAX_VCPUS, 1, 1, Src::MaxVcpus),
    e(field::GPAW, 1, 1, Src::Gpaw),
    e(field::TSC_FREQUENCY, 1, 1, Src::TscFrequency),
    e(field::MRTD, 1, 6, Src::Mrtd),
    e(field::MRCONFIGID, 1, 6, Src::MrConfigId),
    e(field::MROWNER, 1, 6, Src::MrOwner),
    e(field::MROWNERCONFIG, 1, 6, Src::MrOwnerConfig),
    Entry {
        id: field::RTMR,
        fields: 4,
        elems: 6,
        src: Src::Rtmr,
        debug_only: true,
    },
];

const FIELD_CODE_MASK: u64 = 0xFF_FFFF;
const SIZE_SHIFT: u32 = 32;
const CONTEXT_MASK: u64 = 0x7 << 52;
const CONTEXT_TD: u64 = 1 << 52;
/// RESERVED_0 (31:24), LAST_ELEMENT (37:34), LAST_FIELD (46:38),
/// RESERVED_1 (49:47), RESERVED_2 (55), RESERVED_3 (62).
const SINGLE_ELEMENT_MBZ: u64 =
    (0xFF << 24) | (0xF << 34) | (0x1FF << 38) | (0x7 << 47) | 1 << 55 | 1 << 62;

fn class(id: u64) -> u64 {
    (id >> 56) & 0x3F
}

fn size_code(id: u64) -> u64 {
    (id >> SIZE_SHIFT) & 3
}

fn size_mask(id: u64) -> u64 {
    match size_code(id) {
        0 => 0xFF,
        1 => 0xFFFF,
        2 => 0xFFFF_FFFF,
        _ => u64::MAX,
    }
}

/// The entry and element index of `id` (class + field code match).
fn find(id: u64) -> Option<(usize, u32)> {
    let code = id & FIELD_CODE_MASK;
    TABLE.iter().enumerate().find_map(|(i, t)| {
        let base = t.id & FIELD_CODE_MASK;
        let n = u64::from(t.fields * t.elems);
        (class(id) == class(t.id) && code >= base && code < base + n)
            .then(|| (i, (code - base) as u32))
    })
}

/// The element ID after element `k` of entry `i`, or -1 at the end.
fn next_id(i: usize, k: u32) -> u64 {
    let t = &TABLE[i];
    if k + 1 < t.fields * t.elems {
        t.id + u64::from(k) + 1
    } else {
        TABLE.get(i + 1).map_or(u64::MAX, |n| n.id)
    }
}

fn mr_word(m: &[u8; 48], k: u32) -> u64 {
    let mut w = [0u8; 8];
    let o = (k as usize % 6) * 8;
    w.copy_from_slice(&m[o..o + 8]);
    u64::from_le_bytes(w)
}

impl<P: TdxPlatform> Module<P> {
    fn md_value(&self, tdr: Hpa, t: &Tdcs, src: Src, k: u32) -> u64 {
        let rd = |w: usize| tdr::read(&self.plat, tdr, w);
        match src {
            Src::Fatal => rd(tdr::W_FATAL),
            Src::NumTdcx => rd(tdr::W_NUM_TDCX),
            Src::Chldcnt => rd(tdr::W_CHLDCNT),
            Src::Lifecycle => rd(tdr::W_LIFECYCLE),
            Src::TdcxPa if (k as usize) < NUM_TDCX => rd(tdr::W_TDCX + k as usize),
            Src::TdcxPa => 0,
            Src::Hkid => rd(tdr::W_HKID),
            Src::PkgConfig => rd(tdr::W_PKG_CONFIG),
            Src::NumVcpus => u64::from(t.num_vcpus),
            Src::NumAssocVcpus => u64::from(t.num_assoc_vcpus),
            Src::OpState => t.op_state as u64,
            Src::NumL2Vms => 0,
            Src::Attributes => t.attributes,
            Src::Xfam => t.xfam,
            Src::MaxVcpus => u64::from(t.max_vcpus),
            Src::Gpaw => u64::from(t.gpaw52),
            Src::TscFrequency => u64::from(t.tsc_frequency),
            Src::Mrtd => mr_word(&t.mrtd_final, k),
            Src::MrConfigId => mr_word(&t.mr_config_id, k),
            Src::MrOwner => mr_word(&t.mr_owner, k),
            Src::MrOwnerConfig => mr_word(&t.mr_owner_config, k),
            Src::Rtmr => {
                let r = t.rtmr[(k / 6) as usize % 4].value();
                mr_word(&r, k % 6)
            }
        }
    }

    /// TDH.MNG.RD v0/v1 (leaf 11): RCX = TDR, RDX = field ID → R8 = value
    /// (v1: RDX = next field ID). See the module docs for the checks.
    pub(crate) fn mng_rd(&self, version: u8, regs: &mut VmmRegs) -> TdxResult<Status> {
        let v1 = version > 0;
        let requested = regs.rdx;
        regs.r8 = 0;
        if v1 {
            regs.rdx = u64::MAX;
        }
        let g = self.lock_page(regs.rcx, OperandId::Rcx, false, PageType::Tdr)?;
        let (_, t) = self.lock_tdcs(g.hpa())?;
        if !matches!(t.op_state, OpState::Initialized | OpState::Runnable) {
            return Err(Code::OpStateIncorrect.into());
        }
        let id = (requested & !CONTEXT_MASK) | CONTEXT_TD;
        if v1 && id | CONTEXT_MASK == u64::MAX {
            regs.rdx = TABLE[0].id;
            return Ok(Code::MetadataFirstFieldIdInContext.into());
        }
        let bad = Status::new(Code::MetadataFieldIdIncorrect);
        if id & SINGLE_ELEMENT_MBZ != 0 {
            return Err(bad);
        }
        let (i, k) = find(id).ok_or(bad)?;
        let entry = &TABLE[i];
        if size_code(id) != size_code(entry.id) {
            return Err(bad);
        }
        if entry.debug_only && t.attributes & 1 == 0 {
            return Err(Code::MetadataFieldNotReadable.into());
        }
        regs.r8 = self.md_value(g.hpa(), &t, entry.src, k) & size_mask(entry.id);
        if v1 {
            regs.rdx = next_id(i, k);
        }
        Ok(Status::SUCCESS)
    }
}
