//! Realms: the RD granule layout, RMI_REALM_CREATE / ACTIVATE / DESTROY and
//! RMI_REC_AUX_COUNT (DEN0137 1.0-rel0; values in cca-rmm-abi.md §2, §4.1).
//!
//! # RD granule layout (64-bit words of the RD granule, little-endian)
//!
//! | Word  | Bytes       | Field |
//! |-------|-------------|-------|
//! | 0     | 0x000       | realm state: 0 NEW, 1 ACTIVE, 2 SYSTEM_OFF |
//! | 1     | 0x008       | hash algorithm (RMI encoding: 0 SHA-256, 1 SHA-512) |
//! | 2     | 0x010       | s2sz (IPA width) |
//! | 3     | 0x018       | RTT start level (i64) |
//! | 4     | 0x020       | number of concatenated root RTTs |
//! | 5     | 0x028       | rtt_base (PA of the first root RTT) |
//! | 6     | 0x030       | VMID |
//! | 7     | 0x038       | REC count: RECs created so far (next REC index) |
//! | 8     | 0x040       | realm flags (LPA2, SVE, PMU) as in RmiRealmParams |
//! | 9..12 | 0x048       | sve_vl, num_bps, num_wps, pmu_num_ctrs (for REC_ENTER) |
//! | 16..24| 0x080       | RIM, 64-byte slot (`rim.rs`) |
//! | 24..56| 0x0C0       | REM 1..4, 64-byte slots (RSI_MEASUREMENT_EXTEND) |
//! | 56..64| 0x1C0       | RPV, 64 bytes |
//! | rest  |             | zero, reserved |
//!
//! The RD's granule-table refcount is the number of live RECs (TF-RMM
//! convention, cca-rmm-abi.md §5); live root-RTT entries are counted by the
//! root RTTs' own refcounts.

use core::sync::atomic::Ordering;

use cmon_measure::{HashAlgo, RimRealmParams, RimWith};

use crate::granule::GranuleGuard;
use crate::platform::{GranuleWords, Platform, Slot};
use crate::rim;
use crate::rmi::{RmiReturn, Rmm};
use crate::rtt::{self, s2tte};
use crate::types::{GRANULE_SIZE, GranuleState, PhysAddr, RmiStatus};

pub(crate) const RD_STATE_WORD: usize = 0;
pub(crate) const RD_HASH_WORD: usize = 1;
const RD_S2SZ_WORD: usize = 2;
const RD_LEVEL_WORD: usize = 3;
const RD_NUM_ROOTS_WORD: usize = 4;
const RD_RTT_BASE_WORD: usize = 5;
const RD_VMID_WORD: usize = 6;
pub(crate) const RD_REC_COUNT_WORD: usize = 7;
const RD_FLAGS_WORD: usize = 8;
const RD_FEATURE_WORDS: usize = 9;
pub(crate) const RD_RIM_WORD: usize = 16;
/// First REM slot (REM n at `RD_REM_WORD + 8 * (n - 1)`).
pub(crate) const RD_REM_WORD: usize = 24;
pub(crate) const RD_RPV_WORD: usize = 56;

/// Realm states (cca-rmm-abi.md §5, TF-RMM numbering).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RealmState {
    New = 0,
    Active = 1,
    SystemOff = 2,
}

/// The RD fields the RMI commands need, read once under the RD lock.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RealmInfo {
    pub state: RealmState,
    pub s2sz: u32,
    pub start_level: i64,
    pub num_roots: u64,
    pub rtt_base: u64,
    pub vmid: u16,
    /// RIM/REM hash algorithm.
    pub algo: HashAlgo,
}

impl RealmInfo {
    /// First IPA outside the protected range: 2^(s2sz-1).
    pub fn par_end(&self) -> u64 {
        1 << (self.s2sz - 1)
    }

    /// First IPA outside the IPA space: 2^s2sz.
    pub fn ipa_end(&self) -> u64 {
        1 << self.s2sz
    }

    /// Decode the RD words; `None` if they do not hold a realm (never the
    /// case for a granule in state RD, but decoded defensively).
    pub fn load(rd: &GranuleWords) -> Option<RealmInfo> {
        let w = |i: usize| rd[i].load(Ordering::Relaxed);
        let state = match w(RD_STATE_WORD) {
            0 => RealmState::New,
            1 => RealmState::Active,
            2 => RealmState::SystemOff,
            _ => return None,
        };
        let s2sz = u32::try_from(w(RD_S2SZ_WORD)).ok()?;
        let start_level = w(RD_LEVEL_WORD) as i64;
        let num_roots = w(RD_NUM_ROOTS_WORD);
        if !rtt::geometry_valid(s2sz, start_level, num_roots) {
            return None;
        }
        let algo = HashAlgo::from_rmi(u8::try_from(w(RD_HASH_WORD)).ok()?)?;
        Some(RealmInfo {
            state,
            s2sz,
            start_level,
            num_roots,
            rtt_base: w(RD_RTT_BASE_WORD),
            vmid: u16::try_from(w(RD_VMID_WORD)).ok()?,
            algo,
        })
    }
}

/// Store `bytes` into the words starting at `word` (little-endian, the last
/// word zero-padded).
pub(crate) fn store_bytes(g: &GranuleWords, word: usize, bytes: &[u8]) {
    for (chunk, w) in bytes.chunks(8).zip(g.iter().skip(word)) {
        let mut v = [0u8; 8];
        v[..chunk.len()].copy_from_slice(chunk);
        w.store(u64::from_le_bytes(v), Ordering::Relaxed);
    }
}

/// The inverse of [`store_bytes`]: fill `out` from little-endian words of
/// `g` starting at word `word` (a short last chunk takes the low bytes).
pub(crate) fn load_bytes(g: &GranuleWords, word: usize, out: &mut [u8]) {
    for (chunk, w) in out.chunks_mut(8).zip(g.iter().skip(word)) {
        let v = w.load(Ordering::Relaxed).to_le_bytes();
        chunk.copy_from_slice(&v[..chunk.len()]);
    }
}

/// Little-endian field readers over a copied-in NS structure.
pub(crate) fn le_u64(b: &[u8], off: usize) -> u64 {
    let mut v = [0u8; 8];
    if let Some(s) = b.get(off..off + 8) {
        v.copy_from_slice(s);
    }
    u64::from_le_bytes(v)
}

fn le_u32(b: &[u8], off: usize) -> u32 {
    le_u64(b, off) as u32
}

/// RmiRealmParams bytes copied in (up to and including rtt_num_start).
const PARAMS_LEN: usize = 0x820;
const FLAG_LPA2: u64 = 1 << 0;
const FLAG_SVE: u64 = 1 << 1;
const FLAG_PMU: u64 = 1 << 2;
/// Smallest IPA width TF-RMM accepts.
const MIN_IPA_BITS: u32 = 32;

/// RmiRealmParams (cca-rmm-abi.md §4.1), decoded from the single copy.
#[derive(Clone, Copy, Debug)]
struct RealmParams {
    measured: RimRealmParams,
    rpv: [u8; 64],
    vmid: u64,
    rtt_base: u64,
    rtt_level_start: i64,
    rtt_num_start: u64,
}

impl RealmParams {
    fn parse(b: &[u8; PARAMS_LEN]) -> RealmParams {
        let mut rpv = [0u8; 64];
        rpv.copy_from_slice(&b[0x400..0x440]);
        RealmParams {
            measured: RimRealmParams {
                flags: le_u64(b, 0x000),
                s2sz: le_u32(b, 0x008),
                sve_vl: le_u32(b, 0x010),
                num_bps: le_u32(b, 0x018),
                num_wps: le_u32(b, 0x020),
                pmu_num_ctrs: le_u32(b, 0x028),
                hash_algo: b[0x030],
            },
            rpv,
            vmid: le_u64(b, 0x800) & 0xFFFF,
            rtt_base: le_u64(b, 0x808),
            rtt_level_start: le_u64(b, 0x810) as i64,
            rtt_num_start: u64::from(le_u32(b, 0x818)),
        }
    }
}

impl<'a, P: Platform> Rmm<'a, P> {
    /// Lock the RD at `rd` and read its fields: `rd_align`, `rd_bound`,
    /// `rd_state` (all ERROR_INPUT).
    pub(crate) fn lock_rd(&self, rd: u64) -> Result<(GranuleGuard<'a>, RealmInfo), RmiStatus> {
        let g = self.lock_granule_in_state(PhysAddr(rd), GranuleState::Rd)?;
        let info = RealmInfo::load(&self.platform.map_granule(g.pa(), Slot::Rd))
            .ok_or(RmiStatus::ErrorInput)?;
        Ok((g, info))
    }

    /// params_valid and params_supp of RMI_REALM_CREATE.
    fn realm_params_ok(&self, p: &RealmParams) -> bool {
        let m = &p.measured;
        let f = &self.features;
        // params_valid: known flags and hash algorithm, sane IPA width.
        let valid = m.flags & !(FLAG_LPA2 | FLAG_SVE | FLAG_PMU) == 0
            && HashAlgo::from_rmi(m.hash_algo).is_some()
            && m.s2sz >= MIN_IPA_BITS
            && m.s2sz <= if m.flags & FLAG_LPA2 != 0 { 52 } else { 48 };
        // params_supp: everything requested is advertised in FeatureReg0
        // (NUM_BPS/NUM_WPS are "minus one" encodings on both sides).
        let reg0 = f.to_reg0();
        let supp = m.s2sz <= u32::from(f.s2sz)
            && (m.flags & FLAG_LPA2 == 0 || f.lpa2)
            && (m.flags & FLAG_SVE == 0
                || u64::from(m.sve_vl) <= (reg0 >> 10) & 0xF && f.sve_max_vl_bits.is_some())
            && (m.flags & FLAG_PMU == 0
                || (f.pmu_num_ctrs.is_some() && u64::from(m.pmu_num_ctrs) <= (reg0 >> 27) & 0x1F))
            && u64::from(m.num_bps) <= (reg0 >> 14) & 0x3F
            && u64::from(m.num_wps) <= (reg0 >> 20) & 0x3F
            && match m.hash_algo {
                0 => f.hash_sha_256,
                _ => f.hash_sha_512,
            };
        valid && supp
    }

    /// RMI_REALM_CREATE(rd, params_ptr). Failure conditions in the order of
    /// DEN0137 1.0-rel0 RMI_REALM_CREATE (labels as in the spec and the Arm
    /// CCA RMM ACS `rmi_realm_create_data.h`):
    ///
    /// 1. `params_align`, `params_bound`, `params_pas`: params not aligned,
    ///    or the NS read faults (not NS PAS / no memory) -> ERROR_INPUT
    /// 2. `params_valid` (flags, hash_algo, s2sz), `params_supp` (vs
    ///    RMI_FEATURES) -> ERROR_INPUT
    /// 3. `alias`: RD inside the root RTT range -> ERROR_INPUT
    /// 4. `rd_align`, `rd_bound`, `rd_state` (DELEGATED) -> ERROR_INPUT
    /// 5. `rtt_align`, `rtt_num_level` (start level and root count match
    ///    s2sz, §6.1), `rtt_state` (every root DELEGATED) -> ERROR_INPUT
    /// 6. `vmid_valid`: VMID too wide or in use -> ERROR_INPUT
    ///
    /// Every failure is ERROR_INPUT, so the order is not observable here.
    pub(crate) fn realm_create(&self, rd: u64, params_pa: u64) -> RmiStatus {
        match self.realm_create_inner(rd, params_pa) {
            Ok(()) => RmiStatus::Success,
            Err(s) => s,
        }
    }

    fn realm_create_inner(&self, rd: u64, params_pa: u64) -> Result<(), RmiStatus> {
        let buf: [u8; PARAMS_LEN] = self.read_params(params_pa)?;
        let p = RealmParams::parse(&buf);
        if !self.realm_params_ok(&p) {
            return Err(RmiStatus::ErrorInput); // params_valid, params_supp
        }
        let rtt_len = p.rtt_num_start.saturating_mul(GRANULE_SIZE);
        if rd >= p.rtt_base && rd - p.rtt_base < rtt_len {
            return Err(RmiStatus::ErrorInput); // alias
        }
        // Lock order: the new RD is the first object lock (blocking); the
        // root RTTs are further object locks, taken with try_lock.
        let mut rd_g = self.lock_granule_in_state(PhysAddr(rd), GranuleState::Delegated)?;
        if !p.rtt_base.is_multiple_of(GRANULE_SIZE) {
            return Err(RmiStatus::ErrorInput); // rtt_align
        }
        if !rtt::geometry_valid(p.measured.s2sz, p.rtt_level_start, p.rtt_num_start)
            || p.rtt_level_start < 0
        {
            return Err(RmiStatus::ErrorInput); // rtt_num_level (no LPA2: no level -1)
        }
        let mut roots: [Option<GranuleGuard<'a>>; rtt::MAX_ROOTS] = Default::default();
        for (i, slot) in roots.iter_mut().take(p.rtt_num_start as usize).enumerate() {
            let pa = PhysAddr(p.rtt_base + i as u64 * GRANULE_SIZE);
            *slot = Some(self.try_lock_in_state(pa, GranuleState::Delegated)?); // rtt_state
        }
        let algo = HashAlgo::from_rmi(p.measured.hash_algo).ok_or(RmiStatus::ErrorInput)?;
        let rim = RimWith::<P::Sha2>::new(algo, &p.measured).map_err(|_| RmiStatus::ErrorInput)?;
        if !self.vmids.reserve(p.vmid) {
            return Err(RmiStatus::ErrorInput); // vmid_valid
        }
        // No failure is possible from here on.
        {
            let m = self.platform.map_granule(rd_g.pa(), Slot::Rd);
            let words: [(usize, u64); 12] = [
                (RD_STATE_WORD, RealmState::New as u64),
                (RD_HASH_WORD, u64::from(p.measured.hash_algo)),
                (RD_S2SZ_WORD, u64::from(p.measured.s2sz)),
                (RD_LEVEL_WORD, p.rtt_level_start as u64),
                (RD_NUM_ROOTS_WORD, p.rtt_num_start),
                (RD_RTT_BASE_WORD, p.rtt_base),
                (RD_VMID_WORD, p.vmid),
                (RD_REC_COUNT_WORD, 0),
                (RD_FLAGS_WORD, p.measured.flags),
                (RD_FEATURE_WORDS, u64::from(p.measured.sve_vl)),
                (RD_FEATURE_WORDS + 1, u64::from(p.measured.num_bps)),
                (RD_FEATURE_WORDS + 2, u64::from(p.measured.num_wps)),
            ];
            for (i, v) in words {
                m[i].store(v, Ordering::Relaxed);
            }
            m[RD_FEATURE_WORDS + 3].store(u64::from(p.measured.pmu_num_ctrs), Ordering::Relaxed);
            rim::store(&m, &rim.value());
            store_bytes(&m, RD_RPV_WORD, &p.rpv);
        }
        // Root RTT entries: UNASSIGNED EMPTY (zero) inside PAR, UNASSIGNED_NS
        // outside it.
        let shift = rtt::level_shift(p.rtt_level_start);
        let par_end = 1u64 << (p.measured.s2sz - 1);
        for (t, g) in roots.iter_mut().enumerate() {
            let Some(g) = g else { break };
            let m = self.platform.map_granule(g.pa(), Slot::Rtt);
            for (i, e) in m.iter().enumerate() {
                let ipa = ((t as u64) * 512 + i as u64) << shift;
                if ipa >= par_end && ipa < 1u64 << p.measured.s2sz {
                    e.store(s2tte::UNASSIGNED_NS, Ordering::Relaxed);
                }
            }
            drop(m);
            g.set_state(GranuleState::Rtt);
        }
        rd_g.set_state(GranuleState::Rd);
        Ok(())
    }

    /// RMI_REALM_ACTIVATE(rd): `rd_align`, `rd_bound`, `rd_state`
    /// (ERROR_INPUT), then `realm_state`: not NEW -> ERROR_REALM(0).
    pub(crate) fn realm_activate(&self, rd: u64) -> RmiStatus {
        let (g, info) = match self.lock_rd(rd) {
            Ok(v) => v,
            Err(s) => return s,
        };
        if info.state != RealmState::New {
            return RmiStatus::ErrorRealm(0);
        }
        self.platform.map_granule(g.pa(), Slot::Rd)[RD_STATE_WORD]
            .store(RealmState::Active as u64, Ordering::Relaxed);
        RmiStatus::Success
    }

    /// RMI_REALM_DESTROY(rd): `rd_align`, `rd_bound`, `rd_state`
    /// (ERROR_INPUT), then `realm_live`: RECs exist (RD refcount) or a root
    /// RTT has live entries -> ERROR_REALM(0) (the condition list of the
    /// spec as generated into TF-RMM's CBMC testbench
    /// `tb_rmi_realm_destroy.c`).
    pub(crate) fn realm_destroy(&self, rd: u64) -> RmiStatus {
        let (mut rd_g, info) = match self.lock_rd(rd) {
            Ok(v) => v,
            Err(s) => return s,
        };
        if rd_g.refcount() != 0 {
            return RmiStatus::ErrorRealm(0);
        }
        // RD -> root RTTs is the lock order. The roots are locked blocking:
        // they are RTTs of this realm, whose walks all start under the RD
        // lock we hold.
        let mut roots: [Option<GranuleGuard<'a>>; rtt::MAX_ROOTS] = Default::default();
        for (i, slot) in roots.iter_mut().take(info.num_roots as usize).enumerate() {
            let pa = PhysAddr(info.rtt_base + i as u64 * GRANULE_SIZE);
            match self.granules.lock(pa) {
                Some(g) if g.state() == GranuleState::Rtt => {
                    if g.refcount() != 0 {
                        return RmiStatus::ErrorRealm(0); // realm_live
                    }
                    *slot = Some(g);
                }
                _ => return RmiStatus::ErrorInput,
            }
        }
        // Scrub before changing any state; zeroing RAM we already zeroed
        // once cannot fault, and if it did nothing has changed yet.
        for g in roots.iter().flatten() {
            if self.platform.zero_granule(g.pa()).is_err() {
                return RmiStatus::ErrorInput;
            }
        }
        if self.platform.zero_granule(rd_g.pa()).is_err() {
            return RmiStatus::ErrorInput;
        }
        for g in roots.iter_mut().flatten() {
            g.set_state(GranuleState::Delegated);
        }
        rd_g.set_state(GranuleState::Delegated);
        // Every valid entry was invalidated when removed; this also drops
        // anything cached for the VMID before it can be reused.
        self.platform.tlbi_vmid(info.vmid);
        self.vmids.release(info.vmid);
        RmiStatus::Success
    }

    /// RMI_REC_AUX_COUNT(rd): `rd_align`, `rd_bound`, `rd_state` ->
    /// ERROR_INPUT; else x1 = [`crate::rec::REC_AUX_COUNT`].
    pub(crate) fn rec_aux_count(&self, rd: u64, x4: u64) -> RmiReturn {
        match self.lock_rd(rd) {
            Ok(_) => RmiReturn::new(
                RmiStatus::Success.to_raw(),
                [crate::rec::REC_AUX_COUNT as u64, 0, 0],
                x4,
            ),
            Err(s) => RmiReturn::status(s, x4),
        }
    }
}
