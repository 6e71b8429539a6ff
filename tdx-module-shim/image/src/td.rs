//! Running TDs: the CPU side of TDH.VP.ENTER and of TD exits.
//!
//! The logic crate decides (`Module::vp_enter`, `tdcall`, `td_exit`); this
//! module switches contexts inside the trap handler. A harness SEAMCALL of
//! TDH.VP.ENTER arrives as a #UD trap frame at CPL 3:
//!
//! 1. the harness frame (RIP past the SEAMCALL) and its 16 GPRs are saved
//!    for this CPU;
//! 2. the TD's pages (its private GPAs in `guest_space::WINDOW`, looked
//!    up through its Secure EPT) are mapped in this CPU's guest space,
//!    linear = GPA, U/S = 1; nothing of the harness or the shim is;
//! 3. the trap frame is rewritten with the vCPU's state and the trap
//!    returns into the TD on the guest space (`TrapOutcome::ResumeUser`).
//!
//! Every trap while a TD runs on this CPU comes back here: TDCALL (#UD with
//! 66 0F 01 CC at RIP) goes to `Module::tdcall`, and either resumes the TD
//! or, for TDG.VP.VMCALL, exits; any other exception is a TD exit too
//! (triple fault: the TD has no IDT of its own here). An exit saves the
//! guest state through `Module::td_exit`, restores the harness frame with
//! TDH.VP.ENTER's outputs and returns to the harness space.
//!
//! Emulation constructs (documented in docs/tdx-attestation.md): TDs run in
//! 64-bit mode at CPL 3, not in the §6.3 32-bit mode, and their private
//! pages must lie in the top 2 MiB below 4 GiB (the window).

use core::cell::UnsafeCell;
use core::sync::atomic::Ordering;

use tdx_module_shim::enter::{Gprs, GuestState, TdExit, gpr};
use tdx_module_shim::tdg::Tdcall;
use tdx_module_shim::{Gpa, Hpa};

use qemu_q35::guest_space::{self, GuestPage, WINDOW};
use qemu_q35::idt::{
    Gprs as FrameGprs, TrapFrame, TrapOutcome, VECTOR_SPURIOUS, VECTOR_TIMER, VECTOR_UD,
};
use qemu_q35::{MAX_CPUS, lapic, println};

use crate::global::MODULE;
use crate::seam;

const TDCALL: [u8; 4] = [0x66, 0x0F, 0x01, 0xCC];
/// RFLAGS bits a TD may carry into its frame: the arithmetic flags and DF
/// (never IOPL, IF or TF), plus the reserved bit 1.
const RFLAGS_GUEST: u64 = 0xCD5;
const RFLAGS_FIXED: u64 = 0x2;
/// RFLAGS.IF: a TD runs with interrupts enabled so the preemption timer
/// reaches it.
const RFLAGS_IF: u64 = 1 << 9;
/// The preemption quantum: APIC-bus ticks (QEMU's APIC bus runs at 1 GHz of
/// virtual time, so 2 ms; under `-icount shift=0` one tick per instruction).
const TD_QUANTUM: u32 = 2_000_000;
const PAGES: usize = 512;
/// Attempts at the TD's locks while mapping it (each a PAUSE apart).
const LOCK_RETRIES: u32 = 10_000_000;

#[derive(Clone, Copy)]
struct VmmCtx {
    frame: TrapFrame,
    gprs: Gprs,
}

struct Contexts(UnsafeCell<[Option<VmmCtx>; MAX_CPUS]>);
// SAFETY: CPU i only touches slot i, from its own trap handler (CPL 0,
// interrupts off), never concurrently with itself.
unsafe impl Sync for Contexts {}
static CTX: Contexts = Contexts(UnsafeCell::new([None; MAX_CPUS]));

fn ctx_slot(cpu: usize) -> Option<&'static mut Option<VmmCtx>> {
    // SAFETY: see `Contexts`: only this CPU reaches slot `cpu`.
    unsafe { (*CTX.0.get()).get_mut(cpu) }
}

fn cpu() -> usize {
    qemu_q35::cpu::current().as_usize()
}

/// Whether a TD runs on this CPU (so a CPL 3 trap is the TD's).
pub fn running() -> bool {
    ctx_slot(cpu()).is_some_and(|c| c.is_some())
}

fn to_x86(g: &FrameGprs, rsp: u64) -> Gprs {
    let mut r = [0u64; 16];
    r[gpr::RAX] = g.rax;
    r[gpr::RCX] = g.rcx;
    r[gpr::RDX] = g.rdx;
    r[gpr::RBX] = g.rbx;
    r[gpr::RSP] = rsp;
    r[gpr::RBP] = g.rbp;
    r[gpr::RSI] = g.rsi;
    r[gpr::RDI] = g.rdi;
    r[gpr::R8] = g.r8;
    r[gpr::R9] = g.r9;
    r[gpr::R10] = g.r10;
    r[gpr::R11] = g.r11;
    r[gpr::R12] = g.r12;
    r[gpr::R13] = g.r13;
    r[gpr::R14] = g.r14;
    r[gpr::R15] = g.r15;
    r
}

fn from_x86(r: &Gprs) -> FrameGprs {
    FrameGprs {
        rax: r[gpr::RAX],
        rbx: r[gpr::RBX],
        rcx: r[gpr::RCX],
        rdx: r[gpr::RDX],
        rsi: r[gpr::RSI],
        rdi: r[gpr::RDI],
        rbp: r[gpr::RBP],
        r8: r[gpr::R8],
        r9: r[gpr::R9],
        r10: r[gpr::R10],
        r11: r[gpr::R11],
        r12: r[gpr::R12],
        r13: r[gpr::R13],
        r14: r[gpr::R14],
        r15: r[gpr::R15],
    }
}

fn guest_of(frame: &TrapFrame) -> GuestState {
    GuestState {
        gprs: to_x86(&frame.gprs, frame.rsp),
        rip: frame.rip,
        rflags: frame.rflags,
    }
}

/// The TD's pages in the window, from its Secure EPT.
fn map_td(tdr: Hpa) -> Option<u64> {
    let m = MODULE.get()?;
    let mut pages = [GuestPage {
        linear: 0,
        phys: 0,
        writable: false,
        executable: false,
    }; PAGES];
    let mut found = [(Gpa(0), Hpa(0)); PAGES];
    // Another LP may hold the TD's locks for a moment (its vCPU is in a
    // leaf): retry, it never holds them across a TD run.
    let mut n = None;
    for _ in 0..LOCK_RETRIES {
        n = m.private_pages_2m(tdr, Gpa(WINDOW), &mut found);
        if n.is_some() {
            break;
        }
        core::hint::spin_loop();
    }
    let n = n?;
    for (p, (gpa, hpa)) in pages.iter_mut().zip(&found[..n]) {
        // EPT gives the TD RWX; its own paging would restrict further.
        *p = GuestPage {
            linear: gpa.0,
            phys: hpa.raw(),
            writable: true,
            executable: true,
        };
    }
    guest_space::build(cpu(), &pages[..n]).ok()
}

/// A harness SEAMCALL of TDH.VP.ENTER (RIP at the SEAMCALL).
pub fn vp_enter(frame: &mut TrapFrame) -> TrapOutcome {
    let Some(m) = MODULE.get() else {
        return TrapOutcome::Unhandled;
    };
    let lp = seam::lp(qemu_q35::cpu::current());
    let mut vmm = to_x86(&frame.gprs, frame.rsp);
    let Some(e) = m.vp_enter(lp, &mut vmm) else {
        frame.gprs.rax = vmm[gpr::RAX];
        frame.rip += 4;
        return TrapOutcome::Resume;
    };
    let Some(pml4) = map_td(e.tdr) else {
        // Cannot happen for a RUNNABLE TD; leave it as a triple fault.
        println!("tdx-shim: cannot map the TD's pages");
        let mut out = vmm;
        m.td_exit(lp, &e.state, TdExit::TripleFault { vector: 0 }, &mut out);
        frame.gprs = from_x86(&out);
        frame.rip += 4;
        return TrapOutcome::Resume;
    };
    let mut saved = *frame;
    saved.rip += 4;
    if let Some(slot) = ctx_slot(cpu()) {
        *slot = Some(VmmCtx {
            frame: saved,
            gprs: vmm,
        });
    }
    let s = e.state;
    frame.gprs = from_x86(&s.gprs);
    frame.rsp = s.gprs[gpr::RSP];
    frame.rip = s.rip;
    frame.rflags = (s.rflags & RFLAGS_GUEST) | RFLAGS_FIXED | RFLAGS_IF;
    // The TD cannot keep the LP: the timer brings it back (a TD exit with
    // exit reason 1) if the TD does not exit by itself first.
    lapic::enable();
    lapic::timer_oneshot(VECTOR_TIMER, TD_QUANTUM);
    TrapOutcome::ResumeUser(pml4)
}

/// The 4 bytes at the TD's `rip`, read through this CPU's guest space
/// (the TD's own mapping; no module lock, so a TDCALL decodes even while
/// another vCPU holds the TD's locks).
fn td_code(rip: u64) -> Option<[u8; 4]> {
    let mut out = [0u8; 4];
    for (i, b) in out.iter_mut().enumerate() {
        let at = rip.checked_add(i as u64)?;
        let pa = guest_space::translate(cpu(), at)?;
        let w =
            crate::arch::ram_page(pa & !0xFFF)[((pa & 0xFFF) / 8) as usize].load(Ordering::Acquire);
        *b = (w >> ((pa % 8) * 8)) as u8;
    }
    Some(out)
}

/// Any trap while a TD runs on this CPU.
pub fn td_trap(frame: &mut TrapFrame) -> TrapOutcome {
    let (Some(m), Some(slot)) = (MODULE.get(), ctx_slot(cpu())) else {
        return TrapOutcome::Unhandled;
    };
    let Some(ctx) = *slot else {
        return TrapOutcome::Unhandled;
    };
    let lp = seam::lp(qemu_q35::cpu::current());
    if frame.vector == u64::from(VECTOR_SPURIOUS) {
        return TrapOutcome::Resume;
    }
    let mut g = guest_of(frame);
    let why = if frame.vector == u64::from(VECTOR_TIMER) {
        lapic::eoi();
        TdExit::ExternalInterrupt
    } else if frame.vector == VECTOR_UD && td_code(frame.rip) == Some(TDCALL) {
        crate::trap::count_tdcall();
        match m.tdcall(lp, &mut g) {
            Tdcall::Resume => {
                frame.gprs = from_x86(&g.gprs);
                frame.rip += 4;
                return TrapOutcome::Resume;
            }
            Tdcall::ExitToVmm => {
                g.rip += 4;
                TdExit::Vmcall
            }
        }
    } else {
        TdExit::TripleFault {
            vector: frame.vector,
        }
    };
    lapic::timer_stop();
    // What the TD may keep of RFLAGS (IF is the shim's, not the TD's).
    g.rflags &= RFLAGS_GUEST | RFLAGS_FIXED;
    let mut vmm = ctx.gprs;
    m.td_exit(lp, &g, why, &mut vmm);
    *slot = None;
    *frame = ctx.frame;
    frame.gprs = from_x86(&vmm);
    TrapOutcome::ResumeUser(crate::user_pml4())
}
