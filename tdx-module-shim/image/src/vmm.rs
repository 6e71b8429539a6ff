//! The VMM harness's "host physical memory": a RAM region the ring-3
//! harness owns (mapped user RW, 4 KiB pages, in its page tables) and hands
//! to the module, and the data the harness writes there. The CPL 0 side
//! only composes op lists; every byte of TDMR_INFO, TD_PARAMS and the
//! source page is written by the harness at CPL 3 (`Op::Store`/`Op::Fill`).
//!
//! ```text
//! 0x60_0000  TDMR_INFO page: pointer array @ +0, one TDMR_INFO @ +0x200
//! 0x60_1000  TD_PARAMS (1024 B)
//! 0x60_2000  PAGE.ADD source page (4 KiB of zeros)
//! 0x60_3000  TDH.SYS.INFO outputs: TDSYSINFO_STRUCT @ +0 (1 KiB),
//!            CMR_INFO @ +0x400 (32 x 16 B) (sys_info.rs)
//! 0x60_4000  TDH.SYS.RDALL md_list page (sys_info.rs)
//! 0x60_5000  free up to the PAMT
//! 0x80_0000  PAMT_4K (4 MiB: 1 GiB / 4 KiB * 16 B)
//! 0xC0_0000  PAMT_2M (8 KiB), 0xC0_2000 PAMT_1G (4 KiB)
//! 0xD0_0000  TD page pool (the TDMR's only available part): TDR, TDCX...
//! 0xE0_0000  end
//! ```
//!
//! One TDMR, [0, 1 GiB), with two reserved areas: [0, POOL) (the shim,
//! the harness data and the PAMT) and [POOL_END, 1 GiB) (RAM above the
//! region and the hole up to 1 GiB), so its available part lies in the
//! CMRs for any `-m` >= 16M. The region starts at `config::SHIM_END`, above
//! the shim's image.

use tdx_module_shim::pamt::{MAX_RSVD, PamtLevel, TdmrInfo};
use tdx_module_shim::td_params::TD_PARAMS_LEN;

use qemu_q35::paging::VmmRegion;

use crate::harness::Call;

/// The region (2 MiB-aligned; qemu-q35 splits it into 4 KiB pages).
pub const REGION: VmmRegion = VmmRegion {
    start: 0x60_0000,
    end: 0xE0_0000,
};
pub const PAGE: u64 = 4096;
const GIB: u64 = 1 << 30;

pub const TDMR_ARRAY: u64 = 0x60_0000;
pub const TDMR_INFO: u64 = TDMR_ARRAY + 0x200;
pub const TD_PARAMS: u64 = 0x60_1000;
pub const SOURCE: u64 = 0x60_2000;
/// TDH.SYS.INFO's TDSYSINFO_STRUCT (1 KiB-aligned) and CMR_INFO array
/// (512-aligned), in one page.
pub const SYSINFO: u64 = 0x60_3000;
pub const CMR_INFO: u64 = SYSINFO + 0x400;
/// TDH.SYS.RDALL's list page.
pub const MD_LIST: u64 = 0x60_4000;
pub const PAMT_4K: u64 = 0x80_0000;
pub const PAMT_2M: u64 = 0xC0_0000;
pub const PAMT_1G: u64 = 0xC0_2000;
pub const POOL: u64 = 0xD0_0000;
pub const POOL_END: u64 = REGION.end;

/// TD pages from the pool.
pub const TDR: u64 = POOL;
/// TDCX page `i` (i < [`MAX_TDCX`]).
pub const fn tdcx(i: u64) -> u64 {
    POOL + (1 + i) * PAGE
}
pub const MAX_TDCX: u64 = 16;
/// SEPT page for level `l` (1..=3; the page added at level l).
pub const fn sept(l: u64) -> u64 {
    POOL + (1 + MAX_TDCX + l) * PAGE
}
/// Pages of the TD's one vCPU: the TDVPR, then its TDCX pages.
pub const TDVPS_PAGES: u64 = tdx_module_shim::vp::TDVPS_PAGES as u64;
/// TDVPS page `i` (0 = the TDVPR).
pub const fn tdvps(i: u64) -> u64 {
    POOL + (1 + MAX_TDCX + 4 + i) * PAGE
}
/// The TD private page added at GPA 0x1000.
pub const PRIVATE: u64 = private(0);
/// Private page `j` (j < [`MAX_PRIVATE`]): the rest of the pool, used
/// by bench mode's PAGE.ADD rounds (bench.rs).
pub const fn private(j: u64) -> u64 {
    POOL + (1 + MAX_TDCX + 4 + TDVPS_PAGES + j) * PAGE
}
pub const MAX_PRIVATE: u64 = (POOL_END - POOL) / PAGE - (1 + MAX_TDCX + 4 + TDVPS_PAGES);

/// The TDMR the harness describes.
pub fn tdmr() -> TdmrInfo {
    let mut rsvd = [(0, 0); MAX_RSVD];
    rsvd[0] = (0, POOL);
    rsvd[1] = (POOL_END, GIB - POOL_END);
    let size = |l: PamtLevel| (GIB / l.granule() * 16).next_multiple_of(PAGE);
    TdmrInfo {
        base: 0,
        size: GIB,
        pamt: [
            (PAMT_4K, size(PamtLevel::P4k)),
            (PAMT_2M, size(PamtLevel::P2m)),
            (PAMT_1G, size(PamtLevel::P1g)),
        ],
        rsvd,
    }
}

fn le_words(b: &[u8], base: u64, out: &mut [Call], n: &mut usize) {
    for (i, w) in b.chunks_exact(8).enumerate() {
        let mut x = [0u8; 8];
        x.copy_from_slice(w);
        let v = u64::from_le_bytes(x);
        if v != 0 && *n < out.len() {
            out[*n] = Call::store(base + 8 * i as u64, v);
            *n += 1;
        }
    }
}

/// Ops that write the TDMR_INFO page (zero it, pointer array, entry).
/// Returns the number of ops written into `out`.
pub fn write_tdmr_info(out: &mut [Call]) -> usize {
    let mut n = 0;
    if out.len() < 2 {
        return 0;
    }
    out[0] = Call::fill(TDMR_ARRAY, PAGE / 8, 0);
    out[1] = Call::store(TDMR_ARRAY, TDMR_INFO);
    n += 2;
    le_words(&tdmr().to_bytes(), TDMR_INFO, out, &mut n);
    n
}

/// ATTRIBUTES, XFAM, MAX_VCPUS, EPTP_CONTROLS, TSC_FREQUENCY of the TD.
const XFAM: u64 = 0x3; // x87 | SSE (XFAM_FIXED1)
const MAX_VCPUS: u64 = 1;
const EPTP_CONTROLS: u64 = 6 | 3 << 3; // WB, 4-level
const TSC_FREQUENCY: u64 = 100; // 2.5 GHz in 25 MHz units

/// A valid TD_PARAMS (§6.1): GPAW 48, no debug, no CPUID config.
pub fn td_params() -> [u8; TD_PARAMS_LEN] {
    td_params_vcpus(MAX_VCPUS)
}

/// [`td_params`] with MAX_VCPUS = `max_vcpus`.
pub fn td_params_vcpus(max_vcpus: u64) -> [u8; TD_PARAMS_LEN] {
    let mut b = [0u8; TD_PARAMS_LEN];
    let mut put = |off: usize, v: u64| b[off..off + 8].copy_from_slice(&v.to_le_bytes());
    put(8, XFAM);
    put(16, max_vcpus);
    put(24, EPTP_CONTROLS);
    put(40, TSC_FREQUENCY);
    b
}

/// Ops that write TD_PARAMS. Returns the number of ops written.
pub fn write_td_params(out: &mut [Call]) -> usize {
    write_td_params_bytes(out, &td_params())
}

/// Ops that write TD_PARAMS for two vCPUs (the TD that runs, td_run.rs).
pub fn write_td_params_2(out: &mut [Call]) -> usize {
    write_td_params_bytes(out, &td_params_vcpus(2))
}

fn write_td_params_bytes(out: &mut [Call], bytes: &[u8; TD_PARAMS_LEN]) -> usize {
    if out.is_empty() {
        return 0;
    }
    out[0] = Call::fill(TD_PARAMS, TD_PARAMS_LEN as u64 / 8, 0);
    let mut n = 1;
    le_words(bytes, TD_PARAMS, out, &mut n);
    n
}
