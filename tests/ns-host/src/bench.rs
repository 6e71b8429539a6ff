//! Benchmarks: counter deltas around real RMI round trips
//! (NS-EL2 -> EL3 -> RMM -> EL3 -> NS-EL2). Run under
//! `-icount shift=0,sleep=off`, where one counter tick is one instruction
//! and whole runs are deterministic (qemu-platforms.md §4).

use crate::checks::POOL;
use crate::hw::{self, println, smc};
use crate::rmi::{self, RMI_ABI_VERSION, RMI_VERSION, SUCCESS};
use arm_rt::sync::SpinLock;

const DEFAULT_ITERS: usize = 101;
const MAX_ITERS: usize = 1001;
/// Sample rows: 4 round-trip benchmarks, 3 attestation ones and 8
/// realm-lifecycle ones.
const ROWS: usize = 15;

/// Sample storage in .bss (96 KiB would not fit the 16 KiB CPU stack).
static SAMPLES: SpinLock<[[u64; MAX_ITERS]; ROWS]> = SpinLock::new([[0; MAX_ITERS]; ROWS]);

fn report(name: &str, samples: &mut [u64]) -> u64 {
    samples.sort_unstable();
    let n = samples.len();
    let median = if n % 2 == 1 {
        samples[n / 2]
    } else {
        (samples[n / 2 - 1] + samples[n / 2]) / 2
    };
    println!("BENCH {name} median={median} min={} iters={n}", samples[0]);
    median
}

/// A derived or single-valued result in the BENCH format.
fn report_value(name: &str, value: u64, iters: usize) {
    println!("BENCH {name} median={value} min={value} iters={iters}");
}

pub fn run(iters_word: u32) {
    let iters = match iters_word as usize {
        0 => DEFAULT_ITERS,
        n => n.min(MAX_ITERS),
    };
    let mut samples = SAMPLES.lock();
    let [
        version,
        deleg,
        undeleg,
        psci,
        ext,
        seal,
        tok,
        realm_rows @ ..,
    ] = &mut *samples;
    let g = POOL + 0x4_0000;
    for i in 0..iters {
        let t0 = hw::counter();
        let v = smc([RMI_VERSION, RMI_ABI_VERSION, 0, 0, 0, 0, 0, 0]);
        let t1 = hw::counter();
        version[i] = t1 - t0;
        let t0 = hw::counter();
        let d = rmi::delegate(g);
        let t1 = hw::counter();
        let u = rmi::undelegate(g);
        let t2 = hw::counter();
        deleg[i] = t1 - t0;
        undeleg[i] = t2 - t1;
        let t0 = hw::counter();
        smc([hw::PSCI_VERSION, 0, 0, 0, 0, 0, 0, 0]);
        psci[i] = hw::counter() - t0;
        if v[0] != SUCCESS || d != SUCCESS || u != SUCCESS {
            println!(
                "ns-host: bench call failed (version {} delegate {d} undelegate {u})",
                v[0]
            );
            hw::system_off(1);
        }
    }
    let host_call = realm(iters, realm_rows);
    attest(iters, host_call, [ext, seal, tok]);
    report("rmi_version", &mut version[..iters]);
    report("granule_delegate", &mut deleg[..iters]);
    report("granule_undelegate", &mut undeleg[..iters]);
    report("el3_psci_version", &mut psci[..iters]);
}

/// One realm built and torn down per iteration, each command timed on its
/// own. DATA_CREATE is measured (SHA-256 realm, MEASURE_CONTENT), and
/// RTT_INIT_RIPAS covers all 512 entries of one level-3 RTT.
// `i` selects a column of the per-benchmark sample rows `t[slot]`.
#[allow(clippy::needless_range_loop)]
fn realm(iters: usize, t: &mut [[u64; MAX_ITERS]; 8]) -> u64 {
    use crate::realm::*;
    use crate::rmi::*;
    let names = [
        "realm_create",
        "rtt_create",
        "rtt_init_ripas_512",
        "data_create_measured",
        "data_create_unknown",
        "rec_create",
        "realm_activate",
        "realm_teardown",
    ];
    let objects = [RD, RTT_L1, RTT_L2, RTT_L3, DATA, DATA2, REC];
    for i in 0..iters {
        let mut ok = objects.iter().all(|&g| rmi::delegate(g) == SUCCESS);
        realm_params();
        hw::fill_page(SRC, 0x5A);
        let mut timed = |slot: usize, f: &mut dyn FnMut() -> bool| {
            let t0 = hw::counter();
            let r = f();
            t[slot][i] = hw::counter() - t0;
            r
        };
        ok &= timed(0, &mut || {
            rmi(RMI_REALM_CREATE, [RD, REALM_PARAMS, 0, 0])[0] == SUCCESS
        });
        let aux = rmi(RMI_REC_AUX_COUNT, [RD, 0, 0, 0])[1].min(MAX_AUX);
        for a in 0..aux {
            ok &= rmi::delegate(AUX + 0x1000 * a) == SUCCESS;
        }
        ok &= rmi(RMI_RTT_CREATE, [RD, RTT_L2, 0, 2])[0] == SUCCESS;
        ok &= timed(1, &mut || {
            rmi(RMI_RTT_CREATE, [RD, RTT_L3, 0, 3])[0] == SUCCESS
        });
        ok &= timed(2, &mut || {
            rmi(RMI_RTT_INIT_RIPAS, [RD, 0, 0x20_0000, 0])[1] == 0x20_0000
        });
        ok &= timed(3, &mut || {
            smc([RMI_DATA_CREATE, RD, DATA, 0, SRC, 1, 0, 0])[0] == SUCCESS
        });
        ok &= timed(4, &mut || {
            rmi(RMI_DATA_CREATE_UNKNOWN, [RD, DATA2, 0x1000, 0])[0] == SUCCESS
        });
        rec_params(aux);
        ok &= timed(5, &mut || {
            rmi(RMI_REC_CREATE, [RD, REC, REC_PARAMS, 0])[0] == SUCCESS
        });
        ok &= timed(6, &mut || {
            rmi(RMI_REALM_ACTIVATE, [RD, 0, 0, 0])[0] == SUCCESS
        });
        ok &= timed(7, &mut || {
            rmi(RMI_REC_DESTROY, [REC, 0, 0, 0])[0] == SUCCESS
                && rmi(RMI_DATA_DESTROY, [RD, 0, 0, 0])[0] == SUCCESS
                && rmi(RMI_DATA_DESTROY, [RD, 0x1000, 0, 0])[0] == SUCCESS
                && rmi(RMI_RTT_DESTROY, [RD, 0, 3, 0])[0] == SUCCESS
                && rmi(RMI_RTT_DESTROY, [RD, 0, 2, 0])[0] == SUCCESS
                && rmi(RMI_REALM_DESTROY, [RD, 0, 0, 0])[0] == SUCCESS
        });
        ok &= objects.iter().all(|&g| rmi::undelegate(g) == SUCCESS);
        for a in 0..aux {
            ok &= rmi::undelegate(AUX + 0x1000 * a) == SUCCESS;
        }
        if !ok {
            println!("ns-host: realm bench iteration {i} failed");
            hw::system_off(1);
        }
    }
    for (slot, name) in names.iter().enumerate() {
        report(name, &mut t[slot][..iters]);
    }
    rec_enter_round_trip(iters, &mut t[0])
}

/// The attestation benchmarks (bench_attest.rs); `host_call` is the
/// median plain host-call round trip, subtracted from the extend pass.
fn attest(iters: usize, host_call: u64, rows: [&mut [u64; MAX_ITERS]; 3]) {
    let [ext, seal, tok] = rows;
    let b = crate::bench_attest::run(
        iters,
        &mut ext[..iters],
        &mut seal[..iters],
        &mut tok[..iters],
    );
    let Some(b) = b else {
        println!("ns-host: attestation bench failed");
        hw::system_off(1);
    };
    let extend = report("rsi_extend_host_call", &mut ext[..iters]);
    report_value(
        "rsi_measurement_extend_64",
        extend.saturating_sub(host_call),
        iters,
    );
    let sealing = report("rsi_sealing_key_host_call", &mut seal[..iters]);
    report_value(
        "sealing_key_derivation",
        sealing.saturating_sub(host_call),
        iters,
    );
    report("attest_token_full", &mut tok[..iters]);
    report_value("attest_token_bytes", b.bytes, iters);
    report_value("attest_irq_latency", b.latency, iters.min(8));
    report_value("attest_preempted_entries", b.preempted, iters.min(8));
}

/// REC_ENTER -> the realm's RSI_HOST_CALL exit -> back to the host, with a
/// realm that does nothing but host calls (asm/realm_code.S). Each sample
/// is one REC_ENTER: NS-EL2 -> EL3 -> RMM -> R-EL1 -> RMM -> EL3 -> NS-EL2.
fn rec_enter_round_trip(iters: usize, t: &mut [u64; MAX_ITERS]) -> u64 {
    use crate::realm::{EXIT_HOST_CALL, EXIT_REASON, load_hostcall_loop, rmi};
    use crate::rmi::RMI_REC_ENTER;
    use crate::stress::{Layout, RecSpec};
    let l = Layout::for_cpu(6);
    let Some(naux) = l.build(
        load_hostcall_loop,
        &[RecSpec {
            mpidr: 0,
            runnable: true,
        }],
    ) else {
        println!("ns-host: REC_ENTER bench: realm build failed");
        hw::system_off(1);
    };
    // The first entry starts the REC at its PC (not a round trip).
    let mut ok = l.enter(0) == (SUCCESS, EXIT_HOST_CALL);
    for sample in t.iter_mut().take(iters) {
        let t0 = hw::counter();
        let s = rmi(RMI_REC_ENTER, [l.rec(0), l.run(), 0, 0])[0];
        *sample = hw::counter() - t0;
        ok &= s == SUCCESS && hw::read_u64(l.run() + EXIT_REASON) == EXIT_HOST_CALL;
    }
    if !(l.teardown(naux, 1) && ok) {
        println!("ns-host: REC_ENTER bench failed");
        hw::system_off(1);
    }
    report("rec_enter_host_call", &mut t[..iters])
}
