//! RSI 1.0 and realm PSCI calls (cca-rmm-abi.md §9, §10), all through SMC.

use arm_rt::smc;

const RSI_VERSION: u64 = 0xC400_0190;
const RSI_MEASUREMENT_READ: u64 = 0xC400_0192;
const RSI_MEASUREMENT_EXTEND: u64 = 0xC400_0193;
const RSI_ATTEST_TOKEN_INIT: u64 = 0xC400_0194;
const RSI_ATTEST_TOKEN_CONTINUE: u64 = 0xC400_0195;
/// Vendor sealing-key RSI (docs/sealing.md).
const CMON_RSI_SEALING_VERSIONS: u64 = 0xC600_0010;
const CMON_RSI_SEALING_KEY: u64 = 0xC600_0011;
const RSI_REALM_CONFIG: u64 = 0xC400_0196;
const RSI_IPA_STATE_SET: u64 = 0xC400_0197;
const RSI_IPA_STATE_GET: u64 = 0xC400_0198;
const RSI_HOST_CALL: u64 = 0xC400_0199;
pub const RSI_ABI_VERSION: u64 = 0x1_0000;
pub const RSI_SUCCESS: u64 = 0;

const PSCI_CPU_OFF: u64 = 0x8400_0002;
const PSCI_CPU_ON64: u64 = 0xC400_0003;
const PSCI_AFFINITY_INFO64: u64 = 0xC400_0004;
const PSCI_SYSTEM_OFF: u64 = 0x8400_0008;
pub const PSCI_SUCCESS: i64 = 0;
pub const PSCI_INVALID_PARAMS: i64 = -2;
/// AFFINITY_INFO: the target is OFF.
pub const PSCI_OFF: i64 = 1;

/// RIPAS values (§7).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ripas {
    Empty = 0,
    Ram = 1,
    Destroyed = 2,
}

impl Ripas {
    pub fn name(self) -> &'static str {
        match self {
            Ripas::Empty => "EMPTY",
            Ripas::Ram => "RAM",
            Ripas::Destroyed => "DESTROYED",
        }
    }
}

fn call(fid: u64, a: [u64; 4]) -> [u64; 8] {
    smc([fid, a[0], a[1], a[2], a[3], 0, 0, 0])
}

/// RSI_VERSION(1.0): (status, lower, higher).
pub fn version() -> (u64, u64, u64) {
    let r = call(RSI_VERSION, [RSI_ABI_VERSION, 0, 0, 0]);
    (r[0], r[1], r[2])
}

/// RSI_REALM_CONFIG into the 4 KiB granule at `ipa`: status.
pub fn realm_config(ipa: u64) -> u64 {
    call(RSI_REALM_CONFIG, [ipa, 0, 0, 0])[0]
}

/// RSI_MEASUREMENT_READ(index): status and the first 32 bytes (SHA-256).
pub fn measurement_read(index: u64) -> (u64, [u64; 4]) {
    let r = call(RSI_MEASUREMENT_READ, [index, 0, 0, 0]);
    (r[0], [r[1], r[2], r[3], r[4]])
}

/// RSI_MEASUREMENT_EXTEND(index, size, data in x3..x10): status.
pub fn measurement_extend(index: u64, size: u64, data: &[u64; 8]) -> u64 {
    let mut a = [0u64; 18];
    a[0] = RSI_MEASUREMENT_EXTEND;
    a[1] = index;
    a[2] = size;
    a[3..11].copy_from_slice(data);
    arm_rt::smc18(a)[0]
}

/// RSI_ATTEST_TOKEN_INIT(challenge in x1..x8): (status, size bound).
pub fn token_init(challenge: &[u64; 8]) -> (u64, u64) {
    // x1..x8: the eighth word is beyond `smc`'s x0..x7.
    let mut a = [0u64; 18];
    a[0] = RSI_ATTEST_TOKEN_INIT;
    a[1..9].copy_from_slice(challenge);
    let r = arm_rt::smc18(a);
    (r[0], r[1])
}

/// RSI_ATTEST_TOKEN_CONTINUE(ipa, offset, size): (status, bytes written).
pub fn token_continue(ipa: u64, offset: u64, size: u64) -> (u64, u64) {
    let r = call(RSI_ATTEST_TOKEN_CONTINUE, [ipa, offset, size, 0]);
    (r[0], r[1])
}

/// CMON_RSI_SEALING_VERSIONS: (status, minimum, current).
pub fn sealing_versions() -> (u64, u64, u64) {
    let r = call(CMON_RSI_SEALING_VERSIONS, [0; 4]);
    (r[0], r[1], r[2])
}

/// CMON_RSI_SEALING_KEY(flags, version): (status, key words).
pub fn sealing_key(flags: u64, version: u64) -> (u64, [u64; 4]) {
    let r = call(CMON_RSI_SEALING_KEY, [flags, version, 0, 0]);
    (r[0], [r[1], r[2], r[3], r[4]])
}

/// RSI_IPA_STATE_GET(base, top): (status, top of the run, RIPAS).
pub fn ipa_state_get(base: u64, top: u64) -> (u64, u64, u64) {
    let r = call(RSI_IPA_STATE_GET, [base, top, 0, 0]);
    (r[0], r[1], r[2])
}

/// RSI_IPA_STATE_SET(base, top, ripas, flags): (status, reached, response).
pub fn ipa_state_set(base: u64, top: u64, ripas: Ripas, flags: u64) -> (u64, u64, u64) {
    let r = call(RSI_IPA_STATE_SET, [base, top, ripas as u64, flags]);
    (r[0], r[1], r[2])
}

/// RSI_HOST_CALL with the RsiHostCall at `ipa`: status.
pub fn host_call(ipa: u64) -> u64 {
    call(RSI_HOST_CALL, [ipa, 0, 0, 0])[0]
}

pub fn cpu_on(target: u64, entry: u64, context: u64) -> i64 {
    call(PSCI_CPU_ON64, [target, entry, context, 0])[0] as i64
}

pub fn affinity_info(target: u64) -> i64 {
    call(PSCI_AFFINITY_INFO64, [target, 0, 0, 0])[0] as i64
}

pub fn cpu_off() -> ! {
    loop {
        call(PSCI_CPU_OFF, [0; 4]);
    }
}

pub fn system_off() -> ! {
    loop {
        call(PSCI_SYSTEM_OFF, [0; 4]);
    }
}
