//! `TdxPlatform` for the shim on QEMU q35 (the trait contract is in
//! `tdx-module-shim/src/platform.rs`).
//!
//! - `map_page` / `zero_page`: the boot tables' identity map (every module
//!   call runs on them: traps from CPL 3 switch CR3), `AtomicU64` view. The
//!   page must lie inside a CMR (RAM, not the shim's own memory); anything
//!   else is a module bug and stops the shim.
//! - `copy_from_vmm`: the range must be inside one page of the VMM region
//!   (`vmm::REGION`) whose CPL 3 PTE is present; it is read through the
//!   identity map with volatile loads. The TLB epoch (`qemu_q35::tlb`) is a
//!   seqlock: if a page was isolated while copying, the copy is retried, so
//!   a copy never returns data the module wrote into an isolated page.
//! - `copy_to_vmm`: the same range checks, then volatile stores through
//!   the identity map. A write cannot be taken back, so instead of the
//!   seqlock a writer announces itself in [`VMM_WRITERS`] before it checks
//!   the PTE, and `isolate_page` waits, after clearing P, until no writer
//!   is in flight (Dekker: each side stores, fences, then loads the
//!   other's variable, so either the writer sees P clear or the isolator
//!   sees the writer). No write lands in a page once its isolation
//!   returned, as the module then writes TD data into it.
//! - `isolate_page`: clear P in the VMM page's CPL 3 PTE, then
//!   `tlb::shootdown` (every CPU off the user tables or reloaded since),
//!   then wait for in-flight `copy_to_vmm` writers. `release_page`: set P
//!   again (no flush needed). Pages outside the VMM
//!   region (none today: the TDMR's available part is inside it) have no
//!   CPL 3 mapping to remove.
//! - `Lock<T>`: [`SpinCell`], a one-CAS try-lock.

use tdx_module_shim::{Cmr, Hpa, PAGE_WORDS, PageWords, TdxPlatform, VmmAccessError};

use core::sync::atomic::{AtomicU64, Ordering, fence};

use qemu_q35::{paging, println, tlb};

use crate::arch::{self, SpinCell};

const PAGE: u64 = 4096;
/// Copies retried when a page was isolated meanwhile.
const COPY_RETRIES: u32 = 16;

/// `copy_to_vmm` calls between their PTE check and their last store.
static VMM_WRITERS: AtomicU64 = AtomicU64::new(0);

/// The machine behind the module.
#[derive(Debug)]
pub struct ShimPlatform {
    /// RAM the module may own (the CMRs).
    cmrs: [Cmr; tdx_module_shim::MAX_CMRS],
    /// The device key hierarchy (config.rs: the fw_cfg root secret).
    keys: Option<cmon_keys::KeyHierarchy>,
}

impl ShimPlatform {
    pub fn new(
        cmrs: [Cmr; tdx_module_shim::MAX_CMRS],
        keys: Option<cmon_keys::KeyHierarchy>,
    ) -> Self {
        ShimPlatform { cmrs, keys }
    }

    fn in_cmr(&self, page: u64) -> bool {
        self.cmrs
            .iter()
            .any(|c| c.size != 0 && c.base <= page && page + PAGE <= c.base + c.size)
    }

    fn page(&self, hpa: Hpa) -> &'static PageWords {
        let a = hpa.raw();
        if !a.is_multiple_of(PAGE) || !self.in_cmr(a) {
            println!("tdx-shim: FATAL: the module mapped {a:#x}, not a CMR page");
            qemu_q35::exit::exit(qemu_q35::exit::ExitCode::Fatal)
        }
        arch::ram_page(a)
    }
}

impl TdxPlatform for ShimPlatform {
    type Lock<T: Send> = SpinCell<T>;
    type Mapping<'a> = &'static PageWords;

    fn map_page(&self, hpa: Hpa) -> &'static PageWords {
        self.page(hpa)
    }

    fn zero_page(&self, hpa: Hpa) {
        let p = self.page(hpa);
        for w in p.iter().take(PAGE_WORDS) {
            w.store(0, Ordering::Relaxed);
        }
    }

    fn copy_from_vmm(&self, hpa: u64, buf: &mut [u8]) -> Result<(), VmmAccessError> {
        let err = VmmAccessError(hpa);
        let Some(last) = hpa.checked_add(buf.len().max(1) as u64 - 1) else {
            return Err(err);
        };
        if hpa / PAGE != last / PAGE {
            return Err(err);
        }
        for _ in 0..COPY_RETRIES {
            let before = tlb::epoch();
            if !paging::vmm_page_mapped(hpa) {
                return Err(err);
            }
            arch::copy_ram(hpa, buf);
            core::sync::atomic::fence(Ordering::SeqCst);
            if tlb::epoch() == before {
                return Ok(());
            }
        }
        Err(err)
    }

    fn copy_to_vmm(&self, hpa: u64, buf: &[u8]) -> Result<(), VmmAccessError> {
        let err = VmmAccessError(hpa);
        let Some(last) = hpa.checked_add(buf.len().max(1) as u64 - 1) else {
            return Err(err);
        };
        if hpa / PAGE != last / PAGE {
            return Err(err);
        }
        VMM_WRITERS.fetch_add(1, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        let mapped = paging::vmm_page_mapped(hpa);
        if mapped {
            arch::write_ram(hpa, buf);
        }
        VMM_WRITERS.fetch_sub(1, Ordering::Release);
        if mapped { Ok(()) } else { Err(err) }
    }

    fn isolate_page(&self, hpa: Hpa) {
        if paging::set_vmm_page(hpa.raw(), false) {
            fence(Ordering::SeqCst);
            tlb::shootdown();
            // Writers that saw P set finish before the module uses the page.
            while VMM_WRITERS.load(Ordering::Acquire) != 0 {
                core::hint::spin_loop();
            }
        }
    }

    fn keys(&self) -> Option<&cmon_keys::KeyHierarchy> {
        self.keys.as_ref()
    }

    fn release_page(&self, hpa: Hpa) {
        paging::set_vmm_page(hpa.raw(), true);
    }
}
