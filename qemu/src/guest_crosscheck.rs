//! Cross-check of [`GuestImage::rim_with`] against veraison's
//! `cca-realm-measurements` 0.1.0, an independent RIM implementation
//! (cca-attestation.md §6).
//!
//! REALM_CREATE: our host writes `num_bps = num_wps = 0` (raw), which the
//! crate cannot express (it takes counts, asserts `count > 1` and writes
//! `count - 1`). Its realm is therefore created with counts 2 (to set the
//! hash algorithm and IPA width) and its RIM then replaced by the initial
//! RIM of our parameters, computed here straight from sheet §2.1 with
//! `sha2`: H(4096-byte page, zero but s2sz @0x08 and hash_algo @0x30). The
//! REALM_CREATE encoding itself is cross-checked for general parameters in
//! core/measure/tests/cca_crosscheck.rs.
//!
//! RIPAS layout (§2.3): the crate measures the largest block that fits a
//! range, while our host initialises RIPAS inside one level-3 RTT, one
//! extension per 4 KiB entry. The test therefore calls its `rim_init_ripas`
//! once per 4 KiB page, mirroring our layout.

use super::*;
use cca_realm_measurements::Realm;
use cca_realm_measurements::realm::RealmParams;
use cca_realm_measurements::vmm::BlobStorage;
use cca_rmm::{RmiRecCreateFlags, RmiRecParams};
use sha2::{Digest, Sha256, Sha512};

/// The crate's realm parameters for `cfg` (debug counts 2, see above).
fn their_params(cfg: &RimConfig) -> RealmParams {
    RealmParams {
        ipa_bits: Some(cfg.s2sz as u8),
        num_bps: Some(2),
        num_wps: Some(2),
        sve_vl: Some(0),
        pmu: Some(false),
        pmu_num_ctrs: None,
        lpa2: Some(false),
        hash_algo: Some(match cfg.hash {
            HashAlgo::Sha256 => "sha256".parse().unwrap(),
            _ => "sha512".parse().unwrap(),
        }),
    }
}

/// Sheet §2.1 initial RIM of our host's parameters, in a 64-byte slot.
fn initial_rim(cfg: &RimConfig) -> [u8; 64] {
    let mut p = [0u8; 4096];
    p[0x08..0x0C].copy_from_slice(&cfg.s2sz.to_le_bytes());
    p[0x30] = cfg.hash.to_rmi().unwrap();
    let mut slot = [0u8; 64];
    match cfg.hash {
        HashAlgo::Sha256 => slot[..32].copy_from_slice(&Sha256::digest(p)),
        _ => slot.copy_from_slice(&Sha512::digest(p)),
    }
    slot
}

/// The crate's replay of `image` under `cfg`, in the host's order.
fn theirs(image: &[u8], cfg: &RimConfig) -> Vec<u8> {
    let mut realm = Realm::new();
    realm.rim_realm_create(&their_params(cfg)).unwrap();
    realm.measurements.rim = initial_rim(cfg);
    for base in (0..cfg.ram_top).step_by(PAGE) {
        realm.rim_init_ripas(base, base + PAGE as u64).unwrap();
    }
    realm
        .rim_data_create(cfg.ipa, &mut BlobStorage::Bytes(image.to_vec()))
        .unwrap();
    for i in 0..cfg.recs {
        let flags = if i == 0 {
            RmiRecCreateFlags::RUNNABLE
        } else {
            RmiRecCreateFlags::empty()
        };
        realm
            .rim_rec_create(&RmiRecParams::new(flags, cfg.ipa, [0; 8]))
            .unwrap();
    }
    realm.measurements.rim[..cfg.hash.digest_len()].to_vec()
}

/// A synthetic 3-page image whose last page is partial (zero-filled tail).
fn synthetic() -> GuestImage {
    GuestImage {
        path: PathBuf::from("/synthetic.bin"),
        data: (0..3 * PAGE - 100)
            .map(|i| (i as u8).wrapping_mul(13) ^ 0x5A)
            .collect(),
    }
}

#[test]
fn host_rim_matches_cca_realm_measurements() {
    let g = synthetic();
    for recs in [1, 2, 4] {
        let cfg = RimConfig::host(recs);
        assert_eq!(
            g.rim_with(&cfg).unwrap(),
            theirs(&g.data, &cfg),
            "{recs} RECs"
        );
    }
}

#[test]
fn other_configs_match_cca_realm_measurements() {
    let g = synthetic();
    let cfg = RimConfig {
        recs: 3,
        hash: HashAlgo::Sha512,
        ipa: 0x8_0000,
        ram_top: 0x20_0000,
        s2sz: 40,
    };
    let ours = g.rim_with(&cfg).unwrap();
    assert_eq!(ours.len(), 64);
    assert_eq!(ours, theirs(&g.data, &cfg));
}

#[test]
fn whole_range_ripas_call_agrees_below_2m() {
    // Below 2 MiB "largest block that fits" is 4 KiB everywhere, so one
    // rim_init_ripas call over [0, RAM_TOP) gives the same chain.
    let mut a = Realm::new();
    let mut b = Realm::new();
    let p = their_params(&RimConfig::host(1));
    a.rim_realm_create(&p).unwrap();
    b.rim_realm_create(&p).unwrap();
    a.rim_init_ripas(0, RAM_TOP).unwrap();
    for base in (0..RAM_TOP).step_by(PAGE) {
        b.rim_init_ripas(base, base + PAGE as u64).unwrap();
    }
    assert_eq!(a.measurements.rim, b.measurements.rim);
}
