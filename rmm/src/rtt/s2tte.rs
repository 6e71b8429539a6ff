//! Stage-2 translation table entry encodings (cca-rmm-abi.md §6.2, TF-RMM
//! `lib/s2tt/src/s2tt_pvt_defs.h`).
//!
//! Invalid descriptors (bits[1:0] = 00) carry RMM software state: HIPAS in
//! [4:2], RIPAS in [6:5], bit 55 marks unprotected (NS) IPAs, and the OA is
//! kept for ASSIGNED EMPTY/DESTROYED. Valid descriptors use the FWB
//! attribute encoding.

/// Descriptor type bits[1:0].
const DESC_MASK: u64 = 0b11;
const DESC_BLOCK: u64 = 0b01;
/// Page at L3, table at L0..L2.
const DESC_PAGE_OR_TABLE: u64 = 0b11;

const HIPAS_SHIFT: u32 = 2;
const HIPAS_MASK: u64 = 0b111 << HIPAS_SHIFT;
const HIPAS_ASSIGNED: u64 = 1 << HIPAS_SHIFT;
const RIPAS_SHIFT: u32 = 5;
const RIPAS_MASK: u64 = 0b11 << RIPAS_SHIFT;
/// Bit 55: the entry maps an unprotected IPA.
pub(crate) const NS: u64 = 1 << 55;

/// Output address bits [47:12] (no LPA2).
pub(crate) const OA_MASK: u64 = 0x0000_FFFF_FFFF_F000;
/// MemAttr[5:2] (FWB encoding).
pub(crate) const MEMATTR_MASK: u64 = 0b1111 << 2;
/// S2AP[7:6].
pub(crate) const S2AP_MASK: u64 = 0b11 << 6;
/// Access flag.
const AF: u64 = 1 << 10;
/// XN[54:53] = 0b10: not executable at EL1 or EL0.
const XN: u64 = 0b10 << 53;
/// assigned_ram attributes: FWB Normal WB (MemAttr 0b0110), S2AP RW,
/// inner shareable, AF.
const ATTRS_RAM: u64 = (0b0110 << 2) | (0b11 << 6) | (0b11 << 8) | AF;

/// UNASSIGNED_NS.
pub(crate) const UNASSIGNED_NS: u64 = NS;

/// Realm IPA state (§7).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ripas {
    Empty = 0,
    Ram = 1,
    Destroyed = 2,
}

/// A decoded entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum S2tte {
    Unassigned(Ripas),
    /// ASSIGNED with RIPAS EMPTY or DESTROYED (invalid descriptor + OA).
    AssignedInvalid(Ripas, u64),
    /// ASSIGNED RAM: valid page/block.
    AssignedRam(u64),
    UnassignedNs,
    /// ASSIGNED_NS: the whole descriptor (OA and host attributes).
    AssignedNs(u64),
    Table(u64),
}

impl S2tte {
    /// Decode a raw entry read from an RTT at `level`. Only this module
    /// writes RTT entries, so every raw value is one of its encodings; an
    /// unknown invalid encoding decodes as UNASSIGNED EMPTY.
    pub(crate) fn decode(e: u64, level: i64) -> S2tte {
        let oa = e & OA_MASK;
        match e & DESC_MASK {
            0 if e & NS != 0 => S2tte::UnassignedNs,
            0 => {
                let ripas = match (e & RIPAS_MASK) >> RIPAS_SHIFT {
                    1 => Ripas::Ram,
                    2 => Ripas::Destroyed,
                    _ => Ripas::Empty,
                };
                if e & HIPAS_MASK == HIPAS_ASSIGNED {
                    S2tte::AssignedInvalid(ripas, oa)
                } else {
                    S2tte::Unassigned(ripas)
                }
            }
            DESC_PAGE_OR_TABLE if level < super::PAGE_LEVEL => S2tte::Table(oa),
            _ if e & NS != 0 => S2tte::AssignedNs(e),
            _ => S2tte::AssignedRam(oa),
        }
    }

    /// Live entries are counted in the RTT's refcount (§5): assigned,
    /// assigned_ns and table.
    pub(crate) fn is_live(self) -> bool {
        !matches!(self, S2tte::Unassigned(_) | S2tte::UnassignedNs)
    }

    /// True for entries the MMU can use (a TLB may hold them).
    pub(crate) fn is_valid(self) -> bool {
        matches!(
            self,
            S2tte::AssignedRam(_) | S2tte::AssignedNs(_) | S2tte::Table(_)
        )
    }
}

const fn leaf_desc(level: i64) -> u64 {
    if level == super::PAGE_LEVEL {
        DESC_PAGE_OR_TABLE
    } else {
        DESC_BLOCK
    }
}

/// unassigned_{empty,ram,destroyed}.
pub(crate) const fn unassigned(ripas: Ripas) -> u64 {
    (ripas as u64) << RIPAS_SHIFT
}

/// assigned_{empty,destroyed} (invalid descriptor keeping the OA).
pub(crate) const fn assigned_invalid(ripas: Ripas, oa: u64) -> u64 {
    HIPAS_ASSIGNED | (ripas as u64) << RIPAS_SHIFT | (oa & OA_MASK)
}

/// assigned_ram: valid page (L3) or block (L1/L2).
pub(crate) const fn assigned_ram(oa: u64, level: i64) -> u64 {
    (oa & OA_MASK) | ATTRS_RAM | leaf_desc(level)
}

/// Host-controllable bits of an ASSIGNED_NS entry (RTT_READ_ENTRY x3).
pub(crate) const HOST_NS_MASK: u64 = OA_MASK | MEMATTR_MASK | S2AP_MASK;

/// assigned_ns from a validated host `desc`: host bits plus RMM-forced AF,
/// NS and XN.
pub(crate) const fn assigned_ns(desc: u64, level: i64) -> u64 {
    (desc & HOST_NS_MASK) | AF | NS | XN | leaf_desc(level)
}

/// A table descriptor pointing at the RTT at `pa`.
pub(crate) const fn table(pa: u64) -> u64 {
    (pa & OA_MASK) | DESC_PAGE_OR_TABLE
}

/// MemAttr value 0b0100 is reserved with FWB (§6.2).
const MEMATTR_RESERVED: u64 = 0b0100 << 2;

/// `attr_valid` / `addr_align` of RTT_MAP_UNPROTECTED: `desc` holds only
/// the OA (below 2^48), MemAttr[5:2] (not the reserved FWB value) and
/// S2AP[7:6] (§6.2, TF-RMM `host_ns_s2tte_is_valid`). Alignment of the OA
/// to `level` is checked separately ([`host_ns_oa_aligned`]).
pub(crate) const fn host_ns_desc_valid(desc: u64) -> bool {
    desc & !HOST_NS_MASK == 0 && desc & MEMATTR_MASK != MEMATTR_RESERVED
}

/// The OA of a host `desc` is aligned to an entry at `level`.
pub(crate) const fn host_ns_oa_aligned(desc: u64, level: i64) -> bool {
    super::aligned(desc & OA_MASK, level)
}
