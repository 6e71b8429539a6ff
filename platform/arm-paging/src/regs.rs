//! Pure helpers computing MAIR_ELx, TCR_EL3, TCR_EL2 and SCTLR_ELx values
//! matching the descriptors built by this crate.

use crate::MapError;

/// MAIR attribute index used for [`MemType::Device`](crate::MemType::Device).
pub const MAIR_IDX_DEVICE: u8 = 0;
/// MAIR attribute index used for [`MemType::Normal`](crate::MemType::Normal).
pub const MAIR_IDX_NORMAL: u8 = 1;

/// MAIR Attr encoding 0b0000_0100: Device-nGnRE.
const MAIR_DEVICE_NGNRE: u64 = 0x04;
/// MAIR Attr encoding 0b1111_1111: Normal, outer and inner Write-Back
/// non-transient, Read-Allocate, Write-Allocate.
const MAIR_NORMAL_WB_RAWA: u64 = 0xFF;

/// Value for `MAIR_EL3` / `MAIR_EL2` (Arm ARM, MAIR_ELx description).
///
/// - Attr0 (index [`MAIR_IDX_DEVICE`]) = `0x04`, Device-nGnRE.
/// - Attr1 (index [`MAIR_IDX_NORMAL`]) = `0xFF`, Normal inner/outer WB RA WA.
/// - Attr2..Attr7 = `0x00` (Device-nGnRnE, unused).
///
/// The result is `0xFF04`.
pub const fn mair_value() -> u64 {
    (MAIR_DEVICE_NGNRE << (8 * MAIR_IDX_DEVICE as u64))
        | (MAIR_NORMAL_WB_RAWA << (8 * MAIR_IDX_NORMAL as u64))
}

/// RES1 bits 31 and 23, common to TCR_EL3 and non-VHE TCR_EL2.
const TCR_RES1: u64 = (1 << 31) | (1 << 23);
/// PS, bits [18:16].
const TCR_PS_SHIFT: u32 = 16;
/// TG0, bits [15:14] = 0b00: 4 KiB granule.
const TCR_TG0_4K: u64 = 0b00 << 14;
/// SH0, bits [13:12] = 0b11: inner shareable table walks.
const TCR_SH0_INNER: u64 = 0b11 << 12;
/// ORGN0, bits [11:10] = 0b01: outer WB RA WA table walks.
const TCR_ORGN0_WBWA: u64 = 0b01 << 10;
/// IRGN0, bits [9:8] = 0b01: inner WB RA WA table walks.
const TCR_IRGN0_WBWA: u64 = 0b01 << 8;

/// Largest PS encoding supported: 5 = 48 bits (6 = 52 bits needs LPA2).
const MAX_PS: u8 = 5;

/// Common layout of TCR_EL3 and TCR_EL2 with `HCR_EL2.E2H == 0`: both have
/// T0SZ [5:0], IRGN0 [9:8], ORGN0 [11:10], SH0 [13:12], TG0 [15:14],
/// PS [18:16] and RES1 bits 31 and 23. TBI, HA, HD, HPD and DS stay 0.
const fn tcr_common(va_bits: u32, ps: u8) -> Result<u64, MapError> {
    if va_bits < 32 || va_bits > 48 {
        return Err(MapError::InvalidVaBits(va_bits));
    }
    if ps > MAX_PS {
        return Err(MapError::InvalidPaSize(ps));
    }
    let t0sz = (64 - va_bits) as u64;
    Ok(TCR_RES1
        | ((ps as u64) << TCR_PS_SHIFT)
        | TCR_TG0_4K
        | TCR_SH0_INNER
        | TCR_ORGN0_WBWA
        | TCR_IRGN0_WBWA
        | t0sz)
}

/// Value for `TCR_EL3` (Arm ARM, TCR_EL3 description).
///
/// `va_bits` is 32..=48 (T0SZ = 64 - `va_bits`); `pa_bits_encoding` is the
/// PS field, same encoding as `ID_AA64MMFR0_EL1.PARange`: 0 = 32, 1 = 36,
/// 2 = 40, 3 = 42, 4 = 44, 5 = 48 bits. 4 KiB granule; table walks are
/// inner shareable, inner and outer WB RA WA.
///
/// Example: `tcr_el3(39, 2) == Ok(0x8082_3519)`.
///
/// # Errors
///
/// [`MapError::InvalidVaBits`] or [`MapError::InvalidPaSize`].
pub const fn tcr_el3(va_bits: u32, pa_bits_encoding: u8) -> Result<u64, MapError> {
    tcr_common(va_bits, pa_bits_encoding)
}

/// Value for `TCR_EL2` when `HCR_EL2.E2H == 0` (non-VHE, single VA range;
/// Arm ARM, TCR_EL2 description). Same fields and encodings as
/// [`tcr_el3`], including RES1 bits 31 and 23.
///
/// Example: `tcr_el2(39, 2) == Ok(0x8082_3519)`.
///
/// # Errors
///
/// [`MapError::InvalidVaBits`] or [`MapError::InvalidPaSize`].
pub const fn tcr_el2(va_bits: u32, ps: u8) -> Result<u64, MapError> {
    tcr_common(va_bits, ps)
}

/// SCTLR.M, bit 0: stage-1 MMU enable.
const SCTLR_M: u64 = 1 << 0;
/// SCTLR.C, bit 2: data accesses cacheable as the tables say.
const SCTLR_C: u64 = 1 << 2;
/// SCTLR.I, bit 12: instruction fetches cacheable as the tables say.
const SCTLR_I: u64 = 1 << 12;
/// SCTLR.WXN, bit 19: writable regions are treated as execute-never.
const SCTLR_WXN: u64 = 1 << 19;

/// Bits to OR into `SCTLR_EL3` / `SCTLR_EL2` to turn the MMU on
/// (Arm ARM, SCTLR_ELx description). Value `0x8_1005`:
///
/// - `M` (bit 0): enable stage-1 translation with these tables.
/// - `C` (bit 2): data and table-walk accesses use the cacheability from the
///   tables/TCR instead of being forced Non-cacheable.
/// - `I` (bit 12): same for instruction fetches.
/// - `WXN` (bit 19): any writable mapping is execute-never. `map` already
///   rejects writable + executable, so this is a safety net for run-time
///   descriptors.
///
/// The caller keeps the other bits (RES1 bits, `SA`, `EE`, ...) from the
/// current value, and must invalidate the TLB and issue `DSB`/`ISB` before
/// setting `M`.
pub const fn sctlr_mmu_on_bits() -> u64 {
    SCTLR_M | SCTLR_C | SCTLR_I | SCTLR_WXN
}
