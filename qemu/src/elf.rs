//! Minimal ELF64 little-endian reader: section and program headers only.

use crate::{Result, bail};

/// `SHT_NOBITS`: occupies no file space (.bss).
pub const SHT_NOBITS: u32 = 8;
/// `SHF_ALLOC`: occupies memory at run time.
pub const SHF_ALLOC: u64 = 0x2;
/// `PT_LOAD`.
pub const PT_LOAD: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub name: String,
    pub kind: u32,
    pub flags: u64,
    pub addr: u64,
    /// File offset of the contents.
    pub offset: u64,
    pub size: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    pub kind: u32,
    pub offset: u64,
    pub vaddr: u64,
    pub paddr: u64,
    pub filesz: u64,
    pub memsz: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Elf {
    pub machine: u16,
    pub entry: u64,
    pub sections: Vec<Section>,
    pub segments: Vec<Segment>,
}

fn bytes<const N: usize>(data: &[u8], off: u64) -> Result<[u8; N]> {
    let start = usize::try_from(off).map_err(|_| "offset overflow".to_string())?;
    match data.get(start..start.saturating_add(N)) {
        Some(s) => Ok(s.try_into().expect("slice has length N")),
        None => bail!(
            "truncated ELF (need {N} bytes at {off:#x}, file is {:#x})",
            data.len()
        ),
    }
}
fn u16_at(d: &[u8], off: u64) -> Result<u16> {
    bytes::<2>(d, off).map(u16::from_le_bytes)
}
fn u32_at(d: &[u8], off: u64) -> Result<u32> {
    bytes::<4>(d, off).map(u32::from_le_bytes)
}
fn u64_at(d: &[u8], off: u64) -> Result<u64> {
    bytes::<8>(d, off).map(u64::from_le_bytes)
}

impl Elf {
    /// Parses the headers of a 64-bit little-endian ELF file.
    pub fn parse(data: &[u8]) -> Result<Elf> {
        if data.len() < 64 || &data[..4] != b"\x7fELF" {
            bail!("not an ELF file");
        }
        if data[4] != 2 || data[5] != 1 {
            bail!("not a 64-bit little-endian ELF file");
        }
        let machine = u16_at(data, 0x12)?;
        let entry = u64_at(data, 0x18)?;
        let phoff = u64_at(data, 0x20)?;
        let shoff = u64_at(data, 0x28)?;
        let phentsize = u64::from(u16_at(data, 0x36)?);
        let phnum = u64::from(u16_at(data, 0x38)?);
        let shentsize = u64::from(u16_at(data, 0x3A)?);
        let shnum = u64::from(u16_at(data, 0x3C)?);
        let shstrndx = u64::from(u16_at(data, 0x3E)?);

        let fits = |off: u64, n: u64, size: u64| {
            n.checked_mul(size)
                .and_then(|t| t.checked_add(off))
                .is_some_and(|end| end <= data.len() as u64)
        };
        if !fits(phoff, phnum, phentsize) || !fits(shoff, shnum, shentsize) {
            bail!("truncated ELF (header tables run past the end of the file)");
        }
        let mut segments = Vec::new();
        if phnum > 0 && phentsize < 0x38 {
            bail!("bad program header size {phentsize}");
        }
        for i in 0..phnum {
            let b = phoff + i * phentsize;
            segments.push(Segment {
                kind: u32_at(data, b)?,
                offset: u64_at(data, b + 8)?,
                vaddr: u64_at(data, b + 0x10)?,
                paddr: u64_at(data, b + 0x18)?,
                filesz: u64_at(data, b + 0x20)?,
                memsz: u64_at(data, b + 0x28)?,
            });
        }

        let mut raw = Vec::new();
        if shnum > 0 && shentsize < 0x40 {
            bail!("bad section header size {shentsize}");
        }
        for i in 0..shnum {
            let b = shoff + i * shentsize;
            raw.push((
                u32_at(data, b)?,        // sh_name
                u32_at(data, b + 4)?,    // sh_type
                u64_at(data, b + 8)?,    // sh_flags
                u64_at(data, b + 0x10)?, // sh_addr
                u64_at(data, b + 0x18)?, // sh_offset
                u64_at(data, b + 0x20)?, // sh_size
            ));
        }
        let strtab = match raw.get(shstrndx as usize) {
            Some(&(_, _, _, _, off, size)) if shstrndx != 0 => {
                let start = usize::try_from(off).unwrap_or(usize::MAX);
                let end = start.saturating_add(usize::try_from(size).unwrap_or(usize::MAX));
                data.get(start..end)
                    .ok_or("section name table out of bounds")?
            }
            _ => &[][..],
        };
        let sections = raw
            .iter()
            .map(|&(name, kind, flags, addr, offset, size)| Section {
                name: cstr(strtab, name as usize),
                kind,
                flags,
                addr,
                offset,
                size,
            })
            .collect();
        Ok(Elf {
            machine,
            entry,
            sections,
            segments,
        })
    }

    /// Load address (LMA) of an allocated section: its address translated
    /// through the `PT_LOAD` segment whose file contents hold it.
    pub fn lma(&self, sec: &Section) -> u64 {
        self.segments
            .iter()
            .find(|p| {
                p.kind == PT_LOAD
                    && sec.offset >= p.offset
                    && sec.offset < p.offset + p.filesz
                    && sec.addr >= p.vaddr
                    && sec.addr < p.vaddr + p.memsz
            })
            .map_or(sec.addr, |p| p.paddr + (sec.addr - p.vaddr))
    }

    /// Lowest load address of an allocated section with file contents:
    /// where `objcopy -O binary` output starts. `None` if there is none.
    pub fn load_base(&self) -> Option<u64> {
        self.sections
            .iter()
            .filter(|s| s.flags & SHF_ALLOC != 0 && s.kind != SHT_NOBITS && s.size > 0)
            .map(|s| self.lma(s))
            .min()
    }
}

fn cstr(table: &[u8], off: usize) -> String {
    let tail = table.get(off..).unwrap_or(&[]);
    let end = tail.iter().position(|&b| b == 0).unwrap_or(tail.len());
    String::from_utf8_lossy(&tail[..end]).into_owned()
}

/// Section sizes grouped the way `cargo xtask size` prints them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SizeSummary {
    pub text: u64,
    pub rodata: u64,
    pub data: u64,
    pub bss: u64,
    /// Other allocated sections (vectors, stacks, .got, ...).
    pub other: u64,
}

impl SizeSummary {
    /// Groups the allocated sections of `elf` by name prefix.
    pub fn of(elf: &Elf) -> SizeSummary {
        let mut s = SizeSummary::default();
        for sec in elf.sections.iter().filter(|s| s.flags & SHF_ALLOC != 0) {
            let n = sec.name.as_str();
            let is = |p: &str| n == p || n.starts_with(&format!("{p}."));
            let slot = if is(".text") {
                &mut s.text
            } else if is(".rodata") {
                &mut s.rodata
            } else if is(".data") || is(".tdata") {
                &mut s.data
            } else if is(".bss") || is(".tbss") || is(".sbss") {
                &mut s.bss
            } else {
                &mut s.other
            };
            *slot += sec.size;
        }
        s
    }

    pub fn total(&self) -> u64 {
        self.text + self.rodata + self.data + self.bss + self.other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds an aarch64 ELF with the given sections (a `.shstrtab` is
    /// appended) and program headers.
    fn elf_bytes(secs: &[Section], segs: &[Segment]) -> Vec<u8> {
        let mut strtab = vec![0u8];
        let mut names = Vec::new();
        for n in secs.iter().map(|s| s.name.as_str()).chain([".shstrtab"]) {
            names.push(strtab.len() as u32);
            strtab.extend_from_slice(n.as_bytes());
            strtab.push(0);
        }
        let phoff = 64u64;
        let stroff = phoff + 0x38 * segs.len() as u64;
        let shoff = (stroff + strtab.len() as u64 + 7) & !7;
        let shnum = secs.len() + 2;
        let mut f = vec![0u8; shoff as usize + 64 * shnum];
        let mut put = |at: usize, v: &[u8]| f[at..at + v.len()].copy_from_slice(v);
        put(0, b"\x7fELF\x02\x01\x01");
        put(0x12, &183u16.to_le_bytes()); // EM_AARCH64
        put(0x20, &phoff.to_le_bytes());
        put(0x28, &shoff.to_le_bytes());
        put(0x36, &0x38u16.to_le_bytes());
        put(0x38, &(segs.len() as u16).to_le_bytes());
        put(0x3A, &64u16.to_le_bytes());
        put(0x3C, &(shnum as u16).to_le_bytes());
        put(0x3E, &(shnum as u16 - 1).to_le_bytes());
        for (i, p) in segs.iter().enumerate() {
            let b = phoff as usize + 0x38 * i;
            put(b, &p.kind.to_le_bytes());
            put(b + 8, &p.offset.to_le_bytes());
            put(b + 0x10, &p.vaddr.to_le_bytes());
            put(b + 0x18, &p.paddr.to_le_bytes());
            put(b + 0x20, &p.filesz.to_le_bytes());
            put(b + 0x28, &p.memsz.to_le_bytes());
        }
        put(stroff as usize, &strtab);
        let shstr = Section {
            name: String::new(),
            kind: 3,
            flags: 0,
            addr: 0,
            offset: stroff,
            size: strtab.len() as u64,
        };
        for (i, s) in secs.iter().chain([&shstr]).enumerate() {
            let b = shoff as usize + 64 * (i + 1);
            put(b, &names[i].to_le_bytes());
            put(b + 4, &s.kind.to_le_bytes());
            put(b + 8, &s.flags.to_le_bytes());
            put(b + 0x10, &s.addr.to_le_bytes());
            put(b + 0x18, &s.offset.to_le_bytes());
            put(b + 0x20, &s.size.to_le_bytes());
        }
        f
    }

    fn sec(name: &str, kind: u32, flags: u64, addr: u64, offset: u64, size: u64) -> Section {
        let name = name.to_string();
        Section {
            name,
            kind,
            flags,
            addr,
            offset,
            size,
        }
    }

    fn load(offset: u64, vaddr: u64, paddr: u64, filesz: u64, memsz: u64) -> Segment {
        Segment {
            kind: PT_LOAD,
            offset,
            vaddr,
            paddr,
            filesz,
            memsz,
        }
    }

    const AX: u64 = 6;
    const A: u64 = 2;
    const WA: u64 = 3;

    #[test]
    fn parses_sections_and_sizes() {
        let b = 0x4010_0000;
        let secs = [
            sec(".text", 1, AX, b, 0x1000, 0x1000),
            sec(".text.boot", 1, AX, b + 0x1000, 0x2000, 0x20),
            sec(".rodata", 1, A, b + 0x2000, 0x3000, 0x300),
            sec(".data", 1, WA, b + 0x3000, 0x4000, 0x40),
            sec(".bss", SHT_NOBITS, WA, b + 0x4000, 0x4040, 0x2000),
            sec(".stack", SHT_NOBITS, WA, b + 0x6000, 0x4040, 0x4000),
            sec(".debug_info", 1, 0, 0, 0x4040, 0x9999),
            sec(".textual", 1, A, b + 0xA000, 0x4040, 0x5),
        ];
        let data = elf_bytes(&secs, &[load(0x1000, b, b, 0x3040, 0xA005)]);
        let elf = Elf::parse(&data).unwrap();
        assert_eq!(elf.machine, 183);
        assert_eq!(elf.sections.len(), 10);
        assert_eq!(elf.sections[1].name, ".text");
        assert_eq!(elf.sections[9].name, ".shstrtab");
        assert_eq!(elf.load_base(), Some(b));
        let s = SizeSummary::of(&elf);
        assert_eq!(
            (s.text, s.rodata, s.data, s.bss, s.other),
            (0x1020, 0x300, 0x40, 0x2000, 0x4005)
        );
        assert_eq!(s.total(), 0x1020 + 0x300 + 0x40 + 0x2000 + 0x4005);
    }

    #[test]
    fn load_base_uses_lma_and_skips_headers_and_bss() {
        // XIP image: headers segment at 0x0E00_0000 without sections, .text
        // at 0x0 and .data with VMA in secure RAM but LMA in flash after it.
        let secs = [
            sec(".text", 1, AX, 0x0, 0x1000, 0x800),
            sec(".data", 1, WA, 0x0E00_1000, 0x2000, 0x10),
            sec(".bss", SHT_NOBITS, WA, 0x0E00_1010, 0x2010, 0x100),
        ];
        let segs = [
            load(0, 0x0E00_0000, 0x0E00_0000, 0x158, 0x158),
            load(0x1000, 0x0, 0x0, 0x800, 0x800),
            load(0x2000, 0x0E00_1000, 0x800, 0x10, 0x110),
        ];
        let elf = Elf::parse(&elf_bytes(&secs, &segs)).unwrap();
        assert_eq!(elf.lma(&elf.sections[2]), 0x800);
        assert_eq!(elf.load_base(), Some(0x0));

        // Only NOBITS/empty sections: nothing for objcopy to emit.
        let secs = [sec(
            ".stacks",
            SHT_NOBITS,
            WA,
            0x0E00_1000,
            0x1000,
            0x2_0000,
        )];
        let elf = Elf::parse(&elf_bytes(&secs, &segs[..1])).unwrap();
        assert_eq!(elf.load_base(), None);
    }

    #[test]
    fn rejects_garbage() {
        assert!(Elf::parse(b"hello").is_err());
        assert!(Elf::parse(&[0u8; 100]).is_err());
        let secs = [sec(".text", 1, AX, 0, 0x40, 4)];
        let mut data = elf_bytes(&secs, &[]);
        assert!(Elf::parse(&data).is_ok());
        assert!(Elf::parse(&data[..data.len() - 10]).is_err());
        data[4] = 1; // ELFCLASS32
        assert!(Elf::parse(&data).is_err());
    }

    #[test]
    fn parses_own_executable() {
        // The test binary itself is an ELF64 LE on the usual Linux hosts.
        let Ok(exe) = std::env::current_exe().and_then(std::fs::read) else {
            return;
        };
        if exe.get(..6) != Some(b"\x7fELF\x02\x01") {
            return;
        }
        let elf = Elf::parse(&exe).unwrap();
        assert!(elf.sections.iter().any(|s| s.name == ".text"));
        assert!(SizeSummary::of(&elf).text > 0);
        assert!(elf.load_base().is_some());
    }
}
