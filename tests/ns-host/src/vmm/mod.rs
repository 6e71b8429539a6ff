//! A small VMM for the realm guest image (tests/realm-guest, README "Realm
//! guest"): it reads the guest's flat binary where QEMU's loader put it,
//! builds a realm around it (`build`), runs one REC per host CPU at the
//! same time (`exits`), judges what the guest and the host saw (`judge`)
//! and tears everything down, checking that every granule ends Non-secure
//! and zero.
//!
//! With one host CPU the two RECs run in turn on it; the guest is told so
//! and skips only the part that needs them to run at the same time.

mod build;
mod exits;
mod judge;
mod state;

use core::sync::atomic::{AtomicU32, Ordering};

use crate::checks::Report;
use crate::hw::{self, PSCI_AFFINITY_INFO, PSCI_CPU_ON, println, smc};

pub use build::Realm;

/// Where `cargo xtask` loads the guest's flat binary (`-device loader`).
pub const IMAGE_NS: u64 = 0x5C00_0000;
/// Loader word: the binary's size in bytes (0 = no guest loaded).
pub const CONFIG_GUEST_SIZE: u64 = 0x5FFF_F008;
/// Loader words: the RIM the xtask computed for this creation sequence
/// (4 little-endian u64 words of the SHA-256 digest; all 0 = not given).
pub const CONFIG_GUEST_RIM: u64 = 0x5FFF_F010;
/// Context-id tag of host CPUs started to run RECs.
pub const JOB_VMM: u64 = 0x5600;
/// RECs at most (the guest's stacks) and host CPUs used.
pub const MAX_RECS: usize = 4;

/// Host CPUs that finished their exit loop (index = CPU).
static FINISHED: [AtomicU32; MAX_RECS] = [const { AtomicU32::new(0) }; MAX_RECS];

/// Build, run and tear down the guest realm; results go to `r`.
pub fn run(r: &mut Report) {
    let size = u64::from(hw::config_word(CONFIG_GUEST_SIZE));
    if size == 0 {
        println!(
            "ns-host: no realm guest image (size word at {CONFIG_GUEST_SIZE:#x} is 0); \
             `cargo xtask` loads it at {IMAGE_NS:#x}"
        );
        return;
    }
    // Host CPUs: CPU 0 plus every secondary that accepts CPU_ON.
    let mut cpus = 1;
    while cpus < MAX_RECS && cpu_present(cpus) {
        cpus += 1;
    }
    let nrecs = cpus.max(2);
    let concurrent = cpus >= nrecs;
    let Some(realm) = Realm::build(r, size, nrecs) else {
        return;
    };
    println!(
        "ns-host: realm guest: {nrecs} RECs on {} host CPU(s), {}",
        if concurrent { nrecs } else { 1 },
        if concurrent {
            "REC i on CPU i"
        } else {
            "in turn"
        }
    );
    state::reset(&realm, nrecs, concurrent);
    let mut started = 0;
    if concurrent {
        for (cpu, fin) in FINISHED.iter().enumerate().take(nrecs).skip(1) {
            fin.store(0, Ordering::Release);
            let s = smc([
                PSCI_CPU_ON,
                cpu as u64,
                hw::secondary_entry(),
                JOB_VMM | cpu as u64,
                0,
                0,
                0,
                0,
            ])[0];
            if s == 0 {
                started += 1;
            }
        }
        exits::vcpu_loop(&[0]);
        wait_cpus(nrecs);
    } else {
        exits::vcpu_loop(&[0, 1]);
    }
    let torn = realm.teardown();
    judge::report(r, &realm, nrecs, concurrent, started, torn);
}

/// Entry of a host CPU started with JOB_VMM: run REC `cpu` until the realm
/// is done, then CPU_OFF.
pub fn secondary(cpu: usize) -> ! {
    let cpu = cpu.min(MAX_RECS - 1);
    exits::vcpu_loop(&[cpu]);
    FINISHED[cpu].store(1, Ordering::Release);
    loop {
        smc([hw::PSCI_CPU_OFF, 0, 0, 0, 0, 0, 0, 0]);
    }
}

/// PSCI AFFINITY_INFO: is there a CPU with this index (ON or OFF)?
fn cpu_present(cpu: usize) -> bool {
    let s = smc([PSCI_AFFINITY_INFO, cpu as u64, 0, 0, 0, 0, 0, 0])[0];
    s == 0 || s == 1
}

/// Wait for the exit loops of CPUs 1..n and for PSCI to report them OFF.
fn wait_cpus(n: usize) {
    for (cpu, fin) in FINISHED.iter().enumerate().take(n).skip(1) {
        let start = hw::counter();
        while fin.load(Ordering::Acquire) == 0 && hw::counter() - start < exits::timeout_ticks() {
            core::hint::spin_loop();
        }
        for _ in 0..1_000_000 {
            if smc([PSCI_AFFINITY_INFO, cpu as u64, 0, 0, 0, 0, 0, 0])[0] == 1 {
                break;
            }
        }
    }
}
