//! The SEAMCALL/TDCALL dispatch boundary.
//!
//! `trap.rs` decodes the instruction and hands the caller's registers here
//! as [`GuestRegs`]; these functions set the outputs (RAX = status, §1 of
//! tdx-module-abi.md) and know nothing about traps or QEMU. This is where
//! the `tdx-module-shim` logic crate plugs in: replace the "not implemented
//! yet" arm of [`Module::seamcall`] with a call into its leaf handlers.
//!
//! Implemented now: the RAX checks of §1 (reserved bits, unknown leaf,
//! leaf version), the SYS_READY gate, TDH.SYS.INIT and per-LP
//! TDH.SYS.LP.INIT bookkeeping. Every other host leaf returns
//! TDX_OPERAND_INVALID (operand RAX) until it is implemented. No TD exists
//! yet, so every TDCALL leaf returns TDX_OPERAND_INVALID too.

use core::sync::atomic::{AtomicBool, AtomicU8, Ordering};

use qemu_q35::{CpuIndex, MAX_CPUS};

use crate::status::{Operand, PRE_READY_LEAVES, Status, VERSIONED_LEAVES, is_host_leaf, leaf};

/// The caller's general-purpose registers at SEAMCALL/TDCALL.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GuestRegs {
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

/// RAX on input: leaf number and version (§1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeafId {
    pub number: u16,
    pub version: u8,
}

impl LeafId {
    /// Splits RAX; `None` if any bit outside 23:0 is set.
    pub fn from_rax(rax: u64) -> Option<LeafId> {
        (rax >> 24 == 0).then_some(LeafId {
            number: rax as u16,
            version: (rax >> 16) as u8,
        })
    }
}

/// Module-wide state (the SEAM "global data").
const SYSINIT_PENDING: u8 = 0;
const SYSINIT_DONE: u8 = 1;

#[derive(Debug)]
pub struct Module {
    sys_state: AtomicU8,
    lp_init_done: [AtomicBool; MAX_CPUS],
}

static MODULE: Module = Module::new();

impl Default for Module {
    fn default() -> Self {
        Self::new()
    }
}

impl Module {
    pub const fn new() -> Self {
        Module {
            sys_state: AtomicU8::new(SYSINIT_PENDING),
            lp_init_done: [const { AtomicBool::new(false) }; MAX_CPUS],
        }
    }

    /// SYS_READY needs SYS.KEY.CONFIG, which is not implemented yet.
    fn sys_ready(&self) -> bool {
        false
    }

    /// Whether `lp` has done TDH.SYS.LP.INIT.
    pub fn lp_initialised(&self, lp: CpuIndex) -> bool {
        self.lp_init_done[lp.as_usize()].load(Ordering::Acquire)
    }

    /// One SEAMCALL from logical processor `lp`.
    pub fn seamcall(&self, lp: CpuIndex, regs: &mut GuestRegs) {
        let invalid_rax = Status::OPERAND_INVALID.with_operand(Operand::Rax);
        let status = match LeafId::from_rax(regs.rax) {
            None => invalid_rax,
            Some(id) if !is_host_leaf(id.number) => invalid_rax,
            Some(id) if id.version > u8::from(VERSIONED_LEAVES.contains(&id.number)) => invalid_rax,
            Some(id) if !self.sys_ready() && !PRE_READY_LEAVES.contains(&id.number) => {
                Status::SYS_NOT_READY
            }
            Some(id) => match id.number {
                leaf::TDH_SYS_INIT => self.sys_init(regs),
                leaf::TDH_SYS_LP_INIT => self.sys_lp_init(lp),
                _ => invalid_rax, // not implemented yet
            },
        };
        regs.rax = status.0;
    }

    /// TDH.SYS.INIT (§2 leaf 33): RCX = attributes, must be 0;
    /// SYSINIT_PENDING -> SYSINIT_DONE, once.
    fn sys_init(&self, regs: &GuestRegs) -> Status {
        if regs.rcx != 0 {
            return Status::OPERAND_INVALID.with_operand(Operand::Rcx);
        }
        match self.sys_state.compare_exchange(
            SYSINIT_PENDING,
            SYSINIT_DONE,
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            Ok(_) => Status::SUCCESS,
            Err(_) => Status::SYS_INIT_NOT_PENDING,
        }
    }

    /// TDH.SYS.LP.INIT (§2 leaf 35): once per LP, after SYS.INIT.
    fn sys_lp_init(&self, lp: CpuIndex) -> Status {
        if self.sys_state.load(Ordering::Acquire) != SYSINIT_DONE {
            return Status::SYSINIT_NOT_DONE;
        }
        if self.lp_init_done[lp.as_usize()].swap(true, Ordering::AcqRel) {
            return Status::SYS_LP_INIT_DONE;
        }
        Status::SUCCESS
    }

    /// One TDCALL. There are no TDs yet, so no guest leaf is implemented.
    pub fn tdcall(&self, _lp: CpuIndex, regs: &mut GuestRegs) {
        regs.rax = Status::OPERAND_INVALID.with_operand(Operand::Rax).0;
    }
}

/// The module instance.
pub fn module() -> &'static Module {
    &MODULE
}

/// SEAMCALL (66 0F 01 CF) on the current LP.
pub fn dispatch_seamcall(regs: &mut GuestRegs) {
    MODULE.seamcall(qemu_q35::cpu::current(), regs);
}

/// TDCALL (66 0F 01 CC) on the current LP.
pub fn dispatch_tdcall(regs: &mut GuestRegs) {
    MODULE.tdcall(qemu_q35::cpu::current(), regs);
}
