//! TDH.SYS.RDALL (leaf 37) and TDH.SYS.INFO (leaf 32): failures in the
//! module's check order with their outputs and no write to VMM memory, the
//! md_list decoded and compared with TDH.SYS.RD of every field (and its
//! continuation through a full buffer), TDSYSINFO_STRUCT and CMR_INFO
//! decoded field by field.
mod common;
use common::*;

use tdx_module_shim::sys::SYS_RD_FIELDS;
use tdx_module_shim::sys_info::{self, MdList, sys_md_list};
use tdx_module_shim::*;

const SYS_INFO: u64 = 32;
const SYS_RDALL: u64 = 37;
/// The RDALL list page, the TDSYSINFO page and the CMR_INFO page.
const LIST: u64 = 0x50_0000;
const INFO: u64 = 0x51_0000;
const CMRS: u64 = 0x52_0000;
const SENTINEL: u8 = 0xA5;
const NULL: u64 = u64::MAX;
const INV: Code = Code::OperandInvalid;
const MAX_TDMRS: u64 = 0x9100_0001_0000_0008;

/// Fills the three buffer pages with [`SENTINEL`].
fn fill(m: &M) {
    for pa in [LIST, INFO, CMRS] {
        m.platform().vmm_write(pa, &[SENTINEL; 4096]);
    }
}

fn page(m: &M, pa: u64) -> Vec<u8> {
    let mut b = vec![0u8; 4096];
    m.platform().read(pa, &mut b);
    b
}

fn untouched(m: &M) -> bool {
    [LIST, INFO, CMRS]
        .iter()
        .all(|&pa| page(m, pa).iter().all(|&b| b == SENTINEL))
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

/// A decoded md_list: (LIST_BUFF_SIZE, NUM_SEQUENCES, sequences of
/// (header, elements)).
type Decoded = (usize, usize, Vec<(u64, Vec<u64>)>);

fn decode(b: &[u8]) -> Decoded {
    let hdr = u64_at(b, 0);
    assert_eq!(hdr >> 32, 0, "reserved header bits");
    let (size, nseq) = ((hdr & 0xFFFF) as usize, ((hdr >> 16) & 0xFFFF) as usize);
    let mut at = 8;
    let mut seqs = Vec::new();
    for _ in 0..nseq {
        let h = u64_at(b, at);
        let (elems, fields) = (((h >> 34) & 0xF) + 1, ((h >> 38) & 0x1FF) + 1);
        let n = (elems * fields) as usize;
        let values = (0..n).map(|k| u64_at(b, at + 8 + 8 * k)).collect();
        seqs.push((h, values));
        at += 8 + 8 * n;
    }
    assert_eq!(at, size, "LIST_BUFF_SIZE = bytes of header and sequences");
    (size, nseq, seqs)
}

/// (field ID, value) of every field of a decoded list, checking each
/// sequence header (context SYS, reserved bits and WRITE_MASK_VALID 0,
/// one element per field).
fn fields(d: &Decoded) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    for (h, values) in &d.2 {
        assert_eq!(
            h & (0x7 << 52 | 1 << 51 | 0xFF << 24 | 0x7 << 47 | 1 << 55 | 1 << 62),
            0
        );
        assert_eq!((h >> 34) & 0xF, 0, "one element per field");
        let base = h & !(0x1FF << 38);
        for (k, v) in values.iter().enumerate() {
            out.push((base + k as u64, *v));
        }
    }
    out
}

/// Every field by TDH.SYS.RD, following its next-field chain from the
/// first table field: (ID, value).
fn sys_rd_chain(m: &M) -> Vec<(u64, u64)> {
    let mut id = SYS_RD_FIELDS[0].0;
    let mut out = Vec::new();
    while id != NULL {
        let (s, r) = call_on(m, LP0, SYS_RD, 0, id, 0, 0);
        assert_eq!(s, 0, "SYS.RD {id:#x}");
        out.push((id, r.r8));
        id = r.rdx;
    }
    out
}

#[test]
fn rdall_lists_every_sys_rd_field_in_one_page() {
    let m = ready();
    fill(&m);
    let (s, r) = call_on(&m, LP0, SYS_RDALL, 0, LIST, NULL, 0);
    assert_eq!((s, r.r8), (0, NULL), "SUCCESS, the table ended");
    assert_eq!(m.platform().copies_out(), 1, "one copy-out");
    let b = page(&m, LIST);
    let d = decode(&b);
    // 12 sequences: versions, FEATURES0, MAX_TDMRS..RSVD, PAMT sizes, TDR,
    // TDCS, TDVPS, ATTRIBUTES/XFAM fixed, NUM_CPUID, MAX_VCPUS, leaves, values.
    assert_eq!((d.0, d.1), (8 + 12 * 8 + 20 * 8, 12));
    assert!(
        b[d.0..].iter().all(|&x| x == SENTINEL),
        "only the list is written"
    );
    assert_eq!(
        fields(&d),
        sys_rd_chain(&m),
        "the list = SYS.RD of every field"
    );
    let lens: Vec<usize> = d.2.iter().map(|s| s.1.len()).collect();
    assert_eq!(lens, [3, 1, 2, 3, 1, 1, 1, 4, 1, 1, 1, 1]);
    // The context code of the request is ignored (forced to SYS).
    let (s, r) = call_on(&m, LP0, SYS_RDALL, 0, LIST, NULL & !(0x7 << 52), 0);
    assert_eq!((s, r.r8), (0, NULL));
}

#[test]
fn rdall_starts_at_any_field_ignoring_the_other_id_bits() {
    let m = ready();
    let want = sys_rd_chain(&m);
    for (i, &(id, _)) in SYS_RD_FIELDS.iter().enumerate() {
        // Context, reserved 31:24, LAST_* and NON_ARCH bits are ignored.
        let noisy = (id ^ 1 << 63) | 2 << 52 | 0xFF << 24 | 0xF << 34 | 0x1FF << 38;
        for first in [id, noisy] {
            fill(&m);
            let (s, r) = call_on(&m, LP0, SYS_RDALL, 0, LIST, first, 0);
            assert_eq!((s, r.r8), (0, NULL), "from {first:#x}");
            let got = fields(&decode(&page(&m, LIST)));
            assert_eq!(got, want[i..], "from {first:#x}");
            // The first sequence header is the table's ID.
            assert_eq!(u64_at(&page(&m, LIST), 8) & !(0x1FF << 38), id);
        }
    }
}

#[test]
fn md_list_fills_small_buffers_and_continues_at_the_next_field() {
    let want: Vec<(u64, u64)> = SYS_RD_FIELDS.to_vec();
    for size in 32..=272 {
        let mut first = NULL;
        let mut got = Vec::new();
        let mut calls = 0;
        loop {
            let mut b = vec![SENTINEL; size];
            let l = sys_md_list(first, &mut b).unwrap();
            assert!(l.len <= size && b[l.len..].iter().all(|&x| x == SENTINEL));
            got.extend(fields(&decode(&b)));
            calls += 1;
            if l.next == NULL {
                assert_eq!(l.status(), Status::SUCCESS);
                break;
            }
            assert_eq!(l.status(), Status::new(Code::MetadataListOverflow));
            assert_ne!(l.len, 8, "size {size}: at least one field per call");
            first = l.next;
        }
        assert_eq!(got, want, "size {size}");
        assert_eq!(calls == 1, size >= 264, "size {size}: {calls} calls");
    }
    // A field is never split, and a sequence goes on in the next list.
    let mut b = [0u8; 40]; // header, one sequence header, three elements
    let l = sys_md_list(NULL, &mut b).unwrap();
    assert_eq!(
        l,
        MdList {
            len: 40,
            next: 0x0A00_0003_0000_0008
        }
    );
    let l = sys_md_list(0x0800_0001_0000_0004, &mut b[..32]).unwrap();
    assert_eq!((l.len, l.next), (32, 0x0A00_0003_0000_0008));
    assert_eq!(u64_at(&b, 8), 0x0800_0001_0000_0004 | 1 << 38, "two fields");
    // Under 32 bytes: nothing written, next = the first field asked for.
    for size in [0, 8, 24, 31] {
        let mut b = vec![SENTINEL; size];
        let l = sys_md_list(MAX_TDMRS | 1 << 52, &mut b).unwrap();
        assert_eq!(
            l,
            MdList {
                len: 0,
                next: MAX_TDMRS
            }
        );
        assert_eq!(l.status(), Status::new(Code::MetadataListOverflow));
        assert!(b.iter().all(|&x| x == SENTINEL));
    }
}

#[test]
fn rdall_failures_in_check_order() {
    let bad_id = c(Code::MetadataFieldIdIncorrect);
    let inv_rdx = st(INV, OperandId::Rdx);
    // (name, RDX, R8, status)
    let cases: [(&str, u64, u64, u64); 10] = [
        ("page misaligned", LIST + 8, NULL, inv_rdx),
        ("page hkid bits", LIST | 1 << 40, NULL, inv_rdx),
        ("page misaligned, bad field", LIST + 0x800, 0x1234, inv_rdx),
        ("unknown field code", LIST, 0x0800_0001_0000_0007, bad_id),
        ("unknown class", LIST, 0x0C00_0001_0000_0003, bad_id),
        ("wrong element size", LIST, 0x0800_0003_0000_0004, bad_id),
        ("bad field, page isolated", PAMT_4K, 0x1234, bad_id),
        ("page isolated (PAMT)", PAMT_4K, NULL, inv_rdx),
        ("page not RAM", RAM_END, NULL, inv_rdx),
        ("page not RAM, from a field", RAM_END, MAX_TDMRS, inv_rdx),
    ];
    for (name, rdx, r8, want) in cases {
        let m = ready();
        fill(&m);
        let (s, r) = call_on(&m, LP0, SYS_RDALL, 0, rdx, r8, 0);
        assert_eq!((s, r.r8), (want, NULL), "{name}: status, R8 = -1");
        assert!(untouched(&m), "{name}: VMM memory written");
        assert_eq!(m.platform().copies_out(), 0, "{name}");
        assert_eq!(m.sys_state(), SysState::SysReady, "{name}");
    }
}

#[test]
fn info_and_rdall_are_legal_before_sys_ready_but_not_before_lp_init() {
    let m = module();
    assert_eq!(call(&m, SYS_INIT, 0, 0, 0, 0), 0);
    fill(&m);
    // LP0 has not done TDH.SYS.LP.INIT.
    let nope = c(Code::SysLpInitNotDone);
    assert_eq!(call(&m, SYS_RDALL, 0, LIST, NULL, 0), nope);
    assert_eq!(call(&m, SYS_INFO, INFO, 1024, CMRS, 32), nope);
    assert!(untouched(&m));
    assert_eq!(call_on(&m, LP0, SYS_LP_INIT, 0, 0, 0, 0).0, 0);
    // SYSINIT_DONE, then SYSCONFIG_DONE.
    for configure in [false, true] {
        if configure {
            assert_eq!(call_on(&m, LP1, SYS_LP_INIT, 0, 0, 0, 0).0, 0);
            write_tdmrs(&m, &[tdmr0()]);
            assert_eq!(call(&m, SYS_CONFIG, TDMR_ARRAY, 1, GLOBAL_HKID, 0), 0);
        }
        let (s, r) = call_on(&m, LP0, SYS_RDALL, 0, LIST, NULL, 0);
        assert_eq!((s, r.r8), (0, NULL));
        let (s, r) = call_on(&m, LP0, SYS_INFO, INFO, 1024, CMRS, 32);
        assert_eq!((s, r.rdx, r.r9), (0, 1024, 32));
    }
    assert_eq!(m.sys_state(), SysState::SysconfigDone);
}

fn u16_at(b: &[u8], at: usize) -> u64 {
    u64::from(u16::from_le_bytes([b[at], b[at + 1]]))
}

fn u32_at(b: &[u8], at: usize) -> u64 {
    u64::from(u32::from_le_bytes(b[at..at + 4].try_into().unwrap()))
}

fn sys_rd(m: &M, id: u64) -> u64 {
    let (s, r) = call_on(m, LP0, SYS_RD, 0, id, 0, 0);
    assert_eq!(s, 0);
    r.r8
}

#[test]
fn info_writes_tdsysinfo_and_cmr_info() {
    let m = ready();
    fill(&m);
    // A bigger buffer and more entries than needed are fine.
    let (s, r) = call_on(&m, LP0, SYS_INFO, INFO, 4096, CMRS, 64);
    assert_eq!((s, r.rdx, r.r9), (0, 1024, 32), "RDX = 1024, R9 = 32");
    assert_eq!((r.rcx, r.r8), (INFO, CMRS), "inputs kept");
    assert_eq!(m.platform().copies_out(), 2, "one copy-out per buffer");
    let b = page(&m, INFO);
    assert_eq!(u32_at(&b, 0), 0, "ATTRIBUTES");
    assert_eq!(u32_at(&b, 4), 0x8086, "VENDOR_ID");
    assert_eq!(u32_at(&b, 8), u64::from(sys_info::BUILD_DATE), "BUILD_DATE");
    assert_eq!(u16_at(&b, 12), u64::from(sys_info::BUILD_NUM), "BUILD_NUM");
    assert_eq!(
        u16_at(&b, 14),
        sys_rd(&m, 0x0800_0001_0000_0003),
        "MINOR_VERSION"
    );
    assert_eq!(
        u16_at(&b, 16),
        sys_rd(&m, 0x0800_0001_0000_0004),
        "MAJOR_VERSION"
    );
    assert_eq!(b[18], 1, "SYS_RD");
    assert_eq!(u16_at(&b, 32), sys_rd(&m, MAX_TDMRS), "MAX_TDMRS");
    assert_eq!(
        u16_at(&b, 34),
        sys_rd(&m, 0x9100_0001_0000_0009),
        "MAX_RSVD"
    );
    assert_eq!(
        u16_at(&b, 36),
        sys_rd(&m, 0x9100_0001_0000_0010),
        "PAMT entry"
    );
    assert_eq!(
        u16_at(&b, 48),
        sys_rd(&m, 0x9800_0001_0000_0100),
        "TDCS_BASE_SIZE"
    );
    assert_eq!(
        u16_at(&b, 52),
        sys_rd(&m, 0x9800_0001_0000_0200),
        "TDVPS_BASE_SIZE"
    );
    assert_eq!(b[54], 0, "TDVPS_XFAM_DEPENDENT_SIZE");
    for (k, id) in (0..4).map(|k| (k, 0x1900_0003_0000_0000 + k)) {
        assert_eq!(u64_at(&b, 64 + 8 * k as usize), sys_rd(&m, id), "fixed {k}");
    }
    assert_eq!(
        u32_at(&b, 128),
        sys_rd(&m, 0x9900_0001_0000_0004),
        "NUM_CPUID_CONFIG"
    );
    let fields = [
        0..4,
        4..8,
        8..12,
        12..14,
        14..16,
        16..18,
        18..19,
        32..34,
        34..36,
        36..38,
    ];
    let fields = [&fields[..], &[48..50, 52..54, 54..55, 64..96, 128..132]].concat();
    for (i, x) in b[..1024].iter().enumerate() {
        if !fields.iter().any(|f| f.contains(&i)) {
            assert_eq!(*x, 0, "reserved byte {i}");
        }
    }
    assert!(b[1024..].iter().all(|&x| x == SENTINEL), "only 1024 bytes");
    let c = page(&m, CMRS);
    let cfg = config();
    for (i, cmr) in cfg.cmrs.iter().enumerate() {
        assert_eq!(
            (u64_at(&c, 16 * i), u64_at(&c, 16 * i + 8)),
            (cmr.base, cmr.size)
        );
    }
    assert_eq!((u64_at(&c, 0), u64_at(&c, 8)), (0, RAM_END), "CMR 0");
    assert!(c[512..].iter().all(|&x| x == SENTINEL), "only 32 entries");
    assert_eq!(m.cmr_info()[..], c[..512]);
    assert_eq!(sys_info::tdsysinfo()[..], b[..1024]);
}

#[test]
fn info_failures_in_check_order() {
    let inv = |op| st(INV, op);
    use OperandId::*;
    // (name, RCX, RDX, R8, R9, status)
    let cases: [(&str, u64, u64, u64, u64, u64); 14] = [
        ("info misaligned", INFO + 0x200, 1024, CMRS, 32, inv(Rcx)),
        ("info hkid bits", INFO | 1 << 40, 1024, CMRS, 32, inv(Rcx)),
        (
            "info misaligned, size small",
            INFO + 8,
            1023,
            CMRS,
            32,
            inv(Rcx),
        ),
        ("size 1023", INFO, 1023, CMRS, 32, inv(Rdx)),
        ("size 0, cmr misaligned", INFO, 0, CMRS + 8, 32, inv(Rdx)),
        ("cmr misaligned", INFO, 1024, CMRS + 0x100, 32, inv(R8)),
        ("cmr hkid bits", INFO, 1024, CMRS | 1 << 45, 32, inv(R8)),
        (
            "cmr misaligned, 31 entries",
            INFO,
            1024,
            CMRS + 8,
            31,
            inv(R8),
        ),
        ("31 entries", INFO, 1024, CMRS, 31, inv(R9)),
        ("0 entries", INFO, 1024, CMRS, 0, inv(R9)),
        (
            "31 entries, info isolated",
            PAMT_4K,
            1024,
            CMRS,
            31,
            inv(R9),
        ),
        ("info isolated (PAMT)", PAMT_4K, 1024, CMRS, 32, inv(Rcx)),
        ("info not RAM", RAM_END, 1024, CMRS, 32, inv(Rcx)),
        (
            "info not RAM, cmr not RAM",
            RAM_END,
            1024,
            RAM_END + 0x1000,
            32,
            inv(Rcx),
        ),
    ];
    for (name, rcx, rdx, r8, r9, want) in cases {
        let m = ready();
        fill(&m);
        let (s, r) = call_on(&m, LP0, SYS_INFO, rcx, rdx, r8, r9);
        assert_eq!(
            (s, r.rdx, r.r9),
            (want, 0, 0),
            "{name}: status, RDX = R9 = 0"
        );
        assert!(untouched(&m), "{name}: VMM memory written");
        assert_eq!(m.platform().copies_out(), 0, "{name}");
    }
    // The CMR_INFO copy fails after TDSYSINFO_STRUCT was written (the
    // module has zeroed that buffer by then too): OPERAND_INVALID + R8.
    let m = ready();
    fill(&m);
    let (s, r) = call_on(&m, LP0, SYS_INFO, INFO, 1024, PAMT_4K, 32);
    assert_eq!((s, r.rdx, r.r9), (inv(R8), 0, 0));
    assert_eq!(page(&m, INFO)[..1024], sys_info::tdsysinfo()[..]);
    assert_eq!(m.platform().copies_out(), 1);
}
