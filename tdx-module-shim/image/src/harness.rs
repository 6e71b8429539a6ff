//! De-privileged "VMM harness" (harness.S) and its user address space.
//!
//! The shim (CPL 0) builds, once, a second set of page tables
//! (`qemu_q35::paging`) in which all shim memory is supervisor-only
//! (U/S = 0) and only three ranges are user-accessible: the harness code
//! (`.user_text`, read/execute), [`USER_AREAS`] (one Block page plus an
//! 8 KiB stack per CPU; read/write, no-execute) and the VMM region
//! (`vmm::REGION`, 4 KiB pages, read/write, no-execute), the "host
//! physical memory" the harness hands to the module. Each CPU enters the harness
//! with IRETQ (`qemu_q35::user::enter_user`) and gets control back when it
//! executes INT 0x80. SEAMCALLs it issues trap with #UD into the shim
//! (trap.rs); faults it takes are reflected to `tdx_harness_fault`.
//!
//! This is an emulation construct: on real hardware SEAMCALL is legal only
//! at CPL 0 in VMX root operation, and the module runs in SEAM mode, not
//! at CPL 0 of the same address space. Here the shim plays CPU + module and
//! CPL 3 plays the untrusted VMM, so the privilege boundary can be tested.

use core::cell::UnsafeCell;
use core::mem::offset_of;

use qemu_q35::paging::{self, PagingError, UserAccess, UserRange, UserSpace};
use qemu_q35::{CpuIndex, MAX_CPUS, user};

use crate::{arch, vmm};

/// Ops one harness entry can run.
pub const MAX_CALLS: usize = 32;
/// Exit values passed to INT 0x80 in RDI.
pub const EXIT_FAULT_SEEN: u64 = 1;
pub const EXIT_NO_FAULT: u64 = 2;

/// Probe run after the calls (Block.mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u64)]
pub enum Probe {
    ReadShim = 0,
    WriteShim = 1,
    Ud2 = 2,
    ExecuteShim = 3,
    PortIo = 4,
    None = 5,
}

/// What one record makes the harness do (harness.S).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u64)]
pub enum Op {
    /// SEAMCALL with IN = RAX, RCX, RDX, R8, R9; OUT = RAX, RCX, RDX, R8..R11.
    Seamcall = 0,
    /// Store IN[2] at address IN[1].
    Store = 1,
    /// Fill IN[2] u64s at IN[1] with IN[3].
    Fill = 2,
    /// Load the u64 at IN[1] into OUT[0]; a fault ends the run.
    Load = 3,
    /// OR of the IN[2] u64s at IN[1] into OUT[0]; a fault ends the run.
    OrWords = 4,
    /// SEAMCALL with all GPRs (but RSP) from/to the 16 words at IN[1].
    SeamcallGprs = 5,
    /// Copy IN[3] u64s from IN[2] to IN[1].
    Copy = 6,
}

/// One op record.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Call {
    pub op: u64,
    pub inp: [u64; 5],
    pub out: [u64; 7],
    /// SEAMCALL ops only: the TSC (RDTSC at CPL 3) just before the inputs
    /// are loaded and just after the SEAMCALL returns (harness.S). Their
    /// difference is the round trip plus [`TSC_OVERHEAD`] harness
    /// instructions (bench.rs).
    pub tsc: [u64; 2],
}

/// Instructions of harness.S counted in `tsc[1] - tsc[0]` besides the
/// SEAMCALL itself: RDTSC, SHL, OR, the TSC store, the five input loads
/// and the two moves after the SEAMCALL (under `-icount shift=0` one TSC
/// tick is one instruction).
pub const TSC_OVERHEAD: u64 = 11;
/// The same for [`Op::SeamcallGprs`]: RDTSC, SHL, OR, the TSC store, the
/// array load and push, the 15 register loads, and the two pushes before
/// the second RDTSC.
pub const TSC_OVERHEAD_GPRS: u64 = 23;

impl Call {
    /// `tsc[1] - tsc[0]` (0 if the op was not a timed SEAMCALL).
    pub const fn ticks(&self) -> u64 {
        self.tsc[1].wrapping_sub(self.tsc[0])
    }
}

/// OUT of an op that did not run (a SEAMCALL never returns it).
pub const NOT_RUN: u64 = u64::MAX;

impl Call {
    pub const fn seamcall(inp: [u64; 5]) -> Call {
        Call {
            op: Op::Seamcall as u64,
            inp,
            out: [NOT_RUN; 7],
            tsc: [0; 2],
        }
    }
    pub const fn store(addr: u64, value: u64) -> Call {
        Call {
            op: Op::Store as u64,
            inp: [0, addr, value, 0, 0],
            out: [NOT_RUN; 7],
            tsc: [0; 2],
        }
    }
    pub const fn fill(addr: u64, words: u64, value: u64) -> Call {
        Call {
            op: Op::Fill as u64,
            inp: [0, addr, words, value, 0],
            out: [NOT_RUN; 7],
            tsc: [0; 2],
        }
    }
    pub const fn or_words(addr: u64, words: u64) -> Call {
        Call {
            op: Op::OrWords as u64,
            inp: [0, addr, words, 0, 0],
            out: [NOT_RUN; 7],
            tsc: [0; 2],
        }
    }
    pub const fn seamcall_gprs(gprs: u64) -> Call {
        Call {
            op: Op::SeamcallGprs as u64,
            inp: [0, gprs, 0, 0, 0],
            out: [NOT_RUN; 7],
            tsc: [0; 2],
        }
    }
    pub const fn copy(dst: u64, src: u64, words: u64) -> Call {
        Call {
            op: Op::Copy as u64,
            inp: [0, dst, src, words, 0],
            out: [NOT_RUN; 7],
            tsc: [0; 2],
        }
    }
    pub const fn load(addr: u64) -> Call {
        Call {
            op: Op::Load as u64,
            inp: [0, addr, 0, 0, 0],
            out: [NOT_RUN; 7],
            tsc: [0; 2],
        }
    }
}

/// Shared between the shim and one harness instance.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct Block {
    pub mode: u64,
    pub probe: u64,
    pub ncalls: u64,
    pub faulted: u64,
    pub fault_vector: u64,
    pub fault_error: u64,
    pub fault_addr: u64,
    /// GPRs (x86 order) for [`Op::SeamcallGprs`].
    pub gprs: [u64; 16],
    pub calls: [Call; MAX_CALLS],
}

const PAGE: usize = 4096;
const USER_STACK: usize = 2 * PAGE;
const _: () = assert!(size_of::<Block>() <= PAGE);

#[repr(C, align(4096))]
struct Area {
    block: Block,
    _pad: [u8; PAGE - size_of::<Block>()],
    stack: [u8; USER_STACK],
}

/// Per-CPU user memory (mapped U/S = 1 in the user space).
struct Areas(UnsafeCell<[Area; MAX_CPUS]>);
// SAFETY: CPU i only touches slot i (through `block_ptr(i)`), from CPL 0
// or from its own harness instance, never both at once.
unsafe impl Sync for Areas {}
#[unsafe(link_section = ".bss.q35_user")]
static USER_AREAS: Areas = Areas(UnsafeCell::new(
    [const {
        Area {
            block: Block {
                mode: 0,
                probe: 0,
                ncalls: 0,
                faulted: 0,
                fault_vector: 0,
                fault_error: 0,
                fault_addr: 0,
                gprs: [0; 16],
                calls: [Call {
                    op: 0,
                    inp: [0; 5],
                    out: [0; 7],
                    tsc: [0; 2],
                }; MAX_CALLS],
            },
            _pad: [0; PAGE - size_of::<Block>()],
            stack: [0; USER_STACK],
        }
    }; MAX_CPUS],
));

core::arch::global_asm!(include_str!("td_guest.S"), options(att_syntax));

core::arch::global_asm!(
    include_str!("harness.S"),
    MODE = const offset_of!(Block, mode),
    PROBE = const offset_of!(Block, probe),
    NCALLS = const offset_of!(Block, ncalls),
    FAULTED = const offset_of!(Block, faulted),
    FAULT_VECTOR = const offset_of!(Block, fault_vector),
    FAULT_ERROR = const offset_of!(Block, fault_error),
    FAULT_ADDR = const offset_of!(Block, fault_addr),
    CALLS = const offset_of!(Block, calls),
    REC_SIZE = const size_of::<Call>(),
    OP = const offset_of!(Call, op),
    IN_RAX = const offset_of!(Call, inp),
    IN_RCX = const offset_of!(Call, inp) + 8,
    IN_RDX = const offset_of!(Call, inp) + 16,
    IN_R8 = const offset_of!(Call, inp) + 24,
    IN_R9 = const offset_of!(Call, inp) + 32,
    OUT_RAX = const offset_of!(Call, out),
    OUT_RCX = const offset_of!(Call, out) + 8,
    OUT_RDX = const offset_of!(Call, out) + 16,
    OUT_R8 = const offset_of!(Call, out) + 24,
    OUT_R9 = const offset_of!(Call, out) + 32,
    OUT_R10 = const offset_of!(Call, out) + 40,
    OUT_R11 = const offset_of!(Call, out) + 48,
    TSC_START = const offset_of!(Call, tsc),
    TSC_END = const offset_of!(Call, tsc) + 8,
    EXIT_NO_FAULT = const EXIT_NO_FAULT,
    EXIT_FAULT_SEEN = const EXIT_FAULT_SEEN,
    options(att_syntax)
);

// SAFETY: symbols of harness.S and linker/q35-bios.ld; only addresses used.
unsafe extern "C" {
    safe static __user_text_start: u8;
    safe static __user_text_end: u8;
    safe fn tdx_harness_entry();
    safe fn tdx_harness_fault();
}

/// The user-accessible ranges of the harness address space.
pub fn user_ranges() -> [UserRange; 2] {
    let areas = USER_AREAS.0.get() as u64;
    [
        UserRange {
            start: &raw const __user_text_start as u64,
            end: &raw const __user_text_end as u64,
            access: UserAccess::ReadExecute,
        },
        UserRange {
            start: areas,
            end: areas + size_of::<[Area; MAX_CPUS]>() as u64,
            access: UserAccess::ReadWrite,
        },
    ]
}

/// Builds the harness address space (BSP, once).
pub fn build_space() -> Result<UserSpace, PagingError> {
    paging::build_user_space(&user_ranges(), Some(vmm::REGION))
}

/// Whether `[addr, addr + len)` is harness code.
pub fn user_code_contains(addr: u64, len: u64) -> bool {
    paging::user_readable(&user_ranges()[..1], addr, len)
}

/// Where CPL 3 exceptions are reflected to.
pub fn fault_entry() -> u64 {
    tdx_harness_fault as *const () as u64
}

fn block_ptr(cpu: CpuIndex) -> *mut Block {
    let areas: *mut Area = USER_AREAS.0.get().cast();
    areas.wrapping_add(cpu.as_usize()).cast()
}

fn stack_top(cpu: CpuIndex) -> u64 {
    let area = block_ptr(cpu) as u64;
    area + size_of::<Area>() as u64
}

/// Where the harness finds its Block's `gprs` (user address, for
/// [`Call::seamcall_gprs`]).
pub fn gprs_addr(cpu: CpuIndex) -> u64 {
    block_ptr(cpu) as u64 + offset_of!(Block, gprs) as u64
}

/// Runs the harness once on `cpu` at CPL 3: the `calls`, then `probe`
/// against `probe_addr`. Returns its INT 0x80 value and the final Block.
pub fn run(
    space: UserSpace,
    cpu: CpuIndex,
    calls: &[Call],
    probe: Probe,
    probe_addr: u64,
) -> (u64, Block) {
    run_with_gprs(space, cpu, calls, probe, probe_addr, [0; 16])
}

/// [`run`] with the Block's `gprs` preset (for [`Call::seamcall_gprs`]).
pub fn run_with_gprs(
    space: UserSpace,
    cpu: CpuIndex,
    calls: &[Call],
    probe: Probe,
    probe_addr: u64,
    gprs: [u64; 16],
) -> (u64, Block) {
    let mut b = Block {
        mode: probe as u64,
        probe: probe_addr,
        ncalls: calls.len().min(MAX_CALLS) as u64,
        gprs,
        ..Block::default()
    };
    for (rec, c) in b.calls.iter_mut().zip(calls) {
        *rec = *c;
    }
    let ptr = block_ptr(cpu);
    arch::store_block(ptr, &b);
    let entry = tdx_harness_entry as *const () as u64;
    let exit = user::enter_user(space, entry, stack_top(cpu), ptr as u64);
    (exit, arch::load_block(ptr))
}
