//! Several RECs at once: PSCI CPU_ON of RECs 1..3, a ping-pong through
//! shared cacheable memory that can only finish if the RECs run at the same
//! time, and an atomic counter every REC increments.

use core::sync::atomic::{AtomicU64, Ordering};

use crate::console::println;
use crate::host::{self, probe};
use crate::layout::MAX_RECS;
use crate::{arch, probes, rsi};

/// Ping-pong rounds; each needs both sides live.
const ROUNDS: u64 = 64;
/// Counter increments per REC.
const INCREMENTS: u64 = 20_000;
/// Bound of every wait on another REC, in seconds of the virtual counter.
const WAIT_SECS: u64 = 20;
/// Bound of the PSCI / host-call polls of REC 0 for the others to finish.
const MAX_POLLS: u64 = 2_000_000;

/// PING[k]: REC 0 writes odd values, REC k answers with the next even one.
static PING: [AtomicU64; MAX_RECS] = [const { AtomicU64::new(0) }; MAX_RECS];
static COUNTER: AtomicU64 = AtomicU64::new(0);
/// Rounds a secondary completed (reported by REC 0 on timeout).
static PONGS: [AtomicU64; MAX_RECS] = [const { AtomicU64::new(0) }; MAX_RECS];

/// Spin until `f` holds or WAIT_SECS pass; false on timeout.
fn wait_until(f: impl Fn() -> bool) -> bool {
    let limit = arch::counter_freq().max(1_000_000) * WAIT_SECS;
    let start = arch::counter();
    while !f() {
        if arch::counter().wrapping_sub(start) > limit {
            return false;
        }
        core::hint::spin_loop();
    }
    true
}

/// CPU_ON every REC after 0 until the RMM says there is no such REC
/// (INVALID_PARAMS); returns the number of RECs running.
pub fn start_secondaries(entry: u64) -> usize {
    let mut n = 1;
    let mut failure = 0;
    while n < MAX_RECS {
        let r = rsi::cpu_on(n as u64, entry, n as u64);
        if r == rsi::PSCI_INVALID_PARAMS {
            break;
        }
        if r != rsi::PSCI_SUCCESS {
            failure = r as u64;
            break;
        }
        n += 1;
    }
    host::result(0, probe::CPU_ON, &[n as u64, failure]);
    n
}

/// REC 0's side of the ping-pong with RECs 1..n, all rounds at once.
pub fn ping_pong_leader(n: usize) {
    let mut done = 0;
    'rounds: for r in 0..ROUNDS {
        for p in &PING[1..n] {
            p.store(2 * r + 1, Ordering::Release);
        }
        for p in &PING[1..n] {
            if !wait_until(|| p.load(Ordering::Acquire) == 2 * r + 2) {
                break 'rounds;
            }
        }
        done = r + 1;
    }
    let pongs: u64 = PONGS[1..n].iter().map(|p| p.load(Ordering::Relaxed)).sum();
    println!(
        "realm guest: ping-pong with {} other RECs: {done} of {ROUNDS} rounds ({pongs} answers)",
        n - 1
    );
    host::result(0, probe::PING_PONG, &[1, done, ROUNDS]);
}

fn ping_pong_follower(rec: usize) {
    for r in 0..ROUNDS {
        if !wait_until(|| PING[rec].load(Ordering::Acquire) == 2 * r + 1) {
            return;
        }
        PING[rec].store(2 * r + 2, Ordering::Release);
        PONGS[rec].store(r + 1, Ordering::Relaxed);
    }
}

/// This REC's share of the shared counter.
pub fn count(_rec: usize) {
    for _ in 0..INCREMENTS {
        COUNTER.fetch_add(1, Ordering::Relaxed);
    }
}

/// RECs 1..3 after CPU_ON (MMU already on).
pub fn secondary(rec: usize, context: u64) -> ! {
    if context != rec as u64 {
        crate::fatal(3, format_args!("REC {rec} started with context {context}"));
    }
    let (_, answer) = host::call(rec, host::HC_HELLO, &[rec as u64]);
    if answer[0] == 1 {
        ping_pong_follower(rec);
    }
    count(rec);
    println!("realm guest: REC {rec} up (CPU_ON context {context}), counted {INCREMENTS}");
    if rec == 1 {
        probes::destroyed(rec);
    }
    rsi::cpu_off()
}

/// REC 0: wait until RECs 2.. are OFF (PSCI AFFINITY_INFO) and REC 1 is
/// stuck on its DESTROYED page (host call: only the host knows).
pub fn wait_secondaries(n: usize) {
    let mut rec1 = 0;
    for _ in 0..MAX_POLLS {
        rec1 = host::call(0, host::HC_VCPU_STATE, &[1]).1[0];
        if rec1 != 0 {
            break;
        }
    }
    let mut off = 0;
    for k in 2..n {
        for _ in 0..MAX_POLLS {
            if rsi::affinity_info(k as u64) == rsi::PSCI_OFF {
                off += 1;
                break;
            }
        }
    }
    println!(
        "realm guest: REC 1 {}, {off} of {} other RECs OFF",
        if rec1 == 2 {
            "stopped by the host on its DESTROYED page"
        } else {
            "not stopped"
        },
        n.saturating_sub(2)
    );
    host::result(0, probe::SECONDARIES_DONE, &[1, rec1, off]);
}

pub fn check_counter(n: usize) {
    let v = COUNTER.load(Ordering::Acquire);
    let want = n as u64 * INCREMENTS;
    println!("realm guest: shared counter {v} (want {want})");
    host::result(0, probe::COUNTER, &[v, want]);
}
