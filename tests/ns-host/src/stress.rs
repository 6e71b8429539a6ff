//! Realms built from a [`Layout`] (one MiB of NS DRAM each), and the SMP
//! stress that runs them: every CPU builds, runs and tears down its own
//! realm (own granules, own VMID), repeatedly, while the other CPUs do the
//! same, so RMM locking, VMID allocation, per-CPU slots and realm entry on
//! several CPUs run concurrently. Every granule must end Non-secure and
//! zero, every round.

use crate::hw;
use crate::realm::{EXIT_HOST_CALL, EXIT_REASON, load_hostcall_loop, rmi};
use crate::rmi::*;

/// Rounds per CPU and REC entries per round.
pub const ROUNDS: usize = 4;
const ENTRIES: usize = 5;
/// RECs a layout has room for.
pub const MAX_RECS: usize = 2;

/// One REC of a realm being built.
#[derive(Clone, Copy, Debug)]
pub struct RecSpec {
    /// RmiRecParams.mpidr (REC index = Aff0 here).
    pub mpidr: u64,
    /// RmiRecParams.flags.RUNNABLE.
    pub runnable: bool,
}

/// Where one realm lives: RD, RTTs, DATA and REC granules, aux granules,
/// the NS parameter pages, the payload source and the RecRun page.
#[derive(Clone, Copy, Debug)]
pub struct Layout {
    base: u64,
    vmid: u64,
}

impl Layout {
    /// The layout of `slot` (0..8): 1 MiB each from 0x5200_0000.
    pub const fn for_cpu(slot: usize) -> Self {
        Self {
            base: 0x5200_0000 + 0x10_0000 * slot as u64,
            vmid: 100 + slot as u64,
        }
    }
    const fn at(&self, off: u64) -> u64 {
        self.base + off
    }
    fn rd(&self) -> u64 {
        self.at(0)
    }
    fn rtts(&self) -> [u64; 3] {
        [self.at(0x1000), self.at(0x2000), self.at(0x3000)]
    }
    fn data(&self) -> [u64; 2] {
        [self.at(0x4000), self.at(0x6000)]
    }
    /// REC `i`'s granule.
    pub fn rec(&self, i: usize) -> u64 {
        self.at(0x5000 + 0x2000 * i as u64)
    }
    fn aux(&self, rec: usize, i: u64) -> u64 {
        self.at(0x1_0000 + 0x1_0000 * rec as u64 + 0x1000 * i)
    }
    fn params(&self) -> u64 {
        self.at(0x3_0000)
    }
    fn rec_params(&self) -> u64 {
        self.at(0x3_1000)
    }
    fn src(&self) -> u64 {
        self.at(0x3_2000)
    }
    /// The RecRun page.
    pub fn run(&self) -> u64 {
        self.at(0x3_3000)
    }
    fn objects(&self, nrecs: usize) -> impl Iterator<Item = u64> {
        let [l1, l2, l3] = self.rtts();
        let [d0, d1] = self.data();
        [self.rd(), l1, l2, l3, d0, d1]
            .into_iter()
            .chain((0..nrecs).map(|i| self.rec(i)))
    }

    fn write_rec_params(&self, i: usize, spec: &RecSpec, naux: u64) {
        let r = self.rec_params();
        hw::fill_page(r, 0);
        hw::write_u64(r, u64::from(spec.runnable));
        hw::write_u64(r + 0x100, spec.mpidr);
        hw::write_u64(r + 0x200, 0x1000); // PC (REC 0's; others get theirs from CPU_ON)
        hw::write_u64(r + 0x800, naux);
        for a in 0..naux {
            hw::write_u64(r + 0x808 + 8 * a, self.aux(i, a));
        }
    }

    /// Build and activate a realm whose measured code page at IPA 0x1000
    /// is written by `payload`, with RIPAS RAM at [0, 0x3000), an unmeasured
    /// page at 0x2000 and the RECs of `recs`. Returns the aux count.
    pub fn build(&self, payload: fn(u64), recs: &[RecSpec]) -> Option<u64> {
        let (rd, [_, l2, l3], [d0, d1]) = (self.rd(), self.rtts(), self.data());
        let recs = &recs[..recs.len().min(MAX_RECS)];
        let mut ok = self.objects(recs.len()).all(|g| delegate(g) == SUCCESS);
        write_realm_params(self.params(), self.vmid, self.rtts()[0]);
        payload(self.src());
        ok &= rmi(RMI_REALM_CREATE, [rd, self.params(), 0, 0])[0] == SUCCESS;
        let naux = rmi(RMI_REC_AUX_COUNT, [rd, 0, 0, 0])[1].min(16);
        ok &= rmi(RMI_RTT_CREATE, [rd, l2, 0, 2])[0] == SUCCESS;
        ok &= rmi(RMI_RTT_CREATE, [rd, l3, 0, 3])[0] == SUCCESS;
        ok &= rmi(RMI_RTT_INIT_RIPAS, [rd, 0, 0x3000, 0])[0] == SUCCESS;
        ok &= hw::smc([RMI_DATA_CREATE, rd, d0, 0x1000, self.src(), 1, 0, 0])[0] == SUCCESS;
        ok &= rmi(RMI_DATA_CREATE_UNKNOWN, [rd, d1, 0x2000, 0])[0] == SUCCESS;
        for (i, spec) in recs.iter().enumerate() {
            ok &= (0..naux).all(|a| delegate(self.aux(i, a)) == SUCCESS);
            self.write_rec_params(i, spec, naux);
            ok &= rmi(RMI_REC_CREATE, [rd, self.rec(i), self.rec_params(), 0])[0] == SUCCESS;
        }
        ok &= rmi(RMI_REALM_ACTIVATE, [rd, 0, 0, 0])[0] == SUCCESS;
        hw::fill_page(self.run(), 0);
        ok.then_some(naux)
    }

    /// REC_ENTER of REC `i`: (status, exit reason).
    pub fn enter(&self, i: usize) -> (u64, u64) {
        let s = rmi(RMI_REC_ENTER, [self.rec(i), self.run(), 0, 0])[0];
        (s, hw::read_u64(self.run() + EXIT_REASON))
    }

    /// Tear the realm down; true if every granule ends Non-secure and zero.
    pub fn teardown(&self, naux: u64, nrecs: usize) -> bool {
        let rd = self.rd();
        let mut ok = (0..nrecs).all(|i| rmi(RMI_REC_DESTROY, [self.rec(i), 0, 0, 0])[0] == SUCCESS);
        ok &= rmi(RMI_DATA_DESTROY, [rd, 0x1000, 0, 0])[0] == SUCCESS;
        ok &= rmi(RMI_DATA_DESTROY, [rd, 0x2000, 0, 0])[0] == SUCCESS;
        ok &= rmi(RMI_RTT_DESTROY, [rd, 0, 3, 0])[0] == SUCCESS;
        ok &= rmi(RMI_RTT_DESTROY, [rd, 0, 2, 0])[0] == SUCCESS;
        ok &= rmi(RMI_REALM_DESTROY, [rd, 0, 0, 0])[0] == SUCCESS;
        let aux = (0..nrecs).flat_map(|i| (0..naux).map(move |a| (i, a)));
        for g in self.objects(nrecs).chain(aux.map(|(i, a)| self.aux(i, a))) {
            ok &= undelegate(g) == SUCCESS && crate::checks::page_is(g, 0);
        }
        ok
    }

    /// One stress round: build, REC_ENTER a host-call loop ENTRIES times,
    /// tear down.
    fn round(&self) -> bool {
        let runnable = [RecSpec {
            mpidr: 0,
            runnable: true,
        }];
        let Some(naux) = self.build(load_hostcall_loop, &runnable) else {
            return false;
        };
        let entered = (0..ENTRIES).all(|_| self.enter(0) == (SUCCESS, EXIT_HOST_CALL));
        self.teardown(naux, 1) && entered
    }

    /// `ROUNDS` rounds; the number that succeeded.
    pub fn run_rounds(&self) -> usize {
        (0..ROUNDS).filter(|_| self.round()).count()
    }
}
