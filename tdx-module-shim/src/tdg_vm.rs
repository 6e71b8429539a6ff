//! TDG.VM.RD v0/v1 (TDCALL leaf 7) and TDG.VM.WR (leaf 8): the TD reads
//! and writes its own TD-scope metadata (tdx-module-abi.md §8), over the
//! field table and rules of [`crate::md`] with the guest masks of the
//! module's `tdr_tdcs_lookup` table.
//!
//! # Check order (`tdg_vm_rd_wr.c`, `md_read_element`, `md_td_write_element`)
//!
//! In: RCX = VM id (0: the TD itself), RDX = field ID; TDG.VM.WR also R8 =
//! value, R9 = write mask. Out: R8 = value (read) or old value (write),
//! masked by the guest read mask; VM.RD v1 also RDX = the next
//! guest-readable field ID.
//! 1. Outputs for the error case: R8 = 0; VM.RD v1: RDX = −1.
//! 2. VM.RD version > 1: OPERAND_INVALID + RAX (VM.WR version > 0 is
//!    refused by the TDCALL dispatch, before any output is written).
//! 3. RCX ≠ 0: OPERAND_INVALID + RCX.
//! 4. (shim) The TD lookup of every guest leaf (`Module::td_of`: TDVPR,
//!    TDR, TD state, TDCS lock). The module's TDCALL path has the TD
//!    mapped already; the shim takes the locks here.
//! 5. The field rules of [`crate::md`] with context TD and the guest masks:
//!    VM.RD v1 null ID → METADATA_FIRST_FIELD_ID_IN_CONTEXT (warning) with
//!    RDX = the first guest-readable field; single-element checks and
//!    lookup (FIELD_ID_INCORRECT); guest read mask 0 (FIELD_NOT_READABLE);
//!    write mask 0 (FIELD_NOT_WRITABLE); a non-writable bit changed
//!    (FIELD_VALUE_NOT_VALID).
//!
//! Guest masks of the shim's fields: readable NUM_VCPUS, NUM_L2_VMS,
//! ATTRIBUTES, XFAM, MAX_VCPUS, GPAW, TSC_FREQUENCY, MRTD, MRCONFIGID,
//! MROWNER, MROWNERCONFIG, RTMR (all bits) and NOTIFY_ENABLES (bit 0, also
//! writable: Linux writes 0 with mask −1 at boot); the others (TDR fields,
//! NUM_ASSOC_VCPUS, OP_STATE, TSC_OFFSET, TSC_MULTIPLIER, HP_LOCK_TIMEOUT)
//! are neither readable nor writable.

use crate::Module;
use crate::enter::{GuestState, gpr};
use crate::md::{self, CONTEXT_TD, GUEST, Op, TABLE, TdFields};
use crate::platform::TdxPlatform;
use crate::status::{Code, OperandId, Status, TdxResult, err};
use crate::tdg::Tdcall;
use crate::types::{Hpa, VmmRegs};

impl<P: TdxPlatform> Module<P> {
    /// TDG.VM.RD of version `version` (leaf 7).
    pub(crate) fn tdg_vm_rd(
        &self,
        tdvpr: Hpa,
        version: u64,
        g: &mut GuestState,
    ) -> TdxResult<Tdcall> {
        self.tdg_vm_rd_wr(tdvpr, Op::Read { v1: version > 0 }, version, g)
    }

    /// TDG.VM.WR (leaf 8, version 0).
    pub(crate) fn tdg_vm_wr(&self, tdvpr: Hpa, g: &mut GuestState) -> TdxResult<Tdcall> {
        let op = Op::Write {
            value: g.gprs[gpr::R8],
            mask: g.gprs[gpr::R9],
        };
        self.tdg_vm_rd_wr(tdvpr, op, 0, g)
    }

    /// Steps 1–5 of the module docs. A warning status (the v1 null ID)
    /// comes back as `Err` so that the TDCALL dispatch puts it in RAX.
    fn tdg_vm_rd_wr(
        &self,
        tdvpr: Hpa,
        op: Op,
        version: u64,
        g: &mut GuestState,
    ) -> TdxResult<Tdcall> {
        let (vm_id, requested) = (g.gprs[gpr::RCX], g.gprs[gpr::RDX]);
        let mut out = VmmRegs {
            rdx: if op.v1() { u64::MAX } else { requested },
            ..VmmRegs::default()
        };
        let r = self.vm_access(tdvpr, op, version, vm_id, requested, &mut out);
        g.gprs[gpr::R8] = out.r8;
        g.gprs[gpr::RDX] = out.rdx;
        match r {
            Ok(st) if st == Status::SUCCESS => Ok(Tdcall::Resume),
            Ok(warning) => Err(warning),
            Err(e) => Err(e),
        }
    }

    fn vm_access(
        &self,
        tdvpr: Hpa,
        op: Op,
        version: u64,
        vm_id: u64,
        requested: u64,
        out: &mut VmmRegs,
    ) -> TdxResult<Status> {
        if version > 1 {
            return err(Code::OperandInvalid, OperandId::Rax);
        }
        if vm_id != 0 {
            return err(Code::OperandInvalid, OperandId::Rcx);
        }
        let (tdr, mut t) = self.td_of(tdvpr)?;
        let mut f = TdFields {
            plat: &self.plat,
            tdr: tdr.hpa(),
            t: &mut t,
        };
        md::access(&mut f, &TABLE, CONTEXT_TD, GUEST, op, requested, out)
    }
}
