//! TDREPORT_STRUCT layout, hashes and MAC (tdx-module-abi.md §10).
//!
//! Offsets below are typed in from the sheet's tables, not taken from the
//! crate's `layout` module, so a wrong constant there cannot hide itself.

mod tdx_fixtures;

use cmon_evidence::EvidenceError;
use cmon_evidence::tdx::{
    ReportType, build_tdreport, parse_tdreport, verify_report_mac, verify_report_mac_struct,
};
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256, Sha384};
use tdx_fixtures::*;

fn at(r: &[u8], off: usize, len: usize) -> &[u8] {
    &r[off..off + len]
}

#[test]
fn every_field_is_at_its_sheet_offset() {
    let r = report();
    // REPORTMACSTRUCT
    assert_eq!(at(&r, 0x000, 4), [0x81, 0, 0, 0]);
    assert_eq!(at(&r, 0x010, 16), pat::<16>(0x40));
    assert_eq!(at(&r, 0x080, 64), pat::<64>(0x01));
    // TEE_TCB_INFO
    assert_eq!(at(&r, 0x100, 8), VALID.to_le_bytes());
    assert_eq!(at(&r, 0x108, 16), pat::<16>(0x50));
    assert_eq!(at(&r, 0x118, 48), pat::<48>(0x60));
    assert_eq!(at(&r, 0x148, 48), pat::<48>(0x70));
    assert_eq!(at(&r, 0x178, 8), SEAM_ATTRIBUTES.to_le_bytes());
    assert_eq!(at(&r, 0x180, 16), pat::<16>(0x80));
    // TDINFO
    assert_eq!(at(&r, 0x200, 8), TD_ATTRIBUTES.to_le_bytes());
    assert_eq!(at(&r, 0x208, 8), XFAM.to_le_bytes());
    assert_eq!(at(&r, 0x210, 48), pat::<48>(0x90));
    assert_eq!(at(&r, 0x240, 48), pat::<48>(0xA0));
    assert_eq!(at(&r, 0x270, 48), pat::<48>(0xB0));
    assert_eq!(at(&r, 0x2A0, 48), pat::<48>(0xC0));
    assert_eq!(at(&r, 0x2D0, 48), pat::<48>(0xD0));
    assert_eq!(at(&r, 0x300, 48), pat::<48>(0xD8));
    assert_eq!(at(&r, 0x330, 48), pat::<48>(0xE0));
    assert_eq!(at(&r, 0x360, 48), pat::<48>(0xE8));
    assert_eq!(at(&r, 0x390, 48), pat::<48>(0xF0));
    // Reserved: 0x004 (12), 0x0C0 (32), TEE_TCB_INFO tail 0x190 (95), the
    // 17 bytes at 0x1EF, TDINFO tail 0x3C0 (64).
    for (off, len) in [
        (0x004, 12),
        (0x0C0, 32),
        (0x190, 95),
        (0x1EF, 17),
        (0x3C0, 64),
    ] {
        assert!(at(&r, off, len).iter().all(|&b| b == 0), "{off:#x}");
    }
}

#[test]
fn hashes_and_mac_recomputed_independently() {
    let r = report();
    let tcb_hash = Sha384::digest(&r[0x100..0x1EF]);
    let info_hash = Sha384::digest(&r[0x200..0x400]);
    assert_eq!(at(&r, 0x020, 48), tcb_hash.as_slice());
    assert_eq!(at(&r, 0x050, 48), info_hash.as_slice());
    // The sheet's 239-byte TEE_TCB_INFO, not the C struct's 256 bytes.
    assert_ne!(
        at(&r, 0x020, 48),
        Sha384::digest(&r[0x100..0x200]).as_slice()
    );
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&mac_key()).unwrap();
    mac.update(&r[..0xE0]);
    assert_eq!(at(&r, 0x0E0, 32), mac.finalize().into_bytes().as_slice());
}

#[test]
fn mac_verifies_and_key_matters() {
    let r = report();
    assert_eq!(verify_report_mac(&r, &mac_key()), Ok(()));
    let mut struct256 = [0u8; 256];
    struct256.copy_from_slice(&r[..256]);
    assert_eq!(verify_report_mac_struct(&struct256, &mac_key()), Ok(()));
    let mut other = mac_key();
    other[0] ^= 1;
    assert_eq!(verify_report_mac(&r, &other), Err(EvidenceError::BadMac));
    assert_eq!(
        verify_report_mac_struct(&struct256, &other),
        Err(EvidenceError::BadMac)
    );
}

#[test]
fn any_flipped_covered_byte_fails() {
    let r = report();
    let key = mac_key();
    for i in 0..1024 {
        let mut bad = r;
        bad[i] ^= 0x01;
        let got = verify_report_mac(&bad, &key);
        let expected = match i {
            // Hash fields: the stored hash no longer matches the contents.
            0x020..0x080 => Err(EvidenceError::ReportHashMismatch),
            // Rest of REPORTMACSTRUCT and the MAC itself.
            0x000..0x100 => Err(EvidenceError::BadMac),
            // TEE_TCB_INFO (239 B) and TDINFO (512 B).
            0x100..0x1EF | 0x200..0x400 => Err(EvidenceError::ReportHashMismatch),
            // The 17 reserved bytes at 0x1EF are outside both hashes, as on
            // hardware (§10); nothing reads them.
            _ => Ok(()),
        };
        assert_eq!(got, expected, "byte {i:#x}");
    }
}

#[test]
fn parse_round_trips_and_rejects_bad_input() {
    let r = report();
    let p = parse_tdreport(&r).unwrap();
    let i = input();
    assert_eq!(p.report_type, ReportType::TDX);
    assert_eq!(p.cpu_svn, i.cpu_svn);
    assert_eq!(p.tee_tcb_info, i.tee_tcb_info);
    assert_eq!(p.td_info, i.td_info);
    assert_eq!(p.report_data, i.report_data);
    assert_eq!(p.tee_tcb_info_hash, i.tee_tcb_info.hash());
    assert_eq!(p.tee_info_hash, i.td_info.hash());
    assert_eq!(p.mac.as_slice(), &r[0xE0..0x100]);

    assert_eq!(
        parse_tdreport(&r[..1023]),
        Err(EvidenceError::InvalidLength)
    );
    assert_eq!(parse_tdreport(&[]), Err(EvidenceError::InvalidLength));
    let mut long = r.to_vec();
    long.push(0);
    assert_eq!(parse_tdreport(&long), Err(EvidenceError::InvalidLength));
    let mut sgx = r;
    sgx[0] = 0x00;
    assert_eq!(
        parse_tdreport(&sgx),
        Err(EvidenceError::UnsupportedReportType)
    );
}

#[test]
fn report_type_version_and_builder_are_deterministic() {
    let mut i = input();
    i.report_type.version = 1;
    let r = build_tdreport(&i, &mac_key());
    assert_eq!(at(&r, 0, 4), [0x81, 0, 1, 0]);
    assert_eq!(verify_report_mac(&r, &mac_key()), Ok(()));
    assert_eq!(report(), report());
}

/// td-shim's `tdx-tdcall` 0.2.1 `TdxReport` (a packed 1024-byte struct
/// with a 239-byte TeeTcbInfo and a 17-byte pad) reads the same fields.
#[test]
fn tdx_tdcall_reads_the_same_fields() {
    use tdx_tdcall::tdreport::TdxReport;
    let r = report();
    let mut theirs = TdxReport::default();
    assert_eq!(theirs.as_bytes().len(), 1024);
    theirs.as_bytes_mut().copy_from_slice(&r);
    let (mac, tcb, td) = (theirs.report_mac, theirs.tee_tcb_info, theirs.td_info);
    let i = input();
    assert_eq!(mac.report_type.r#type, 0x81);
    assert_eq!(mac.cpu_svn, i.cpu_svn);
    assert_eq!(mac.tee_tcb_info_hash, i.tee_tcb_info.hash());
    assert_eq!(mac.tee_info_hash, i.td_info.hash());
    assert_eq!(mac.report_data, i.report_data);
    assert_eq!(mac.mac.as_slice(), &r[0xE0..0x100]);
    assert_eq!(tcb.valid, VALID.to_le_bytes());
    assert_eq!(tcb.tee_tcb_svn, i.tee_tcb_info.tee_tcb_svn);
    assert_eq!(tcb.mrseam, i.tee_tcb_info.mrseam);
    assert_eq!(tcb.mrsigner_seam, i.tee_tcb_info.mrsignerseam);
    assert_eq!(tcb.attributes, SEAM_ATTRIBUTES.to_le_bytes());
    assert_eq!(td.attributes, TD_ATTRIBUTES.to_le_bytes());
    assert_eq!(td.xfam, XFAM.to_le_bytes());
    assert_eq!(td.mrtd, i.td_info.mrtd);
    assert_eq!(td.mrconfig_id, i.td_info.mrconfigid);
    assert_eq!(td.mrowner, i.td_info.mrowner);
    assert_eq!(td.mrownerconfig, i.td_info.mrownerconfig);
    assert_eq!([td.rtmr0, td.rtmr1, td.rtmr2, td.rtmr3], i.td_info.rtmr);
    // tdx-tdcall predates TDX 1.5: SERVTD_HASH is the start of its
    // `reserved` field.
    assert_eq!(td.reserved[..48], i.td_info.servtd_hash);
}
