//! End-to-end: bring up the module, build a TD, finalise, check MRTD.
mod common;
use common::*;

use cmon_measure::Mrtd;
use tdx_module_shim::*;

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Build a TD with one page at GPA 0x1000 whose content is `page`,
/// measured by 16 MR.EXTENDs; return the module's MRTD.
fn build_one_page(page: &[u8; 4096]) -> (M, [u8; 48]) {
    let m = initialized();
    sept_for_low_gpa(&m);
    m.platform().vmm_write(SRC0, page);
    assert_eq!(call(&m, PAGE_ADD, 0x1000, TDR, DATA0, SRC0), 0);
    for i in 0..16u64 {
        assert_eq!(call(&m, MR_EXTEND, 0x1000 + 256 * i, TDR, 0, 0), 0);
    }
    assert_eq!(call(&m, MR_FINALIZE, TDR, 0, 0, 0), 0);
    let info = m.td_info(Hpa(TDR)).unwrap();
    assert_eq!(info.op_state, OpState::Runnable);
    (m, info.mrtd.unwrap())
}

#[test]
fn mrtd_known_answer_zero_page() {
    let (_m, mrtd) = build_one_page(&[0u8; 4096]);
    assert_eq!(
        hex(&mrtd),
        "ca76d5541328afef8bc9364261c515aebef90412ebc56ca0c2260ec531a14462cfc0c11de61d84292ddf8ca871da1ff1"
    );
}

#[test]
fn mrtd_known_answer_pattern_page() {
    let page: [u8; 4096] = core::array::from_fn(|i| (i & 0xff) as u8);
    let (m, mrtd) = build_one_page(&page);
    assert_eq!(
        hex(&mrtd),
        "15a8464628b6214951c4a1b57775507dd950263654e8790e257995b45013c84aba1d87a3bcbc1929b5f7db6d3e92cad6"
    );
    // The private copy is the source content, and is isolated from the VMM.
    let mut got = [0u8; 4096];
    m.platform().read(DATA0, &mut got);
    assert_eq!(got, page);
    assert!(m.platform().is_isolated(DATA0));
}

#[test]
fn mrtd_matches_independent_replay_multi_page() {
    let m = initialized();
    sept_for_low_gpa(&m);
    let mut replay = Mrtd::new();
    for p in 0..4u64 {
        let page: [u8; 4096] = core::array::from_fn(|i| (i as u64 * 7 + p) as u8);
        m.platform().vmm_write(SRC0 + p * 0x1000, &page);
        let gpa = 0x8000 + p * 0x1000;
        assert_eq!(
            call(
                &m,
                PAGE_ADD,
                gpa,
                TDR,
                DATA0 + p * 0x1000,
                SRC0 + p * 0x1000
            ),
            0
        );
        replay.page_add(gpa).unwrap();
        if p % 2 == 0 {
            for i in 0..16u64 {
                assert_eq!(call(&m, MR_EXTEND, gpa + 256 * i, TDR, 0, 0), 0);
            }
            replay.extend_page(gpa, &page).unwrap();
        }
    }
    assert_eq!(call(&m, MR_FINALIZE, TDR, 0, 0, 0), 0);
    let info = m.td_info(Hpa(TDR)).unwrap();
    assert_eq!(info.mrtd.unwrap(), replay.finalize());
    assert_eq!(info.mr_config_id, [0xC1; 48]);
    assert_eq!(info.mr_owner, [0x0A; 48]);
    assert_eq!(info.mr_owner_config, [0x0C; 48]);
    assert_eq!(info.rtmr, [[0; 48]; 4]);
    // 6 TDCX + 3 SEPT + 4 REG.
    assert_eq!(info.chldcnt, 13);
    assert_eq!(rdmd(&m, DATA0), (PageType::Reg as u64, TDR));
    assert_eq!(rdmd(&m, SEPT0), (PageType::Ept as u64, TDR));
    assert_eq!(rdmd(&m, TDCX0), (PageType::Tdcx as u64, TDR));
    assert_eq!(rdmd(&m, TDR), (PageType::Tdr as u64, 0));
    // After finalize the build leaves are refused.
    assert_eq!(
        call(&m, MR_FINALIZE, TDR, 0, 0, 0),
        c(Code::OpStateIncorrect)
    );
    assert_eq!(
        call(&m, PAGE_ADD, 0x10000, TDR, DATA0 + 0x10000, SRC0),
        c(Code::OpStateIncorrect)
    );
}

#[test]
fn no_pages_known_answer() {
    let m = initialized();
    assert_eq!(call(&m, MR_FINALIZE, TDR, 0, 0, 0), 0);
    assert_eq!(
        hex(&m.td_info(Hpa(TDR)).unwrap().mrtd.unwrap()),
        "38b060a751ac96384cd9327eb1b1e36a21fdb71114be07434c0cc7bf63f6e1da274edebfe76f65fbd51ad2f14898b95b"
    );
}
