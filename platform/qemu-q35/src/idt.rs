//! The IDT (SDM Vol. 3A, "64-Bit Mode IDT"): vectors 0..31 go to the stubs
//! in asm/traps.S, vector 0x80 is the DPL 3 "leave user mode" gate. Every
//! exception reaches [`trap_entry`], which asks the image
//! (`q35_image_trap`) first and otherwise reports vector, error code, RIP
//! and CR2 on COM1 and stops QEMU with [`ExitCode::Fatal`].

use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, Ordering};

use crate::arch::{self, DescriptorPointer};
use crate::cpu::selector;
use crate::exit::{self, ExitCode};
use crate::{image, println};

/// General-purpose registers as the trap stubs save them (RAX lowest).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Gprs {
    pub rax: u64,
    pub rbx: u64,
    pub rcx: u64,
    pub rdx: u64,
    pub rsi: u64,
    pub rdi: u64,
    pub rbp: u64,
    pub r8: u64,
    pub r9: u64,
    pub r10: u64,
    pub r11: u64,
    pub r12: u64,
    pub r13: u64,
    pub r14: u64,
    pub r15: u64,
}

/// The stack frame of one exception (asm/traps.S layout). Handlers may
/// change any field; the stub restores the GPRs and IRETQs with it.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct TrapFrame {
    pub gprs: Gprs,
    pub vector: u64,
    /// The CPU's error code, 0 for vectors without one.
    pub error_code: u64,
    pub rip: u64,
    pub cs: u64,
    pub rflags: u64,
    pub rsp: u64,
    pub ss: u64,
}

impl TrapFrame {
    /// Privilege level of the interrupted code (CS.RPL).
    pub fn cpl(&self) -> u8 {
        (self.cs & 3) as u8
    }
}

/// What the image did with an exception.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrapOutcome {
    /// Return to the (possibly modified) frame.
    Resume,
    /// Return to a (modified) CPL 3 frame on the user tables at this CR3
    /// (another user address space, e.g. a guest's; `guest_space.rs`).
    ResumeUser(u64),
    /// Not the image's: report it and stop.
    Unhandled,
}

/// Exception mnemonics (SDM Vol. 3A, "Exception and Interrupt Reference").
pub fn vector_name(v: u64) -> &'static str {
    const NAMES: [&str; 22] = [
        "#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "CSO", "#TS", "#NP", "#SS",
        "#GP", "#PF", "-", "#MF", "#AC", "#MC", "#XM", "#VE", "#CP",
    ];
    match v {
        0x80 => "user-exit from CPL 0",
        0x40 => "APIC timer",
        0xFF => "APIC spurious",
        _ => NAMES.get(v as usize).copied().unwrap_or("?"),
    }
}

pub const VECTOR_UD: u64 = 6;
pub const VECTOR_DF: u64 = 8;
pub const VECTOR_PF: u64 = 14;
/// INT 0x80 from CPL 3 returns from `user::enter_user`.
pub const VECTOR_USER_EXIT: u8 = 0x80;
/// The local APIC timer (`lapic::timer_oneshot`), delivered only while
/// CPL 3 code runs with RFLAGS.IF = 1 (the shim's TDs).
pub const VECTOR_TIMER: u8 = 0x40;
/// The local APIC's spurious vector (SVR).
pub const VECTOR_SPURIOUS: u8 = 0xFF;

/// Called by asm/traps.S with the frame on the current stack. A trap from
/// CPL 3 runs on the boot tables and goes back to the user tables only when
/// it resumes CPL 3 (tlb.rs).
pub(crate) extern "C" fn trap_entry(frame: &mut TrapFrame) {
    let user_cr3 = (frame.cpl() == 3).then(|| {
        let u = arch::cr3();
        crate::tlb::leave_user_tables();
        u
    });
    let outcome = if frame.vector == VECTOR_DF {
        TrapOutcome::Unhandled
    } else {
        image::trap(frame)
    };
    match outcome {
        TrapOutcome::Resume => {
            if let Some(u) = user_cr3
                && frame.cpl() == 3
            {
                crate::tlb::load_user_tables(u);
            }
            return;
        }
        TrapOutcome::ResumeUser(cr3) if frame.cpl() == 3 => {
            crate::tlb::load_user_tables(cr3);
            return;
        }
        _ => {}
    }
    let cpu = crate::cpu::current_index();
    println!(
        "q35: FATAL exception on cpu{cpu}: vector {} ({}) error {:#x} rip {:#x} cs {:#x} \
         rsp {:#x} rflags {:#x} cr2 {:#x}",
        frame.vector,
        vector_name(frame.vector),
        frame.error_code,
        frame.rip,
        frame.cs,
        frame.rsp,
        frame.rflags,
        arch::cr2()
    );
    exit::exit(ExitCode::Fatal)
}

/// One 16-byte gate descriptor.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
struct Gate([u64; 2]);

/// 64-bit interrupt gate (type 0xE; IF cleared on entry).
fn gate(handler: u64, dpl: u8, ist: u8) -> Gate {
    let attr = 0x8E | (u64::from(dpl & 3) << 5);
    let low = (handler & 0xFFFF)
        | (u64::from(selector::KERNEL_CODE) << 16)
        | (u64::from(ist & 7) << 32)
        | (attr << 40)
        | (((handler >> 16) & 0xFFFF) << 48);
    Gate([low, handler >> 32])
}

struct Idt(UnsafeCell<[Gate; 256]>);
// SAFETY: written once by the BSP in `build` (guarded by BUILT) before any
// AP starts; afterwards only the CPUs read it.
unsafe impl Sync for Idt {}
static IDT: Idt = Idt(UnsafeCell::new([Gate([0, 0]); 256]));
static BUILT: AtomicBool = AtomicBool::new(false);

// SAFETY: defined in asm/traps.S with these types.
unsafe extern "C" {
    safe static q35_trap_stubs: [u64; 32];
    safe fn q35_user_exit_gate();
    safe fn q35_timer_stub();
    safe fn q35_spurious_stub();
}

/// Fills the IDT (BSP, once, before the APs start).
pub(crate) fn build() {
    if BUILT.swap(true, Ordering::AcqRel) {
        return;
    }
    // SAFETY: BUILT makes this the only writer, and no CPU has loaded the
    // IDT yet.
    let idt = unsafe { &mut *IDT.0.get() };
    for (v, &stub) in q35_trap_stubs.iter().enumerate() {
        let ist = if v as u64 == VECTOR_DF { 1 } else { 0 };
        idt[v] = gate(stub, 0, ist);
    }
    idt[usize::from(VECTOR_USER_EXIT)] = gate(q35_user_exit_gate as *const () as u64, 3, 0);
    idt[usize::from(VECTOR_TIMER)] = gate(q35_timer_stub as *const () as u64, 0, 0);
    idt[usize::from(VECTOR_SPURIOUS)] = gate(q35_spurious_stub as *const () as u64, 0, 0);
}

/// Loads the IDT on this CPU.
pub(crate) fn load() {
    let ptr = DescriptorPointer {
        limit: (size_of::<[Gate; 256]>() - 1) as u16,
        base: IDT.0.get() as u64,
    };
    // SAFETY: the IDT is a static filled by `build` with valid gates.
    unsafe { arch::load_idt(&ptr) };
}
