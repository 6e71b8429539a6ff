//! A bare-metal realm guest for R-EL1 (README "Realm guest").
//!
//! The NS host DATA_CREATEs this flat image (measured) at IPA 0x2_0000 and
//! starts REC 0 there. The guest builds its own stage-1 tables and turns
//! the MMU and caches on, prints through a PL011 the host emulates at an
//! unprotected IPA, starts the other RECs with PSCI CPU_ON, proves they run
//! at the same time (`smp`), touches memory in every RIPAS state
//! (`probes`), and ends with PSCI SYSTEM_OFF. It talks to the RMM only
//! through RSI and PSCI (SMC), and to the host only through MMIO exits and
//! RSI_HOST_CALL (`host`).

#![no_std]
#![no_main]

mod arch;
mod attest;
mod console;
mod host;
mod layout;
mod mmu;
mod probes;
mod rsi;
mod smp;
mod trap;

use core::sync::atomic::{AtomicU64, Ordering};

use console::println;
use host::probe;
use layout::IPA_WIDTH;

core::arch::global_asm!(include_str!("asm/entry.S"));

/// A 4 KiB buffer for RSI_REALM_CONFIG.
#[repr(C, align(4096))]
struct ConfigPage([AtomicU64; 512]);
static CONFIG: ConfigPage = ConfigPage([const { AtomicU64::new(0) }; 512]);

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    fatal(0xBAD, format_args!("panic: {info}"))
}

/// Report a failure to the host, then stop the realm.
pub fn fatal(code: u64, why: core::fmt::Arguments<'_>) -> ! {
    println!("FATAL: {why}");
    host::call(arch::rec_index(), host::HC_FATAL, &[code]);
    rsi::system_off()
}

/// Every REC arrives here from `guest_entry` with the MMU off.
#[unsafe(no_mangle)]
extern "C" fn guest_main(context: u64, rec: u64, text_end: u64, entry: u64) -> ! {
    let rec = rec as usize;
    if rec == 0 {
        mmu::build(entry, text_end);
    }
    arch::enable_mmu(mmu::ttbr0(), mmu::TCR, mmu::MAIR);
    if rec == 0 {
        primary(entry)
    } else {
        smp::secondary(rec, context)
    }
}

fn primary(entry: u64) -> ! {
    println!(
        "realm guest: REC 0 at R-EL1, stage-1 MMU and caches on (SCTLR_EL1 {:#x})",
        arch::sctlr()
    );
    let (s, lower, higher) = rsi::version();
    let cs = rsi::realm_config(&CONFIG as *const ConfigPage as u64);
    let width = CONFIG.0[0].load(Ordering::Relaxed);
    let algo = CONFIG.0[1].load(Ordering::Relaxed);
    host::result(0, probe::CONFIG, &[s | cs << 8, lower, higher, width, algo]);
    println!(
        "realm guest: RSI {}.{} (status {s}), IPA width {width}, hash algorithm {algo}",
        lower >> 16,
        lower & 0xFFFF
    );
    if s != rsi::RSI_SUCCESS || width != IPA_WIDTH {
        fatal(
            1,
            format_args!("RSI 1.0 and a {IPA_WIDTH}-bit IPA space needed"),
        );
    }
    let (ms, rim) = rsi::measurement_read(0);
    host::call(0, host::HC_RIM, &[ms, rim[0], rim[1], rim[2], rim[3]]);
    println!(
        "realm guest: RIM {:016x}{:016x}{:016x}{:016x}",
        rim[0].swap_bytes(),
        rim[1].swap_bytes(),
        rim[2].swap_bytes(),
        rim[3].swap_bytes()
    );
    let (_, answer) = host::call(0, host::HC_HELLO, &[0]);
    let concurrent = answer[0] == 1;
    let nrecs = smp::start_secondaries(entry);
    println!(
        "realm guest: {nrecs} RECs running{}",
        if concurrent {
            ", each on its own host CPU"
        } else {
            " in turn on one host CPU (concurrency checks skipped)"
        }
    );
    if concurrent {
        smp::ping_pong_leader(nrecs);
    }
    smp::count(0);
    probes::run_rec0();
    attest::run();
    smp::wait_secondaries(nrecs);
    smp::check_counter(nrecs);
    println!("realm guest: done, PSCI SYSTEM_OFF");
    rsi::system_off()
}
