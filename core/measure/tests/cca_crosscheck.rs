//! Cross-check of the RIM/REM against veraison's `cca-realm-measurements`
//! 0.1.0 (an independent implementation over OpenSSL).
//!
//! API mapping (the crate works in "host capability" units and converts):
//! - its `RealmParams.num_bps/num_wps` are counts and it writes `count - 1`
//!   into RmiRealmParams; ours are the raw RmiRealmParams fields;
//! - its `sve_vl` is in bits and it writes `bits / 128 - 1`;
//! - it derives `flags` (LPA2 bit 0, SVE bit 1, PMU bit 2) from the options
//!   and writes `pmu_num_ctrs` only with PMU enabled;
//! - it writes the 4-byte TF-RMM fields as u8 in 8-byte slots, which gives
//!   the same bytes for every legal value (all < 256).
//!
//! Discrepancy found: its `rem_extend` does not follow §3 / TF-RMM (see
//! `rem_extend_matches_tf_rmm_not_the_crate`).

use cca_realm_measurements::Realm;
use cca_realm_measurements::realm::RealmParams;
use cca_realm_measurements::vmm::BlobStorage;
use cca_rmm::{RmiRecCreateFlags, RmiRecParams};
use cmon_measure::cca::{GRANULE_SIZE, RMI_MEASURE_CONTENT, RMI_NO_MEASURE_CONTENT};
use cmon_measure::{HashAlgo, Hasher, MeasurementRegister, Rim, RimRealmParams, RimRecParams};

/// One host configuration expressed in both APIs.
struct Config {
    algo: HashAlgo,
    ipa_bits: u8,
    bps: u8,
    wps: u8,
    sve_bits: u16,
    pmu_ctrs: Option<u8>,
    lpa2: bool,
}

impl Config {
    fn theirs(&self) -> RealmParams {
        RealmParams {
            ipa_bits: Some(self.ipa_bits),
            num_bps: Some(self.bps),
            num_wps: Some(self.wps),
            sve_vl: Some(self.sve_bits),
            pmu: Some(self.pmu_ctrs.is_some()),
            pmu_num_ctrs: self.pmu_ctrs,
            lpa2: Some(self.lpa2),
            hash_algo: Some(match self.algo {
                HashAlgo::Sha256 => "sha256".parse().unwrap(),
                _ => "sha512".parse().unwrap(),
            }),
        }
    }

    fn ours(&self) -> RimRealmParams {
        let sve = self.sve_bits != 0;
        let flags = u64::from(self.lpa2)
            | (u64::from(sve) << 1)
            | (u64::from(self.pmu_ctrs.is_some()) << 2);
        RimRealmParams {
            flags,
            s2sz: self.ipa_bits.into(),
            sve_vl: if sve {
                u32::from(self.sve_bits / 128 - 1)
            } else {
                0
            },
            num_bps: u32::from(self.bps - 1),
            num_wps: u32::from(self.wps - 1),
            pmu_num_ctrs: self.pmu_ctrs.unwrap_or(0).into(),
            hash_algo: self.algo.to_rmi().unwrap(),
        }
    }
}

fn blob(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

/// Our side of `rim_data_create(addr, blob)` for a granule-aligned `addr`:
/// one measured DATA_CREATE per granule, the last one zero-filled.
fn our_data(rim: &mut Rim, addr: u64, data: &[u8]) {
    for (i, piece) in data.chunks(GRANULE_SIZE).enumerate() {
        let mut page = [0u8; GRANULE_SIZE];
        page[..piece.len()].copy_from_slice(piece);
        let ipa = addr + (i * GRANULE_SIZE) as u64;
        rim.measure_data(ipa, RMI_MEASURE_CONTENT, Some(&page))
            .unwrap();
    }
}

/// Replays one realm-creation sequence through both implementations and
/// checks the RIM after every step.
fn replay(cfg: &Config) {
    let mut theirs = Realm::new();
    theirs.rim_realm_create(&cfg.theirs()).unwrap();
    let mut ours = Rim::new(cfg.algo, &cfg.ours()).unwrap();
    let check = |ours: &Rim, theirs: &Realm, step: &str| {
        assert_eq!(ours.value().slot(), &theirs.measurements.rim, "{step}");
    };
    check(&ours, &theirs, "REALM_CREATE");

    // Measured DATA: a 3-page kernel and a 1.5-page DTB (zero-filled tail).
    let kernel = blob(3 * GRANULE_SIZE, 1);
    theirs
        .rim_data_create(0x8000_0000, &mut BlobStorage::Bytes(kernel.clone()))
        .unwrap();
    our_data(&mut ours, 0x8000_0000, &kernel);
    check(&ours, &theirs, "DATA kernel");
    let dtb = blob(GRANULE_SIZE * 3 / 2, 9);
    theirs
        .rim_data_create(0x8800_0000, &mut BlobStorage::Bytes(dtb.clone()))
        .unwrap();
    our_data(&mut ours, 0x8800_0000, &dtb);
    check(&ours, &theirs, "DATA dtb");

    // Unmeasured DATA: 2 granules.
    theirs
        .rim_data_create_unmeasured(0x8900_0000, 2 * GRANULE_SIZE as u64)
        .unwrap();
    for ipa in [0x8900_0000, 0x8900_1000] {
        ours.measure_data(ipa, RMI_NO_MEASURE_CONTENT, None)
            .unwrap();
    }
    check(&ours, &theirs, "DATA unmeasured");

    // INIT_RIPAS. The crate splits a range into the largest blocks that fit
    // (§2.3 caveat); we pass the same RTT entries explicitly. With 40 IPA
    // bits the block sizes are 1 GiB, 2 MiB and 4 KiB.
    theirs.rim_init_ripas(0x4000_0000, 0x8000_0000).unwrap();
    ours.measure_ripas(0x4000_0000, 0x8000_0000).unwrap();
    check(&ours, &theirs, "RIPAS 1G");
    theirs.rim_init_ripas(0x8000_0000, 0x8040_3000).unwrap();
    // The run of extensions the RMM's RTT_INIT_RIPAS uses.
    let mut run = ours.ripas_run();
    for (base, top) in [
        (0x8000_0000, 0x8020_0000),
        (0x8020_0000, 0x8040_0000),
        (0x8040_0000, 0x8040_1000),
        (0x8040_1000, 0x8040_2000),
        (0x8040_2000, 0x8040_3000),
    ] {
        run.measure(base, top).unwrap();
    }
    drop(run);
    check(&ours, &theirs, "RIPAS mixed");

    // REC_CREATE: boot REC (runnable, x0 = DTB) and a secondary.
    let gprs = [0x8800_0000, 1, 2, 3, 4, 5, 6, 0xdead_beef_0000_0007];
    theirs
        .rim_rec_create(&RmiRecParams::new(
            RmiRecCreateFlags::RUNNABLE,
            0x8000_0000,
            gprs,
        ))
        .unwrap();
    ours.measure_rec(&RimRecParams {
        flags: 1,
        pc: 0x8000_0000,
        gprs,
    });
    check(&ours, &theirs, "REC boot");
    theirs
        .rim_rec_create(&RmiRecParams::new(RmiRecCreateFlags::empty(), 0, [0; 8]))
        .unwrap();
    ours.measure_rec(&RimRecParams::default());
    check(&ours, &theirs, "REC secondary");
}

#[test]
fn rim_matches_crate_sha256() {
    replay(&Config {
        algo: HashAlgo::Sha256,
        ipa_bits: 40,
        bps: 6,
        wps: 4,
        sve_bits: 0,
        pmu_ctrs: None,
        lpa2: false,
    });
}

#[test]
fn rim_matches_crate_sha512() {
    replay(&Config {
        algo: HashAlgo::Sha512,
        ipa_bits: 40,
        bps: 16,
        wps: 16,
        sve_bits: 512,
        pmu_ctrs: Some(7),
        lpa2: true,
    });
}

#[test]
fn ripas_depends_on_rtt_layout() {
    // §2.3: a host that stops the walk at 4 KiB entries instead of one
    // 2 MiB block gets a different RIM. Guards against "simplifying" the
    // per-entry rule into a per-call one.
    let p = RimRealmParams::default();
    let mut a = Rim::new(HashAlgo::Sha256, &p).unwrap();
    a.measure_ripas(0x20_0000, 0x40_0000).unwrap();
    let mut b = Rim::new(HashAlgo::Sha256, &p).unwrap();
    for i in 0..512u64 {
        b.measure_ripas(0x20_0000 + i * 0x1000, 0x20_1000 + i * 0x1000)
            .unwrap();
    }
    assert_ne!(a.value(), b.value());
}

/// REM: the crate's `rem_extend` (0.1.0, and unchanged upstream) computes
/// `H(previous)` into the slot and then overwrites it with `H(data padded to
/// 64 bytes)`, so the previous value is never chained in. TF-RMM
/// (`handle_rsi_measurement_extend` -> `measurement_extend`) and sheet §3
/// hash `REM[0..hashlen] ‖ data[0..size]`. We follow TF-RMM and check it
/// with the crate's own OpenSSL hash (`measure_bytes`), and we pin the
/// crate's divergent result so a fixed release is noticed.
#[test]
fn rem_extend_matches_tf_rmm_not_the_crate() {
    for cfg in [
        Config {
            algo: HashAlgo::Sha256,
            ipa_bits: 40,
            bps: 2,
            wps: 2,
            sve_bits: 0,
            pmu_ctrs: None,
            lpa2: false,
        },
        Config {
            algo: HashAlgo::Sha512,
            ipa_bits: 40,
            bps: 2,
            wps: 2,
            sve_bits: 0,
            pmu_ctrs: None,
            lpa2: false,
        },
    ] {
        let algo = cfg.algo;
        let len = algo.digest_len();
        let mut theirs = Realm::new();
        theirs.rim_realm_create(&cfg.theirs()).unwrap();
        let mut ours = MeasurementRegister::new(algo);
        let events: [&[u8]; 3] = [b"first event", &[0x5a; 64], b""];
        for data in events {
            let prev = ours.value();
            ours.extend(data);
            // TF-RMM rule, evaluated with the crate's independent hash.
            let mut msg = prev.as_bytes().to_vec();
            msg.extend_from_slice(data);
            let want = theirs.measure_bytes(&msg).unwrap();
            assert_eq!(ours.value().slot(), &want, "{algo:?}");
            assert_eq!(&want[..len], ours.value().as_bytes());

            // The crate's own rem_extend: H(pad64(data)), no chaining.
            theirs.rem_extend(1, data).unwrap();
            let mut padded = data.to_vec();
            padded.resize(64, 0);
            let crate_value = Hasher::digest(algo, &padded);
            assert_eq!(&theirs.measurements.rem[1], crate_value.slot());
            assert_ne!(crate_value, ours.value(), "crate fixed? revisit");
        }
    }
}
