//! TD Quote v4 builder (`shared/spec/tdx-module-abi.md` §11).
//!
//! Signing keys, certification data and the QE vendor id are ours, not
//! Intel's: see the [`crate::tdx`] module docs.

use alloc::vec::Vec;

use p256::ecdsa::{Signature, SigningKey, VerifyingKey, signature::Signer};
use p256::elliptic_curve::point::AffineCoordinates as _;
use sha2::{Digest, Sha256};

use super::bytes::{read, write};
use super::layout::{self as l, body as b, header as h, qe_report as qr};
use super::report::{TdReport, parse_tdreport};
use crate::EvidenceError;

/// Quote version (§11 header).
pub const QUOTE_VERSION: u16 = 4;
/// Attestation key type 2: ECDSA-P256 (§11 header).
pub const ATT_KEY_TYPE_ECDSA_P256: u16 = 2;
/// TEE type of a TD quote (§11 header).
pub const TEE_TYPE_TDX: u32 = 0x81;
/// Certification data type 6: QE report certification data (§11).
pub const CERT_TYPE_QE_REPORT: u16 = 6;
/// Certification data type 5: PEM PCK certificate chain (§11).
pub const CERT_TYPE_PCK_CHAIN: u16 = 5;

/// Our QE vendor id: the 16 ASCII bytes `cmon/tdx-shim/v1`.
///
/// Deliberately **not** Intel's (`939A7233…0607`, §11): a verifier that
/// keys its policy on the vendor id must never take a shim quote for an
/// Intel-rooted one.
pub const CMON_QE_VENDOR_ID: [u8; 16] = *b"cmon/tdx-shim/v1";

/// QE authentication data carried in every quote (32 bytes, ASCII
/// `cmon/tdx-shim/qe-auth-data/v1` and three NULs). It is bound into the QE
/// report's REPORTDATA with the attestation key (§11).
pub const QE_AUTH_DATA: [u8; 32] = *b"cmon/tdx-shim/qe-auth-data/v1\0\0\0";

/// Default inner certification data (type 5). We have no X.509 PKI in
/// `no_std`, so instead of a PEM chain this ASCII note (no PEM armour, so a
/// PEM parser finds zero certificates) says where trust comes from.
pub const PCK_CERT_CHAIN_PLACEHOLDER: &[u8] =
    b"cmon-tdx-shim: no PCK certificate chain; not Intel-rooted; \
      trust the AK and PCK public keys of the device out of band\n";

/// Length of an ECDSA-P256 signature r||s and of a raw public key x||y.
pub const P256_RAW_LEN: usize = 64;

/// Caller-chosen quote header values and certification data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuoteParams<'a> {
    /// QE SVN (header offset 8).
    pub qe_svn: u16,
    /// PCE SVN (header offset 10).
    pub pce_svn: u16,
    /// Header user_data (20 bytes).
    pub user_data: [u8; 20],
    /// Inner certification data (type 5); [`PCK_CERT_CHAIN_PLACEHOLDER`]
    /// unless a project test PKI supplies a PEM chain.
    pub pck_cert_chain: &'a [u8],
}

impl Default for QuoteParams<'_> {
    fn default() -> Self {
        Self {
            qe_svn: 0,
            pce_svn: 0,
            user_data: [0; 20],
            pck_cert_chain: PCK_CERT_CHAIN_PLACEHOLDER,
        }
    }
}

/// The 48-byte quote header (§11).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuoteHeader {
    /// version (4).
    pub version: u16,
    /// att_key_type (2).
    pub att_key_type: u16,
    /// tee_type (0x81).
    pub tee_type: u32,
    /// qe_svn.
    pub qe_svn: u16,
    /// pce_svn.
    pub pce_svn: u16,
    /// qe_vendor_id.
    pub qe_vendor_id: [u8; 16],
    /// user_data.
    pub user_data: [u8; 20],
}

impl QuoteHeader {
    pub(crate) fn to_bytes(self) -> [u8; l::QUOTE_HEADER_LEN] {
        let mut o = [0u8; l::QUOTE_HEADER_LEN];
        write(&mut o, h::VERSION, &self.version.to_le_bytes());
        write(&mut o, h::ATT_KEY_TYPE, &self.att_key_type.to_le_bytes());
        write(&mut o, h::TEE_TYPE, &self.tee_type.to_le_bytes());
        write(&mut o, h::QE_SVN, &self.qe_svn.to_le_bytes());
        write(&mut o, h::PCE_SVN, &self.pce_svn.to_le_bytes());
        write(&mut o, h::QE_VENDOR_ID.0, &self.qe_vendor_id);
        write(&mut o, h::USER_DATA.0, &self.user_data);
        o
    }
}

/// The 584-byte TD 1.0 quote body (§11), copied from a TDREPORT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuoteBody {
    /// TEE_TCB_INFO.TEE_TCB_SVN.
    pub tee_tcb_svn: [u8; 16],
    /// TEE_TCB_INFO.MRSEAM.
    pub mr_seam: [u8; 48],
    /// TEE_TCB_INFO.MRSIGNERSEAM.
    pub mrsigner_seam: [u8; 48],
    /// TEE_TCB_INFO.ATTRIBUTES.
    pub seam_attributes: u64,
    /// TDINFO.ATTRIBUTES.
    pub td_attributes: u64,
    /// TDINFO.XFAM.
    pub xfam: u64,
    /// TDINFO.MRTD.
    pub mr_td: [u8; 48],
    /// TDINFO.MRCONFIGID.
    pub mr_config_id: [u8; 48],
    /// TDINFO.MROWNER.
    pub mr_owner: [u8; 48],
    /// TDINFO.MROWNERCONFIG.
    pub mr_owner_config: [u8; 48],
    /// TDINFO.RTMR0..3.
    pub rtmr: [[u8; 48]; 4],
    /// REPORTDATA.
    pub report_data: [u8; 64],
}

impl QuoteBody {
    /// The body fields of `report`, per the §11 "Copied from" column.
    #[must_use]
    pub fn from_tdreport(report: &TdReport) -> Self {
        let (tcb, td) = (&report.tee_tcb_info, &report.td_info);
        Self {
            tee_tcb_svn: tcb.tee_tcb_svn,
            mr_seam: tcb.mrseam,
            mrsigner_seam: tcb.mrsignerseam,
            seam_attributes: tcb.attributes,
            td_attributes: td.attributes,
            xfam: td.xfam,
            mr_td: td.mrtd,
            mr_config_id: td.mrconfigid,
            mr_owner: td.mrowner,
            mr_owner_config: td.mrownerconfig,
            rtmr: td.rtmr,
            report_data: report.report_data,
        }
    }

    pub(crate) fn to_bytes(self) -> [u8; l::QUOTE_BODY_LEN] {
        let mut o = [0u8; l::QUOTE_BODY_LEN];
        write(&mut o, b::TEE_TCB_SVN.0, &self.tee_tcb_svn);
        write(&mut o, b::MR_SEAM.0, &self.mr_seam);
        write(&mut o, b::MRSIGNER_SEAM.0, &self.mrsigner_seam);
        write(
            &mut o,
            b::SEAM_ATTRIBUTES.0,
            &self.seam_attributes.to_le_bytes(),
        );
        write(
            &mut o,
            b::TD_ATTRIBUTES.0,
            &self.td_attributes.to_le_bytes(),
        );
        write(&mut o, b::XFAM.0, &self.xfam.to_le_bytes());
        write(&mut o, b::MR_TD.0, &self.mr_td);
        write(&mut o, b::MR_CONFIG_ID.0, &self.mr_config_id);
        write(&mut o, b::MR_OWNER.0, &self.mr_owner);
        write(&mut o, b::MR_OWNER_CONFIG.0, &self.mr_owner_config);
        for (i, r) in self.rtmr.iter().enumerate() {
            write(&mut o, b::RTMR0.0 + 48 * i, r);
        }
        write(&mut o, b::REPORT_DATA.0, &self.report_data);
        o
    }

    pub(crate) fn from_bytes(o: &[u8; l::QUOTE_BODY_LEN]) -> Self {
        let u64_at = |off| u64::from_le_bytes(read(o, off));
        Self {
            tee_tcb_svn: read(o, b::TEE_TCB_SVN.0),
            mr_seam: read(o, b::MR_SEAM.0),
            mrsigner_seam: read(o, b::MRSIGNER_SEAM.0),
            seam_attributes: u64_at(b::SEAM_ATTRIBUTES.0),
            td_attributes: u64_at(b::TD_ATTRIBUTES.0),
            xfam: u64_at(b::XFAM.0),
            mr_td: read(o, b::MR_TD.0),
            mr_config_id: read(o, b::MR_CONFIG_ID.0),
            mr_owner: read(o, b::MR_OWNER.0),
            mr_owner_config: read(o, b::MR_OWNER_CONFIG.0),
            rtmr: core::array::from_fn(|i| read(o, b::RTMR0.0 + 48 * i)),
            report_data: read(o, b::REPORT_DATA.0),
        }
    }
}

/// Raw `x || y` (64 bytes) of a P-256 public key: the quote's attestation
/// public key encoding (§11).
#[must_use]
pub fn p256_raw_public_key(key: &VerifyingKey) -> [u8; P256_RAW_LEN] {
    let p = key.as_affine();
    let mut out = [0u8; P256_RAW_LEN];
    write(&mut out, 0, &p.x());
    write(&mut out, 32, &p.y());
    out
}

/// The QE report binding of §11: SHA-256(AK_pub ‖ QE auth data) then 32
/// zero bytes.
#[must_use]
pub fn qe_report_data(ak_raw: &[u8; P256_RAW_LEN], qe_auth_data: &[u8]) -> [u8; 64] {
    let mut out = [0u8; 64];
    let digest = Sha256::new()
        .chain_update(ak_raw)
        .chain_update(qe_auth_data)
        .finalize();
    write(&mut out, 0, &digest);
    out
}

/// Our QE report: an SGX report body (layout in `layout::qe_report`) whose
/// only non-zero fields are ISVSVN (= `qe_svn`, matching the header) and
/// REPORTDATA. There is no quoting enclave, so MRENCLAVE, MRSIGNER and
/// ATTRIBUTES stay zero rather than imitate Intel's QE.
fn qe_report(ak_raw: &[u8; P256_RAW_LEN], qe_svn: u16) -> [u8; l::QE_REPORT_LEN] {
    let mut o = [0u8; l::QE_REPORT_LEN];
    write(&mut o, qr::ISV_SVN.0, &qe_svn.to_le_bytes());
    write(
        &mut o,
        qr::REPORT_DATA.0,
        &qe_report_data(ak_raw, &QE_AUTH_DATA),
    );
    o
}

/// ECDSA-P256 with SHA-256 and RFC 6979 nonces; raw r‖s.
fn sign_raw(key: &SigningKey, msg: &[u8]) -> Result<[u8; P256_RAW_LEN], EvidenceError> {
    let sig: Signature = key.try_sign(msg).map_err(|_| EvidenceError::InvalidKey)?;
    Ok(read(&sig.to_bytes(), 0))
}

fn u32_len(n: usize) -> Result<u32, EvidenceError> {
    u32::try_from(n).map_err(|_| EvidenceError::InvalidLength)
}

/// Build a TD Quote v4 from a TDREPORT (§11).
///
/// The caller must have checked the report with
/// [`verify_report_mac`](super::verify_report_mac) first: this function
/// has no MAC key. `ak` signs header ‖ body; `pck` signs the QE report.
///
/// # Errors
/// - [`EvidenceError::UnsupportedReportType`] if the report is not TDX;
/// - [`EvidenceError::InvalidLength`] if the certificate chain does not fit
///   the u32 / u16 length fields;
/// - [`EvidenceError::InvalidKey`] if signing fails (not expected).
pub fn build_quote_v4(
    report: &[u8; l::TDREPORT_LEN],
    ak: &SigningKey,
    pck: &SigningKey,
    params: &QuoteParams<'_>,
) -> Result<Vec<u8>, EvidenceError> {
    let report = parse_tdreport(report)?;
    let header = QuoteHeader {
        version: QUOTE_VERSION,
        att_key_type: ATT_KEY_TYPE_ECDSA_P256,
        tee_type: TEE_TYPE_TDX,
        qe_svn: params.qe_svn,
        pce_svn: params.pce_svn,
        qe_vendor_id: CMON_QE_VENDOR_ID,
        user_data: params.user_data,
    };
    let body = QuoteBody::from_tdreport(&report).to_bytes();
    let ak_raw = p256_raw_public_key(ak.verifying_key());
    let qe = qe_report(&ak_raw, params.qe_svn);
    let qe_sig = sign_raw(pck, &qe)?;

    // Type-6 payload: QE report, its signature, QE auth data, inner type 5.
    let chain = params.pck_cert_chain;
    let auth_len = u16::try_from(QE_AUTH_DATA.len()).map_err(|_| EvidenceError::InvalidLength)?;
    let mut cert6 = Vec::new();
    cert6.extend_from_slice(&qe);
    cert6.extend_from_slice(&qe_sig);
    cert6.extend_from_slice(&auth_len.to_le_bytes());
    cert6.extend_from_slice(&QE_AUTH_DATA);
    cert6.extend_from_slice(&CERT_TYPE_PCK_CHAIN.to_le_bytes());
    cert6.extend_from_slice(&u32_len(chain.len())?.to_le_bytes());
    cert6.extend_from_slice(chain);

    let mut quote = Vec::new();
    quote.extend_from_slice(&header.to_bytes());
    quote.extend_from_slice(&body);
    let sig = sign_raw(ak, &quote)?;
    let sig_data_len = 2 * P256_RAW_LEN + 2 + 4 + cert6.len();
    quote.extend_from_slice(&u32_len(sig_data_len)?.to_le_bytes());
    quote.extend_from_slice(&sig);
    quote.extend_from_slice(&ak_raw);
    quote.extend_from_slice(&CERT_TYPE_QE_REPORT.to_le_bytes());
    quote.extend_from_slice(&u32_len(cert6.len())?.to_le_bytes());
    quote.extend_from_slice(&cert6);
    Ok(quote)
}
