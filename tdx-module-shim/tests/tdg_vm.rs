//! TDG.VM.RD v0/v1 (TDCALL 7) and TDG.VM.WR (TDCALL 8): a running TD
//! reads and writes its TD-scope metadata with the guest masks. Failures
//! in the module's check order with their outputs, round trips of
//! NOTIFY_ENABLES (Linux's boot write), values of every guest-readable
//! field, refused fields, the v1 walk, and the TD lookup's contention.
mod common;
use common::contention::{Hold, OP_BUSY, TDCS, take};
use common::vp_md::{TDVPR, VCX0, VP_INIT, add_vcpu};
use common::*;

use tdx_module_shim::enter::{GuestState, gpr};
use tdx_module_shim::md::field;
use tdx_module_shim::tdg::Tdcall;
use tdx_module_shim::vp::TDVPS_PAGES;
use tdx_module_shim::*;

const VM_RD: u64 = 7;
const VM_RD_V1: u64 = 7 | 1 << 16;
const VM_WR: u64 = 8;
const MNG_RD: u64 = 11;
const SENTINEL: u64 = 0x5E5E_0000;
const NULL: u64 = u64::MAX;
const INV: Code = Code::OperandInvalid;
/// TDCS_NOTIFY_ENABLES as Linux encodes it (context 0, size code 0).
const LINUX_NOTIFY_ENABLES: u64 = 0x9100_0000_0000_0010;

/// The bytes of the TD's page at GPA 0x1000: byte i = i * 3.
fn page() -> [u8; 4096] {
    core::array::from_fn(|i| (i * 3) as u8)
}

/// A RUNNABLE TD (DEBUG or not) with one page at GPA 0x1000, its vCPU
/// running on LP0.
fn running(debug: bool) -> M {
    let m = initialized_as(debug);
    add_vcpu(&m, TDVPR, VCX0, TDVPS_PAGES as u64 - 1);
    assert_eq!(call_on(&m, LP0, VP_INIT, TDVPR, 0, 0, 0).0, 0);
    sept_for_low_gpa(&m);
    m.platform().vmm_write(SRC0, &page());
    assert_eq!(call(&m, PAGE_ADD, 0x1000, TDR, DATA0, SRC0), 0);
    assert_eq!(call(&m, MR_FINALIZE, TDR, 0, 0, 0), 0);
    let mut r = [0u64; 16];
    r[gpr::RCX] = TDVPR;
    m.vp_enter(LP0, &mut r).expect("the vCPU enters");
    m
}

/// A TDCALL on LP0 with the other GPRs at sentinels; returns the GPRs.
fn tdcall(m: &M, rax: u64, rcx: u64, rdx: u64, r8: u64, r9: u64) -> [u64; 16] {
    let mut g = GuestState {
        gprs: core::array::from_fn(|i| SENTINEL + i as u64),
        ..GuestState::default()
    };
    g.gprs[gpr::RAX] = rax;
    (g.gprs[gpr::RCX], g.gprs[gpr::RDX]) = (rcx, rdx);
    (g.gprs[gpr::R8], g.gprs[gpr::R9]) = (r8, r9);
    assert_eq!(m.tdcall(LP0, &mut g), Tdcall::Resume);
    for i in [gpr::RBX, gpr::RSI, gpr::R10, gpr::R11, gpr::R15] {
        assert_eq!(g.gprs[i], SENTINEL + i as u64, "GPR {i} written");
    }
    g.gprs
}

/// TDG.VM.RD v0 of `id`: (RAX, R8).
fn rd(m: &M, id: u64) -> (u64, u64) {
    let g = tdcall(m, VM_RD, 0, id, SENTINEL, 0);
    assert_eq!(g[gpr::RDX], id, "v0 leaves RDX");
    (g[gpr::RAX], g[gpr::R8])
}

/// TDG.VM.WR of `id`: (RAX, R8 = old value).
fn wr(m: &M, id: u64, value: u64, mask: u64) -> (u64, u64) {
    let g = tdcall(m, VM_WR, 0, id, value, mask);
    assert_eq!((g[gpr::RDX], g[gpr::R9]), (id, mask), "inputs kept");
    (g[gpr::RAX], g[gpr::R8])
}

fn word(b: &[u8; 48], k: usize) -> u64 {
    u64::from_le_bytes(b[8 * k..8 * k + 8].try_into().unwrap())
}

#[test]
fn linux_clears_notify_enables_and_the_guest_round_trips_bit_0() {
    for debug in [false, true] {
        let m = running(debug);
        // Linux at boot: tdg_vm_wr(TDCS_NOTIFY_ENABLES, 0, -1).
        assert_eq!(
            wr(&m, LINUX_NOTIFY_ENABLES, 0, NULL),
            (0, 0),
            "debug {debug}"
        );
        assert_eq!(wr(&m, field::NOTIFY_ENABLES, 1, 1), (0, 0));
        assert_eq!(rd(&m, LINUX_NOTIFY_ENABLES), (0, 1));
        // The host sees it on a DEBUG TD only (host read mask).
        let (s, r) = call_on(&m, LP1, MNG_RD, TDR, field::NOTIFY_ENABLES, 0, 0);
        if debug {
            assert_eq!((s, r.r8), (0, 1));
        } else {
            assert_eq!((s, r.r8), (c(Code::MetadataFieldNotReadable), 0));
        }
        // Old value in R8; back to 0.
        assert_eq!(wr(&m, LINUX_NOTIFY_ENABLES, 0, NULL), (0, 1));
        assert_eq!(rd(&m, field::NOTIFY_ENABLES), (0, 0));
        // Only bit 0 is writable: another bit that would change refuses.
        let bad = c(Code::MetadataFieldValueNotValid);
        assert_eq!(wr(&m, field::NOTIFY_ENABLES, 3, NULL), (bad, 0));
        assert_eq!(
            wr(&m, field::NOTIFY_ENABLES, 2, 2),
            (c(Code::MetadataFieldNotWritable), 0)
        );
        assert_eq!(
            wr(&m, field::NOTIFY_ENABLES, 1, 0),
            (c(Code::MetadataFieldNotWritable), 0)
        );
        assert_eq!(rd(&m, field::NOTIFY_ENABLES), (0, 0), "unchanged");
        // Bits outside the write mask may be anything if they do not change.
        assert_eq!(wr(&m, field::NOTIFY_ENABLES, 1, 1), (0, 0));
        assert_eq!(wr(&m, field::NOTIFY_ENABLES, 1, 3), (0, 1));
        assert_eq!(rd(&m, field::NOTIFY_ENABLES), (0, 1));
    }
}

#[test]
fn guest_reads_its_td_fields() {
    let m = running(false);
    // RTMR[1] extended with the 48 bytes at GPA 0x1040.
    let g = tdcall(&m, 2, 0x1040, 1, 0, 0);
    assert_eq!(g[gpr::RAX], 0, "RTMR.EXTEND");
    let td = m.td_info(Hpa(TDR)).unwrap();
    let mrtd = td.mrtd.unwrap();
    let scalar = [
        (field::NUM_VCPUS, 1),
        (field::NUM_L2_VMS, 0),
        (field::ATTRIBUTES, td.attributes),
        (field::XFAM, td.xfam),
        (field::MAX_VCPUS, u64::from(td.max_vcpus)),
        (field::GPAW, 0),
        (field::TSC_FREQUENCY, 100),
        (field::NOTIFY_ENABLES, 0),
    ];
    for (id, want) in scalar {
        assert_eq!(rd(&m, id), (0, want), "field {id:#x}");
    }
    for k in 0..6 {
        assert_eq!(
            rd(&m, field::MRTD + k as u64),
            (0, word(&mrtd, k)),
            "MRTD {k}"
        );
        assert_eq!(
            rd(&m, field::MRCONFIGID + k as u64).1,
            word(&td.mr_config_id, k)
        );
        assert_eq!(rd(&m, field::MROWNER + k as u64).1, word(&td.mr_owner, k));
        assert_eq!(
            rd(&m, field::MROWNERCONFIG + k as u64).1,
            word(&td.mr_owner_config, k)
        );
        for (i, rtmr) in td.rtmr.iter().enumerate() {
            // RTMRs: readable by the guest of a non-DEBUG TD too.
            let id = field::RTMR + 6 * i as u64 + k as u64;
            assert_eq!(rd(&m, id), (0, word(rtmr, k)), "RTMR {i} word {k}");
        }
    }
    assert_ne!(td.rtmr[1], [0; 48]);
    // The element size code and the context code are not checked.
    assert_eq!(rd(&m, field::MAX_VCPUS & !(3 << 32) | 2 << 52), (0, 4));
}

#[test]
fn guest_cannot_read_or_write_the_other_fields() {
    let m = running(true);
    let not_rd = c(Code::MetadataFieldNotReadable);
    let not_wr = c(Code::MetadataFieldNotWritable);
    let hidden = [
        field::FATAL,
        field::NUM_TDCX,
        field::CHLDCNT,
        field::LIFECYCLE_STATE,
        field::TDCX_PA + 3,
        field::HKID,
        field::PKG_CONFIG_BITMAP,
        field::NUM_ASSOC_VCPUS,
        field::OP_STATE,
        field::TSC_OFFSET,
        field::TSC_MULTIPLIER,
        field::HP_LOCK_TIMEOUT,
    ];
    for id in hidden {
        assert_eq!(rd(&m, id), (not_rd, 0), "read {id:#x}");
        let g = tdcall(&m, VM_RD_V1, 0, id, SENTINEL, 0);
        assert_eq!((g[gpr::RAX], g[gpr::R8], g[gpr::RDX]), (not_rd, 0, NULL));
    }
    let read_only = [
        field::ATTRIBUTES,
        field::XFAM,
        field::MRTD + 2,
        field::RTMR + 7,
    ];
    for id in hidden.into_iter().chain(read_only) {
        assert_eq!(wr(&m, id, 0, NULL), (not_wr, 0), "write {id:#x}");
    }
    let before = m.td_info(Hpa(TDR)).unwrap();
    assert_eq!(wr(&m, field::HP_LOCK_TIMEOUT, 20_000, NULL).0, not_wr);
    assert_eq!(m.td_info(Hpa(TDR)).unwrap(), before);
    let (s, r) = call_on(&m, LP1, MNG_RD, TDR, field::HP_LOCK_TIMEOUT, 0, 0);
    assert_eq!((s, r.r8), (0, md::HP_LOCK_TIMEOUT_DEFAULT), "unchanged");
}

#[test]
fn vm_rd_wr_failures_in_check_order() {
    let m = running(true);
    let inv = |op| st(INV, op);
    let bad_id = c(Code::MetadataFieldIdIncorrect);
    let ne = field::NOTIFY_ENABLES;
    // R8 in (VM.WR's value): kept only when the dispatch refuses the leaf.
    const R8_IN: u64 = 0x77;
    // (name, RAX, RCX, RDX, status, R8 out, RDX out)
    let cases: [(&str, u64, u64, u64, u64, u64, u64); 17] = [
        ("rd v2", 7 | 2 << 16, 0, ne, inv(OperandId::Rax), 0, NULL),
        (
            "rd v2, vm id 1",
            7 | 2 << 16,
            1,
            ne,
            inv(OperandId::Rax),
            0,
            NULL,
        ),
        (
            "wr v1 (dispatch)",
            8 | 1 << 16,
            0,
            ne,
            inv(OperandId::Rax),
            R8_IN,
            ne,
        ),
        ("rd vm id 1", VM_RD, 1, ne, inv(OperandId::Rcx), 0, ne),
        (
            "rd v1 vm id 1",
            VM_RD_V1,
            1,
            ne,
            inv(OperandId::Rcx),
            0,
            NULL,
        ),
        ("wr vm id 1", VM_WR, 1, ne, inv(OperandId::Rcx), 0, ne),
        (
            "rd vm id 1, bad field",
            VM_RD,
            1,
            0x1234 << 24,
            inv(OperandId::Rcx),
            0,
            0x1234 << 24,
        ),
        ("rd v0 null id", VM_RD, 0, NULL, bad_id, 0, NULL),
        ("wr null id", VM_WR, 0, NULL, bad_id, 0, NULL),
        (
            "reserved 31:24",
            VM_RD,
            0,
            ne | 1 << 24,
            bad_id,
            0,
            ne | 1 << 24,
        ),
        (
            "last element",
            VM_RD,
            0,
            ne | 1 << 34,
            bad_id,
            0,
            ne | 1 << 34,
        ),
        ("last field", VM_RD_V1, 0, ne | 1 << 38, bad_id, 0, NULL),
        (
            "reserved 49:47",
            VM_WR,
            0,
            ne | 1 << 47,
            bad_id,
            0,
            ne | 1 << 47,
        ),
        (
            "reserved 55",
            VM_RD,
            0,
            ne | 1 << 55,
            bad_id,
            0,
            ne | 1 << 55,
        ),
        (
            "reserved 62",
            VM_RD,
            0,
            ne | 1 << 62,
            bad_id,
            0,
            ne | 1 << 62,
        ),
        ("unknown code", VM_RD, 0, ne + 0x80, bad_id, 0, ne + 0x80),
        (
            "past MRTD",
            VM_WR,
            0,
            field::MRTD + 6,
            bad_id,
            0,
            field::MRTD + 6,
        ),
    ];
    assert_eq!(wr(&m, ne, 1, 1), (0, 0));
    for (name, rax, rcx, rdx, want, r8, rdx_out) in cases {
        let before = m.td_info(Hpa(TDR)).unwrap();
        let g = tdcall(&m, rax, rcx, rdx, R8_IN, NULL);
        assert_eq!(g[gpr::RAX], want, "{name}");
        assert_eq!((g[gpr::R8], g[gpr::RDX]), (r8, rdx_out), "{name}: outputs");
        assert_eq!(m.td_info(Hpa(TDR)).unwrap(), before, "{name}");
        assert_eq!(rd(&m, ne), (0, 1), "{name}: NOTIFY_ENABLES unchanged");
    }
}

#[test]
fn vm_rd_v1_walks_every_guest_readable_field() {
    let m = running(false);
    let warn = c(Code::MetadataFirstFieldIdInContext);
    for null in [NULL, NULL & !(0x7 << 52)] {
        let g = tdcall(&m, VM_RD_V1, 0, null, SENTINEL, 0);
        assert_eq!(
            (g[gpr::RAX], g[gpr::R8]),
            (warn, 0),
            "a warning, not an error"
        );
        assert_eq!(g[gpr::RDX], field::NUM_VCPUS);
    }
    let mut want = vec![
        field::NUM_VCPUS,
        field::NUM_L2_VMS,
        field::ATTRIBUTES,
        field::XFAM,
        field::MAX_VCPUS,
        field::GPAW,
        field::TSC_FREQUENCY,
        field::NOTIFY_ENABLES,
    ];
    for mr in [
        field::MRTD,
        field::MRCONFIGID,
        field::MROWNER,
        field::MROWNERCONFIG,
    ] {
        want.extend((0..6).map(|k| mr + k));
    }
    want.extend((0..24).map(|k| field::RTMR + k));
    let mut got = Vec::new();
    let mut id = field::NUM_VCPUS;
    while id != NULL {
        let g = tdcall(&m, VM_RD_V1, 0, id, 0, 0);
        assert_eq!(g[gpr::RAX], 0, "{id:#x}");
        assert_eq!(g[gpr::R8], rd(&m, id).1, "v1 value = v0 value");
        got.push(id);
        id = g[gpr::RDX];
    }
    assert_eq!(got, want);
}

#[test]
fn td_lookup_contention() {
    let busy = |op| st(Code::OperandBusy, op);
    let holds = [
        (Hold::Pamt(TDVPR), busy(OperandId::Tdvpr)),
        (Hold::Pamt(TDR), busy(OperandId::Tdr)),
        (TDCS, OP_BUSY),
    ];
    for (hold, want) in holds {
        let m = running(true);
        assert_eq!(wr(&m, field::NOTIFY_ENABLES, 1, 1), (0, 0));
        {
            let _held = take(&m, hold);
            assert_eq!(rd(&m, field::NOTIFY_ENABLES), (want, 0), "{hold:?}");
            assert_eq!(
                wr(&m, field::NOTIFY_ENABLES, 0, NULL),
                (want, 0),
                "{hold:?}"
            );
        }
        assert_eq!(rd(&m, field::NOTIFY_ENABLES), (0, 1), "{hold:?}: unchanged");
    }
}
