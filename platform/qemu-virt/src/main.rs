//! EL3 monitor for QEMU `virt` with FEAT_RME.
//!
//! Boot: every CPU enters `el3_reset` (asm/entry.S). CPU 0 builds the EL3
//! page tables and the Granule Protection Table, loads the RMM and the NS
//! payload from the firmware package in flash, writes the RMM boot manifest
//! and cold-boots the RMM at R-EL2 with the RMM-EL3 interface registers of
//! TF-A v2.13 (rmm-el3-interface.md §2). On RMM_BOOT_COMPLETE it enters the
//! NS payload at NS-EL2. Other CPUs wait until PSCI CPU_ON, then warm-boot
//! the RMM and enter the NS entry point.
//!
//! Runtime: SMCs from both lower worlds arrive in `smc::el3_handle_lower_sync`.

#![no_std]
#![no_main]

mod arch;
mod console;
mod context;
mod gic;
mod gpt;
mod heap;
mod layout;
mod manifest;
mod mmu;
mod package;
mod plat_token;
mod psci;
mod services;
mod smc;

use console::println;
use context::Phase;
use core::fmt;
use layout::*;

core::arch::global_asm!(include_str!("asm/entry.S"));
core::arch::global_asm!(include_str!("asm/vectors.S"));
core::arch::global_asm!(include_str!("asm/el2ctx.S"));

/// RMM-EL3 Boot Interface version we speak: 0.6 (TF-A v2.13).
const BOOT_INTERFACE_VERSION: u64 = 0x0000_0006;

/// Exit status for a fatal monitor error (see `cargo xtask --help`).
const EXIT_EL3_FATAL: u32 = 90;

unsafe extern "C" {
    fn el3_cpu_off_hold(cpu: u64) -> !;
    fn el3_secondary_main_trampoline();
}

/// Report an unrecoverable monitor error and stop QEMU.
pub fn fatal(args: fmt::Arguments<'_>) -> ! {
    println!("FATAL: {args}");
    arch::semihosting_exit(EXIT_EL3_FATAL)
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    fatal(format_args!("panic: {info}"))
}

/// Any exception taken from EL3 itself (vectors.S).
#[unsafe(no_mangle)]
extern "C" fn el3_unexpected_exception(kind: u64) -> ! {
    let esr = arch::read_sysreg!("esr_el3");
    let elr = arch::read_sysreg!("elr_el3");
    let far = arch::read_sysreg!("far_el3");
    fatal(format_args!(
        "exception {kind} at EL3: ESR={esr:#x} ELR={elr:#x} FAR={far:#x}"
    ))
}

/// DRAM end and CPU count from the DTB QEMU places at the base of RAM.
fn probe_dtb() -> (u64, usize) {
    // SAFETY: QEMU writes a valid FDT at DRAM_BASE for -bios boots; the
    // parser only reads within the size the header declares.
    let fdt = unsafe { fdt::Fdt::from_ptr(DRAM_BASE as *const u8) };
    let Ok(fdt) = fdt else {
        fatal(format_args!("no device tree at {DRAM_BASE:#x}"))
    };
    let end = fdt
        .memory()
        .regions()
        .filter(|r| r.starting_address as u64 == DRAM_BASE)
        .map(|r| DRAM_BASE + r.size.unwrap_or(0) as u64)
        .max()
        .unwrap_or(DRAM_BASE);
    (end, fdt.cpus().count())
}

#[unsafe(no_mangle)]
extern "C" fn el3_primary_main(_cpu: u64) -> ! {
    psci::clear_mailboxes();
    // The DTB must be read before the GPT makes DRAM NS-only to Root.
    let (dram_end, ncpus) = probe_dtb();
    if !(RMM_BASE + RMM_CARVEOUT_SIZE + 0x0100_0000..=DRAM_BASE + (31 << 30)).contains(&dram_end) {
        fatal(format_args!(
            "unsupported RAM size (DRAM end {dram_end:#x}); use -m 1G..31G"
        ));
    }
    if let Err(e) = mmu::build(dram_end) {
        fatal(format_args!("EL3 page tables: {e}"));
    }
    mmu::enable_on_this_cpu();
    arch::init_traps();
    gic::init_distributor();
    gic::init_this_cpu();
    let cpu = context::init_this_cpu(0);
    heap::init();
    println!(
        "cmon EL3 monitor for QEMU virt (FEAT_RME), {} CPUs, DRAM {:#x}..{:#x}",
        ncpus, DRAM_BASE, dram_end
    );

    match gpt::build(dram_end) {
        Ok(n) => println!("GPT: L0 at {GPT_L0_BASE:#x}, {n} L1 tables, PPS 1TB, PGS 4KB"),
        Err(e) => fatal(format_args!("GPT: {e}")),
    }
    let el3_hash = package::measure_self();
    let (rmm_hash, _ns_hash) = match load_images() {
        Ok(h) => h,
        Err(e) => fatal(format_args!("firmware package: {e}")),
    };
    print_hash("EL3 image sha256", &el3_hash);
    print_hash("RMM image sha256", &rmm_hash);
    services::set_measurements(plat_token::Measurements {
        el3: el3_hash,
        rmm: rmm_hash,
    });
    if let Err(e) = services::init() {
        fatal(format_args!("key hierarchy: {e}"));
    }
    gpt::enable_on_this_cpu();
    println!("GPT enabled, GPCCR_EL3={:#x}", gpt::gpccr());

    write_manifest(dram_end);
    psci::init(ncpus, dram_end);
    println!("cold-booting RMM at {RMM_BASE:#x} (R-EL2), interface 0.6, manifest 0.5");
    cpu.phase = Phase::RmmColdBoot;
    cpu.prepare_realm_entry(
        RMM_BASE,
        [0, BOOT_INTERFACE_VERSION, MAX_CPUS as u64, RMM_SHARED_PAGE],
    );
    context::enter(cpu.load_realm_el2())
}

fn load_images() -> Result<([u8; 32], [u8; 32]), &'static str> {
    let rmm = package::find(package::ImageId::Rmm)?;
    let ns = package::find(package::ImageId::NsPayload)?;
    if rmm.load != RMM_BASE {
        return Err("RMM image must load at 0x40100000");
    }
    let rmm_hash = package::load(&rmm, RMM_BASE, RMM_SHARED_PAGE)?;
    let ns_hash = package::load(&ns, RMM_BASE + RMM_CARVEOUT_SIZE, u64::MAX)?;
    arch::ic_iallu();
    Ok((rmm_hash, ns_hash))
}

fn print_hash(what: &str, h: &[u8; 32]) {
    let mut s = [0u8; 64];
    for (i, b) in h.iter().enumerate() {
        s[2 * i] = b"0123456789abcdef"[(b >> 4) as usize];
        s[2 * i + 1] = b"0123456789abcdef"[(b & 15) as usize];
    }
    println!("{what} {}", core::str::from_utf8(&s).unwrap_or("?"));
}

fn write_manifest(dram_end: u64) {
    let mut page = [0u8; 4096];
    manifest::build(
        &mut page,
        RMM_SHARED_PAGE,
        (DRAM_BASE, dram_end - DRAM_BASE),
    );
    // SAFETY: the shared page is mapped read-write with Realm PAS at its
    // identity address (mmu::build) and the RMM has not started yet.
    let dst = unsafe { &mut *(RMM_SHARED_PAGE as *mut [u8; 4096]) };
    dst.copy_from_slice(&page);
    // The RMM reads it with its MMU off.
    arch::dc_civac_range(RMM_SHARED_PAGE, 4096);
}

/// Address a released secondary CPU jumps to from the hold loop.
pub fn secondary_entry_addr() -> u64 {
    el3_secondary_main_trampoline as *const () as u64
}

core::arch::global_asm!(
    ".global el3_secondary_main_trampoline",
    "el3_secondary_main_trampoline:",
    "    b el3_secondary_main",
);

/// A secondary CPU released by CPU_ON (x0 = its linear index, stack set).
#[unsafe(no_mangle)]
extern "C" fn el3_secondary_main(index: u64) -> ! {
    mmu::enable_on_this_cpu();
    arch::init_traps();
    gpt::enable_on_this_cpu();
    gic::init_this_cpu();
    let cpu = context::init_this_cpu(index as usize);
    let (entry, context_id) = psci::take_entry(cpu.index);
    if smc::rmm_failed() {
        cpu.prepare_ns_entry(entry, context_id);
        psci::mark_on(cpu.index);
        context::enter(cpu.load_ns_el2());
    }
    // Warm boot of the RMM on this CPU: x0 = index, x1..x3 = 0 (§2).
    cpu.phase = Phase::RmmWarmBoot { entry, context_id };
    cpu.prepare_realm_entry(RMM_BASE, [index, 0, 0, 0]);
    context::enter(cpu.load_realm_el2())
}

/// PSCI CPU_OFF: forget this CPU's world contexts and go back to holding.
pub fn cpu_off(cpu: &mut context::CpuData) -> ! {
    psci::cpu_off(cpu.index);
    // SAFETY: el3_cpu_off_hold resets this CPU's EL3 stack and waits in the
    // hold loop; nothing on the current stack is used again.
    unsafe { el3_cpu_off_hold(cpu.index as u64) }
}
