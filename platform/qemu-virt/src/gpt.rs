//! Granule Protection Table: built at boot, enabled on every CPU, updated by
//! the RMM's GTSI delegate/undelegate services.
//!
//! Geometry (qemu-platforms.md §2.4, TF-A QEMU values rmm-el3-interface.md §8):
//! PPS = 1 TB (40-bit), PGS = 4 KiB, L0GPTSZ = 1 GiB (read-only on QEMU).
//! The L0 table has 1024 entries. GiB 0 (flash, devices, secure RAM) and
//! every GiB of DRAM get a level-1 table with one 4-bit GPI per 4 KiB
//! granule; all other GiBs are L0 block descriptors with GPI ALL (IO, or no
//! memory at all).

use crate::arch::{self, read_sysreg, write_sysreg};
use crate::layout::*;
use arm_rt::sync::SpinLock;

/// Granule Protection Information values (Arm ARM D9.3, GPT formats).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Gpi {
    NoAccess = 0x0,
    Secure = 0x8,
    NonSecure = 0x9,
    Root = 0xA,
    Realm = 0xB,
    Any = 0xF,
}

impl Gpi {
    fn from_nibble(n: u64) -> Gpi {
        match n {
            0x8 => Gpi::Secure,
            0x9 => Gpi::NonSecure,
            0xA => Gpi::Root,
            0xB => Gpi::Realm,
            0xF => Gpi::Any,
            _ => Gpi::NoAccess,
        }
    }
}

const L0_SHIFT: u64 = 30;
const L0_ENTRIES: usize = 1 << (40 - L0_SHIFT);
const L1_TABLE_BYTES: u64 = (1 << L0_SHIFT) / GRANULE / 2; // 4 bits per granule
const L1_WORDS: usize = (L1_TABLE_BYTES / 8) as usize;

/// GPCCR_EL3: PPS=1TB(2) | IRGN=WB-RA-WA(1) | ORGN=WB-RA-WA(1) | SH=IS(3) |
/// PGS=4KB(0) | GPC. (qemu-platforms.md §2.4 field table.)
const GPCCR_VALUE: u64 = 2 | (1 << 8) | (1 << 10) | (3 << 12) | (1 << 16);

/// Errors EL3 reports for GTSI calls (rmm-el3-interface.md §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GtsiError {
    /// E_RMM_BAD_ADDR: not a granule EL3 can transition.
    BadAddr,
    /// E_RMM_BAD_PAS: the granule is not in the expected PAS.
    BadPas,
}

struct Gpt {
    /// Bit i set: L0 entry i points at an L1 table in the pool (DRAM GiBs).
    /// Only GiBs whose every granule is DRAM accept GTSI requests.
    dram_gib: [u64; L0_ENTRIES / 64],
    /// Exclusive end of DRAM; GTSI requests beyond it are BadAddr.
    dram_end: u64,
}

static GPT: SpinLock<Gpt> = SpinLock::new(Gpt {
    dram_gib: [0; L0_ENTRIES / 64],
    dram_end: 0,
});

fn l0() -> *mut u64 {
    GPT_L0_BASE as *mut u64
}

fn l1_of(gib: usize) -> *mut u64 {
    // SAFETY: the L0 table lives in EL3-only secure RAM; entry `gib`
    // is in bounds (callers index with gib < L0_ENTRIES).
    let desc = unsafe { l0().add(gib).read_volatile() };
    (desc & 0x000F_FFFF_FFFF_F000) as *mut u64
}

fn fill_l1(table: *mut u64, gpi: Gpi) {
    let word = (0..16).fold(0u64, |w, i| w | ((gpi as u64) << (4 * i)));
    for i in 0..L1_WORDS {
        // SAFETY: `table` is a 128 KiB L1 table inside the reserved GPT pool
        // of secure RAM (see `build`), and i < L1_WORDS.
        unsafe { table.add(i).write_volatile(word) };
    }
}

fn set_gpi(pa: u64, gpi: Gpi) {
    let table = l1_of((pa >> L0_SHIFT) as usize);
    let g = (pa & ((1 << L0_SHIFT) - 1)) / GRANULE;
    let (w, shift) = ((g / 16) as usize, (g % 16) * 4);
    // SAFETY: `table` is a live L1 table (caller checked the GiB has one),
    // and w < L1_WORDS because g < 2^18.
    unsafe {
        let p = table.add(w);
        let v = p.read_volatile();
        p.write_volatile((v & !(0xF << shift)) | ((gpi as u64) << shift));
    }
}

fn get_gpi(pa: u64) -> Gpi {
    let table = l1_of((pa >> L0_SHIFT) as usize);
    let g = (pa & ((1 << L0_SHIFT) - 1)) / GRANULE;
    // SAFETY: as in `set_gpi`.
    let v = unsafe { table.add((g / 16) as usize).read_volatile() };
    Gpi::from_nibble((v >> ((g % 16) * 4)) & 0xF)
}

fn set_range(base: u64, size: u64, gpi: Gpi) {
    let mut pa = base;
    while pa < base + size {
        set_gpi(pa, gpi);
        pa += GRANULE;
    }
}

/// Build the GPT in secure RAM for DRAM `[DRAM_BASE, dram_end)`: EL3's
/// secure RAM is Root, the top of secure RAM is Secure, the RMM carve-out is
/// Realm, the rest of DRAM is Non-secure, DRAM holes in a described GiB are
/// no-access, and everything else in the address space is ALL.
/// Returns the number of L1 tables used.
pub fn build(dram_end: u64) -> Result<usize, &'static str> {
    let mut gpt = GPT.lock();
    let first = (DRAM_BASE >> L0_SHIFT) as usize;
    let last = ((dram_end - 1) >> L0_SHIFT) as usize;
    let needed = 1 + (last - first + 1);
    if needed as u64 * L1_TABLE_BYTES > GPT_L1_POOL_SIZE || dram_end > (1 << 40) {
        return Err("DRAM too large for the GPT level-1 pool");
    }
    let mut next = GPT_L1_BASE;
    for gib in 0..L0_ENTRIES {
        let desc = if gib == 0 || (first..=last).contains(&gib) {
            let t = next;
            next += L1_TABLE_BYTES;
            let default = if gib == 0 { Gpi::Any } else { Gpi::NonSecure };
            fill_l1(t as *mut u64, default);
            if gib != 0 {
                gpt.dram_gib[gib / 64] |= 1 << (gib % 64);
            }
            t | 0b11 // L0 table descriptor
        } else {
            ((Gpi::Any as u64) << 4) | 0b01 // L0 block descriptor
        };
        // SAFETY: gib < L0_ENTRIES; the L0 table is reserved secure RAM.
        unsafe { l0().add(gib).write_volatile(desc) };
    }
    // DRAM beyond its real end inside the last GiB: no memory, no access.
    let last_end = ((last as u64) + 1) << L0_SHIFT;
    if dram_end < last_end {
        set_range(dram_end, last_end - dram_end, Gpi::NoAccess);
    }
    set_range(SECRAM_BASE, SECRAM_SIZE - SECURE_SIZE, Gpi::Root);
    set_range(SECURE_BASE, SECURE_SIZE, Gpi::Secure);
    set_range(RMM_BASE, RMM_CARVEOUT_SIZE, Gpi::Realm);
    gpt.dram_end = dram_end;
    Ok(needed)
}

/// Enable granule protection checks on the calling CPU (GPTBR/GPCCR are
/// per-PE registers, so every CPU runs this once per power-on).
pub fn enable_on_this_cpu() {
    write_sysreg!("gptbr_el3", GPT_L0_BASE >> 12);
    arch::dsb_sy();
    write_sysreg!("gpccr_el3", GPCCR_VALUE);
    arch::tlbi_paall();
}

/// Value read back from GPCCR_EL3 (the boot log prints it).
pub fn gpccr() -> u64 {
    read_sysreg!("gpccr_el3")
}

fn check_addr(gpt: &Gpt, pa: u64) -> Result<(), GtsiError> {
    let gib = (pa >> L0_SHIFT) as usize;
    let aligned = pa.is_multiple_of(GRANULE);
    let in_dram = pa >= DRAM_BASE && pa < gpt.dram_end;
    let covered = gib < L0_ENTRIES && gpt.dram_gib[gib / 64] & (1 << (gib % 64)) != 0;
    if aligned && in_dram && covered {
        Ok(())
    } else {
        Err(GtsiError::BadAddr)
    }
}

/// PAS bits for DC CIPAPA operands: Xt[63] = NS, Xt[62] = NSE.
const CIPAPA_NS: u64 = 1 << 63;
const CIPAPA_REALM: u64 = (1 << 63) | (1 << 62);

/// RMM_GTSI_DELEGATE / RMM_GTSI_UNDELEGATE: move one granule between the
/// Non-secure and Realm PAS. Checks address validity, then the current PAS,
/// then updates the GPI, invalidates cached GPT entries on all CPUs and
/// cleans the granule's lines of the old PAS to the PoPA.
/// (TLBI PAALLOS rather than PAALL: the change must reach every CPU.)
pub fn transition(pa: u64, delegate: bool) -> Result<(), GtsiError> {
    let gpt = GPT.lock();
    check_addr(&gpt, pa)?;
    let (from, to, old_pas) = if delegate {
        (Gpi::NonSecure, Gpi::Realm, CIPAPA_NS)
    } else {
        (Gpi::Realm, Gpi::NonSecure, CIPAPA_REALM)
    };
    if get_gpi(pa) != from {
        return Err(GtsiError::BadPas);
    }
    set_gpi(pa, to);
    arch::dsb_ishst();
    arch::tlbi_paallos();
    // Only after every CPU sees the new GPI can no new line tagged with the
    // old PAS be allocated; now clean out the existing ones.
    arch::dc_cipapa_range(pa, GRANULE, old_pas);
    drop(gpt);
    Ok(())
}
