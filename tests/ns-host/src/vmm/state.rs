//! What the host CPUs share while the guest runs: the realm's addresses,
//! each REC's power state as the VMM tracks it, and what was observed, for
//! `judge` to check once every CPU is back.

use arm_rt::sync::SpinLock;
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use super::MAX_RECS;
use super::build::Realm;

/// Guest probe results (HC_RESULT ids 1..15), 7 words each.
pub const MAX_PROBES: usize = 16;

/// REC power state as the VMM sees it.
pub const REC_OFF: u32 = 0;
pub const REC_ON: u32 = 1;
/// Stopped by the host on an access to a RIPAS DESTROYED page.
pub const REC_BLOCKED: u32 = 2;

pub static REC_STATE: [AtomicU32; MAX_RECS] = [const { AtomicU32::new(REC_OFF) }; MAX_RECS];
/// Set once the realm is SYSTEM_OFF (or the run gave up).
pub static DONE: AtomicU32 = AtomicU32::new(0);
/// 1 if every REC has its own host CPU.
pub static CONCURRENT: AtomicU32 = AtomicU32::new(0);
/// RD and REC granules of the running realm, and the REC count.
pub static RD: AtomicU64 = AtomicU64::new(0);
pub static RECS: [AtomicU64; MAX_RECS] = [const { AtomicU64::new(0) }; MAX_RECS];
pub static NRECS: AtomicU32 = AtomicU32::new(0);

/// The DESTROYED flow as the host saw it.
#[derive(Clone, Copy, Debug, Default)]
pub struct Destroyed {
    pub ipa: u64,
    pub destroy_status: u64,
    pub pa: u64,
    /// IPA of the realm's data-abort exit, and its RTT entry RIPAS.
    pub exit_ipa: u64,
    pub exit_ripas: u64,
    /// REC_ENTER with INJECT_SEA (spec: ERROR_REC for a protected IPA).
    pub inject_status: u64,
    /// A plain re-entry: status and the IPA of the next exit (same load).
    pub reenter_status: u64,
    pub reexit_ipa: u64,
}

/// The RIPAS change as the host saw and applied it.
#[derive(Clone, Copy, Debug, Default)]
pub struct RipasChange {
    pub base: u64,
    pub top: u64,
    pub value: u64,
    pub status: u64,
    pub reached: u64,
    /// RTT_READ_ENTRY of `base` afterwards: state, RIPAS.
    pub state: u64,
    pub ripas: u64,
}

#[derive(Clone, Copy, Debug)]
pub struct Obs {
    pub results: [[u64; 7]; MAX_PROBES],
    pub rim: Option<[u64; 5]>,
    /// Protected pages of [0, 2 MiB) the host populated on a fault, and
    /// those the realm exited for at all.
    pub populated: [u64; 8],
    pub exited: [u64; 8],
    pub populate_races: u64,
    pub destroyed: Destroyed,
    pub ripas_change: RipasChange,
    /// Unprotected IPA answered with INJECT_SEA.
    pub injected: u64,
    pub uart_lines: [u64; MAX_RECS],
    pub uart_bytes: u64,
    pub cpu_on: u64,
    pub affinity: u64,
    pub cpu_off: u64,
    pub system_off_by: Option<usize>,
    pub guest_fatal: Option<u64>,
    pub errors: u64,
    /// The first unexpected event: what, and two values.
    pub first_error: Option<(&'static str, u64, u64)>,
}

impl Obs {
    const fn new() -> Obs {
        Obs {
            results: [[0; 7]; MAX_PROBES],
            rim: None,
            populated: [0; 8],
            exited: [0; 8],
            populate_races: 0,
            destroyed: Destroyed {
                ipa: 0,
                destroy_status: 0,
                pa: 0,
                exit_ipa: 0,
                exit_ripas: 0,
                inject_status: 0,
                reenter_status: 0,
                reexit_ipa: 0,
            },
            ripas_change: RipasChange {
                base: 0,
                top: 0,
                value: 0,
                status: 0,
                reached: 0,
                state: 0,
                ripas: 0,
            },
            injected: 0,
            uart_lines: [0; MAX_RECS],
            uart_bytes: 0,
            cpu_on: 0,
            affinity: 0,
            cpu_off: 0,
            system_off_by: None,
            guest_fatal: None,
            errors: 0,
            first_error: None,
        }
    }

    pub fn error(&mut self, what: &'static str, a: u64, b: u64) {
        self.errors += 1;
        self.first_error.get_or_insert((what, a, b));
    }
}

pub static OBS: SpinLock<Obs> = SpinLock::new(Obs::new());

/// The attestation exchange: the challenge the host chose (as a verifier
/// would) and the token the realm handed back in HC_TOKEN calls.
pub struct Attest {
    pub challenge: Option<[u64; 8]>,
    pub token: [u8; 4096],
    /// Length the realm announced, and bytes received in order.
    pub len: usize,
    pub received: usize,
}

pub static ATTEST: SpinLock<Attest> = SpinLock::new(Attest {
    challenge: None,
    token: [0; 4096],
    len: 0,
    received: 0,
});

/// Bit of page `ipa` in a [0, 2 MiB) bitmap (None above).
pub fn page_bit(ipa: u64) -> Option<(usize, u64)> {
    let page = (ipa >> 12) as usize;
    (page < 512).then(|| (page / 64, 1 << (page % 64)))
}

pub fn bit_set(map: &[u64; 8], ipa: u64) -> bool {
    page_bit(ipa).is_some_and(|(w, b)| map[w] & b != 0)
}

/// Fresh state for a run of `realm`.
pub fn reset(realm: &Realm, nrecs: usize, concurrent: bool) {
    *OBS.lock() = Obs::new();
    {
        let mut a = ATTEST.lock();
        a.challenge = None;
        a.len = 0;
        a.received = 0;
    }
    DONE.store(0, Ordering::Release);
    CONCURRENT.store(u32::from(concurrent), Ordering::Release);
    RD.store(realm.rd(), Ordering::Release);
    NRECS.store(nrecs as u32, Ordering::Release);
    for (i, s) in REC_STATE.iter().enumerate() {
        // REC 0 is RUNNABLE from REC_CREATE; the others wait for CPU_ON.
        s.store(if i == 0 { REC_ON } else { REC_OFF }, Ordering::Release);
        RECS[i].store(realm.rec(i), Ordering::Release);
    }
}
