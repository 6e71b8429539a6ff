//! The SEAMCALL/TDCALL dispatch boundary.
//!
//! `trap.rs` decodes the instruction and hands the caller's registers here
//! as [`GuestRegs`]. A SEAMCALL goes to the `tdx-module-shim` logic crate,
//! `Module::seamcall(Lp, &mut VmmRegs)`, on the module instance in
//! `global.rs`: RAX, RCX, RDX and R8..R11 in and out (tdx-module-abi.md §1);
//! every other register is left as the caller had it. TDH.VP.ENTER and
//! every TDCALL of a running TD go through `td.rs` instead (they need all
//! 16 GPRs and a context switch); a TDCALL from outside a TD (the harness)
//! returns TDX_OPERAND_INVALID + RAX here.
//!
//! Before the BSP has built the module (no LP may SEAMCALL then), a
//! SEAMCALL returns TDX_SYS_LP_INIT_NOT_DONE.

use tdx_module_shim::{Code, Lp, OperandId, Status, VmmRegs};

use qemu_q35::CpuIndex;

use crate::config;
use crate::global::MODULE;

/// The caller's general-purpose registers at SEAMCALL/TDCALL: the trap
/// frame's own register block.
pub type GuestRegs = qemu_q35::idt::Gprs;

fn to_vmm(g: &GuestRegs) -> VmmRegs {
    VmmRegs {
        rax: g.rax,
        rcx: g.rcx,
        rdx: g.rdx,
        r8: g.r8,
        r9: g.r9,
        r10: g.r10,
        r11: g.r11,
    }
}

fn from_vmm(v: &VmmRegs, g: &mut GuestRegs) {
    g.rax = v.rax;
    g.rcx = v.rcx;
    g.rdx = v.rdx;
    g.r8 = v.r8;
    g.r9 = v.r9;
    g.r10 = v.r10;
    g.r11 = v.r11;
}

/// The module's view of CPU `cpu`.
pub fn lp(cpu: CpuIndex) -> Lp {
    Lp {
        index: cpu.0,
        package: config::package_of(cpu),
    }
}

/// SEAMCALL (66 0F 01 CF) on the current LP.
pub fn dispatch_seamcall(regs: &mut GuestRegs) {
    let Some(m) = MODULE.get() else {
        regs.rax = Status::new(Code::SysLpInitNotDone).to_raw();
        return;
    };
    let mut v = to_vmm(regs);
    m.seamcall(lp(qemu_q35::cpu::current()), &mut v);
    from_vmm(&v, regs);
}

/// TDCALL (66 0F 01 CC) from outside a TD (the harness): no TD runs on
/// this LP, so there is no caller the guest leaves could serve.
pub fn dispatch_tdcall(regs: &mut GuestRegs) {
    regs.rax = Status::with_operand(Code::OperandInvalid, OperandId::Rax).to_raw();
}
