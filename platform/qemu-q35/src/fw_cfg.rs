//! QEMU fw_cfg over I/O ports (QEMU docs/specs/fw_cfg.rst): write a 16-bit
//! key to the selector port 0x510, then read the item byte by byte from the
//! data port 0x511.
//!
//! The CPU count comes from FW_CFG_NB_CPUS (key 0x05, little-endian u16),
//! which QEMU sets to the number of CPUs present at boot (`-smp N`). The
//! ACPI MADT is not used: under `-bios` QEMU only offers ACPI as fw_cfg
//! files plus a loader script (`etc/table-loader`) that firmware must run,
//! so there is no MADT in memory to read.
//!
//! Named items ("files") are listed by FW_CFG_FILE_DIR (key 0x19): a
//! big-endian u32 count, then 64-byte entries (BE u32 size, BE u16 key,
//! u16 reserved, 56-byte NUL-padded name). [`e820_ram`] reads `etc/e820`:
//! packed 20-byte entries (LE u64 address, LE u64 length, LE u32 type).
//! [`read_file`] reads any named item, such as a `-fw_cfg name=opt/...`
//! option from the QEMU command line.

use crate::arch::{self, Port};

const SELECTOR: Port = Port(0x510);
const DATA: Port = Port(0x511);

/// A fw_cfg item key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key(pub u16);

pub const SIGNATURE: Key = Key(0x0000);
pub const NB_CPUS: Key = Key(0x0005);
pub const FILE_DIR: Key = Key(0x0019);

/// Files the directory scan looks at, at most.
const MAX_FILES: u32 = 256;
/// e820 entries read, at most.
pub const MAX_E820: usize = 32;
const E820_ENTRY: usize = 20;
const E820_RAM: u32 = 1;

/// Reads the first `N` bytes of item `key`.
pub fn read<const N: usize>(key: Key) -> [u8; N] {
    arch::outw(SELECTOR, key.0);
    let mut out = [0u8; N];
    for b in &mut out {
        *b = arch::inb(DATA);
    }
    out
}

/// Whether the fw_cfg device answers with the "QEMU" signature.
pub fn present() -> bool {
    read::<4>(SIGNATURE) == *b"QEMU"
}

/// Number of CPUs QEMU started with, or `None` without fw_cfg.
pub fn cpu_count() -> Option<u16> {
    present().then(|| u16::from_le_bytes(read::<2>(NB_CPUS)))
}

fn read_into(buf: &mut [u8]) {
    for b in buf {
        *b = arch::inb(DATA);
    }
}

/// Key and size of the file `name`, if fw_cfg has it.
pub fn find_file(name: &[u8]) -> Option<(Key, u32)> {
    if !present() || name.len() > 55 {
        return None;
    }
    arch::outw(SELECTOR, FILE_DIR.0);
    let mut n = [0u8; 4];
    read_into(&mut n);
    for _ in 0..u32::from_be_bytes(n).min(MAX_FILES) {
        let mut e = [0u8; 64];
        read_into(&mut e);
        let fname = &e[8..];
        let len = fname.iter().position(|&b| b == 0).unwrap_or(fname.len());
        if &fname[..len] == name {
            let size = u32::from_be_bytes([e[0], e[1], e[2], e[3]]);
            return Some((Key(u16::from_be_bytes([e[4], e[5]])), size));
        }
    }
    None
}

/// Reads the file `name` into `buf` (at most `buf.len()` bytes); returns
/// the number of bytes read, or `None` without fw_cfg or the file. Images
/// read their options this way, e.g. the TDX shim's run mode from
/// `-fw_cfg name=opt/cmon/mode,string=bench`.
pub fn read_file(name: &[u8], buf: &mut [u8]) -> Option<usize> {
    let (key, size) = find_file(name)?;
    let n = (size as usize).min(buf.len());
    arch::outw(SELECTOR, key.0);
    read_into(&mut buf[..n]);
    Some(n)
}

/// RAM ranges (type 1) of `etc/e820` as (base, length); unused slots are
/// (0, 0). `None` without fw_cfg or the file.
pub fn e820_ram() -> Option<[(u64, u64); MAX_E820]> {
    let (key, size) = find_file(b"etc/e820")?;
    let n = (size as usize / E820_ENTRY).min(MAX_E820);
    arch::outw(SELECTOR, key.0);
    let mut out = [(0, 0); MAX_E820];
    let mut k = 0;
    for _ in 0..n {
        let mut e = [0u8; E820_ENTRY];
        read_into(&mut e);
        let u64_at = |o: usize| {
            let mut x = [0u8; 8];
            x.copy_from_slice(&e[o..o + 8]);
            u64::from_le_bytes(x)
        };
        if u32::from_le_bytes([e[16], e[17], e[18], e[19]]) == E820_RAM {
            out[k] = (u64_at(0), u64_at(8));
            k += 1;
        }
    }
    Some(out)
}
