//! RMM firmware image: the AArch64 R-EL2 glue around the `rmm` crate.
//!
//! Entered by EL3 (ours or TF-A) at its load address with the RMM-EL3 boot
//! registers (rmm-el3-interface.md §2). Cold boot validates the registers
//! and the boot manifest, builds the RMM's own stage-1 tables, sizes the
//! granule table from the manifest's DRAM banks and reports
//! RMM_BOOT_COMPLETE. From then on each SMC return delivers the next RMI
//! request (§3) and `RMM_RMI_REQ_COMPLETE` returns its result.

#![no_std]
#![no_main]

mod arch;
mod attest;
mod console;
mod gic;
mod global;
mod heap;
mod mmu;
mod platform;
mod realm_run;
mod sha;
mod slots;

use console::println;
use core::fmt;
use core::sync::atomic::AtomicU16;
use rmm::{BootArgs, Features, PhysAddr};

core::arch::global_asm!(include_str!("asm/entry.S"));
// Realm entry/exit and FP/SIMD context switch (used by REC_ENTER).
core::arch::global_asm!(include_str!("asm/realm_run.S"));
// memcpy/memset replacing compiler_builtins' weak portable ones.
core::arch::global_asm!(include_str!("asm/mem.S"));

const RMM_BOOT_COMPLETE: u64 = 0xC400_01CF;
const RMM_RMI_REQ_COMPLETE: u64 = 0xC400_018F;
/// E_RMM_BOOT_UNKNOWN, for failures inside the image (tables, storage).
const E_RMM_BOOT_UNKNOWN: i64 = -1;
/// Exit status of a development run on a fatal RMM error.
const EXIT_RMM_FATAL: u32 = 91;

/// Granule state storage: 2 bytes per 4 KiB granule, enough for 8 GiB of
/// DRAM (QEMU up to `-m 8G`, FVP's 2 GiB + 6 GiB banks). Zeroed with .bss.
const MAX_GRANULES: usize = 2 << 20;
static GRANULE_STORAGE: [AtomicU16; MAX_GRANULES] = [const { AtomicU16::new(0) }; MAX_GRANULES];

/// Report an unrecoverable RMM error. With semihosting (development runs)
/// QEMU stops with status 91; otherwise the CPU stays parked.
pub fn fatal(args: fmt::Arguments<'_>) -> ! {
    println!("FATAL: {args}");
    arch::semihosting_exit(EXIT_RMM_FATAL)
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    fatal(format_args!("panic: {info}"))
}

#[unsafe(no_mangle)]
extern "C" fn rmm_unexpected_exception(kind: u64) -> ! {
    let esr = arch::read_sysreg!("esr_el2");
    let elr = arch::read_sysreg!("elr_el2");
    let far = arch::read_sysreg!("far_el2");
    fatal(format_args!(
        "exception {kind} at R-EL2: ESR={esr:#x} ELR={elr:#x} FAR={far:#x}"
    ))
}

/// Report a boot failure to EL3; it never enters this RMM again (§2).
fn boot_failed(code: i64) -> ! {
    loop {
        arch::smc([RMM_BOOT_COMPLETE, code as u64, 0, 0, 0, 0, 0, 0]);
    }
}

/// Platform capabilities for RMI_FEATURES from the ID registers. Only what
/// the RMM supports for realms is advertised: no SVE, PMU or LPA2 yet.
fn features() -> Features {
    let pa_bits = match arch::read_sysreg!("id_aa64mmfr0_el1") & 0xF {
        0 => 32,
        1 => 36,
        2 => 40,
        3 => 42,
        4 => 44,
        _ => 48,
    };
    let dfr0 = arch::read_sysreg!("id_aa64dfr0_el1");
    let vtr = arch::read_sysreg!("S3_4_C12_C11_1"); // ICH_VTR_EL2
    Features {
        s2sz: pa_bits,
        num_bps: ((dfr0 >> 12) & 0xF) as u8 + 1,
        num_wps: ((dfr0 >> 20) & 0xF) as u8 + 1,
        gicv3_num_lrs: (vtr & 0x1F) as u8 + 1,
        ..Features::CONSERVATIVE
    }
}

#[unsafe(no_mangle)]
extern "C" fn rmm_cold_main(x0: u64, x1: u64, x2: u64, x3: u64) -> ! {
    let args = BootArgs { x0, x1, x2, x3 };
    if x2 as usize > mmu::MAX_CPUS {
        boot_failed(-3); // E_RMM_BOOT_CPUS_OUT_OF_RANGE: more than this image has stacks for
    }
    // Copy the shared page in once (MMU off, so x3 is a PA) and validate the
    // copy; nothing re-reads EL3's page afterwards.
    let mut page = [0u8; 4096];
    if x3 != 0 && x3.is_multiple_of(4096) {
        // SAFETY: x3 is EL3's shared page, Realm PAS and cleaned to PoC
        // (§2); with the MMU off it is readable at its PA. A bad x3 is
        // rejected by validate_cold_boot before the copy is used... but the
        // read itself must not fault, so only aligned non-null pages are read.
        let src = unsafe { &*(x3 as *const [u8; 4096]) };
        page.copy_from_slice(src);
    }
    let boot = match rmm::validate_cold_boot(&args, &page) {
        Ok(b) => b,
        Err(e) => boot_failed(e.code()),
    };
    let console = boot.console.map(|c| (c.base.0, c.map_pages));
    if mmu::build(boot.shared_buf.0, console).is_err() {
        boot_failed(E_RMM_BOOT_UNKNOWN);
    }
    mmu::enable_on_this_cpu();
    heap::init();
    if let Some((base, _)) = console {
        console::init(base);
    }
    let need = rmm::storage_len(&boot.dram);
    let Some(storage) = GRANULE_STORAGE.get(..need) else {
        println!("DRAM needs {need} granule entries, image has {MAX_GRANULES}");
        boot_failed(E_RMM_BOOT_UNKNOWN);
    };
    let (start, end) = mmu::image_range();
    let reserved = [(PhysAddr(start), end - start), (boot.shared_buf, 4096)];
    // Attestation first: the monitor takes the RAK and the platform token
    // by value before it is published to the other CPUs.
    let attest = match attest::init(boot.shared_buf.0) {
        Ok((a, s)) => {
            println!(
                "attestation: RAK from EL3; platform token {} bytes, bound to SHA-256(RAK COSE_Key) = {:02x}{:02x}{:02x}{:02x}..",
                s.token_len, s.challenge[0], s.challenge[1], s.challenge[2], s.challenge[3]
            );
            Some(a)
        }
        // Realms can still run; only attestation is unavailable.
        Err(e) => {
            println!("attestation unavailable: {e}");
            None
        }
    };
    let monitor = match rmm::Rmm::new(platform::ArmPlatform, &boot, storage, &reserved) {
        // VMIDBits (ID_AA64MMFR1_EL1[7:4]): 2 = 16-bit VMIDs, 0 = 8-bit.
        Ok(m) => {
            let vmid16 = (arch::read_sysreg!("id_aa64mmfr1_el1") >> 4) & 0xF == 2;
            let m = m
                .with_features(features())
                .with_vmid_bits(if vmid16 { 16 } else { 8 });
            match attest {
                Some(a) => m.with_attestation(a),
                None => m,
            }
        }
        Err(e) => boot_failed(e.code()),
    };
    let monitor = global::RMM.set(monitor);
    let iv = boot.if_version;
    let mv = boot.manifest_version;
    println!("cmon RMM (RMI 1.0) cold boot on CPU {x0} of {x2}");
    let hw_sha = sha::init();
    println!(
        "SHA-256 for measurements: {}",
        if hw_sha {
            "CPU instructions (self-test passed)"
        } else {
            "portable code"
        }
    );
    println!("RMM-EL3 interface {iv}, boot manifest {mv}");
    for bank in boot.dram.banks() {
        println!(
            "DRAM bank {:#x}..{:#x} ({} granules tracked)",
            bank.base.0,
            bank.base.0 + bank.size,
            need
        );
    }
    serve(monitor)
}

#[unsafe(no_mangle)]
extern "C" fn rmm_warm_main(x0: u64, x1: u64, x2: u64, x3: u64) -> ! {
    let Some(monitor) = global::RMM.get() else {
        boot_failed(E_RMM_BOOT_UNKNOWN)
    };
    if let Err(e) = rmm::validate_warm_boot(&BootArgs { x0, x1, x2, x3 }, monitor.max_cpus()) {
        boot_failed(e.code());
    }
    mmu::enable_on_this_cpu();
    serve(monitor)
}

/// Report boot success, then serve RMI requests on this CPU forever.
fn serve(monitor: &'static global::Monitor) -> ! {
    let mut req = arch::smc([RMM_BOOT_COMPLETE, 0, 0, 0, 0, 0, 0, 0]);
    loop {
        let r = monitor.handle_rmi(&req).x;
        req = arch::smc([RMM_RMI_REQ_COMPLETE, r[0], r[1], r[2], r[3], r[4], 0, 0]);
    }
}
