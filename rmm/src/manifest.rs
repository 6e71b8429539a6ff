//! Boot manifest parsing (rmm-el3-interface.md §6).
//!
//! The manifest lives at offset 0 of the 4 KiB EL3<->RMM shared page. The
//! parser works only on a private copy of that page (`&[u8; 4096]`) that the
//! arch code made once: every field is read exactly once from the copy, so
//! EL3 (or a rogue CPU) cannot change a value between check and use.
//!
//! Only the v0.3 core (first 64 bytes: version, plat_data, plat_dram,
//! plat_console) is interpreted; v0.4/v0.5 append fields we do not need yet,
//! and the first 64 bytes are identical in all versions (§6.1). Arrays are
//! found by following their pointers, never by assuming offsets.

use crate::boot::Version;
use crate::types::{GRANULE_SIZE, PhysAddr};

/// Size of the shared page and thus of the manifest copy.
pub const SHARED_PAGE_SIZE: usize = 4096;
/// Maximum number of DRAM banks accepted (fixed so `DramLayout` needs no alloc).
pub const MAX_DRAM_BANKS: usize = 8;
/// Maximum number of consoles accepted; only the first one is used.
pub const MAX_CONSOLES: u64 = 4;

/// Offset of `version` (u32) in `struct rmm_manifest`.
pub const OFF_VERSION: usize = 0;
/// Offset of `plat_dram` (memory_info: num_banks, banks*, checksum).
pub const OFF_PLAT_DRAM: usize = 16;
/// Offset of `plat_console` (console_list: num_consoles, consoles*, checksum).
pub const OFF_PLAT_CONSOLE: usize = 40;
/// Size of `memory_bank` (base, size).
pub const DRAM_BANK_SIZE: usize = 16;
/// Size of `console_info`.
pub const CONSOLE_INFO_SIZE: usize = 48;

/// Why the manifest data was rejected. All map to
/// `E_RMM_BOOT_MANIFEST_DATA_ERROR` (-7); the detail exists for logs and tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ManifestError {
    /// `num_banks` is 0 or above [`MAX_DRAM_BANKS`].
    DramBankCount,
    /// The bank array does not lie entirely inside the shared page.
    DramPointer,
    /// DRAM list checksum does not sum to 0 (§6.3).
    DramChecksum,
    /// A bank base or size is not 4 KiB-aligned.
    BankMisaligned,
    /// A bank has size 0.
    BankEmpty,
    /// `base + size` overflows the address space.
    BankOverflow,
    /// Banks are not sorted ascending or overlap.
    BankOrder,
    /// `num_consoles` above [`MAX_CONSOLES`].
    ConsoleCount,
    /// The console array does not lie entirely inside the shared page.
    ConsolePointer,
    /// Console list checksum does not sum to 0 (and the v2.12 quirk does not apply).
    ConsoleChecksum,
}

/// One DRAM bank `[base, base + size)`, 4 KiB-aligned, non-empty.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct DramBank {
    /// First byte.
    pub base: PhysAddr,
    /// Size in bytes.
    pub size: u64,
}

impl DramBank {
    /// One past the last byte (cannot overflow once validated).
    pub const fn end(&self) -> u64 {
        self.base.0.saturating_add(self.size)
    }

    /// Number of granules in the bank.
    pub const fn granules(&self) -> u64 {
        self.size / GRANULE_SIZE
    }

    /// True if `pa` lies in the bank.
    pub const fn contains(&self, pa: PhysAddr) -> bool {
        pa.0 >= self.base.0 && pa.0 < self.end()
    }
}

/// The validated DRAM banks: sorted ascending, non-overlapping, 1..=8 banks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct DramLayout {
    banks: [DramBank; MAX_DRAM_BANKS],
    num_banks: usize,
}

impl DramLayout {
    /// Build a layout, applying the same validation as the manifest parser
    /// (alignment, non-empty, no overflow, sorted, non-overlapping, 1..=8).
    pub fn new(banks: &[DramBank]) -> Result<DramLayout, ManifestError> {
        if banks.is_empty() || banks.len() > MAX_DRAM_BANKS {
            return Err(ManifestError::DramBankCount);
        }
        let mut layout = DramLayout::default();
        let mut prev_end: Option<u64> = None;
        for (slot, bank) in layout.banks.iter_mut().zip(banks) {
            if !bank.base.is_granule_aligned() || bank.size % GRANULE_SIZE != 0 {
                return Err(ManifestError::BankMisaligned);
            }
            if bank.size == 0 {
                return Err(ManifestError::BankEmpty);
            }
            let end = bank
                .base
                .0
                .checked_add(bank.size)
                .ok_or(ManifestError::BankOverflow)?;
            if prev_end.is_some_and(|p| bank.base.0 < p) {
                return Err(ManifestError::BankOrder);
            }
            prev_end = Some(end);
            *slot = *bank;
        }
        layout.num_banks = banks.len();
        Ok(layout)
    }

    /// The banks, ascending.
    pub fn banks(&self) -> &[DramBank] {
        &self.banks[..self.num_banks]
    }

    /// Total number of granules over all banks.
    pub fn total_granules(&self) -> u64 {
        self.banks().iter().map(DramBank::granules).sum()
    }

    /// Dense index (0..total_granules) of the granule containing `pa`, or
    /// `None` if `pa` is in no bank. Index order is bank order, then address.
    pub fn granule_slot(&self, pa: PhysAddr) -> Option<u64> {
        let mut first = 0u64;
        for bank in self.banks() {
            if bank.contains(pa) {
                return Some(first + ((pa.0 - bank.base.0) >> crate::types::GRANULE_SHIFT));
            }
            first += bank.granules();
        }
        None
    }
}

/// The first console of the manifest (`console_info`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConsoleInfo {
    /// MMIO base.
    pub base: PhysAddr,
    /// Number of 4 KiB pages to map.
    pub map_pages: u64,
    /// NUL-padded name, e.g. `b"pl011\0\0\0"`.
    pub name: [u8; 8],
    /// Input clock in Hz.
    pub clk_in_hz: u64,
    /// Baud rate.
    pub baud_rate: u64,
}

/// What the parser extracts from the manifest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Manifest {
    pub(crate) dram: DramLayout,
    pub(crate) console: Option<ConsoleInfo>,
}

/// Little-endian u64 at `off` of the copy; `off + 8 <= 4096` is guaranteed by callers.
fn word(page: &[u8; SHARED_PAGE_SIZE], off: usize) -> u64 {
    let mut b = [0u8; 8];
    if let Some(src) = page.get(off..off + 8) {
        b.copy_from_slice(src);
    }
    u64::from_le_bytes(b)
}

/// Read the manifest version (u32 at offset 0).
pub(crate) fn version_word(page: &[u8; SHARED_PAGE_SIZE]) -> u64 {
    word(page, OFF_VERSION) & 0xFFFF_FFFF
}

/// Translate the EL3-written PA `ptr` of an array of `count * elem` bytes into
/// an offset in the copy. The whole array must lie in `[shared, shared+4096)`;
/// anything else (including arithmetic overflow) is rejected.
fn array_offset(shared: PhysAddr, ptr: u64, count: u64, elem: usize) -> Option<usize> {
    let off = ptr.checked_sub(shared.0)?;
    let len = count.checked_mul(elem as u64)?;
    let end = off.checked_add(len)?;
    if end > SHARED_PAGE_SIZE as u64 {
        return None;
    }
    usize::try_from(off).ok()
}

/// Wrapping sum of `num + ptr + every word of the array + checksum` (§6.3).
fn list_sum(page: &[u8; SHARED_PAGE_SIZE], list_off: usize, arr_off: usize, words: usize) -> u64 {
    let mut sum = word(page, list_off)
        .wrapping_add(word(page, list_off + 8))
        .wrapping_add(word(page, list_off + 16));
    for i in 0..words {
        sum = sum.wrapping_add(word(page, arr_off + 8 * i));
    }
    sum
}

/// Parse and validate the DRAM and console lists. Check order (all -7):
/// count range, array inside the page, checksum, then bank contents.
pub(crate) fn parse(
    page: &[u8; SHARED_PAGE_SIZE],
    shared: PhysAddr,
    version: Version,
) -> Result<Manifest, ManifestError> {
    // --- plat_dram ---
    let num_banks = word(page, OFF_PLAT_DRAM);
    let banks_ptr = word(page, OFF_PLAT_DRAM + 8);
    if num_banks == 0 || num_banks > MAX_DRAM_BANKS as u64 {
        return Err(ManifestError::DramBankCount);
    }
    let banks_off = array_offset(shared, banks_ptr, num_banks, DRAM_BANK_SIZE)
        .ok_or(ManifestError::DramPointer)?;
    let nb = num_banks as usize; // <= 8, checked above
    if list_sum(page, OFF_PLAT_DRAM, banks_off, nb * DRAM_BANK_SIZE / 8) != 0 {
        return Err(ManifestError::DramChecksum);
    }
    let mut banks = [DramBank::default(); MAX_DRAM_BANKS];
    for (i, b) in banks.iter_mut().take(nb).enumerate() {
        let o = banks_off + i * DRAM_BANK_SIZE;
        *b = DramBank {
            base: PhysAddr(word(page, o)),
            size: word(page, o + 8),
        };
    }
    let dram = DramLayout::new(&banks[..nb])?;

    // --- plat_console ---
    let num_consoles = word(page, OFF_PLAT_CONSOLE);
    let consoles_ptr = word(page, OFF_PLAT_CONSOLE + 8);
    if num_consoles > MAX_CONSOLES {
        return Err(ManifestError::ConsoleCount);
    }
    // With no consoles EL3 may leave the pointer NULL; it then only enters the checksum.
    let cons_off = if num_consoles == 0 {
        0
    } else {
        array_offset(shared, consoles_ptr, num_consoles, CONSOLE_INFO_SIZE)
            .ok_or(ManifestError::ConsolePointer)?
    };
    let nc = num_consoles as usize; // <= 4, checked above
    let sum = list_sum(page, OFF_PLAT_CONSOLE, cons_off, nc * CONSOLE_INFO_SIZE / 8);
    if sum != 0 {
        // TF-A v2.12 quirk (rmm-el3-interface.md §6.5): its v0.3 QEMU manifest
        // leaves the 8-byte `name` word of each console out of the checksum, so
        // our full sum exceeds 0 by exactly the sum of the name words. Accept
        // that, and only that, and only for manifest 0.3 (what v2.12 sends);
        // v2.13+ (0.5) is fixed and must checksum correctly.
        let names = (0..nc).fold(0u64, |acc, i| {
            acc.wrapping_add(word(page, cons_off + i * CONSOLE_INFO_SIZE + 16))
        });
        let quirk = version == Version::new(0, 3) && nc > 0 && sum == names;
        if !quirk {
            return Err(ManifestError::ConsoleChecksum);
        }
    }
    let console = (nc > 0).then(|| ConsoleInfo {
        base: PhysAddr(word(page, cons_off)),
        map_pages: word(page, cons_off + 8),
        name: word(page, cons_off + 16).to_le_bytes(),
        clk_in_hz: word(page, cons_off + 24),
        baud_rate: word(page, cons_off + 32),
    });
    Ok(Manifest { dram, console })
}
