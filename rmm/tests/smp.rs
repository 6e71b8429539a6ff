//! SMP: 4 CPUs delegating/undelegating disjoint and shared granules at once,
//! while the host scribbles on them. Afterwards the granule table, the fake
//! GPT and the call log must tell one consistent story.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;

use common::*;
use fake_platform::{Call, Pas};
use rmm::{GranuleState, PhysAddr};

const THREADS: u64 = 4;
const ITERS: u64 = 20_000;
const SHARED_BASE: u64 = 0x9000_0000;
const SHARED_N: u64 = 6;
const OWN_N: u64 = 4;

fn own_granule(t: u64, i: u64) -> u64 {
    0xA000_0000 + (t * OWN_N + i) * 0x1000
}

/// Small deterministic PRNG (xorshift), one per thread.
fn next(s: &mut u64) -> u64 {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    *s
}

#[test]
fn concurrent_delegate_undelegate_is_consistent() {
    let env = Env::new();
    let rmm = env.rmm();
    // Per shared granule: successful delegates and undelegates.
    let dels: Vec<AtomicU64> = (0..SHARED_N).map(|_| AtomicU64::new(0)).collect();
    let undels: Vec<AtomicU64> = (0..SHARED_N).map(|_| AtomicU64::new(0)).collect();

    thread::scope(|s| {
        for t in 0..THREADS {
            let (rmm, dels, undels) = (&rmm, &dels, &undels);
            s.spawn(move || {
                let mut seed = 0x9E37_79B9_7F4A_7C15 ^ (t + 1);
                let mut own = [false; OWN_N as usize]; // delegated?
                for _ in 0..ITERS {
                    let r = next(&mut seed);
                    let delegate = r & 1 == 0;
                    let fid = if delegate { DELEGATE } else { UNDELEGATE };
                    // SVE hint on some calls, as an SVE-capable host would.
                    let fid = fid | (r >> 1 & 1) << 16;
                    if r >> 2 & 1 == 0 {
                        // Disjoint granule: this thread alone decides, so the
                        // outcome is exactly predictable.
                        let i = (r >> 3) % OWN_N;
                        let pa = own_granule(t, i);
                        let st = status(rmm, fid, pa);
                        let expect_ok = own[i as usize] != delegate;
                        assert_eq!(st, if expect_ok { 0 } else { 1 }, "own {pa:#x}");
                        if expect_ok {
                            own[i as usize] = delegate;
                        }
                    } else {
                        let i = (r >> 3) % SHARED_N;
                        let pa = SHARED_BASE + i * 0x1000;
                        // The host writes whenever it likes; a GPF is expected
                        // while the granule is Realm.
                        let _ = rmm.platform().host_write(PhysAddr(pa + 8 * t), &[0xEE; 8]);
                        match status(rmm, fid, pa) {
                            0 if delegate => dels[i as usize].fetch_add(1, Ordering::Relaxed),
                            0 => undels[i as usize].fetch_add(1, Ordering::Relaxed),
                            1 => 0,
                            other => panic!("unexpected status {other:#x}"),
                        };
                    }
                }
                for (i, d) in own.iter().enumerate() {
                    let want = if *d {
                        GranuleState::Delegated
                    } else {
                        GranuleState::Undelegated
                    };
                    assert_eq!(
                        rmm.granule_state(PhysAddr(own_granule(t, i as u64))),
                        Some(want)
                    );
                }
            });
        }
    });

    let fake = rmm.platform();
    assert!(fake.violations().is_empty(), "{:?}", fake.violations());
    let mut all: Vec<u64> = (0..SHARED_N).map(|i| SHARED_BASE + i * 0x1000).collect();
    all.extend((0..THREADS).flat_map(|t| (0..OWN_N).map(move |i| own_granule(t, i))));
    let mut delegated = 0;
    for pa in all {
        let pa = PhysAddr(pa);
        let snap = rmm.granules().snapshot(pa).unwrap();
        assert!(!snap.locked, "{pa:?} left locked");
        assert_eq!(snap.refcount, 0);
        match snap.state {
            Some(GranuleState::Delegated) => {
                delegated += 1;
                assert_eq!(fake.pas(pa), Some(Pas::Realm), "{pa:?}");
                assert!(fake.granule_is_zero(pa), "{pa:?} delegated but dirty");
            }
            Some(GranuleState::Undelegated) => assert_eq!(fake.pas(pa), Some(Pas::NonSecure)),
            other => panic!("{pa:?} in state {other:?}"),
        }
    }
    assert!(delegated > 0);
    for i in 0..SHARED_N {
        let pa = PhysAddr(SHARED_BASE + i * 0x1000);
        let d = dels[i as usize].load(Ordering::Relaxed);
        let u = undels[i as usize].load(Ordering::Relaxed);
        let now = u64::from(rmm.granule_state(pa) == Some(GranuleState::Delegated));
        assert_eq!(d - u, now, "granule {i}: {d} delegates, {u} undelegates");
    }
    // EL3 was only asked when our state allowed it, so it never refused.
    let calls = fake.calls();
    assert!(calls.iter().all(|c| match c {
        Call::Delegate(_, r) | Call::Undelegate(_, r) => r.is_ok(),
        Call::Zero(_) => true,
    }));
    let ok_delegates = calls
        .iter()
        .filter(|c| matches!(c, Call::Delegate(..)))
        .count();
    assert_eq!(fake.zero_calls(), ok_delegates, "every delegation scrubbed");
}
