//! Benchmarks: counter deltas around real RMI round trips
//! (NS-EL2 -> EL3 -> RMM -> EL3 -> NS-EL2). Run under
//! `-icount shift=0,sleep=off`, where one counter tick is one instruction
//! and whole runs are deterministic (qemu-platforms.md §4).

use crate::checks::POOL;
use crate::hw::{self, println, smc};
use crate::rmi::{self, RMI_ABI_VERSION, RMI_VERSION, SUCCESS};

const DEFAULT_ITERS: usize = 101;
const MAX_ITERS: usize = 1001;

fn report(name: &str, samples: &mut [u64]) {
    samples.sort_unstable();
    let n = samples.len();
    let median = if n % 2 == 1 {
        samples[n / 2]
    } else {
        (samples[n / 2 - 1] + samples[n / 2]) / 2
    };
    println!("BENCH {name} median={median} min={} iters={n}", samples[0]);
}

pub fn run(iters_word: u32) {
    let iters = match iters_word as usize {
        0 => DEFAULT_ITERS,
        n => n.min(MAX_ITERS),
    };
    let mut version = [0u64; MAX_ITERS];
    let mut deleg = [0u64; MAX_ITERS];
    let mut undeleg = [0u64; MAX_ITERS];
    let mut psci = [0u64; MAX_ITERS];
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
    report("rmi_version", &mut version[..iters]);
    report("granule_delegate", &mut deleg[..iters]);
    report("granule_undelegate", &mut undeleg[..iters]);
    report("el3_psci_version", &mut psci[..iters]);
}
