//! TDX MRTD/RTMR known answers (tdx-module-abi.md §7).

mod common;

use cmon_measure::tdx::{self, MrLeaf, TDX_PAGE_SIZE};
use cmon_measure::{MeasureError, Mrtd, Rtmr};
use common::hex;

const ZERO_PAGE_MRTD: &str = "ca76d5541328afef8bc9364261c515aebef90412ebc56ca0\
                              c2260ec531a14462cfc0c11de61d84292ddf8ca871da1ff1";
const RAMP_PAGE_MRTD: &str = "15a8464628b6214951c4a1b57775507dd950263654e8790e\
                              257995b45013c84aba1d87a3bcbc1929b5f7db6d3e92cad6";

fn ramp_page() -> [u8; TDX_PAGE_SIZE] {
    core::array::from_fn(|i| (i & 0xff) as u8)
}

#[test]
fn update_block_layout() {
    let b = tdx::update_block(MrLeaf::MemPageAdd, 0x1234_5000);
    assert_eq!(b.len(), 128);
    assert_eq!(&b[..16], b"MEM.PAGE.ADD\0\0\0\0");
    assert_eq!(&b[16..24], &0x1234_5000u64.to_le_bytes());
    assert!(b[24..].iter().all(|&x| x == 0));
    let b = tdx::update_block(MrLeaf::MrExtend, 0x1100);
    assert_eq!(&b[..16], b"MR.EXTEND\0\0\0\0\0\0\0");
    assert_eq!(&b[16..24], &0x1100u64.to_le_bytes());
}

#[test]
fn mrtd_empty() {
    assert_eq!(
        hex(&Mrtd::new().finalize()),
        "38b060a751ac96384cd9327eb1b1e36a21fdb71114be07434c0cc7bf63f6e1da\
         274edebfe76f65fbd51ad2f14898b95b"
    );
}

#[test]
fn mrtd_page_add_only() {
    let mut m = Mrtd::new();
    m.page_add(0xFFFF_F000).unwrap();
    assert_eq!(
        hex(&m.finalize()),
        "8d411e4377a0da03b249acbe9a7939b44b4483b5a6c81341f00d60c1f417257f\
         9a5c1c03f2f223c59f010f4933f238b8"
    );
}

#[test]
fn mrtd_zero_page_known_answer() {
    let mut m = Mrtd::new();
    m.page_add(0x1000).unwrap();
    m.extend_page(0x1000, &[0u8; TDX_PAGE_SIZE]).unwrap();
    assert_eq!(hex(&m.finalize()), ZERO_PAGE_MRTD);
}

#[test]
fn mrtd_ramp_page_known_answer() {
    let mut m = Mrtd::new();
    m.page_add(0x1000).unwrap();
    m.extend_page(0x1000, &ramp_page()).unwrap();
    assert_eq!(hex(&m.finalize()), RAMP_PAGE_MRTD);
}

#[test]
fn extend_page_is_16_mr_extends() {
    let page = ramp_page();
    let mut m = Mrtd::new();
    m.page_add(0x1000).unwrap();
    for (i, chunk) in page.chunks_exact(256).enumerate() {
        m.mr_extend(0x1000 + 256 * i as u64, chunk.try_into().unwrap())
            .unwrap();
    }
    assert_eq!(hex(&m.finalize()), RAMP_PAGE_MRTD);
}

#[test]
fn mrtd_rejects_misaligned_gpa() {
    let mut m = Mrtd::new();
    assert_eq!(m.page_add(0x1800), Err(MeasureError::Misaligned(0x1800)));
    assert_eq!(
        m.mr_extend(0x1080, &[0; 256]),
        Err(MeasureError::Misaligned(0x1080))
    );
    assert_eq!(
        m.extend_page(0x1100, &[0; TDX_PAGE_SIZE]),
        Err(MeasureError::Misaligned(0x1100))
    );
    // Rejected calls leave the context untouched.
    assert_eq!(hex(&m.finalize()), hex(&Mrtd::new().finalize()));
}

#[test]
fn rtmr_extend_known_answers() {
    let mut r = Rtmr::new();
    assert_eq!(r.value(), [0u8; 48]);
    r.extend(&[0u8; 48]);
    assert_eq!(
        hex(&r.value()),
        "f57bb7ed82c6ae4a29e6c9879338c592c7d42a39135583e8ccbe3940f2344b0e\
         b6eb8503db0ffd6a39ddd00cd07d8317"
    );
    r.extend(&core::array::from_fn(|i| i as u8));
    assert_eq!(
        hex(&r.value()),
        "f04ff55fcae86cdcf505f7d54a7f26b6e40975f0f14f066be12701014959cd89\
         16308273de28eab6e44b795a0bed0754"
    );
}
