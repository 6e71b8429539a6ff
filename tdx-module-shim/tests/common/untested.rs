//! Helpers for the tests of the conditions the coverage table listed as
//! untested (`tests/untested_build*.rs`; included with `#[path]`, so
//! `common/mod.rs` declares no module for it): one row = one setup, one call, the
//! exact status; the call must release every lock it took and change
//! nothing (`contention::world`, plus the TDCX pages, where the SEPT root
//! lives).

#![allow(dead_code)]

use crate::common::contention::{Call, Hold, World, assert_module_locks_free, assert_same, world};
use crate::common::mem_mgmt::*;
use crate::common::*;

pub const VPFLUSHDONE: u64 = 19;
pub const FREEID: u64 = 20;
pub const CACHE_WB: u64 = 40;

/// (name, setup, call, expected RAX).
pub type Row = (&'static str, fn() -> M, Call, u64);

/// Everything a failing leaf must leave as it was.
pub fn watched(m: &M) -> (World, Vec<Vec<u64>>) {
    let cx = (0..6).map(|i| page_words(m, TDCX0 + 0x1000 * i)).collect();
    (world(m), cx)
}

/// Run each row on a fresh setup: the status, no lock left held, no
/// state changed.
pub fn run_rows(rows: &[Row]) {
    for &(name, setup, call, want) in rows {
        let m = setup();
        let before = watched(&m);
        assert_eq!(call.run(&m), want, "{name}");
        // `Hold::Pamt(0)`: no module lock is held by the test.
        assert_module_locks_free(&m, Hold::Pamt(0), name);
        let after = watched(&m);
        assert_same(&after.0, &before.0, &format!("{name}: state changed"));
        assert!(after.1 == before.1, "{name}: a TDCX page changed");
    }
}

/// The same call succeeds on `setup`: the operands of a row are valid
/// except for the one condition the row is about.
pub fn control(name: &str, setup: fn() -> M, call: Call) {
    let m = setup();
    assert_eq!(call.run(&m), 0, "{name}: control");
}

/// VPFLUSHDONE on `m` (lifecycle → BLOCKED).
pub fn block(m: M) -> M {
    assert_eq!(call(&m, VPFLUSHDONE, TDR, 0, 0, 0), 0, "VPFLUSHDONE");
    m
}

/// CACHE.WB on both packages, then KEY.FREEID (lifecycle → TEARDOWN).
pub fn tear(m: M) -> M {
    let m = wb_both(m);
    assert_eq!(call(&m, FREEID, TDR, 0, 0, 0), 0, "KEY.FREEID");
    m
}

/// CACHE.WB on both packages (KEY.FREEID may run).
pub fn wb_both(m: M) -> M {
    assert_eq!(call_on(&m, LP0, CACHE_WB, 0, 0, 0, 0).0, 0, "CACHE.WB");
    assert_eq!(call_on(&m, LP1, CACHE_WB, 0, 0, 0, 0).0, 0, "CACHE.WB");
    m
}
