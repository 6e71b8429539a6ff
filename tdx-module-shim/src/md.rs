//! Metadata access: the field-ID rules shared by TD scope (TDH.MNG.RD and
//! TDH.MNG.WR, here) and VP scope (TDH.VP.RD and TDH.VP.WR, `md_vp.rs`),
//! and the TD-scope field table (tdx-module-abi.md §2 leaves 11, 13).
//!
//! # Field ID encoding (ABI 1.5 "metadata field ID"; the IDs in the tables
//! are those of intel/tdx-module `include/auto_gen/*_fields_lookup.c`)
//!
//! | Bits  | Field |
//! |-------|-------|
//! | 23:0  | FIELD_CODE (element i of a table entry is base + i × stride) |
//! | 31:24 | reserved, 0 |
//! | 33:32 | ELEMENT_SIZE_CODE: 0 = 8, 1 = 16, 2 = 32, 3 = 64 bits (ignored in a request) |
//! | 37:34 | LAST_ELEMENT_IN_FIELD (0 for single-element access) |
//! | 46:38 | LAST_FIELD_IN_SEQUENCE (0 for single-element access) |
//! | 49:47 | reserved, 0 |
//! | 50    | INC_SIZE (ignored in a request; set in the table IDs of VMCS fields, whose codes step by 2) |
//! | 51    | WRITE_MASK_VALID (ignored) |
//! | 54:52 | CONTEXT_CODE (forced by the leaf: 1 = TD, 2 = VP) |
//! | 55    | reserved, 0 |
//! | 61:56 | CLASS_CODE |
//! | 62    | reserved, 0 |
//! | 63    | NON_ARCH (ignored) |
//!
//! # Rules, in the module's order (`tdh_mng_rd_wr.c`, `tdh_vp_rd_wr.c`,
//! `metadata_generic.c` `md_check_as_single_element_id`,
//! `md_read_element`, `md_write_element`, `metadata_td.c`, `metadata_vp.c`)
//!
//! After the leaf's operand and state checks:
//! 1. The context code is forced to the leaf's scope.
//! 2. Read v1 with a null ID (all bits but the context set) →
//!    `TDX_METADATA_FIRST_FIELD_ID_IN_CONTEXT` (a warning), RDX = the first
//!    readable element.
//! 3. Reserved bits or LAST_* ≠ 0 → `TDX_METADATA_FIELD_ID_INCORRECT`. The
//!    element size code is *not* checked (Linux builds every ID with size
//!    code 0: `arch/x86/kvm/vmx/tdx_arch.h` `BUILD_TDX_FIELD`).
//! 4. Class and field code not in the table → `FIELD_ID_INCORRECT`.
//! 5. The masks of the entry: the host's production or debug ones by
//!    ATTRIBUTES.DEBUG, or the guest's for TDG.VM.RD/WR (`md_get_rd_wr_mask`).
//!    - Read: read mask 0 → `TDX_METADATA_FIELD_NOT_READABLE`; R8 = value
//!      & read mask.
//!    - Write: request mask (R9) & write mask = 0 →
//!      `TDX_METADATA_FIELD_NOT_WRITABLE`; a bit set in the request mask but
//!      not writable whose value differs from the current one →
//!      `TDX_METADATA_FIELD_VALUE_NOT_VALID` (`md_check_forbidden_bits_unchanged`);
//!      the written bits are merged into the current value, the field's own
//!      checks run, the value is stored; R8 = old value & read mask.
//! 6. Read v1: RDX = the next *readable* element (`md_get_next_accessible_item`):
//!    within the entry the requested ID plus the stride, else the next
//!    readable entry's table ID; −1 at the end.
//!
//! The metadata statuses carry no operand ID. Outputs on error: R8 = 0,
//! read v1 RDX = −1. The shim exposes a subset of each table, in the
//! module's table order; "next" walks that subset.

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
    pub const TSC_OFFSET: u64 = 0x1110_0003_0000_000A;
    pub const TSC_MULTIPLIER: u64 = 0x1110_0003_0000_000B;
    pub const TSC_FREQUENCY: u64 = 0x1110_0001_0000_000C;
    pub const NOTIFY_ENABLES: u64 = 0x9110_0003_0000_0010;
    pub const HP_LOCK_TIMEOUT: u64 = 0x9110_0003_0000_0011;
    pub const MRTD: u64 = 0x1310_0003_0000_0000;
    pub const MRCONFIGID: u64 = 0x1310_0003_0000_0010;
    pub const MROWNER: u64 = 0x1310_0003_0000_0018;
    pub const MROWNERCONFIG: u64 = 0x1310_0003_0000_0020;
    pub const RTMR: u64 = 0x1310_0003_0000_0040;
}

/// HP_LOCK_TIMEOUT limits and initial value, in µs (`tdx_td_control_structures.h`:
/// 10 ms .. 100 s, default 1 s).
pub const HP_LOCK_TIMEOUT_MIN: u64 = 10_000;
/// See [`HP_LOCK_TIMEOUT_MIN`].
pub const HP_LOCK_TIMEOUT_MAX: u64 = 100_000_000;
/// See [`HP_LOCK_TIMEOUT_MIN`].
pub const HP_LOCK_TIMEOUT_DEFAULT: u64 = 1_000_000;

/// TSC_MULTIPLIER of a TD whose TSC the shim does not scale (1.0 in the
/// module's 16.48 fixed-point format).
pub const TSC_MULTIPLIER_ONE: u64 = 1 << 48;

/// Number of TDCX_PA fields in the module's table.
const TDCX_PA_FIELDS: u32 = 9;

pub(crate) const CONTEXT_MASK: u64 = 0x7 << 52;
pub(crate) const CONTEXT_TD: u64 = 1 << 52;
pub(crate) const CONTEXT_VP: u64 = 2 << 52;
const FIELD_CODE_MASK: u64 = 0xFF_FFFF;
const INC_SIZE: u64 = 1 << 50;
/// RESERVED_0 (31:24), LAST_ELEMENT (37:34), LAST_FIELD (46:38),
/// RESERVED_1 (49:47), RESERVED_2 (55), RESERVED_3 (62).
const SINGLE_ELEMENT_MBZ: u64 =
    (0xFF << 24) | (0xF << 34) | (0x1FF << 38) | (0x7 << 47) | 1 << 55 | 1 << 62;
/// A mask with every bit.
pub(crate) const ALL: u64 = u64::MAX;
/// ATTRIBUTES.DEBUG.
pub(crate) const ATTR_DEBUG: u64 = 1;

fn class(id: u64) -> u64 {
    (id >> 56) & 0x3F
}

const fn size_mask(id: u64) -> u64 {
    match (id >> 32) & 3 {
        0 => 0xFF,
        1 => 0xFFFF,
        2 => 0xFFFF_FFFF,
        _ => u64::MAX,
    }
}

/// One table entry: `fields` fields of `elems` elements each, read from
/// and written to `src`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Entry<S> {
    id: u64,
    fields: u32,
    elems: u32,
    src: S,
    /// Read mask by [`Who`]: [host on a production TD, host on a DEBUG TD,
    /// guest] (`prod_rd_mask`, `dbg_rd_mask`, `guest_rd_mask`), truncated to
    /// the element size.
    rd: [u64; 3],
    /// Write mask, likewise.
    wr: [u64; 3],
}

/// Whose masks apply: an index into [`Entry`]'s masks.
pub(crate) type Who = usize;
/// The host on a production TD; `HOST + 1` on a DEBUG TD.
pub(crate) const HOST: Who = 0;
/// The TD itself (TDG.VM.RD / TDG.VM.WR).
pub(crate) const GUEST: Who = 2;

impl<S: Copy> Entry<S> {
    /// An entry with the given host read and write masks; the guest has
    /// no access.
    pub(crate) const fn new(
        id: u64,
        fields: u32,
        elems: u32,
        src: S,
        rd: [u64; 2],
        wr: [u64; 2],
    ) -> Self {
        let m = size_mask(id);
        Entry {
            id,
            fields,
            elems,
            src,
            rd: [rd[0] & m, rd[1] & m, 0],
            wr: [wr[0] & m, wr[1] & m, 0],
        }
    }

    /// The same entry with the guest's read and write masks.
    pub(crate) const fn guest(mut self, rd: u64, wr: u64) -> Self {
        let m = size_mask(self.id);
        (self.rd[GUEST], self.wr[GUEST]) = (rd & m, wr & m);
        self
    }

    /// Field code step between elements (2 for VMCS fields).
    const fn stride(&self) -> u64 {
        if self.id & INC_SIZE != 0 { 2 } else { 1 }
    }

    const fn len(&self) -> u64 {
        self.fields as u64 * self.elems as u64
    }
}

/// The entry and element index of `id` (class + field code). The odd codes
/// of a stride-2 (VMCS) entry are the "high" halves the module refuses
/// (`md_vp_get_element`); both give `FIELD_ID_INCORRECT`.
fn find<S: Copy>(table: &[Entry<S>], id: u64) -> Option<(usize, u32)> {
    let code = id & FIELD_CODE_MASK;
    table.iter().enumerate().find_map(|(i, e)| {
        let off = code.checked_sub(e.id & FIELD_CODE_MASK)?;
        let k = off / e.stride();
        (class(id) == class(e.id) && off % e.stride() == 0 && k < e.len()).then_some((i, k as u32))
    })
}

/// The first readable element at or after element `k` of entry `i`: its
/// ID and whether it is in entry `i` itself.
fn readable_from<S: Copy>(table: &[Entry<S>], i: usize, k: u64, who: Who) -> Option<(u64, bool)> {
    let mut k = k;
    for (j, e) in table.iter().enumerate().skip(i) {
        if e.rd[who] != 0 && k < e.len() {
            return Some((e.id + k * e.stride(), j == i));
        }
        k = 0;
    }
    None
}

/// What a metadata leaf does with the field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    /// A read (v1: RDX returns the next field ID).
    Read {
        /// Version 1.
        v1: bool,
    },
    /// A write of `value` under the request mask `mask`.
    Write {
        /// R8.
        value: u64,
        /// R9.
        mask: u64,
    },
}

impl Op {
    pub(crate) const fn v1(self) -> bool {
        matches!(self, Op::Read { v1: true })
    }
}

/// The fields of one scope as a leaf sees them, with its locks held.
pub(crate) trait Fields {
    /// Where an entry's elements live.
    type Src: Copy;
    /// Element `k` of the entry whose source is `src`, before masking.
    fn get(&self, src: Self::Src, k: u32) -> u64;
    /// The field's own checks on `new` (the current value with the
    /// `combined` bits replaced), then the store.
    fn set(&mut self, src: Self::Src, k: u32, new: u64, combined: u64) -> TdxResult<()>;
}

/// Rules 1–6 of the module docs for the field ID `requested`; `regs.r8`
/// (and `regs.rdx` for a v1 read) must already hold the error outputs.
pub(crate) fn access<F: Fields>(
    f: &mut F,
    table: &[Entry<F::Src>],
    context: u64,
    who: Who,
    op: Op,
    requested: u64,
    regs: &mut VmmRegs,
) -> TdxResult<Status> {
    let id = (requested & !CONTEXT_MASK) | context;
    if op.v1() && id | CONTEXT_MASK == u64::MAX {
        regs.rdx = readable_from(table, 0, 0, who).map_or(u64::MAX, |(n, _)| n);
        return Ok(Code::MetadataFirstFieldIdInContext.into());
    }
    let bad = Status::new(Code::MetadataFieldIdIncorrect);
    if id & SINGLE_ELEMENT_MBZ != 0 {
        return Err(bad);
    }
    let (i, k) = find(table, id).ok_or(bad)?;
    let e = table.get(i).ok_or(bad)?;
    let (rd, wr) = (e.rd[who], e.wr[who]);
    let cur = f.get(e.src, k) & size_mask(e.id);
    match op {
        Op::Read { v1 } => {
            if rd == 0 {
                return Err(Code::MetadataFieldNotReadable.into());
            }
            regs.r8 = cur & rd;
            if v1 {
                regs.rdx = match readable_from(table, i, u64::from(k) + 1, who) {
                    // Within the entry: the requested ID, stepped.
                    Some((_, true)) => {
                        (id & !FIELD_CODE_MASK) | ((id & FIELD_CODE_MASK) + e.stride())
                    }
                    Some((n, false)) => n,
                    None => u64::MAX,
                };
            }
        }
        Op::Write { value, mask } => {
            let combined = wr & mask;
            if combined == 0 {
                return Err(Code::MetadataFieldNotWritable.into());
            }
            if (cur ^ value) & mask & !wr != 0 {
                return Err(Code::MetadataFieldValueNotValid.into());
            }
            f.set(e.src, k, (cur & !combined) | (value & combined), combined)?;
            regs.r8 = cur & rd;
        }
    }
    Ok(Status::SUCCESS)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Src {
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
    TscOffset,
    TscMultiplier,
    TscFrequency,
    NotifyEnables,
    HpLockTimeout,
    Mrtd,
    MrConfigId,
    MrOwner,
    MrOwnerConfig,
    Rtmr,
}

/// Read-only for the host, production and DEBUG TDs alike.
const fn ro(id: u64, fields: u32, elems: u32, src: Src) -> Entry<Src> {
    Entry::new(id, fields, elems, src, [ALL, ALL], [0, 0])
}

/// [`ro`], and readable by the guest.
const fn gro(id: u64, fields: u32, elems: u32, src: Src) -> Entry<Src> {
    ro(id, fields, elems, src).guest(ALL, 0)
}

/// The subset of `tdr_tdcs_lookup` (TDX_1.5.01) the shim exposes, with its
/// host and guest masks.
pub(crate) const TABLE: [Entry<Src>; 25] = [
    ro(field::FATAL, 1, 1, Src::Fatal),
    ro(field::NUM_TDCX, 1, 1, Src::NumTdcx),
    ro(field::CHLDCNT, 1, 1, Src::Chldcnt),
    ro(field::LIFECYCLE_STATE, 1, 1, Src::Lifecycle),
    ro(field::TDCX_PA, TDCX_PA_FIELDS, 1, Src::TdcxPa),
    ro(field::HKID, 1, 1, Src::Hkid),
    ro(field::PKG_CONFIG_BITMAP, 1, 1, Src::PkgConfig),
    gro(field::NUM_VCPUS, 1, 1, Src::NumVcpus),
    ro(field::NUM_ASSOC_VCPUS, 1, 1, Src::NumAssocVcpus),
    ro(field::OP_STATE, 1, 1, Src::OpState),
    gro(field::NUM_L2_VMS, 1, 1, Src::NumL2Vms),
    gro(field::ATTRIBUTES, 1, 1, Src::Attributes),
    gro(field::XFAM, 1, 1, Src::Xfam),
    gro(field::MAX_VCPUS, 1, 1, Src::MaxVcpus),
    gro(field::GPAW, 1, 1, Src::Gpaw),
    ro(field::TSC_OFFSET, 1, 1, Src::TscOffset),
    ro(field::TSC_MULTIPLIER, 1, 1, Src::TscMultiplier),
    gro(field::TSC_FREQUENCY, 1, 1, Src::TscFrequency),
    // The host: DEBUG TDs only. The guest: bit 0 (Linux clears it at boot).
    Entry::new(
        field::NOTIFY_ENABLES,
        1,
        1,
        Src::NotifyEnables,
        [0, ALL],
        [0, 1],
    )
    .guest(1, 1),
    Entry::new(
        field::HP_LOCK_TIMEOUT,
        1,
        1,
        Src::HpLockTimeout,
        [ALL, ALL],
        [ALL, ALL],
    ),
    gro(field::MRTD, 1, 6, Src::Mrtd),
    gro(field::MRCONFIGID, 1, 6, Src::MrConfigId),
    gro(field::MROWNER, 1, 6, Src::MrOwner),
    gro(field::MROWNERCONFIG, 1, 6, Src::MrOwnerConfig),
    // The host: DEBUG TDs only. The guest: always.
    Entry::new(field::RTMR, 4, 6, Src::Rtmr, [0, ALL], [0, 0]).guest(ALL, 0),
];

fn mr_word(m: &[u8; 48], k: u32) -> u64 {
    let mut w = [0u8; 8];
    let o = (k as usize % 6) * 8;
    w.copy_from_slice(&m[o..o + 8]);
    u64::from_le_bytes(w)
}

/// The TD scope: TDR words and the TDCS, locked by the leaf.
pub(crate) struct TdFields<'a, P: TdxPlatform> {
    pub(crate) plat: &'a P,
    pub(crate) tdr: Hpa,
    pub(crate) t: &'a mut Tdcs,
}

impl<P: TdxPlatform> Fields for TdFields<'_, P> {
    type Src = Src;

    fn get(&self, src: Src, k: u32) -> u64 {
        let rd = |w: usize| tdr::read(self.plat, self.tdr, w);
        let t = &*self.t;
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
            // The shim runs the TD on the unscaled, unoffset TSC.
            Src::TscOffset => 0,
            Src::TscMultiplier => TSC_MULTIPLIER_ONE,
            Src::TscFrequency => u64::from(t.tsc_frequency),
            Src::NotifyEnables => t.notify_enables,
            Src::HpLockTimeout => t.hp_lock_timeout,
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

    fn set(&mut self, src: Src, _k: u32, new: u64, combined: u64) -> TdxResult<()> {
        match src {
            Src::NotifyEnables => self.t.notify_enables = new,
            // Only written whole, within 10 ms .. 100 s (`metadata_td.c`
            // special write handling). The module stores TSC ticks and
            // reads back µs; the shim keeps the µs value.
            Src::HpLockTimeout => {
                if combined != ALL {
                    return Err(Code::MetadataWrMaskNotValid.into());
                }
                if !(HP_LOCK_TIMEOUT_MIN..=HP_LOCK_TIMEOUT_MAX).contains(&new) {
                    return Err(Code::MetadataFieldValueNotValid.into());
                }
                self.t.hp_lock_timeout = new;
            }
            // Write mask 0: `access` refused the write already.
            _ => return Err(Code::MetadataFieldNotWritable.into()),
        }
        Ok(())
    }
}

impl<P: TdxPlatform> Module<P> {
    /// TDH.MNG.RD v0/v1 (leaf 11): RCX = TDR, RDX = field ID → R8 = value
    /// (v1: RDX = next field ID).
    pub(crate) fn mng_rd(&self, version: u8, regs: &mut VmmRegs) -> TdxResult<Status> {
        self.mng_rd_wr(Op::Read { v1: version > 0 }, regs)
    }

    /// TDH.MNG.WR (leaf 13): RCX = TDR, RDX = field ID, R8 = value, R9 =
    /// write mask → R8 = old value.
    pub(crate) fn mng_wr(&self, regs: &mut VmmRegs) -> TdxResult<Status> {
        let op = Op::Write {
            value: regs.r8,
            mask: regs.r9,
        };
        self.mng_rd_wr(op, regs)
    }

    /// `tdh_mng_rd_wr.c`: the TDR (RCX) shared, the TD state checks and the
    /// TDCS lock, OP_STATE INITIALIZED or RUNNABLE, then the field rules.
    /// The module writes an element by compare-and-swap under a shared
    /// OP_STATE lock (`OPERAND_BUSY` + METADATA_FIELD on a lost race); the
    /// shim's TDCS lock is exclusive, so a write never races.
    fn mng_rd_wr(&self, op: Op, regs: &mut VmmRegs) -> TdxResult<Status> {
        let requested = regs.rdx;
        regs.r8 = 0;
        if op.v1() {
            regs.rdx = u64::MAX;
        }
        let g = self.lock_page(regs.rcx, OperandId::Rcx, false, PageType::Tdr)?;
        let (_, mut t) = self.lock_tdcs(g.hpa())?;
        if !matches!(t.op_state, OpState::Initialized | OpState::Runnable) {
            return Err(Code::OpStateIncorrect.into());
        }
        let who = HOST + usize::from(t.attributes & ATTR_DEBUG != 0);
        let mut f = TdFields {
            plat: &self.plat,
            tdr: g.hpa(),
            t: &mut t,
        };
        access(&mut f, &TABLE, CONTEXT_TD, who, op, requested, regs)
    }
}
