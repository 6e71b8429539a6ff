//! VP-scope metadata: TDH.VP.RD v0/v1 and TDH.VP.WR (tdx-module-abi.md §2
//! leaves 26, 43), over the field rules of [`crate::md`].
//!
//! # Check order (TDX_1.5.01 `tdh_vp_rd_wr.c`)
//!
//! 1. Outputs for the error case: R8 = 0; read v1: RDX = −1.
//! 2. The TDVPR (RCX), shared lock, PT_TDVPR (`lock_page`: OPERAND_INVALID,
//!    OPERAND_ADDR_RANGE_ERROR, OPERAND_BUSY, PAGE_METADATA_INCORRECT + RCX).
//! 3. Its owner TDR from the PAMT, shared, as an implicit operand (+ TDR).
//! 4. The TD state of a leaf that maps the TDCS (TD_FATAL,
//!    TD_KEYS_NOT_CONFIGURED, TDCS_NOT_ALLOCATED), the TDCS lock
//!    (OPERAND_BUSY + OP_STATE), OP_STATE INITIALIZED or RUNNABLE
//!    (OP_STATE_INCORRECT; §5).
//! 5. All TDVPS pages present (`map_tdvps`): else TDCX_NUM_INCORRECT.
//! 6. `check_and_associate_vcpu`: vCPU READY (a read also accepts
//!    DISABLED), else VCPU_STATE_INCORRECT; associated with another LP →
//!    VCPU_ASSOCIATED.
//! 7. The field rules of [`crate::md`] with context VP: read v1 null ID,
//!    single-element checks, lookup, masks (production or DEBUG by the TD's
//!    ATTRIBUTES), the write merge, SHARED_EPT_POINTER's value check.
//!
//! A vCPU not associated with any LP becomes associated with this LP (and
//! counted in the TD's NUM_ASSOC_VCPUS), so TDH.VP.FLUSH is then needed
//! before TDH.MNG.VPFLUSHDONE. The module associates before the field
//! checks and keeps the association when they fail; the shim associates
//! only when the leaf completes (success, or the read-v1 FIRST_FIELD
//! warning), so that a failing leaf changes nothing. ASSOC_LPID therefore
//! reads this LP, as in the module.
//!
//! # Fields (the subset of `td_vmcs_fields_lookup.c` and
//! `tdvps_fields_lookup.c` the shim exposes, in table order)
//!
//! | Field | ID | Size | Production TD | DEBUG TD |
//! |---|---|---|---|---|
//! | SHARED_EPT_POINTER (VMCS 0x203C) | `0x0024_0003_0000_203C` | 64 | R/W bits 51:12 | R all, W bits 51:12 |
//! | Guest RSP, RIP, RFLAGS (VMCS 0x681C, 0x681E, 0x6820) | `0x0024_0003_0000_681C` … | 64 | — | R/W |
//! | GPRs RAX..R15 (class 16, code = x86 number) | `0x1020_0003_0000_0000` + n | 64 | — | R/W, except RSP (n = 4): neither (a placeholder; RSP is the VMCS field) |
//! | VCPU_STATE_DETAILS (class 17, non-arch) | `0x9120_0003_0000_0100` | 64 | R | R |
//! | VCPU_STATE | `0xA020_0000_0000_0000` | 8 | — | R |
//! | VCPU_INDEX | `0xA020_0002_0000_0002` | 32 | R | R |
//! | NUM_TDVPS_PAGES | `0xA020_0000_0000_0003` | 8 | R | R |
//! | ASSOC_LPID | `0xA020_0002_0000_0004` | 32 | R | R |
//! | TDVPS_PAGE_PA × 15 | `0xA020_0003_0000_0010` + i | 64 | R | R |
//!
//! Values: SHARED_EPT_POINTER is TDVPS word 6 (`vp.rs`; 0 until the
//! VMM writes it; the module starts from its TDCS zero page). The guest
//! registers are the TDVPS state page ([`crate::enter`]), or before the
//! first entry the §6.3 initial state. VCPU_STATE_DETAILS is 0: the shim
//! has no virtual APIC, so no virtual interrupt is ever pending (VMXIP).
//! TDVPS_PAGE_PA 6..14 read 0 (the shim's TDVPS has 6 pages).
//!
//! # SHARED_EPT_POINTER writes (`metadata_vp.c` `md_vp_write_element`,
//! `md_vp_handle_field_attribute_on_wr`; helpers.c `shared_hpa_check`)
//!
//! - Only bits 51:12 are writable. A request mask covering other bits with
//!   values that differ from the current ones (which are 0) →
//!   FIELD_VALUE_NOT_VALID: memory type, walk length and the A/D bit are
//!   not part of this field, the module uses those of the TD's own EPTP.
//! - The merged value must be a shared HPA: no bit at or above MAX_PA, and
//!   an HKID below the first private HKID; else FIELD_VALUE_NOT_VALID. The
//!   module's third check, no overlap with SEAMRR, has no counterpart: the
//!   shim's own memory is never VMM memory (`platform.rs` contract 4).

use crate::Module;
use crate::enter::{GuestReg, gpr};
use crate::md::{self, ALL, ATTR_DEBUG, CONTEXT_VP, Entry, Fields, HOST, Op};
use crate::platform::TdxPlatform;
use crate::status::{Code, OperandId, Status, TdxResult};
use crate::types::{Hpa, Lp, OpState, PageType, VmmRegs};
use crate::vp::{
    self, NOT_ASSOCIATED, TDVPS_PAGES, VcpuState, W_ASSOC_LP, W_NUM_PAGES, W_PAGES, W_SHARED_EPTP,
    W_STATE, W_VCPU_INDEX,
};

/// VP-scope field IDs (base element) the shim exposes.
#[allow(missing_docs)]
pub mod field {
    pub const SHARED_EPT_POINTER: u64 = 0x0024_0003_0000_203C;
    pub const GUEST_RSP: u64 = 0x0024_0003_0000_681C;
    pub const GUEST_RIP: u64 = 0x0024_0003_0000_681E;
    pub const GUEST_RFLAGS: u64 = 0x0024_0003_0000_6820;
    /// GPR n is `GPR + n` (x86 encoding order).
    pub const GPR: u64 = 0x1020_0003_0000_0000;
    pub const VCPU_STATE_DETAILS: u64 = 0x9120_0003_0000_0100;
    pub const VCPU_STATE: u64 = 0xA020_0000_0000_0000;
    pub const VCPU_INDEX: u64 = 0xA020_0002_0000_0002;
    pub const NUM_TDVPS_PAGES: u64 = 0xA020_0000_0000_0003;
    pub const ASSOC_LPID: u64 = 0xA020_0002_0000_0004;
    pub const TDVPS_PAGE_PA: u64 = 0xA020_0003_0000_0010;
}

/// SHARED_EPT_POINTER bits the host may write (and read on a production
/// TD): 51:12.
pub const SHARED_EPTP_PA: u64 = 0x000F_FFFF_FFFF_F000;

/// TDVPS_PAGE_PA fields in the module's table (MAX_TDVPS_PAGES).
const TDVPS_PAGE_PA_FIELDS: u32 = 15;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Src {
    SharedEptp,
    Reg(GuestReg),
    StateDetails,
    State,
    Index,
    NumPages,
    AssocLp,
    PagePa,
}

/// Readable by the host on production and DEBUG TDs, never writable.
const fn ro(id: u64, src: Src) -> Entry<Src> {
    Entry::new(id, 1, 1, src, [ALL, ALL], [0, 0])
}

/// DEBUG TDs only, fully readable and writable.
const fn dbg_rw(id: u64, r: GuestReg) -> Entry<Src> {
    Entry::new(id, 1, 1, Src::Reg(r), [0, ALL], [0, ALL])
}

const fn gpr(n: usize) -> Entry<Src> {
    if n == gpr::RSP {
        // RSP_PLACEHOLDER: no host access at all.
        Entry::new(
            field::GPR + 4,
            1,
            1,
            Src::Reg(GuestReg::Gpr(n)),
            [0, 0],
            [0, 0],
        )
    } else {
        dbg_rw(field::GPR + n as u64, GuestReg::Gpr(n))
    }
}

const TABLE: [Entry<Src>; 26] = [
    Entry::new(
        field::SHARED_EPT_POINTER,
        1,
        1,
        Src::SharedEptp,
        [SHARED_EPTP_PA, ALL],
        [SHARED_EPTP_PA, SHARED_EPTP_PA],
    ),
    dbg_rw(field::GUEST_RSP, GuestReg::Gpr(gpr::RSP)),
    dbg_rw(field::GUEST_RIP, GuestReg::Rip),
    dbg_rw(field::GUEST_RFLAGS, GuestReg::Rflags),
    gpr(0),
    gpr(1),
    gpr(2),
    gpr(3),
    gpr(4),
    gpr(5),
    gpr(6),
    gpr(7),
    gpr(8),
    gpr(9),
    gpr(10),
    gpr(11),
    gpr(12),
    gpr(13),
    gpr(14),
    gpr(15),
    ro(field::VCPU_STATE_DETAILS, Src::StateDetails),
    Entry::new(field::VCPU_STATE, 1, 1, Src::State, [0, ALL], [0, 0]),
    ro(field::VCPU_INDEX, Src::Index),
    ro(field::NUM_TDVPS_PAGES, Src::NumPages),
    ro(field::ASSOC_LPID, Src::AssocLp),
    Entry::new(
        field::TDVPS_PAGE_PA,
        TDVPS_PAGE_PA_FIELDS,
        1,
        Src::PagePa,
        [ALL, ALL],
        [0, 0],
    ),
];

/// The VP scope: one vCPU whose TDVPR, TDR and TDCS the leaf holds, seen
/// from `lp`.
struct VpFields<'a, P: TdxPlatform> {
    m: &'a Module<P>,
    tdvpr: Hpa,
    lp: Lp,
}

impl<P: TdxPlatform> Fields for VpFields<'_, P> {
    type Src = Src;

    fn get(&self, src: Src, k: u32) -> u64 {
        let rd = |w: usize| vp::rd(&self.m.plat, self.tdvpr, w);
        match src {
            Src::SharedEptp => rd(W_SHARED_EPTP),
            Src::Reg(r) => self.m.guest_reg(self.tdvpr, r),
            Src::StateDetails => 0,
            Src::State => rd(W_STATE),
            Src::Index => rd(W_VCPU_INDEX),
            Src::NumPages => rd(W_NUM_PAGES),
            Src::AssocLp => u64::from(self.lp.index),
            Src::PagePa if (k as usize) < TDVPS_PAGES => rd(W_PAGES + k as usize),
            Src::PagePa => 0,
        }
    }

    fn set(&mut self, src: Src, _k: u32, new: u64, _combined: u64) -> TdxResult<()> {
        match src {
            Src::SharedEptp => {
                if !self.m.is_shared_hpa(new) {
                    return Err(Code::MetadataFieldValueNotValid.into());
                }
                vp::wr(&self.m.plat, self.tdvpr, W_SHARED_EPTP, new);
            }
            Src::Reg(r) => self.m.set_guest_reg(self.tdvpr, r, new),
            // Write mask 0: `md::access` refused the write already.
            _ => return Err(Code::MetadataFieldNotWritable.into()),
        }
        Ok(())
    }
}

impl<P: TdxPlatform> Module<P> {
    /// `shared_hpa_check` without SEAMRR (see the module docs): no bit at or
    /// above MAX_PA, and a shared HKID.
    fn is_shared_hpa(&self, pa: u64) -> bool {
        let shift = self.cfg.hkid_shift();
        let hkid = (pa >> shift) & ((1 << self.cfg.hkid_bits) - 1);
        pa >> self.cfg.max_pa == 0 && hkid < u64::from(self.cfg.first_private_hkid)
    }

    /// TDH.VP.RD v0/v1 (leaf 26): RCX = TDVPR, RDX = field ID → R8 = value
    /// (v1: RDX = next field ID).
    pub(crate) fn vp_rd(&self, lp: Lp, version: u8, regs: &mut VmmRegs) -> TdxResult<Status> {
        self.vp_rd_wr(lp, Op::Read { v1: version > 0 }, regs)
    }

    /// TDH.VP.WR (leaf 43): RCX = TDVPR, RDX = field ID, R8 = value, R9 =
    /// write mask → R8 = old value.
    pub(crate) fn vp_wr(&self, lp: Lp, regs: &mut VmmRegs) -> TdxResult<Status> {
        let op = Op::Write {
            value: regs.r8,
            mask: regs.r9,
        };
        self.vp_rd_wr(lp, op, regs)
    }

    /// The checks of the module docs, in order, then the field access.
    fn vp_rd_wr(&self, lp: Lp, op: Op, regs: &mut VmmRegs) -> TdxResult<Status> {
        let requested = regs.rdx;
        regs.r8 = 0;
        if op.v1() {
            regs.rdx = u64::MAX;
        }
        let vcpu = self.lock_page(regs.rcx, OperandId::Rcx, false, PageType::Tdvpr)?;
        let (_tdr, mut t) = self.vp_owner(Hpa(vcpu.info().owner))?;
        if !matches!(t.op_state, OpState::Initialized | OpState::Runnable) {
            return Err(Code::OpStateIncorrect.into());
        }
        let tdvpr = vcpu.hpa();
        let rd = |w: usize| vp::rd(&self.plat, tdvpr, w);
        if rd(W_NUM_PAGES) != TDVPS_PAGES as u64 {
            return Err(Code::TdcxNumIncorrect.into());
        }
        let state = rd(W_STATE);
        let read = matches!(op, Op::Read { .. });
        if state != VcpuState::Ready as u64 && !(read && state == VcpuState::Disabled as u64) {
            return Err(Code::VcpuStateIncorrect.into());
        }
        let assoc = rd(W_ASSOC_LP);
        if assoc != NOT_ASSOCIATED && assoc != u64::from(lp.index) {
            return Err(Code::VcpuAssociated.into());
        }
        let who = HOST + usize::from(t.attributes & ATTR_DEBUG != 0);
        let mut f = VpFields { m: self, tdvpr, lp };
        let st = md::access(&mut f, &TABLE, CONTEXT_VP, who, op, requested, regs)?;
        if assoc == NOT_ASSOCIATED {
            vp::wr(&self.plat, tdvpr, W_ASSOC_LP, u64::from(lp.index));
            t.num_assoc_vcpus += 1;
        }
        Ok(st)
    }
}
