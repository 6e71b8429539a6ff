//! VMSAv8-64 stage-1 descriptor encoding (Arm ARM D8.3, 4 KiB granule,
//! 48-bit output address, no FEAT_LPA2).

use crate::{Access, Attrs, MapError, MemType, Pas, Regime, TABLE_SIZE};
use crate::{MAIR_IDX_DEVICE, MAIR_IDX_NORMAL};

/// An invalid (faulting) descriptor: bit 0 clear (Arm ARM D8.3).
pub const INVALID: u64 = 0;

/// bit 0: valid.
pub(crate) const VALID: u64 = 1 << 0;
/// bit 1: 1 = table (L0-L2) or page (L3); 0 = block (L1/L2).
pub(crate) const TYPE_TABLE_PAGE: u64 = 1 << 1;
/// AttrIndx, bits [4:2]: index into MAIR_ELx.
const ATTR_IDX_SHIFT: u32 = 2;
const ATTR_IDX_MASK: u64 = 0b111 << ATTR_IDX_SHIFT;
/// bit 5: NS (output PAS, together with NSE at EL3 with FEAT_RME).
const NS: u64 = 1 << 5;
/// bit 6: AP[1]. RES1 in regimes with one privilege level (EL2, EL3;
/// Arm ARM D8.4, stage 1 data access permissions).
const AP1_RES1: u64 = 1 << 6;
/// bit 7: AP[2]; 1 = read-only.
const AP2_RO: u64 = 1 << 7;
/// SH, bits [9:8]: 0b11 inner shareable, 0b10 outer shareable.
const SH_INNER: u64 = 0b11 << 8;
const SH_OUTER: u64 = 0b10 << 8;
/// bit 10: access flag; set so the first access does not fault.
const AF: u64 = 1 << 10;
/// bit 11: NSE in the EL3 regime with FEAT_RME (nG elsewhere; RES0 in the
/// non-VHE EL2 regime). Arm ARM D8.3, block/page descriptor attributes.
const NSE: u64 = 1 << 11;
/// bit 54: XN in the EL2/EL3 regimes (bit 53, PXN, is RES0 there).
const XN: u64 = 1 << 54;

/// Output address bits [47:12] of a table/page descriptor.
pub(crate) const OA_MASK: u64 = 0x0000_FFFF_FFFF_F000;
/// Largest output address + 1 (48-bit PA).
pub(crate) const PA_LIMIT: u64 = 1 << 48;
/// Attribute bits of a block/page descriptor: everything but the output
/// address and the two type bits. Used to split blocks.
pub(crate) const LEAF_ATTR_MASK: u64 = !(OA_MASK | VALID | TYPE_TABLE_PAGE);

/// Attribute bits (upper and lower) for a leaf descriptor in `regime`.
pub(crate) fn leaf_attr_bits(attrs: Attrs, regime: Regime) -> Result<u64, MapError> {
    if attrs.exec && attrs.access == Access::ReadWrite {
        return Err(MapError::WritableExecutable);
    }
    let pas = match (regime, attrs.pas) {
        // {NSE, NS}: 00 Secure, 01 Non-secure, 10 Root, 11 Realm (EL3 + RME).
        (Regime::El3, Pas::Secure) => 0,
        (Regime::El3, Pas::NonSecure) => NS,
        (Regime::El3, Pas::Root) => NSE,
        (Regime::El3, Pas::Realm) => NSE | NS,
        // R-EL2: NS = 0 Realm, NS = 1 Non-secure; no way to reach others.
        (Regime::El2, Pas::Realm) => 0,
        (Regime::El2, Pas::NonSecure) => NS,
        (Regime::El2, Pas::Secure | Pas::Root) => return Err(MapError::InvalidPas),
    };
    let (idx, sh, xn) = match attrs.mem {
        MemType::Normal => (MAIR_IDX_NORMAL, SH_INNER, !attrs.exec),
        // Device memory is never executable (speculative fetches).
        MemType::Device => (MAIR_IDX_DEVICE, SH_OUTER, true),
    };
    let ap = match attrs.access {
        Access::ReadOnly => AP1_RES1 | AP2_RO,
        Access::ReadWrite => AP1_RES1,
    };
    let xn = if xn { XN } else { 0 };
    Ok(xn | AF | sh | ap | pas | (u64::from(idx) << ATTR_IDX_SHIFT))
}

/// Builds a level-3 page descriptor mapping the 4 KiB page at `pa`.
///
/// Meant for run-time rewriting of an L3 entry found with
/// [`PageTables::l3_table_for`](crate::PageTables::l3_table_for). The caller
/// must follow break-before-make and invalidate the TLB entry when replacing
/// a valid descriptor.
///
/// # Errors
///
/// [`MapError::Misaligned`], [`MapError::PaOutOfRange`] (48-bit PA),
/// [`MapError::InvalidPas`] or [`MapError::WritableExecutable`].
pub fn page_descriptor(pa: u64, attrs: Attrs, regime: Regime) -> Result<u64, MapError> {
    if !pa.is_multiple_of(TABLE_SIZE) {
        return Err(MapError::Misaligned);
    }
    if pa >= PA_LIMIT {
        return Err(MapError::PaOutOfRange);
    }
    Ok(pa | leaf_attr_bits(attrs, regime)? | TYPE_TABLE_PAGE | VALID)
}

/// Table descriptor pointing at a next-level table at `pa` (Arm ARM D8.3).
/// NSTable, APTable, XNTable and PXNTable are left 0 (no restriction).
pub(crate) const fn table_descriptor(pa: u64) -> u64 {
    (pa & OA_MASK) | TYPE_TABLE_PAGE | VALID
}

/// Decodes the attribute bits of a valid leaf descriptor.
pub(crate) fn decode_attrs(desc: u64, regime: Regime) -> Attrs {
    let idx = (desc & ATTR_IDX_MASK) >> ATTR_IDX_SHIFT;
    let mem = if idx == u64::from(MAIR_IDX_DEVICE) {
        MemType::Device
    } else {
        MemType::Normal
    };
    let access = if desc & AP2_RO != 0 {
        Access::ReadOnly
    } else {
        Access::ReadWrite
    };
    let pas = match (regime, desc & NSE != 0, desc & NS != 0) {
        (Regime::El3, false, false) => Pas::Secure,
        (Regime::El3, false, true) => Pas::NonSecure,
        (Regime::El3, true, false) => Pas::Root,
        (Regime::El3, true, true) => Pas::Realm,
        (Regime::El2, _, false) => Pas::Realm,
        (Regime::El2, _, true) => Pas::NonSecure,
    };
    Attrs {
        mem,
        access,
        exec: desc & XN == 0,
        pas,
    }
}
