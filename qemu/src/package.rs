//! The QEMU secure-flash package (`-bios` image) that the EL3 monitor parses.
//!
//! Layout (all little-endian, zero padding):
//! ```text
//! 0x00_0000  EL3 flat binary (< 0x20_0000 bytes)
//! 0x20_0000  header: magic "CMONPKG\0", version u32 = 1, count u32 (<= 8),
//!            entries[count] of 32 bytes: id u32, reserved u32 = 0,
//!            offset u64 (absolute, 4 KiB aligned, >= 0x20_1000), size u64,
//!            load_addr u64
//! 0x20_1000  images, each at a 4 KiB aligned offset
//! ```
//! The whole file is at most 64 MiB (the size of QEMU's secure flash).

use crate::{Result, bail};

pub const MAGIC: [u8; 8] = *b"CMONPKG\0";
pub const VERSION: u32 = 1;
/// Offset of the package header; also the size limit of the EL3 image.
pub const HEADER_OFFSET: u64 = 0x20_0000;
/// First offset an image may use.
pub const FIRST_IMAGE_OFFSET: u64 = 0x20_1000;
pub const IMAGE_ALIGN: u64 = 0x1000;
pub const MAX_ENTRIES: usize = 8;
pub const ENTRY_SIZE: u64 = 32;
/// QEMU `virt` secure flash size.
pub const MAX_TOTAL: u64 = 64 << 20;

/// Entry id of the RMM image.
pub const ID_RMM: u32 = 1;
/// Entry id of the NS payload (BL33).
pub const ID_NS: u32 = 2;
/// Entry id of the development device root secret (not loaded anywhere: the
/// EL3 monitor reads it from secure flash to derive its keys).
pub const ID_DEV_ROOT_SECRET: u32 = 3;
/// Length of the generated development root secret.
pub const DEV_ROOT_SECRET_LEN: usize = 32;

/// One packaged image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    pub id: u32,
    pub offset: u64,
    pub size: u64,
    pub load_addr: u64,
}

/// An image to put into the package.
#[derive(Debug, Clone, Copy)]
pub struct Image<'a> {
    pub id: u32,
    pub load_addr: u64,
    pub data: &'a [u8],
}

fn align_up(x: u64, a: u64) -> u64 {
    x.div_ceil(a) * a
}

/// Computes where each image goes; checks every limit of the layout.
pub fn layout(el3_len: u64, images: &[Image<'_>]) -> Result<(Vec<Entry>, u64)> {
    if el3_len == 0 {
        bail!("EL3 image is empty");
    }
    if el3_len >= HEADER_OFFSET {
        bail!(
            "EL3 image is {el3_len:#x} bytes; it must be smaller than {HEADER_OFFSET:#x} \
             (the package header lives there)"
        );
    }
    if images.len() > MAX_ENTRIES {
        bail!(
            "{} images; the package holds at most {MAX_ENTRIES}",
            images.len()
        );
    }
    let mut entries = Vec::with_capacity(images.len());
    let mut next = FIRST_IMAGE_OFFSET;
    for img in images {
        let size = img.data.len() as u64;
        if size == 0 {
            bail!("image id {} is empty", img.id);
        }
        let offset = align_up(next, IMAGE_ALIGN);
        let end = offset + size;
        if end > MAX_TOTAL {
            bail!(
                "package would be {end:#x} bytes (image id {} ends there); \
                 QEMU's secure flash holds at most {MAX_TOTAL:#x} (64 MiB)",
                img.id
            );
        }
        entries.push(Entry {
            id: img.id,
            offset,
            size,
            load_addr: img.load_addr,
        });
        next = end;
    }
    let total = entries
        .last()
        .map_or(HEADER_OFFSET + 16, |e| e.offset + e.size);
    Ok((entries, total))
}

/// Serializes the header (magic, version, count, entries).
pub fn header_bytes(entries: &[Entry]) -> Vec<u8> {
    let mut h = Vec::with_capacity(16 + entries.len() * ENTRY_SIZE as usize);
    h.extend_from_slice(&MAGIC);
    h.extend_from_slice(&VERSION.to_le_bytes());
    h.extend_from_slice(&(entries.len() as u32).to_le_bytes());
    for e in entries {
        h.extend_from_slice(&e.id.to_le_bytes());
        h.extend_from_slice(&0u32.to_le_bytes());
        h.extend_from_slice(&e.offset.to_le_bytes());
        h.extend_from_slice(&e.size.to_le_bytes());
        h.extend_from_slice(&e.load_addr.to_le_bytes());
    }
    h
}

/// Builds the whole flash package.
pub fn build(el3: &[u8], images: &[Image<'_>]) -> Result<(Vec<u8>, Vec<Entry>)> {
    let (entries, total) = layout(el3.len() as u64, images)?;
    let mut out = vec![0u8; total as usize];
    out[..el3.len()].copy_from_slice(el3);
    let hdr = header_bytes(&entries);
    let h = HEADER_OFFSET as usize;
    out[h..h + hdr.len()].copy_from_slice(&hdr);
    for (e, img) in entries.iter().zip(images) {
        let o = e.offset as usize;
        out[o..o + img.data.len()].copy_from_slice(img.data);
    }
    Ok((out, entries))
}

/// Parses a package the way the EL3 monitor does (used to verify output).
pub fn parse(pkg: &[u8]) -> Result<Vec<Entry>> {
    let h = HEADER_OFFSET as usize;
    let hdr = pkg
        .get(h..h + 16)
        .ok_or("package shorter than its header")?;
    if hdr[..8] != MAGIC {
        bail!("bad package magic");
    }
    let word = |b: &[u8], o: usize| u32::from_le_bytes(b[o..o + 4].try_into().unwrap());
    let dword = |b: &[u8], o: usize| u64::from_le_bytes(b[o..o + 8].try_into().unwrap());
    if word(hdr, 8) != VERSION {
        bail!("unsupported package version {}", word(hdr, 8));
    }
    let count = word(hdr, 12) as usize;
    if count > MAX_ENTRIES {
        bail!("package count {count} > {MAX_ENTRIES}");
    }
    let mut entries = Vec::new();
    for i in 0..count {
        let o = h + 16 + i * ENTRY_SIZE as usize;
        let b = pkg.get(o..o + 32).ok_or("truncated package entry")?;
        let e = Entry {
            id: word(b, 0),
            offset: dword(b, 8),
            size: dword(b, 16),
            load_addr: dword(b, 24),
        };
        if word(b, 4) != 0 {
            bail!("entry {i}: reserved word is not zero");
        }
        if !e.offset.is_multiple_of(IMAGE_ALIGN) || e.offset < FIRST_IMAGE_OFFSET {
            bail!("entry {i}: bad offset {:#x}", e.offset);
        }
        if e.offset
            .checked_add(e.size)
            .is_none_or(|end| end > pkg.len() as u64)
        {
            bail!("entry {i}: image runs past the end of the package");
        }
        entries.push(e);
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_is_byte_exact() {
        let e = [Entry {
            id: 1,
            offset: 0x20_1000,
            size: 0x1234,
            load_addr: 0x4010_0000,
        }];
        let h = header_bytes(&e);
        let mut want = Vec::new();
        want.extend_from_slice(b"CMONPKG\0");
        want.extend_from_slice(&[1, 0, 0, 0, 1, 0, 0, 0]);
        want.extend_from_slice(&[1, 0, 0, 0, 0, 0, 0, 0]);
        want.extend_from_slice(&[0, 0x10, 0x20, 0, 0, 0, 0, 0]);
        want.extend_from_slice(&[0x34, 0x12, 0, 0, 0, 0, 0, 0]);
        want.extend_from_slice(&[0, 0, 0x10, 0x40, 0, 0, 0, 0]);
        assert_eq!(h, want);
        assert_eq!(h.len(), 16 + 32);
    }

    #[test]
    fn builds_and_parses_back() {
        let el3 = vec![0xAAu8; 0x3456];
        let rmm = vec![0xBBu8; 0x1001];
        let ns = vec![0xCCu8; 0x10];
        let imgs = [
            Image {
                id: ID_RMM,
                load_addr: 0x4010_0000,
                data: &rmm,
            },
            Image {
                id: ID_NS,
                load_addr: 0x6000_0000,
                data: &ns,
            },
        ];
        let (pkg, entries) = build(&el3, &imgs).unwrap();
        assert_eq!(entries[0].offset, 0x20_1000);
        assert_eq!(entries[1].offset, 0x20_3000);
        assert_eq!(pkg.len(), 0x20_3010);
        assert_eq!(&pkg[..el3.len()], &el3[..]);
        assert!(pkg[el3.len()..0x20_0000].iter().all(|&b| b == 0));
        assert_eq!(parse(&pkg).unwrap(), entries);
        assert_eq!(&pkg[0x20_1000..0x20_2001], &rmm[..]);
        assert!(pkg[0x20_2001..0x20_3000].iter().all(|&b| b == 0));
        assert_eq!(&pkg[0x20_3000..], &ns[..]);
        assert_eq!(entries[1].load_addr, 0x6000_0000);
    }

    #[test]
    fn el3_size_limit() {
        let imgs = [];
        assert!(layout(0x1F_FFFF, &imgs).is_ok());
        let err = layout(0x20_0000, &imgs).unwrap_err();
        assert!(err.contains("0x200000"), "{err}");
        assert!(layout(0, &imgs).is_err());
    }

    #[test]
    fn total_and_count_limits() {
        let big = vec![1u8; (MAX_TOTAL - FIRST_IMAGE_OFFSET) as usize];
        let ok = [Image {
            id: 1,
            load_addr: 0,
            data: &big,
        }];
        assert_eq!(layout(16, &ok).unwrap().1, MAX_TOTAL);
        let over = vec![1u8; big.len() + 1];
        let bad = [Image {
            id: 1,
            load_addr: 0,
            data: &over,
        }];
        assert!(layout(16, &bad).unwrap_err().contains("64 MiB"));

        let one = [7u8];
        let nine: Vec<Image> = (0..9)
            .map(|i| Image {
                id: i,
                load_addr: 0,
                data: &one,
            })
            .collect();
        assert!(layout(16, &nine[..8]).is_ok());
        assert!(layout(16, &nine).is_err());
        let empty = [Image {
            id: 2,
            load_addr: 0,
            data: &[],
        }];
        assert!(layout(16, &empty).is_err());
    }

    #[test]
    fn parse_rejects_corruption() {
        let one = [7u8; 5];
        let (pkg, _) = build(
            &[1],
            &[Image {
                id: 1,
                load_addr: 0,
                data: &one,
            }],
        )
        .unwrap();
        let mut bad = pkg.clone();
        bad[0x20_0000] = b'X';
        assert!(parse(&bad).is_err());
        let mut bad = pkg.clone();
        bad[0x20_0008] = 2;
        assert!(parse(&bad).is_err());
        let mut bad = pkg.clone();
        bad[0x20_0014] = 1; // reserved
        assert!(parse(&bad).is_err());
        assert!(parse(&pkg[..pkg.len() - 1]).is_err());
    }
}
