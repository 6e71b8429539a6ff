//! TDX module shim firmware for QEMU q35 (`-bios`), on the qemu-q35 boot
//! path. What it proves, on every CPU that comes up:
//!
//! 1. SEAMCALL and TDCALL trap as #UD under TCG and are emulated: the
//!    #UD handler decodes 66 0F 01 CF / 66 0F 01 CC at RIP, runs the
//!    dispatcher (`seam`) on the GPRs, writes them back, RIP += 4
//!    (trap.rs), first at CPL 0.
//! 2. De-privileged: a "VMM harness" runs at CPL 3 in its own address
//!    space (harness.rs) and calls the module with real SEAMCALLs
//!    (TDH.SYS.INIT on the BSP, TDH.SYS.LP.INIT per LP, error paths).
//! 3. Isolation: the harness's reads, writes and instruction fetches of
//!    shim memory take #PF (U/S = 0), which the shim reflects back to the
//!    harness; shim memory is unchanged. Port I/O (even to isa-debug-exit)
//!    takes #GP. A genuine UD2 is reflected as #UD, not emulated.
//!
//! It ends with `tdx-shim: N passed, M failed` and isa-debug-exit 0x10
//! (QEMU status 33) when all passed, 0x11 (35) otherwise; an unexpected
//! exception or panic exits 0x12 (37).

#![no_std]
#![no_main]

mod arch;
mod checks;
mod harness;
mod seam;
mod status;
mod trap;

use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use qemu_q35::exit::{self, ExitCode};
use qemu_q35::idt::{TrapFrame, TrapOutcome, VECTOR_PF, VECTOR_UD};
use qemu_q35::paging::UserSpace;
use qemu_q35::{CpuIndex, println, smp};

use checks::{check, check_eq};
use harness::{EXIT_FAULT_SEEN, Probe};
use status::{Status, guest_leaf, leaf};

/// Shim memory the harness tries to read and write.
static SHIM_CANARY: AtomicU64 = AtomicU64::new(CANARY);
const CANARY: u64 = 0x5EA3_0000_C0DE_CAFE;

/// The harness address space, set by the BSP before APs run.
static USER_PML4: AtomicU64 = AtomicU64::new(0);
/// BSP finished TDH.SYS.INIT: APs may start their checks.
static GO: AtomicBool = AtomicBool::new(false);
/// APs that finished their checks.
static APS_DONE: AtomicU32 = AtomicU32::new(0);
/// Spins the BSP waits for the APs (each spin is a PAUSE).
const AP_WAIT_SPINS: u64 = 2_000_000_000;

/// #PF error code bits (SDM Vol. 3A, "Page-Fault Error Code").
const PF_PRESENT: u64 = 1 << 0;
const PF_WRITE: u64 = 1 << 1;
const PF_USER: u64 = 1 << 2;
const PF_FETCH: u64 = 1 << 4;
const VECTOR_GP: u64 = 13;

const fn rax(leaf: u16, version: u8) -> u64 {
    (leaf as u64) | ((version as u64) << 16)
}

#[unsafe(no_mangle)]
fn q35_image_main(cpu: CpuIndex) -> ! {
    if cpu.is_bsp() {
        bsp_main()
    }
    while !GO.load(Ordering::Acquire) {
        core::hint::spin_loop();
    }
    lp_checks(
        cpu,
        UserSpace {
            pml4: USER_PML4.load(Ordering::Acquire),
        },
    );
    APS_DONE.fetch_add(1, Ordering::AcqRel);
    qemu_q35::arch::halt_forever()
}

#[unsafe(no_mangle)]
fn q35_image_trap(frame: &mut TrapFrame) -> TrapOutcome {
    trap::handle(frame)
}

fn bsp_main() -> ! {
    let cpu = CpuIndex::BSP;
    println!("tdx-shim: TDX module shim (ABI 1.5 subset) on QEMU q35");
    let space = match harness::build_space() {
        Ok(s) => s,
        Err(e) => {
            println!("tdx-shim: cannot build the harness address space: {e:?}");
            exit::exit(ExitCode::Fatal)
        }
    };
    USER_PML4.store(space.pml4, Ordering::Release);
    let smp = smp::start_aps();
    println!(
        "tdx-shim: {} of {} CPUs online (count from {:?}; MADT not used)",
        smp.online, smp.expected, smp.source
    );
    check(
        cpu,
        "all CPUs online",
        smp.online == smp.expected,
        format_args!("{} CPUs", smp.online),
    );

    // The BSP's harness runs the module bring-up calls first.
    let calls = [
        [rax(leaf::TDH_SYS_INIT, 0), 0, 0, 0, 0],
        [rax(leaf::TDH_SYS_INIT, 0), 0, 0, 0, 0],
        [rax(leaf::TDH_SYS_LP_INIT, 0), 0, 0, 0, 0],
        [rax(leaf::TDH_SYS_LP_INIT, 0), 0, 0, 0, 0],
        [rax(leaf::TDH_SYS_INFO, 0), 0, 0, 0, 0],
        [rax(leaf::TDH_MNG_CREATE, 0), 0, 0, 0, 0],
        [rax(leaf::TDH_SYS_INIT, 0) | 1 << 32, 0, 0, 0, 0],
        [rax(leaf::UNDEFINED, 0), 0, 0, 0, 0],
        [rax(leaf::TDH_SYS_INIT, 1), 0, 0, 0, 0],
    ];
    let invalid_rax = Status::OPERAND_INVALID.0;
    let want = [
        ("CPL3 SEAMCALL TDH.SYS.INIT", Status::SUCCESS.0),
        (
            "CPL3 SEAMCALL TDH.SYS.INIT again -> SYS_INIT_NOT_PENDING",
            Status::SYS_INIT_NOT_PENDING.0,
        ),
        ("CPL3 SEAMCALL TDH.SYS.LP.INIT", Status::SUCCESS.0),
        (
            "CPL3 SEAMCALL TDH.SYS.LP.INIT again -> SYS_LP_INIT_DONE",
            Status::SYS_LP_INIT_DONE.0,
        ),
        (
            "CPL3 SEAMCALL TDH.SYS.INFO (not implemented) -> OPERAND_INVALID",
            invalid_rax,
        ),
        (
            "CPL3 SEAMCALL TDH.MNG.CREATE before SYS_READY -> SYS_NOT_READY",
            Status::SYS_NOT_READY.0,
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
    cpl0_checks(cpu);
    harness_calls(cpu, space, &calls, &want);
    GO.store(true, Ordering::Release);
    probe_checks(cpu, space);

    let aps = smp.online.saturating_sub(1);
    let mut spins = 0u64;
    while APS_DONE.load(Ordering::Acquire) < aps && spins < AP_WAIT_SPINS {
        core::hint::spin_loop();
        spins += 1;
    }
    check(
        cpu,
        "every AP finished",
        APS_DONE.load(Ordering::Acquire) == aps,
        format_args!("{aps} APs"),
    );
    summary(smp.online)
}

/// Checks every LP runs (after GO).
fn lp_checks(cpu: CpuIndex, space: UserSpace) {
    cpl0_checks(cpu);
    let calls = [
        [rax(leaf::TDH_SYS_LP_INIT, 0), 0, 0, 0, 0],
        [rax(leaf::TDH_SYS_LP_INIT, 0), 0, 0, 0, 0],
        [rax(leaf::TDH_SYS_INIT, 0), 0, 0, 0, 0],
    ];
    let want = [
        ("CPL3 SEAMCALL TDH.SYS.LP.INIT", Status::SUCCESS.0),
        (
            "CPL3 SEAMCALL TDH.SYS.LP.INIT again -> SYS_LP_INIT_DONE",
            Status::SYS_LP_INIT_DONE.0,
        ),
        (
            "CPL3 SEAMCALL TDH.SYS.INIT on an AP -> SYS_INIT_NOT_PENDING",
            Status::SYS_INIT_NOT_PENDING.0,
        ),
    ];
    harness_calls(cpu, space, &calls, &want);
    probe_checks(cpu, space);
}

/// SEAMCALL and TDCALL executed by the shim itself (CPL 0).
fn cpl0_checks(cpu: CpuIndex) {
    let (st, kept) = arch::call_at_cpl0(false, rax(leaf::UNDEFINED, 0), 0);
    check_eq(
        cpu,
        "CPL0 SEAMCALL #UD emulated, leaf 99 -> OPERAND_INVALID",
        st,
        Status::OPERAND_INVALID.0,
    );
    check(
        cpu,
        "CPL0 SEAMCALL resumed after the instruction, R12 kept",
        kept,
        format_args!("RIP += 4"),
    );
    let (st, _) = arch::call_at_cpl0(true, rax(guest_leaf::TDG_VP_INFO, 0), 0);
    check_eq(
        cpu,
        "CPL0 TDCALL #UD emulated, no TD -> OPERAND_INVALID",
        st,
        Status::OPERAND_INVALID.0,
    );
}

/// One harness entry with `calls`, then a read probe; checks each status.
fn harness_calls(cpu: CpuIndex, space: UserSpace, calls: &[[u64; 5]], want: &[(&str, u64)]) {
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
    check(
        cpu,
        "TDH.SYS.LP.INIT recorded for this LP",
        seam::module().lp_initialised(cpu),
        format_args!("per-LP state"),
    );
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

fn check_fault(
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
            "  lp{i}: apic id {:?}, SEAMCALL #UD emulated {}, TDCALL #UD emulated {}, CPL3 faults reflected {}, LP.INIT {}",
            qemu_q35::cpu::apic_id(CpuIndex(i)),
            c.seamcalls.load(Ordering::Relaxed),
            c.tdcalls.load(Ordering::Relaxed),
            c.reflected.load(Ordering::Relaxed),
            seam::module().lp_initialised(CpuIndex(i)),
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
