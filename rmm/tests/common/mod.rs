//! Shared fixtures: a QEMU-virt-like layout (TF-A v2.13) plus a small second
//! bank, a fake EL3 over it, and one `Rmm` per test (no global state).
#![allow(dead_code)] // Each test binary uses a different subset.

use std::sync::atomic::AtomicU16;

use fake_platform::{FakePlatform, ManifestBuilder, Pas};
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
