//! TDH.VP.ENTER and TD exits (tdx-module-abi.md §2 leaf 0, §5 vCPU states,
//! §8 TDG.VP.VMCALL).
//!
//! The logic decides; the image switches. [`Module::vp_enter`] checks the
//! leaf in the order of the 1.5 module source (`tdh_vp_enter.c`: RCX
//! reserved bits, the TDVPR shared, its owner TDR shared as an implicit
//! operand, the TD state and OP_STATE, the TDVPS pages, the vCPU state and
//! its association) and, if all pass, marks the vCPU ACTIVE on this LP and
//! hands the image the guest state to run. When the TD stops running (a
//! TDG.VP.VMCALL, an interrupt the shim takes to preempt it, or a fault
//! the TD cannot take itself) the image calls [`Module::td_exit`], which
//! saves the guest state back into the TDVPS, returns the vCPU to READY
//! and composes what TDH.VP.ENTER returns to the VMM.
//!
//! Guest state in the TDVPS (shim-defined, TDVPS page 1):
//!
//! | Word | Field |
//! |------|-------|
//! | 0..16 | GPRs in x86 encoding order ([`gpr`]) |
//! | 16 | RIP |
//! | 17 | RFLAGS |
//! | 18 | last TD exit ([`LastExit`]) |
//! | 19 | TDG.VP.VMCALL GPR bitmap of the last exit (guest RCX[15:0]) |
//! | 20 | 1 once the state was loaded from the §6.3 initial values |

use core::sync::atomic::Ordering;

use crate::Module;
use crate::platform::TdxPlatform;
use crate::status::{Code, OperandId, Status, TdxResult, err};
use crate::types::{Gpa, Hpa, Lp, OpState, PageType};
use crate::vp::{
    NOT_ASSOCIATED, TDVPS_PAGES, VcpuState, W_ASSOC_LP, W_EPOCH, W_INIT, W_NUM_PAGES, W_PAGES,
    W_SHARED_EPTP, W_STATE, W_VCPU_INDEX, init_reg,
};

/// General-purpose register indices (x86 encoding order).
#[allow(missing_docs)]
pub mod gpr {
    pub const RAX: usize = 0;
    pub const RCX: usize = 1;
    pub const RDX: usize = 2;
    pub const RBX: usize = 3;
    pub const RSP: usize = 4;
    pub const RBP: usize = 5;
    pub const RSI: usize = 6;
    pub const RDI: usize = 7;
    pub const R8: usize = 8;
    pub const R9: usize = 9;
    pub const R10: usize = 10;
    pub const R11: usize = 11;
    pub const R12: usize = 12;
    pub const R13: usize = 13;
    pub const R14: usize = 14;
    pub const R15: usize = 15;
}

/// The 16 GPRs, x86 encoding order.
pub type Gprs = [u64; 16];

/// A vCPU's architectural state as the shim runs it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GuestState {
    /// RAX..R15.
    pub gprs: Gprs,
    /// Next instruction.
    pub rip: u64,
    /// RFLAGS.
    pub rflags: u64,
}

/// How the vCPU last left the TD (`last_td_exit` in the module source).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u64)]
pub enum LastExit {
    /// Never ran, or a TD exit with nothing to complete.
    None = 0,
    /// TDG.VP.VMCALL: on the next entry the VMM's GPRs named in the saved
    /// bitmap go into the guest and its RAX becomes TDX_SUCCESS.
    Tdvmcall = 1,
    /// An asynchronous exit (interrupt): the guest resumes unchanged.
    AsyncTrap = 2,
}

/// Why the TD stopped running.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TdExit {
    /// TDG.VP.VMCALL (the guest's RCX holds the GPR bitmap).
    Vmcall,
    /// An external interrupt the shim took while the TD ran (its
    /// preemption timer): VMX exit reason 1.
    ExternalInterrupt,
    /// The TD took an exception it has no handler for: VMX exit reason 2
    /// (triple fault), with the vector in the exit qualification.
    TripleFault {
        /// Exception vector.
        vector: u64,
    },
    /// An access the TD's EPTs do not allow: a private GPA with no
    /// MAPPED Secure-EPT leaf, a shared GPA the VMM's shared EPT does not
    /// map, or TDG.MEM.PAGE.ACCEPT with nothing to accept. VMX exit
    /// reason 48; RCX = exit qualification, RDX = extended exit
    /// qualification, R8 = GPA. The guest RIP stays on the faulting
    /// instruction (or the TDCALL), which runs again on the next entry.
    EptViolation {
        /// The GPA (with the shared bit for a shared GPA).
        gpa: Gpa,
        /// VMX exit qualification (SDM Table 28-7: bit 0 read, 1 write,
        /// 2 fetch, 7 GLA valid, 8 access to the final translation).
        qualification: u64,
        /// Extended exit qualification: type in bits 3:0, info in 63:32
        /// (`vmx_ext_exit_qual_t`).
        ext: u64,
    },
}

/// VMX basic exit reasons VP.ENTER reports in RAX[31:0] (SDM Appendix C).
pub mod exit_reason {
    /// External interrupt.
    pub const EXTERNAL_INTERRUPT: u64 = 1;
    /// Triple fault.
    pub const TRIPLE_FAULT: u64 = 2;
    /// EPT violation.
    pub const EPT_VIOLATION: u64 = 48;
    /// TDCALL (TDG.VP.VMCALL), §2 leaf 0.
    pub const TDCALL: u64 = 77;
}

/// Extended exit qualification types (bits 3:0; `vmx_eeq_type_t`).
pub mod eeq {
    /// No extended information.
    pub const NONE: u64 = 0;
    /// TDG.MEM.PAGE.ACCEPT found nothing to accept; info in bits 63:32.
    pub const ACCEPT: u64 = 1;
    /// The TD accessed a PENDING (not yet accepted) private page.
    pub const PENDING_EPT_VIOLATION: u64 = 6;
}

/// TDG.VP.VMCALL bitmap bits that must be clear: RAX, RCX, RSP, and RBP
/// because the shim reports TDX_FEATURES0.NO_RBP_MOD (sys.rs; §8).
const VMCALL_FORBIDDEN: u64 = 1 << gpr::RAX | 1 << gpr::RCX | 1 << gpr::RSP | 1 << gpr::RBP;

/// A guest register TDH.VP.RD/WR reach on DEBUG TDs (`md_vp.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum GuestReg {
    /// A GPR, x86 encoding order ([`gpr`]).
    Gpr(usize),
    /// RIP.
    Rip,
    /// RFLAGS.
    Rflags,
}

/// What the image runs after a successful TDH.VP.ENTER.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The vCPU (its TDVPR).
    pub tdvpr: Hpa,
    /// Its TD (the TDR).
    pub tdr: Hpa,
    /// vCPU index.
    pub vcpu_index: u64,
    /// The state to load.
    pub state: GuestState,
    /// The TD VMCS SHARED_EPT_POINTER the VMM wrote with TDH.VP.WR (0 if
    /// none): the VMM's EPT for shared GPAs ([`Module::shared_pages`]).
    pub shared_eptp: u64,
    /// The shared bit of a GPA: bit GPAW − 1 (47 or 51).
    pub shared_bit: u64,
}

const G_STATE_PAGE: usize = 1;
const G_RIP: usize = 16;
const G_RFLAGS: usize = 17;
const G_LAST_EXIT: usize = 18;
const G_BITMAP: usize = 19;
const G_LOADED: usize = 20;

/// RCX of TDH.VP.ENTER: bits 51:12 TDVPR, 52 host_recoverability_hint,
/// 53 resume_l1; bits 11:0 and 63:54 reserved (`vcpu_and_flags_t`).
const ENTER_HPA: u64 = 0x000F_FFFF_FFFF_F000;
const ENTER_HINT: u64 = 1 << 52;
const ENTER_RESUME_L1: u64 = 1 << 53;

impl<P: TdxPlatform> Module<P> {
    fn state_page(&self, tdvpr: Hpa) -> Hpa {
        Hpa(self.plat.map_page(tdvpr)[W_PAGES + G_STATE_PAGE].load(Ordering::Acquire))
    }

    fn load_guest(&self, tdvpr: Hpa) -> (GuestState, LastExit, u64) {
        let sp = self.state_page(tdvpr);
        let s = self.plat.map_page(sp);
        let w = |i: usize| s[i].load(Ordering::Acquire);
        if w(G_LOADED) == 0 {
            // First entry: the §6.3 initial state VP.INIT stored.
            drop(s);
            let v = self.plat.map_page(tdvpr);
            let init = |i: usize| v[W_INIT + i].load(Ordering::Acquire);
            let mut g = GuestState {
                rip: init(init_reg::RIP),
                rflags: init(init_reg::RFLAGS),
                ..GuestState::default()
            };
            g.gprs[gpr::RCX] = init(init_reg::RCX);
            g.gprs[gpr::RDX] = init(init_reg::RDX);
            g.gprs[gpr::RBX] = init(init_reg::RBX);
            g.gprs[gpr::RSI] = init(init_reg::RSI);
            g.gprs[gpr::R8] = init(init_reg::R8);
            return (g, LastExit::None, 0);
        }
        let g = GuestState {
            gprs: core::array::from_fn(&w),
            rip: w(G_RIP),
            rflags: w(G_RFLAGS),
        };
        let last = match w(G_LAST_EXIT) {
            1 => LastExit::Tdvmcall,
            2 => LastExit::AsyncTrap,
            _ => LastExit::None,
        };
        (g, last, w(G_BITMAP))
    }

    fn save_guest(&self, tdvpr: Hpa, g: &GuestState, last: LastExit, bitmap: u64) {
        let sp = self.state_page(tdvpr);
        let s = self.plat.map_page(sp);
        for (i, v) in g.gprs.iter().enumerate() {
            s[i].store(*v, Ordering::Relaxed);
        }
        s[G_RIP].store(g.rip, Ordering::Relaxed);
        s[G_RFLAGS].store(g.rflags, Ordering::Relaxed);
        s[G_LAST_EXIT].store(last as u64, Ordering::Relaxed);
        s[G_BITMAP].store(bitmap, Ordering::Relaxed);
        s[G_LOADED].store(1, Ordering::Release);
    }

    /// A guest register of a vCPU that is not running: the saved state, or
    /// before its first entry the §6.3 initial state.
    pub(crate) fn guest_reg(&self, tdvpr: Hpa, r: GuestReg) -> u64 {
        let (g, _, _) = self.load_guest(tdvpr);
        match r {
            GuestReg::Gpr(i) => g.gprs.get(i).copied().unwrap_or(0),
            GuestReg::Rip => g.rip,
            GuestReg::Rflags => g.rflags,
        }
    }

    /// Change one guest register of a vCPU that is not running. Before
    /// the first entry this saves the whole §6.3 initial state first; the
    /// pending TD-exit completion (last exit, VMCALL bitmap) is kept.
    pub(crate) fn set_guest_reg(&self, tdvpr: Hpa, r: GuestReg, v: u64) {
        let (mut g, last, bitmap) = self.load_guest(tdvpr);
        match r {
            GuestReg::Gpr(i) => {
                if let Some(x) = g.gprs.get_mut(i) {
                    *x = v;
                }
            }
            GuestReg::Rip => g.rip = v,
            GuestReg::Rflags => g.rflags = v,
        }
        self.save_guest(tdvpr, &g, last, bitmap);
    }

    /// TDH.VP.ENTER (leaf 0) with the VMM's 16 GPRs. On success the vCPU
    /// is ACTIVE on `lp` and the image must run [`Entry`] until a TD exit,
    /// then call [`td_exit`](Self::td_exit); on failure `vmm[RAX]` holds
    /// the status and nothing changed.
    pub fn vp_enter(&self, lp: Lp, vmm: &mut Gprs) -> Option<Entry> {
        match self.vp_enter_checked(lp, vmm) {
            Ok(e) => Some(e),
            Err(st) => {
                vmm[gpr::RAX] = st.to_raw();
                None
            }
        }
    }

    fn vp_enter_checked(&self, lp: Lp, vmm: &mut Gprs) -> TdxResult<Entry> {
        // The SEAMCALL dispatch checks `seamcall` makes for every other
        // leaf (RAX decoding, the LP's SYS.LP.INIT, SYS_READY): VP.ENTER
        // comes here directly because it takes all 16 GPRs.
        let leaf = crate::leaf::decode_rax(vmm[gpr::RAX])?;
        if leaf.id != crate::leaf::LeafId::VpEnter || leaf.version != 0 {
            return err(Code::OperandInvalid, OperandId::Rax);
        }
        if lp.index >= self.cfg.num_lps || lp.package >= self.cfg.num_packages {
            return Err(Code::SysLpInitNotDone.into());
        }
        if !self.lp_init[lp.index as usize].load(Ordering::Acquire) {
            return Err(Code::SysLpInitNotDone.into());
        }
        if self.sys_state() != crate::types::SysState::SysReady {
            return Err(Code::SysNotReady.into());
        }
        let raw = vmm[gpr::RCX];
        if raw & !(ENTER_HPA | ENTER_HINT | ENTER_RESUME_L1) != 0 {
            return err(Code::OperandInvalid, OperandId::Rcx);
        }
        let vp = self.lock_page(raw & ENTER_HPA, OperandId::Rcx, false, PageType::Tdvpr)?;
        let g = self.lock_page(vp.info().owner, OperandId::Tdr, false, PageType::Tdr)?;
        let tdr = g.hpa();
        let (hkid, mut t) = self.lock_tdcs(tdr)?;
        if t.op_state != OpState::Runnable {
            return Err(Code::OpStateIncorrect.into());
        }
        let tdvpr = vp.hpa();
        let v = self.plat.map_page(tdvpr);
        if v[W_NUM_PAGES].load(Ordering::Acquire) as usize != TDVPS_PAGES {
            return Err(Code::TdcxNumIncorrect.into());
        }
        if v[W_STATE].load(Ordering::Acquire) != VcpuState::Ready as u64 {
            return Err(Code::VcpuStateIncorrect.into());
        }
        let assoc = v[W_ASSOC_LP].load(Ordering::Acquire);
        if assoc != NOT_ASSOCIATED && assoc != u64::from(lp.index) {
            return Err(Code::VcpuAssociated.into());
        }
        drop(v);
        let (mut state, last, bitmap) = self.load_guest(tdvpr);
        // The shim runs no L2 VMs, so there is never an L1 to resume; the
        // recoverability hint only applies after an asynchronous exit.
        if raw & ENTER_RESUME_L1 != 0 || (raw & ENTER_HINT != 0 && last != LastExit::AsyncTrap) {
            return err(Code::OperandInvalid, OperandId::Rcx);
        }
        // All checks passed.
        if assoc == NOT_ASSOCIATED {
            t.num_assoc_vcpus += 1;
        }
        if last == LastExit::Tdvmcall {
            for (i, r) in state.gprs.iter_mut().enumerate() {
                if bitmap >> i & 1 != 0 {
                    *r = vmm[i];
                }
            }
            // TDG.VP.VMCALL itself completed successfully.
            state.gprs[gpr::RAX] = Status::SUCCESS.to_raw();
        }
        // Count the vCPU into the current TLB epoch until its TD exit
        // (TDH.MEM.TRACK, `mem_mgmt.rs`).
        let token = self.epoch_enter(hkid, &t);
        let v = self.plat.map_page(tdvpr);
        v[W_EPOCH].store(token, Ordering::Release);
        v[W_ASSOC_LP].store(u64::from(lp.index), Ordering::Release);
        v[W_STATE].store(VcpuState::Active as u64, Ordering::Release);
        let vcpu_index = v[W_VCPU_INDEX].load(Ordering::Acquire);
        let shared_eptp = v[W_SHARED_EPTP].load(Ordering::Acquire);
        drop(v);
        self.save_guest(tdvpr, &state, LastExit::None, 0);
        self.running[lp.index as usize].store(tdvpr.raw(), Ordering::Release);
        Ok(Entry {
            tdvpr,
            tdr,
            vcpu_index,
            state,
            shared_eptp,
            shared_bit: 1 << (if t.gpaw52 { 52 } else { 48 } - 1),
        })
    }

    /// The vCPU running on `lp` (its TDVPR), if any.
    pub fn running_vcpu(&self, lp: Lp) -> Option<Hpa> {
        let v = self.running.get(lp.index as usize)?.load(Ordering::Acquire);
        (v != 0).then_some(Hpa(v))
    }

    /// The TD stopped running on `lp` with `state`: save it, make the vCPU
    /// READY and write TDH.VP.ENTER's outputs into `vmm` (RAX = exit reason,
    /// RCX = qualification or the VMCALL bitmap, RDX/R8/R9 = 0, and for a
    /// VMCALL the GPRs the bitmap names). The VMM's other GPRs are kept.
    pub fn td_exit(&self, lp: Lp, state: &GuestState, why: TdExit, vmm: &mut Gprs) {
        let Some(slot) = self.running.get(lp.index as usize) else {
            return;
        };
        let tdvpr = Hpa(slot.swap(0, Ordering::AcqRel));
        if tdvpr.raw() == 0 {
            return;
        }
        let (last, bitmap, reason, qual) = match why {
            TdExit::Vmcall => {
                let bitmap = state.gprs[gpr::RCX] & 0xFFFF;
                (
                    LastExit::Tdvmcall,
                    bitmap,
                    exit_reason::TDCALL,
                    state.gprs[gpr::RCX],
                )
            }
            TdExit::ExternalInterrupt => {
                (LastExit::AsyncTrap, 0, exit_reason::EXTERNAL_INTERRUPT, 0)
            }
            TdExit::TripleFault { vector } => {
                (LastExit::None, 0, exit_reason::TRIPLE_FAULT, vector)
            }
            TdExit::EptViolation { qualification, .. } => {
                (LastExit::None, 0, exit_reason::EPT_VIOLATION, qualification)
            }
        };
        self.save_guest(tdvpr, state, last, bitmap);
        let token = self.plat.map_page(tdvpr)[W_EPOCH].swap(0, Ordering::AcqRel);
        self.epoch_exit(token);
        self.plat.map_page(tdvpr)[W_STATE].store(VcpuState::Ready as u64, Ordering::Release);
        vmm[gpr::RAX] = reason;
        vmm[gpr::RCX] = qual;
        vmm[gpr::RDX] = 0;
        vmm[gpr::R8] = 0;
        vmm[gpr::R9] = 0;
        if let TdExit::EptViolation { gpa, ext, .. } = why {
            vmm[gpr::RDX] = ext;
            vmm[gpr::R8] = gpa.0;
        }
        for (i, r) in vmm.iter_mut().enumerate() {
            if bitmap >> i & 1 != 0 {
                *r = state.gprs[i];
            }
        }
    }

    /// TDG.VP.VMCALL's own check (§8): the bitmap may not name RAX, RCX or
    /// RSP, and RCX[63:32] must be zero.
    pub(crate) fn vmcall_bitmap_ok(rcx: u64) -> bool {
        rcx & VMCALL_FORBIDDEN == 0 && rcx >> 32 == 0
    }
}
