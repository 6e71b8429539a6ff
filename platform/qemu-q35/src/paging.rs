//! A second address space for code running at CPL 3 (SDM Vol. 3A, "4-Level
//! Paging", "Access Rights": user-mode accesses need U/S = 1 at every level).
//!
//! It maps 0..4 GiB identically, like the boot tables, but every leaf has
//! U/S = 0 except the pages of the given user ranges, which must lie in the
//! first 2 MiB (that 2 MiB is split into 4 KiB pages; page 0 is left
//! unmapped), and the pages of one optional [`VmmRegion`]: RAM above 2 MiB
//! that CPL 3 owns page by page (4 KiB PTEs, RW, NX). Its PTEs are atomics:
//! [`set_vmm_page`] unmaps (P = 0) or remaps one page at run time, and
//! [`vmm_page_mapped`] reads the PTE back. A caller that removes access must
//! then flush every CPU's TLB (`crate::tlb::shootdown`). 3..4 GiB is UC
//! (PCD | PWT) for MMIO. Traps from CPL 3 switch to the boot tables
//! (`idt.rs`), so CPL 0 never depends on these tables' TLB entries.

use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::arch::{self, EFER_NXE, IA32_EFER};

pub const PAGE_SIZE: u64 = 4096;
const SPLIT_LIMIT: u64 = 2 << 20;
pub(crate) const LARGE: u64 = 2 << 20;
/// Largest [`VmmRegion`] (one 4 KiB page table per 2 MiB).
pub const VMM_MAX_BYTES: u64 = VMM_PTS as u64 * LARGE;
const VMM_PTS: usize = 4;

// Page-table entry bits (SDM Vol. 3A §4.5), shared with guest_space.rs.
pub(crate) const P: u64 = 1 << 0;
pub(crate) const RW: u64 = 1 << 1;
pub(crate) const US: u64 = 1 << 2;
pub(crate) const PWT: u64 = 1 << 3;
pub(crate) const PCD: u64 = 1 << 4;
pub(crate) const PS: u64 = 1 << 7;
pub(crate) const NX: u64 = 1 << 63;

/// The boot tables' mapping of 2 MiB page `j` of GiB `gib` (0..4), as
/// every user and guest space maps it for CPL 0: supervisor, read/write,
/// 3..4 GiB (MMIO) uncacheable.
pub(crate) const fn identity_pde(gib: u64, j: u64) -> u64 {
    let uc = if gib == 3 { PCD | PWT } else { 0 };
    (gib << 30) | (j << 21) | P | RW | PS | uc
}

/// How CPL 3 may use a range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserAccess {
    /// Code: read and execute.
    ReadExecute,
    /// Data and stacks: read and write, never execute (when EFER.NXE).
    ReadWrite,
}

/// A page-aligned range `[start, end)` that CPL 3 may access.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserRange {
    pub start: u64,
    pub end: u64,
    pub access: UserAccess,
}

/// RAM `[start, end)` that CPL 3 owns page by page: 2 MiB-aligned, inside
/// 2 MiB..1 GiB, at most [`VMM_MAX_BYTES`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VmmRegion {
    pub start: u64,
    pub end: u64,
}

impl VmmRegion {
    /// Whether `addr` lies in the region.
    pub fn contains(&self, addr: u64) -> bool {
        self.start <= addr && addr < self.end
    }
}

/// Why [`build_user_space`] refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PagingError {
    AlreadyBuilt,
    Unaligned(UserRange),
    OutsideFirst2MiB(UserRange),
    BadVmmRegion(VmmRegion),
}

/// The physical address of a PML4 (the CR3 value).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserSpace {
    pub pml4: u64,
}

#[repr(C, align(4096))]
#[derive(Clone, Copy)]
pub(crate) struct Table(pub(crate) [u64; 512]);

const PML4: usize = 0;
const PDPT: usize = 1;
const PD0: usize = 2; // four PDs: 2..=5
const PT0: usize = 6;

struct Tables(UnsafeCell<[Table; 7]>);
// SAFETY: written only by the single successful `build_user_space` call
// (guarded by BUILT), read by the CPUs' page walks afterwards.
unsafe impl Sync for Tables {}
static TABLES: Tables = Tables(UnsafeCell::new([Table([0; 512]); 7]));
static BUILT: AtomicBool = AtomicBool::new(false);

/// The VMM region's page tables; hardware walks them, software changes one
/// PTE at a time with atomic stores.
#[repr(C, align(4096))]
struct VmmTables([[AtomicU64; 512]; VMM_PTS]);
static VMM_PT: VmmTables = VmmTables([const { [const { AtomicU64::new(0) }; 512] }; VMM_PTS]);
/// The region, published (Release) once the tables are built.
static VMM_START: AtomicU64 = AtomicU64::new(0);
static VMM_END: AtomicU64 = AtomicU64::new(0);

fn check(r: &UserRange) -> Result<(), PagingError> {
    if !r.start.is_multiple_of(PAGE_SIZE) || !r.end.is_multiple_of(PAGE_SIZE) || r.start >= r.end {
        return Err(PagingError::Unaligned(*r));
    }
    if r.start < PAGE_SIZE || r.end > SPLIT_LIMIT {
        return Err(PagingError::OutsideFirst2MiB(*r));
    }
    Ok(())
}

fn check_vmm(v: &VmmRegion) -> Result<(), PagingError> {
    let ok = v.start.is_multiple_of(LARGE)
        && v.end.is_multiple_of(LARGE)
        && v.start >= SPLIT_LIMIT
        && v.start < v.end
        && v.end - v.start <= VMM_MAX_BYTES
        && v.end <= 1 << 30;
    if ok {
        Ok(())
    } else {
        Err(PagingError::BadVmmRegion(*v))
    }
}

/// PTE of a VMM page, if `addr` is in the published region.
fn vmm_pte(addr: u64) -> Option<&'static AtomicU64> {
    let (start, end) = (
        VMM_START.load(Ordering::Acquire),
        VMM_END.load(Ordering::Acquire),
    );
    if addr < start || addr >= end {
        return None;
    }
    let i = ((addr - start) / PAGE_SIZE) as usize;
    VMM_PT.0.get(i / 512).map(|pt| &pt[i % 512])
}

/// Whether CPL 3 can access the VMM page holding `addr` right now.
pub fn vmm_page_mapped(addr: u64) -> bool {
    vmm_pte(addr).is_some_and(|e| e.load(Ordering::Acquire) & P != 0)
}

/// Maps (`present`) or unmaps the VMM page holding `addr` for CPL 3.
/// Returns false if `addr` is not in the region. After unmapping, the
/// caller must flush the TLBs (`crate::tlb::shootdown`).
pub fn set_vmm_page(addr: u64, present: bool) -> bool {
    let Some(e) = vmm_pte(addr) else {
        return false;
    };
    if present {
        e.fetch_or(P, Ordering::AcqRel);
    } else {
        e.fetch_and(!P, Ordering::AcqRel);
    }
    true
}

fn fill_vmm(t: &mut [Table; 7], v: &VmmRegion, nx: u64) {
    for (k, chunk) in (v.start..v.end).step_by(LARGE as usize).enumerate() {
        let pt = &VMM_PT.0[k];
        for (j, e) in pt.iter().enumerate() {
            e.store(
                (chunk + j as u64 * PAGE_SIZE) | P | RW | US | nx,
                Ordering::Relaxed,
            );
        }
        t[PD0].0[(chunk / LARGE) as usize] = pt.as_ptr() as u64 | P | RW | US;
    }
}

fn fill(t: &mut [Table; 7], ranges: &[UserRange], nx: u64) {
    let addr = |i: usize| &t[i] as *const Table as u64;
    let (pdpt, pt0) = (addr(PDPT), addr(PT0));
    let pds: [u64; 4] = core::array::from_fn(|i| addr(PD0 + i));
    t[PML4].0[0] = pdpt | P | RW | US;
    for (i, pd) in pds.iter().enumerate() {
        t[PDPT].0[i] = pd | P | RW | US;
    }
    for gib in 0..4 {
        let pd = &mut t[PD0 + gib].0;
        for (j, e) in pd.iter_mut().enumerate() {
            *e = identity_pde(gib as u64, j as u64);
        }
    }
    t[PD0].0[0] = pt0 | P | RW | US;
    for (i, e) in t[PT0].0.iter_mut().enumerate().skip(1) {
        *e = (i as u64 * PAGE_SIZE) | P | RW;
    }
    for r in ranges {
        for page in (r.start..r.end).step_by(PAGE_SIZE as usize) {
            let e = &mut t[PT0].0[(page / PAGE_SIZE) as usize];
            *e = page | P | US;
            match r.access {
                UserAccess::ReadExecute => {}
                UserAccess::ReadWrite => *e |= RW | nx,
            }
        }
    }
}

/// Builds the user address space (once), with an optional VMM region.
pub fn build_user_space(
    ranges: &[UserRange],
    vmm: Option<VmmRegion>,
) -> Result<UserSpace, PagingError> {
    ranges.iter().try_for_each(check)?;
    vmm.as_ref().map_or(Ok(()), check_vmm)?;
    if BUILT.swap(true, Ordering::AcqRel) {
        return Err(PagingError::AlreadyBuilt);
    }
    let nx = if arch::rdmsr(IA32_EFER) & EFER_NXE != 0 {
        NX
    } else {
        0
    };
    // SAFETY: BUILT makes this the only writer, and no CR3 points here yet.
    let t = unsafe { &mut *TABLES.0.get() };
    fill(t, ranges, nx);
    if let Some(v) = vmm {
        fill_vmm(t, &v, nx);
        VMM_START.store(v.start, Ordering::Release);
        VMM_END.store(v.end, Ordering::Release);
    }
    Ok(UserSpace {
        pml4: &t[PML4] as *const Table as u64,
    })
}

/// Whether CPL 3 can read `[addr, addr + len)` in a space built from
/// `ranges` (for decoding instruction bytes at a user RIP).
pub fn user_readable(ranges: &[UserRange], addr: u64, len: u64) -> bool {
    let Some(end) = addr.checked_add(len) else {
        return false;
    };
    ranges.iter().any(|r| r.start <= addr && end <= r.end)
}
