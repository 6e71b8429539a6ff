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
//! Granule memory is a sparse map of `Arc<[AtomicU64; 512]>` pages, created
//! on first use (absent = zero): `map_granule` hands out a clone of the
//! `Arc`, so a mapping stays valid without holding the fake's mutex and
//! without `unsafe`. `read_ns` / `write_ns` behave like an NS access from
//! R-EL2: they fail with `NsAccessError` when the granule is not Non-secure
//! in the fake GPT or not covered. TLB invalidations are logged
//! ([`FakePlatform::tlbi_log`]) so tests can assert them. Breaches of the
//! platform contract (mapping or zeroing a non-Realm granule, two live
//! mappings in one slot on one thread) are recorded as violations.
//!
//! `run_realm` is scripted: a test queues steps ([`FakePlatform::push_realm_step`]
//! with a closure that plays the realm, e.g. sets x0..x3 and "executes" an
//! SMC by returning an SMC exit, or [`FakePlatform::push_realm_exit`] with a
//! canned exit). Each call pops one step, runs it on the registers it was
//! handed and records the call ([`FakePlatform::realm_runs`]). An empty queue
//! answers a physical IRQ exit, so a REC_ENTER loop always terminates.
//!
//! [`ManifestBuilder`] writes a shared page with a valid boot manifest that
//! tests can then corrupt field by field.

use std::collections::{HashMap, HashSet};
use std::ops::Deref;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::ThreadId;

use rmm::platform::{
    ExitKind, FpState, GicState, GranuleWords, NsAccessError, RealmExit, RealmRegs, RealmSysregs,
    Slot, Stage2,
};
use rmm::types::GRANULE_SHIFT;
use rmm::{El3Error, GRANULE_SIZE, MemoryFault, PhysAddr, Platform, SealError, SealPolicy};

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

/// One logged TLB invalidation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Tlbi {
    /// `tlbi_ipa(vmid, ipa)`.
    Ipa(u16, u64),
    /// `tlbi_vmid(vmid)`.
    Vmid(u16),
}

/// A page of fake physical memory.
type Page = Arc<GranuleWords>;

fn new_page() -> Page {
    Arc::new(std::array::from_fn(|_| AtomicU64::new(0)))
}

/// A host access hit a granule that is not Non-secure (a GPF on hardware) or
/// memory the fake does not cover.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HostFault(pub PhysAddr);

/// One scripted realm step: plays the realm from the state it is handed
/// until the next exception to R-EL2, which it returns.
pub type RealmStep =
    Box<dyn FnMut(&mut RealmRegs, &mut RealmSysregs, &mut FpState, &Stage2) -> RealmExit + Send>;

struct Step(RealmStep);

impl std::fmt::Debug for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RealmStep")
    }
}

/// One recorded `run_realm` call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RealmRun {
    /// The stage-2 configuration it was given.
    pub s2: Stage2,
    /// Registers as loaded (before the step ran).
    pub regs_in: RealmRegs,
    /// System registers as loaded.
    pub sysregs_in: RealmSysregs,
    /// FP state as loaded.
    pub fp_in: FpState,
    /// GIC state as loaded (the fake leaves it unchanged).
    pub gic_in: GicState,
    /// Registers as the step left them.
    pub regs_out: RealmRegs,
    /// The exit returned.
    pub exit: RealmExit,
    /// False if the queue was empty (the IRQ answer).
    pub scripted: bool,
}

#[derive(Debug, Default)]
struct Inner {
    /// `(base, size)` ranges the GPT covers.
    ranges: Vec<(u64, u64)>,
    /// Granule index -> PAS, for granules that are not NonSecure.
    pas: HashMap<u64, Pas>,
    /// Granule index -> contents; absent = zero.
    mem: HashMap<u64, Page>,
    /// Live `(thread, slot)` mappings (contract 4: one per slot per CPU).
    live: HashSet<(ThreadId, Slot)>,
    tlbis: Vec<Tlbi>,
    /// `(pa, len)` of every `read_ns`, successful or not.
    ns_reads: Vec<(PhysAddr, usize)>,
    calls: Vec<Call>,
    inject: Option<El3Error>,
    /// `(base, size)` ranges the GPT covers but with no RAM behind them:
    /// accesses abort (like a manifest bank larger than `-m` on QEMU).
    holes: Vec<(u64, u64)>,
    /// Contract breaches by the RMM (e.g. zeroing a non-Realm granule).
    violations: Vec<String>,
    /// Scripted realm steps, consumed by `run_realm` in order.
    steps: std::collections::VecDeque<Step>,
    /// Every `run_realm` call.
    runs: Vec<RealmRun>,
    /// Fail the next `write_ns` calls whose range starts at one of these PAs.
    fail_writes: Vec<u64>,
    /// The physical count `counter` returns (contract 9); tests set it.
    counter: u64,
    /// `irq_pending` answers true once this many more polls have been
    /// made (contract 10); `None` = never.
    irq_after: Option<u64>,
    /// Number of `irq_pending` polls so far.
    irq_polls: u64,
    /// Sealing key versions served (minimum, current); `None` = the
    /// platform has no sealing service (contract 11).
    seal_versions: Option<(u32, u32)>,
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

    fn ns_ok(&self, a: u64) -> bool {
        self.covered(a) && self.pas_of(a >> GRANULE_SHIFT) == Pas::NonSecure
    }

    fn byte(&self, a: u64) -> u8 {
        self.mem.get(&(a >> GRANULE_SHIFT)).map_or(0, |p| {
            let off = (a % GRANULE_SIZE) as usize;
            (p[off / 8].load(Ordering::Relaxed) >> ((off % 8) * 8)) as u8
        })
    }

    fn set_byte(&mut self, a: u64, v: u8) {
        let page = self.mem.entry(a >> GRANULE_SHIFT).or_insert_with(new_page);
        let off = (a % GRANULE_SIZE) as usize;
        let shift = (off % 8) * 8;
        let w = &page[off / 8];
        let old = w.load(Ordering::Relaxed);
        w.store(
            (old & !(0xFF << shift)) | (u64::from(v) << shift),
            Ordering::Relaxed,
        );
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
                seal_versions: Some((1, 1)),
                ..Inner::default()
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panicking test thread must not hide the state from the others.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Make `irq_pending` report an interrupt after `polls` more polls
    /// (0 = on the next one); `None` = never (the default).
    pub fn set_irq_after(&self, polls: Option<u64>) {
        let mut i = self.lock();
        i.irq_after = polls.map(|p| i.irq_polls + p);
    }

    /// How many times the logic polled for a pending interrupt.
    pub fn irq_polls(&self) -> u64 {
        self.lock().irq_polls
    }

    /// Serve sealing keys for versions `minimum..=current` (default 1..=1);
    /// `None` = no sealing service.
    pub fn set_seal_versions(&self, versions: Option<(u32, u32)>) {
        self.lock().seal_versions = versions;
    }

    /// Set the physical count the realm's timers compare against.
    pub fn set_counter(&self, now: u64) {
        self.lock().counter = now;
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
            if !i.ns_ok(a) {
                return Err(HostFault(PhysAddr(a)));
            }
            i.set_byte(a, *byte);
        }
        Ok(())
    }

    /// Read `len` bytes at `pa` as the NS host would (same checks as `host_write`).
    pub fn host_read(&self, pa: PhysAddr, len: usize) -> Result<Vec<u8>, HostFault> {
        let i = self.lock();
        (0..len as u64)
            .map(|n| {
                let a = pa.0 + n;
                if !i.ns_ok(a) {
                    return Err(HostFault(PhysAddr(a)));
                }
                Ok(i.byte(a))
            })
            .collect()
    }

    /// Read memory bypassing the GPT (test inspection of Realm memory).
    pub fn read_raw(&self, pa: PhysAddr, len: usize) -> Vec<u8> {
        let i = self.lock();
        (0..len as u64).map(|n| i.byte(pa.0 + n)).collect()
    }

    /// Word `index` of the granule containing `pa`, bypassing the GPT.
    pub fn read_word(&self, pa: PhysAddr, index: usize) -> u64 {
        let i = self.lock();
        i.mem
            .get(&pa.granule_index())
            .and_then(|p| p.get(index))
            .map_or(0, |w| w.load(Ordering::Relaxed))
    }

    /// True if the whole granule containing `pa` reads zero.
    pub fn granule_is_zero(&self, pa: PhysAddr) -> bool {
        let i = self.lock();
        i.mem
            .get(&pa.granule_index())
            .is_none_or(|p| p.iter().all(|w| w.load(Ordering::Relaxed) == 0))
    }

    /// Every TLB invalidation so far, in order.
    pub fn tlbi_log(&self) -> Vec<Tlbi> {
        self.lock().tlbis.clone()
    }

    /// Forget the TLBI log.
    pub fn clear_tlbi_log(&self) {
        self.lock().tlbis.clear();
    }

    /// `(pa, len)` of every `read_ns` so far, in order.
    pub fn ns_reads(&self) -> Vec<(PhysAddr, usize)> {
        self.lock().ns_reads.clone()
    }

    /// Queue a realm step: the next `run_realm` calls `f` with the REC's
    /// state, lets it change it, and returns its exit.
    pub fn push_realm_step(
        &self,
        f: impl FnMut(&mut RealmRegs, &mut RealmSysregs, &mut FpState, &Stage2) -> RealmExit
        + Send
        + 'static,
    ) {
        self.lock().steps.push_back(Step(Box::new(f)));
    }

    /// Queue a canned exit (the realm's registers are left unchanged).
    pub fn push_realm_exit(&self, exit: RealmExit) {
        self.push_realm_step(move |_, _, _, _| exit);
    }

    /// Scripted steps not consumed yet.
    pub fn pending_realm_steps(&self) -> usize {
        self.lock().steps.len()
    }

    /// Every `run_realm` call so far, in order.
    pub fn realm_runs(&self) -> Vec<RealmRun> {
        self.lock().runs.clone()
    }

    /// Forget the `run_realm` log.
    pub fn clear_realm_runs(&self) {
        self.lock().runs.clear();
    }

    /// Make the next `write_ns` starting at `pa` fail (as if the host had
    /// moved the granule out of the Non-secure PAS in the meantime).
    pub fn fail_next_write_ns(&self, pa: PhysAddr) {
        self.lock().fail_writes.push(pa.0);
    }
}

/// A live mapping handed out by [`FakePlatform::map_granule`].
#[derive(Debug)]
pub struct FakeMapping<'a> {
    page: Page,
    owner: &'a FakePlatform,
    key: (ThreadId, Slot),
}

impl Deref for FakeMapping<'_> {
    type Target = GranuleWords;

    fn deref(&self) -> &GranuleWords {
        &self.page
    }
}

impl Drop for FakeMapping<'_> {
    fn drop(&mut self) {
        self.owner.lock().live.remove(&self.key);
    }
}

/// `pa..pa + len` lies within one granule (platform contract 5).
fn within_one_granule(pa: PhysAddr, len: usize) -> bool {
    (pa.0 % GRANULE_SIZE) + len as u64 <= GRANULE_SIZE
}

impl Platform for FakePlatform {
    type Sha2 = cmon_measure::SoftSha2;
    type Mapping<'a> = FakeMapping<'a>;

    fn map_granule(&self, pa: PhysAddr, slot: Slot) -> FakeMapping<'_> {
        let mut i = self.lock();
        let g = pa.granule_index();
        // Platform contract 4: only Realm-PAS granules the RMM owns.
        if !pa.is_granule_aligned() || !i.covered(pa.0) || i.pas_of(g) != Pas::Realm {
            i.violations
                .push(format!("map_granule({:#x}) on a non-Realm granule", pa.0));
        }
        let key = (std::thread::current().id(), slot);
        if !i.live.insert(key) {
            i.violations
                .push(format!("two live mappings in slot {slot:?} on one CPU"));
        }
        let page = i.mem.entry(g).or_insert_with(new_page).clone();
        FakeMapping {
            page,
            owner: self,
            key,
        }
    }

    fn read_ns(&self, pa: PhysAddr, buf: &mut [u8]) -> Result<(), NsAccessError> {
        let mut i = self.lock();
        i.ns_reads.push((pa, buf.len()));
        let end = pa.0.checked_add(buf.len() as u64);
        if !within_one_granule(pa, buf.len()) || end.is_none() || !i.ns_ok(pa.0) {
            return Err(NsAccessError(pa));
        }
        for (n, b) in buf.iter_mut().enumerate() {
            *b = i.byte(pa.0 + n as u64);
        }
        Ok(())
    }

    fn write_ns(&self, pa: PhysAddr, buf: &[u8]) -> Result<(), NsAccessError> {
        let mut i = self.lock();
        if let Some(n) = i.fail_writes.iter().position(|&a| a == pa.0) {
            i.fail_writes.remove(n);
            return Err(NsAccessError(pa));
        }
        if !within_one_granule(pa, buf.len()) || !i.ns_ok(pa.0) {
            return Err(NsAccessError(pa));
        }
        for (n, b) in buf.iter().enumerate() {
            i.set_byte(pa.0 + n as u64, *b);
        }
        Ok(())
    }

    fn counter(&self) -> u64 {
        self.lock().counter
    }

    fn irq_pending(&self) -> bool {
        let mut i = self.lock();
        let poll = i.irq_polls;
        i.irq_polls += 1;
        i.irq_after.is_some_and(|at| poll >= at)
    }

    fn sealing_versions(&self) -> Option<(u32, u32)> {
        self.lock().seal_versions
    }

    fn sealing_key(
        &self,
        policy: SealPolicy,
        identity: &[u8],
        version: u32,
    ) -> Result<[u8; 32], SealError> {
        use cmon_keys::{
            KeyError, KeyHierarchy, KeyVersion, RootSecret, SealingIdentity, SealingRequest,
        };
        let (min, cur) = self.lock().seal_versions.ok_or(SealError::NotSupported)?;
        // The fake device's root secret: fixed, so keys repeat across
        // "boots" (new FakePlatform instances) as on a real device.
        let root = RootSecret::new(&[0x5E; 32]).map_err(|_| SealError::NotSupported)?;
        let keys = KeyHierarchy::new(root, KeyVersion(cur))
            .with_minimum_version(KeyVersion(min))
            .map_err(|_| SealError::NotSupported)?;
        let identity = match policy {
            SealPolicy::Rim => SealingIdentity::CcaRim(identity),
            SealPolicy::Rpv => SealingIdentity::CcaRpv(identity),
        };
        let req = SealingRequest {
            identity,
            version: KeyVersion(version),
        };
        match keys.sealing_key(&req) {
            Ok(k) => Ok(*k.as_bytes()),
            Err(KeyError::VersionTooNew { .. }) => Err(SealError::VersionTooNew),
            Err(KeyError::VersionRetired { .. }) => Err(SealError::VersionRetired),
            Err(_) => Err(SealError::NotSupported),
        }
    }

    fn run_realm(
        &self,
        regs: &mut RealmRegs,
        sysregs: &mut RealmSysregs,
        fp: &mut FpState,
        gic: &mut GicState,
        s2: &Stage2,
    ) -> RealmExit {
        let (regs_in, sysregs_in, fp_in, gic_in) = (*regs, *sysregs, *fp, *gic);
        // Run the step without holding the fake's lock (it may inspect memory).
        let step = self.lock().steps.pop_front();
        let scripted = step.is_some();
        let exit = match step {
            Some(mut s) => (s.0)(regs, sysregs, fp, s2),
            None => RealmExit {
                kind: ExitKind::Irq,
                esr: 0,
                far: 0,
                hpfar: 0,
            },
        };
        self.lock().runs.push(RealmRun {
            s2: *s2,
            regs_in,
            sysregs_in,
            fp_in,
            gic_in,
            regs_out: *regs,
            exit,
            scripted,
        });
        exit
    }

    fn tlbi_ipa(&self, vmid: u16, ipa: u64) {
        self.lock().tlbis.push(Tlbi::Ipa(vmid, ipa));
    }

    fn tlbi_vmid(&self, vmid: u16) {
        self.lock().tlbis.push(Tlbi::Vmid(vmid));
    }

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
        // Absent = zero: dropping the page is the sparse form of a 4 KiB
        // memset. A page still mapped somewhere is zeroed in place.
        if let Some(p) = i.mem.get(&g) {
            if Arc::strong_count(p) == 1 {
                i.mem.remove(&g);
            } else {
                p.iter().for_each(|w| w.store(0, Ordering::Relaxed));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
