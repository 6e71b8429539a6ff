//! The firmware package in secure flash (written by `cargo xtask build`):
//! offset 0 holds this monitor; at PACKAGE_OFFSET a header lists the other
//! images, which EL3 copies to their load addresses and measures.
//!
//! Header (little-endian): magic "CMONPKG\0", version u32 = 1, count u32
//! (<= 8), then `count` entries of 32 bytes: id u32, reserved u32, offset u64
//! (from the start of flash, 4 KiB aligned), size u64, load address u64.

use crate::layout::*;
use sha2::{Digest, Sha256};

pub const MAGIC: &[u8; 8] = b"CMONPKG\0";
pub const MAX_ENTRIES: usize = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageId {
    Rmm = 1,
    NsPayload = 2,
    DevRootSecret = 3,
}

#[derive(Debug, Clone, Copy)]
pub struct Entry {
    pub id: u32,
    pub offset: u64,
    pub size: u64,
    pub load: u64,
}

fn flash_bytes(offset: u64, len: u64) -> Option<&'static [u8]> {
    // Offset 0 is address 0: never form a slice there (see `measure_self`).
    if offset == 0 || offset.checked_add(len)? > FLASH_SIZE {
        return None;
    }
    // SAFETY: secure flash is mapped read-only at FLASH_BASE for the whole
    // life of EL3 and nothing writes it; the range was bounds-checked.
    Some(unsafe { core::slice::from_raw_parts((FLASH_BASE + offset) as *const u8, len as usize) })
}

fn le32(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes(b[o..o + 4].try_into().unwrap_or([0; 4]))
}
fn le64(b: &[u8], o: usize) -> u64 {
    u64::from_le_bytes(b[o..o + 8].try_into().unwrap_or([0; 8]))
}

/// Parse and validate the package header.
pub fn entries() -> Result<([Entry; MAX_ENTRIES], usize), &'static str> {
    let hdr = flash_bytes(PACKAGE_OFFSET, 16 + 32 * MAX_ENTRIES as u64)
        .ok_or("package header out of flash")?;
    if &hdr[..8] != MAGIC || le32(hdr, 8) != 1 {
        return Err("no firmware package (bad magic or version) at flash+0x200000");
    }
    let count = le32(hdr, 12) as usize;
    if count > MAX_ENTRIES {
        return Err("firmware package has too many entries");
    }
    let mut out = [Entry {
        id: 0,
        offset: 0,
        size: 0,
        load: 0,
    }; MAX_ENTRIES];
    for (i, e) in out.iter_mut().enumerate().take(count) {
        let o = 16 + 32 * i;
        *e = Entry {
            id: le32(hdr, o),
            offset: le64(hdr, o + 8),
            size: le64(hdr, o + 16),
            load: le64(hdr, o + 24),
        };
        if !e.offset.is_multiple_of(GRANULE) || flash_bytes(e.offset, e.size).is_none() {
            return Err("firmware package entry outside flash or misaligned");
        }
    }
    Ok((out, count))
}

pub fn find(id: ImageId) -> Result<Entry, &'static str> {
    let (es, n) = entries()?;
    es[..n]
        .iter()
        .copied()
        .find(|e| e.id == id as u32)
        .ok_or("firmware package lacks a required image")
}

/// The bytes of an entry in flash.
pub fn bytes(e: &Entry) -> &'static [u8] {
    flash_bytes(e.offset, e.size).unwrap_or(&[])
}

/// Copy an image to its load address, which must lie inside `[lo, hi)`,
/// and return its SHA-256 measurement.
pub fn load(e: &Entry, lo: u64, hi: u64) -> Result<[u8; 32], &'static str> {
    let end = e.load.checked_add(e.size).ok_or("image size overflows")?;
    if e.load < lo || end > hi || !e.load.is_multiple_of(GRANULE) {
        return Err("image load address outside its region");
    }
    let src = bytes(e);
    // SAFETY: [load, load+size) lies in DRAM region [lo, hi) that EL3 maps
    // read-write and that nothing else uses before the image is entered.
    let dst = unsafe { core::slice::from_raw_parts_mut(e.load as *mut u8, e.size as usize) };
    dst.copy_from_slice(src);
    crate::arch::dc_civac_range(e.load, e.size);
    Ok(Sha256::digest(src).into())
}

/// SHA-256 of this monitor's own image in flash (text, rodata, data LMA).
pub fn measure_self() -> [u8; 32] {
    unsafe extern "C" {
        static __el3_image_end: u8;
    }
    // SAFETY: address of a linker symbol.
    let end = unsafe { &__el3_image_end as *const u8 as u64 };
    // The first page is read through `copy_from_phys` because flash starts
    // at address 0, which Rust code must never dereference.
    let mut first = [0u8; GRANULE as usize];
    let head = end.min(GRANULE);
    crate::arch::copy_from_phys(FLASH_BASE, &mut first[..head as usize]);
    let mut h = Sha256::new();
    h.update(&first[..head as usize]);
    if end > GRANULE {
        h.update(flash_bytes(GRANULE, end - GRANULE).unwrap_or(&[]));
    }
    h.finalize().into()
}
