//! Building the guest realm the way a VMM loads a kernel, and tearing it
//! down (cca-rmm-abi.md §2, §4.1, §4.2):
//!
//! 1. REALM_CREATE (SHA-256, 39-bit IPA space, one level-1 root RTT);
//! 2. RTT_CREATE at levels 2 and 3 for [0, 2 MiB);
//! 3. RTT_INIT_RIPAS of the guest RAM [0, 1 MiB) (measured per entry);
//! 4. DATA_CREATE, measured, of every page of the image at its link IPA
//!    (the last page zero-padded, as a loader reading the file would);
//! 5. REC_CREATE of REC 0 (RUNNABLE) and RECs 1.. (not runnable; the guest
//!    starts them with PSCI CPU_ON), PC = the entry for all;
//! 6. REALM_ACTIVATE.
//!
//! `cargo xtask` replays exactly this sequence with `cmon-measure` to get
//! the RIM the guest must read (qemu/src/guest_rim.rs).
//!
//! Granules: fixed objects from 0x5D00_0000, image pages from 0x5D10_0000,
//! and one pool of 256 pages per host CPU from 0x5D20_0000 for the pages
//! the guest faults in at run time.

use core::sync::atomic::{AtomicU64, Ordering};

use super::{IMAGE_NS, MAX_RECS};
use crate::checks::{Report, page_is};
use crate::hw;
use crate::realm::rmi;
use crate::rmi::*;

const BASE: u64 = 0x5D00_0000;
const IMAGE_PAGES: u64 = BASE + 0x10_0000;
const POOLS: u64 = BASE + 0x20_0000;
const POOL_PAGES: u64 = 256;
const MAX_AUX: u64 = 16;
/// IPA width; RAM the guest gets; the image's link IPA (its entry point).
pub const S2SZ: u64 = crate::rmi::S2SZ;
pub const RAM_TOP: u64 = 0x10_0000;
pub const LINK_IPA: u64 = 0x2_0000;
/// The image must fit below RAM_TOP with room for .bss and stacks.
const MAX_IMAGE: u64 = 0x8_0000;
const VMID: u64 = 200;
const ERROR_RTT: u64 = 4;
const RTT_ASSIGNED: u64 = 1;

/// Pages handed out from each CPU's pool (bump; only that CPU writes).
static POOL_USED: [AtomicU64; MAX_RECS] = [const { AtomicU64::new(0) }; MAX_RECS];

/// Result of [`Realm::teardown`].
#[derive(Clone, Copy, Debug, Default)]
pub struct Teardown {
    /// Destroy commands that did not succeed.
    pub failed_commands: u64,
    /// Granules the realm ever had, and those back Non-secure and zero.
    pub granules: u64,
    pub back: u64,
}

/// The guest realm's granules and NS pages.
#[derive(Debug)]
pub struct Realm {
    nrecs: usize,
    naux: u64,
    image_pages: u64,
}

const fn at(off: u64) -> u64 {
    BASE + off
}

fn rtts() -> [u64; 3] {
    [at(0x1000), at(0x2000), at(0x3000)]
}

fn aux(rec: usize, i: u64) -> u64 {
    at(0x2_0000 + 0x1_0000 * rec as u64 + 0x1000 * i)
}

const PARAMS: u64 = BASE + 0x8_0000;
const REC_PARAMS: u64 = BASE + 0x8_1000;
const BOUNCE: u64 = BASE + 0x8_2000;

/// A delegated granule from `cpu`'s pool for a page the guest faulted on.
pub fn alloc(cpu: usize) -> Option<u64> {
    let used = &POOL_USED[cpu % MAX_RECS];
    let n = used.load(Ordering::Relaxed);
    if n >= POOL_PAGES {
        return None;
    }
    let pa = POOLS + (cpu % MAX_RECS) as u64 * POOL_PAGES * 0x1000 + n * 0x1000;
    used.store(n + 1, Ordering::Relaxed);
    (delegate(pa) == SUCCESS).then_some(pa)
}

impl Realm {
    pub fn rd(&self) -> u64 {
        at(0)
    }

    pub fn rec(&self, i: usize) -> u64 {
        at(0x1_0000 + 0x1000 * i as u64)
    }

    /// The NS RecRun page of REC `i`.
    pub fn run_page(i: usize) -> u64 {
        at(0x9_0000 + 0x1000 * i as u64)
    }

    pub fn nrecs(&self) -> usize {
        self.nrecs
    }

    pub fn image_pages(&self) -> u64 {
        self.image_pages
    }

    /// Build and activate the realm for the `size`-byte image at IMAGE_NS.
    pub fn build(r: &mut Report, size: u64, nrecs: usize) -> Option<Realm> {
        if size > MAX_IMAGE {
            r.check(
                "realm_guest_built",
                false,
                format_args!("image of {size} bytes is over {MAX_IMAGE:#x}"),
            );
            return None;
        }
        for p in &POOL_USED {
            p.store(0, Ordering::Relaxed);
        }
        let rd = at(0);
        let [l1, l2, l3] = rtts();
        let mut ok = [rd, l1, l2, l3].iter().all(|&g| delegate(g) == SUCCESS);
        write_realm_params(PARAMS, VMID, l1);
        let create = rmi(RMI_REALM_CREATE, [rd, PARAMS, 0, 0])[0];
        ok &= create == SUCCESS;
        let naux = rmi(RMI_REC_AUX_COUNT, [rd, 0, 0, 0])[1].min(MAX_AUX);
        ok &= rmi(RMI_RTT_CREATE, [rd, l2, 0, 2])[0] == SUCCESS;
        ok &= rmi(RMI_RTT_CREATE, [rd, l3, 0, 3])[0] == SUCCESS;
        // INIT_RIPAS walks one RTT per call: repeat from the address reached.
        let mut base = 0;
        while ok && base < RAM_TOP {
            let i = rmi(RMI_RTT_INIT_RIPAS, [rd, base, RAM_TOP, 0]);
            ok &= i[0] == SUCCESS && i[1] > base;
            base = i[1];
        }
        let image_pages = size.div_ceil(0x1000);
        for p in 0..image_pages {
            let data = IMAGE_PAGES + p * 0x1000;
            load_page(p, size);
            ok &= delegate(data) == SUCCESS;
            let s = hw::smc([
                RMI_DATA_CREATE,
                rd,
                data,
                LINK_IPA + p * 0x1000,
                BOUNCE,
                1, // RMI_MEASURE_CONTENT
                0,
                0,
            ])[0];
            ok &= s == SUCCESS;
        }
        let realm = Realm {
            nrecs,
            naux,
            image_pages,
        };
        for i in 0..nrecs {
            ok &= delegate(realm.rec(i)) == SUCCESS;
            ok &= (0..naux).all(|a| delegate(aux(i, a)) == SUCCESS);
            hw::fill_page(REC_PARAMS, 0);
            hw::write_u64(REC_PARAMS, u64::from(i == 0)); // RUNNABLE
            hw::write_u64(REC_PARAMS + 0x100, i as u64); // MPIDR: Aff0 = i
            hw::write_u64(REC_PARAMS + 0x200, LINK_IPA); // PC
            hw::write_u64(REC_PARAMS + 0x800, naux);
            for a in 0..naux {
                hw::write_u64(REC_PARAMS + 0x808 + 8 * a, aux(i, a));
            }
            ok &= rmi(RMI_REC_CREATE, [rd, realm.rec(i), REC_PARAMS, 0])[0] == SUCCESS;
            hw::fill_page(Self::run_page(i), 0);
        }
        let act = rmi(RMI_REALM_ACTIVATE, [rd, 0, 0, 0])[0];
        ok &= act == SUCCESS;
        r.check(
            "realm_guest_built",
            ok,
            format_args!(
                "{size}-byte image: {image_pages} measured DATA pages at IPA {LINK_IPA:#x}, \
                 RAM [0, {RAM_TOP:#x}) INIT_RIPAS, {nrecs} RECs, activated ({create:#x}/{act:#x})"
            ),
        );
        Some(realm)
    }

    /// Destroy RECs, DATA, RTTs and the RD; undelegate every granule the
    /// realm ever had.
    pub fn teardown(&self) -> Teardown {
        let rd = self.rd();
        let mut bad = 0u64;
        for i in 0..self.nrecs {
            bad += u64::from(rmi(RMI_REC_DESTROY, [self.rec(i), 0, 0, 0])[0] != SUCCESS);
        }
        // Every assigned page of [0, 2 MiB): DATA_DESTROY. Its `top` skips
        // ahead to the next live IPA, also on ERROR_RTT.
        let mut ipa = 0;
        while ipa < 0x20_0000 {
            let e = rmi(RMI_RTT_READ_ENTRY, [rd, ipa, 3, 0]);
            if e[0] == SUCCESS && e[2] == RTT_ASSIGNED {
                bad += u64::from(rmi(RMI_DATA_DESTROY, [rd, ipa, 0, 0])[0] != SUCCESS);
            }
            ipa += 0x1000;
        }
        let l3 = rmi(RMI_RTT_DESTROY, [rd, 0, 3, 0])[0];
        let l2 = rmi(RMI_RTT_DESTROY, [rd, 0, 2, 0])[0];
        let d = rmi(RMI_REALM_DESTROY, [rd, 0, 0, 0])[0];
        bad += u64::from(l3 != SUCCESS) + u64::from(l2 != SUCCESS) + u64::from(d != SUCCESS);
        if l3 & 0xFF == ERROR_RTT {
            hw::println!("ns-host: realm guest: RTT_DESTROY L3 -> {l3:#x}");
        }
        let [l1, l2, l3] = rtts();
        let recs = (0..self.nrecs).flat_map(|i| {
            core::iter::once(self.rec(i)).chain((0..self.naux).map(move |a| aux(i, a)))
        });
        let image = (0..self.image_pages).map(|p| IMAGE_PAGES + p * 0x1000);
        let pools = POOL_USED.iter().enumerate().flat_map(|(cpu, used)| {
            (0..used.load(Ordering::Relaxed))
                .map(move |n| POOLS + cpu as u64 * POOL_PAGES * 0x1000 + n * 0x1000)
        });
        let mut t = Teardown {
            failed_commands: bad,
            ..Teardown::default()
        };
        for g in [rd, l1, l2, l3]
            .into_iter()
            .chain(recs)
            .chain(image)
            .chain(pools)
        {
            t.granules += 1;
            if undelegate(g) == SUCCESS && page_is(g, 0) {
                t.back += 1;
            }
        }
        t
    }
}

/// Copy page `p` of the image into the bounce page, zero past `size`.
fn load_page(p: u64, size: u64) {
    hw::fill_page(BOUNCE, 0);
    for off in (0..0x1000).step_by(8) {
        let pos = p * 0x1000 + off;
        if pos >= size {
            break;
        }
        let mut w = hw::read_u64(IMAGE_NS + pos);
        let left = size - pos;
        if left < 8 {
            w &= (1u64 << (8 * left)) - 1;
        }
        hw::write_u64(BOUNCE + off, w);
    }
}
