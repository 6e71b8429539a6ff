//! TDH.SYS.INFO (leaf 32) and TDH.SYS.RDALL (leaf 37): the module's
//! enumeration written into VMM memory (tdx-module-abi.md §2), from the
//! same field table as TDH.SYS.RD ([`SYS_RD_FIELDS`]).
//!
//! # TDH.SYS.INFO (`tdh_sys_info.c`)
//!
//! In: RCX = TDSYSINFO_STRUCT HPA (1024-aligned), RDX = its size (≥ 1024),
//! R8 = CMR_INFO array HPA (512-aligned: 32 entries of 16 bytes), R9 =
//! entries (≥ 32). Out: RDX = 1024, R9 = 32 (0 and 0 on error). Checks in
//! the module's order, each OPERAND_INVALID with the register's operand
//! ID: RCX alignment and HPA check, RDX, R8 alignment and HPA check, R9.
//! The shim's HPA check is `Module::check_hpa` (HKID bits 0: VMM memory has
//! no HKID aliases here); a buffer that is not VMM memory (nothing there,
//! or isolated) fails its copy-out with OPERAND_INVALID and its operand.
//! The module zeroes the TDSYSINFO buffer before it checks R8 and R9; the
//! shim writes nothing unless every check passed.
//!
//! TDSYSINFO_STRUCT (`td_sys_info_t` in `tdx_api_defs.h`; Linux 6.2–6.7
//! `struct tdsysinfo_struct`), little-endian, all other bytes 0:
//!
//! | Offset | Size | Field | Shim value |
//! |---|---|---|---|
//! | 0 | 4 | ATTRIBUTES | 0 (bit 31 = debug module) |
//! | 4 | 4 | VENDOR_ID | 0x8086 |
//! | 8 | 4 | BUILD_DATE | [`BUILD_DATE`] |
//! | 12 | 2 | BUILD_NUM | [`BUILD_NUM`] |
//! | 14 / 16 | 2 / 2 | MINOR_VERSION / MAJOR_VERSION | SYS.RD |
//! | 18 | 1 | SYS_RD (1.5: use TDH.SYS.RD*) | 1 |
//! | 32 / 34 / 36 | 2 each | MAX_TDMRS / MAX_RESERVED_PER_TDMR / PAMT_ENTRY_SIZE | SYS.RD |
//! | 48 / 52 | 2 / 2 | TDCS_BASE_SIZE / TDVPS_BASE_SIZE | SYS.RD |
//! | 54 | 1 | TDVPS_XFAM_DEPENDENT_SIZE | 0 |
//! | 64 / 72 | 8 / 8 | ATTRIBUTES_FIXED0 / FIXED1 | SYS.RD |
//! | 80 / 88 | 8 / 8 | XFAM_FIXED0 / FIXED1 | SYS.RD |
//! | 128 | 4 | NUM_CPUID_CONFIG | SYS.RD (0) |
//! | 132 | 24 × n | CPUID_CONFIG {leaf, subleaf, eax, ebx, ecx, edx} | none |
//!
//! CMR_INFO entry i (16 bytes): base, size of `ModuleConfig::cmrs[i]`.
//!
//! # TDH.SYS.RDALL (`tdh_sys_rdall.c`, `md_dump_list` in `metadata_generic.c`)
//!
//! In: RDX = list page HPA (4 KiB-aligned), R8 = first field ID (context
//! forced to SYS; −1 = the first field). Out: R8 = the next field ID to
//! dump, −1 when the table ended (also on error). Checks: RDX as an HPA
//! (OPERAND_INVALID with operand RDX), then R8: a non-null ID must name a
//! field by class and field code, at the start of the field, with the
//! field's element size code (METADATA_FIELD_ID_INCORRECT, no operand;
//! other bits are ignored). A page that is not VMM memory fails the
//! copy-out: OPERAND_INVALID with operand RDX.
//! Status: SUCCESS when the table ended, METADATA_LIST_OVERFLOW when the
//! page is full and fields remain (the list is still written; call again
//! with RDX = a page, R8 = the returned ID).
//!
//! The md_list, written once at the end, only its used bytes:
//! - header (8 bytes): u16 LIST_BUFF_SIZE (bytes used, header included),
//!   u16 NUM_SEQUENCES, u32 reserved 0;
//! - then NUM_SEQUENCES sequences: a sequence header (the field ID of its
//!   first field, context SYS, reserved bits 0, WRITE_MASK_VALID 0,
//!   LAST_ELEMENT_IN_FIELD = elements − 1, LAST_FIELD_IN_SEQUENCE =
//!   fields − 1), then every element of every field as a u64.
//!
//! A sequence goes on while the next field has the same class code, the
//! next field code, and the same element count and size. Only whole fields
//! are written. A buffer under 32 bytes holds nothing: LIST_OVERFLOW with
//! next = the first field ID. The shim's 20 fields take 264 bytes, so the
//! leaf's 4 KiB page never overflows; [`sys_md_list`] shows the format with
//! smaller buffers.

use crate::platform::TdxPlatform;
use crate::status::{Code, OperandId, Status, TdxResult};
use crate::sys::{SYS_RD_FIELDS, sys_field};
use crate::types::{PAGE_SIZE, VmmRegs};
use crate::{MAX_CMRS, Module};

/// TDSYSINFO_STRUCT size and alignment.
pub const TDSYSINFO_LEN: usize = 1024;
/// One CMR_INFO entry: base, size.
pub const CMR_INFO_ENTRY_LEN: usize = 16;
/// The CMR_INFO array the module writes (and its alignment).
pub const CMR_INFO_LEN: usize = MAX_CMRS * CMR_INFO_ENTRY_LEN;
/// The TDH.SYS.RDALL list buffer.
pub const MD_LIST_LEN: usize = PAGE_SIZE as usize;
/// TDSYSINFO_STRUCT.VENDOR_ID.
pub const VENDOR_ID: u32 = 0x8086;
/// TDSYSINFO_STRUCT.BUILD_DATE: the shim has no build stamp (shim choice).
pub const BUILD_DATE: u32 = 0;
/// TDSYSINFO_STRUCT.BUILD_NUM (shim choice, as [`BUILD_DATE`]).
pub const BUILD_NUM: u16 = 0;

/// SYS-context field IDs TDSYSINFO_STRUCT repeats.
mod id {
    pub const MINOR_VERSION: u64 = 0x0800_0001_0000_0003;
    pub const MAJOR_VERSION: u64 = 0x0800_0001_0000_0004;
    pub const MAX_TDMRS: u64 = 0x9100_0001_0000_0008;
    pub const MAX_RESERVED_PER_TDMR: u64 = 0x9100_0001_0000_0009;
    pub const PAMT_4K_ENTRY_SIZE: u64 = 0x9100_0001_0000_0010;
    pub const TDCS_BASE_SIZE: u64 = 0x9800_0001_0000_0100;
    pub const TDVPS_BASE_SIZE: u64 = 0x9800_0001_0000_0200;
    pub const ATTRIBUTES_FIXED0: u64 = 0x1900_0003_0000_0000;
    pub const ATTRIBUTES_FIXED1: u64 = 0x1900_0003_0000_0001;
    pub const XFAM_FIXED0: u64 = 0x1900_0003_0000_0002;
    pub const XFAM_FIXED1: u64 = 0x1900_0003_0000_0003;
    pub const NUM_CPUID_CONFIG: u64 = 0x9900_0001_0000_0004;
}

const NULL_ID: u64 = u64::MAX;
const CONTEXT_MASK: u64 = 0x7 << 52;
const CODE_MASK: u64 = 0xFF_FFFF;
const HDR_LEN: usize = 8;
/// The smallest buffer `md_dump_list` fills: list header, a sequence
/// header and MAX_ELEMENTS_IN_FIELD (16) bytes, as the module counts it.
const MIN_LIST_LEN: usize = HDR_LEN + 8 + 16;

fn class(id: u64) -> u64 {
    (id >> 56) & 0x3F
}

fn size_code(id: u64) -> u64 {
    (id >> 32) & 3
}

/// The next table field continues the sequence of field `i`.
fn sequential(i: usize, j: usize) -> bool {
    let (a, b) = (SYS_RD_FIELDS[i].0, SYS_RD_FIELDS[j].0);
    class(a) == class(b) && (a & CODE_MASK) + 1 == b & CODE_MASK && size_code(a) == size_code(b)
}

/// What [`sys_md_list`] wrote.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MdList {
    /// Bytes of the buffer used (the header's LIST_BUFF_SIZE; 0 if none).
    pub len: usize,
    /// The next field ID to dump, −1 if the table ended.
    pub next: u64,
}

impl MdList {
    /// SUCCESS if the table ended, else METADATA_LIST_OVERFLOW.
    pub fn status(&self) -> Status {
        if self.next == NULL_ID {
            Status::SUCCESS
        } else {
            Code::MetadataListOverflow.into()
        }
    }
}

/// TDH.SYS.RDALL's list: the SYS fields from `first` (−1 = the first
/// field) into `out`, in the md_list format of the module docs; `out` may
/// be any size (the leaf passes 4 KiB). Bytes past [`MdList::len`] are
/// left as they were. Err: METADATA_FIELD_ID_INCORRECT.
pub fn sys_md_list(first: u64, out: &mut [u8]) -> Result<MdList, Status> {
    let first = first & !CONTEXT_MASK;
    if out.len() < MIN_LIST_LEN {
        return Ok(MdList {
            len: 0,
            next: first,
        });
    }
    let mut i = if first | CONTEXT_MASK == NULL_ID {
        0
    } else {
        SYS_RD_FIELDS
            .iter()
            .position(|&(e, _)| {
                class(e) == class(first)
                    && e & CODE_MASK == first & CODE_MASK
                    && size_code(e) == size_code(first)
            })
            .ok_or(Status::new(Code::MetadataFieldIdIncorrect))?
    };
    let put = |out: &mut [u8], at: usize, v: u64| out[at..at + 8].copy_from_slice(&v.to_le_bytes());
    let (mut pos, mut sequences) = (HDR_LEN, 0u64);
    let n = SYS_RD_FIELDS.len();
    // A sequence header plus one (one-element) field must fit.
    while i < n && out.len() - pos >= 16 {
        let (head, start) = (pos, i);
        pos += 8;
        let mut full = false;
        loop {
            put(out, pos, SYS_RD_FIELDS[i].1);
            pos += 8;
            i += 1;
            if i == n || !sequential(i - 1, i) {
                break;
            }
            if out.len() - pos < 8 {
                full = true;
                break;
            }
        }
        let fields = (i - start) as u64;
        put(out, head, SYS_RD_FIELDS[start].0 | (fields - 1) << 38);
        sequences += 1;
        if full {
            break;
        }
    }
    put(out, 0, pos as u64 | sequences << 16);
    Ok(MdList {
        len: pos,
        next: SYS_RD_FIELDS.get(i).map_or(NULL_ID, |f| f.0),
    })
}

/// TDSYSINFO_STRUCT as the module docs lay it out.
pub fn tdsysinfo() -> [u8; TDSYSINFO_LEN] {
    let mut b = [0u8; TDSYSINFO_LEN];
    let mut put = |at: usize, len: usize, v: u64| {
        b[at..at + len].copy_from_slice(&v.to_le_bytes()[..len]);
    };
    put(4, 4, u64::from(VENDOR_ID));
    put(8, 4, u64::from(BUILD_DATE));
    put(12, 2, u64::from(BUILD_NUM));
    put(14, 2, sys_field(id::MINOR_VERSION));
    put(16, 2, sys_field(id::MAJOR_VERSION));
    put(18, 1, 1);
    put(32, 2, sys_field(id::MAX_TDMRS));
    put(34, 2, sys_field(id::MAX_RESERVED_PER_TDMR));
    put(36, 2, sys_field(id::PAMT_4K_ENTRY_SIZE));
    put(48, 2, sys_field(id::TDCS_BASE_SIZE));
    put(52, 2, sys_field(id::TDVPS_BASE_SIZE));
    put(64, 8, sys_field(id::ATTRIBUTES_FIXED0));
    put(72, 8, sys_field(id::ATTRIBUTES_FIXED1));
    put(80, 8, sys_field(id::XFAM_FIXED0));
    put(88, 8, sys_field(id::XFAM_FIXED1));
    // No CPUID_CONFIG entries follow.
    put(128, 4, sys_field(id::NUM_CPUID_CONFIG));
    b
}

impl<P: TdxPlatform> Module<P> {
    /// The CMR_INFO array of the configured CMRs.
    pub fn cmr_info(&self) -> [u8; CMR_INFO_LEN] {
        let mut b = [0u8; CMR_INFO_LEN];
        for (e, c) in b.chunks_exact_mut(CMR_INFO_ENTRY_LEN).zip(&self.cfg.cmrs) {
            e[..8].copy_from_slice(&c.base.to_le_bytes());
            e[8..].copy_from_slice(&c.size.to_le_bytes());
        }
        b
    }

    /// TDH.SYS.INFO (leaf 32), in the order of the module docs.
    pub(crate) fn sys_info(&self, regs: &mut VmmRegs) -> TdxResult<Status> {
        let (size, entries) = (regs.rdx, regs.r9);
        (regs.rdx, regs.r9) = (0, 0);
        let bad = |op| Status::with_operand(Code::OperandInvalid, op);
        let info = self.check_hpa(regs.rcx, TDSYSINFO_LEN as u64, OperandId::Rcx)?;
        if size < TDSYSINFO_LEN as u64 {
            return Err(bad(OperandId::Rdx));
        }
        let cmrs = self.check_hpa(regs.r8, CMR_INFO_LEN as u64, OperandId::R8)?;
        if entries < MAX_CMRS as u64 {
            return Err(bad(OperandId::R9));
        }
        self.plat
            .copy_to_vmm(info.raw(), &tdsysinfo())
            .map_err(|_| bad(OperandId::Rcx))?;
        self.plat
            .copy_to_vmm(cmrs.raw(), &self.cmr_info())
            .map_err(|_| bad(OperandId::R8))?;
        (regs.rdx, regs.r9) = (TDSYSINFO_LEN as u64, MAX_CMRS as u64);
        Ok(Status::SUCCESS)
    }

    /// TDH.SYS.RDALL (leaf 37), in the order of the module docs; the list
    /// is built in module memory and copied out once.
    pub(crate) fn sys_rdall(&self, regs: &mut VmmRegs) -> TdxResult<Status> {
        let first = regs.r8;
        regs.r8 = NULL_ID;
        let page = self.check_hpa(regs.rdx, PAGE_SIZE, OperandId::Rdx)?;
        let mut buf = [0u8; MD_LIST_LEN];
        let list = sys_md_list(first, &mut buf)?;
        let used = buf.get(..list.len).unwrap_or(&[]);
        self.plat
            .copy_to_vmm(page.raw(), used)
            .map_err(|_| Status::with_operand(Code::OperandInvalid, OperandId::Rdx))?;
        regs.r8 = list.next;
        Ok(list.status())
    }
}
