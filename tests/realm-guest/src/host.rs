//! The guest <-> host protocol over RSI_HOST_CALL (RsiHostCall: imm @0x0,
//! gprs[31] @0x8; 256-byte aligned, one per REC). The NS host's VMM
//! (tests/ns-host/src/vmm) implements the other side; the immediates and
//! probe ids are shared by value with it.

use core::sync::atomic::{AtomicU64, Ordering};

use crate::layout::MAX_RECS;
use crate::rsi;

/// gprs[0] = REC index. Answer: gprs[0] = 1 if every REC has its own host
/// CPU (so RECs run at the same time), 0 if the host runs them in turn.
pub const HC_HELLO: u64 = 0x100;
/// gprs[0] = RSI status, gprs[1..5] = RIM (RSI_MEASUREMENT_READ index 0).
pub const HC_RIM: u64 = 0x101;
/// gprs[0] = probe id, gprs[1..6] = what the guest saw.
pub const HC_RESULT: u64 = 0x102;
/// gprs[0] = IPA the host must RMI_DATA_DESTROY. Answer: gprs[0] = status.
pub const HC_DESTROY: u64 = 0x103;
/// gprs[0] = REC index. Answer: gprs[0] = 0 running, 1 off, 2 blocked on
/// a DESTROYED page (the host stopped running it).
pub const HC_VCPU_STATE: u64 = 0x104;
/// gprs[0] = which half (0, 1). Answer: gprs[0..4] = that half of the
/// 64-byte attestation challenge the host (the verifier's stand-in) chose.
pub const HC_CHALLENGE: u64 = 0x105;
/// gprs[0] = offset, gprs[1] = total length, gprs[2] = n (<= 224),
/// gprs[3..31] = n bytes of the attestation token.
pub const HC_TOKEN: u64 = 0x106;
/// gprs[0] = code: the guest failed and is about to SYSTEM_OFF.
pub const HC_FATAL: u64 = 0x1FF;

/// Probe ids of HC_RESULT.
pub mod probe {
    /// [RSI status, lower, higher, ipa_width, hash_algo]
    pub const CONFIG: u64 = 1;
    /// [RECs started, CPU_ON status of the first failure (0 if none)]
    pub const CPU_ON: u64 = 2;
    /// [1 if concurrent, rounds completed, rounds wanted]
    pub const PING_PONG: u64 = 3;
    /// [final counter, expected]
    pub const COUNTER: u64 = 4;
    /// [ipa, value read, expected, IPA_STATE_GET status, RIPAS]
    pub const RAM_DATA: u64 = 5;
    /// [ipa, value read, SEAs taken, IPA_STATE_GET status, RIPAS]
    pub const RAM_UNKNOWN: u64 = 6;
    /// [ipa, SEAs taken, ESR, FAR, RIPAS]
    pub const EMPTY: u64 = 7;
    /// [ipa, set status, reached, response, RIPAS after]
    pub const SET_EMPTY: u64 = 8;
    /// [ipa, SEAs taken, ESR, FAR]
    pub const SET_EMPTY_SEA: u64 = 9;
    /// [ipa, SEAs taken, ESR, FAR]
    pub const INJECTED_SEA: u64 = 10;
    /// [ipa, destroy status, IPA_STATE_GET status, RIPAS]
    pub const DESTROYED: u64 = 11;
    /// [REC, state reported by the host, AFFINITY_INFO of RECs 2..]
    pub const SECONDARIES_DONE: u64 = 12;
    /// [bit mask of bad-input cases with the right status, cases]
    pub const ATTEST_BAD_INPUT: u64 = 13;
    /// [INIT status, size bound, last CONTINUE status, length, CONTINUE
    /// calls, pre-empted calls]
    pub const ATTEST_TOKEN: u64 = 14;
    /// [statuses (versions | rim << 8 | rpv << 16 | too-new << 24 |
    /// again << 32), min << 32 | current, RIM-key fingerprint, RPV-key
    /// fingerprint, 1 if the RIM key re-derives equal]
    pub const SEALING: u64 = 15;
}

#[repr(C, align(256))]
struct HostCall([AtomicU64; 32]);

static BUFS: [HostCall; MAX_RECS] =
    [const { HostCall([const { AtomicU64::new(0) }; 32]) }; MAX_RECS];

/// RSI_HOST_CALL(imm, args) from REC `rec`; returns (RSI status, the
/// host's gprs[0..4]).
pub fn call(rec: usize, imm: u64, args: &[u64]) -> (u64, [u64; 4]) {
    let b = &BUFS[rec % MAX_RECS].0;
    for w in b {
        w.store(0, Ordering::Relaxed);
    }
    b[0].store(imm, Ordering::Relaxed);
    for (w, &a) in b[1..].iter().zip(args) {
        w.store(a, Ordering::Relaxed);
    }
    let s = rsi::host_call(b as *const _ as u64);
    (
        s,
        core::array::from_fn(|i| b[1 + i].load(Ordering::Relaxed)),
    )
}

/// Report a probe result.
pub fn result(rec: usize, id: u64, vals: &[u64]) {
    let mut a = [0u64; 7];
    a[0] = id;
    for (d, &v) in a[1..].iter_mut().zip(vals) {
        *d = v;
    }
    call(rec, HC_RESULT, &a);
}
