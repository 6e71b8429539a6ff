//! Lock contention, part 1: the TDH.SYS.* leaves, the TD build leaves
//! (MNG.*, SEPT.ADD, PAGE.ADD, MR.*, MNG.RD) and teardown. Another LP
//! holds a lock the leaf needs (a PAMT entry, the TDCS, the global lock,
//! the TDMR.INIT or CACHE.WB lock); the leaf answers the exact contention
//! status, releases what it took, changes nothing, and succeeds once the
//! lock is free (`common::contention::run_busy`).
mod common;
use common::contention::*;
use common::*;

use tdx_module_shim::md::field;
use tdx_module_shim::*;

const BUSY: Code = Code::OperandBusy;
const MNG_RD: u64 = 11;
const VPFLUSHDONE: u64 = 19;
const FREEID: u64 = 20;
const CACHE_WB: u64 = 40;

#[test]
fn sys_leaves_answer_sys_busy() {
    let sys_busy = c(Code::SysBusy);
    let tdmr0_init = Hold::Lock(TestLock::TdmrInit { index: 0 });
    run_busy(&[
        BusyCase {
            name: "SYS.INIT",
            setup: module,
            call: seam(SYS_INIT, 0, 0, 0, 0),
            busy: &[(SYS_X, sys_busy), (SYS_S, sys_busy)],
        },
        BusyCase {
            name: "SYS.LP.INIT",
            setup: sys_inited,
            call: seam(SYS_LP_INIT, 0, 0, 0, 0),
            busy: &[(SYS_X, sys_busy)],
        },
        BusyCase {
            name: "SYS.CONFIG",
            setup: lps_inited,
            call: seam(SYS_CONFIG, TDMR_ARRAY, 1, GLOBAL_HKID, 0),
            busy: &[(SYS_X, sys_busy), (SYS_S, sys_busy)],
        },
        BusyCase {
            name: "SYS.KEY.CONFIG",
            setup: sys_configured,
            call: seam(SYS_KEY_CONFIG, 0, 0, 0, 0),
            busy: &[(SYS_X, sys_busy), (SYS_S, sys_busy)],
        },
        BusyCase {
            name: "SYS.TDMR.INIT",
            setup: keys_ready,
            call: seam(TDMR_INIT, 0, 0, 0, 0),
            busy: &[(tdmr0_init, st(BUSY, OperandId::Rcx))],
        },
    ]);
}

#[test]
fn lp_init_shares_the_global_lock() {
    // An LP.INIT in flight on another LP holds the lock shared: LP.INIT
    // still runs here, the exclusive leaves do not.
    let m = sys_inited();
    let held = m.hold_lock(TestLock::Sys { exclusive: false }).unwrap();
    assert_eq!(call_on(&m, LP0, SYS_LP_INIT, 0, 0, 0, 0).0, 0);
    assert_eq!(call_on(&m, LP1, SYS_LP_INIT, 0, 0, 0, 0).0, 0);
    assert_eq!(call(&m, SYS_INIT, 0, 0, 0, 0), c(Code::SysBusy));
    drop(held);
    assert_eq!(call(&m, SYS_INIT, 0, 0, 0, 0), c(Code::SysInitNotPending));
}

#[test]
fn a_busy_tdmr_init_reports_no_progress() {
    // RDX (the next address) is not written; the range stays uninitialised.
    let m = keys_ready();
    let held = m.hold_lock(TestLock::TdmrInit { index: 0 }).unwrap();
    let (s, r) = call_on(&m, LP1, TDMR_INIT, 0, 0x77, 0, 0);
    assert_eq!((s, r.rdx), (st(BUSY, OperandId::Rcx), 0x77));
    assert_eq!(m.tdmrs().pamt_entry(Hpa(0)), None);
    drop(held);
    let (s, r) = call_on(&m, LP1, TDMR_INIT, 0, 0x77, 0, 0);
    assert_eq!((s, r.rdx), (0, GIB));
}

#[test]
fn td_build_leaves_busy() {
    use OperandId::*;
    let tdr = Hold::Pamt(TDR);
    run_busy(&[
        BusyCase {
            name: "MNG.CREATE",
            setup: ready,
            call: seam(MNG_CREATE, TDR, HKID, 0, 0),
            busy: &[(Hold::Pamt(TDR), st(BUSY, Rcx)), (TDCS, st(BUSY, Kot))],
        },
        BusyCase {
            name: "MNG.KEY.CONFIG",
            setup: hkid_assigned,
            call: seam(MNG_KEY_CONFIG, TDR, 0, 0, 0),
            busy: &[(tdr, st(BUSY, Rcx))],
        },
        BusyCase {
            name: "MNG.ADDCX",
            setup: keys_configured,
            call: seam(MNG_ADDCX, TDCX0, TDR, 0, 0),
            busy: &[(tdr, st(BUSY, Rdx)), (Hold::Pamt(TDCX0), st(BUSY, Rcx))],
        },
        BusyCase {
            name: "MNG.INIT",
            setup: before_init,
            call: seam(MNG_INIT, TDR, TD_PARAMS, 0, 0),
            busy: &[(tdr, st(BUSY, Rcx)), (TDCS, OP_BUSY)],
        },
        BusyCase {
            name: "SEPT.ADD",
            setup: built,
            call: seam(SEPT_ADD, 0x20_0000 | 1, TDR, SEPT0 + 0x3000, 0),
            busy: &[
                (tdr, st(BUSY, Rdx)),
                (TDCS, OP_BUSY),
                (Hold::Pamt(SEPT0 + 0x3000), st(BUSY, R8)),
            ],
        },
        BusyCase {
            name: "PAGE.ADD",
            setup: built,
            call: seam(PAGE_ADD, 0x2000, TDR, common::mem_mgmt::AUG0, SRC0),
            busy: &[
                (tdr, st(BUSY, Rdx)),
                (TDCS, OP_BUSY),
                (Hold::Pamt(common::mem_mgmt::AUG0), st(BUSY, R8)),
            ],
        },
        BusyCase {
            name: "MR.EXTEND",
            setup: built,
            call: seam(MR_EXTEND, 0x1000, TDR, 0, 0),
            busy: &[(tdr, st(BUSY, Rdx)), (TDCS, OP_BUSY)],
        },
        BusyCase {
            name: "MR.FINALIZE",
            setup: built,
            call: seam(MR_FINALIZE, TDR, 0, 0, 0),
            busy: &[(tdr, st(BUSY, Rcx)), (TDCS, OP_BUSY)],
        },
        BusyCase {
            name: "MNG.RD",
            setup: built,
            call: seam(MNG_RD, TDR, field::OP_STATE, 0, 0),
            busy: &[(tdr, st(BUSY, Rcx)), (TDCS, OP_BUSY)],
        },
        BusyCase {
            name: "MNG.WR",
            setup: built,
            call: seam(13, TDR, field::HP_LOCK_TIMEOUT, 1_000_000, u64::MAX),
            busy: &[(tdr, st(BUSY, Rcx)), (TDCS, OP_BUSY)],
        },
    ]);
}

/// The TD of `built`, after VPFLUSHDONE (BLOCKED, HKID FLUSHED).
fn flushed() -> M {
    let m = built();
    assert_eq!(call(&m, VPFLUSHDONE, TDR, 0, 0, 0), 0);
    m
}

/// `flushed` after CACHE.WB on both packages.
fn cache_written_back() -> M {
    let m = flushed();
    assert_eq!(call_on(&m, LP0, CACHE_WB, 0, 0, 0, 0).0, 0);
    assert_eq!(call_on(&m, LP1, CACHE_WB, 0, 0, 0, 0).0, 0);
    m
}

#[test]
fn teardown_leaves_busy() {
    use OperandId::*;
    let tdr = Hold::Pamt(TDR);
    run_busy(&[
        BusyCase {
            name: "MNG.VPFLUSHDONE",
            setup: built,
            call: seam(VPFLUSHDONE, TDR, 0, 0, 0),
            busy: &[(tdr, st(BUSY, Rcx)), (TDCS, OP_BUSY)],
        },
        BusyCase {
            name: "PHYMEM.CACHE.WB",
            setup: flushed,
            call: seam(CACHE_WB, 0, 0, 0, 0),
            busy: &[(
                Hold::Lock(TestLock::Wbcache { package: 0 }),
                st(BUSY, Wbcache),
            )],
        },
        BusyCase {
            name: "MNG.KEY.FREEID",
            setup: cache_written_back,
            call: seam(FREEID, TDR, 0, 0, 0),
            busy: &[(tdr, st(BUSY, Rcx))],
        },
    ]);
}

#[test]
fn a_busy_cache_wb_clears_nothing_and_only_blocks_its_package() {
    let m = flushed();
    let held = m.hold_lock(TestLock::Wbcache { package: 0 }).unwrap();
    assert_eq!(
        call_on(&m, LP0, CACHE_WB, 0, 0, 0, 0).0,
        st(BUSY, OperandId::Wbcache)
    );
    // Package 1 (LP1) has its own lock.
    assert_eq!(call_on(&m, LP1, CACHE_WB, 0, 0, 0, 0).0, 0);
    drop(held);
    // The busy call did not clear package 0's bit.
    assert_eq!(call(&m, FREEID, TDR, 0, 0, 0), c(Code::WbcacheNotComplete));
    assert_eq!(call_on(&m, LP0, CACHE_WB, 0, 0, 0, 0).0, 0);
    assert_eq!(call(&m, FREEID, TDR, 0, 0, 0), 0);
}
