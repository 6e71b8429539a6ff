//! TDH.MNG.WR: the failure table in the module's check order (exact status,
//! R8 = 0, state unchanged), write-mask semantics and old values, and the
//! DEBUG-only NOTIFY_ENABLES.
mod common;
use common::*;

use tdx_module_shim::md::field;
use tdx_module_shim::*;

const MNG_RD: u64 = 11;
const MNG_WR: u64 = 13;
const ALL: u64 = u64::MAX;

fn rd(m: &M, id: u64) -> u64 {
    let (s, r) = call_on(m, LP0, MNG_RD, TDR, id, 0, 0);
    assert_eq!(s, 0, "field {id:#x}");
    r.r8
}

/// MNG.WR → (status, R8).
fn wr(m: &M, id: u64, value: u64, mask: u64) -> (u64, u64) {
    let (s, r) = call_on(m, LP0, MNG_WR, TDR, id, value, mask);
    (s, r.r8)
}

fn finalized() -> M {
    let m = initialized();
    assert_eq!(call(&m, MR_FINALIZE, TDR, 0, 0, 0), 0);
    m
}

fn debug_td() -> M {
    initialized_as(true)
}

/// The generic snapshot plus the TD fields a write could touch.
type State = (Vec<(u64, u64)>, usize, Option<TdInfo>, Vec<Option<u64>>);

fn state(m: &M) -> State {
    let (pamt, iso, info) = snapshot(m);
    let fields = [field::HP_LOCK_TIMEOUT, field::NOTIFY_ENABLES, field::XFAM]
        .iter()
        .map(|&id| {
            let (s, r) = call_on(m, LP0, MNG_RD, TDR, id, 0, 0);
            (s == 0).then_some(r.r8)
        })
        .collect();
    (pamt, iso, info, fields)
}

/// Each case on a fresh TD from `setup`: exact status, R8 = 0, no state change.
fn table(setup: fn() -> M, cases: &[(&str, u64, u64, u64, u64, u64)]) {
    for &(name, rcx, id, value, mask, want) in cases {
        let m = setup();
        let before = state(&m);
        let (s, r) = call_on(&m, LP0, MNG_WR, rcx, id, value, mask);
        assert_eq!(s, want, "{name}");
        assert_eq!(r.r8, 0, "{name}: R8 on error");
        assert_eq!(state(&m), before, "{name}: state changed");
    }
}

#[test]
fn mng_wr_failures_in_order() {
    use OperandId::*;
    let hp = field::HP_LOCK_TIMEOUT;
    let bad_id = c(Code::MetadataFieldIdIncorrect);
    let ro = c(Code::MetadataFieldNotWritable);
    let bad_value = c(Code::MetadataFieldValueNotValid);
    table(
        finalized,
        &[
            (
                "tdr misaligned",
                TDR + 8,
                hp,
                20_000,
                ALL,
                st(Code::OperandInvalid, Rcx),
            ),
            (
                "tdr hkid bits",
                TDR | 1 << 41,
                hp,
                20_000,
                ALL,
                st(Code::OperandInvalid, Rcx),
            ),
            (
                "tdr outside tdmr",
                GIB,
                hp,
                20_000,
                ALL,
                st(Code::OperandAddrRangeError, Rcx),
            ),
            (
                "not a tdr",
                TDCX0,
                hp,
                20_000,
                ALL,
                st(Code::PageMetadataIncorrect, Rcx),
            ),
            ("reserved 31:24", TDR, hp | 1 << 24, 20_000, ALL, bad_id),
            ("last element", TDR, hp | 1 << 34, 20_000, ALL, bad_id),
            ("last field", TDR, hp | 1 << 38, 20_000, ALL, bad_id),
            ("reserved 62", TDR, hp | 1 << 62, 20_000, ALL, bad_id),
            ("null id", TDR, ALL, 20_000, ALL, bad_id),
            ("unknown code", TDR, hp + 0x100, 20_000, ALL, bad_id),
            ("unknown class", TDR, 0x1210_0003_0000_0000, 0, ALL, bad_id),
            ("read-only field", TDR, field::XFAM, 0, ALL, ro),
            ("read-only TDR field", TDR, field::FATAL, 1, ALL, ro),
            ("mask 0", TDR, hp, 20_000, 0, ro),
            (
                "notify_enables, production TD",
                TDR,
                field::NOTIFY_ENABLES,
                1,
                1,
                ro,
            ),
            ("rtmr", TDR, field::RTMR, 0, ALL, ro),
            (
                "hp_lock_timeout partial mask",
                TDR,
                hp,
                20_000,
                0xFFFF_FFFF,
                c(Code::MetadataWrMaskNotValid),
            ),
            (
                "hp_lock_timeout below 10 ms",
                TDR,
                hp,
                9_999,
                ALL,
                bad_value,
            ),
            (
                "hp_lock_timeout above 100 s",
                TDR,
                hp,
                100_000_001,
                ALL,
                bad_value,
            ),
        ],
    );
    table(
        debug_td,
        &[
            // Bit 1 is in the request mask but not writable, and differs.
            (
                "notify_enables bit 1",
                TDR,
                field::NOTIFY_ENABLES,
                2,
                3,
                bad_value,
            ),
            (
                "notify_enables high bits",
                TDR,
                field::NOTIFY_ENABLES,
                1 << 40,
                ALL,
                bad_value,
            ),
            ("rtmr, debug TD", TDR, field::RTMR, 0, ALL, ro),
        ],
    );
    // TD state, in order: keys, TDCS pages, OP_STATE.
    table(
        || {
            let m = ready();
            assert_eq!(call(&m, MNG_CREATE, TDR, HKID, 0, 0), 0);
            m
        },
        &[(
            "keys not configured",
            TDR,
            hp,
            20_000,
            ALL,
            c(Code::TdKeysNotConfigured),
        )],
    );
    table(
        || {
            let m = ready();
            created(&m);
            m
        },
        &[(
            "tdcs not allocated",
            TDR,
            hp,
            20_000,
            ALL,
            c(Code::TdcsNotAllocated),
        )],
    );
    table(
        six_cx,
        &[(
            "uninitialized",
            TDR,
            hp,
            20_000,
            ALL,
            c(Code::OpStateIncorrect),
        )],
    );
    // The TDR locked by another LP; version 1 does not exist for MNG.WR.
    let m = finalized();
    let before = state(&m);
    let e = hold_pamt(&m, TDR);
    assert_eq!(wr(&m, hp, 20_000, ALL), (st(Code::OperandBusy, Rcx), 0));
    unhold_pamt(&m, e);
    let (s, _) = call_on(&m, LP0, MNG_WR | 1 << 16, TDR, hp, 20_000, ALL);
    assert_eq!(s, st(Code::OperandInvalid, Rax));
    assert_eq!(state(&m), before);
}

#[test]
fn hp_lock_timeout_round_trip() {
    // INITIALIZED and RUNNABLE TDs both take the write.
    for m in [initialized(), finalized()] {
        assert_eq!(rd(&m, field::HP_LOCK_TIMEOUT), 1_000_000, "default 1 s");
        assert_eq!(wr(&m, field::HP_LOCK_TIMEOUT, 10_000, ALL), (0, 1_000_000));
        assert_eq!(rd(&m, field::HP_LOCK_TIMEOUT), 10_000);
        // The limits are inclusive; R8 is the old value.
        assert_eq!(
            wr(&m, field::HP_LOCK_TIMEOUT, 100_000_000, ALL),
            (0, 10_000)
        );
        assert_eq!(rd(&m, field::HP_LOCK_TIMEOUT), 100_000_000);
        // Element size code 0 in the request is accepted (as on MNG.RD).
        let size0 = field::HP_LOCK_TIMEOUT & !(3 << 32);
        let (s, r) = call_on(&m, LP0, MNG_WR, TDR, size0, 50_000, ALL);
        assert_eq!((s, r.r8), (0, 100_000_000));
        assert_eq!(rd(&m, field::HP_LOCK_TIMEOUT), 50_000);
    }
}

#[test]
fn notify_enables_is_debug_only_and_masked() {
    let m = finalized();
    // Production TD: not readable, not writable.
    let (s, _) = call_on(&m, LP0, MNG_RD, TDR, field::NOTIFY_ENABLES, 0, 0);
    assert_eq!(s, c(Code::MetadataFieldNotReadable));
    let m = debug_td();
    assert_eq!(rd(&m, field::NOTIFY_ENABLES), 0);
    // Only the bits in both masks change: bit 1 of the value is outside
    // the request mask and ignored.
    assert_eq!(wr(&m, field::NOTIFY_ENABLES, 3, 1), (0, 0));
    assert_eq!(rd(&m, field::NOTIFY_ENABLES), 1);
    // Mask 0 on a writable field is still "not writable".
    assert_eq!(
        wr(&m, field::NOTIFY_ENABLES, 0, 0),
        (c(Code::MetadataFieldNotWritable), 0)
    );
    // Clear it again: R8 = old value.
    assert_eq!(wr(&m, field::NOTIFY_ENABLES, 0, ALL), (0, 1));
    assert_eq!(rd(&m, field::NOTIFY_ENABLES), 0);
    // A write of an unchanged read-only bit under the mask is fine: the
    // forbidden-bits rule only refuses changes.
    assert_eq!(wr(&m, field::NOTIFY_ENABLES, 1, 0xFF), (0, 0));
    assert_eq!(rd(&m, field::NOTIFY_ENABLES), 1);
}
