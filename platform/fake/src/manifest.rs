//! Builder for the EL3<->RMM shared page with a boot manifest
//! (rmm-el3-interface.md §6), as TF-A writes it.

use rmm::manifest::{CONSOLE_INFO_SIZE, DRAM_BANK_SIZE, OFF_PLAT_CONSOLE, OFF_PLAT_DRAM};

/// One console entry (`console_info`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConsoleSpec {
    /// MMIO base.
    pub base: u64,
    /// Pages to map.
    pub map_pages: u64,
    /// Name, NUL-padded.
    pub name: [u8; 8],
    /// Input clock.
    pub clk_in_hz: u64,
    /// Baud rate.
    pub baud_rate: u64,
}

impl ConsoleSpec {
    /// What TF-A writes on QEMU virt (§6.4).
    pub const QEMU_PL011: ConsoleSpec = ConsoleSpec {
        base: 0x0900_0000,
        map_pages: 1,
        name: *b"pl011\0\0\0",
        clk_in_hz: 1,
        baud_rate: 115_200,
    };
}

/// Little-endian u64 store into a page.
pub fn write_u64(page: &mut [u8; 4096], off: usize, v: u64) {
    page[off..off + 8].copy_from_slice(&v.to_le_bytes());
}

/// Little-endian u64 load from a page.
pub fn read_u64(page: &[u8; 4096], off: usize) -> u64 {
    u64::from_le_bytes(page[off..off + 8].try_into().unwrap_or([0; 8]))
}

/// Builds a valid manifest; fields are public so tests can vary them.
#[derive(Clone, Debug)]
pub struct ManifestBuilder {
    /// PA of the shared page (pointers are written relative to it).
    pub shared_pa: u64,
    /// Manifest version (raw encoding, e.g. 5 = 0.5).
    pub version: u32,
    /// DRAM banks `(base, size)`.
    pub banks: Vec<(u64, u64)>,
    /// Consoles.
    pub consoles: Vec<ConsoleSpec>,
    /// Reproduce the TF-A v2.12 bug: leave the console name word out of the
    /// console checksum (§6.5).
    pub v212_console_quirk: bool,
}

impl ManifestBuilder {
    /// Manifest v0.5 (TF-A v2.13) with the given banks and the QEMU PL011.
    pub fn v0_5(shared_pa: u64, banks: &[(u64, u64)]) -> ManifestBuilder {
        ManifestBuilder {
            shared_pa,
            version: 5,
            banks: banks.to_vec(),
            consoles: vec![ConsoleSpec::QEMU_PL011],
            v212_console_quirk: false,
        }
    }

    /// Manifest v0.3 (TF-A v2.12 layout, correct checksums).
    pub fn v0_3(shared_pa: u64, banks: &[(u64, u64)]) -> ManifestBuilder {
        ManifestBuilder {
            version: 3,
            ..ManifestBuilder::v0_5(shared_pa, banks)
        }
    }

    /// Size of the core structure for this version (§6.1): arrays follow it.
    pub fn core_size(&self) -> usize {
        match self.version & 0xFFFF {
            0..=3 => 64,
            4 => 112,
            _ => 160,
        }
    }

    /// Offset of the DRAM bank array in the page.
    pub fn banks_offset(&self) -> usize {
        self.core_size()
    }

    /// Offset of the console array in the page.
    pub fn consoles_offset(&self) -> usize {
        self.banks_offset() + self.banks.len() * DRAM_BANK_SIZE
    }

    /// Write the page. List checksums follow §6.3; the other lists of v0.4+
    /// are empty (num 0, NULL pointer, checksum 0), as on QEMU.
    pub fn build(&self) -> Box<[u8; 4096]> {
        let mut p = Box::new([0u8; 4096]);
        p[0..4].copy_from_slice(&self.version.to_le_bytes());

        let boff = self.banks_offset();
        let bptr = self.shared_pa + boff as u64;
        let mut sum = (self.banks.len() as u64).wrapping_add(bptr);
        for (i, &(base, size)) in self.banks.iter().enumerate() {
            write_u64(&mut p, boff + i * DRAM_BANK_SIZE, base);
            write_u64(&mut p, boff + i * DRAM_BANK_SIZE + 8, size);
            sum = sum.wrapping_add(base).wrapping_add(size);
        }
        write_u64(&mut p, OFF_PLAT_DRAM, self.banks.len() as u64);
        write_u64(&mut p, OFF_PLAT_DRAM + 8, bptr);
        write_u64(&mut p, OFF_PLAT_DRAM + 16, sum.wrapping_neg());

        let coff = self.consoles_offset();
        let cptr = if self.consoles.is_empty() {
            0
        } else {
            self.shared_pa + coff as u64
        };
        let mut sum = (self.consoles.len() as u64).wrapping_add(cptr);
        for (i, c) in self.consoles.iter().enumerate() {
            let o = coff + i * CONSOLE_INFO_SIZE;
            let name = u64::from_le_bytes(c.name);
            let words = [c.base, c.map_pages, name, c.clk_in_hz, c.baud_rate, 0];
            for (w, v) in words.iter().enumerate() {
                write_u64(&mut p, o + 8 * w, *v);
            }
            for (w, v) in words.iter().enumerate() {
                if !(self.v212_console_quirk && w == 2) {
                    sum = sum.wrapping_add(*v);
                }
            }
        }
        write_u64(&mut p, OFF_PLAT_CONSOLE, self.consoles.len() as u64);
        write_u64(&mut p, OFF_PLAT_CONSOLE + 8, cptr);
        write_u64(&mut p, OFF_PLAT_CONSOLE + 16, sum.wrapping_neg());
        p
    }
}
