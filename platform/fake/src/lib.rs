//! Fake platform (EL3, GPT, memory) for host tests of the monitors.
//!
//! [`FakePlatform`] implements [`rmm::Platform`] the way TF-A's RMMD does:
//! RMM_GTSI_DELEGATE moves a granule NS -> Realm, RMM_GTSI_UNDELEGATE Realm
//! -> NS, answering `E_RMM_BAD_ADDR` for PAs outside the memory it covers and
//! `E_RMM_BAD_PAS` when the granule is not in the source PAS
//! (rmm-el3-interface.md §5). Memory is sparse (absent granule = all zero),
//! so multi-GiB banks cost nothing. Every call is logged, and the next GTSI
//! call can be made to fail with a chosen error.
//!
//! [`ManifestBuilder`] writes a shared page with a valid boot manifest that
//! tests can then corrupt field by field.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use rmm::types::GRANULE_SHIFT;
use rmm::{El3Error, GRANULE_SIZE, MemoryFault, PhysAddr, Platform};

mod manifest;
pub use manifest::{ConsoleSpec, ManifestBuilder, read_u64, write_u64};

/// Physical address space of a granule in the fake GPT.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Pas {
    /// Non-secure (the default for covered memory).
    NonSecure,
    /// Realm.
    Realm,
    /// Secure (e.g. given to an SPM).
    Secure,
    /// Root (EL3's own).
    Root,
}

/// One logged platform call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Call {
    /// `gtsi_delegate(pa)` and its result.
    Delegate(PhysAddr, Result<(), El3Error>),
    /// `gtsi_undelegate(pa)` and its result.
    Undelegate(PhysAddr, Result<(), El3Error>),
    /// `zero_granule(pa)`.
    Zero(PhysAddr),
}

/// A host access hit a granule that is not Non-secure (a GPF on hardware) or
/// memory the fake does not cover.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HostFault(pub PhysAddr);

#[derive(Debug, Default)]
struct Inner {
    /// `(base, size)` ranges the GPT covers.
    ranges: Vec<(u64, u64)>,
    /// Granule index -> PAS, for granules that are not NonSecure.
    pas: HashMap<u64, Pas>,
    /// Granule index -> contents; absent = zero.
    mem: HashMap<u64, Box<[u8; 4096]>>,
    calls: Vec<Call>,
    inject: Option<El3Error>,
    /// `(base, size)` ranges the GPT covers but with no RAM behind them:
    /// accesses abort (like a manifest bank larger than `-m` on QEMU).
    holes: Vec<(u64, u64)>,
    /// Contract breaches by the RMM (e.g. zeroing a non-Realm granule).
    violations: Vec<String>,
}

impl Inner {
    fn covered(&self, pa: u64) -> bool {
        self.ranges.iter().any(|&(b, s)| pa >= b && pa - b < s)
    }

    fn pas_of(&self, gidx: u64) -> Pas {
        self.pas.get(&gidx).copied().unwrap_or(Pas::NonSecure)
    }

    fn set_pas(&mut self, gidx: u64, pas: Pas) {
        if pas == Pas::NonSecure {
            self.pas.remove(&gidx);
        } else {
            self.pas.insert(gidx, pas);
        }
    }

    /// One GTSI transition `from` -> `to`, with EL3's checks in EL3's order.
    fn transition(&mut self, pa: PhysAddr, from: Pas, to: Pas) -> Result<(), El3Error> {
        if let Some(e) = self.inject.take() {
            return Err(e);
        }
        if !pa.is_granule_aligned() || !self.covered(pa.0) {
            return Err(El3Error::BadAddr);
        }
        let g = pa.granule_index();
        if self.pas_of(g) != from {
            return Err(El3Error::BadPas);
        }
        self.set_pas(g, to);
        Ok(())
    }
}

/// Fake EL3 + GPT + physical memory. `Sync` through a `Mutex`.
#[derive(Debug, Default)]
pub struct FakePlatform {
    inner: Mutex<Inner>,
}

impl FakePlatform {
    /// A platform whose GPT covers `ranges` (`(base, size)`), all Non-secure.
    pub fn new(ranges: &[(u64, u64)]) -> FakePlatform {
        FakePlatform {
            inner: Mutex::new(Inner {
                ranges: ranges.to_vec(),
                ..Inner::default()
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panicking test thread must not hide the state from the others.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// PAS of the granule containing `pa`, `None` if not covered.
    pub fn pas(&self, pa: PhysAddr) -> Option<Pas> {
        let i = self.lock();
        i.covered(pa.0).then(|| i.pas_of(pa.granule_index()))
    }

    /// Force the PAS of the granule containing `pa` (e.g. the RMM carve-out is
    /// Realm, an SPM granule is Secure).
    pub fn set_pas(&self, pa: PhysAddr, pas: Pas) {
        self.lock().set_pas(pa.granule_index(), pas);
    }

    /// Set the PAS of every granule in `[base, base + len)`.
    pub fn set_pas_range(&self, base: PhysAddr, len: u64, pas: Pas) {
        let mut i = self.lock();
        let first = base.granule_index();
        let last = (base.0 + len).div_ceil(GRANULE_SIZE);
        for g in first..last {
            i.set_pas(g, pas);
        }
    }

    /// Make the next `gtsi_delegate`/`gtsi_undelegate` fail with `err`
    /// without touching the GPT.
    pub fn fail_next_gtsi(&self, err: El3Error) {
        self.lock().inject = Some(err);
    }

    /// Declare `[base, base + size)` as covered by the GPT but without RAM:
    /// `zero_granule` there reports a `MemoryFault` (an external abort on
    /// hardware).
    pub fn add_ram_hole(&self, base: PhysAddr, size: u64) {
        self.lock().holes.push((base.0, size));
    }

    /// All calls so far, in order.
    pub fn calls(&self) -> Vec<Call> {
        self.lock().calls.clone()
    }

    /// Number of GTSI (EL3) calls so far.
    pub fn gtsi_calls(&self) -> usize {
        self.lock()
            .calls
            .iter()
            .filter(|c| !matches!(c, Call::Zero(_)))
            .count()
    }

    /// Number of `zero_granule` calls so far.
    pub fn zero_calls(&self) -> usize {
        self.lock()
            .calls
            .iter()
            .filter(|c| matches!(c, Call::Zero(_)))
            .count()
    }

    /// Forget the call log.
    pub fn clear_calls(&self) {
        self.lock().calls.clear();
    }

    /// Contract breaches detected (should always be empty).
    pub fn violations(&self) -> Vec<String> {
        self.lock().violations.clone()
    }

    /// Write `data` at `pa` as the NS host would: fails if any touched
    /// granule is not Non-secure or not covered (a GPF on hardware).
    pub fn host_write(&self, pa: PhysAddr, data: &[u8]) -> Result<(), HostFault> {
        let mut i = self.lock();
        for (n, byte) in data.iter().enumerate() {
            let a = pa.0 + n as u64;
            if !i.covered(a) || i.pas_of(a >> GRANULE_SHIFT) != Pas::NonSecure {
                return Err(HostFault(PhysAddr(a)));
            }
            let page = i
                .mem
                .entry(a >> GRANULE_SHIFT)
                .or_insert_with(|| Box::new([0; 4096]));
            page[(a % GRANULE_SIZE) as usize] = *byte;
        }
        Ok(())
    }

    /// Read `len` bytes at `pa` as the NS host would (same checks as `host_write`).
    pub fn host_read(&self, pa: PhysAddr, len: usize) -> Result<Vec<u8>, HostFault> {
        let i = self.lock();
        (0..len as u64)
            .map(|n| {
                let a = pa.0 + n;
                if !i.covered(a) || i.pas_of(a >> GRANULE_SHIFT) != Pas::NonSecure {
                    return Err(HostFault(PhysAddr(a)));
                }
                Ok(Self::byte(&i, a))
            })
            .collect()
    }

    /// Read memory bypassing the GPT (test inspection of Realm memory).
    pub fn read_raw(&self, pa: PhysAddr, len: usize) -> Vec<u8> {
        let i = self.lock();
        (0..len as u64).map(|n| Self::byte(&i, pa.0 + n)).collect()
    }

    /// True if the whole granule containing `pa` reads zero.
    pub fn granule_is_zero(&self, pa: PhysAddr) -> bool {
        let i = self.lock();
        i.mem
            .get(&pa.granule_index())
            .is_none_or(|p| p.iter().all(|&b| b == 0))
    }

    fn byte(i: &Inner, a: u64) -> u8 {
        i.mem
            .get(&(a >> GRANULE_SHIFT))
            .map_or(0, |p| p[(a % GRANULE_SIZE) as usize])
    }
}

impl Platform for FakePlatform {
    fn gtsi_delegate(&self, pa: PhysAddr) -> Result<(), El3Error> {
        let mut i = self.lock();
        let r = i.transition(pa, Pas::NonSecure, Pas::Realm);
        i.calls.push(Call::Delegate(pa, r));
        r
    }

    fn gtsi_undelegate(&self, pa: PhysAddr) -> Result<(), El3Error> {
        let mut i = self.lock();
        let r = i.transition(pa, Pas::Realm, Pas::NonSecure);
        i.calls.push(Call::Undelegate(pa, r));
        r
    }

    fn zero_granule(&self, pa: PhysAddr) -> Result<(), MemoryFault> {
        let mut i = self.lock();
        i.calls.push(Call::Zero(pa));
        if i.holes.iter().any(|&(b, s)| pa.0 >= b && pa.0 - b < s) {
            return Err(MemoryFault(pa));
        }
        let g = pa.granule_index();
        // Platform contract 3: only Realm-PAS granules the RMM owns.
        if !pa.is_granule_aligned() || !i.covered(pa.0) || i.pas_of(g) != Pas::Realm {
            i.violations
                .push(format!("zero_granule({:#x}) on a non-Realm granule", pa.0));
        }
        // Absent = zero: dropping the page is the sparse form of a 4 KiB memset.
        i.mem.remove(&g);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: u64 = 0x4000_0000;

    #[test]
    fn gtsi_behaves_like_el3() {
        let f = FakePlatform::new(&[(BASE, 0x1_0000)]);
        let pa = PhysAddr(BASE + 0x1000);
        assert_eq!(f.gtsi_undelegate(pa), Err(El3Error::BadPas), "not Realm");
        assert_eq!(f.gtsi_delegate(pa), Ok(()));
        assert_eq!(f.pas(pa), Some(Pas::Realm));
        assert_eq!(f.gtsi_delegate(pa), Err(El3Error::BadPas), "not NS");
        assert_eq!(f.gtsi_undelegate(pa), Ok(()));
        assert_eq!(
            f.gtsi_delegate(PhysAddr(BASE + 0x1_0000)),
            Err(El3Error::BadAddr)
        );
        assert_eq!(f.gtsi_delegate(PhysAddr(BASE + 1)), Err(El3Error::BadAddr));
        f.set_pas(pa, Pas::Secure);
        assert_eq!(f.gtsi_delegate(pa), Err(El3Error::BadPas));
        assert_eq!(f.gtsi_calls(), 7);
    }

    #[test]
    fn injected_fault_is_one_shot_and_leaves_gpt_alone() {
        let f = FakePlatform::new(&[(BASE, 0x1_0000)]);
        let pa = PhysAddr(BASE);
        f.fail_next_gtsi(El3Error::NoMem);
        assert_eq!(f.gtsi_delegate(pa), Err(El3Error::NoMem));
        assert_eq!(f.pas(pa), Some(Pas::NonSecure));
        assert_eq!(f.gtsi_delegate(pa), Ok(()));
    }

    #[test]
    fn sparse_memory_and_host_view() {
        // 64 GiB costs nothing until written.
        let f = FakePlatform::new(&[(BASE, 1 << 36)]);
        let pa = PhysAddr(BASE + (1 << 35));
        assert_eq!(f.host_read(pa, 4).unwrap(), vec![0; 4]);
        f.host_write(pa, &[1, 2, 3, 4]).unwrap();
        assert!(!f.granule_is_zero(pa));
        assert_eq!(f.read_raw(pa, 4), vec![1, 2, 3, 4]);
        f.gtsi_delegate(pa).unwrap();
        assert_eq!(f.host_write(pa, &[0]), Err(HostFault(pa)));
        f.zero_granule(pa).unwrap();
        assert!(f.granule_is_zero(pa));
        assert!(f.violations().is_empty());
        f.zero_granule(PhysAddr(BASE)).unwrap();
        assert_eq!(
            f.violations().len(),
            1,
            "zeroing an NS granule breaks the contract"
        );
    }

    #[test]
    fn builder_checksums_sum_to_zero() {
        let b = ManifestBuilder::v0_5(0x418F_F000, &[(BASE, 0xC000_0000)]);
        let p = b.build();
        for list in [16usize, 40] {
            let (num, ptr) = (read_u64(&p, list), read_u64(&p, list + 8));
            let off = (ptr - 0x418F_F000) as usize;
            let words = if list == 16 { 2 } else { 6 } * num as usize;
            let sum = (0..words).fold(num.wrapping_add(ptr), |s, w| {
                s.wrapping_add(read_u64(&p, off + 8 * w))
            });
            assert_eq!(sum.wrapping_add(read_u64(&p, list + 16)), 0);
        }
        assert_eq!(
            read_u64(&p, 24),
            0x418F_F000 + 160,
            "v0.5 arrays follow the 160 B core"
        );
    }
}
