//! The RMM boot manifest (v0.5) written into the EL3 <-> RMM shared page,
//! byte-compatible with what TF-A v2.13 writes on QEMU
//! (rmm-el3-interface.md §6): core structure at offset 0, DRAM bank array
//! and console array right after it, checksums per §6.3.

use crate::layout::*;

/// Boot manifest version 0.5 (major 0, minor 5).
pub const MANIFEST_VERSION: u32 = 5;
/// Size of `struct rmm_manifest` in v0.5.
const CORE_SIZE: usize = 160;
const BANK_SIZE: usize = 16;
const CONSOLE_SIZE: usize = 48;

fn put(page: &mut [u8], off: usize, v: u64) {
    page[off..off + 8].copy_from_slice(&v.to_le_bytes());
}

fn checksum(num: u64, ptr: u64, words: &[u8]) -> u64 {
    let sum = words
        .chunks_exact(8)
        .map(|w| u64::from_le_bytes(w.try_into().unwrap_or([0; 8])))
        .fold(num.wrapping_add(ptr), u64::wrapping_add);
    sum.wrapping_neg()
}

/// Build the manifest for one DRAM bank and the PL011 console into `page`
/// (the 4 KiB shared page image; `page_pa` is where it will live).
pub fn build(page: &mut [u8; 4096], page_pa: u64, dram: (u64, u64)) {
    page.fill(0);
    page[0..4].copy_from_slice(&MANIFEST_VERSION.to_le_bytes());
    // plat_data (8) = NULL on QEMU.
    let banks_off = CORE_SIZE;
    put(page, banks_off, dram.0);
    put(page, banks_off + 8, dram.1);
    let banks_pa = page_pa + banks_off as u64;
    let dram_sum = checksum(1, banks_pa, &page[banks_off..banks_off + BANK_SIZE]);
    put(page, 16, 1);
    put(page, 24, banks_pa);
    put(page, 32, dram_sum);

    let con_off = banks_off + BANK_SIZE;
    put(page, con_off, UART0_BASE);
    put(page, con_off + 8, 1); // map_pages
    page[con_off + 16..con_off + 21].copy_from_slice(b"pl011");
    put(page, con_off + 24, 1); // clk_in_hz, as TF-A reports on QEMU
    put(page, con_off + 32, 115_200); // baud
    let con_pa = page_pa + con_off as u64;
    let con_sum = checksum(1, con_pa, &page[con_off..con_off + CONSOLE_SIZE]);
    put(page, 40, 1);
    put(page, 48, con_pa);
    put(page, 56, con_sum);
    // ncoh / coh regions, SMMUs, root complexes: none (num = 0, NULL, sum 0).
}
