//! Intel TDX build-time (MRTD) and run-time (RTMR) measurements.
//!
//! Normative: shared/spec/tdx-module-abi.md §7 (values read from the
//! intel/tdx-module source, tag `TDX_1.5.01`). MRTD is one SHA-384 context
//! that runs from TDH.MNG.INIT to TDH.MR.FINALIZE; each PAGE.ADD and
//! MR.EXTEND appends a 128-byte update block (plus, for MR.EXTEND, the
//! 256 measured bytes).
//!
//! The sheet warns that MRTD algorithms differ across module versions
//! (module 2.0 changed the page-add order); this file implements 1.5.

use crate::MeasureError;
use crate::hash::{HashAlgo, Hasher};
use crate::register::MeasurementRegister;

/// SHA-384 digest length: MRTD and RTMR width.
pub const TDX_DIGEST_LEN: usize = 48;

/// Size of one `sha384_128B_block_t` update block (§7).
pub const UPDATE_BLOCK_LEN: usize = 128;

/// Bytes measured by one TDH.MR.EXTEND call (§2 leaf 16, §7).
pub const MR_EXTEND_CHUNK: usize = 256;

/// Size of a TD private page added by TDH.MEM.PAGE.ADD.
pub const TDX_PAGE_SIZE: usize = 4096;

/// The SEAMCALL leaf an MRTD update block records (§7 "Update block").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MrLeaf {
    /// TDH.MEM.PAGE.ADD: name "MEM.PAGE.ADD".
    MemPageAdd,
    /// TDH.MR.EXTEND: name "MR.EXTEND".
    MrExtend,
}

impl MrLeaf {
    /// The ASCII leaf name written at bytes 0..16 (zero-padded) of the block.
    pub const fn name(self) -> &'static [u8] {
        match self {
            MrLeaf::MemPageAdd => b"MEM.PAGE.ADD",
            MrLeaf::MrExtend => b"MR.EXTEND",
        }
    }
}

/// Encodes a 128-byte update block (§7): leaf name @0..16, GPA (u64 LE)
/// @16..24, zero @24..128. The GPA must already be aligned by the caller.
pub fn update_block(leaf: MrLeaf, gpa: u64) -> [u8; UPDATE_BLOCK_LEN] {
    let mut b = [0u8; UPDATE_BLOCK_LEN];
    let name = leaf.name();
    b[..name.len()].copy_from_slice(name);
    b[16..24].copy_from_slice(&gpa.to_le_bytes());
    b
}

/// The MRTD accumulator of one TD under construction.
#[derive(Clone, Debug)]
pub struct Mrtd {
    hasher: Hasher,
}

impl Default for Mrtd {
    fn default() -> Self {
        Self::new()
    }
}

impl Mrtd {
    /// TDH.MNG.INIT: a fresh SHA-384 context (§7).
    pub fn new() -> Self {
        Mrtd {
            hasher: Hasher::new(HashAlgo::Sha384),
        }
    }

    /// TDH.MEM.PAGE.ADD at `gpa` (4 KiB-aligned, level bits stripped).
    ///
    /// Only the update block is hashed: "Page content is not measured" (§7);
    /// content is measured separately through MR.EXTEND.
    pub fn page_add(&mut self, gpa: u64) -> Result<(), MeasureError> {
        check_aligned(gpa, TDX_PAGE_SIZE)?;
        self.hasher.update(&update_block(MrLeaf::MemPageAdd, gpa));
        Ok(())
    }

    /// TDH.MR.EXTEND of the 256-byte chunk at `gpa` (256-byte aligned): the
    /// update block, then the chunk content (two SHA-384 blocks) (§7).
    pub fn mr_extend(
        &mut self,
        gpa: u64,
        chunk: &[u8; MR_EXTEND_CHUNK],
    ) -> Result<(), MeasureError> {
        check_aligned(gpa, MR_EXTEND_CHUNK)?;
        self.hasher.update(&update_block(MrLeaf::MrExtend, gpa));
        self.hasher.update(chunk);
        Ok(())
    }

    /// Measures a whole page: 16 MR.EXTEND calls at `gpa + i * 256`, as the
    /// sheet says "A full page needs 16 calls" (§7). Does **not** add the
    /// page; call [`Mrtd::page_add`] first, as a VMM would.
    pub fn extend_page(
        &mut self,
        gpa: u64,
        page: &[u8; TDX_PAGE_SIZE],
    ) -> Result<(), MeasureError> {
        check_aligned(gpa, TDX_PAGE_SIZE)?;
        for (i, chunk) in page.as_chunks::<MR_EXTEND_CHUNK>().0.iter().enumerate() {
            self.mr_extend(gpa + (i * MR_EXTEND_CHUNK) as u64, chunk)?;
        }
        Ok(())
    }

    /// TDH.MR.FINALIZE: the SHA-384 finalisation over all inputs (§7).
    pub fn finalize(self) -> [u8; TDX_DIGEST_LEN] {
        let m = self.hasher.finalize();
        let mut out = [0u8; TDX_DIGEST_LEN];
        out.copy_from_slice(m.as_bytes());
        out
    }
}

fn check_aligned(gpa: u64, align: usize) -> Result<(), MeasureError> {
    if gpa.is_multiple_of(align as u64) {
        Ok(())
    } else {
        Err(MeasureError::Misaligned(gpa))
    }
}

/// One TD run-time measurement register (RTMR0..3).
///
/// TDG.MR.RTMR.EXTEND: `RTMR[i] = SHA-384(RTMR[i] (48) ‖ data (48))`, initial
/// value zero (TDH.MNG.INIT) (§7).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rtmr {
    reg: MeasurementRegister,
}

impl Default for Rtmr {
    fn default() -> Self {
        Self::new()
    }
}

impl Rtmr {
    /// An RTMR reset to zero, as TDH.MNG.INIT does.
    pub const fn new() -> Self {
        Rtmr {
            reg: MeasurementRegister::new(HashAlgo::Sha384),
        }
    }

    /// TDG.MR.RTMR.EXTEND with the 48 data bytes.
    pub fn extend(&mut self, data: &[u8; TDX_DIGEST_LEN]) {
        self.reg.extend(data);
    }

    /// The current 48-byte value.
    pub fn value(&self) -> [u8; TDX_DIGEST_LEN] {
        let mut out = [0u8; TDX_DIGEST_LEN];
        out.copy_from_slice(self.reg.value().as_bytes());
        out
    }
}
