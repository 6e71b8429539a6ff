//! The VMM's shared EPT as the image maps it for a running TD
//! (`shared_ept.rs`): what is mapped, what is refused.
mod common;
use common::mem_mgmt::*;
use common::*;

use tdx_module_shim::shared_ept::SharedPage;
use tdx_module_shim::*;

/// VMM pages of a shared EPT (4-level) and two pages it maps.
const PML4: u64 = 0x50_0000;
const PDPT: u64 = 0x50_1000;
const PD_S: u64 = 0x50_2000;
const PT_S: u64 = 0x50_3000;
const PAGE_A: u64 = 0x50_4000;
const PAGE_B: u64 = 0x50_5000;
/// Shared GPA range [SHARED_BASE, + 2 MiB): shared bit 47, GPA 0xFFE0_0000.
const SHARED_BASE: u64 = 1 << 47 | 0xFFE0_0000;
/// SHARED_EPT_POINTER: the root (bits 51:12; the rest are the TD's).
const EPTP: u64 = PML4;
const RWX: u64 = 7;
const WB: u64 = 6 << 3;

fn put(m: &M, table: u64, idx: u64, v: u64) {
    m.platform().vmm_write(table + 8 * idx, &v.to_le_bytes());
}

fn tables(m: &M) {
    put(m, PML4, 256, PDPT | RWX);
    put(m, PDPT, 3, PD_S | RWX);
    put(m, PD_S, 511, PT_S | RWX);
}

fn pages(m: &M, eptp: u64, base: u64) -> Vec<SharedPage> {
    let mut out = [SharedPage::EMPTY; 512];
    let n = m.shared_pages_2m(eptp, false, Gpa(base), &mut out);
    out[..n].to_vec()
}

#[test]
fn maps_present_leaves_to_vmm_pages() {
    let m = runnable();
    tables(&m);
    put(&m, PT_S, 0x1FC, PAGE_A | RWX | WB);
    put(&m, PT_S, 0x1FD, PAGE_B | 1 | WB); // read-only, no execute
    put(&m, PT_S, 0x1FE, 0x50_6000 | WB); // not present (no R/W/X)
    let got = pages(&m, EPTP, SHARED_BASE);
    assert_eq!(
        got,
        vec![
            SharedPage {
                gpa: Gpa(SHARED_BASE + 0x1F_C000),
                hpa: Hpa(PAGE_A),
                writable: true,
                executable: true
            },
            SharedPage {
                gpa: Gpa(SHARED_BASE + 0x1F_D000),
                hpa: Hpa(PAGE_B),
                writable: false,
                executable: false
            },
        ]
    );
    // Nothing for another 2 MiB range, an unaligned base or no EPTP; the
    // EPTP's low bits are not the VMM's and change nothing.
    assert!(pages(&m, EPTP, SHARED_BASE - (2 << 20)).is_empty());
    assert!(pages(&m, EPTP, SHARED_BASE + 0x1000).is_empty());
    assert!(pages(&m, 0, SHARED_BASE).is_empty());
    assert_eq!(pages(&m, PML4 | 0x5E, SHARED_BASE), got);
    // A GPAW-52 TD walks 5 levels: PML4 is then its PML5, whose entry for
    // this GPA (index 0 at bit 48) is empty.
    let mut out = [SharedPage::EMPTY; 4];
    assert_eq!(m.shared_pages_2m(EPTP, true, Gpa(SHARED_BASE), &mut out), 0);
}

#[test]
fn never_maps_a_page_the_vmm_cannot_reach() {
    let m = runnable();
    tables(&m);
    // The VMM points shared GPAs at a TD-private page, the TDR and a SEPT
    // page: all isolated, none is mapped.
    put(&m, PT_S, 0, DATA0 | RWX | WB);
    put(&m, PT_S, 1, TDR | RWX | WB);
    put(&m, PT_S, 2, PT | RWX | WB);
    put(&m, PT_S, 3, PAGE_A | RWX | WB);
    let got = pages(&m, EPTP, SHARED_BASE);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].hpa, Hpa(PAGE_A));
    // A page AUGed to the TD stops being mappable at once.
    put(&m, PT_S, 4, AUG0 | RWX | WB);
    assert_eq!(pages(&m, EPTP, SHARED_BASE).len(), 2);
    assert_eq!(call(&m, AUG, 0x2000, TDR, AUG0, 0), 0);
    assert_eq!(pages(&m, EPTP, SHARED_BASE).len(), 1);
    // Tables in isolated memory are not walked either.
    let m2 = runnable();
    put(&m2, PML4, 256, TDR | RWX);
    assert!(pages(&m2, EPTP, SHARED_BASE).is_empty());
}

#[test]
fn large_leaves_map_their_4k_pages() {
    let m = runnable();
    put(&m, PML4, 256, PDPT | RWX);
    put(&m, PDPT, 3, PD_S | RWX);
    // A 2 MiB leaf at 0x60_0000 (the fake RAM is all VMM memory).
    put(&m, PD_S, 511, 0x60_0000 | RWX | WB | 1 << 7);
    let got = pages(&m, EPTP, SHARED_BASE);
    assert_eq!(got.len(), 512);
    assert_eq!(got[5].hpa, Hpa(0x60_5000));
    assert_eq!(got[5].gpa, Gpa(SHARED_BASE + 0x5000));
    // A 1 GiB leaf: the range's pages are at its offset in the GiB.
    put(&m, PDPT, 3, 0x4000_0000 | RWX | WB | 1 << 7);
    let got = pages(&m, EPTP, SHARED_BASE);
    assert_eq!(got.len(), 512);
    assert_eq!(got[0].hpa, Hpa(0x4000_0000 + 0x3FE0_0000));
}
