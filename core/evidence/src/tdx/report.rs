//! TDREPORT_STRUCT (1024 B): builder, parser and our MAC
//! (`shared/spec/tdx-module-abi.md` §10; MAC scheme in the module docs of
//! [`crate::tdx`]).

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256, Sha384};

use super::bytes::{read, read_u64, write};
use super::layout::{self as l, tdinfo as ti, tee_tcb_info as tti};
use crate::EvidenceError;

/// Length of the TDREPORT MAC key: the 32-byte `tdx-report-mac` key of
/// cmon-keys (`KeyHierarchy::tdx_report_mac_key`).
pub const REPORT_MAC_KEY_LEN: usize = 32;
/// Length of TEE_TCB_INFO as hashed into TEE_TCB_INFO_HASH (§10: 239 B).
pub const TEE_TCB_INFO_LEN: usize = l::TEE_TCB_INFO.1;
/// Length of TDINFO_STRUCT (§10).
pub const TDINFO_LEN: usize = l::TDINFO.1;
/// Length of REPORTMACSTRUCT, the input of TDG.MR.VERIFYREPORT (§8, §10).
pub const REPORTMACSTRUCT_LEN: usize = 256;
/// REPORTTYPE.TYPE of a TDX report (§10).
pub const REPORT_TYPE_TDX: u8 = 0x81;

/// REPORTTYPE (§10, offset 0x000). The fourth byte is reserved (zero).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportType {
    /// TEE type: 0x81 for TDX.
    pub tee_type: u8,
    /// Subtype: 0.
    pub subtype: u8,
    /// Version: 0 (1.5 with no service TD bound; 1 with one or more).
    pub version: u8,
}

impl ReportType {
    /// TDX, subtype 0, version 0: the shim binds no service TDs (§10).
    pub const TDX: Self = Self {
        tee_type: REPORT_TYPE_TDX,
        subtype: 0,
        version: 0,
    };
}

/// TEE_TCB_INFO (§10, 239 bytes at 0x100): the SEAM module's identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TeeTcbInfo {
    /// VALID bitmap: bit i set means the field at byte 8·i is valid.
    pub valid: u64,
    /// TEE_TCB_SVN.
    pub tee_tcb_svn: [u8; 16],
    /// MRSEAM: measurement of the SEAM module.
    pub mrseam: [u8; 48],
    /// MRSIGNERSEAM (0 for Intel modules).
    pub mrsignerseam: [u8; 48],
    /// SEAM ATTRIBUTES.
    pub attributes: u64,
    /// TEE_TCB_SVN2 (TDX 1.5).
    pub tee_tcb_svn2: [u8; 16],
}

impl TeeTcbInfo {
    /// The 239-byte encoding; the 95 reserved bytes at 0x190 are zero.
    #[must_use]
    pub fn to_bytes(&self) -> [u8; TEE_TCB_INFO_LEN] {
        let mut b = [0u8; TEE_TCB_INFO_LEN];
        write(&mut b, tti::VALID.0, &self.valid.to_le_bytes());
        write(&mut b, tti::TEE_TCB_SVN.0, &self.tee_tcb_svn);
        write(&mut b, tti::MRSEAM.0, &self.mrseam);
        write(&mut b, tti::MRSIGNERSEAM.0, &self.mrsignerseam);
        write(&mut b, tti::ATTRIBUTES.0, &self.attributes.to_le_bytes());
        write(&mut b, tti::TEE_TCB_SVN2.0, &self.tee_tcb_svn2);
        b
    }

    /// Decode the 239-byte encoding (reserved bytes are ignored here; they
    /// are still covered by TEE_TCB_INFO_HASH).
    #[must_use]
    pub fn from_bytes(b: &[u8; TEE_TCB_INFO_LEN]) -> Self {
        Self {
            valid: read_u64(b, tti::VALID.0),
            tee_tcb_svn: read(b, tti::TEE_TCB_SVN.0),
            mrseam: read(b, tti::MRSEAM.0),
            mrsignerseam: read(b, tti::MRSIGNERSEAM.0),
            attributes: read_u64(b, tti::ATTRIBUTES.0),
            tee_tcb_svn2: read(b, tti::TEE_TCB_SVN2.0),
        }
    }

    /// TEE_TCB_INFO_HASH = SHA-384 over the 239-byte encoding (§10).
    #[must_use]
    pub fn hash(&self) -> [u8; 48] {
        Sha384::digest(self.to_bytes()).into()
    }
}

/// TDINFO_STRUCT (§10, 512 bytes at 0x200): the TD's measurements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TdInfo {
    /// TD ATTRIBUTES.
    pub attributes: u64,
    /// XFAM.
    pub xfam: u64,
    /// MRTD (§7).
    pub mrtd: [u8; 48],
    /// MRCONFIGID.
    pub mrconfigid: [u8; 48],
    /// MROWNER.
    pub mrowner: [u8; 48],
    /// MROWNERCONFIG.
    pub mrownerconfig: [u8; 48],
    /// RTMR0..3.
    pub rtmr: [[u8; 48]; 4],
    /// SERVTD_HASH (TDX 1.5; zero with no service TD bound).
    pub servtd_hash: [u8; 48],
}

impl TdInfo {
    /// The 512-byte encoding; the 64 reserved bytes at 0x3C0 are zero.
    #[must_use]
    pub fn to_bytes(&self) -> [u8; TDINFO_LEN] {
        let mut b = [0u8; TDINFO_LEN];
        write(&mut b, ti::ATTRIBUTES.0, &self.attributes.to_le_bytes());
        write(&mut b, ti::XFAM.0, &self.xfam.to_le_bytes());
        write(&mut b, ti::MRTD.0, &self.mrtd);
        write(&mut b, ti::MRCONFIGID.0, &self.mrconfigid);
        write(&mut b, ti::MROWNER.0, &self.mrowner);
        write(&mut b, ti::MROWNERCONFIG.0, &self.mrownerconfig);
        for (i, r) in self.rtmr.iter().enumerate() {
            write(&mut b, ti::RTMR0.0 + 48 * i, r);
        }
        write(&mut b, ti::SERVTD_HASH.0, &self.servtd_hash);
        b
    }

    /// Decode the 512-byte encoding (reserved bytes ignored, but hashed).
    #[must_use]
    pub fn from_bytes(b: &[u8; TDINFO_LEN]) -> Self {
        Self {
            attributes: read_u64(b, ti::ATTRIBUTES.0),
            xfam: read_u64(b, ti::XFAM.0),
            mrtd: read(b, ti::MRTD.0),
            mrconfigid: read(b, ti::MRCONFIGID.0),
            mrowner: read(b, ti::MROWNER.0),
            mrownerconfig: read(b, ti::MROWNERCONFIG.0),
            rtmr: core::array::from_fn(|i| read(b, ti::RTMR0.0 + 48 * i)),
            servtd_hash: read(b, ti::SERVTD_HASH.0),
        }
    }

    /// TEE_INFO_HASH = SHA-384 over the 512-byte encoding (§10).
    #[must_use]
    pub fn hash(&self) -> [u8; 48] {
        Sha384::digest(self.to_bytes()).into()
    }
}

/// Everything a TDREPORT is built from (the hashes and MAC are computed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TdReportInput {
    /// REPORTTYPE, normally [`ReportType::TDX`].
    pub report_type: ReportType,
    /// CPUSVN.
    pub cpu_svn: [u8; 16],
    /// TEE_TCB_INFO.
    pub tee_tcb_info: TeeTcbInfo,
    /// TDINFO.
    pub td_info: TdInfo,
    /// REPORTDATA, supplied by the TD in TDG.MR.REPORT (§8).
    pub report_data: [u8; 64],
}

/// A decoded TDREPORT. [`parse_tdreport`] does **not** check the MAC or the
/// hashes: call [`verify_report_mac`] before trusting any field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TdReport {
    /// REPORTTYPE.
    pub report_type: ReportType,
    /// CPUSVN.
    pub cpu_svn: [u8; 16],
    /// Stored TEE_TCB_INFO_HASH.
    pub tee_tcb_info_hash: [u8; 48],
    /// Stored TEE_INFO_HASH.
    pub tee_info_hash: [u8; 48],
    /// REPORTDATA.
    pub report_data: [u8; 64],
    /// Stored MAC.
    pub mac: [u8; 32],
    /// TEE_TCB_INFO.
    pub tee_tcb_info: TeeTcbInfo,
    /// TDINFO.
    pub td_info: TdInfo,
}

/// HMAC-SHA-256 keyed with the 32-byte report key.
///
/// RFC 2104 §2 pads a key shorter than the hash block (64 bytes for
/// SHA-256) with zeros, so keying the block-sized `KeyInit::new` with the
/// zero-padded key is HMAC with the 32-byte key itself — and infallible,
/// unlike `new_from_slice`.
fn report_hmac(key: &[u8; REPORT_MAC_KEY_LEN]) -> Hmac<Sha256> {
    let mut block = [0u8; 64];
    write(&mut block, 0, key);
    let mac = Hmac::<Sha256>::new(&block.into());
    // The padded copy is as secret as the key; the HMAC state keeps only
    // the ipad/opad digests.
    block.fill(0);
    mac
}

/// MAC over bytes 0x000..0x0E0 of a REPORTMACSTRUCT (our scheme, see the
/// [`crate::tdx`] module docs).
fn compute_mac(mac_input: &[u8], key: &[u8; REPORT_MAC_KEY_LEN]) -> [u8; 32] {
    let mut mac = report_hmac(key);
    mac.update(mac_input);
    mac.finalize().into_bytes().into()
}

/// Build a TDREPORT_STRUCT (§10) as TDG.MR.REPORT returns it.
///
/// Both hashes are computed from `input`, then the MAC is
/// HMAC-SHA-256(`mac_key`, bytes 0x000..0x0E0). Reserved bytes are zero.
/// `mac_key` is the 32-byte `tdx-report-mac` key of cmon-keys.
#[must_use]
pub fn build_tdreport(
    input: &TdReportInput,
    mac_key: &[u8; REPORT_MAC_KEY_LEN],
) -> [u8; l::TDREPORT_LEN] {
    let mut r = [0u8; l::TDREPORT_LEN];
    let t = input.report_type;
    write(
        &mut r,
        l::REPORT_TYPE.0,
        &[t.tee_type, t.subtype, t.version, 0],
    );
    write(&mut r, l::CPUSVN.0, &input.cpu_svn);
    write(&mut r, l::TEE_TCB_INFO_HASH.0, &input.tee_tcb_info.hash());
    write(&mut r, l::TEE_INFO_HASH.0, &input.td_info.hash());
    write(&mut r, l::REPORT_DATA.0, &input.report_data);
    write(&mut r, l::TEE_TCB_INFO.0, &input.tee_tcb_info.to_bytes());
    write(&mut r, l::TDINFO.0, &input.td_info.to_bytes());
    let mac = compute_mac(&r[..l::MAC_INPUT.1], mac_key);
    write(&mut r, l::MAC.0, &mac);
    r
}

/// Decode a TDREPORT_STRUCT into its fields without checking the MAC.
///
/// # Errors
/// - [`EvidenceError::InvalidLength`] unless `bytes` is exactly 1024 bytes;
/// - [`EvidenceError::UnsupportedReportType`] unless REPORTTYPE.TYPE is 0x81.
pub fn parse_tdreport(bytes: &[u8]) -> Result<TdReport, EvidenceError> {
    let r: &[u8; l::TDREPORT_LEN] = bytes.try_into().map_err(|_| EvidenceError::InvalidLength)?;
    let t: [u8; 4] = read(r, l::REPORT_TYPE.0);
    if t[0] != REPORT_TYPE_TDX {
        return Err(EvidenceError::UnsupportedReportType);
    }
    Ok(TdReport {
        report_type: ReportType {
            tee_type: t[0],
            subtype: t[1],
            version: t[2],
        },
        cpu_svn: read(r, l::CPUSVN.0),
        tee_tcb_info_hash: read(r, l::TEE_TCB_INFO_HASH.0),
        tee_info_hash: read(r, l::TEE_INFO_HASH.0),
        report_data: read(r, l::REPORT_DATA.0),
        mac: read(r, l::MAC.0),
        tee_tcb_info: TeeTcbInfo::from_bytes(&read(r, l::TEE_TCB_INFO.0)),
        td_info: TdInfo::from_bytes(&read(r, l::TDINFO.0)),
    })
}

/// Check only the MAC of a 256-byte REPORTMACSTRUCT: what
/// TDG.MR.VERIFYREPORT gets from the TD (§8 leaf 22). Our MAC covers bytes
/// 0x000..0x0E0 and so needs nothing outside the REPORTMACSTRUCT; it binds
/// TEE_TCB_INFO and TDINFO through their hashes.
///
/// # Errors
/// [`EvidenceError::BadMac`] if the MAC does not verify (checked in
/// constant time by `hmac`'s `verify_slice`).
pub fn verify_report_mac_struct(
    reportmacstruct: &[u8; REPORTMACSTRUCT_LEN],
    mac_key: &[u8; REPORT_MAC_KEY_LEN],
) -> Result<(), EvidenceError> {
    let (input, rest) = reportmacstruct.split_at(l::MAC_INPUT.1);
    let mut mac = report_hmac(mac_key);
    mac.update(input);
    mac.verify_slice(rest).map_err(|_| EvidenceError::BadMac)
}

/// Verify a whole TDREPORT: both stored hashes must equal SHA-384 of the
/// report's own TEE_TCB_INFO (239 B) and TDINFO (512 B), and the MAC over
/// 0x000..0x0E0 must verify under `mac_key`. The quoting path calls this
/// before signing a quote.
///
/// The hash comparison need not be constant time: hashes of public
/// structures are not secret. The MAC check is constant time.
///
/// # Errors
/// [`EvidenceError::ReportHashMismatch`] or [`EvidenceError::BadMac`].
pub fn verify_report_mac(
    report: &[u8; l::TDREPORT_LEN],
    mac_key: &[u8; REPORT_MAC_KEY_LEN],
) -> Result<(), EvidenceError> {
    let tcb: [u8; TEE_TCB_INFO_LEN] = read(report, l::TEE_TCB_INFO.0);
    let info: [u8; TDINFO_LEN] = read(report, l::TDINFO.0);
    let tcb_hash: [u8; 48] = Sha384::digest(tcb).into();
    let info_hash: [u8; 48] = Sha384::digest(info).into();
    if tcb_hash != read::<48>(report, l::TEE_TCB_INFO_HASH.0)
        || info_hash != read::<48>(report, l::TEE_INFO_HASH.0)
    {
        return Err(EvidenceError::ReportHashMismatch);
    }
    verify_report_mac_struct(&read(report, 0), mac_key)
}
