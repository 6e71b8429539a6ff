//! TDH.MNG.RD: field values, v1 iteration, failure table (exact status,
//! state unchanged). TDH.MNG.WR: `mng_wr.rs`.
mod common;
use common::*;

use tdx_module_shim::md::field;
use tdx_module_shim::*;

const MNG_RD: u64 = 11;
const MNG_RD_V1: u64 = 11 | 1 << 16;

fn rd(m: &M, id: u64) -> u64 {
    let (s, r) = call_on(m, LP0, MNG_RD, TDR, id, 0, 0);
    assert_eq!(s, 0, "field {id:#x}");
    r.r8
}

fn rd48(m: &M, base: u64) -> [u8; 48] {
    let mut out = [0u8; 48];
    for k in 0..6 {
        out[8 * k..8 * k + 8].copy_from_slice(&rd(m, base + k as u64).to_le_bytes());
    }
    out
}

fn finalized() -> M {
    let m = initialized();
    sept_for_low_gpa(&m);
    m.platform().vmm_write(SRC0, &[0u8; 4096]);
    assert_eq!(call(&m, PAGE_ADD, 0x1000, TDR, DATA0, SRC0), 0);
    for i in 0..16u64 {
        assert_eq!(call(&m, MR_EXTEND, 0x1000 + 256 * i, TDR, 0, 0), 0);
    }
    assert_eq!(call(&m, MR_FINALIZE, TDR, 0, 0, 0), 0);
    m
}

#[test]
fn values_match_td_info() {
    let m = finalized();
    let info = m.td_info(Hpa(TDR)).unwrap();
    assert_eq!(rd48(&m, field::MRTD), info.mrtd.unwrap());
    assert_eq!(rd48(&m, field::MRCONFIGID), [0xC1; 48]);
    assert_eq!(rd48(&m, field::MROWNER), [0x0A; 48]);
    assert_eq!(rd48(&m, field::MROWNERCONFIG), [0x0C; 48]);
    assert_eq!(rd(&m, field::ATTRIBUTES), 1 << 28);
    assert_eq!(rd(&m, field::XFAM), 3);
    assert_eq!(rd(&m, field::MAX_VCPUS), 4);
    assert_eq!(rd(&m, field::GPAW), 0);
    assert_eq!(rd(&m, field::TSC_FREQUENCY), 100);
    assert_eq!(rd(&m, field::OP_STATE), OpState::Runnable as u64);
    assert_eq!(
        rd(&m, field::LIFECYCLE_STATE),
        Lifecycle::KeysConfigured as u64
    );
    assert_eq!(rd(&m, field::CHLDCNT), 10);
    assert_eq!(rd(&m, field::NUM_TDCX), 6);
    assert_eq!(rd(&m, field::TDCX_PA + 5), TDCX0 + 0x5000);
    assert_eq!(rd(&m, field::TDCX_PA + 8), 0);
    assert_eq!(rd(&m, field::HKID), HKID);
    assert_eq!(rd(&m, field::PKG_CONFIG_BITMAP), 3);
    assert_eq!(rd(&m, field::FATAL), 0);
    // The context code is forced to TD; NON_ARCH, INC_SIZE and
    // WRITE_MASK_VALID are ignored.
    assert_eq!(rd(&m, field::XFAM & !(7 << 52)), 3);
    assert_eq!(rd(&m, field::XFAM | 3 << 50), 3);
    // The element size code is not checked (`md_check_as_single_element_id`):
    // Linux reads TDCS_EXEC(TSC_OFFSET) with size code 0. Values are still
    // masked to the field's own size.
    assert_eq!(rd(&m, field::XFAM & !(3 << 32)), 3);
    assert_eq!(rd(&m, field::TSC_OFFSET & !(3 << 32)), 0);
    assert_eq!(rd(&m, field::TSC_MULTIPLIER), 1 << 48);
    assert_eq!(rd(&m, field::HP_LOCK_TIMEOUT), 1_000_000);
    // Before MR.FINALIZE the MRTD field reads zero, OP_STATE INITIALIZED.
    let m = initialized();
    assert_eq!(rd48(&m, field::MRTD), [0; 48]);
    assert_eq!(rd(&m, field::OP_STATE), OpState::Initialized as u64);
}

/// Walks the v1 "next" chain from the null ID; returns the IDs visited.
fn walk(m: &M) -> Vec<u64> {
    let (s, r) = call_on(m, LP0, MNG_RD_V1, TDR, u64::MAX, 0, 0);
    assert_eq!(s, c(Code::MetadataFirstFieldIdInContext));
    assert_eq!(r.rdx, field::FATAL);
    let mut ids = Vec::new();
    let mut id = r.rdx;
    while id != u64::MAX {
        let (s, r) = call_on(m, LP0, MNG_RD_V1, TDR, id, 0, 0);
        assert_eq!(s, 0, "{id:#x}");
        ids.push(id);
        id = r.rdx;
    }
    ids
}

#[test]
fn v1_walks_every_readable_field() {
    // "Next" skips the fields the host cannot read (`md_get_next_accessible_item`):
    // on a production TD, NOTIFY_ENABLES and the RTMRs.
    let ids = walk(&finalized());
    // 4 TDR fields, TDCX_PA x 9, HKID, PKG_CONFIG, 12 TDCS fields, 4 x 6 MR
    // elements.
    assert_eq!(ids.len(), 4 + 9 + 2 + 12 + 24);
    assert!(!ids.contains(&field::NOTIFY_ENABLES));
    assert!(!ids.contains(&field::RTMR));
    assert_eq!(ids.last(), Some(&(field::MROWNERCONFIG + 5)));
    // A DEBUG TD also walks NOTIFY_ENABLES and the 24 RTMR elements.
    let ids = walk(&debug_td());
    assert_eq!(ids.len(), 4 + 9 + 2 + 13 + 24 + 24);
    assert!(ids.contains(&field::NOTIFY_ENABLES));
    assert_eq!(ids.last(), Some(&(field::RTMR + 23)));
    let m = finalized();
    // v1 after MRTD element 5 moves to MRCONFIGID.
    let (_, r) = call_on(&m, LP0, MNG_RD_V1, TDR, field::MRTD + 5, 0, 0);
    assert_eq!(r.rdx, field::MRCONFIGID);
    // Within a field, "next" is the requested ID stepped (its size code
    // kept); the next field starts from the table's ID.
    let size0 = field::MRTD & !(3 << 32);
    let (s, r) = call_on(&m, LP0, MNG_RD_V1, TDR, size0, 0, 0);
    assert_eq!((s, r.rdx), (0, size0 + 1));
    let (s, r) = call_on(&m, LP0, MNG_RD_V1, TDR, size0 + 5, 0, 0);
    assert_eq!((s, r.rdx), (0, field::MRCONFIGID));
    // The last readable element: RDX = -1.
    let (s, r) = call_on(&m, LP0, MNG_RD_V1, TDR, field::MROWNERCONFIG + 5, 0, 0);
    assert_eq!((s, r.rdx), (0, u64::MAX));
    // v0 leaves RDX alone.
    let (_, r) = call_on(&m, LP0, MNG_RD, TDR, field::MRTD, 0, 0);
    assert_eq!(r.rdx, field::MRTD);
}

/// Initialised (not finalised) TD with ATTRIBUTES.DEBUG.
fn debug_td() -> M {
    initialized_as(true)
}

#[test]
fn rtmr_readable_only_for_debug_tds() {
    let m = debug_td();
    for k in 0..24 {
        assert_eq!(rd(&m, field::RTMR + k), 0);
    }
}

#[test]
fn mng_rd_table() {
    use OperandId::*;
    let bad_id = c(Code::MetadataFieldIdIncorrect);
    run_table(
        finalized,
        &[
            (
                "tdr misaligned",
                MNG_RD,
                TDR + 8,
                field::MRTD,
                0,
                0,
                st(Code::OperandInvalid, Rcx),
            ),
            (
                "tdr hkid bits",
                MNG_RD,
                TDR | 1 << 41,
                field::MRTD,
                0,
                0,
                st(Code::OperandInvalid, Rcx),
            ),
            (
                "tdr outside tdmr",
                MNG_RD,
                GIB,
                field::MRTD,
                0,
                0,
                st(Code::OperandAddrRangeError, Rcx),
            ),
            (
                "not a tdr",
                MNG_RD,
                TDCX0,
                field::MRTD,
                0,
                0,
                st(Code::PageMetadataIncorrect, Rcx),
            ),
            (
                "version 2",
                MNG_RD | 2 << 16,
                TDR,
                field::MRTD,
                0,
                0,
                st(Code::OperandInvalid, Rax),
            ),
            (
                "unknown class",
                MNG_RD,
                TDR,
                0x1210_0003_0000_0000,
                0,
                0,
                bad_id,
            ),
            (
                "unknown code",
                MNG_RD,
                TDR,
                field::XFAM + 0x100,
                0,
                0,
                bad_id,
            ),
            ("past mrtd", MNG_RD, TDR, field::MRTD + 6, 0, 0, bad_id),
            (
                "past tdcx_pa",
                MNG_RD,
                TDR,
                field::TDCX_PA + 9,
                0,
                0,
                bad_id,
            ),
            (
                "reserved 31:24",
                MNG_RD,
                TDR,
                field::XFAM | 1 << 24,
                0,
                0,
                bad_id,
            ),
            (
                "last element",
                MNG_RD,
                TDR,
                field::MRTD | 5 << 34,
                0,
                0,
                bad_id,
            ),
            (
                "last field",
                MNG_RD,
                TDR,
                field::XFAM | 1 << 38,
                0,
                0,
                bad_id,
            ),
            (
                "reserved 49:47",
                MNG_RD,
                TDR,
                field::XFAM | 1 << 47,
                0,
                0,
                bad_id,
            ),
            (
                "reserved 55",
                MNG_RD,
                TDR,
                field::XFAM | 1 << 55,
                0,
                0,
                bad_id,
            ),
            (
                "reserved 62",
                MNG_RD,
                TDR,
                field::XFAM | 1 << 62,
                0,
                0,
                bad_id,
            ),
            ("v0 null id", MNG_RD, TDR, u64::MAX, 0, 0, bad_id),
            (
                "rtmr non-debug",
                MNG_RD,
                TDR,
                field::RTMR,
                0,
                0,
                c(Code::MetadataFieldNotReadable),
            ),
        ],
    );
    run_table(
        six_cx,
        &[(
            "uninitialized",
            MNG_RD,
            TDR,
            field::XFAM,
            0,
            0,
            c(Code::OpStateIncorrect),
        )],
    );
    run_table(
        || {
            let m = ready();
            created(&m);
            m
        },
        &[(
            "tdcs not allocated",
            MNG_RD,
            TDR,
            field::XFAM,
            0,
            0,
            c(Code::TdcsNotAllocated),
        )],
    );
    run_table(
        || {
            let m = ready();
            assert_eq!(call(&m, MNG_CREATE, TDR, HKID, 0, 0), 0);
            m
        },
        &[(
            "keys not configured",
            MNG_RD,
            TDR,
            field::XFAM,
            0,
            0,
            c(Code::TdKeysNotConfigured),
        )],
    );
    let m = finalized();
    let e = hold_pamt(&m, TDR);
    assert_eq!(
        call(&m, MNG_RD, TDR, field::XFAM, 0, 0),
        st(Code::OperandBusy, Rcx)
    );
    unhold_pamt(&m, e);
    // Outputs on error: R8 = 0, v1 RDX = -1.
    let (_, r) = call_on(&m, LP0, MNG_RD_V1, TDR, field::XFAM + 0x100, 0x55, 0);
    assert_eq!((r.r8, r.rdx), (0, u64::MAX));
}
