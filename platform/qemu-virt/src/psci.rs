//! PSCI 1.1 for the NS host (Arm DEN0022): VERSION, FEATURES, CPU_ON,
//! CPU_OFF, AFFINITY_INFO, MIGRATE_INFO_TYPE, SYSTEM_OFF, SYSTEM_RESET.
//! QEMU offers no PSCI when firmware owns EL3 (qemu-platforms.md §2.2), so
//! this is the only PSCI the host sees.

use crate::arch;
use crate::console::println;
use crate::layout::*;
use core::sync::atomic::{AtomicU8, AtomicU64, AtomicUsize, Ordering};

pub const PSCI_VERSION: u32 = 0x8400_0000;
pub const CPU_OFF: u32 = 0x8400_0002;
pub const CPU_ON_32: u32 = 0x8400_0003;
pub const CPU_ON_64: u32 = 0xC400_0003;
pub const AFFINITY_INFO_32: u32 = 0x8400_0004;
pub const AFFINITY_INFO_64: u32 = 0xC400_0004;
pub const MIGRATE_INFO_TYPE: u32 = 0x8400_0006;
pub const SYSTEM_OFF: u32 = 0x8400_0008;
pub const SYSTEM_RESET: u32 = 0x8400_0009;
pub const PSCI_FEATURES: u32 = 0x8400_000A;

pub const SUCCESS: i64 = 0;
pub const NOT_SUPPORTED: i64 = -1;
pub const INVALID_PARAMS: i64 = -2;
pub const ALREADY_ON: i64 = -4;
pub const ON_PENDING: i64 = -5;
pub const INVALID_ADDRESS: i64 = -9;

/// Power state of each CPU as AFFINITY_INFO reports it.
const ON: u8 = 0;
const OFF: u8 = 1;
const PENDING: u8 = 2;

static STATE: [AtomicU8; MAX_CPUS] = [const { AtomicU8::new(OFF) }; MAX_CPUS];
static ENTRY: [AtomicU64; MAX_CPUS] = [const { AtomicU64::new(0) }; MAX_CPUS];
static CONTEXT: [AtomicU64; MAX_CPUS] = [const { AtomicU64::new(0) }; MAX_CPUS];
/// CPUs present in QEMU's DTB (at most MAX_CPUS).
static PRESENT: AtomicUsize = AtomicUsize::new(1);
static DRAM_END: AtomicU64 = AtomicU64::new(0);

/// What the dispatcher must do after a PSCI call.
pub enum Outcome {
    /// Return `x0` to the caller.
    Return(i64),
    /// The calling CPU powers down (CPU_OFF).
    CpuOff,
}

pub fn init(present: usize, dram_end: u64) {
    PRESENT.store(present.min(MAX_CPUS), Ordering::Relaxed);
    DRAM_END.store(dram_end, Ordering::Relaxed);
    STATE[0].store(ON, Ordering::Relaxed);
}

/// Entry point and context id that CPU_ON recorded for `cpu`.
pub fn take_entry(cpu: usize) -> (u64, u64) {
    (
        ENTRY[cpu].load(Ordering::Acquire),
        CONTEXT[cpu].load(Ordering::Acquire),
    )
}

/// The CPU finished powering on (after the RMM warm boot).
pub fn mark_on(cpu: usize) {
    STATE[cpu].store(ON, Ordering::Release);
}

fn mailbox(cpu: usize) -> *mut u64 {
    (MAILBOX_BASE + 8 * cpu as u64) as *mut u64
}

/// Release `cpu` from the hold loop to `entry` (an EL3 address).
fn release(cpu: usize, entry: u64) {
    // SAFETY: the mailbox page is reserved EL3 secure RAM; slot `cpu` is
    // only written by EL3 under the PSCI state transition OFF -> PENDING.
    unsafe { mailbox(cpu).write_volatile(entry) };
    // The target polls with its MMU off: push the line to PoC.
    arch::dc_civac_range(mailbox(cpu) as u64, 8);
    arch::sev();
}

/// Clear every hold mailbox (before a system reset, so that secondaries do
/// not find a stale entry address when QEMU restarts them).
pub fn clear_mailboxes() {
    for cpu in 0..MAX_CPUS {
        // SAFETY: as in `release`.
        unsafe { mailbox(cpu).write_volatile(0) };
    }
    arch::dc_civac_range(MAILBOX_BASE, 8 * MAX_CPUS as u64);
}

/// MPIDR -> linear index; None if no such CPU (Aff3/Aff2 must be 0).
fn cpu_of(mpidr: u64) -> Option<usize> {
    if mpidr & !0xFFFF != 0 || mpidr & 0xFF >= 8 {
        return None;
    }
    let idx = ((mpidr & 0xFF) + ((mpidr >> 8) & 0xFF) * 8) as usize;
    (idx < PRESENT.load(Ordering::Relaxed)).then_some(idx)
}

fn valid_ns_entry(entry: u64) -> bool {
    let in_dram = entry >= DRAM_BASE && entry < DRAM_END.load(Ordering::Relaxed);
    let in_carveout = (RMM_BASE..RMM_BASE + RMM_CARVEOUT_SIZE).contains(&entry);
    in_dram && !in_carveout && entry.is_multiple_of(4)
}

/// Handle PSCI function `fid` with arguments x1..x3 from the NS host.
pub fn handle(fid: u32, x1: u64, x2: u64, x3: u64, warm_entry: u64) -> Outcome {
    let smc32 = fid & 0x4000_0000 == 0;
    let arg = |v: u64| if smc32 { v & 0xFFFF_FFFF } else { v };
    Outcome::Return(match fid {
        PSCI_VERSION => 0x0001_0001,
        PSCI_FEATURES => match x1 as u32 {
            PSCI_VERSION | CPU_OFF | CPU_ON_32 | CPU_ON_64 | AFFINITY_INFO_32
            | AFFINITY_INFO_64 | MIGRATE_INFO_TYPE | SYSTEM_OFF | SYSTEM_RESET | PSCI_FEATURES => {
                SUCCESS
            }
            crate::smc::SMCCC_VERSION => SUCCESS,
            _ => NOT_SUPPORTED,
        },
        CPU_ON_32 | CPU_ON_64 => cpu_on(arg(x1), arg(x2), arg(x3), warm_entry),
        CPU_OFF => return Outcome::CpuOff,
        AFFINITY_INFO_32 | AFFINITY_INFO_64 => {
            if arg(x2) != 0 {
                INVALID_PARAMS
            } else {
                match cpu_of(arg(x1)) {
                    Some(c) => STATE[c].load(Ordering::Acquire) as i64,
                    None => INVALID_PARAMS,
                }
            }
        }
        // 2: no Trusted OS that would need migrating.
        MIGRATE_INFO_TYPE => 2,
        SYSTEM_OFF => system_off(x1),
        SYSTEM_RESET => system_reset(),
        _ => NOT_SUPPORTED,
    })
}

fn cpu_on(target: u64, entry: u64, context_id: u64, warm_entry: u64) -> i64 {
    let Some(cpu) = cpu_of(target) else {
        return INVALID_PARAMS;
    };
    if !valid_ns_entry(entry) {
        return INVALID_ADDRESS;
    }
    match STATE[cpu].compare_exchange(OFF, PENDING, Ordering::AcqRel, Ordering::Acquire) {
        Ok(_) => {}
        Err(ON) => return ALREADY_ON,
        Err(_) => return ON_PENDING,
    }
    ENTRY[cpu].store(entry, Ordering::Release);
    CONTEXT[cpu].store(context_id, Ordering::Release);
    release(cpu, warm_entry);
    SUCCESS
}

/// The calling CPU is going off: it returns to the hold loop.
pub fn cpu_off(cpu: usize) {
    // SAFETY: as in `release`; the CPU clears its own slot before holding.
    unsafe { mailbox(cpu).write_volatile(0) };
    arch::dc_civac_range(mailbox(cpu) as u64, 8);
    STATE[cpu].store(OFF, Ordering::Release);
}

/// SYSTEM_OFF ends the QEMU run. As a development aid, x1 (ignored by PSCI)
/// carries the caller's status: 0 = success, 1..=89 = number of failures.
/// Under TF-A the same call simply powers off (exit status 0).
fn system_off(status: u64) -> ! {
    let code = status.min(89) as u32;
    println!("PSCI SYSTEM_OFF (status {code})");
    arch::semihosting_exit(code)
}

/// SYSTEM_RESET through the secure GPIO reset line (pin 1, §2.3).
fn system_reset() -> ! {
    println!("PSCI SYSTEM_RESET");
    clear_mailboxes();
    arch::mmio_write32(SECURE_GPIO_BASE + 0x400, 1 << 1); // GPIODIR: pin 1 output
    arch::mmio_write32(SECURE_GPIO_BASE + (1 << (1 + 2)), 1 << 1); // DATA[pin 1] = 1
    loop {
        core::hint::spin_loop();
    }
}
