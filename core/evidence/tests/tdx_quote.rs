//! TD Quote v4 (tdx-module-abi.md §11): layout, dcap-qvl cross-check,
//! independent p256 signature checks, and negative tests.

mod tdx_fixtures;

use cmon_evidence::EvidenceError;
use cmon_evidence::tdx::{
    CMON_QE_VENDOR_ID, PCK_CERT_CHAIN_PLACEHOLDER, QE_AUTH_DATA, QuoteParams, build_quote_v4,
    p256_raw_public_key, verify_quote_v4, verify_quote_v4_with_pck,
};
use cmon_keys::p256::ecdsa::{Signature, VerifyingKey, signature::Verifier};
use sha2::{Digest, Sha256};
use tdx_fixtures::*;

const INTEL_QE_VENDOR_ID: [u8; 16] = [
    0x93, 0x9A, 0x72, 0x33, 0xF7, 0x9C, 0x4C, 0xA9, 0x94, 0x0A, 0x0D, 0xB3, 0x95, 0x7F, 0x06, 0x07,
];

fn params() -> QuoteParams<'static> {
    QuoteParams {
        qe_svn: 0x0203,
        pce_svn: 0x0405,
        user_data: pat(0x33),
        ..QuoteParams::default()
    }
}

fn quote() -> Vec<u8> {
    build_quote_v4(&report(), &ak(), &pck(), &params()).unwrap()
}

fn le16(q: &[u8], off: usize) -> u16 {
    u16::from_le_bytes([q[off], q[off + 1]])
}

fn le32(q: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(q[off..off + 4].try_into().unwrap())
}

/// Offsets typed in from the sheet's §11 tables.
#[test]
fn header_body_and_signature_section_layout() {
    let (q, r) = (quote(), report());
    assert_eq!(le16(&q, 0), 4);
    assert_eq!(le16(&q, 2), 2);
    assert_eq!(le32(&q, 4), 0x81);
    assert_eq!(le16(&q, 8), 0x0203);
    assert_eq!(le16(&q, 10), 0x0405);
    assert_eq!(q[12..28], CMON_QE_VENDOR_ID);
    assert_ne!(q[12..28], INTEL_QE_VENDOR_ID);
    assert_eq!(q[28..48], pat::<20>(0x33));
    // Body offset → (TDREPORT offset, length), per the "copied from" column.
    for (body, rep, len) in [
        (0, 0x108, 16),    // tee_tcb_svn
        (16, 0x118, 48),   // mr_seam
        (64, 0x148, 48),   // mrsigner_seam
        (112, 0x178, 8),   // seam_attributes
        (120, 0x200, 8),   // td_attributes
        (128, 0x208, 8),   // xfam
        (136, 0x210, 48),  // mr_td
        (184, 0x240, 48),  // mr_config_id
        (232, 0x270, 48),  // mr_owner
        (280, 0x2A0, 48),  // mr_owner_config
        (328, 0x2D0, 192), // rtmr0..3
        (520, 0x080, 64),  // report_data
    ] {
        assert_eq!(
            q[48 + body..48 + body + len],
            r[rep..rep + len],
            "body {body}"
        );
    }
    let sig_len = le32(&q, 632) as usize;
    assert_eq!(q.len(), 636 + sig_len);
    assert_eq!(q[700..764], p256_raw_public_key(ak().verifying_key()));
    assert_eq!(le16(&q, 764), 6);
    assert_eq!(le32(&q, 766) as usize, q.len() - 770);
    let qe = &q[770..770 + 384];
    let auth_len = le16(&q, 770 + 384 + 64) as usize;
    assert_eq!(auth_len, 32);
    let auth = &q[1220..1220 + auth_len];
    assert_eq!(auth, QE_AUTH_DATA);
    assert_eq!(le16(&q, 1252), 5);
    assert_eq!(le32(&q, 1254) as usize, PCK_CERT_CHAIN_PLACEHOLDER.len());
    assert_eq!(&q[1258..], PCK_CERT_CHAIN_PLACEHOLDER);
    // QE report REPORTDATA at 320 (SGX report body): SHA-256(AK ‖ auth) ‖ 0.
    let bind = Sha256::new()
        .chain_update(&q[700..764])
        .chain_update(auth)
        .finalize();
    assert_eq!(qe[320..352], bind[..]);
    assert!(qe[352..384].iter().all(|&b| b == 0));
    assert_eq!(le16(qe, 258), 0x0203, "ISVSVN = qe_svn");
}

#[test]
fn signatures_verify_with_p256_directly() {
    let q = quote();
    let ak_pub = VerifyingKey::from_sec1_bytes(&[&[4u8][..], &q[700..764]].concat()).unwrap();
    assert_eq!(&ak_pub, ak().verifying_key());
    let sig = Signature::from_slice(&q[636..700]).unwrap();
    assert!(ak_pub.verify(&q[..632], &sig).is_ok());
    let qe_sig = Signature::from_slice(&q[770 + 384..770 + 448]).unwrap();
    assert!(
        pck()
            .verifying_key()
            .verify(&q[770..770 + 384], &qe_sig)
            .is_ok()
    );
    // RFC 6979: the same report and keys give the same quote.
    assert_eq!(q, quote());
}

#[test]
fn dcap_qvl_parses_our_quote() {
    use dcap_qvl::quote::{AuthData, Quote};
    let (q, i) = (quote(), input());
    let parsed = Quote::parse(&q).unwrap();
    let h = parsed.header;
    assert_eq!(
        (h.version, h.attestation_key_type, h.tee_type),
        (4, 2, 0x81)
    );
    assert_eq!((h.qe_svn, h.pce_svn), (0x0203, 0x0405));
    assert_eq!(h.qe_vendor_id, CMON_QE_VENDOR_ID);
    assert_eq!(h.user_data, pat::<20>(0x33));
    let b = parsed.report.as_td10().unwrap();
    assert_eq!(b.tee_tcb_svn, i.tee_tcb_info.tee_tcb_svn);
    assert_eq!(b.mr_seam, i.tee_tcb_info.mrseam);
    assert_eq!(b.mr_signer_seam, i.tee_tcb_info.mrsignerseam);
    assert_eq!(b.seam_attributes, SEAM_ATTRIBUTES.to_le_bytes());
    assert_eq!(b.td_attributes, TD_ATTRIBUTES.to_le_bytes());
    assert_eq!(b.xfam, XFAM.to_le_bytes());
    assert_eq!(b.mr_td, i.td_info.mrtd);
    assert_eq!(b.mr_config_id, i.td_info.mrconfigid);
    assert_eq!(b.mr_owner, i.td_info.mrowner);
    assert_eq!(b.mr_owner_config, i.td_info.mrownerconfig);
    assert_eq!([b.rt_mr0, b.rt_mr1, b.rt_mr2, b.rt_mr3], i.td_info.rtmr);
    assert_eq!(b.report_data, i.report_data);
    let AuthData::V4(auth) = &parsed.auth_data else {
        panic!("v4 quote must carry v4 auth data");
    };
    assert_eq!(auth.ecdsa_signature[..], q[636..700]);
    assert_eq!(
        auth.ecdsa_attestation_key,
        p256_raw_public_key(ak().verifying_key())
    );
    assert_eq!(auth.certification_data.cert_type, 6);
    let qe = &auth.qe_report_data;
    assert_eq!(qe.qe_report[..], q[770..770 + 384]);
    assert_eq!(qe.qe_auth_data.data, QE_AUTH_DATA);
    assert_eq!(qe.certification_data.cert_type, 5);
    assert_eq!(qe.certification_data.body.data, PCK_CERT_CHAIN_PLACEHOLDER);
    assert_eq!(parsed.signed_length(), 632);
}

#[test]
fn our_verifier_accepts_and_returns_fields() {
    let (q, i) = (quote(), input());
    let f = verify_quote_v4(&q, ak().verifying_key()).unwrap();
    assert_eq!(f.header.qe_vendor_id, CMON_QE_VENDOR_ID);
    assert_eq!(f.body.mr_td, i.td_info.mrtd);
    assert_eq!(f.body.rtmr, i.td_info.rtmr);
    assert_eq!(f.body.report_data, i.report_data);
    assert_eq!(f.body.td_attributes, TD_ATTRIBUTES);
    assert_eq!(f.qe_auth_data, QE_AUTH_DATA);
    assert_eq!(f.pck_cert_chain, PCK_CERT_CHAIN_PLACEHOLDER);
    let g = verify_quote_v4_with_pck(&q, ak().verifying_key(), pck().verifying_key()).unwrap();
    assert_eq!(f, g);
    // A custom chain (e.g. PEM from a project test PKI) is carried as is.
    let pem = b"-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n";
    let p = QuoteParams {
        pck_cert_chain: pem,
        ..params()
    };
    let q2 = build_quote_v4(&report(), &ak(), &pck(), &p).unwrap();
    let f2 = verify_quote_v4(&q2, ak().verifying_key()).unwrap();
    assert_eq!(f2.pck_cert_chain, pem);
    let empty = QuoteParams {
        pck_cert_chain: &[],
        ..params()
    };
    let q3 = build_quote_v4(&report(), &ak(), &pck(), &empty).unwrap();
    assert!(dcap_qvl::quote::Quote::parse(&q3).is_ok());
    assert!(verify_quote_v4(&q3, ak().verifying_key()).is_ok());
}

#[test]
fn wrong_keys_are_rejected() {
    let q = quote();
    let other = keys().tdx_pck_signing_key().unwrap();
    assert_eq!(
        verify_quote_v4(&q, other.verifying_key()),
        Err(EvidenceError::KeyMismatch)
    );
    assert_eq!(
        verify_quote_v4_with_pck(&q, ak().verifying_key(), ak().verifying_key()),
        Err(EvidenceError::BadSignature)
    );
    // Signed by a different AK that is also the embedded one: the caller's
    // trust anchor decides.
    let forged = build_quote_v4(&report(), &pck(), &pck(), &params()).unwrap();
    assert_eq!(
        verify_quote_v4(&forged, ak().verifying_key()),
        Err(EvidenceError::KeyMismatch)
    );
}

#[test]
fn truncated_padded_and_garbage_quotes_are_errors() {
    let q = quote();
    let vk = ak();
    for n in 0..q.len() {
        assert!(verify_quote_v4(&q[..n], vk.verifying_key()).is_err(), "{n}");
    }
    let mut long = q.clone();
    long.push(0);
    assert_eq!(
        verify_quote_v4(&long, vk.verifying_key()),
        Err(EvidenceError::MalformedQuote)
    );
    // Deterministic garbage, with and without a valid-looking header.
    let mut x: u32 = 0x1234_5678;
    for len in [0usize, 1, 47, 48, 636, 700, 2000] {
        let mut g: Vec<u8> = (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect();
        assert!(verify_quote_v4(&g, vk.verifying_key()).is_err());
        if len >= 48 {
            g[..48].copy_from_slice(&q[..48]);
            assert!(verify_quote_v4(&g, vk.verifying_key()).is_err());
        }
    }
    // Length fields claiming huge sizes.
    for off in [632, 766, 1254] {
        let mut bad = q.clone();
        bad[off..off + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(
            verify_quote_v4(&bad, vk.verifying_key()),
            Err(EvidenceError::MalformedQuote)
        );
    }
}

#[test]
fn tampering_is_detected() {
    let q = quote();
    let (ak, pck) = (ak(), pck());
    let check = |bad: &[u8]| verify_quote_v4_with_pck(bad, ak.verifying_key(), pck.verifying_key());
    let flip = |i: usize| {
        let mut bad = q.clone();
        bad[i] ^= 0x01;
        bad
    };
    // Header user_data, body MRTD, RTMR3, REPORTDATA: signed by the AK.
    for i in [30, 48 + 136, 48 + 328 + 3 * 48, 48 + 520 + 63] {
        assert_eq!(check(&flip(i)), Err(EvidenceError::BadSignature), "{i}");
    }
    // Version, key type, TEE type, vendor id.
    for i in [0, 2, 4, 12] {
        assert_eq!(check(&flip(i)), Err(EvidenceError::UnsupportedQuote), "{i}");
    }
    let mut intel = q.clone();
    intel[12..28].copy_from_slice(&INTEL_QE_VENDOR_ID);
    assert_eq!(check(&intel), Err(EvidenceError::UnsupportedQuote));
    // Quote signature r and s.
    for i in [636, 699] {
        assert_eq!(check(&flip(i)), Err(EvidenceError::BadSignature), "{i}");
    }
    // Embedded AK.
    assert_eq!(check(&flip(701)), Err(EvidenceError::KeyMismatch));
    // Certification data types 6 and 5.
    assert_eq!(check(&flip(764)), Err(EvidenceError::UnsupportedQuote));
    assert_eq!(check(&flip(1252)), Err(EvidenceError::UnsupportedQuote));
    // QE report REPORTDATA, both halves, and the QE auth data.
    for i in [770 + 320, 770 + 383, 1220, 1251] {
        assert_eq!(check(&flip(i)), Err(EvidenceError::QeReportBinding), "{i}");
    }
    // Other QE report bytes and the QE report signature: only the PCK
    // signature covers them.
    for i in [770, 770 + 258, 1154, 1217] {
        assert!(verify_quote_v4(&flip(i), ak.verifying_key()).is_ok(), "{i}");
        assert_eq!(check(&flip(i)), Err(EvidenceError::BadSignature), "{i}");
    }
}
