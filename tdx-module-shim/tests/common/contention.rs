//! Helpers for the lock-contention tests (`tests/contention*.rs`): hold a
//! lock the way another LP holds it, run a leaf, and check that it answers
//! the contention status, changes nothing, leaves every other lock free,
//! and succeeds once the lock is released.
//!
//! PAMT entry locks are held by setting the exclusive bit in PAMT memory
//! ([`hold_pamt`]), as a leaf on another LP does with its compare-and-swap.
//! The module's own locks (global SYS lock, TDCS, TDMR.INIT, CACHE.WB) are
//! held through the `Module::hold_lock` test hook.

use super::mem_mgmt::*;
use super::*;
use tdx_module_shim::enter::{GuestState, gpr};
use tdx_module_shim::*;

/// A lock a test holds while the leaf runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hold {
    /// The PAMT entry of this page, exclusively.
    Pamt(u64),
    /// One of the module's own locks.
    Lock(TestLock),
}

/// The TD's TDCS lock (OP_STATE; KOT for MNG.CREATE).
pub const TDCS: Hold = Hold::Lock(TestLock::Tdcs { hkid: HKID as u16 });
/// The global lock, exclusive (SYS.INIT / CONFIG / KEY.CONFIG in flight).
pub const SYS_X: Hold = Hold::Lock(TestLock::Sys { exclusive: true });
/// The global lock, shared (an LP.INIT in flight).
pub const SYS_S: Hold = Hold::Lock(TestLock::Sys { exclusive: false });

pub const OP_BUSY: u64 = st(Code::OperandBusy, OperandId::OpState);

/// A held lock; released when dropped.
pub enum Held<'a> {
    Pamt(&'a M, u64),
    Lock(HeldLock<'a, FakePlat>),
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        if let Held::Pamt(m, e) = *self {
            unhold_pamt(m, e);
        }
    }
}

pub fn take(m: &M, h: Hold) -> Held<'_> {
    match h {
        Hold::Pamt(pa) => Held::Pamt(m, hold_pamt(m, pa)),
        Hold::Lock(l) => Held::Lock(m.hold_lock(l).expect("lock free before the call")),
    }
}

/// Pages below this HPA are the ones the tests use.
const PAGES_END: u64 = 0x50_0000;

/// `(page, PAMT word 0)` of every page below [`PAGES_END`] whose PAMT
/// entry lock bits (15:0) are set.
pub fn locked_pages(m: &M) -> Vec<(u64, u64)> {
    (0..PAGES_END >> 12)
        .map(|i| (i << 12, m.platform().word(PAMT_4K + 16 * i)))
        .filter(|&(_, w)| w & 0xFFFF != 0)
        .collect()
}

/// Every module lock other than `held` can be taken (none was left held).
pub fn assert_module_locks_free(m: &M, held: Hold, name: &str) {
    let mut locks = vec![
        TestLock::Tdcs { hkid: HKID as u16 },
        TestLock::Wbcache { package: 0 },
        TestLock::Wbcache { package: 1 },
    ];
    if m.tdmrs().count() > 0 {
        locks.push(TestLock::TdmrInit { index: 0 });
    }
    if !matches!(held, Hold::Lock(TestLock::Sys { .. })) {
        locks.push(TestLock::Sys { exclusive: true });
    }
    for l in locks.into_iter().filter(|&l| held != Hold::Lock(l)) {
        assert!(m.hold_lock(l).is_some(), "{name}: {l:?} left held");
    }
}

/// The pages whose contents and PAMT entries the leaves may change.
const WATCHED: [u64; 9] = [TDR, TDVPR, VCX0, SEPT0, PD, PT, SEPT0 + 0x3000, DATA0, AUG0];

/// Everything a failing leaf must leave as it was: module state, the TDMR
/// initialisation progress, the PAMT (types, owners, BEPOCHs, lock bits)
/// and isolation of every page below [`PAGES_END`], the TD pages'
/// contents, the TD's TDCS as `td_info` shows it, and the running vCPU.
#[derive(Debug, PartialEq, Eq)]
pub struct World {
    sys: (SysState, usize, bool),
    pamt: Vec<u64>,
    isolated: (Vec<u64>, usize),
    pages: Vec<Vec<u64>>,
    td: Option<TdInfo>,
    running: Option<Hpa>,
}

pub fn world(m: &M) -> World {
    let p = m.platform();
    World {
        sys: (
            m.sys_state(),
            m.tdmrs().count(),
            m.tdmrs().pamt_entry(Hpa(0)).is_some(),
        ),
        pamt: (0..2 * (PAGES_END >> 12))
            .map(|i| p.word(PAMT_4K + 8 * i))
            .collect(),
        isolated: (
            (0..PAGES_END >> 12)
                .map(|i| i << 12)
                .filter(|&a| p.is_isolated(a))
                .collect(),
            p.isolated_count(),
        ),
        pages: WATCHED.iter().map(|&a| page_words(m, a)).collect(),
        td: m.td_info(Hpa(TDR)).ok(),
        running: m.running_vcpu(LP0),
    }
}

/// Panic with the differences between two [`World`]s, if any.
pub fn assert_same(a: &World, b: &World, what: &str) {
    if a == b {
        return;
    }
    let mut d = Vec::new();
    if a.sys != b.sys {
        d.push(format!("sys {:?} / {:?}", a.sys, b.sys));
    }
    if a.isolated != b.isolated {
        d.push(format!("isolated {:x?} / {:x?}", a.isolated, b.isolated));
    }
    if a.td != b.td {
        d.push(format!("td_info {:?} / {:?}", a.td, b.td));
    }
    if a.running != b.running {
        d.push(format!("running {:?} / {:?}", a.running, b.running));
    }
    for (i, (x, y)) in a.pamt.iter().zip(&b.pamt).enumerate() {
        if x != y {
            d.push(format!(
                "PAMT of {:#x} word {}: {x:#x} / {y:#x}",
                (i / 2) << 12,
                i % 2
            ));
        }
    }
    for (k, (p, q)) in a.pages.iter().zip(&b.pages).enumerate() {
        for (i, (x, y)) in p.iter().zip(q).enumerate() {
            if x != y {
                d.push(format!("page {:#x} word {i}: {x:#x} / {y:#x}", WATCHED[k]));
            }
        }
    }
    d.truncate(12);
    panic!("{what}:\n{}", d.join("\n"));
}

/// [`world`] once an INITIALIZED TD is finalised, so that the MRTD (only
/// visible in a RUNNABLE TD) is compared too.
pub fn settled(m: &M) -> World {
    if m.td_info(Hpa(TDR))
        .is_ok_and(|t| t.op_state == OpState::Initialized)
    {
        assert_eq!(call(m, MR_FINALIZE, TDR, 0, 0, 0), 0);
    }
    world(m)
}

/// Registers a failing VP.ENTER or TDCALL must not write (all but RAX).
const SENTINEL: u64 = 0x5E5E_0000;

/// How the leaf is called.
#[derive(Clone, Copy, Debug)]
pub enum Call {
    /// SEAMCALL on an LP: RAX = leaf, then RCX, RDX, R8, R9.
    Seam(Lp, u64, [u64; 4]),
    /// TDH.VP.ENTER on LP0 with RCX = this TDVPR.
    Enter(u64),
    /// TDCALL of the vCPU running on LP0: RAX = leaf, then RCX, RDX, R8.
    Guest(u64, [u64; 3]),
}

/// SEAMCALL on LP0.
pub const fn seam(leaf: u64, rcx: u64, rdx: u64, r8: u64, r9: u64) -> Call {
    Call::Seam(LP0, leaf, [rcx, rdx, r8, r9])
}

impl Call {
    /// Run the call; returns RAX. A failed VP.ENTER or TDCALL must leave
    /// the other registers as they were.
    pub fn run(&self, m: &M) -> u64 {
        match *self {
            Call::Seam(lp, leaf, [rcx, rdx, r8, r9]) => call_on(m, lp, leaf, rcx, rdx, r8, r9).0,
            Call::Enter(tdvpr) => {
                let mut r: [u64; 16] = core::array::from_fn(|i| SENTINEL + i as u64);
                (r[gpr::RAX], r[gpr::RCX]) = (0, tdvpr);
                let before = r;
                if m.vp_enter(LP0, &mut r).is_some() {
                    return 0;
                }
                assert_eq!(r[1..], before[1..], "VP.ENTER wrote a register");
                r[gpr::RAX]
            }
            Call::Guest(leaf, [rcx, rdx, r8]) => {
                let mut g = GuestState {
                    gprs: core::array::from_fn(|i| SENTINEL + i as u64),
                    ..GuestState::default()
                };
                (g.gprs[gpr::RAX], g.gprs[gpr::RCX]) = (leaf, rcx);
                (g.gprs[gpr::RDX], g.gprs[gpr::R8]) = (rdx, r8);
                let before = g;
                m.tdcall(LP0, &mut g);
                let rax = g.gprs[gpr::RAX];
                if rax != 0 {
                    g.gprs[gpr::RAX] = leaf;
                    assert_eq!(g, before, "failed TDCALL wrote guest state");
                }
                rax
            }
        }
    }
}

/// One leaf call and the locks another LP may hold against it, each with
/// the status the leaf must answer, in the leaf's check order.
pub struct BusyCase<'a> {
    pub name: &'static str,
    pub setup: fn() -> M,
    pub call: Call,
    pub busy: &'a [(Hold, u64)],
}

/// For each leaf and each held lock: the leaf answers the status, every
/// lock it took is released (PAMT lock words and module locks), and
/// nothing changed; once the lock is released the same call succeeds, and
/// leaves the module exactly as the call alone does on a fresh setup.
pub fn run_busy(leaves: &[BusyCase<'_>]) {
    for leaf in leaves {
        for &(hold, want) in leaf.busy {
            let name = format!("{} with {hold:?} held", leaf.name);
            let m = (leaf.setup)();
            let before = world(&m);
            let held = take(&m, hold);
            let locked = locked_pages(&m);
            assert_eq!(leaf.call.run(&m), want, "{name}");
            assert_eq!(locked_pages(&m), locked, "{name}: PAMT lock words");
            assert_module_locks_free(&m, hold, &name);
            drop(held);
            assert_eq!(locked_pages(&m), [], "{name}: PAMT locks after release");
            assert_same(&world(&m), &before, &format!("{name}: state changed"));
            assert_eq!(leaf.call.run(&m), 0, "{name}: after release");
            let fresh = (leaf.setup)();
            assert_eq!(leaf.call.run(&fresh), 0, "{name}: on a fresh setup");
            let trace = format!("{name}: left a trace");
            assert_same(&settled(&m), &settled(&fresh), &trace);
        }
    }
}

// Setups beyond common/ and common/mem_mgmt.

/// SYS.INIT done, no LP.INIT.
pub fn sys_inited() -> M {
    let m = module();
    assert_eq!(call(&m, SYS_INIT, 0, 0, 0, 0), 0);
    m
}

/// Every LP initialised, TDMR_INFO written, no SYS.CONFIG.
pub fn lps_inited() -> M {
    let m = module();
    init_lps(&m);
    write_tdmrs(&m, &[tdmr0()]);
    m
}

/// SYS.CONFIG done, no package configured.
pub fn sys_configured() -> M {
    let m = lps_inited();
    assert_eq!(call(&m, SYS_CONFIG, TDMR_ARRAY, 1, GLOBAL_HKID, 0), 0);
    m
}

/// SYS_READY, TDMR 0 not initialised.
pub fn keys_ready() -> M {
    let m = sys_configured();
    assert_eq!(call_on(&m, LP0, SYS_KEY_CONFIG, 0, 0, 0, 0).0, 0);
    assert_eq!(call_on(&m, LP1, SYS_KEY_CONFIG, 0, 0, 0, 0).0, 0);
    m
}

/// MNG.CREATE done, no KEY.CONFIG.
pub fn hkid_assigned() -> M {
    let m = ready();
    assert_eq!(call(&m, MNG_CREATE, TDR, HKID, 0, 0), 0);
    m
}

/// KEYS_CONFIGURED, no TDCX page.
pub fn keys_configured() -> M {
    let m = ready();
    created(&m);
    m
}

/// Six TDCX pages and TD_PARAMS written, no MNG.INIT.
pub fn before_init() -> M {
    let m = six_cx();
    m.platform().vmm_write(TD_PARAMS, &td_params());
    m
}

/// INITIALIZED: SEPT for GPA 0..2 MiB (no page yet).
pub fn empty_sept() -> M {
    let m = initialized();
    sept_for_low_gpa(&m);
    m
}

/// INITIALIZED: SEPT for GPA 0..2 MiB, GPA 0x1000 added (DATA0), the
/// PAGE.ADD source page written.
pub fn built() -> M {
    let m = empty_sept();
    m.platform().vmm_write(SRC0, &[0x5A; 4096]);
    assert_eq!(call(&m, PAGE_ADD, 0x1000, TDR, DATA0, SRC0), 0);
    m
}
