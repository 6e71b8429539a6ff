//! TDH.SYS.RDALL and TDH.SYS.INFO from the ring-3 harness, right after the
//! BSP's TDH.SYS.LP.INIT (module in SYSINIT_DONE: both are legal before
//! SYS_READY). The harness gives the module buffers in its VMM region
//! (`vmm::MD_LIST`, `vmm::SYSINFO`, `vmm::CMR_INFO`), reads back what the
//! module wrote with Load ops, and the CPL 0 side compares it with what
//! TDH.SYS.RD returned to ring 3 for every field.

use tdx_module_shim::sys::SYS_RD_FIELDS;
use tdx_module_shim::sys_info::{BUILD_DATE, BUILD_NUM, TDSYSINFO_LEN};
use tdx_module_shim::{Code, LeafId, MAX_CMRS, OperandId};

use qemu_q35::CpuIndex;
use qemu_q35::paging::UserSpace;

use crate::checks::{check, check_eq};
use crate::harness::{Block, Call};
use crate::td_build::{Script, call};
use crate::{global, st, st0, vmm};

const NULL: u64 = u64::MAX;
const SENTINEL: u64 = 0x5A5A_5A5A_5A5A_5A5A;
const FIELDS: usize = SYS_RD_FIELDS.len();
/// Words of the full list: header, 12 sequence headers, 20 elements.
const LIST_WORDS: usize = 1 + 12 + FIELDS;
/// Loads of the list in the RDALL run (the rest in the next run).
const FIRST_LOADS: usize = 30;
const MAX_TDMRS: u64 = 0x9100_0001_0000_0008;
/// TDSYSINFO_STRUCT words loaded back: offsets 0..=128.
const INFO_WORDS: usize = 17;
/// CMR_INFO entries loaded back.
const CMR_ENTRIES: usize = 2;

/// Ring-3 TDH.SYS.RD of one field: (status, value, next field ID).
type Rd = (u64, u64, u64);

pub fn run(cpu: CpuIndex, space: UserSpace) {
    let rd = sys_rd_all(cpu, space);
    rdall(cpu, space, &rd);
    info(cpu, space, &rd);
}

/// The SYS.RD value of `id` as ring 3 read it.
fn value(rd: &[Rd; FIELDS], id: u64) -> u64 {
    SYS_RD_FIELDS
        .iter()
        .position(|f| f.0 == id)
        .map_or(NULL, |i| rd[i].1)
}

fn sys_rd_all(cpu: CpuIndex, space: UserSpace) -> [Rd; FIELDS] {
    let mut s = Script::new();
    for (id, _) in SYS_RD_FIELDS {
        s.push(Call::seamcall(call(LeafId::SysRd, 0, id, 0, 0)), None);
    }
    let (_, b) = s.run(cpu, space, None);
    let rd: [Rd; FIELDS] = core::array::from_fn(|i| {
        let o = b.calls[i].out;
        (o[0], o[3], o[2])
    });
    let chained = (0..FIELDS).all(|i| {
        let next = SYS_RD_FIELDS.get(i + 1).map_or(NULL, |f| f.0);
        rd[i].0 == 0 && rd[i].2 == next
    });
    check(
        cpu,
        "CPL3 TDH.SYS.RD of all 20 fields: SUCCESS, RDX = the next field",
        chained,
        format_args!("{FIELDS} fields"),
    );
    rd
}

fn loads(s: &mut Script, base: u64, words: core::ops::Range<usize>) {
    for w in words {
        s.push(Call::load(base + 8 * w as u64), None);
    }
}

/// OUT[0] of `n` Load ops starting at record `from`.
fn loaded<const N: usize>(b: &Block, from: usize) -> [u64; N] {
    core::array::from_fn(|i| b.calls.get(from + i).map_or(NULL, |c| c.out[0]))
}

/// (field ID, value) of each field of a list.
type Fields = [(u64, u64); FIELDS];

/// The fields of a list of words, how many, and whether every sequence
/// header is well formed; `None` if the list does not parse.
fn decode(w: &[u64]) -> Option<(Fields, usize, bool)> {
    let mut out = [(0, 0); FIELDS];
    let (mut at, mut n, mut ok) = (1, 0, true);
    for _ in 0..(*w.first()? >> 16) & 0xFFFF {
        let h = *w.get(at)?;
        let fields = ((h >> 38) & 0x1FF) as usize + 1;
        ok &= (h >> 34) & 0xF == 0 && h & (0x7 << 52 | 1 << 51 | 0xFF << 24) == 0;
        for k in 0..fields {
            *out.get_mut(n)? = ((h & !(0x1FF << 38)) + k as u64, *w.get(at + 1 + k)?);
            n += 1;
        }
        at += 1 + fields;
    }
    Some((out, n, ok && (w[0] & 0xFFFF) as usize == 8 * at))
}

fn rdall(cpu: CpuIndex, space: UserSpace, rd: &[Rd; FIELDS]) {
    let list = vmm::MD_LIST;
    let mut s = Script::new();
    s.push(Call::fill(list, vmm::PAGE / 8, SENTINEL), None);
    s.seamcall(
        "CPL3 TDH.SYS.RDALL from -1 (before SYS_READY) -> SUCCESS",
        call(LeafId::SysRdAll, 0, list, NULL, 0),
        0,
    );
    loads(&mut s, list, 0..FIRST_LOADS);
    let (_, b1) = s.run(cpu, space, None);
    let r8 = b1.calls[1].out[3];
    let inv_rdx = st(Code::OperandInvalid, OperandId::Rdx);
    let mut s = Script::new();
    loads(&mut s, list, FIRST_LOADS..LIST_WORDS + 1);
    s.seamcall(
        "CPL3 TDH.SYS.RDALL, list page misaligned -> OPERAND_INVALID + RDX",
        call(LeafId::SysRdAll, 0, list + 8, NULL, 0),
        inv_rdx,
    );
    s.seamcall(
        "CPL3 TDH.SYS.RDALL, unknown field -> METADATA_FIELD_ID_INCORRECT",
        call(LeafId::SysRdAll, 0, list, 0x0800_0001_0000_0007, 0),
        st0(Code::MetadataFieldIdIncorrect),
    );
    s.seamcall(
        "CPL3 TDH.SYS.RDALL into shim memory (not VMM memory) -> OPERAND_INVALID + RDX",
        call(LeafId::SysRdAll, 0, 0x10_0000, NULL, 0),
        inv_rdx,
    );
    s.seamcall(
        "CPL3 TDH.SYS.RDALL from MAX_TDMRS -> SUCCESS",
        call(LeafId::SysRdAll, 0, list, MAX_TDMRS, 0),
        0,
    );
    loads(&mut s, list, 0..2);
    let (_, b2) = s.run(cpu, space, None);

    let tail = LIST_WORDS + 1 - FIRST_LOADS;
    let mut w = [0u64; LIST_WORDS + 1];
    w[..FIRST_LOADS].copy_from_slice(&loaded::<FIRST_LOADS>(&b1, 2));
    w[FIRST_LOADS..].copy_from_slice(&loaded::<{ LIST_WORDS + 1 - FIRST_LOADS }>(&b2, 0));
    check_eq(cpu, "TDH.SYS.RDALL: R8 = -1 (the table ended)", r8, NULL);
    check_eq(
        cpu,
        "TDH.SYS.RDALL list header: 264 bytes, 12 sequences",
        w[0],
        (8 * LIST_WORDS as u64) | (12 << 16),
    );
    let want: Fields = core::array::from_fn(|i| (SYS_RD_FIELDS[i].0, rd[i].1));
    let got = decode(&w[..LIST_WORDS]);
    check(
        cpu,
        "TDH.SYS.RDALL list read from ring 3 = TDH.SYS.RD of every field",
        got.is_some_and(|(f, n, ok)| ok && n == FIELDS && f == want),
        format_args!("{FIELDS} fields, 12 sequence headers"),
    );
    check_eq(
        cpu,
        "TDH.SYS.RDALL wrote only the list (the next word is the VMM's)",
        w[LIST_WORDS],
        SENTINEL,
    );
    let errs_r8 = (tail..tail + 3).all(|i| b2.calls[i].out[3] == NULL);
    check(
        cpu,
        "TDH.SYS.RDALL errors: R8 = -1",
        errs_r8,
        format_args!("3 calls"),
    );
    let [hdr, seq] = loaded::<2>(&b2, tail + 4);
    let from = b2.calls[tail + 3].out[3];
    check(
        cpu,
        "TDH.SYS.RDALL from MAX_TDMRS: 16 fields in 10 sequences, R8 = -1",
        hdr == (8 + 10 * 8 + 16 * 8) | 10 << 16 && seq == MAX_TDMRS | 1 << 38 && from == NULL,
        format_args!("header {hdr:#x}, first sequence {seq:#x}, R8 {from:#x}"),
    );
}

fn info(cpu: CpuIndex, space: UserSpace, rd: &[Rd; FIELDS]) {
    let (si, ci) = (vmm::SYSINFO, vmm::CMR_INFO);
    let inv = |op| st(Code::OperandInvalid, op);
    let mut s = Script::new();
    s.push(Call::fill(si, vmm::PAGE / 8, SENTINEL), None);
    let errors: [(&'static str, [u64; 5], u64); 5] = [
        (
            "CPL3 TDH.SYS.INFO, TDSYSINFO misaligned -> OPERAND_INVALID + RCX",
            call(LeafId::SysInfo, si + 0x200, 1024, ci, 32),
            inv(OperandId::Rcx),
        ),
        (
            "CPL3 TDH.SYS.INFO, size 1023 -> OPERAND_INVALID + RDX",
            call(LeafId::SysInfo, si, 1023, ci, 32),
            inv(OperandId::Rdx),
        ),
        (
            "CPL3 TDH.SYS.INFO, CMR_INFO misaligned -> OPERAND_INVALID + R8",
            call(LeafId::SysInfo, si, 1024, ci + 0x100, 32),
            inv(OperandId::R8),
        ),
        (
            "CPL3 TDH.SYS.INFO, 31 CMR entries -> OPERAND_INVALID + R9",
            call(LeafId::SysInfo, si, 1024, ci, 31),
            inv(OperandId::R9),
        ),
        (
            "CPL3 TDH.SYS.INFO into shim memory (not VMM memory) -> OPERAND_INVALID + RCX",
            call(LeafId::SysInfo, 0x10_0000, 1024, ci, 32),
            inv(OperandId::Rcx),
        ),
    ];
    for (name, c, want) in errors {
        s.seamcall(name, c, want);
    }
    s.push(Call::or_words(si, vmm::PAGE / 8), None);
    let (_, b) = s.run(cpu, space, None);
    let outs_zero = (1..6).all(|i| b.calls[i].out[2] == 0 && b.calls[i].out[4] == 0);
    check(
        cpu,
        "TDH.SYS.INFO errors: RDX = R9 = 0, nothing written",
        outs_zero && b.calls[6].out[0] == SENTINEL,
        format_args!("OR of the page {:#x}", b.calls[6].out[0]),
    );

    let mut s = Script::new();
    s.seamcall(
        "CPL3 TDH.SYS.INFO (before SYS_READY) -> SUCCESS",
        call(LeafId::SysInfo, si, 1024, ci, 32),
        0,
    );
    loads(&mut s, si, 0..INFO_WORDS);
    s.push(
        Call::or_words(si + 8 * INFO_WORDS as u64, 128 - INFO_WORDS as u64),
        None,
    );
    loads(&mut s, ci, 0..2 * CMR_ENTRIES);
    s.push(
        Call::or_words(
            ci + 16 * CMR_ENTRIES as u64,
            2 * (MAX_CMRS - CMR_ENTRIES) as u64,
        ),
        None,
    );
    s.push(Call::load(ci + 16 * MAX_CMRS as u64), None);
    let (_, b) = s.run(cpu, space, None);
    let o = b.calls[0].out;
    check(
        cpu,
        "TDH.SYS.INFO: RDX = 1024, R9 = 32",
        o[2] == TDSYSINFO_LEN as u64 && o[4] == MAX_CMRS as u64,
        format_args!("RDX {:#x}, R9 {}", o[2], o[4]),
    );
    let w: [u64; INFO_WORDS] = loaded(&b, 1);
    let h = |at: usize, bytes: u32| (w[at / 8] >> (8 * (at % 8))) & (u64::MAX >> (64 - 8 * bytes));
    let v = |id: u64| value(rd, id);
    check(
        cpu,
        "TDSYSINFO: VENDOR_ID 0x8086, build, MINOR/MAJOR_VERSION = TDH.SYS.RD, SYS_RD 1",
        h(0, 4) == 0
            && h(4, 4) == 0x8086
            && h(8, 4) == u64::from(BUILD_DATE)
            && h(12, 2) == u64::from(BUILD_NUM)
            && h(14, 2) == v(0x0800_0001_0000_0003)
            && h(16, 2) == v(0x0800_0001_0000_0004)
            && h(18, 1) == 1,
        format_args!("words {:#x} {:#x} {:#x}", w[0], w[1], w[2]),
    );
    check(
        cpu,
        "TDSYSINFO: MAX_TDMRS, MAX_RESERVED_PER_TDMR, PAMT_ENTRY_SIZE = TDH.SYS.RD",
        h(32, 2) == v(MAX_TDMRS)
            && h(34, 2) == v(0x9100_0001_0000_0009)
            && h(36, 2) == v(0x9100_0001_0000_0010),
        format_args!("word {:#x}", w[4]),
    );
    check(
        cpu,
        "TDSYSINFO: TDCS_BASE_SIZE, TDVPS_BASE_SIZE = TDH.SYS.RD",
        h(48, 2) == v(0x9800_0001_0000_0100) && h(52, 2) == v(0x9800_0001_0000_0200),
        format_args!("word {:#x}", w[6]),
    );
    let fixed = (0..4).all(|k| w[8 + k] == v(0x1900_0003_0000_0000 + k as u64));
    check(
        cpu,
        "TDSYSINFO: ATTRIBUTES_FIXED0/1, XFAM_FIXED0/1 = TDH.SYS.RD",
        fixed,
        format_args!("{:#x} {:#x} {:#x} {:#x}", w[8], w[9], w[10], w[11]),
    );
    let reserved = w[2] >> 24 == 0 && w[3] == 0 && w[4] >> 48 == 0 && w[5] == 0;
    let reserved = reserved && w[6] >> 48 == 0 && w[7] == 0 && w[12..16] == [0; 4];
    let rest = b.calls[1 + INFO_WORDS].out[0];
    check(
        cpu,
        "TDSYSINFO: NUM_CPUID_CONFIG = TDH.SYS.RD, reserved bytes 0",
        h(128, 4) == v(0x9900_0001_0000_0004) && reserved && w[16] >> 32 == 0 && rest == 0,
        format_args!("word 16 {:#x}, OR of words 17..127 {rest:#x}", w[16]),
    );
    let at = 2 + INFO_WORDS;
    let c: [u64; 2 * CMR_ENTRIES] = loaded(&b, at);
    let cfg = global::MODULE.get().map(|m| m.config().cmrs);
    let (rest, after) = (
        b.calls[at + 2 * CMR_ENTRIES].out[0],
        b.calls[at + 2 * CMR_ENTRIES + 1].out[0],
    );
    let cmrs_ok = cfg.is_some_and(|cmrs| {
        let others = cmrs[CMR_ENTRIES..]
            .iter()
            .fold(0, |a, x| a | x.base | x.size);
        (0..CMR_ENTRIES).all(|i| (c[2 * i], c[2 * i + 1]) == (cmrs[i].base, cmrs[i].size))
            && rest == others
    });
    check(
        cpu,
        "CMR_INFO read from ring 3 = the module's CMRs, 32 entries written, no more",
        cmrs_ok && after == SENTINEL,
        format_args!(
            "CMR 0 [{:#x}, +{:#x}), CMR 1 [{:#x}, +{:#x})",
            c[0], c[1], c[2], c[3]
        ),
    );
}
