//! Fake platform over a sparse page arena, plus SEAMCALL helpers.
#![allow(dead_code)]

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tdx_module_shim::pamt::{MAX_RSVD, TdmrInfo};

pub mod contention;
pub mod mem_2m;
pub mod mem_mgmt;
pub mod vp_md;
use tdx_module_shim::*;

pub const GIB: u64 = 1 << 30;
pub const RAM_END: u64 = 2 * GIB;

/// `std::sync::Mutex` as the module's try-lock cell.
#[derive(Debug)]
pub struct StdLock<T>(Mutex<T>);

impl<T: Send> TryLock<T> for StdLock<T> {
    type Guard<'a>
        = MutexGuard<'a, T>
    where
        Self: 'a;
    fn new(value: T) -> Self {
        StdLock(Mutex::new(value))
    }
    fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        self.0.try_lock().ok()
    }
}

/// Sparse RAM `[0, RAM_END)`: absent pages read as zero; a fixed test
/// device root secret (see [`FakePlat::remove_keys`]).
#[derive(Debug)]
pub struct FakePlat {
    pages: Mutex<HashMap<u64, Arc<PageWords>>>,
    isolated: Mutex<HashSet<u64>>,
    keys: cmon_keys::KeyHierarchy,
    /// `keys()` answers `None` (no device root secret).
    keyless: AtomicBool,
    /// `copy_to_vmm` calls that wrote something.
    vmm_copies_out: AtomicUsize,
}

impl Default for FakePlat {
    fn default() -> Self {
        let root = cmon_keys::RootSecret::new(&[0x7D; 32]).unwrap();
        FakePlat {
            pages: Mutex::default(),
            isolated: Mutex::default(),
            keys: cmon_keys::KeyHierarchy::new(root, cmon_keys::KeyVersion(2))
                .with_minimum_version(cmon_keys::KeyVersion(1))
                .unwrap(),
            keyless: AtomicBool::new(false),
            vmm_copies_out: AtomicUsize::new(0),
        }
    }
}

fn new_page() -> Arc<PageWords> {
    Arc::new(core::array::from_fn(|_| AtomicU64::new(0)))
}

impl FakePlat {
    fn page(&self, pa: u64) -> Arc<PageWords> {
        assert!(pa < RAM_END, "module touched non-RAM page {pa:#x}");
        self.pages
            .lock()
            .unwrap()
            .entry(pa & !0xFFF)
            .or_insert_with(new_page)
            .clone()
    }

    pub fn is_isolated(&self, pa: u64) -> bool {
        self.isolated.lock().unwrap().contains(&(pa & !0xFFF))
    }

    pub fn isolated_count(&self) -> usize {
        self.isolated.lock().unwrap().len()
    }

    /// VMM write (test side); panics on isolated pages.
    pub fn vmm_write(&self, pa: u64, data: &[u8]) {
        for (i, b) in data.iter().enumerate() {
            let a = pa + i as u64;
            assert!(!self.is_isolated(a), "VMM write to isolated page");
            let p = self.page(a);
            let w = &p[((a & 0xFFF) / 8) as usize];
            let sh = (a % 8) * 8;
            let v = w.load(Ordering::Relaxed) & !(0xFF << sh) | (u64::from(*b) << sh);
            w.store(v, Ordering::Relaxed);
        }
    }

    /// Raw read (test side, bypasses isolation).
    pub fn read(&self, pa: u64, out: &mut [u8]) {
        for (i, o) in out.iter_mut().enumerate() {
            let a = pa + i as u64;
            let p = self.page(a);
            *o = (p[((a & 0xFFF) / 8) as usize].load(Ordering::Relaxed) >> ((a % 8) * 8)) as u8;
        }
    }

    /// How many `copy_to_vmm` calls wrote VMM memory so far.
    pub fn copies_out(&self) -> usize {
        self.vmm_copies_out.load(Ordering::Relaxed)
    }

    pub fn word(&self, pa: u64) -> u64 {
        self.page(pa)[((pa & 0xFFF) / 8) as usize].load(Ordering::Relaxed)
    }

    pub fn set_word(&self, pa: u64, v: u64) {
        self.page(pa)[((pa & 0xFFF) / 8) as usize].store(v, Ordering::Relaxed);
    }

    /// From now on the platform has no device root secret: `keys()` is
    /// `None`, as in the image booted without fw_cfg opt/cmon/root-secret.
    /// Only the attestation and sealing leaves (`tdg_report.rs`) read
    /// `keys()`, so a TD built before the call is the TD a keyless
    /// platform would have built.
    pub fn remove_keys(&self) {
        self.keyless.store(true, Ordering::Relaxed);
    }
}

impl TdxPlatform for FakePlat {
    type Lock<T: Send> = StdLock<T>;
    type Mapping<'a> = Arc<PageWords>;

    fn map_page(&self, hpa: Hpa) -> Arc<PageWords> {
        assert_eq!(hpa.raw() & 0xFFF, 0);
        self.page(hpa.raw())
    }
    fn zero_page(&self, hpa: Hpa) {
        assert_eq!(hpa.raw() & 0xFFF, 0);
        if let Some(p) = self.pages.lock().unwrap().get(&hpa.raw()) {
            p.iter().for_each(|w| w.store(0, Ordering::Relaxed));
        }
    }
    fn copy_from_vmm(&self, hpa: u64, buf: &mut [u8]) -> Result<(), VmmAccessError> {
        let end = hpa + buf.len() as u64;
        assert!(
            buf.is_empty() || (hpa & !0xFFF) == ((end - 1) & !0xFFF),
            "crosses a page"
        );
        if end > RAM_END || self.is_isolated(hpa) {
            return Err(VmmAccessError(hpa));
        }
        self.read(hpa, buf);
        Ok(())
    }
    fn copy_to_vmm(&self, hpa: u64, buf: &[u8]) -> Result<(), VmmAccessError> {
        let end = hpa + buf.len() as u64;
        assert!(
            buf.is_empty() || (hpa & !0xFFF) == ((end - 1) & !0xFFF),
            "crosses a page"
        );
        if end > RAM_END || self.is_isolated(hpa) {
            return Err(VmmAccessError(hpa));
        }
        self.vmm_write(hpa, buf);
        self.vmm_copies_out.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
    fn isolate_page(&self, hpa: Hpa) {
        self.isolated.lock().unwrap().insert(hpa.raw());
    }
    fn release_page(&self, hpa: Hpa) {
        self.isolated.lock().unwrap().remove(&hpa.raw());
    }
    fn keys(&self) -> Option<&cmon_keys::KeyHierarchy> {
        (!self.keyless.load(Ordering::Relaxed)).then_some(&self.keys)
    }
}

pub type M = Module<FakePlat>;

pub const LP0: Lp = Lp {
    index: 0,
    package: 0,
};
pub const LP1: Lp = Lp {
    index: 1,
    package: 1,
};

pub fn config() -> ModuleConfig {
    let mut cmrs = [Cmr::default(); MAX_CMRS];
    cmrs[0] = Cmr {
        base: 0,
        size: RAM_END,
    };
    ModuleConfig {
        num_lps: 2,
        num_packages: 2,
        max_pa: 46,
        hkid_bits: 6,
        first_private_hkid: 32,
        num_private_hkids: 32,
        cmrs,
        cpuid1_eax: 0x000A_06A0,
        tee: TeeFacts {
            mrseam: [0x5E; 48],
            tee_tcb_svn: [1; 16],
            cpu_svn: [2; 16],
        },
    }
}

pub fn module() -> M {
    Module::new(FakePlat::default(), config()).unwrap()
}

/// SEAMCALL on `lp`; returns (RAX, output registers).
pub fn call_on(m: &M, lp: Lp, leaf: u64, rcx: u64, rdx: u64, r8: u64, r9: u64) -> (u64, VmmRegs) {
    let mut r = VmmRegs {
        rax: leaf,
        rcx,
        rdx,
        r8,
        r9,
        ..Default::default()
    };
    m.seamcall(lp, &mut r);
    (r.rax, r)
}

pub fn call(m: &M, leaf: u64, rcx: u64, rdx: u64, r8: u64, r9: u64) -> u64 {
    call_on(m, LP0, leaf, rcx, rdx, r8, r9).0
}

pub const fn st(code: Code, op: OperandId) -> u64 {
    Status::with_operand(code, op).to_raw()
}

pub const fn c(code: Code) -> u64 {
    Status::new(code).to_raw()
}

// Leaf numbers.
pub const MNG_ADDCX: u64 = 1;
pub const PAGE_ADD: u64 = 2;
pub const SEPT_ADD: u64 = 3;
pub const MNG_KEY_CONFIG: u64 = 8;
pub const MNG_CREATE: u64 = 9;
pub const MR_EXTEND: u64 = 16;
pub const MR_FINALIZE: u64 = 17;
pub const MNG_INIT: u64 = 21;
pub const RDMD: u64 = 24;
pub const SYS_KEY_CONFIG: u64 = 31;
pub const SYS_INIT: u64 = 33;
pub const SYS_RD: u64 = 34;
pub const SYS_LP_INIT: u64 = 35;
pub const TDMR_INIT: u64 = 36;
pub const SYS_CONFIG: u64 = 45;

// Layout used by the tests.
pub const TDMR_ARRAY: u64 = 0x10_0000;
pub const TDMR_ENTRY: u64 = 0x10_0200;
pub const TD_PARAMS: u64 = 0x10_1000;
pub const RSVD_OFF: u64 = 0x3F00_0000;
pub const PAMT_4K: u64 = RSVD_OFF;
pub const PAMT_2M: u64 = RSVD_OFF + 0x40_0000;
pub const PAMT_1G: u64 = RSVD_OFF + 0x40_2000;
pub const GLOBAL_HKID: u64 = 32;

pub fn tdmr0() -> TdmrInfo {
    let mut rsvd = [(0, 0); MAX_RSVD];
    rsvd[0] = (RSVD_OFF, 0x100_0000);
    TdmrInfo {
        base: 0,
        size: GIB,
        pamt: [(PAMT_4K, 0x40_0000), (PAMT_2M, 0x2000), (PAMT_1G, 0x1000)],
        rsvd,
    }
}

pub fn write_tdmrs(m: &M, tdmrs: &[TdmrInfo]) {
    for (i, t) in tdmrs.iter().enumerate() {
        let e = TDMR_ENTRY + 0x200 * i as u64 + if i > 0 { 0x1000 } else { 0 };
        m.platform()
            .vmm_write(TDMR_ARRAY + 8 * i as u64, &e.to_le_bytes());
        m.platform().vmm_write(e, &t.to_bytes());
    }
}

/// SYS.INIT + LP.INIT on both LPs.
pub fn init_lps(m: &M) {
    assert_eq!(call(m, SYS_INIT, 0, 0, 0, 0), 0);
    assert_eq!(call_on(m, LP0, SYS_LP_INIT, 0, 0, 0, 0).0, 0);
    assert_eq!(call_on(m, LP1, SYS_LP_INIT, 0, 0, 0, 0).0, 0);
}

/// Full bring-up to SYS_READY with TDMR0 initialised.
pub fn ready() -> M {
    let m = module();
    init_lps(&m);
    write_tdmrs(&m, &[tdmr0()]);
    assert_eq!(call(&m, SYS_CONFIG, TDMR_ARRAY, 1, GLOBAL_HKID, 0), 0);
    assert_eq!(call_on(&m, LP0, SYS_KEY_CONFIG, 0, 0, 0, 0).0, 0);
    assert_eq!(call_on(&m, LP1, SYS_KEY_CONFIG, 0, 0, 0, 0).0, 0);
    assert_eq!(m.sys_state(), SysState::SysReady);
    let (s, r) = call_on(&m, LP0, TDMR_INIT, 0, 0, 0, 0);
    assert_eq!((s, r.rdx), (0, GIB));
    m
}

/// Valid TD_PARAMS: SEPT_VE_DISABLE, XFAM x87|SSE, 4 vCPUs, GPAW 48.
pub fn td_params() -> [u8; 1024] {
    let mut p = [0u8; 1024];
    p[0..8].copy_from_slice(&(1u64 << 28).to_le_bytes());
    p[8..16].copy_from_slice(&3u64.to_le_bytes());
    p[16..18].copy_from_slice(&4u16.to_le_bytes());
    p[24..32].copy_from_slice(&(6u64 | 3 << 3).to_le_bytes());
    p[40..42].copy_from_slice(&100u16.to_le_bytes());
    p[80..128].copy_from_slice(&[0xC1; 48]);
    p[128..176].copy_from_slice(&[0x0A; 48]);
    p[176..224].copy_from_slice(&[0x0C; 48]);
    p
}

pub const TDR: u64 = 0x20_0000;
pub const TDCX0: u64 = 0x20_1000;
pub const SEPT0: u64 = 0x21_0000;
pub const DATA0: u64 = 0x30_0000;
pub const SRC0: u64 = 0x40_0000;
pub const HKID: u64 = 33;

/// MNG.CREATE + KEY.CONFIG on both packages.
pub fn created(m: &M) {
    assert_eq!(call(m, MNG_CREATE, TDR, HKID, 0, 0), 0);
    assert_eq!(call_on(m, LP0, MNG_KEY_CONFIG, TDR, 0, 0, 0).0, 0);
    assert_eq!(call_on(m, LP1, MNG_KEY_CONFIG, TDR, 0, 0, 0).0, 0);
}

/// Created with six TDCX pages, no MNG.INIT (OP_STATE UNINITIALIZED).
pub fn six_cx() -> M {
    let m = ready();
    created(&m);
    for i in 0..6 {
        assert_eq!(call(&m, MNG_ADDCX, TDCX0 + 0x1000 * i, TDR, 0, 0), 0);
    }
    m
}

/// Created, 6 TDCX pages, MNG.INIT done, ATTRIBUTES.DEBUG = `debug`.
pub fn initialized_as(debug: bool) -> M {
    let m = six_cx();
    let mut p = td_params();
    p[0] |= u8::from(debug);
    m.platform().vmm_write(TD_PARAMS, &p);
    assert_eq!(call(&m, MNG_INIT, TDR, TD_PARAMS, 0, 0), 0);
    m
}

/// Created, 6 TDCX pages, MNG.INIT done (a production TD).
pub fn initialized() -> M {
    initialized_as(false)
}

/// SEPT pages for levels 3..1 covering GPA 0 (PDPT, PD, PT).
pub fn sept_for_low_gpa(m: &M) {
    for (i, lvl) in [3u64, 2, 1].iter().enumerate() {
        assert_eq!(
            call(m, SEPT_ADD, *lvl, TDR, SEPT0 + 0x1000 * i as u64, 0),
            0,
            "level {lvl}"
        );
    }
}

/// Page type and owner from TDH.PHYMEM.PAGE.RDMD.
pub fn rdmd(m: &M, pa: u64) -> (u64, u64) {
    let (s, r) = call_on(m, LP0, RDMD, pa, 0, 0, 0);
    assert_eq!(s, 0);
    (r.rcx, r.rdx)
}

/// Hold the PAMT lock of `pa` as another LP would (exclusive bit).
pub fn hold_pamt(m: &M, pa: u64) -> u64 {
    let e = m.tdmrs().pamt_entry(Hpa(pa)).unwrap().raw();
    let w = m.platform().word(e);
    m.platform().set_word(e, w | 1);
    e
}

pub fn unhold_pamt(m: &M, e: u64) {
    let w = m.platform().word(e);
    m.platform().set_word(e, w & !1);
}

/// Everything a failing leaf must not change.
pub fn snapshot(m: &M) -> (Vec<(u64, u64)>, usize, Option<TdInfo>) {
    let pages = [
        TDR,
        TDCX0,
        TDCX0 + 0x5000,
        SEPT0,
        SEPT0 + 0x3000,
        DATA0,
        SRC0,
        PAMT_4K,
    ];
    let pamt = pages.iter().map(|&p| rdmd(m, p)).collect();
    (
        pamt,
        m.platform().isolated_count(),
        m.td_info(Hpa(TDR)).ok(),
    )
}

pub type Case = (&'static str, u64, u64, u64, u64, u64, u64);

pub fn run_table(setup: fn() -> M, cases: &[Case]) {
    for &(name, leaf, rcx, rdx, r8, r9, want) in cases {
        let m = setup();
        let before = snapshot(&m);
        assert_eq!(call(&m, leaf, rcx, rdx, r8, r9), want, "{name}");
        assert_eq!(snapshot(&m), before, "{name}: state changed");
    }
}
