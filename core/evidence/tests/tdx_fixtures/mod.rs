//! Fixtures shared by the TDX integration tests.
// Each test binary uses a different subset of these helpers.
#![allow(dead_code)]

use cmon_evidence::tdx::{ReportType, TdInfo, TdReportInput, TeeTcbInfo, build_tdreport};
use cmon_keys::{KeyHierarchy, KeyVersion, RootSecret, p256::ecdsa::SigningKey};

/// `N` bytes `tag, tag+1, tag+2, …`: a distinct, order-revealing pattern
/// per field, so a misplaced or reversed field shows up in the layout tests.
pub fn pat<const N: usize>(tag: u8) -> [u8; N] {
    core::array::from_fn(|i| tag.wrapping_add(i as u8))
}

/// Key hierarchy of a fixed test root.
pub fn keys() -> KeyHierarchy {
    KeyHierarchy::new(RootSecret::new(&[0x5C; 48]).unwrap(), KeyVersion(0))
}

/// The 32-byte `tdx-report-mac` key of [`keys`].
pub fn mac_key() -> [u8; 32] {
    *keys().tdx_report_mac_key().unwrap().as_bytes()
}

/// The quote attestation key of [`keys`].
pub fn ak() -> SigningKey {
    keys().tdx_quote_signing_key().unwrap()
}

/// The QE-report ("PCK") key of [`keys`].
pub fn pck() -> SigningKey {
    keys().tdx_pck_signing_key().unwrap()
}

pub const VALID: u64 = 0x0102_0304_0506_0708;
pub const SEAM_ATTRIBUTES: u64 = 0x1112_1314_1516_1718;
pub const TD_ATTRIBUTES: u64 = 0x2122_2324_2526_2728;
pub const XFAM: u64 = 0x3132_3334_3536_3738;

/// A report input whose every field has its own byte pattern.
pub fn input() -> TdReportInput {
    TdReportInput {
        report_type: ReportType::TDX,
        cpu_svn: pat(0x40),
        tee_tcb_info: TeeTcbInfo {
            valid: VALID,
            tee_tcb_svn: pat(0x50),
            mrseam: pat(0x60),
            mrsignerseam: pat(0x70),
            attributes: SEAM_ATTRIBUTES,
            tee_tcb_svn2: pat(0x80),
        },
        td_info: TdInfo {
            attributes: TD_ATTRIBUTES,
            xfam: XFAM,
            mrtd: pat(0x90),
            mrconfigid: pat(0xA0),
            mrowner: pat(0xB0),
            mrownerconfig: pat(0xC0),
            rtmr: [pat(0xD0), pat(0xD8), pat(0xE0), pat(0xE8)],
            servtd_hash: pat(0xF0),
        },
        report_data: pat(0x01),
    }
}

/// The report built from [`input`] with [`mac_key`].
pub fn report() -> [u8; 1024] {
    build_tdreport(&input(), &mac_key())
}
