//! Realms built, run and torn down on every CPU at once: each CPU owns a
//! disjoint set of granules and its own VMID, and repeats full rounds
//! (REALM_CREATE .. REC_ENTER x N .. REALM_DESTROY) while the other CPUs
//! do the same, so RMM locking, VMID allocation, per-CPU slots and realm
//! entry on several CPUs run concurrently. Every granule must end
//! Non-secure and zero, every round.

use crate::hw;
use crate::realm::{EXIT_HOST_CALL, EXIT_REASON, load_hostcall_loop, rmi};
use crate::rmi::*;

/// Rounds per CPU and REC entries per round.
pub const ROUNDS: usize = 4;
const ENTRIES: usize = 5;

/// Where one CPU's realm lives: 1 MiB of NS DRAM per CPU.
#[derive(Clone, Copy, Debug)]
pub struct Layout {
    base: u64,
    vmid: u64,
}

impl Layout {
    pub const fn for_cpu(cpu: usize) -> Self {
        Self {
            base: 0x5200_0000 + 0x10_0000 * cpu as u64,
            vmid: 100 + cpu as u64,
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
    fn rec(&self) -> u64 {
        self.at(0x5000)
    }
    fn aux(&self, i: u64) -> u64 {
        self.at(0x1_0000 + 0x1000 * i)
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
    fn run(&self) -> u64 {
        self.at(0x3_3000)
    }
    fn objects(&self) -> [u64; 7] {
        let [l1, l2, l3] = self.rtts();
        let [d0, d1] = self.data();
        [self.rd(), l1, l2, l3, d0, d1, self.rec()]
    }

    fn write_params(&self, naux: u64) {
        let p = self.params();
        hw::fill_page(p, 0);
        hw::write_u64(p + 0x008, 39); // s2sz
        hw::write_u64(p + 0x800, self.vmid);
        hw::write_u64(p + 0x808, self.rtts()[0]);
        hw::write_u64(p + 0x810, 1); // start level
        hw::write_u64(p + 0x818, 1); // one root RTT
        let r = self.rec_params();
        hw::fill_page(r, 0);
        hw::write_u64(r, 1); // RUNNABLE
        hw::write_u64(r + 0x200, 0x1000); // PC
        hw::write_u64(r + 0x800, naux);
        for i in 0..naux {
            hw::write_u64(r + 0x808 + 8 * i, self.aux(i));
        }
    }

    /// One full round; false on the first unexpected status.
    fn round(&self) -> bool {
        let (rd, [_, l2, l3], [d0, d1], rec) = (self.rd(), self.rtts(), self.data(), self.rec());
        let mut ok = self.objects().iter().all(|&g| delegate(g) == SUCCESS);
        self.write_params(0);
        load_hostcall_loop(self.src());
        ok &= rmi(RMI_REALM_CREATE, [rd, self.params(), 0, 0])[0] == SUCCESS;
        let naux = rmi(RMI_REC_AUX_COUNT, [rd, 0, 0, 0])[1].min(16);
        self.write_params(naux);
        ok &= (0..naux).all(|i| delegate(self.aux(i)) == SUCCESS);
        ok &= rmi(RMI_RTT_CREATE, [rd, l2, 0, 2])[0] == SUCCESS;
        ok &= rmi(RMI_RTT_CREATE, [rd, l3, 0, 3])[0] == SUCCESS;
        ok &= rmi(RMI_RTT_INIT_RIPAS, [rd, 0, 0x3000, 0])[0] == SUCCESS;
        ok &= hw::smc([RMI_DATA_CREATE, rd, d0, 0x1000, self.src(), 1, 0, 0])[0] == SUCCESS;
        ok &= rmi(RMI_DATA_CREATE_UNKNOWN, [rd, d1, 0x2000, 0])[0] == SUCCESS;
        ok &= rmi(RMI_REC_CREATE, [rd, rec, self.rec_params(), 0])[0] == SUCCESS;
        ok &= rmi(RMI_REALM_ACTIVATE, [rd, 0, 0, 0])[0] == SUCCESS;
        hw::fill_page(self.run(), 0);
        for _ in 0..ENTRIES {
            ok &= rmi(RMI_REC_ENTER, [rec, self.run(), 0, 0])[0] == SUCCESS
                && hw::read_u64(self.run() + EXIT_REASON) == EXIT_HOST_CALL;
        }
        ok &= rmi(RMI_REC_DESTROY, [rec, 0, 0, 0])[0] == SUCCESS;
        ok &= rmi(RMI_DATA_DESTROY, [rd, 0x1000, 0, 0])[0] == SUCCESS;
        ok &= rmi(RMI_DATA_DESTROY, [rd, 0x2000, 0, 0])[0] == SUCCESS;
        ok &= rmi(RMI_RTT_DESTROY, [rd, 0, 3, 0])[0] == SUCCESS;
        ok &= rmi(RMI_RTT_DESTROY, [rd, 0, 2, 0])[0] == SUCCESS;
        ok &= rmi(RMI_REALM_DESTROY, [rd, 0, 0, 0])[0] == SUCCESS;
        for g in self
            .objects()
            .into_iter()
            .chain((0..naux).map(|i| self.aux(i)))
        {
            ok &= undelegate(g) == SUCCESS && crate::checks::page_is(g, 0);
        }
        ok
    }

    /// `ROUNDS` rounds; the number that succeeded.
    pub fn run_rounds(&self) -> usize {
        (0..ROUNDS).filter(|_| self.round()).count()
    }
}
