//! TDX module shim firmware for QEMU q35 (`-bios`), on the qemu-q35 boot
//! path. What it proves, on every CPU that comes up:
//!
//! 1. SEAMCALL and TDCALL trap as #UD under TCG and are emulated: the
//!    #UD handler decodes 66 0F 01 CF / 66 0F 01 CC at RIP, runs the
//!    dispatcher (`seam`) on the GPRs, writes them back, RIP += 4
//!    (trap.rs), first at CPL 0.
//! 2. The dispatcher is the `tdx-module-shim` logic crate (seam.rs), one
//!    `Module` in a write-once cell (global.rs) over [`platform`], with a
//!    `ModuleConfig` read from the machine (config.rs).
//! 3. De-privileged: a "VMM harness" runs at CPL 3 in its own address
//!    space (harness.rs) and calls the module with real SEAMCALLs: module
//!    bring-up on every LP, then a whole TD build in its own RAM region
//!    (td_build.rs, vmm.rs) ending in a known-answer MRTD read over
//!    TDH.MNG.RD, then the TD's teardown, after which every TD page is
//!    the harness's again and reads zero.
//! 4. Isolation: the harness's reads, writes and instruction fetches of
//!    shim memory take #PF (U/S = 0), which the shim reflects back to the
//!    harness; shim memory is unchanged. Pages the module takes (PAMT, TDR,
//!    private pages) are unmapped from the harness (#PF, not present).
//!    Port I/O (even to isa-debug-exit) takes #GP. A genuine UD2 is
//!    reflected as #UD, not emulated.
//!
//! Bench mode (fw_cfg `opt/cmon/mode` = `bench`, `cargo xtask bench
//! --arch x86_64`) skips the checks and times SEAMCALLs instead (bench.rs).
//!
//! It ends with `tdx-shim: N passed, M failed` and isa-debug-exit 0x10
//! (QEMU status 33) when all passed, 0x11 (35) otherwise; an unexpected
//! exception or panic exits 0x12 (37).

#![no_std]
#![no_main]

mod arch;
mod bench;
mod checks;
mod config;
mod global;
mod harness;
mod heap;
mod platform;
mod quote;
mod seam;
mod sys_checks;
mod td;
mod td_build;
mod td_checks;
mod td_ghci;
mod td_mem;
mod td_run;
mod td_teardown;
mod td_vmm;
mod trap;
mod vmm;

use core::sync::atomic::{AtomicU64, Ordering};

use tdx_module_shim::{Code, LeafId, Module, OperandId, Status};

use qemu_q35::exit::{self, ExitCode};
use qemu_q35::idt::{TrapFrame, TrapOutcome, VECTOR_PF, VECTOR_UD};
use qemu_q35::paging::UserSpace;
use qemu_q35::{CpuIndex, MAX_CPUS, println, smp};

use checks::{check, check_eq};
use harness::{Call, EXIT_FAULT_SEEN, Probe};

/// Shim memory the harness tries to read and write.
static SHIM_CANARY: AtomicU64 = AtomicU64::new(CANARY);
const CANARY: u64 = 0x5EA3_0000_C0DE_CAFE;

/// The harness address space, set by the BSP before APs run.
static USER_PML4: AtomicU64 = AtomicU64::new(0);

/// The harness space's PML4 (a TD exit returns there, td.rs).
pub fn user_pml4() -> u64 {
    USER_PML4.load(Ordering::Acquire)
}
/// Per-AP job mailbox: 0 = idle, else a [`Job`] the BSP posted; the AP
/// writes 0 back when done. The BSP posts one job at a time, so the
/// output and the module's lock contention are deterministic.
static JOBS: [AtomicU64; MAX_CPUS] = [const { AtomicU64::new(0) }; MAX_CPUS];
static JOB_ARG: [AtomicU64; MAX_CPUS] = [const { AtomicU64::new(0) }; MAX_CPUS];
/// Spins the BSP waits for one job (each spin is a PAUSE).
const JOB_WAIT_SPINS: u64 = 2_000_000_000;

/// Work the BSP hands to an AP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u64)]
pub enum Job {
    /// CPL 0 checks, TDH.SYS.LP.INIT and the probes.
    LpChecks = 1,
    /// TDH.SYS.KEY.CONFIG for this AP's package.
    SysKeyConfig = 2,
    /// TDH.MNG.KEY.CONFIG of the TDR in the argument, for this package.
    MngKeyConfig = 3,
    /// TDH.PHYMEM.CACHE.WB for this AP's package (TD teardown).
    CacheWb = 4,
    /// TDH.VP.INIT v1 of the TDVPR in the argument on this AP (td_run.rs).
    VcpuInit = 5,
    /// Run the vCPU whose TDVPR is the argument until its done call.
    VcpuRun = 6,
    /// TDH.VP.FLUSH of the TDVPR in the argument on this AP.
    VcpuFlush = 7,
}

/// A leaf number that no TDX module defines.
const UNDEFINED_LEAF: u16 = 99;
/// TDG.VP.INFO (tdx-module-abi.md §8).
const TDG_VP_INFO: u16 = 1;

/// #PF error code bits (SDM Vol. 3A, "Page-Fault Error Code").
pub const PF_PRESENT: u64 = 1 << 0;
const PF_WRITE: u64 = 1 << 1;
pub const PF_USER: u64 = 1 << 2;
const PF_FETCH: u64 = 1 << 4;
const VECTOR_GP: u64 = 13;

const fn rax(leaf: u16, version: u8) -> u64 {
    (leaf as u64) | ((version as u64) << 16)
}

/// RAX of leaf `id`, version 0.
pub const fn leaf(id: LeafId) -> u64 {
    id as u64
}

/// The wire status of `code` with operand `op`.
pub const fn st(code: Code, op: OperandId) -> u64 {
    Status::with_operand(code, op).to_raw()
}

/// The wire status of `code` alone.
pub const fn st0(code: Code) -> u64 {
    Status::new(code).to_raw()
}

#[unsafe(no_mangle)]
fn q35_image_main(cpu: CpuIndex) -> ! {
    if cpu.is_bsp() {
        bsp_main()
    }
    let space = || UserSpace {
        pml4: USER_PML4.load(Ordering::Acquire),
    };
    let i = cpu.as_usize();
    loop {
        let job = JOBS[i].load(Ordering::Acquire);
        let arg = JOB_ARG[i].load(Ordering::Acquire);
        match job {
            0 => {
                core::hint::spin_loop();
                continue;
            }
            j if j == Job::LpChecks as u64 => lp_checks(cpu, space()),
            j if j == Job::SysKeyConfig as u64 => {
                td_build::package_job(cpu, space(), Job::SysKeyConfig, 0)
            }
            j if j == Job::MngKeyConfig as u64 => {
                td_build::package_job(cpu, space(), Job::MngKeyConfig, arg)
            }
            j if j == Job::CacheWb as u64 => td_build::package_job(cpu, space(), Job::CacheWb, 0),
            j if j == Job::VcpuInit as u64 => td_run::ap_vcpu_init(cpu, space(), arg),
            j if j == Job::VcpuRun as u64 => td_run::ap_vcpu_run(cpu, space(), arg),
            j if j == Job::VcpuFlush as u64 => td_run::ap_vcpu_flush(cpu, space(), arg),
            _ => {}
        }
        JOBS[i].store(0, Ordering::Release);
    }
}

/// Runs `job` on AP `cpu` and waits for it; false if it did not finish.
pub fn post_job(cpu: CpuIndex, job: Job, arg: u64) -> bool {
    start_job(cpu, job, arg);
    wait_job(cpu)
}

/// Hands `job` to AP `cpu` without waiting (the BSP works meanwhile, then
/// calls [`wait_job`]).
pub fn start_job(cpu: CpuIndex, job: Job, arg: u64) {
    let i = cpu.as_usize();
    JOB_ARG[i].store(arg, Ordering::Release);
    JOBS[i].store(job as u64, Ordering::Release);
}

/// Waits for AP `cpu`'s job; false if it did not finish.
pub fn wait_job(cpu: CpuIndex) -> bool {
    let i = cpu.as_usize();
    let mut spins = 0u64;
    while JOBS[i].load(Ordering::Acquire) != 0 && spins < JOB_WAIT_SPINS {
        core::hint::spin_loop();
        spins += 1;
    }
    JOBS[i].load(Ordering::Acquire) == 0
}

#[unsafe(no_mangle)]
fn q35_image_trap(frame: &mut TrapFrame) -> TrapOutcome {
    trap::handle(frame)
}

fn bsp_main() -> ! {
    let cpu = CpuIndex::BSP;
    heap::init();
    println!("tdx-shim: TDX module shim (ABI 1.5 subset) on QEMU q35");
    let mode = config::run_mode().unwrap_or_else(|e| {
        println!("tdx-shim: bad run mode option: {e}");
        exit::exit(ExitCode::Fatal)
    });
    let space = harness::build_space().unwrap_or_else(|e| {
        println!("tdx-shim: cannot build the harness address space: {e:?}");
        exit::exit(ExitCode::Fatal)
    });
    USER_PML4.store(space.pml4, Ordering::Release);
    let smp = smp::start_aps();
    println!(
        "tdx-shim: {} of {} CPUs online (count from {:?}; MADT not used)",
        smp.online, smp.expected, smp.source
    );
    install_module(smp.expected);
    if let config::RunMode::Bench { iters } = mode {
        bench::run(cpu, space, smp.online, iters)
    }
    check(
        cpu,
        "all CPUs online",
        smp.online == smp.expected,
        format_args!("{} CPUs", smp.online),
    );
    cpl0_checks(cpu);

    // The BSP's harness runs the module bring-up calls first.
    let invalid_rax = st(Code::OperandInvalid, OperandId::Rax);
    let sys_rd = |field: u64| Call::seamcall([leaf(LeafId::SysRd), 0, field, 0, 0]);
    let calls = [
        Call::seamcall([leaf(LeafId::SysInit), 0, 0, 0, 0]),
        Call::seamcall([leaf(LeafId::SysInit), 0, 0, 0, 0]),
        Call::seamcall([leaf(LeafId::SysLpInit), 0, 0, 0, 0]),
        Call::seamcall([leaf(LeafId::SysLpInit), 0, 0, 0, 0]),
        sys_rd(td_build::FIELD_MAJOR_VERSION),
        sys_rd(td_build::FIELD_MINOR_VERSION),
        sys_rd(td_build::FIELD_TDCS_BASE_SIZE),
        Call::seamcall([leaf(LeafId::SysLpShutdown), 0, 0, 0, 0]),
        Call::seamcall([leaf(LeafId::MngCreate), 0, 0, 0, 0]),
        Call::seamcall([leaf(LeafId::SysInit) | 1 << 32, 0, 0, 0, 0]),
        Call::seamcall([rax(UNDEFINED_LEAF, 0), 0, 0, 0, 0]),
        Call::seamcall([rax(LeafId::SysInit as u16, 1), 0, 0, 0, 0]),
    ];
    let want = [
        ("CPL3 SEAMCALL TDH.SYS.INIT", 0),
        (
            "CPL3 SEAMCALL TDH.SYS.INIT again -> SYS_INIT_NOT_PENDING",
            st0(Code::SysInitNotPending),
        ),
        ("CPL3 SEAMCALL TDH.SYS.LP.INIT", 0),
        (
            "CPL3 SEAMCALL TDH.SYS.LP.INIT again -> SYS_LP_INIT_DONE",
            st0(Code::SysLpInitDone),
        ),
        ("CPL3 SEAMCALL TDH.SYS.RD MAJOR_VERSION", 0),
        ("CPL3 SEAMCALL TDH.SYS.RD MINOR_VERSION", 0),
        ("CPL3 SEAMCALL TDH.SYS.RD TDCS_BASE_SIZE", 0),
        (
            "CPL3 SEAMCALL TDH.SYS.LP.SHUTDOWN (not implemented) -> OPERAND_INVALID",
            invalid_rax,
        ),
        (
            "CPL3 SEAMCALL TDH.MNG.CREATE before SYS_READY -> SYS_NOT_READY",
            st0(Code::SysNotReady),
        ),
        (
            "CPL3 SEAMCALL RAX reserved bit 32 -> OPERAND_INVALID",
            invalid_rax,
        ),
        (
            "CPL3 SEAMCALL undefined leaf 99 -> OPERAND_INVALID",
            invalid_rax,
        ),
        (
            "CPL3 SEAMCALL SYS.INIT version 1 -> OPERAND_INVALID",
            invalid_rax,
        ),
    ];
    let block = harness_calls(cpu, space, &calls, &want);
    let tdcs_size = td_build::check_sys_rd(cpu, &block.calls[4..7]);
    sys_checks::run(cpu, space);

    for i in 1..smp.online {
        let ap = CpuIndex(i);
        let done = post_job(ap, Job::LpChecks, 0);
        check(
            cpu,
            "AP finished its LP checks",
            done,
            format_args!("cpu{i}"),
        );
    }
    probe_checks(cpu, space);
    td_build::run(cpu, space, smp.online, tdcs_size);
    let _ = td_run::run(cpu, space, smp.online, tdcs_size);
    summary(smp.online)
}

/// Builds the module from the machine and stores it (BSP, once). Not
/// inlined: its frame holds the module by value (see `qemu_q35::STACK_SIZE`).
#[inline(never)]
fn install_module(num_lps: u32) {
    let (cmrs, source) = config::cmrs();
    let cfg = config::module_config(num_lps, cmrs);
    println!(
        "tdx-shim: module config: {} LPs, {} package(s), PA {} bits, HKID bits {} \
         (private {}..={}), CMRs from {source:?}:",
        cfg.num_lps,
        cfg.num_packages,
        cfg.max_pa,
        cfg.hkid_bits,
        cfg.first_private_hkid,
        cfg.first_private_hkid + cfg.num_private_hkids - 1
    );
    for c in cfg.cmrs.iter().filter(|c| c.size != 0) {
        println!("  CMR [{:#x}, {:#x})", c.base, c.base + c.size);
    }
    println!(
        "tdx-shim: MRSEAM (SHA-384 of the module's code) {}",
        quote::Hex(&cfg.tee.mrseam)
    );
    let in_ram = cfg
        .cmrs
        .iter()
        .any(|c| c.size != 0 && c.base <= vmm::REGION.start && vmm::REGION.end <= c.base + c.size);
    if !in_ram {
        println!("tdx-shim: the VMM region is not RAM (too little memory?)");
        exit::exit(ExitCode::Fatal)
    }
    let keys = config::key_hierarchy();
    println!(
        "tdx-shim: device root secret: {}",
        if keys.is_some() {
            "from fw_cfg opt/cmon/root-secret (TDREPORT MAC, sealing, quote keys)"
        } else {
            "none (no fw_cfg opt/cmon/root-secret): TDG.MR.REPORT and sealing fail"
        }
    );
    let m = Module::new(platform::ShimPlatform::new(cmrs, keys), cfg).unwrap_or_else(|e| {
        println!("tdx-shim: bad module config: {e:?}");
        exit::exit(ExitCode::Fatal)
    });
    if !global::MODULE.set(m) {
        exit::exit(ExitCode::Fatal)
    }
}

/// Checks an AP runs (job [`Job::LpChecks`]).
fn lp_checks(cpu: CpuIndex, space: UserSpace) {
    cpl0_checks(cpu);
    let calls = [
        Call::seamcall([leaf(LeafId::SysLpInit), 0, 0, 0, 0]),
        Call::seamcall([leaf(LeafId::SysLpInit), 0, 0, 0, 0]),
        Call::seamcall([leaf(LeafId::SysInit), 0, 0, 0, 0]),
    ];
    let want = [
        ("CPL3 SEAMCALL TDH.SYS.LP.INIT", 0),
        (
            "CPL3 SEAMCALL TDH.SYS.LP.INIT again -> SYS_LP_INIT_DONE",
            st0(Code::SysLpInitDone),
        ),
        (
            "CPL3 SEAMCALL TDH.SYS.INIT on an AP -> SYS_INIT_NOT_PENDING",
            st0(Code::SysInitNotPending),
        ),
    ];
    harness_calls(cpu, space, &calls, &want);
    probe_checks(cpu, space);
}

/// SEAMCALL and TDCALL executed by the shim itself (CPL 0).
fn cpl0_checks(cpu: CpuIndex) {
    let invalid_rax = st(Code::OperandInvalid, OperandId::Rax);
    let (status, kept) = arch::call_at_cpl0(false, rax(UNDEFINED_LEAF, 0), 0);
    check_eq(
        cpu,
        "CPL0 SEAMCALL #UD emulated, leaf 99 -> OPERAND_INVALID",
        status,
        invalid_rax,
    );
    check(
        cpu,
        "CPL0 SEAMCALL resumed after the instruction, R12 kept",
        kept,
        format_args!("RIP += 4"),
    );
    let (status, _) = arch::call_at_cpl0(true, rax(TDG_VP_INFO, 0), 0);
    check_eq(
        cpu,
        "CPL0 TDCALL #UD emulated, no TD -> OPERAND_INVALID",
        status,
        invalid_rax,
    );
}

/// One harness entry with `calls`, then a read probe; checks each status.
fn harness_calls(
    cpu: CpuIndex,
    space: UserSpace,
    calls: &[Call],
    want: &[(&str, u64)],
) -> harness::Block {
    let probe = SHIM_CANARY.as_ptr() as u64;
    let (exit, block) = harness::run(space, cpu, calls, Probe::ReadShim, probe);
    for (rec, (name, status)) in block.calls.iter().zip(want) {
        check_eq(cpu, name, rec.out[0], *status);
    }
    check_fault(
        cpu,
        "CPL3 read of shim memory -> #PF reflected to harness",
        exit,
        &block,
        VECTOR_PF,
        PF_PRESENT | PF_USER,
        probe,
    );
    block
}

/// Write and UD2 probes.
fn probe_checks(cpu: CpuIndex, space: UserSpace) {
    let probe = SHIM_CANARY.as_ptr() as u64;
    let (exit, block) = harness::run(space, cpu, &[], Probe::WriteShim, probe);
    check_fault(
        cpu,
        "CPL3 write of shim memory -> #PF reflected to harness",
        exit,
        &block,
        VECTOR_PF,
        PF_PRESENT | PF_WRITE | PF_USER,
        probe,
    );
    let canary = SHIM_CANARY.load(Ordering::Acquire);
    check_eq(
        cpu,
        "shim memory unchanged after the write probe",
        canary,
        CANARY,
    );
    let (exit, block) = harness::run(space, cpu, &[], Probe::Ud2, probe);
    check_fault(
        cpu,
        "CPL3 UD2 is not a SEAMCALL -> #UD reflected to harness",
        exit,
        &block,
        VECTOR_UD,
        0,
        0,
    );
    // The I/D flag is reported only with EFER.NXE (SDM Vol. 3A, "Page-Fault
    // Error Code"); entry32.S sets NXE when CPUID has NX.
    let nxe = qemu_q35::arch::rdmsr(qemu_q35::arch::IA32_EFER) & qemu_q35::arch::EFER_NXE != 0;
    let fetch = if nxe { PF_FETCH } else { 0 };
    let target = bsp_main as *const () as u64;
    let (exit, block) = harness::run(space, cpu, &[], Probe::ExecuteShim, target);
    check_fault(
        cpu,
        "CPL3 jump into shim code -> #PF reflected to harness",
        exit,
        &block,
        VECTOR_PF,
        PF_PRESENT | PF_USER | fetch,
        target,
    );
    let (exit, block) = harness::run(space, cpu, &[], Probe::PortIo, 0);
    check_fault(
        cpu,
        "CPL3 OUT to isa-debug-exit -> #GP reflected to harness",
        exit,
        &block,
        VECTOR_GP,
        0,
        0,
    );
}

pub fn check_fault(
    cpu: CpuIndex,
    name: &str,
    exit: u64,
    b: &harness::Block,
    vector: u64,
    error: u64,
    addr: u64,
) {
    let ok = exit == EXIT_FAULT_SEEN
        && b.faulted == 1
        && b.fault_vector == vector
        && b.fault_error == error
        && b.fault_addr == addr;
    check(
        cpu,
        name,
        ok,
        format_args!(
            "exit {exit}, vector {}, error {:#x}, cr2 {:#x}",
            b.fault_vector, b.fault_error, b.fault_addr
        ),
    );
}

fn summary(online: u32) -> ! {
    println!("tdx-shim: per-LP summary:");
    for i in 0..online {
        let c = &trap::COUNTERS[i as usize];
        println!(
            "  lp{i}: apic id {:?}, package {}, SEAMCALL #UD emulated {}, TDCALL #UD emulated {}, \
             CPL3 faults reflected {}",
            qemu_q35::cpu::apic_id(CpuIndex(i)),
            seam::lp(CpuIndex(i)).package,
            c.seamcalls.load(Ordering::Relaxed),
            c.tdcalls.load(Ordering::Relaxed),
            c.reflected.load(Ordering::Relaxed),
        );
    }
    let (passed, failed) = checks::totals();
    println!("tdx-shim: {passed} passed, {failed} failed");
    exit::exit(if failed == 0 && passed > 0 {
        ExitCode::Success
    } else {
        ExitCode::Failure
    })
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    println!("tdx-shim: panic: {info}");
    exit::exit(ExitCode::Fatal)
}
