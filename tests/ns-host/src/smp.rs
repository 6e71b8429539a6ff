//! Multi-CPU checks: PSCI CPU_ON every secondary; each one warm-boots the
//! RMM (through EL3), then delegates/undelegates its own granule and races
//! the others on a shared one, and reports back before CPU_OFF.

use crate::checks::{POOL, is_gpf, page_is};
use crate::hw::{self, PSCI_AFFINITY_INFO, PSCI_CPU_OFF, PSCI_CPU_ON, smc};
use crate::rmi::{self, RMI_ABI_VERSION, RMI_VERSION, SUCCESS};
use crate::stress::Layout;
use core::sync::atomic::{AtomicU32, Ordering};

const MAX_CPUS: usize = 8;
/// Granule all secondaries fight over.
pub const SHARED: u64 = POOL + 0x2_0000;
const ROUNDS: usize = 20;
const INVALID_PARAMS: u64 = -2i64 as u64;

/// Per-CPU result: 0 running, 1 passed, 2 failed. Plain loads/stores only:
/// the host runs with its MMU off.
static RESULT: [AtomicU32; MAX_CPUS] = [const { AtomicU32::new(0) }; MAX_CPUS];
/// Per-CPU realm stress result: 0 running, else 1 + rounds that succeeded.
static STRESS: [AtomicU32; MAX_CPUS] = [const { AtomicU32::new(0) }; MAX_CPUS];

pub struct SmpResult {
    pub started: u32,
    pub passed: u32,
    pub failed: u32,
    pub self_on: i64,
    /// CPUs that ran the realm stress, and full rounds that succeeded.
    pub stress_cpus: u32,
    pub stress_rounds: u32,
}

impl SmpResult {
    pub fn ok(&self) -> bool {
        self.failed == 0 && self.passed == self.started && self.self_on == -4
    }
}

pub fn run_secondaries() -> SmpResult {
    let mut res = SmpResult {
        started: 0,
        passed: 0,
        failed: 0,
        self_on: 0,
        stress_cpus: 0,
        stress_rounds: 0,
    };
    let mut on = [false; MAX_CPUS];
    for (cpu, slot) in on.iter_mut().enumerate().skip(1) {
        let r = smc([
            PSCI_CPU_ON,
            cpu as u64,
            hw::secondary_entry(),
            cpu as u64,
            0,
            0,
            0,
            0,
        ])[0];
        if r == 0 {
            *slot = true;
            res.started += 1;
        } else if r == INVALID_PARAMS {
            break; // no such CPU: QEMU has fewer than 8
        } else {
            res.failed += 1;
        }
    }
    // PSCI: CPU_ON of a CPU that is already on is ALREADY_ON (-4).
    res.self_on = smc([
        PSCI_CPU_ON,
        hw::mpidr(),
        hw::secondary_entry(),
        0,
        0,
        0,
        0,
        0,
    ])[0] as i64;
    // This CPU runs its realm rounds while the secondaries run theirs.
    res.stress_cpus = 1;
    res.stress_rounds = Layout::for_cpu(0).run_rounds() as u32;
    for (cpu, _) in on.iter().enumerate().filter(|(_, o)| **o) {
        let mut spins = 0u64;
        while RESULT[cpu].load(Ordering::Acquire) == 0 && spins < 200_000_000 {
            spins += 1;
        }
        match RESULT[cpu].load(Ordering::Acquire) {
            1 => res.passed += 1,
            _ => res.failed += 1,
        }
        if let Some(rounds) = STRESS[cpu].load(Ordering::Acquire).checked_sub(1) {
            res.stress_cpus += 1;
            res.stress_rounds += rounds;
        }
        // Wait until PSCI reports it OFF (AFFINITY_INFO level 0 -> 1).
        let mut state = 0;
        for _ in 0..1_000_000 {
            state = smc([PSCI_AFFINITY_INFO, cpu as u64, 0, 0, 0, 0, 0, 0])[0];
            if state == 1 {
                break;
            }
        }
        if state != 1 {
            res.failed += 1;
        }
    }
    res
}

pub fn secondary(context_id: u64) -> ! {
    let cpu = (context_id as usize).min(MAX_CPUS - 1);
    let own = POOL + 0x1_0000 + 0x1000 * cpu as u64;
    let v = rmi::call(RMI_VERSION, RMI_ABI_VERSION);
    let mut ok = v[0] == SUCCESS;
    for _ in 0..ROUNDS {
        hw::fill_page(own, cpu as u8 + 1);
        ok &= rmi::delegate(own) == SUCCESS;
        ok &= is_gpf(hw::probe(own).esr);
        ok &= rmi::undelegate(own) == SUCCESS;
        ok &= page_is(own, 0);
        // Contended granule: whoever delegates it undelegates it again.
        if rmi::delegate(SHARED) == SUCCESS {
            ok &= rmi::undelegate(SHARED) == SUCCESS;
        }
    }
    // Realm rounds on this CPU, concurrently with the other CPUs'.
    let rounds = Layout::for_cpu(cpu).run_rounds() as u32;
    STRESS[cpu].store(1 + rounds, Ordering::Release);
    RESULT[cpu].store(if ok { 1 } else { 2 }, Ordering::Release);
    hw::sev();
    loop {
        smc([PSCI_CPU_OFF, 0, 0, 0, 0, 0, 0, 0]);
    }
}
