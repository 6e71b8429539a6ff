//! 2 MiB private pages: PAGE.AUG → ACCEPT → the TD reads and writes
//! through the 2 MiB leaf → BLOCK → TRACK → PAGE.REMOVE, UNBLOCK, the
//! PAMT_2M / PAMT_4K rules for 4 KiB leaves, and teardown (RECLAIM / RDMD)
//! of a 2 MiB page. Failure tables: `mem_2m_tables.rs`.
mod common;
use common::mem_2m::*;
use common::mem_mgmt::*;
use common::*;

use cmon_measure::Rtmr;
use tdx_module_shim::*;

#[test]
fn aug_2m_takes_512_pages_under_one_pamt_2m_entry() {
    let m = runnable();
    let cc = m.td_info(Hpa(TDR)).unwrap().chldcnt;
    m.platform().vmm_write(BIG + 0x5000, &[0xEE; 64]);
    assert_eq!(call(&m, AUG, l1(G2M), TDR, BIG, 0), 0);
    assert_eq!(pd_entry(&m, G2M), BIG | 3 << 52, "PENDING 2 MiB leaf");
    // PAMT_2M entry PT_REG (size 1), the walk stops there for any page
    // inside; the PAMT_4K entries under it stay PT_NDA.
    assert_eq!(rdmd_full(&m, BIG), (0, 3, TDR, 1, 0));
    assert_eq!(rdmd_full(&m, BIG + 0x1F_F000), (0, 3, TDR, 1, 0));
    for p in SAMPLES {
        assert_eq!(pamt_4k_type(&m, p), 0, "{p:#x}: PAMT_4K PT_NDA");
    }
    assert_eq!(isolated_in(&m, BIG, 512), 512, "every 4 KiB page isolated");
    assert!(
        !m.platform().is_isolated(BIG + 0x20_0000),
        "not the next one"
    );
    assert_eq!(page_words(&m, BIG + 0x5000), vec![0; 512], "zeroed");
    assert_eq!(m.td_info(Hpa(TDR)).unwrap().chldcnt, cc + 512);
    assert_eq!(m.gpa_to_hpa(Hpa(TDR), Gpa(G2M + 0x5000)), None, "PENDING");
    let mut out = [(Gpa(0), Hpa(0)); 512];
    assert_eq!(m.private_pages_2m(Hpa(TDR), Gpa(G2M), &mut out), Some(0));
}

#[test]
fn accept_2m_then_the_td_reads_and_writes_through_it() {
    let m = aug2m();
    enter_vcpu(&m);
    // 4 KiB ACCEPT inside the PENDING 2 MiB leaf: the walk stops at the
    // level-1 leaf, a non-accessible leaf above the request → violation.
    let before = state2m(&m);
    let (out, _) = tdcall_full(&m, ACCEPT, G2M + 0x5000);
    let eeq = accept_eeq(0, 1, S_PENDING, true);
    assert_eq!(out, violation(G2M + 0x5000, eeq));
    assert_eq!(state2m(&m), before, "violation changes nothing");
    // Stale content (module-side write) the ACCEPT must clear.
    m.platform().set_word(BIG + 0x1F_F000 + 0x100, 0xDEAD);
    assert_eq!(tdcall(&m, ACCEPT, l1(G2M), 0), 0, "ACCEPT 2M");
    assert_eq!(pd_entry(&m, G2M), BIG | 7 | 2 << 52, "MAPPED 2 MiB leaf");
    assert_eq!(m.platform().word(BIG + 0x1F_F100), 0, "zeroed again");
    let again = with_level(Code::PageAlreadyAccepted, 1);
    assert_eq!(tdcall(&m, ACCEPT, l1(G2M), 0), again, "2 MiB again");
    assert_eq!(tdcall(&m, ACCEPT, G2M + 0x5000, 0), again, "4 KiB inside");

    // Lookups reach the 4 KiB page inside.
    let want = Some(Hpa(BIG + 0x5040));
    assert_eq!(m.gpa_to_hpa(Hpa(TDR), Gpa(G2M + 0x5040)), want);
    let mut out = [(Gpa(0), Hpa(0)); 512];
    assert_eq!(m.private_pages_2m(Hpa(TDR), Gpa(G2M), &mut out), Some(512));
    assert_eq!(out[0], (Gpa(G2M), Hpa(BIG)));
    assert_eq!(out[511], (Gpa(G2M + 0x1F_F000), Hpa(BIG + 0x1F_F000)));
    let mut few = [(Gpa(0), Hpa(0)); 3];
    assert_eq!(m.private_pages_2m(Hpa(TDR), Gpa(G2M), &mut few), Some(3));

    // TDG.MR.RTMR.EXTEND reads 48 bytes at GPA G2M + 0x5040.
    m.platform().set_word(BIG + 0x5040, 0x0102_0304_0506_0708);
    assert_eq!(tdcall(&m, 2, G2M + 0x5040, 1), 0);
    let mut data = [0u8; 48];
    data[..8].copy_from_slice(&0x0102_0304_0506_0708u64.to_le_bytes());
    let mut rtmr = Rtmr::new();
    rtmr.extend(&data);
    assert_eq!(m.td_info(Hpa(TDR)).unwrap().rtmr[1], rtmr.value());

    // TDG.MR.REPORT reads REPORTDATA and writes the report inside it.
    m.platform().set_word(BIG + 0x10_0000, 0xAB);
    assert_eq!(tdcall(&m, 4, G2M + 0x1F_F000, G2M + 0x10_0000), 0);
    let mut bytes = [0u8; 1024];
    m.platform().read(BIG + 0x1F_F000, &mut bytes);
    let r = cmon_evidence::tdx::parse_tdreport(&bytes).unwrap();
    assert_eq!(r.report_data[0], 0xAB);
    assert_eq!(r.td_info.rtmr[1], rtmr.value());
}

#[test]
fn block_track_remove_gives_the_2m_back_zeroed() {
    let m = accepted2m();
    let cc = m.td_info(Hpa(TDR)).unwrap().chldcnt;
    m.platform().set_word(BIG + 0x5000, 0x1234);
    assert_eq!(call(&m, BLOCK, l1(G2M), TDR, 0, 0), 0);
    assert_eq!(pd_entry(&m, G2M), BIG | 4 << 52, "BLOCKED");
    assert_eq!(rdmd_full(&m, BIG).4, 1, "BEPOCH in PAMT_2M = TD_EPOCH 1");
    assert_eq!(m.gpa_to_hpa(Hpa(TDR), Gpa(G2M)), None);
    let (s, r) = call_on(&m, LP0, BLOCK, l1(G2M), TDR, 0, 0);
    assert_eq!(s, st(BLOCKED_ALREADY, OperandId::Rcx), "warning");
    assert_eq!((r.rcx, r.rdx), (BIG | 4 << 52, 1 | S_BLOCKED << 8));
    let untracked = st(Code::TlbTrackingNotDone, OperandId::Rcx);
    assert_eq!(call(&m, PAGE_REMOVE, l1(G2M), TDR, 0, 0), untracked);
    assert_eq!(call(&m, TRACK, TDR, 0, 0, 0), 0);
    let (s, r) = call_on(&m, LP0, PAGE_REMOVE, l1(G2M), TDR, 0, 0);
    assert_eq!((s, r.rcx), (0, BIG), "RCX = the 2 MiB HPA");
    assert_eq!(pd_entry(&m, G2M), 0, "FREE");
    assert_eq!(rdmd_full(&m, BIG), (0, 0, 0, 0, 0), "PAMT_2M PT_NDA");
    assert_eq!(isolated_in(&m, BIG, 512), 0, "all 512 released");
    for p in SAMPLES {
        assert_eq!(page_words(&m, p), vec![0; 512], "{p:#x} zeroed");
    }
    assert_eq!(m.td_info(Hpa(TDR)).unwrap().chldcnt, cc - 512);
    // The range is free again, at either size.
    assert_eq!(call(&m, AUG, 0x3000, TDR, BIG + 0x3000, 0), 0, "4 KiB AUG");
    assert_eq!(rdmd_full(&m, BIG + 0x3000), (0, 3, TDR, 0, 0));
    let meta = st(META, OperandId::R8);
    assert_eq!(call(&m, AUG, l1(G2M), TDR, BIG, 0), meta, "not wholly free");
}

#[test]
fn unblock_restores_the_2m_leaf() {
    for (setup, state) in [
        (blocked2m as fn() -> M, S_MAPPED),
        (pending_blocked2m, S_PENDING),
    ] {
        let m = setup();
        let untracked = st(Code::TlbTrackingNotDone, OperandId::Rcx);
        assert_eq!(call(&m, UNBLOCK, l1(G2M), TDR, 0, 0), untracked);
        assert_eq!(call(&m, TRACK, TDR, 0, 0, 0), 0);
        assert_eq!(call(&m, UNBLOCK, l1(G2M), TDR, 0, 0), 0);
        assert_eq!(sept_state(pd_entry(&m, G2M)), state);
    }
    let m = blocked2m();
    assert_eq!(call(&m, TRACK, TDR, 0, 0, 0), 0);
    assert_eq!(call(&m, UNBLOCK, l1(G2M), TDR, 0, 0), 0);
    assert_eq!(m.gpa_to_hpa(Hpa(TDR), Gpa(G2M)), Some(Hpa(BIG)));
}

#[test]
fn remove_2m_in_an_initialized_td_needs_no_block() {
    let m = initialized2m();
    let cc = m.td_info(Hpa(TDR)).unwrap().chldcnt;
    let (s, r) = call_on(&m, LP0, PAGE_REMOVE, l1(G2M), TDR, 0, 0);
    assert_eq!((s, r.rcx), (0, BIG));
    assert_eq!(m.td_info(Hpa(TDR)).unwrap().chldcnt, cc - 512);
    assert_eq!(isolated_in(&m, BIG, 512), 0);
}

#[test]
fn four_k_leaves_refuse_pages_inside_a_2m_page() {
    use OperandId::*;
    // Inside an owned 2 MiB page the PAMT walk ends at the PAMT_2M entry:
    // a 4 KiB page operand is a size mismatch (PAGE_METADATA_INCORRECT).
    let inside = BIG + 0x1000;
    run2m(
        aug2m,
        &[
            ("AUG 4K", AUG, 0x3000, TDR, inside, 0, st(META, R8)),
            (
                "SEPT.ADD",
                SEPT_ADD,
                l1(G2M_B),
                TDR,
                inside,
                0,
                st(META, R8),
            ),
            (
                "MNG.CREATE",
                MNG_CREATE,
                inside,
                HKID + 1,
                0,
                0,
                st(META, Rcx),
            ),
            ("PAGE.WBINVD", 41, inside, 0, 0, 0, st(META, Rcx)),
            ("TRACK tdr", TRACK, inside, 0, 0, 0, st(META, Rcx)),
        ],
    );
    // A held PAMT_2M lock stops the walk of a 4 KiB page below it (shared
    // lock refused), owned or not; the 4 KiB entry is never reached.
    for (setup, page) in [(aug2m as fn() -> M, inside), (runnable, BIG2 + 0x1000)] {
        let m = setup();
        let e = hold_pamt_2m(&m, page);
        let before = state2m(&m);
        let busy = st(BUSY, R8);
        assert_eq!(call(&m, AUG, 0x3000, TDR, page, 0), busy, "{page:#x}");
        assert_eq!(state2m(&m), before);
        assert_eq!(m.platform().word(e) & 0xFFFF, 1, "lock word as held");
        assert_eq!(pamt_4k_lock(&m, page), 0, "PAMT_4K untouched");
    }
    // Another holder of the owned PAMT_2M entry (shared): a 4 KiB walk
    // that would end there cannot promote it to exclusive.
    let m = aug2m();
    let e = share_pamt_2m(&m, BIG);
    let before = state2m(&m);
    assert_eq!(call(&m, AUG, 0x3000, TDR, inside, 0), st(BUSY, R8));
    assert_eq!(state2m(&m), before);
    unshare_pamt_2m(&m, e);
    assert_eq!(m.platform().word(e) & 0xFFFF, 0, "no lock left");
    // A 4 KiB page in use inside a 2 MiB range keeps PAGE.AUG 2M out.
    let m = runnable();
    assert_eq!(call(&m, AUG, 0x3000, TDR, BIG + 0x7000, 0), 0);
    let before = state2m(&m);
    let meta = st(META, R8);
    assert_eq!(call(&m, AUG, l1(G2M), TDR, BIG, 0), meta);
    assert_eq!(state2m(&m), before);
    assert_eq!(m.platform().word(pamt_2m(&m, BIG)) & 0xFFFF, 0, "unlocked");
}

fn pamt_4k_lock(m: &M, pa: u64) -> u64 {
    m.platform().word(PAMT_4K + 16 * (pa >> 12)) & 0xFFFF
}

const VPFLUSHDONE: u64 = 19;
const FREEID: u64 = 20;
const RECLAIM: u64 = 28;
const CACHE_WB: u64 = 40;

/// `initialized2m` torn down to TEARDOWN.
fn torn2m() -> M {
    let m = initialized2m();
    assert_eq!(call(&m, VPFLUSHDONE, TDR, 0, 0, 0), 0);
    assert_eq!(call_on(&m, LP0, CACHE_WB, 0, 0, 0, 0).0, 0);
    assert_eq!(call_on(&m, LP1, CACHE_WB, 0, 0, 0, 0).0, 0);
    assert_eq!(call(&m, FREEID, TDR, 0, 0, 0), 0);
    m
}

#[test]
fn reclaim_of_a_2m_page_at_teardown() {
    let m = torn2m();
    // TDR word 3 = CHLDCNT (td_info needs a mappable TDCS).
    let chldcnt = |m: &M| m.platform().word(TDR + 24);
    let before_cc = chldcnt(&m);
    assert_eq!(before_cc, 6 + 3 + 512, "TDCX, SEPT, the 2 MiB page");
    // Inside the 2 MiB page: the walk ends at its PAMT_2M entry, the
    // outputs are set, then the HPA is not aligned to the page's size.
    let before = state2m(&m);
    let (s, r) = call_on(&m, LP0, RECLAIM, BIG + 0x1000, 0, 0, 0);
    assert_eq!(s, st(INV, OperandId::Rcx));
    assert_eq!((r.rcx, r.rdx, r.r8), (3, TDR, 1));
    assert_eq!(state2m(&m), before, "nothing changed");
    // PAMT_2M held: BUSY + RCX, outputs zero.
    let e = hold_pamt_2m(&m, BIG);
    let (s, r) = call_on(&m, LP0, RECLAIM, BIG, 0, 0, 0);
    assert_eq!((s, r.rcx, r.r8), (st(BUSY, OperandId::Rcx), 0, 0));
    unhold_pamt(&m, e);
    // Another (shared) holder: the exclusive walk cannot promote it.
    let e = share_pamt_2m(&m, BIG);
    let (s, r) = call_on(&m, LP0, RECLAIM, BIG, 0, 0, 0);
    assert_eq!((s, r.rcx, r.r8), (st(BUSY, OperandId::Rcx), 0, 0));
    unshare_pamt_2m(&m, e);
    assert_eq!(state2m(&m), before, "locks released");
    // The 2 MiB-aligned HPA reclaims the whole page.
    m.platform().set_word(BIG + 0x5000, 0x77);
    let (s, r) = call_on(&m, LP0, RECLAIM, BIG, 0, 0, 0);
    assert_eq!((s, r.rcx, r.rdx, r.r8), (0, 3, TDR, 1));
    assert_eq!(chldcnt(&m), before_cc - 512);
    assert_eq!(
        rdmd_full(&m, BIG + 0x5000),
        (0, 0, 0, 0, 0),
        "PT_NDA, 4 KiB"
    );
    assert_eq!(isolated_in(&m, BIG, 512), 0, "released");
    assert_eq!(page_words(&m, BIG + 0x5000), vec![0; 512], "zeroed");
    let meta = st(META, OperandId::Rcx);
    assert_eq!(call(&m, RECLAIM, BIG, 0, 0, 0), meta, "already free");
    // The rest of the TD, then the TDR: CHLDCNT reaches 0 exactly.
    let mut rest: Vec<u64> = (0..6).map(|i| TDCX0 + 0x1000 * i).collect();
    rest.extend((0..3).map(|i| SEPT0 + 0x1000 * i));
    for p in rest {
        assert_eq!(call(&m, RECLAIM, p, 0, 0, 0), 0, "{p:#x}");
    }
    assert_eq!(chldcnt(&m), 0);
    assert_eq!(call(&m, RECLAIM, TDR, 0, 0, 0), 0, "TDR last");
}
