//! Byte offsets of the TDX evidence structures.
//!
//! Absolute offsets into the 1024-byte TDREPORT_STRUCT come from
//! `shared/spec/tdx-module-abi.md` §10; quote offsets from §11. The SGX
//! report body layout of the QE report (not in the sheet) is from Intel's
//! SGX SDK header `sgx_report.h` (`sgx_report_body_t`, offsets in its
//! comments), cross-checked against dcap-qvl 0.7.1 `quote::EnclaveReport`.
//!
//! Each constant is `(offset, length)` where a field has a length.

// ---- TDREPORT_STRUCT (§10) ------------------------------------------------

/// Size of TDREPORT_STRUCT.
pub const TDREPORT_LEN: usize = 1024;
/// REPORTTYPE (type, subtype, version, reserved).
pub const REPORT_TYPE: (usize, usize) = (0x000, 4);
/// CPUSVN.
pub const CPUSVN: (usize, usize) = (0x010, 16);
/// TEE_TCB_INFO_HASH = SHA-384(TEE_TCB_INFO, 239 B).
pub const TEE_TCB_INFO_HASH: (usize, usize) = (0x020, 48);
/// TEE_INFO_HASH = SHA-384(TDINFO, 512 B).
pub const TEE_INFO_HASH: (usize, usize) = (0x050, 48);
/// REPORTDATA.
pub const REPORT_DATA: (usize, usize) = (0x080, 64);
/// MAC (our HMAC-SHA-256; see the `tdx` module docs).
pub const MAC: (usize, usize) = (0x0E0, 32);
/// The bytes the MAC covers: REPORTMACSTRUCT up to the MAC field.
pub const MAC_INPUT: (usize, usize) = (0x000, 0x0E0);
/// TEE_TCB_INFO: 239 bytes (the 17 bytes after it are reserved, §10).
pub const TEE_TCB_INFO: (usize, usize) = (0x100, 239);
/// TDINFO_STRUCT.
pub const TDINFO: (usize, usize) = (0x200, 512);

/// Offsets *within* TEE_TCB_INFO (absolute offset − 0x100, §10).
pub mod tee_tcb_info {
    /// VALID bitmap, u64 little-endian.
    pub const VALID: (usize, usize) = (0x00, 8);
    /// TEE_TCB_SVN.
    pub const TEE_TCB_SVN: (usize, usize) = (0x08, 16);
    /// MRSEAM.
    pub const MRSEAM: (usize, usize) = (0x18, 48);
    /// MRSIGNERSEAM.
    pub const MRSIGNERSEAM: (usize, usize) = (0x48, 48);
    /// ATTRIBUTES (SEAM), u64 little-endian.
    pub const ATTRIBUTES: (usize, usize) = (0x78, 8);
    /// TEE_TCB_SVN2 (1.5).
    pub const TEE_TCB_SVN2: (usize, usize) = (0x80, 16);
}

/// Offsets *within* TDINFO_STRUCT (absolute offset − 0x200, §10).
pub mod tdinfo {
    /// ATTRIBUTES, u64 little-endian.
    pub const ATTRIBUTES: (usize, usize) = (0x000, 8);
    /// XFAM, u64 little-endian.
    pub const XFAM: (usize, usize) = (0x008, 8);
    /// MRTD.
    pub const MRTD: (usize, usize) = (0x010, 48);
    /// MRCONFIGID.
    pub const MRCONFIGID: (usize, usize) = (0x040, 48);
    /// MROWNER.
    pub const MROWNER: (usize, usize) = (0x070, 48);
    /// MROWNERCONFIG.
    pub const MROWNERCONFIG: (usize, usize) = (0x0A0, 48);
    /// RTMR0; RTMRi is at `RTMR0.0 + 48 * i`.
    pub const RTMR0: (usize, usize) = (0x0D0, 48);
    /// SERVTD_HASH (1.5).
    pub const SERVTD_HASH: (usize, usize) = (0x190, 48);
}

// ---- Quote v4 (§11) ------------------------------------------------------

/// Quote header length.
pub const QUOTE_HEADER_LEN: usize = 48;
/// TD 1.0 quote body length.
pub const QUOTE_BODY_LEN: usize = 584;
/// Offset of `signature_data_len` (u32): header ‖ body end here, and they
/// are what the attestation key signs.
pub const QUOTE_SIG_DATA_LEN_OFFSET: usize = QUOTE_HEADER_LEN + QUOTE_BODY_LEN;
/// Offset of the signature data (quote signature, then attestation key…).
pub const QUOTE_SIG_DATA_OFFSET: usize = QUOTE_SIG_DATA_LEN_OFFSET + 4;

/// Offsets within the quote header.
pub mod header {
    /// version, u16 LE.
    pub const VERSION: usize = 0;
    /// att_key_type, u16 LE.
    pub const ATT_KEY_TYPE: usize = 2;
    /// tee_type, u32 LE.
    pub const TEE_TYPE: usize = 4;
    /// qe_svn, u16 LE.
    pub const QE_SVN: usize = 8;
    /// pce_svn, u16 LE.
    pub const PCE_SVN: usize = 10;
    /// qe_vendor_id (16 bytes).
    pub const QE_VENDOR_ID: (usize, usize) = (12, 16);
    /// user_data (20 bytes).
    pub const USER_DATA: (usize, usize) = (28, 20);
}

/// Offsets within the TD 1.0 quote body (§11 "Body", relative to byte 48).
pub mod body {
    /// tee_tcb_svn.
    pub const TEE_TCB_SVN: (usize, usize) = (0, 16);
    /// mr_seam.
    pub const MR_SEAM: (usize, usize) = (16, 48);
    /// mrsigner_seam.
    pub const MRSIGNER_SEAM: (usize, usize) = (64, 48);
    /// seam_attributes.
    pub const SEAM_ATTRIBUTES: (usize, usize) = (112, 8);
    /// td_attributes.
    pub const TD_ATTRIBUTES: (usize, usize) = (120, 8);
    /// xfam.
    pub const XFAM: (usize, usize) = (128, 8);
    /// mr_td.
    pub const MR_TD: (usize, usize) = (136, 48);
    /// mr_config_id.
    pub const MR_CONFIG_ID: (usize, usize) = (184, 48);
    /// mr_owner.
    pub const MR_OWNER: (usize, usize) = (232, 48);
    /// mr_owner_config.
    pub const MR_OWNER_CONFIG: (usize, usize) = (280, 48);
    /// rtmr0; rtmr i is at `RTMR0.0 + 48 * i`.
    pub const RTMR0: (usize, usize) = (328, 48);
    /// report_data.
    pub const REPORT_DATA: (usize, usize) = (520, 64);
}

// ---- QE report: SGX report body (sgx_report.h `sgx_report_body_t`) -------

/// Size of an SGX report body (the QE REPORT of certification data type 6).
pub const QE_REPORT_LEN: usize = 384;

/// Offsets within the SGX report body.
pub mod qe_report {
    /// CPUSVN.
    pub const CPU_SVN: (usize, usize) = (0, 16);
    /// MISCSELECT, u32 LE.
    pub const MISC_SELECT: (usize, usize) = (16, 4);
    /// ATTRIBUTES (flags u64, xfrm u64).
    pub const ATTRIBUTES: (usize, usize) = (48, 16);
    /// MRENCLAVE.
    pub const MR_ENCLAVE: (usize, usize) = (64, 32);
    /// MRSIGNER.
    pub const MR_SIGNER: (usize, usize) = (128, 32);
    /// ISVPRODID, u16 LE.
    pub const ISV_PROD_ID: (usize, usize) = (256, 2);
    /// ISVSVN, u16 LE.
    pub const ISV_SVN: (usize, usize) = (258, 2);
    /// REPORTDATA.
    pub const REPORT_DATA: (usize, usize) = (320, 64);
}
