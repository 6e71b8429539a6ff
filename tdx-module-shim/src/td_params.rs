//! TD_PARAMS (tdx-module-abi.md §6.1) parsing and validation.
//!
//! The shim supports a strict subset and rejects everything else with
//! `TDX_OPERAND_INVALID` plus the field's operand ID (§3): unsupported
//! ATTRIBUTES bits (ATTRIBUTES), XFAM outside fixed0/fixed1 (XFAM),
//! MAX_VCPUS 0 or above [`MAX_VCPUS`] (MAX_VCPUS), NUM_L2_VMS ≠ 0
//! (NUM_L2_VMS), EPTP_CONTROLS other than WB with the page-walk length
//! that matches GPAW (EPTP_CONTROLS), unknown CONFIG_FLAGS bits
//! (EXEC_CONTROLS), TSC_FREQUENCY outside 4..=400 (TSC_FREQUENCY),
//! MSR_CONFIG_CTLS / IA32_ARCH_CAPABILITIES_CONFIG ≠ 0
//! (IA32_ARCH_CAPABILITIES_CONFIG), any reserved byte or CPUID_CONFIG
//! entry ≠ 0 (RDX: NUM_CPUID_CONFIG is 0, so the whole CPUID area is
//! reserved).

use crate::status::{Code, OperandId, Status, TdxResult};

/// TD_PARAMS size and alignment.
pub const TD_PARAMS_LEN: usize = 1024;
/// ATTRIBUTES bits the shim allows: DEBUG (0), SEPT_VE_DISABLE (28).
pub const ATTRIBUTES_FIXED0: u64 = 1 | 1 << 28;
/// ATTRIBUTES bits that must be set: none.
pub const ATTRIBUTES_FIXED1: u64 = 0;
/// XFAM bits allowed (the 1.5 module's XFAM_FIXED0 value, 0x6_DBE7).
pub const XFAM_FIXED0: u64 = 0x0006_DBE7;
/// XFAM bits required: x87 and SSE.
pub const XFAM_FIXED1: u64 = 0x3;
/// Largest MAX_VCPUS accepted.
pub const MAX_VCPUS: u16 = 64;

/// Validated TD_PARAMS.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TdParams {
    /// ATTRIBUTES.
    pub attributes: u64,
    /// XFAM.
    pub xfam: u64,
    /// MAX_VCPUS.
    pub max_vcpus: u16,
    /// CONFIG_FLAGS.GPAW: 52-bit GPAs and 5-level SEPT.
    pub gpaw52: bool,
    /// CONFIG_FLAGS.
    pub config_flags: u64,
    /// TSC_FREQUENCY in 25 MHz units.
    pub tsc_frequency: u16,
    /// MRCONFIGID.
    pub mr_config_id: [u8; 48],
    /// MROWNER.
    pub mr_owner: [u8; 48],
    /// MROWNERCONFIG.
    pub mr_owner_config: [u8; 48],
}

fn u64_at(b: &[u8], off: usize) -> u64 {
    let mut x = [0u8; 8];
    x.copy_from_slice(&b[off..off + 8]);
    u64::from_le_bytes(x)
}

fn u16_at(b: &[u8], off: usize) -> u16 {
    u16::from_le_bytes([b[off], b[off + 1]])
}

fn bad(op: OperandId) -> Status {
    Status::with_operand(Code::OperandInvalid, op)
}

fn mr(b: &[u8], off: usize) -> [u8; 48] {
    let mut m = [0u8; 48];
    m.copy_from_slice(&b[off..off + 48]);
    m
}

/// Reserved byte ranges: all must be zero.
const RESERVED: [(usize, usize); 4] = [(20, 24), (42, 80), (232, 256), (256, TD_PARAMS_LEN)];

/// Parse and validate a copied TD_PARAMS.
pub fn parse(b: &[u8; TD_PARAMS_LEN]) -> TdxResult<TdParams> {
    let attributes = u64_at(b, 0);
    // ATTRIBUTES_FIXED1 is 0 today, so only the fixed0 mask can fail.
    if attributes & !ATTRIBUTES_FIXED0 != 0 {
        return Err(bad(OperandId::Attributes));
    }
    let xfam = u64_at(b, 8);
    if xfam & !XFAM_FIXED0 != 0 || xfam & XFAM_FIXED1 != XFAM_FIXED1 {
        return Err(bad(OperandId::Xfam));
    }
    let max_vcpus = u16_at(b, 16);
    if max_vcpus == 0 || max_vcpus > MAX_VCPUS {
        return Err(bad(OperandId::MaxVcpus));
    }
    if b[18] != 0 {
        return Err(bad(OperandId::NumL2Vms));
    }
    if b[19] != 0 || u64_at(b, 224) != 0 {
        return Err(bad(OperandId::Ia32ArchCapabilitiesConfig));
    }
    let config_flags = u64_at(b, 32);
    if config_flags & !0x7 != 0 {
        return Err(bad(OperandId::ExecControls));
    }
    let gpaw52 = config_flags & 1 != 0;
    // EPTP_CONTROLS: memory type WB (6), page-walk length - 1 = 3 (4-level,
    // GPAW 48) or 4 (5-level, GPAW 52), no other bits.
    let eptp = u64_at(b, 24);
    let pwl = if gpaw52 { 4 } else { 3 };
    if eptp != (6 | pwl << 3) {
        return Err(bad(OperandId::EptpControls));
    }
    let tsc_frequency = u16_at(b, 40);
    if !(4..=400).contains(&tsc_frequency) {
        return Err(bad(OperandId::TscFrequency));
    }
    for (s, e) in RESERVED {
        if b[s..e].iter().any(|&x| x != 0) {
            return Err(bad(OperandId::Rdx));
        }
    }
    Ok(TdParams {
        attributes,
        xfam,
        max_vcpus,
        gpaw52,
        config_flags,
        tsc_frequency,
        mr_config_id: mr(b, 80),
        mr_owner: mr(b, 128),
        mr_owner_config: mr(b, 176),
    })
}
