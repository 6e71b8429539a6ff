//! Guest attestation and sealing leaves (tdx-module-abi.md §8, §10;
//! docs/tdx-attestation.md):
//!
//! - TDG.MR.REPORT (4): a TDREPORT_STRUCT over the caller's REPORTDATA,
//!   MACed with the shim's documented HMAC scheme;
//! - TDG.MR.VERIFYREPORT (22): checks that MAC on a REPORTMACSTRUCT;
//! - vendor leaves (documented in docs/tdx-attestation.md, not in the TDX
//!   ABI): [`leaf::CMON_SEAL_VERSIONS`] and [`leaf::CMON_SEAL_KEY`], a
//!   256-bit sealing key bound to MRTD (or, by policy, MROWNER) and a key
//!   version, from the same `cmon-keys` hierarchy as the RMM's.

use core::sync::atomic::Ordering;

use cmon_evidence::tdx::{
    ReportType, TDREPORT_LEN, TdInfo, TdReportInput, TeeTcbInfo, build_tdreport,
    verify_report_mac_struct,
};
use cmon_keys::{KeyError, KeyVersion, SealingIdentity, SealingRequest};

use crate::enter::{GuestState, gpr};
use crate::platform::TdxPlatform;
use crate::status::{Code, OperandId, TdxResult, err};
use crate::types::{Gpa, Hpa, PAGE_SIZE};
use crate::{Module, Tdcs};

/// Leaf numbers handled here.
pub mod leaf {
    /// TDG.MR.REPORT.
    pub const MR_REPORT: u64 = 4;
    /// TDG.MR.VERIFYREPORT.
    pub const MR_VERIFYREPORT: u64 = 22;
    /// Vendor: RCX = minimum, RDX = current sealing key version.
    pub const CMON_SEAL_VERSIONS: u64 = 0x7F00;
    /// Vendor: RCX = policy (bit 0: 0 = MRTD, 1 = MROWNER; others RES0),
    /// RDX = key version → R8..R11 = key bytes 0..31 (each little-endian).
    pub const CMON_SEAL_KEY: u64 = 0x7F01;
}

/// REPORTMACSTRUCT: the first 256 bytes of a TDREPORT.
const REPORTMACSTRUCT_LEN: usize = 256;
/// TEE_TCB_INFO.VALID: TEE_TCB_SVN, MRSEAM, MRSIGNERSEAM and ATTRIBUTES
/// (bit i = the field at byte 8·i; §10).
const TCB_VALID: u64 = 0b11 << 1 | 0x3F << 3 | 0x3F << 9 | 1 << 15;

impl<P: TdxPlatform> Module<P> {
    /// Write `data` into private TD memory at `gpa` (within one page).
    pub(crate) fn write_private(&self, tdr: Hpa, t: &Tdcs, gpa: Gpa, data: &[u8]) -> bool {
        let off = (gpa.0 % PAGE_SIZE) as usize;
        if off + data.len() > PAGE_SIZE as usize {
            return false;
        }
        let Some(hpa) = self.private_hpa(tdr, t, gpa) else {
            return false;
        };
        let m = self.plat.map_page(Hpa(hpa.raw() & !0xFFF));
        for (i, b) in data.iter().enumerate() {
            let at = off + i;
            let (w, shift) = (at / 8, (at % 8) * 8);
            let v = m[w].load(Ordering::Acquire);
            m[w].store(
                (v & !(0xFF << shift)) | (u64::from(*b) << shift),
                Ordering::Release,
            );
        }
        true
    }

    /// TDG.MR.REPORT (leaf 4): RCX = 1024-aligned GPA of the output, RDX =
    /// 64-aligned GPA of REPORTDATA (64 B), R8 = subtype (0). Checked in
    /// that order; an unusable GPA is OPERAND_INVALID with its operand.
    pub(crate) fn tdg_mr_report(&self, tdvpr: Hpa, g: &mut GuestState) -> TdxResult<()> {
        let (out, data_gpa, subtype) = (g.gprs[gpr::RCX], g.gprs[gpr::RDX], g.gprs[gpr::R8]);
        if !out.is_multiple_of(TDREPORT_LEN as u64) {
            return err(Code::OperandInvalid, OperandId::Rcx);
        }
        if !data_gpa.is_multiple_of(64) {
            return err(Code::OperandInvalid, OperandId::Rdx);
        }
        if subtype != 0 {
            return err(Code::OperandInvalid, OperandId::R8);
        }
        let Some(keys) = self.plat.keys() else {
            return err(Code::OperandInvalid, OperandId::Rax);
        };
        let (tdr, t) = self.td_of(tdvpr)?;
        let mut report_data = [0u8; 64];
        if !self.read_private(tdr.hpa(), &t, Gpa(data_gpa), &mut report_data) {
            return err(Code::OperandInvalid, OperandId::Rdx);
        }
        let tee = self.cfg.tee;
        let input = TdReportInput {
            report_type: ReportType::TDX,
            cpu_svn: tee.cpu_svn,
            tee_tcb_info: TeeTcbInfo {
                valid: TCB_VALID,
                tee_tcb_svn: tee.tee_tcb_svn,
                mrseam: tee.mrseam,
                mrsignerseam: [0; 48],
                attributes: 0,
                tee_tcb_svn2: [0; 16],
            },
            td_info: TdInfo {
                attributes: t.attributes,
                xfam: t.xfam,
                mrtd: t.mrtd_final,
                mrconfigid: t.mr_config_id,
                mrowner: t.mr_owner,
                mrownerconfig: t.mr_owner_config,
                rtmr: [0, 1, 2, 3].map(|i| t.rtmr[i].value()),
                servtd_hash: [0; 48],
            },
            report_data,
        };
        let mac_key = keys.tdx_report_mac_key().map_err(|_| {
            crate::status::Status::with_operand(Code::OperandInvalid, OperandId::Rax)
        })?;
        let report = build_tdreport(&input, mac_key.as_bytes());
        if !self.write_private(tdr.hpa(), &t, Gpa(out), &report) {
            return err(Code::OperandInvalid, OperandId::Rcx);
        }
        Ok(())
    }

    /// TDG.MR.VERIFYREPORT (leaf 22): RCX = 256-aligned GPA of a
    /// REPORTMACSTRUCT; TDX_INVALID_REPORTMACSTRUCT if its MAC is not one
    /// this platform made.
    pub(crate) fn tdg_mr_verifyreport(&self, tdvpr: Hpa, g: &mut GuestState) -> TdxResult<()> {
        let gpa = g.gprs[gpr::RCX];
        if !gpa.is_multiple_of(REPORTMACSTRUCT_LEN as u64) {
            return err(Code::OperandInvalid, OperandId::Rcx);
        }
        let Some(keys) = self.plat.keys() else {
            return err(Code::OperandInvalid, OperandId::Rax);
        };
        let (tdr, t) = self.td_of(tdvpr)?;
        let mut rms = [0u8; REPORTMACSTRUCT_LEN];
        if !self.read_private(tdr.hpa(), &t, Gpa(gpa), &mut rms) {
            return err(Code::OperandInvalid, OperandId::Rcx);
        }
        let key = keys.tdx_report_mac_key().map_err(|_| {
            crate::status::Status::with_operand(Code::OperandInvalid, OperandId::Rax)
        })?;
        verify_report_mac_struct(&rms, key.as_bytes())
            .map_err(|_| Code::InvalidReportMacStruct.into())
    }

    /// The vendor sealing leaves.
    pub(crate) fn tdg_seal(&self, tdvpr: Hpa, leaf_no: u64, g: &mut GuestState) -> TdxResult<()> {
        let Some(keys) = self.plat.keys() else {
            return err(Code::OperandInvalid, OperandId::Rax);
        };
        if leaf_no == leaf::CMON_SEAL_VERSIONS {
            g.gprs[gpr::RCX] = u64::from(keys.minimum_version().get());
            g.gprs[gpr::RDX] = u64::from(keys.current_version().get());
            return Ok(());
        }
        let (policy, version) = (g.gprs[gpr::RCX], g.gprs[gpr::RDX]);
        if policy & !1 != 0 {
            return err(Code::OperandInvalid, OperandId::Rcx);
        }
        let version = u32::try_from(version).map_err(|_| {
            crate::status::Status::with_operand(Code::OperandInvalid, OperandId::Rdx)
        })?;
        let (_tdr, t) = self.td_of(tdvpr)?;
        let identity = if policy == 0 {
            SealingIdentity::TdxMrtd(&t.mrtd_final)
        } else {
            SealingIdentity::TdxMrOwner(&t.mr_owner)
        };
        let req = SealingRequest {
            identity,
            version: KeyVersion(version),
        };
        let key = keys.sealing_key(&req).map_err(|e| match e {
            KeyError::VersionTooNew { .. } | KeyError::VersionRetired { .. } => {
                crate::status::Status::with_operand(Code::OperandInvalid, OperandId::Rdx)
            }
            _ => crate::status::Status::with_operand(Code::OperandInvalid, OperandId::Rax),
        })?;
        for (r, c) in g.gprs[gpr::R8..=gpr::R11]
            .iter_mut()
            .zip(key.as_bytes().chunks_exact(8))
        {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            *r = u64::from_le_bytes(w);
        }
        Ok(())
    }
}
