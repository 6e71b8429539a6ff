//! Per-CPU state: boot stacks, the runtime GDT with a TSS (SDM Vol. 3A,
//! "Task Management": 64-bit TSS; "Segment Descriptors"), and the CPU index
//! <-> APIC ID table. Arch module: the `unsafe` here hands table addresses
//! to the CPU.

use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicU32, Ordering};

use crate::arch::{self, DescriptorPointer};
use crate::sync::PerCpu;
use crate::{IST_STACK_SIZE, MAX_CPUS, STACK_SIZE};

/// Runtime GDT selectors. 0x08..0x18 match the boot GDT (reset16.S);
/// user data then user code follow the kernel code selector, the order
/// SYSRET needs with STAR[63:48] = 0x18 (SDM Vol. 2B, SYSRET).
pub mod selector {
    pub const KERNEL_CODE32: u16 = 0x08;
    pub const KERNEL_DATA: u16 = 0x10;
    pub const KERNEL_CODE: u16 = 0x18;
    /// User data, RPL 3.
    pub const USER_DATA: u16 = 0x20 | 3;
    /// User 64-bit code, RPL 3.
    pub const USER_CODE: u16 = 0x28 | 3;
    pub const TSS: u16 = 0x30;
}

/// A CPU's index: 0 = BSP, then APs in the order they reached 64-bit mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct CpuIndex(pub u32);

impl CpuIndex {
    pub const BSP: CpuIndex = CpuIndex(0);

    pub fn is_bsp(self) -> bool {
        self == Self::BSP
    }

    pub fn as_usize(self) -> usize {
        self.0 as usize
    }
}

/// Kernel stacks, one per CPU (entry64.S picks slot `index`).
#[repr(C, align(4096))]
#[allow(missing_debug_implementations)]
pub struct Stacks(UnsafeCell<[[u8; STACK_SIZE]; MAX_CPUS]>);
// SAFETY: each CPU uses only its own slot, and only as its stack.
unsafe impl Sync for Stacks {}
pub static STACKS: Stacks = Stacks(UnsafeCell::new([[0; STACK_SIZE]; MAX_CPUS]));

/// #DF stacks (TSS IST1), one per CPU.
#[repr(C, align(4096))]
struct IstStacks(UnsafeCell<[[u8; IST_STACK_SIZE]; MAX_CPUS]>);
// SAFETY: each CPU's TSS points at its own slot; only the CPU writes it.
unsafe impl Sync for IstStacks {}
static IST_STACKS: IstStacks = IstStacks(UnsafeCell::new([[0; IST_STACK_SIZE]; MAX_CPUS]));

/// 64-bit TSS (SDM Vol. 3A, "Task-State Segment in 64-bit mode"), 104 bytes.
#[repr(C, packed(4))]
#[derive(Debug, Clone, Copy)]
pub struct Tss {
    reserved0: u32,
    pub rsp: [u64; 3],
    reserved1: u64,
    pub ist: [u64; 7],
    reserved2: u64,
    reserved3: u16,
    pub iomap_base: u16,
}

#[repr(C, align(16))]
struct CpuTables {
    gdt: [u64; 8],
    tss: Tss,
}

const TABLES_ZERO: CpuTables = CpuTables {
    gdt: [0; 8],
    tss: Tss {
        reserved0: 0,
        rsp: [0; 3],
        reserved1: 0,
        ist: [0; 7],
        reserved2: 0,
        reserved3: 0,
        iomap_base: 0,
    },
};

static TABLES: PerCpu<CpuTables> = PerCpu::new([const { UnsafeCell::new(TABLES_ZERO) }; MAX_CPUS]);

/// APIC ID of CPU index i, plus 1 (0 = slot unused).
static APIC_IDS: [AtomicU32; MAX_CPUS] = [const { AtomicU32::new(0) }; MAX_CPUS];

/// Available 64-bit TSS descriptor (type 9, present), two GDT slots.
fn tss_descriptor(base: u64, limit: u32) -> [u64; 2] {
    let limit = u64::from(limit);
    let low = (limit & 0xFFFF)
        | ((base & 0xFF_FFFF) << 16)
        | (0x89 << 40)
        | (((limit >> 16) & 0xF) << 48)
        | (((base >> 24) & 0xFF) << 56);
    [low, base >> 32]
}

fn stack_top(base: *mut u8, size: usize, cpu: usize) -> u64 {
    base as u64 + ((cpu + 1) * size) as u64
}

/// Records this CPU's APIC ID, then builds and loads its GDT and TSS.
pub(crate) fn init_tables(cpu: CpuIndex) {
    let i = cpu.as_usize();
    APIC_IDS[i].store(arch::initial_apic_id() + 1, Ordering::Release);
    // SAFETY: this is CPU `i` setting up its own slot, once, before anything
    // else references it.
    let t = unsafe { TABLES.get_mut(i) };
    t.tss.rsp[0] = stack_top(STACKS.0.get().cast(), STACK_SIZE, i);
    t.tss.ist[0] = stack_top(IST_STACKS.0.get().cast(), IST_STACK_SIZE, i);
    t.tss.iomap_base = size_of::<Tss>() as u16; // no I/O bitmap: CPL 3 gets no ports
    let tss_base = core::ptr::addr_of!(t.tss) as u64;
    let [tss_lo, tss_hi] = tss_descriptor(tss_base, size_of::<Tss>() as u32 - 1);
    t.gdt = [
        0,
        0x00CF_9A00_0000_FFFF, // 0x08 32-bit code
        0x00CF_9200_0000_FFFF, // 0x10 data
        0x00AF_9A00_0000_FFFF, // 0x18 64-bit code
        0x00CF_F200_0000_FFFF, // 0x20 user data, DPL 3
        0x00AF_FA00_0000_FFFF, // 0x28 user 64-bit code, DPL 3
        tss_lo,                // 0x30 TSS
        tss_hi,
    ];
    let ptr = DescriptorPointer {
        limit: (size_of::<[u64; 8]>() - 1) as u16,
        base: t.gdt.as_ptr() as u64,
    };
    // SAFETY: the GDT is in a static, has 64-bit code at KERNEL_CODE, data
    // at KERNEL_DATA and an available TSS at TSS.
    unsafe {
        arch::load_gdt(
            &ptr,
            selector::KERNEL_CODE,
            selector::KERNEL_DATA,
            selector::TSS,
        )
    };
}

/// Pointer to TSS.RSP0 of `cpu` (rewritten on every entry to CPL 3).
pub(crate) fn tss_rsp0(cpu: CpuIndex) -> *mut u64 {
    let t = TABLES.as_ptr(cpu.as_usize());
    // SAFETY: `t` points into a static; only the field address is taken.
    unsafe { (&raw mut (*t).tss.rsp).cast() }
}

/// This CPU's index, from its APIC ID (MAX_CPUS if it has none yet).
pub fn current_index() -> usize {
    let id = arch::initial_apic_id() + 1;
    APIC_IDS
        .iter()
        .position(|a| a.load(Ordering::Acquire) == id)
        .unwrap_or(MAX_CPUS)
}

/// This CPU's index. Panics on a CPU that did not come through rust_start.
pub fn current() -> CpuIndex {
    let i = current_index();
    assert!(i < MAX_CPUS, "CPU without an index");
    CpuIndex(i as u32)
}

/// The APIC ID recorded for `cpu`.
pub fn apic_id(cpu: CpuIndex) -> Option<u32> {
    APIC_IDS
        .get(cpu.as_usize())
        .and_then(|a| a.load(Ordering::Acquire).checked_sub(1))
}
