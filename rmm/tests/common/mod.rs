//! Shared fixtures: a QEMU-virt-like layout (TF-A v2.13) plus a small second
//! bank, a fake EL3 over it, and one `Rmm` per test (no global state).
#![allow(dead_code)] // Each test binary uses a different subset.

use std::sync::atomic::AtomicU16;
use std::sync::{Arc, Barrier};

use fake_platform::{FakePlatform, ManifestBuilder, Pas};
use rmm::platform::{ExitKind, RealmExit};
use rmm::{BootArgs, BootInfo, PhysAddr, RmiFid, RmiReturn, Rmm, storage_len, validate_cold_boot};

/// EL3<->RMM shared page (rmm-el3-interface.md §8).
pub const SHARED: u64 = 0x418F_F000;
/// RMM carve-out: image + shared page, Realm PAS from boot.
pub const RMM_BASE: u64 = 0x4010_0000;
/// Carve-out size (24 MiB).
pub const RMM_LEN: u64 = 0x0180_0000;
/// Bank 0: QEMU NS_DRAM0 window (3 GiB). Bank 1: 1 MiB high bank.
pub const BANKS: [(u64, u64); 2] = [(0x4000_0000, 0xC000_0000), (0x2_0000_0000, 0x10_0000)];
/// The fake GPT covers everything but the last granule of bank 1, so that
/// granule makes EL3 answer E_RMM_BAD_ADDR.
pub const GPT_RANGES: [(u64, u64); 2] = [(0x4000_0000, 0xC000_0000), (0x2_0000_0000, 0xF_F000)];
/// A normal host granule (NS DRAM after the carve-out).
pub const NS_GRANULE: u64 = 0x8000_0000;
/// Last granule of bank 1: in a manifest bank, not covered by the GPT.
pub const NO_GPT_GRANULE: u64 = 0x2_000F_F000;

pub const RMI_VERSION: u64 = RmiFid::Version as u64;
pub const DELEGATE: u64 = RmiFid::GranuleDelegate as u64;
pub const UNDELEGATE: u64 = RmiFid::GranuleUndelegate as u64;
pub const FEATURES: u64 = RmiFid::Features as u64;

/// Cold-boot registers as TF-A v2.13 sends them.
pub fn cold_args() -> BootArgs {
    BootArgs {
        x0: 0,
        x1: 6,
        x2: 4,
        x3: SHARED,
    }
}

/// Boot info + granule storage; `rmm()` borrows it.
pub struct Env {
    pub info: BootInfo,
    pub storage: Vec<AtomicU16>,
}

impl Env {
    pub fn new() -> Env {
        let page = ManifestBuilder::v0_5(SHARED, &BANKS).build();
        let info = validate_cold_boot(&cold_args(), &page).expect("valid manifest");
        let storage = (0..storage_len(&info.dram))
            .map(|_| AtomicU16::new(0))
            .collect();
        Env { info, storage }
    }

    /// A monitor over a fresh fake EL3 whose GPT has the RMM carve-out in Realm PAS.
    pub fn rmm(&self) -> Rmm<'_, FakePlatform> {
        let fake = FakePlatform::new(&GPT_RANGES);
        fake.set_pas_range(PhysAddr(RMM_BASE), RMM_LEN, Pas::Realm);
        Rmm::new(
            fake,
            &self.info,
            &self.storage,
            &[(PhysAddr(RMM_BASE), RMM_LEN)],
        )
        .expect("rmm init")
    }
}

/// Issue an RMI call with x1 = `a1` and recognisable junk in x2..x7.
pub fn call(rmm: &Rmm<'_, FakePlatform>, fid: u64, a1: u64) -> RmiReturn {
    rmm.handle_rmi(&[fid, a1, 0x22, 0x33, 0x4444_4444, 0x55, 0x66, 0x77])
}

/// x0 of an RMI call.
pub fn status(rmm: &Rmm<'_, FakePlatform>, fid: u64, a1: u64) -> u64 {
    call(rmm, fid, a1).x[0]
}

// ---- Realm fixtures (realm, RTT, DATA and REC tests) ----

pub const REALM_CREATE: u64 = RmiFid::RealmCreate as u64;
pub const REALM_ACTIVATE: u64 = RmiFid::RealmActivate as u64;
pub const REALM_DESTROY: u64 = RmiFid::RealmDestroy as u64;
pub const REC_AUX_COUNT: u64 = RmiFid::RecAuxCount as u64;
pub const RTT_CREATE: u64 = RmiFid::RttCreate as u64;
pub const RTT_DESTROY: u64 = RmiFid::RttDestroy as u64;
pub const RTT_READ_ENTRY: u64 = RmiFid::RttReadEntry as u64;
pub const RTT_FOLD: u64 = RmiFid::RttFold as u64;
pub const RTT_INIT_RIPAS: u64 = RmiFid::RttInitRipas as u64;
pub const RTT_MAP_UNPROTECTED: u64 = RmiFid::RttMapUnprotected as u64;
pub const RTT_UNMAP_UNPROTECTED: u64 = RmiFid::RttUnmapUnprotected as u64;
pub const DATA_CREATE: u64 = RmiFid::DataCreate as u64;
pub const DATA_CREATE_UNKNOWN: u64 = RmiFid::DataCreateUnknown as u64;
pub const DATA_DESTROY: u64 = RmiFid::DataDestroy as u64;
pub const REC_CREATE: u64 = RmiFid::RecCreate as u64;
pub const REC_DESTROY: u64 = RmiFid::RecDestroy as u64;

/// RMI status words.
pub const SUCCESS: u64 = 0;
pub const ERROR_INPUT: u64 = 1;
pub const fn error_realm(i: u64) -> u64 {
    2 | i << 8
}
pub const fn error_rtt(level: u64) -> u64 {
    4 | level << 8
}

/// Pool of host granules used for realm objects (NS DRAM).
pub const POOL: u64 = 0x8010_0000;
/// The n-th pool granule.
pub const fn pool(n: u64) -> u64 {
    POOL + n * 0x1000
}
/// NS page holding RmiRealmParams / RmiRecParams / DATA sources.
pub const PARAMS: u64 = 0x9000_0000;
pub const SRC: u64 = 0x9000_1000;

/// Default realm: RD = pool(0), two concatenated level-1 roots at
/// pool(2)..pool(4) (s2sz 40), VMID 7.
pub const RD: u64 = pool(0);
pub const RTT_BASE: u64 = pool(2);

/// RmiRealmParams fields (cca-rmm-abi.md §4.1).
#[derive(Clone, Copy, Debug)]
pub struct RealmCfg {
    pub flags: u64,
    pub s2sz: u64,
    pub sve_vl: u32,
    pub num_bps: u32,
    pub num_wps: u32,
    pub pmu_num_ctrs: u32,
    pub hash_algo: u8,
    pub rpv: [u8; 64],
    pub vmid: u16,
    pub rtt_base: u64,
    pub level: i64,
    pub num: u32,
}

impl Default for RealmCfg {
    fn default() -> Self {
        RealmCfg {
            flags: 0,
            s2sz: 40,
            sve_vl: 0,
            num_bps: 1,
            num_wps: 1,
            pmu_num_ctrs: 0,
            hash_algo: 0,
            rpv: [0x5A; 64],
            vmid: 7,
            rtt_base: RTT_BASE,
            level: 1,
            num: 2,
        }
    }
}

impl RealmCfg {
    pub fn bytes(&self) -> Vec<u8> {
        let mut b = vec![0u8; 4096];
        let put = |b: &mut Vec<u8>, off: usize, v: &[u8]| b[off..off + v.len()].copy_from_slice(v);
        put(&mut b, 0x000, &self.flags.to_le_bytes());
        put(&mut b, 0x008, &self.s2sz.to_le_bytes());
        put(&mut b, 0x010, &self.sve_vl.to_le_bytes());
        put(&mut b, 0x018, &self.num_bps.to_le_bytes());
        put(&mut b, 0x020, &self.num_wps.to_le_bytes());
        put(&mut b, 0x028, &self.pmu_num_ctrs.to_le_bytes());
        b[0x030] = self.hash_algo;
        put(&mut b, 0x400, &self.rpv);
        put(&mut b, 0x800, &self.vmid.to_le_bytes());
        put(&mut b, 0x808, &self.rtt_base.to_le_bytes());
        put(&mut b, 0x810, &self.level.to_le_bytes());
        put(&mut b, 0x818, &self.num.to_le_bytes());
        b
    }

    /// The measured subset, for an independent RIM replay.
    pub fn rim_params(&self) -> cmon_measure::RimRealmParams {
        cmon_measure::RimRealmParams {
            flags: self.flags,
            s2sz: self.s2sz as u32,
            sve_vl: self.sve_vl,
            num_bps: self.num_bps,
            num_wps: self.num_wps,
            pmu_num_ctrs: self.pmu_num_ctrs,
            hash_algo: self.hash_algo,
        }
    }
}

/// Raw RMI call with x1..x5.
pub fn rmi(rmm: &Rmm<'_, FakePlatform>, fid: u64, args: &[u64]) -> RmiReturn {
    let mut r = [fid, 0, 0, 0, 0x4444_4444, 0, 0, 0];
    for (i, a) in args.iter().enumerate() {
        r[i + 1] = *a;
    }
    rmm.handle_rmi(&r)
}

pub fn delegate(rmm: &Rmm<'_, FakePlatform>, pa: u64) {
    assert_eq!(status(rmm, DELEGATE, pa), 0, "delegate {pa:#x}");
}

/// Write `cfg` at PARAMS, delegate RD and its roots, create the realm.
pub fn create_realm_with(rmm: &Rmm<'_, FakePlatform>, rd: u64, cfg: &RealmCfg) -> u64 {
    rmm.platform()
        .host_write(PhysAddr(PARAMS), &cfg.bytes())
        .unwrap();
    delegate(rmm, rd);
    for i in 0..u64::from(cfg.num) {
        delegate(rmm, cfg.rtt_base + i * 0x1000);
    }
    rmi(rmm, REALM_CREATE, &[rd, PARAMS]).x[0]
}

/// The default realm at RD.
pub fn create_realm(rmm: &Rmm<'_, FakePlatform>) {
    assert_eq!(create_realm_with(rmm, RD, &RealmCfg::default()), SUCCESS);
}

/// State and refcount of a granule (lock-free snapshot).
pub fn gstate(rmm: &Rmm<'_, FakePlatform>, pa: u64) -> (Option<rmm::GranuleState>, u16) {
    let s = rmm.granules().snapshot(PhysAddr(pa)).unwrap();
    (s.state, s.refcount)
}

/// Snapshot of the first `n` pool granules plus the fake's TLBI log and
/// the realm-visible memory words, to prove a failing command changed nothing.
pub fn world(
    rmm: &Rmm<'_, FakePlatform>,
    n: u64,
) -> Vec<(Option<rmm::GranuleState>, u16, Vec<u8>)> {
    (0..n)
        .map(|i| {
            let (s, r) = gstate(rmm, pool(i));
            (s, r, rmm.platform().read_raw(PhysAddr(pool(i)), 4096))
        })
        .collect()
}

// ---- REC fixtures ----

/// RmiRecParams fields (cca-rmm-abi.md §4.2).
#[derive(Clone, Copy, Debug)]
pub struct RecCfg {
    pub flags: u64,
    pub mpidr: u64,
    pub pc: u64,
    pub gprs: [u64; 8],
    pub num_aux: u64,
    pub aux: [u64; 16],
}

/// Aux granules of the n-th test REC: pool(100 + 16n ..).
pub fn aux_of(n: u64) -> [u64; 16] {
    std::array::from_fn(|i| pool(100 + 16 * n + i as u64))
}

impl RecCfg {
    /// REC `n` of a realm: MPIDR with index n, aux from [`aux_of`].
    pub fn nth(n: u64) -> RecCfg {
        RecCfg {
            flags: 1,
            mpidr: (n & 0xF) | ((n >> 4) & 0xFF) << 8,
            pc: 0x8_0000 + n * 0x100,
            gprs: std::array::from_fn(|i| 0x1000 * n + i as u64),
            num_aux: 16,
            aux: aux_of(n),
        }
    }

    pub fn bytes(&self) -> Vec<u8> {
        let mut b = vec![0u8; 4096];
        let mut put = |off: usize, v: u64| b[off..off + 8].copy_from_slice(&v.to_le_bytes());
        put(0x000, self.flags);
        put(0x100, self.mpidr);
        put(0x200, self.pc);
        for (i, g) in self.gprs.iter().enumerate() {
            put(0x300 + 8 * i, *g);
        }
        put(0x800, self.num_aux);
        for (i, a) in self.aux.iter().enumerate() {
            put(0x808 + 8 * i, *a);
        }
        b
    }

    /// The measured subset, for an independent RIM replay.
    pub fn rim_params(&self) -> cmon_measure::RimRecParams {
        cmon_measure::RimRecParams {
            flags: self.flags,
            pc: self.pc,
            gprs: self.gprs,
        }
    }
}

/// Write `cfg` at PARAMS, delegate `rec` and the aux granules, REC_CREATE.
pub fn create_rec_with(rmm: &Rmm<'_, FakePlatform>, rd: u64, rec: u64, cfg: &RecCfg) -> u64 {
    rmm.platform()
        .host_write(PhysAddr(PARAMS), &cfg.bytes())
        .unwrap();
    delegate(rmm, rec);
    for a in cfg.aux {
        delegate(rmm, a);
    }
    rmi(rmm, REC_CREATE, &[rd, rec, PARAMS]).x[0]
}

/// ESR_EL2.IL (32-bit instruction).
pub const IL: u64 = 1 << 25;
/// ESR_EL2 of a trapped AArch64 SMC (EC 0x17).
pub const SMC: u64 = 0x17 << 26 | IL;

/// A synchronous realm exit with the given syndrome registers.
pub fn sync(esr: u64, far: u64, hpfar: u64) -> RealmExit {
    RealmExit {
        kind: ExitKind::Sync,
        esr,
        far,
        hpfar,
    }
}

/// A realm exit for a physical IRQ (nothing else reported).
pub const IRQ_EXIT: RealmExit = RealmExit {
    kind: ExitKind::Irq,
    esr: 0,
    far: 0,
    hpfar: 0,
};

/// The NS RmiRecRun page of the REC_ENTER tests.
pub const RUN: u64 = 0x9000_2000;

/// Word at `off` of RecRun.exit (RUN + 0x800).
pub fn exit_word(rmm: &Rmm<'_, FakePlatform>, off: u64) -> u64 {
    let b = rmm
        .platform()
        .host_read(PhysAddr(RUN + 0x800 + off), 8)
        .unwrap();
    u64::from_le_bytes(b.try_into().unwrap())
}

/// Queue a realm step that stays inside `run_realm` until released, so a
/// test can act while the REC is running. Returns `(inside, release)`: wait
/// on `inside` until the realm runs, then on `release` to let it exit (IRQ).
pub fn push_parked_step(f: &FakePlatform) -> (Arc<Barrier>, Arc<Barrier>) {
    let inside = Arc::new(Barrier::new(2));
    let release = Arc::new(Barrier::new(2));
    let (a, b) = (inside.clone(), release.clone());
    f.push_realm_step(move |_, _, _, _| {
        a.wait();
        b.wait();
        IRQ_EXIT
    });
    (inside, release)
}

/// HPFAR_EL2 for a fault at `ipa` (FIPA = IPA[n:12] at bit 4).
pub fn hpfar(ipa: u64) -> u64 {
    (ipa >> 12) << 4
}

/// Queue a realm SMC with x0..x(n) = `args` (nothing else changes).
pub fn push_smc(f: &FakePlatform, args: &[u64]) {
    let args = args.to_vec();
    f.push_realm_step(move |r, _, _, _| {
        r.gprs[..args.len()].copy_from_slice(&args);
        sync(SMC, 0, 0)
    });
}

// ---- Active-realm fixture (REC_ENTER, RIPAS change, timer tests) ----

/// L2 and L3 RTTs of the active realm, under IPA [`ACTIVE_IPA`].
pub const L2: u64 = pool(5);
pub const L3: u64 = pool(6);
/// DATA granules at ACTIVE_IPA and ACTIVE_IPA + 0x1000.
pub const DATA0: u64 = pool(10);
pub const DATA1: u64 = pool(11);
pub const REC0: u64 = pool(30);
pub const REC1: u64 = pool(31);
/// A second realm that stays NEW, with one REC.
pub const NEW_RD: u64 = pool(20);
pub const NEW_REC: u64 = pool(32);
/// First IPA of the active realm's L2/L3 tables (1 GiB).
pub const ACTIVE_IPA: u64 = 0x4000_0000;

/// The default realm at RD, active: L2/L3 RTTs at ACTIVE_IPA, RIPAS RAM for
/// [ACTIVE_IPA, +0x3000), DATA0 and DATA1 measured from `image` at its
/// first two pages (so +0x2000 is RAM but unmapped, +0x3000 EMPTY), REC0
/// (`RecCfg::nth(0)`) and REC1 (`RecCfg::nth(1)` with `rec1_flags`). Plus
/// NEW_RD, a realm left NEW with one REC (NEW_REC).
pub fn active_realm(rmm: &Rmm<'_, FakePlatform>, image: &[u8; 4096], rec1_flags: u64) {
    active_realm_cfg(rmm, image, rec1_flags, &RealmCfg::default(), 0);
}

/// [`active_realm`] with the realm's params and DATA_CREATE flags chosen
/// (`data_flags` 1 = MEASURE_CONTENT).
pub fn active_realm_cfg(
    rmm: &Rmm<'_, FakePlatform>,
    image: &[u8; 4096],
    rec1_flags: u64,
    cfg: &RealmCfg,
    data_flags: u64,
) {
    let ipa = ACTIVE_IPA;
    assert_eq!(create_realm_with(rmm, RD, cfg), SUCCESS);
    for pa in [L2, L3, DATA0, DATA1] {
        delegate(rmm, pa);
    }
    assert_eq!(rmi(rmm, RTT_CREATE, &[RD, L2, ipa, 2]).x[0], SUCCESS);
    assert_eq!(rmi(rmm, RTT_CREATE, &[RD, L3, ipa, 3]).x[0], SUCCESS);
    let r = rmi(rmm, RTT_INIT_RIPAS, &[RD, ipa, ipa + 0x3000]);
    assert_eq!(r.x[..2], [SUCCESS, ipa + 0x3000]);
    rmm.platform().host_write(PhysAddr(SRC), image).unwrap();
    for (pa, at) in [(DATA0, ipa), (DATA1, ipa + 0x1000)] {
        let r = rmi(rmm, DATA_CREATE, &[RD, pa, at, SRC, data_flags]);
        assert_eq!(r.x[0], SUCCESS);
    }
    assert_eq!(create_rec_with(rmm, RD, REC0, &RecCfg::nth(0)), SUCCESS);
    let c1 = RecCfg {
        flags: rec1_flags,
        ..RecCfg::nth(1)
    };
    assert_eq!(create_rec_with(rmm, RD, REC1, &c1), SUCCESS);
    assert_eq!(rmi(rmm, REALM_ACTIVATE, &[RD]).x[0], SUCCESS);
    let other = RealmCfg {
        vmid: 8,
        rtt_base: pool(22),
        ..RealmCfg::default()
    };
    assert_eq!(create_realm_with(rmm, NEW_RD, &other), SUCCESS);
    let c = RecCfg {
        aux: aux_of(2),
        ..RecCfg::nth(0)
    };
    assert_eq!(create_rec_with(rmm, NEW_RD, NEW_REC, &c), SUCCESS);
}
