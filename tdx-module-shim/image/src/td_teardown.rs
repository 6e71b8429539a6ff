//! TD teardown driven by the ring-3 harness: VP.FLUSH of the vCPU (on the
//! LP that VP.INIT associated it with), MNG.VPFLUSHDONE, CACHE.WB on every
//! package, KEY.FREEID, PAGE.RECLAIM of every page with the TDR last,
//! PAGE.WBINVD; after which every page is PT_NDA and the harness reads it
//! as zeros. Error paths are checked on the way.

use tdx_module_shim::{Code, LeafId, PageType};

use qemu_q35::CpuIndex;
use qemu_q35::paging::UserSpace;

use crate::checks::{check, check_eq};
use crate::harness::{Call, EXIT_NO_FAULT, MAX_CALLS};
use crate::td_build::{Script, call, other_packages};
use crate::vmm::{self, PAGE};
use crate::{Job, st0};

/// Upper bound on the TD's pages (TDCX, SEPT, private, TDVPS, TDR).
const MAX_PAGES: usize =
    vmm::MAX_TDCX as usize + 3 + MAX_PRIVATE + MAX_AUG + 2 * vmm::TDVPS_PAGES as usize + 1;
/// PAGE.AUGed pages a torn-down TD may have.
pub const MAX_AUG: usize = 2;
/// Private pages a torn-down TD may have (`vmm::private(0..n)`).
pub const MAX_PRIVATE: usize = 4;

/// The TD's pages, children first, TDR last.
fn td_pages(
    tdr: u64,
    num_tdcx: u64,
    num_private: u64,
    vcpu1: Option<u64>,
    aug: &[Option<u64>],
    out: &mut [u64; MAX_PAGES],
) -> usize {
    let mut n = 0;
    let mut push = |p: u64| {
        if let Some(slot) = out.get_mut(n) {
            *slot = p;
            n += 1;
        }
    };
    for i in 0..num_tdcx {
        push(vmm::tdcx(i));
    }
    for l in 1..=3 {
        push(vmm::sept(l));
    }
    for j in 0..num_private.min(MAX_PRIVATE as u64) {
        push(vmm::private(j));
    }
    for &p in aug.iter().flatten() {
        push(p);
    }
    for i in (0..vmm::TDVPS_PAGES).rev() {
        push(vmm::tdvps(i));
    }
    if let Some(v) = vcpu1 {
        for i in (0..vmm::TDVPS_PAGES).rev() {
            push(v + i * PAGE);
        }
    }
    push(tdr);
    n
}

/// VPFLUSHDONE, CACHE.WB on every package, KEY.FREEID, PAGE.RECLAIM of
/// every page (TDR last), PAGE.WBINVD; then every page is PT_NDA and the
/// harness reads it as zeros.
/// What a TD is made of, for its teardown.
#[derive(Debug, Clone, Copy)]
pub struct TdPages {
    pub tdr: u64,
    pub num_tdcx: u64,
    /// The TD's HKID in PA position (for PAGE.WBINVD).
    pub hkid_pa: u64,
    /// Private pages `vmm::private(0..num_private)`.
    pub num_private: u64,
    /// TDVPR of a second vCPU (its TDCX pages follow it), if any.
    pub vcpu1: Option<u64>,
    /// The second vCPU was already flushed on its own LP.
    pub vcpu1_flushed: bool,
    /// Pages the VMM added with TDH.MEM.PAGE.AUG that the TD still has.
    pub aug: [Option<u64>; MAX_AUG],
}

pub fn run(cpu: CpuIndex, space: UserSpace, online: u32, td: TdPages) {
    let TdPages {
        tdr,
        num_tdcx,
        hkid_pa,
        num_private,
        vcpu1,
        vcpu1_flushed,
        aug,
    } = td;
    let mut s = Script::new();
    s.seamcall(
        "CPL3 TDH.PHYMEM.PAGE.RECLAIM of the TDR before teardown -> LIFECYCLE_STATE_INCORRECT",
        call(LeafId::PhymemPageReclaim, tdr, 0, 0, 0),
        st0(Code::LifecycleStateIncorrect),
    );
    s.seamcall(
        "CPL3 TDH.MNG.KEY.FREEID before VPFLUSHDONE -> LIFECYCLE_STATE_INCORRECT",
        call(LeafId::MngKeyFreeId, tdr, 0, 0, 0),
        st0(Code::LifecycleStateIncorrect),
    );
    s.seamcall(
        "CPL3 TDH.MNG.VPFLUSHDONE with the vCPU associated -> FLUSHVP_NOT_DONE",
        call(LeafId::MngVpFlushDone, tdr, 0, 0, 0),
        st0(Code::FlushvpNotDone),
    );
    s.seamcall(
        "CPL3 TDH.VP.FLUSH (on the LP of VP.INIT)",
        call(LeafId::VpFlush, vmm::tdvps(0), 0, 0, 0),
        0,
    );
    s.seamcall(
        "CPL3 TDH.VP.FLUSH again -> VCPU_NOT_ASSOCIATED",
        call(LeafId::VpFlush, vmm::tdvps(0), 0, 0, 0),
        st0(Code::VcpuNotAssociated),
    );
    if let Some(v) = vcpu1.filter(|_| !vcpu1_flushed) {
        s.seamcall(
            "CPL3 TDH.VP.FLUSH of the second vCPU",
            call(LeafId::VpFlush, v, 0, 0, 0),
            0,
        );
    }
    s.seamcall(
        "CPL3 TDH.MNG.VPFLUSHDONE",
        call(LeafId::MngVpFlushDone, tdr, 0, 0, 0),
        0,
    );
    s.seamcall(
        "CPL3 TDH.MNG.KEY.FREEID before CACHE.WB -> WBCACHE_NOT_COMPLETE",
        call(LeafId::MngKeyFreeId, tdr, 0, 0, 0),
        st0(Code::WbcacheNotComplete),
    );
    s.seamcall(
        "CPL3 TDH.PHYMEM.CACHE.WB (BSP's package)",
        call(LeafId::PhymemCacheWb, 0, 0, 0, 0),
        0,
    );
    let (exit, _) = s.run(cpu, space, None);
    check_eq(cpu, "harness run completed", exit, EXIT_NO_FAULT);
    other_packages(cpu, online, Job::CacheWb, 0);

    let mut pages = [0u64; MAX_PAGES];
    let n = td_pages(tdr, num_tdcx, num_private, vcpu1, &aug, &mut pages);
    let pages = &pages[..n];
    let mut s = Script::new();
    s.seamcall(
        "CPL3 TDH.MNG.KEY.FREEID",
        call(LeafId::MngKeyFreeId, tdr, 0, 0, 0),
        0,
    );
    s.seamcall(
        "CPL3 TDH.PHYMEM.PAGE.RECLAIM of the TDR first -> TD_ASSOCIATED_PAGES_EXIST",
        call(LeafId::PhymemPageReclaim, tdr, 0, 0, 0),
        st0(Code::TdAssociatedPagesExist),
    );
    for &p in pages {
        s.seamcall(
            "CPL3 TDH.PHYMEM.PAGE.RECLAIM",
            call(LeafId::PhymemPageReclaim, p, 0, 0, 0),
            0,
        );
    }
    s.seamcall(
        "CPL3 TDH.PHYMEM.PAGE.WBINVD of the old TDR (with its HKID)",
        call(LeafId::PhymemPageWbinvd, tdr | hkid_pa, 0, 0, 0),
        0,
    );
    let (exit, b) = s.run(cpu, space, None);
    check_eq(cpu, "harness run completed", exit, EXIT_NO_FAULT);
    let types_ok = pages.iter().enumerate().all(|(i, &p)| {
        let want = if p == tdr {
            PageType::Tdr
        } else if i < num_tdcx as usize
            || (vmm::tdvps(1)..vmm::tdvps(vmm::TDVPS_PAGES)).contains(&p)
            || vcpu1.is_some_and(|v| (v + PAGE..v + vmm::TDVPS_PAGES * PAGE).contains(&p))
        {
            PageType::Tdcx
        } else if p == vmm::tdvps(0) || Some(p) == vcpu1 {
            PageType::Tdvpr
        } else if (vmm::private(0)..vmm::private(num_private)).contains(&p)
            || aug.contains(&Some(p))
        {
            PageType::Reg
        } else {
            PageType::Ept
        };
        let out = &b.calls[2 + i].out;
        out[1] == want as u64 && out[2] == if p == tdr { 0 } else { tdr }
    });
    check(
        cpu,
        "PAGE.RECLAIM: RCX = page type, RDX = owner TDR for every page",
        types_ok,
        format_args!("{n} pages"),
    );

    let (mut nda, mut zero, mut clean) = (true, true, true);
    for chunk in pages.chunks(MAX_CALLS / 2) {
        let mut s = Script::new();
        for &p in chunk {
            s.seamcall(
                "CPL3 TDH.PHYMEM.PAGE.RDMD of a reclaimed page",
                call(LeafId::PhymemPageRdmd, p, 0, 0, 0),
                0,
            );
            s.push(Call::or_words(p, PAGE / 8), None);
        }
        let (exit, b) = s.run(cpu, space, None);
        clean &= exit == EXIT_NO_FAULT;
        let calls = &b.calls[..2 * chunk.len()];
        nda &= calls
            .chunks_exact(2)
            .all(|c| c[0].out[1] == PageType::Nda as u64 && c[0].out[2] == 0);
        zero &= calls.chunks_exact(2).all(|c| c[1].out[0] == 0);
    }
    check(
        cpu,
        "CPL3 reads every reclaimed page without a fault",
        clean,
        format_args!("{n} pages"),
    );
    check(
        cpu,
        "PHYMEM.PAGE.RDMD: every reclaimed page is PT_NDA, no owner",
        nda,
        format_args!("{n} pages"),
    );
    check(
        cpu,
        "every reclaimed page reads all zeros from ring 3",
        zero,
        format_args!("{n} pages x 4 KiB"),
    );
}
