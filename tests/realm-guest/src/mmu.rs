//! The guest's stage-1 tables (4 KiB granule, 39-bit VA, walk from level
//! 1): an identity map of the protected IPA range [0, 2 MiB) through one
//! level-3 table (text read-only + executable, everything else
//! read-write + execute-never, Normal Write-Back), and the unprotected
//! alias of the UART's 2 MiB block as Device-nGnRE. Every other VA faults.

use core::sync::atomic::{AtomicU64, Ordering};

use crate::layout::{UART_IPA, UNPROTECTED};

const ENTRIES: usize = 512;

#[repr(C, align(4096))]
struct Table([AtomicU64; ENTRIES]);

/// L1 root, L2 for the protected GiB, L2 for the unprotected GiB, L3 for
/// [0, 2 MiB). Written by REC 0 only, before any other REC runs.
#[unsafe(link_section = ".bss.tables")]
static TABLES: [Table; 4] = [const { Table([const { AtomicU64::new(0) }; ENTRIES]) }; 4];
const L1: usize = 0;
const L2_PROT: usize = 1;
const L2_UNPROT: usize = 2;
const L3: usize = 3;

/// MAIR_EL1: attr 0 Device-nGnRE, attr 1 Normal inner/outer WB RW-allocate.
pub const MAIR: u64 = 0x04 | 0xFF << 8;
const ATTR_DEVICE: u64 = 0 << 2;
const ATTR_NORMAL: u64 = 1 << 2;
/// TCR_EL1: T0SZ 25 (39-bit VA), IRGN0/ORGN0 WB-WA, SH0 inner, TG0 4 KiB,
/// EPD1 (no TTBR1 walks), IPS 40 bits (covers the 39-bit IPA space).
pub const TCR: u64 = 25 | 1 << 8 | 1 << 10 | 3 << 12 | 1 << 23 | 2 << 32;

const VALID_TABLE: u64 = 0b11; // table (L1/L2) or page (L3)
const VALID_BLOCK: u64 = 0b01;
const AF: u64 = 1 << 10;
const SH_INNER: u64 = 3 << 8;
const AP_RO: u64 = 1 << 7;
const PXN: u64 = 1 << 53;
const UXN: u64 = 1 << 54;

fn table_pa(t: usize) -> u64 {
    &TABLES[t] as *const Table as u64
}

/// Fill the tables (REC 0, MMU off). [`image_start`, `text_end`) is the
/// executable part of the image.
pub fn build(image_start: u64, text_end: u64) {
    let set = |t: usize, i: usize, v: u64| TABLES[t].0[i].store(v, Ordering::Relaxed);
    set(L1, 0, table_pa(L2_PROT) | VALID_TABLE);
    set(
        L1,
        (UNPROTECTED >> 30) as usize,
        table_pa(L2_UNPROT) | VALID_TABLE,
    );
    set(L2_PROT, 0, table_pa(L3) | VALID_TABLE);
    for i in 0..ENTRIES {
        let va = (i as u64) << 12;
        let perm = if (image_start..text_end).contains(&va) {
            AP_RO | UXN
        } else {
            PXN | UXN
        };
        set(L3, i, va | ATTR_NORMAL | SH_INNER | AF | perm | VALID_TABLE);
    }
    let block = UART_IPA & !((1 << 21) - 1);
    let idx = ((block & ((1 << 30) - 1)) >> 21) as usize;
    set(
        L2_UNPROT,
        idx,
        block | ATTR_DEVICE | AF | PXN | UXN | VALID_BLOCK,
    );
}

/// TTBR0_EL1 value.
pub fn ttbr0() -> u64 {
    table_pa(L1)
}
