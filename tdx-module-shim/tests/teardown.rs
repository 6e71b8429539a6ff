//! Teardown: VPFLUSHDONE, CACHE.WB, KEY.FREEID, PAGE.RECLAIM, PAGE.WBINVD.
//! Failure tables (exact status + operand, state unchanged) and the full
//! sequence giving every page back zeroed.
mod common;
use common::*;

use tdx_module_shim::*;

const VPFLUSHDONE: u64 = 19;
const FREEID: u64 = 20;
const RECLAIM: u64 = 28;
const CACHE_WB: u64 = 40;
const WBINVD: u64 = 41;
const INV: Code = Code::OperandInvalid;
const META: Code = Code::PageMetadataIncorrect;
const LC: Code = Code::LifecycleStateIncorrect;

/// Every TD page of the built TD: TDCX x6, SEPT x3, the private page.
fn children() -> Vec<u64> {
    let mut v: Vec<u64> = (0..6).map(|i| TDCX0 + 0x1000 * i).collect();
    v.extend((0..3).map(|i| SEPT0 + 0x1000 * i));
    v.push(DATA0);
    v
}

fn built() -> M {
    let m = initialized();
    sept_for_low_gpa(&m);
    m.platform().vmm_write(SRC0, &[0x5A; 4096]);
    assert_eq!(call(&m, PAGE_ADD, 0x1000, TDR, DATA0, SRC0), 0);
    assert_eq!(call(&m, MR_FINALIZE, TDR, 0, 0, 0), 0);
    m
}

fn blocked() -> M {
    let m = built();
    assert_eq!(call(&m, VPFLUSHDONE, TDR, 0, 0, 0), 0);
    m
}

fn wb_one() -> M {
    let m = blocked();
    assert_eq!(call_on(&m, LP0, CACHE_WB, 0, 0, 0, 0).0, 0);
    m
}

fn torn() -> M {
    let m = wb_one();
    assert_eq!(call_on(&m, LP1, CACHE_WB, 0, 0, 0, 0).0, 0);
    assert_eq!(call(&m, FREEID, TDR, 0, 0, 0), 0);
    m
}

/// PAMT, isolation and TDR words (lifecycle, CHLDCNT).
fn snap(m: &M) -> (Vec<(u64, u64)>, usize, u64, u64) {
    let mut pages = children();
    pages.extend([TDR, SRC0]);
    let pamt = pages.iter().map(|&p| rdmd(m, p)).collect();
    (
        pamt,
        m.platform().isolated_count(),
        m.platform().word(TDR + 8),
        m.platform().word(TDR + 24),
    )
}

fn table(setup: fn() -> M, cases: &[Case]) {
    for &(name, leaf, rcx, rdx, r8, r9, want) in cases {
        let m = setup();
        let before = snap(&m);
        assert_eq!(call(&m, leaf, rcx, rdx, r8, r9), want, "{name}");
        assert_eq!(snap(&m), before, "{name}: state changed");
    }
}

#[test]
fn vpflushdone_and_freeid_tables() {
    use OperandId::*;
    table(
        built,
        &[
            (
                "vpflushdone misaligned",
                VPFLUSHDONE,
                TDR + 1,
                0,
                0,
                0,
                st(INV, Rcx),
            ),
            (
                "vpflushdone not tdr",
                VPFLUSHDONE,
                DATA0,
                0,
                0,
                0,
                st(META, Rcx),
            ),
            (
                "vpflushdone outside",
                VPFLUSHDONE,
                GIB,
                0,
                0,
                0,
                st(Code::OperandAddrRangeError, Rcx),
            ),
            ("freeid keys configured", FREEID, TDR, 0, 0, 0, c(LC)),
            (
                "reclaim child before teardown",
                RECLAIM,
                DATA0,
                0,
                0,
                0,
                c(LC),
            ),
            ("reclaim tdr before teardown", RECLAIM, TDR, 0, 0, 0, c(LC)),
            (
                "cache.wb nothing flushed",
                CACHE_WB,
                0,
                0,
                0,
                0,
                c(Code::NoHkidReadyToWbcache),
            ),
        ],
    );
    table(
        blocked,
        &[
            ("vpflushdone twice", VPFLUSHDONE, TDR, 0, 0, 0, c(LC)),
            (
                "freeid before cache.wb",
                FREEID,
                TDR,
                0,
                0,
                0,
                c(Code::WbcacheNotComplete),
            ),
            ("cache.wb bad command", CACHE_WB, 2, 0, 0, 0, st(INV, Rcx)),
            (
                "cache.wb resume",
                CACHE_WB,
                1,
                0,
                0,
                0,
                c(Code::WbcacheResumeError),
            ),
            ("reclaim when blocked", RECLAIM, TDCX0, 0, 0, 0, c(LC)),
        ],
    );
    // One package of two done: still incomplete.
    table(
        wb_one,
        &[(
            "freeid one package",
            FREEID,
            TDR,
            0,
            0,
            0,
            c(Code::WbcacheNotComplete),
        )],
    );
    table(torn, &[("freeid twice", FREEID, TDR, 0, 0, 0, c(LC))]);
    // VPFLUSHDONE is legal before KEY.CONFIG completes (HKID_ASSIGNED).
    let m = ready();
    assert_eq!(call(&m, MNG_CREATE, TDR, HKID, 0, 0), 0);
    assert_eq!(call(&m, VPFLUSHDONE, TDR, 0, 0, 0), 0);
    // TDR busy.
    let m = built();
    let e = hold_pamt(&m, TDR);
    assert_eq!(
        call(&m, VPFLUSHDONE, TDR, 0, 0, 0),
        st(Code::OperandBusy, Rcx)
    );
    unhold_pamt(&m, e);
}

#[test]
fn reclaim_and_wbinvd_tables() {
    use OperandId::*;
    table(
        torn,
        &[
            ("misaligned", RECLAIM, DATA0 + 8, 0, 0, 0, st(INV, Rcx)),
            ("hkid bits", RECLAIM, DATA0 | 1 << 41, 0, 0, 0, st(INV, Rcx)),
            (
                "outside tdmr",
                RECLAIM,
                GIB,
                0,
                0,
                0,
                st(Code::OperandAddrRangeError, Rcx),
            ),
            ("free page", RECLAIM, SRC0, 0, 0, 0, st(META, Rcx)),
            ("pamt page", RECLAIM, PAMT_4K, 0, 0, 0, st(META, Rcx)),
            (
                "tdr with children",
                RECLAIM,
                TDR,
                0,
                0,
                0,
                c(Code::TdAssociatedPagesExist),
            ),
            (
                "wbinvd of a TD page",
                WBINVD,
                DATA0 | HKID << 40,
                0,
                0,
                0,
                st(META, Rcx),
            ),
            (
                "wbinvd misaligned",
                WBINVD,
                SRC0 + 64,
                0,
                0,
                0,
                st(INV, Rcx),
            ),
            (
                "wbinvd above max pa",
                WBINVD,
                SRC0 | 1 << 46,
                0,
                0,
                0,
                st(INV, Rcx),
            ),
            (
                "wbinvd outside",
                WBINVD,
                GIB,
                0,
                0,
                0,
                st(Code::OperandAddrRangeError, Rcx),
            ),
        ],
    );
    let m = torn();
    let e = hold_pamt(&m, DATA0);
    assert_eq!(
        call(&m, RECLAIM, DATA0, 0, 0, 0),
        st(Code::OperandBusy, Rcx)
    );
    unhold_pamt(&m, e);
    let before = snap(&m);
    let e = hold_pamt(&m, TDR);
    assert_eq!(
        call(&m, RECLAIM, DATA0, 0, 0, 0),
        st(Code::OperandBusy, Tdr)
    );
    unhold_pamt(&m, e);
    assert_eq!(snap(&m), before);
    let e = hold_pamt(&m, SRC0);
    assert_eq!(call(&m, WBINVD, SRC0, 0, 0, 0), st(Code::OperandBusy, Rcx));
    unhold_pamt(&m, e);
}

#[test]
fn full_teardown_returns_every_page_zeroed() {
    let m = torn();
    assert!(m.platform().isolated_count() > 10);
    for (i, &p) in children().iter().enumerate() {
        let (s, r) = call_on(&m, LP0, RECLAIM, p, 0, 0, 0);
        assert_eq!(s, 0, "{p:#x}");
        let want_ty = match i {
            0..=5 => PageType::Tdcx,
            6..=8 => PageType::Ept,
            _ => PageType::Reg,
        };
        assert_eq!((r.rcx, r.rdx, r.r8), (want_ty as u64, TDR, 0));
        assert_eq!(rdmd(&m, p), (0, 0));
        assert!(!m.platform().is_isolated(p));
        let mut buf = [0xFFu8; 4096];
        m.platform().read(p, &mut buf);
        assert!(buf.iter().all(|&b| b == 0), "{p:#x} not zeroed");
        // Reclaiming again: a free page.
        assert_eq!(call(&m, RECLAIM, p, 0, 0, 0), st(META, OperandId::Rcx));
        assert_eq!(call(&m, WBINVD, p | HKID << 40, 0, 0, 0), 0);
    }
    let (s, r) = call_on(&m, LP0, RECLAIM, TDR, 0, 0, 0);
    assert_eq!((s, r.rcx, r.rdx), (0, PageType::Tdr as u64, 0));
    assert_eq!(rdmd(&m, TDR), (0, 0));
    assert_eq!(m.platform().isolated_count(), pamt_pages());
    let mut buf = [0xFFu8; 4096];
    m.platform().read(TDR, &mut buf);
    assert!(buf.iter().all(|&b| b == 0));
    // The HKID and every page are reusable: build the TD again.
    created(&m);
    assert_eq!(rdmd(&m, TDR), (PageType::Tdr as u64, 0));
}

/// PAMT pages isolated by SYS.CONFIG (they stay the module's).
fn pamt_pages() -> usize {
    let t = tdmr0();
    t.pamt.iter().map(|&(_, s)| (s / 4096) as usize).sum()
}

#[test]
fn cache_wb_busy_and_per_package() {
    let m = blocked();
    // The same package twice: the second call clears nothing new, but
    // succeeds (the HKID is still FLUSHED).
    assert_eq!(call_on(&m, LP0, CACHE_WB, 0, 0, 0, 0).0, 0);
    assert_eq!(call_on(&m, LP0, CACHE_WB, 0, 0, 0, 0).0, 0);
    assert_eq!(call(&m, FREEID, TDR, 0, 0, 0), c(Code::WbcacheNotComplete));
    assert_eq!(call_on(&m, LP1, CACHE_WB, 0, 0, 0, 0).0, 0);
    assert_eq!(call(&m, FREEID, TDR, 0, 0, 0), 0);
    // After FREEID no HKID is FLUSHED.
    assert_eq!(
        call_on(&m, LP1, CACHE_WB, 0, 0, 0, 0).0,
        c(Code::NoHkidReadyToWbcache)
    );
}
