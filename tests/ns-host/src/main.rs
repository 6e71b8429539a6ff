//! Bare-metal NS-EL2 test host for the CCA monitor stack.
//!
//! Bootable as TF-A's BL33 (entry 0x6000_0000, NS-EL2, MMU off) and using
//! only spec RMI and PSCI calls. Test mode runs the scripted checks of
//! `checks.rs` and prints one line per check and a summary
//! `ns-host: N passed, M failed`; bench mode (`bench.rs`) prints BENCH lines.
//! The mode is the word at CONFIG_MODE, which `cargo xtask` sets through
//! QEMU's `-device loader,addr=0x5FFFF000,data=1,data-len=4` (0 = test).

#![no_std]
#![no_main]

mod bench;
mod bench_attest;
mod checks;
mod fold_realm;
mod gic_realm;
mod hw;
mod psci_realm;
mod realm;
mod rmi;
mod smp;
mod stress;
mod timer_realm;
mod vmm;

use hw::println;

core::arch::global_asm!(include_str!("asm/entry.S"));

pub const CONFIG_MODE: u64 = 0x5FFF_F000;
pub const CONFIG_ITERS: u64 = 0x5FFF_F004;
/// Exit status when the host itself crashes (see `cargo xtask --help`).
const EXIT_HOST_FATAL: u64 = 92;

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    println!("ns-host: panic: {info}");
    hw::system_off(EXIT_HOST_FATAL)
}

#[unsafe(no_mangle)]
extern "C" fn ns_unexpected_exception(kind: u64) -> ! {
    println!("ns-host: unexpected exception (vector {kind})");
    hw::system_off(EXIT_HOST_FATAL)
}

#[unsafe(no_mangle)]
extern "C" fn ns_main() -> ! {
    println!("ns-host: NS-EL2 test host, MPIDR {:#x}", hw::mpidr());
    match hw::config_word(CONFIG_MODE) {
        1 => {
            bench::run(hw::config_word(CONFIG_ITERS));
            hw::system_off(0)
        }
        _ => {
            let failed = checks::run();
            hw::system_off(failed)
        }
    }
}

#[unsafe(no_mangle)]
extern "C" fn ns_secondary_main(context_id: u64) -> ! {
    if context_id & !0xFF == vmm::JOB_VMM {
        vmm::secondary((context_id & 0xFF) as usize)
    }
    smp::secondary(context_id)
}
