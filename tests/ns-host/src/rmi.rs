//! RMI 1.0 calls exactly as any NS host makes them (cca-rmm-abi.md §2), so
//! this image can drive any RMM 1.0 implementation behind any EL3.

use crate::hw::smc;

pub const RMI_VERSION: u64 = 0xC400_0150;
pub const RMI_GRANULE_DELEGATE: u64 = 0xC400_0151;
pub const RMI_GRANULE_UNDELEGATE: u64 = 0xC400_0152;
pub const RMI_DATA_CREATE: u64 = 0xC400_0153;
pub const RMI_DATA_CREATE_UNKNOWN: u64 = 0xC400_0154;
pub const RMI_DATA_DESTROY: u64 = 0xC400_0155;
pub const RMI_REALM_ACTIVATE: u64 = 0xC400_0157;
pub const RMI_REALM_CREATE: u64 = 0xC400_0158;
pub const RMI_REALM_DESTROY: u64 = 0xC400_0159;
pub const RMI_REC_CREATE: u64 = 0xC400_015A;
pub const RMI_REC_DESTROY: u64 = 0xC400_015B;
pub const RMI_REC_ENTER: u64 = 0xC400_015C;
pub const RMI_RTT_CREATE: u64 = 0xC400_015D;
pub const RMI_RTT_DESTROY: u64 = 0xC400_015E;
pub const RMI_RTT_READ_ENTRY: u64 = 0xC400_0161;
pub const RMI_PSCI_COMPLETE: u64 = 0xC400_0164;
pub const RMI_FEATURES: u64 = 0xC400_0165;
pub const RMI_REC_AUX_COUNT: u64 = 0xC400_0167;
pub const RMI_RTT_INIT_RIPAS: u64 = 0xC400_0168;
pub const RMI_RTT_SET_RIPAS: u64 = 0xC400_0169;
pub const RMI_ABI_VERSION: u64 = 0x1_0000;
/// SMCCC 1.3 SVE live-state hint (FID bit 16).
pub const SVE_HINT: u64 = 1 << 16;

pub const SUCCESS: u64 = 0;
pub const ERROR_INPUT: u64 = 1;
pub const SMC_UNKNOWN: u64 = u64::MAX;

pub fn call(fid: u64, a1: u64) -> [u64; 8] {
    smc([fid, a1, 0, 0, 0, 0, 0, 0])
}

pub fn delegate(pa: u64) -> u64 {
    call(RMI_GRANULE_DELEGATE, pa)[0]
}

pub fn undelegate(pa: u64) -> u64 {
    call(RMI_GRANULE_UNDELEGATE, pa)[0]
}

/// IPA width of every test realm: level-1 start with one root RTT
/// (512 x 1 GiB), so the unprotected half starts at 2^38.
pub const S2SZ: u64 = 39;

/// Write RmiRealmParams (cca-rmm-abi.md §4.1) into the NS page `page`: a
/// SHA-256 realm with an [`S2SZ`]-bit IPA space, VMID `vmid`, and its one
/// level-1 root RTT at `rtt_l1`; everything else zero.
pub fn write_realm_params(page: u64, vmid: u64, rtt_l1: u64) {
    crate::hw::fill_page(page, 0);
    crate::hw::write_u64(page + 0x008, S2SZ);
    crate::hw::write_u64(page + 0x030, 0); // hash_algo SHA-256
    crate::hw::write_u64(page + 0x800, vmid);
    crate::hw::write_u64(page + 0x808, rtt_l1);
    crate::hw::write_u64(page + 0x810, 1); // rtt_level_start
    crate::hw::write_u64(page + 0x818, 1); // rtt_num_start
}
