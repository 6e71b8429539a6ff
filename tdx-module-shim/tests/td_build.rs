//! TD build leaves: failure tables (exact status + operand, state unchanged)
//! and success paths.
mod common;
use common::*;

use tdx_module_shim::*;

const INV: Code = Code::OperandInvalid;
const RANGE: Code = Code::OperandAddrRangeError;
const META: Code = Code::PageMetadataIncorrect;

#[test]
fn mng_create_table() {
    use OperandId::*;
    run_table(
        ready,
        &[
            ("shared hkid", MNG_CREATE, TDR, 1, 0, 0, st(INV, Rdx)),
            ("hkid above range", MNG_CREATE, TDR, 64, 0, 0, st(INV, Rdx)),
            (
                "hkid reserved bits",
                MNG_CREATE,
                TDR,
                HKID | 1 << 16,
                0,
                0,
                st(INV, Rdx),
            ),
            (
                "tdr misaligned",
                MNG_CREATE,
                TDR + 8,
                HKID,
                0,
                0,
                st(INV, Rcx),
            ),
            (
                "tdr hkid bits",
                MNG_CREATE,
                TDR | 1 << 41,
                HKID,
                0,
                0,
                st(INV, Rcx),
            ),
            (
                "tdr outside tdmr",
                MNG_CREATE,
                GIB + 0x1000,
                HKID,
                0,
                0,
                st(RANGE, Rcx),
            ),
            (
                "tdr is pamt",
                MNG_CREATE,
                PAMT_4K,
                HKID,
                0,
                0,
                st(META, Rcx),
            ),
            (
                "global hkid",
                MNG_CREATE,
                TDR,
                GLOBAL_HKID,
                0,
                0,
                c(Code::HkidNotFree),
            ),
        ],
    );
}

#[test]
fn mng_create_busy_and_hkid_reuse() {
    let m = ready();
    let e = hold_pamt(&m, TDR);
    assert_eq!(
        call(&m, MNG_CREATE, TDR, HKID, 0, 0),
        st(Code::OperandBusy, OperandId::Rcx)
    );
    unhold_pamt(&m, e);
    assert_eq!(call(&m, MNG_CREATE, TDR, HKID, 0, 0), 0);
    assert!(m.platform().is_isolated(TDR));
    assert_eq!(
        call(&m, MNG_CREATE, TDR + 0x1000, HKID, 0, 0),
        c(Code::HkidNotFree)
    );
    assert_eq!(
        call(&m, MNG_CREATE, TDR, HKID + 1, 0, 0),
        st(META, OperandId::Rcx)
    );
    assert_eq!(rdmd(&m, TDR + 0x1000), (0, 0));
}

fn created_only() -> M {
    let m = ready();
    assert_eq!(call(&m, MNG_CREATE, TDR, HKID, 0, 0), 0);
    m
}

#[test]
fn key_config_per_package() {
    let m = created_only();
    assert_eq!(
        call(&m, MNG_ADDCX, TDCX0, TDR, 0, 0),
        c(Code::TdKeysNotConfigured)
    );
    assert_eq!(call_on(&m, LP0, MNG_KEY_CONFIG, TDR, 0, 0, 0).0, 0);
    assert_eq!(
        call_on(&m, LP0, MNG_KEY_CONFIG, TDR, 0, 0, 0).0,
        c(Code::KeyConfigured)
    );
    assert_eq!(
        call(&m, MNG_ADDCX, TDCX0, TDR, 0, 0),
        c(Code::TdKeysNotConfigured)
    );
    assert_eq!(call_on(&m, LP1, MNG_KEY_CONFIG, TDR, 0, 0, 0).0, 0);
    assert_eq!(
        call(&m, MNG_KEY_CONFIG, DATA0, 0, 0, 0),
        st(META, OperandId::Rcx)
    );
    assert_eq!(call(&m, MNG_ADDCX, TDCX0, TDR, 0, 0), 0);
    assert_eq!(rdmd(&m, TDCX0), (PageType::Tdcx as u64, TDR));
}

fn keyed() -> M {
    let m = ready();
    created(&m);
    m
}

fn five_cx() -> M {
    let m = keyed();
    for i in 0..5 {
        assert_eq!(call(&m, MNG_ADDCX, TDCX0 + 0x1000 * i, TDR, 0, 0), 0);
    }
    m.platform().vmm_write(TD_PARAMS, &td_params());
    m
}

fn six_cx() -> M {
    let m = five_cx();
    assert_eq!(call(&m, MNG_ADDCX, TDCX0 + 0x5000, TDR, 0, 0), 0);
    m
}

#[test]
fn mng_addcx_table() {
    use OperandId::*;
    run_table(
        keyed,
        &[
            (
                "tdr wrong type",
                MNG_ADDCX,
                TDCX0,
                DATA0,
                0,
                0,
                st(META, Rdx),
            ),
            (
                "tdr misaligned",
                MNG_ADDCX,
                TDCX0,
                TDR + 1,
                0,
                0,
                st(INV, Rdx),
            ),
            (
                "page misaligned",
                MNG_ADDCX,
                TDCX0 + 8,
                TDR,
                0,
                0,
                st(INV, Rcx),
            ),
            (
                "page out of range",
                MNG_ADDCX,
                RAM_END,
                TDR,
                0,
                0,
                st(RANGE, Rcx),
            ),
            (
                "page is tdr",
                MNG_ADDCX,
                TDR,
                TDR,
                0,
                0,
                st(Code::OperandBusy, Rcx),
            ),
            (
                "page reserved",
                MNG_ADDCX,
                PAMT_2M,
                TDR,
                0,
                0,
                st(META, Rcx),
            ),
        ],
    );
    run_table(
        six_cx,
        &[(
            "seventh",
            MNG_ADDCX,
            TDCX0 + 0x6000,
            TDR,
            0,
            0,
            c(Code::TdcxNumIncorrect),
        )],
    );
}

#[test]
fn mng_init_table() {
    use OperandId::*;
    let p = TD_PARAMS;
    run_table(
        five_cx,
        &[(
            "tdcs not allocated",
            MNG_INIT,
            TDR,
            p,
            0,
            0,
            c(Code::TdcsNotAllocated),
        )],
    );
    run_table(
        six_cx,
        &[
            (
                "params misaligned",
                MNG_INIT,
                TDR,
                p + 0x200,
                0,
                0,
                st(INV, Rdx),
            ),
            ("params not RAM", MNG_INIT, TDR, RAM_END, 0, 0, st(INV, Rdx)),
            ("params isolated", MNG_INIT, TDR, TDR, 0, 0, st(INV, Rdx)),
            (
                "tdr busy-free type",
                MNG_INIT,
                DATA0,
                p,
                0,
                0,
                st(META, Rcx),
            ),
        ],
    );
    // Field validation: patch one field of valid params.
    let fields: [(&str, usize, &[u8], OperandId); 10] = [
        ("attr migratable", 3, &[0x20], Attributes),
        ("xfam no sse", 8, &[1], Xfam),
        ("xfam bit 19", 10, &[0x08], Xfam),
        ("max vcpus 0", 16, &[0, 0], MaxVcpus),
        ("num l2", 18, &[1], NumL2Vms),
        ("eptp 5-level", 24, &[6 | 4 << 3], EptpControls),
        ("config flags", 32, &[8], ExecControls),
        ("tsc low", 40, &[3, 0], TscFrequency),
        ("reserved", 60, &[1], Rdx),
        ("cpuid config", 256, &[1], Rdx),
    ];
    for (name, off, bytes, op) in fields {
        let m = six_cx();
        let mut tp = td_params();
        tp[off..off + bytes.len()].copy_from_slice(bytes);
        m.platform().vmm_write(TD_PARAMS, &tp);
        let before = snapshot(&m);
        assert_eq!(
            call(&m, MNG_INIT, TDR, TD_PARAMS, 0, 0),
            st(INV, op),
            "{name}"
        );
        assert_eq!(snapshot(&m), before, "{name}");
    }
    let m = six_cx();
    assert_eq!(call(&m, MNG_INIT, TDR, p, 0, 0), 0);
    assert_eq!(call(&m, MNG_INIT, TDR, p, 0, 0), c(Code::OpStateIncorrect));
}
