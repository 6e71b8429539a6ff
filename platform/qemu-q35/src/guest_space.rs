//! Per-CPU address spaces for guest code run at CPL 3 (the TDX shim's TDs):
//! like the harness space (`paging.rs`), 0..4 GiB is mapped for CPL 0
//! exactly as the boot tables map it (2 MiB pages, U/S = 0, 3..4 GiB UC),
//! so exceptions and interrupts can be delivered while the guest runs; the
//! top 2 MiB below 4 GiB ([`WINDOW`]) is instead a 4 KiB page table that
//! maps only the guest's pages, each at its own linear address to any
//! physical page, with U/S = 1. Nothing else is user-accessible.
//!
//! The top 2 MiB is the flash alias of `-bios`, which CPL 0 never uses
//! after boot (the image runs from RAM), so taking it away from the
//! kernel's view in these tables loses nothing.
//!
//! A second window, [`SHARED_WINDOW`], the 2 MiB below [`WINDOW`], holds
//! the guest's shared pages (a TD's GPAs in the window with the shared bit
//! set; `td.rs`). It costs one more page table per CPU, where a
//! sign-extended shared GPA would cost three (the image's .bss budget).

use core::cell::UnsafeCell;

use crate::MAX_CPUS;
use crate::arch::{self, EFER_NXE, IA32_EFER};
use crate::paging::{LARGE, NX, P, PAGE_SIZE, RW, Table, US, identity_pde};

/// The linear window guest pages live in: `[WINDOW, 4 GiB)`.
pub const WINDOW: u64 = 0xFFE0_0000;
const WINDOW_END: u64 = 1 << 32;
/// The linear window of the guest's shared pages: the 2 MiB below
/// [`WINDOW`].
pub const SHARED_WINDOW: u64 = WINDOW - LARGE;
const SHARED_WINDOW_END: u64 = WINDOW;

/// One guest page: linear address in [`WINDOW`] or [`SHARED_WINDOW`],
/// physical page, rights.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GuestPage {
    pub linear: u64,
    pub phys: u64,
    pub writable: bool,
    pub executable: bool,
}

const PML4: usize = 0;
const PDPT: usize = 1;
/// The PD of 3..4 GiB, which holds the windows' page tables.
const PD3: usize = 2;
const PT_WINDOW: usize = 3;
const PT_SHARED: usize = 4;
const NTABLES: usize = 5;

/// The PDs of 0..3 GiB: the same in every CPU's guest space (2 MiB pages,
/// as the boot tables map them), so one read-only copy serves all.
#[repr(C, align(4096))]
struct LowPds([[u64; 512]; 3]);
static LOW_PDS: LowPds = LowPds(low_pds());

const fn low_pds() -> [[u64; 512]; 3] {
    let mut t = [[0u64; 512]; 3];
    let mut gib = 0;
    while gib < 3 {
        let mut j = 0;
        while j < 512 {
            t[gib][j] = identity_pde(gib as u64, j as u64);
            j += 1;
        }
        gib += 1;
    }
    t
}

struct Tables(UnsafeCell<[[Table; NTABLES]; MAX_CPUS]>);
// SAFETY: CPU i only touches set i, from CPL 0, while it is not running on
// those tables (it builds them before loading them into CR3).
unsafe impl Sync for Tables {}
static TABLES: Tables = Tables(UnsafeCell::new([[Table([0; 512]); NTABLES]; MAX_CPUS]));

/// Why a guest space was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GuestSpaceError {
    /// CPU index out of range.
    Cpu,
    /// A page outside both windows or not page-aligned.
    Page(u64),
}

/// Build this CPU's guest space with `pages` and return its PML4 for
/// `TrapOutcome::ResumeUser`. Call on CPU `cpu` itself, while it is on the
/// boot tables (in a trap from CPL 3).
pub fn build(cpu: usize, pages: &[GuestPage]) -> Result<u64, GuestSpaceError> {
    if cpu >= MAX_CPUS {
        return Err(GuestSpaceError::Cpu);
    }
    for p in pages {
        let ok = slot(p.linear).is_some()
            && p.linear.is_multiple_of(PAGE_SIZE)
            && p.phys.is_multiple_of(PAGE_SIZE);
        if !ok {
            return Err(GuestSpaceError::Page(p.linear));
        }
    }
    let nx = if arch::rdmsr(IA32_EFER) & EFER_NXE != 0 {
        NX
    } else {
        0
    };
    // SAFETY: set `cpu` belongs to this CPU (caller contract) and CR3 does
    // not point at it now (we are on the boot tables).
    let t = unsafe { &mut (*TABLES.0.get())[cpu] };
    let addr = |t: &[Table; NTABLES], i: usize| &t[i] as *const Table as u64;
    let pdpt = addr(t, PDPT);
    let low = &LOW_PDS.0;
    let pds: [u64; 4] = [
        low[0].as_ptr() as u64,
        low[1].as_ptr() as u64,
        low[2].as_ptr() as u64,
        addr(t, PD3),
    ];
    let ptw = addr(t, PT_WINDOW);
    let pts = addr(t, PT_SHARED);
    for tab in t.iter_mut() {
        tab.0 = [0; 512];
    }
    t[PML4].0[0] = pdpt | P | RW | US;
    for (i, pd) in pds.iter().enumerate() {
        t[PDPT].0[i] = pd | P | RW | US;
    }
    for (j, e) in t[PD3].0.iter_mut().enumerate() {
        *e = identity_pde(3, j as u64);
    }
    t[PD3].0[((WINDOW >> 21) & 511) as usize] = ptw | P | RW | US;
    t[PD3].0[((SHARED_WINDOW >> 21) & 511) as usize] = pts | P | RW | US;
    for p in pages {
        let Some((table, i)) = slot(p.linear) else {
            continue;
        };
        let mut e = p.phys | P | US;
        if p.writable {
            e |= RW;
        }
        if !p.executable {
            e |= nx;
        }
        t[table].0[i] = e;
    }
    const _: () = assert!(WINDOW_END - WINDOW == LARGE);
    Ok(t[PML4].0.as_ptr() as u64)
}

/// The physical address CPU `cpu`'s guest space maps `linear` to (a
/// user page of the window), for decoding a guest's instruction bytes
/// without any lock. Call on CPU `cpu` (its tables are not changing).
pub fn translate(cpu: usize, linear: u64) -> Option<u64> {
    let (table, i) = slot(linear)?;
    if cpu >= MAX_CPUS {
        return None;
    }
    // SAFETY: set `cpu` is only written by `build` on the same CPU, which
    // is not running now (the caller is this CPU's trap handler).
    let t = unsafe { &(*TABLES.0.get())[cpu] };
    let e = t[table].0[i];
    (e & (P | US) == (P | US)).then_some((e & 0x000F_FFFF_FFFF_F000) | (linear & (PAGE_SIZE - 1)))
}

/// The page table and entry index of `linear` in one of the windows.
fn slot(linear: u64) -> Option<(usize, usize)> {
    let (table, base) = if (WINDOW..WINDOW_END).contains(&linear) {
        (PT_WINDOW, WINDOW)
    } else if (SHARED_WINDOW..SHARED_WINDOW_END).contains(&linear) {
        (PT_SHARED, SHARED_WINDOW)
    } else {
        return None;
    };
    Some((table, ((linear - base) / PAGE_SIZE) as usize))
}
