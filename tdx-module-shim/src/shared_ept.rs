//! Shared GPAs: the VMM's shared EPT (TD VMCS SHARED_EPT_POINTER, written
//! with TDH.VP.WR) as the image needs it to give a running TD its shared
//! pages.
//!
//! On hardware the CPU walks two EPTs for a TD: the Secure EPT for GPAs
//! below the shared bit (GPAW − 1) and the VMM's own EPT, through
//! SHARED_EPT_POINTER, for GPAs with it set. The VMM owns the shared EPT
//! and the pages it maps; the module never validates them, because
//! hardware accesses them with the VMM's key ID, so a shared mapping can
//! never reach TD-private memory. The shim has no key IDs, so
//! [`Module::shared_pages_2m`] stands in for them: it reads the VMM's
//! tables through `copy_from_vmm` (VMM memory only) and returns a leaf
//! only if its page is VMM memory that is not isolated right now, so a
//! TD-private, module or shim page is never mapped shared. The image
//! rebuilds a TD's mappings when a page is isolated while the TD runs
//! (`td.rs`), which closes the window between this check and the use.
//!
//! EPT format (SDM Vol. 3C §29.3.2): bits 2:0 R/W/X (an entry is present
//! if any is set), bit 7 a 1 GiB / 2 MiB leaf above level 0, bits 51:12
//! the next table or page. Only bits 51:12 of SHARED_EPT_POINTER are the
//! VMM's (its write mask); the page-walk length and the other controls
//! are the TD's own (`td_vmcs_fields_lookup` / the module's shared-GPA
//! walk copies them from the TDCS EPTP): 4 levels for GPAW 48, 5 for 52.

use crate::Module;
use crate::platform::TdxPlatform;
use crate::types::{Gpa, Hpa};

/// One 4 KiB shared page of a TD.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SharedPage {
    /// Its GPA, shared bit included.
    pub gpa: Gpa,
    /// The VMM page it maps to.
    pub hpa: Hpa,
    /// EPT W.
    pub writable: bool,
    /// EPT X.
    pub executable: bool,
}

const EPT_R: u64 = 1;
const EPT_W: u64 = 2;
const EPT_X: u64 = 4;
const EPT_PS: u64 = 1 << 7;
const ADDR: u64 = 0x000F_FFFF_FFFF_F000;
const SPAN_2M: u64 = 2 << 20;
const SPAN_1G: u64 = 1 << 30;
/// Entries read per `copy_from_vmm` while scanning a page table.
const BATCH: usize = 64;

impl SharedPage {
    /// A placeholder for output arrays.
    pub const EMPTY: SharedPage = SharedPage {
        gpa: Gpa(0),
        hpa: Hpa(0),
        writable: false,
        executable: false,
    };
}

fn present(e: u64) -> bool {
    e & (EPT_R | EPT_W | EPT_X) != 0
}

impl<P: TdxPlatform> Module<P> {
    fn ept_entry(&self, table: u64, idx: u64) -> Option<u64> {
        let mut b = [0u8; 8];
        self.plat.copy_from_vmm(table + 8 * idx, &mut b).ok()?;
        Some(u64::from_le_bytes(b))
    }

    /// Whether `hpa` is VMM memory the VMM can reach now (not isolated).
    fn vmm_page(&self, hpa: u64) -> bool {
        self.plat.copy_from_vmm(hpa, &mut [0u8; 1]).is_ok()
    }

    /// The 4 KiB pages the shared EPT at `eptp` (bits 51:12) maps in the
    /// 2 MiB-aligned range at `base` (a shared GPA) of a TD with GPAW 52
    /// (`gpaw52`, a 5-level walk) or 48 (4 levels), into `out`; returns
    /// how many. Missing or unreadable tables, non-present entries and
    /// pages that are not VMM memory map nothing; so does an EPTP of 0
    /// (no shared EPT).
    pub fn shared_pages_2m(
        &self,
        eptp: u64,
        gpaw52: bool,
        base: Gpa,
        out: &mut [SharedPage],
    ) -> usize {
        let levels = if gpaw52 { 4 } else { 3 };
        if eptp & ADDR == 0 || !base.0.is_multiple_of(SPAN_2M) {
            return 0;
        }
        let idx = |lvl: u64| (base.0 >> (12 + 9 * lvl)) & 511;
        let mut table = eptp & ADDR;
        // Down to the PD entry (level 1) of the range.
        let mut lvl = levels;
        let pde = loop {
            let Some(e) = self.ept_entry(table, idx(lvl)).filter(|&e| present(e)) else {
                return 0;
            };
            if lvl == 1 {
                break e;
            }
            if lvl == 2 && e & EPT_PS != 0 {
                // A 1 GiB leaf: the 2 MiB range is part of it.
                let first = (e & ADDR & !(SPAN_1G - 1)) + (base.0 & (SPAN_1G - 1));
                return self.large(first, e, base, out);
            }
            table = e & ADDR;
            lvl -= 1;
        };
        if pde & EPT_PS != 0 {
            return self.large(pde & ADDR & !(SPAN_2M - 1), pde, base, out);
        }
        let pt = pde & ADDR;
        let mut n = 0;
        let mut buf = [0u8; 8 * BATCH];
        for first in (0..512).step_by(BATCH) {
            if self.plat.copy_from_vmm(pt + 8 * first, &mut buf).is_err() {
                return n;
            }
            for (k, w) in buf.chunks_exact(8).enumerate() {
                let mut b = [0u8; 8];
                b.copy_from_slice(w);
                let e = u64::from_le_bytes(b);
                let gpa = base.0 + ((first + k as u64) << 12);
                if present(e) && self.vmm_page(e & ADDR) {
                    let Some(slot) = out.get_mut(n) else {
                        return n;
                    };
                    *slot = leaf(gpa, e & ADDR, e);
                    n += 1;
                }
            }
        }
        n
    }

    /// The pages of a large leaf `e` whose first 4 KiB page in the range
    /// is `first`.
    fn large(&self, first: u64, e: u64, base: Gpa, out: &mut [SharedPage]) -> usize {
        let mut n = 0;
        for k in 0..512u64 {
            let hpa = first + (k << 12);
            if self.vmm_page(hpa) {
                let Some(slot) = out.get_mut(n) else {
                    return n;
                };
                *slot = leaf(base.0 + (k << 12), hpa, e);
                n += 1;
            }
        }
        n
    }
}

fn leaf(gpa: u64, hpa: u64, e: u64) -> SharedPage {
    SharedPage {
        gpa: Gpa(gpa),
        hpa: Hpa(hpa),
        writable: e & EPT_W != 0,
        executable: e & EPT_X != 0,
    }
}
