//! The shim's exception policy (called by qemu-q35 for every exception).
//!
//! * #UD whose 4 bytes at RIP are 66 0F 01 CF (SEAMCALL) or 66 0F 01 CC
//!   (TDCALL): both #UD under TCG (tdx-module-abi.md §1). Copy the GPRs to
//!   [`GuestRegs`], call `seam::dispatch_*`, copy them back, RIP += 4,
//!   resume. The bytes are read only from the shim's .text (CPL 0) or the
//!   harness code pages (CPL 3), never from an arbitrary user address.
//! * Any other exception from CPL 3 is reflected to the harness: RIP =
//!   `tdx_harness_fault`, RDI = vector, RSI = error code, RDX = CR2 (#PF)
//!   or 0, RSP unchanged, and the harness reports it (harness.S).
//! * Anything else at CPL 0 is fatal (qemu-q35 prints it and exits 37).

use core::sync::atomic::{AtomicU32, Ordering};

use qemu_q35::idt::{TrapFrame, TrapOutcome, VECTOR_PF, VECTOR_SPURIOUS, VECTOR_TIMER, VECTOR_UD};
use qemu_q35::{MAX_CPUS, arch as q35_arch};

use crate::seam;
use crate::{arch, harness, td};

const SEAMCALL: [u8; 4] = [0x66, 0x0F, 0x01, 0xCF];
const TDCALL: [u8; 4] = [0x66, 0x0F, 0x01, 0xCC];
/// Reflections per CPU before a harness that keeps faulting is fatal.
const MAX_REFLECTIONS: u32 = 64;

/// Per-CPU counters for the summary.
#[derive(Debug)]
pub struct Counters {
    pub seamcalls: AtomicU32,
    pub tdcalls: AtomicU32,
    pub reflected: AtomicU32,
}

pub static COUNTERS: [Counters; MAX_CPUS] = [const {
    Counters {
        seamcalls: AtomicU32::new(0),
        tdcalls: AtomicU32::new(0),
        reflected: AtomicU32::new(0),
    }
}; MAX_CPUS];

// SAFETY: linker/q35-bios.ld symbols; only their addresses are used.
unsafe extern "C" {
    safe static __payload_start: u8;
    safe static __user_text_start: u8;
}

fn kernel_text_contains(rip: u64) -> bool {
    let start = &raw const __payload_start as u64;
    let end = &raw const __user_text_start as u64;
    start <= rip && rip.checked_add(4).is_some_and(|e| e <= end)
}

/// The instruction at the trapping RIP, if it is SEAMCALL or TDCALL.
fn decode(frame: &TrapFrame) -> Option<[u8; 4]> {
    let readable = match frame.cpl() {
        0 => kernel_text_contains(frame.rip),
        3 => harness::user_code_contains(frame.rip, 4),
        _ => false,
    };
    let bytes = readable.then(|| arch::code_bytes(frame.rip))?;
    (bytes == SEAMCALL || bytes == TDCALL).then_some(bytes)
}

/// Count a TDCALL (td.rs decodes those of a running TD).
pub fn count_tdcall() {
    let cpu = qemu_q35::cpu::current().as_usize();
    COUNTERS[cpu].tdcalls.fetch_add(1, Ordering::Relaxed);
}

/// TDH.VP.ENTER's leaf number in RAX[15:0] (version bits 23:16 too).
const VP_ENTER_RAX_MASK: u64 = 0xFF_FFFF;

/// Entry from qemu-q35 for every exception.
pub fn handle(frame: &mut TrapFrame) -> TrapOutcome {
    let cpu = qemu_q35::cpu::current().as_usize();
    if frame.cpl() == 3 && td::running() {
        return td::td_trap(frame);
    }
    // A timer interrupt raised just before a TD exit and taken later: the
    // TD it was meant for is gone; acknowledge it and go on.
    if frame.vector == u64::from(VECTOR_TIMER) {
        qemu_q35::lapic::eoi();
        return TrapOutcome::Resume;
    }
    if frame.vector == u64::from(VECTOR_SPURIOUS) {
        return TrapOutcome::Resume;
    }
    if frame.vector == VECTOR_UD
        && let Some(bytes) = decode(frame)
    {
        if bytes == SEAMCALL
            && frame.gprs.rax & !VP_ENTER_RAX_MASK == 0
            && frame.gprs.rax & 0xFFFF == 0
        {
            COUNTERS[cpu].seamcalls.fetch_add(1, Ordering::Relaxed);
            return td::vp_enter(frame);
        }
        let mut regs = frame.gprs;
        if bytes == SEAMCALL {
            COUNTERS[cpu].seamcalls.fetch_add(1, Ordering::Relaxed);
            seam::dispatch_seamcall(&mut regs);
        } else {
            COUNTERS[cpu].tdcalls.fetch_add(1, Ordering::Relaxed);
            seam::dispatch_tdcall(&mut regs);
        }
        frame.gprs = regs;
        frame.rip += 4;
        return TrapOutcome::Resume;
    }
    if frame.cpl() == 3 {
        let n = COUNTERS[cpu].reflected.fetch_add(1, Ordering::Relaxed);
        if n >= MAX_REFLECTIONS {
            return TrapOutcome::Unhandled;
        }
        frame.gprs.rdi = frame.vector;
        frame.gprs.rsi = frame.error_code;
        frame.gprs.rdx = if frame.vector == VECTOR_PF {
            q35_arch::cr2()
        } else {
            0
        };
        frame.rip = harness::fault_entry();
        return TrapOutcome::Resume;
    }
    TrapOutcome::Unhandled
}
