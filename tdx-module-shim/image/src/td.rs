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
//! Shared GPAs: the pages the VMM's shared EPT (TDH.VP.WR of
//! SHARED_EPT_POINTER) maps in the window's shared twin (GPA | bit 47) are
//! mapped too, at linear = GPA without the shared bit − 2 MiB
//! (`guest_space::SHARED_WINDOW`, the 2 MiB below the window), and only
//! while they are VMM memory (`Module::shared_pages_2m`). The mappings are a snapshot: if any page
//! is isolated while the TD runs (the TLB epoch moves), the next resume
//! into the TD rebuilds them first, so a page the module took away is
//! never left reachable through a stale shared mapping.
//!
//! A page fault in the TD is an EPT-violation TD exit (exit reason 48,
//! R8 = the GPA, the faulting instruction runs again on the next entry),
//! as a TD access to a GPA its EPTs do not map is on hardware.
//!
//! Emulation constructs (documented in docs/tdx-attestation.md): TDs run in
//! 64-bit mode at CPL 3, not in the §6.3 32-bit mode, and their private
//! pages must lie in the top 2 MiB below 4 GiB (the window), and shared
//! pages in its shared twin, which the TD sees 2 MiB lower; shared GPAs
//! are mapped for GPAW-48 TDs only.

use core::cell::UnsafeCell;
use core::sync::atomic::Ordering;

use tdx_module_shim::enter::{Entry, Gprs, GuestState, TdExit, gpr};
use tdx_module_shim::shared_ept::SharedPage;
use tdx_module_shim::tdg::Tdcall;
use tdx_module_shim::{Gpa, Hpa};

use qemu_q35::guest_space::{self, GuestPage, SHARED_WINDOW, WINDOW};
use qemu_q35::idt::{
    Gprs as FrameGprs, TrapFrame, TrapOutcome, VECTOR_PF, VECTOR_SPURIOUS, VECTOR_TIMER, VECTOR_UD,
};
use qemu_q35::{MAX_CPUS, lapic, println, tlb};

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

/// `f` again while it answers `None` (another LP holds the TD's locks for
/// a moment: its vCPU is in a leaf; it never holds them across a TD run),
/// at most [`LOCK_RETRIES`] times.
fn retry_locked<T>(mut f: impl FnMut() -> Option<T>) -> Option<T> {
    for _ in 0..LOCK_RETRIES {
        if let Some(v) = f() {
            return Some(v);
        }
        core::hint::spin_loop();
    }
    None
}

#[derive(Clone, Copy)]
struct VmmCtx {
    frame: TrapFrame,
    gprs: Gprs,
    /// What the TD's mappings are built from, and the TLB epoch they
    /// were built at (`tlb::epoch`).
    map: MapArgs,
    pml4: u64,
    epoch: u64,
}

#[derive(Clone, Copy)]
struct MapArgs {
    tdr: Hpa,
    shared_eptp: u64,
    shared_bit: u64,
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

/// The TD's pages in the window, from its Secure EPT, and its shared
/// pages in the shared window, from the VMM's shared EPT; returns the
/// guest space's PML4 and the TLB epoch read before the pages were
/// looked up.
fn map_td(a: &MapArgs) -> Option<(u64, u64)> {
    let m = MODULE.get()?;
    let epoch = tlb::epoch();
    let mut pages = [GuestPage {
        linear: 0,
        phys: 0,
        writable: false,
        executable: false,
    }; 2 * PAGES];
    let mut found = [(Gpa(0), Hpa(0)); PAGES];
    let n = retry_locked(|| m.private_pages_2m(a.tdr, Gpa(WINDOW), &mut found))?;
    for (p, (gpa, hpa)) in pages.iter_mut().zip(&found[..n]) {
        // EPT gives the TD RWX; its own paging would restrict further.
        *p = GuestPage {
            linear: gpa.0,
            phys: hpa.raw(),
            writable: true,
            executable: true,
        };
    }
    let mut shared = [SharedPage::EMPTY; PAGES];
    // The shim maps shared GPAs of GPAW-48 TDs only.
    let ns = if a.shared_bit == crate::td_mem::SHARED {
        m.shared_pages_2m(
            a.shared_eptp,
            false,
            Gpa(a.shared_bit | WINDOW),
            &mut shared,
        )
    } else {
        0
    };
    for (p, s) in pages[n..].iter_mut().zip(&shared[..ns]) {
        *p = GuestPage {
            linear: SHARED_WINDOW + (s.gpa.0 - (a.shared_bit | WINDOW)),
            phys: s.hpa.raw(),
            writable: s.writable,
            executable: s.executable,
        };
    }
    let pml4 = guest_space::build(cpu(), &pages[..n + ns]).ok()?;
    Some((pml4, epoch))
}

/// The GPA of a TD linear address (linear = GPA in the window; the
/// shared window holds the window's shared GPAs). `None` outside both.
fn gpa_of(linear: u64, shared_bit: u64) -> Option<u64> {
    if (WINDOW..1 << 32).contains(&linear) {
        Some(linear)
    } else if (SHARED_WINDOW..WINDOW).contains(&linear) {
        Some(shared_bit | (linear + (WINDOW - SHARED_WINDOW)))
    } else {
        None
    }
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
    let map = map_args(&e);
    let Some((pml4, epoch)) = map_td(&map) else {
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
            map,
            pml4,
            epoch,
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

fn map_args(e: &Entry) -> MapArgs {
    MapArgs {
        tdr: e.tdr,
        shared_eptp: e.shared_eptp,
        shared_bit: e.shared_bit,
    }
}

/// Back into the TD on this CPU's guest space, rebuilt first if a page
/// was isolated since it was built (a shared page may have gone).
fn resume_td(ctx: &mut VmmCtx) -> TrapOutcome {
    if tlb::epoch() != ctx.epoch {
        match map_td(&ctx.map) {
            Some((pml4, epoch)) => (ctx.pml4, ctx.epoch) = (pml4, epoch),
            // Cannot happen for a running TD; keep it off every page.
            None => {
                println!("tdx-shim: cannot rebuild the TD's mappings");
                if let Ok(p) = guest_space::build(cpu(), &[]) {
                    ctx.pml4 = p;
                }
            }
        }
    }
    TrapOutcome::ResumeUser(ctx.pml4)
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
    let Some(ctx) = slot.as_mut() else {
        return TrapOutcome::Unhandled;
    };
    let lp = seam::lp(qemu_q35::cpu::current());
    if frame.vector == u64::from(VECTOR_SPURIOUS) {
        return resume_td(ctx);
    }
    let mut g = guest_of(frame);
    let why = if frame.vector == u64::from(VECTOR_TIMER) {
        lapic::eoi();
        TdExit::ExternalInterrupt
    } else if frame.vector == VECTOR_UD && td_code(frame.rip) == Some(TDCALL) {
        crate::trap::count_tdcall();
        let leaf_no = g.gprs[gpr::RAX];
        match m.tdcall(lp, &mut g) {
            Tdcall::Resume => {
                frame.gprs = from_x86(&g.gprs);
                frame.rip += 4;
                if leaf_no == tdx_module_shim::tdg::leaf::MEM_PAGE_ACCEPT {
                    // A page may have become MAPPED: the TD sees it now.
                    ctx.epoch = 0;
                }
                return resume_td(ctx);
            }
            Tdcall::ExitToVmm => {
                g.rip += 4;
                TdExit::Vmcall
            }
            // The TDCALL runs again after the VMM has mapped the page.
            Tdcall::EptViolation(why) => why,
        }
    } else if let Some(gpa) = (frame.vector == VECTOR_PF)
        .then(|| gpa_of(qemu_q35::arch::cr2(), ctx.map.shared_bit))
        .flatten()
    {
        page_fault(m, ctx.map.tdr, gpa, frame.error_code)
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
    *frame = ctx.frame;
    frame.gprs = from_x86(&vmm);
    *slot = None;
    TrapOutcome::ResumeUser(crate::user_pml4())
}

/// A #PF in the TD at `gpa`, which its EPTs do not map, as an EPT
/// violation (qualification: bit 0 read, 1 write, 2 fetch from the #PF
/// error code's W and I/D bits, 7 GLA valid, 8 final translation; the
/// EEQ from `Module::ept_violation`). A #PF outside both windows is no GPA
/// the shim can map: a triple fault.
fn page_fault(m: &crate::global::ShimModule, tdr: Hpa, gpa: u64, error: u64) -> TdExit {
    const PF_WRITE: u64 = 1 << 1;
    const PF_FETCH: u64 = 1 << 4;
    let access = if error & PF_FETCH != 0 {
        1 << 2
    } else if error & PF_WRITE != 0 {
        1 << 1
    } else {
        1
    };
    let qualification = access | 1 << 7 | 1 << 8;
    retry_locked(|| m.ept_violation(tdr, Gpa(gpa), qualification)).unwrap_or(TdExit::EptViolation {
        gpa: Gpa(gpa),
        qualification,
        ext: tdx_module_shim::enter::eeq::NONE,
    })
}
