//! `RimWith::ripas_run` (one padded descriptor per run, one backend call per
//! entry) against two references: the per-entry `measure_ripas` (streaming
//! hasher) and RustCrypto's complete SHA-2 over `ripas_descriptor`.

use cmon_measure::cca::ripas_descriptor;
use cmon_measure::{HashAlgo, Hasher, MeasureError, Measurement, Rim};
use sha2::{Digest, Sha256, Sha384, Sha512};

/// RTT entries of several levels, in address order.
const ENTRIES: [(u64, u64); 6] = [
    (0x4000_0000, 0x8000_0000),
    (0x8000_0000, 0x8020_0000),
    (0x8020_0000, 0x8040_0000),
    (0x8040_0000, 0x8040_1000),
    (0x8040_1000, 0x8040_2000),
    (0xffff_f000, 0x1_0000_0000),
];

fn start(algo: HashAlgo) -> Measurement {
    Hasher::digest(algo, b"rim before the run")
}

/// RIM = H(RIPAS descriptor(RIM, base, top)), with RustCrypto.
fn reference(mut rim: Measurement, entries: &[(u64, u64)]) -> Measurement {
    for &(base, top) in entries {
        let d = ripas_descriptor(&rim, base, top);
        let digest = match rim.algo() {
            HashAlgo::Sha256 => Sha256::digest(d).to_vec(),
            HashAlgo::Sha384 => Sha384::digest(d).to_vec(),
            HashAlgo::Sha512 => Sha512::digest(d).to_vec(),
        };
        rim = Measurement::from_digest(rim.algo(), &digest).unwrap();
    }
    rim
}

#[test]
fn run_matches_per_entry_extension_and_rustcrypto() {
    for algo in [HashAlgo::Sha256, HashAlgo::Sha384, HashAlgo::Sha512] {
        for n in 0..=ENTRIES.len() {
            let mut one_by_one = Rim::from_value(start(algo));
            for &(base, top) in &ENTRIES[..n] {
                one_by_one.measure_ripas(base, top).unwrap();
            }
            let mut run = Rim::from_value(start(algo));
            {
                let mut r = run.ripas_run();
                for &(base, top) in &ENTRIES[..n] {
                    r.measure(base, top).unwrap();
                }
            }
            assert_eq!(run.value(), one_by_one.value(), "{algo:?} {n} entries");
            assert_eq!(
                run.value(),
                reference(start(algo), &ENTRIES[..n]),
                "{algo:?} {n} entries"
            );
        }
    }
}

#[test]
fn a_long_run_matches() {
    // One whole level-3 RTT, as RTT_INIT_RIPAS over 512 entries.
    let entries: Vec<(u64, u64)> = (0..512u64)
        .map(|i| (i * 0x1000, (i + 1) * 0x1000))
        .collect();
    let mut run = Rim::from_value(start(HashAlgo::Sha256));
    {
        let mut r = run.ripas_run();
        for &(base, top) in &entries {
            r.measure(base, top).unwrap();
        }
    }
    assert_eq!(run.value(), reference(start(HashAlgo::Sha256), &entries));
}

#[test]
fn bad_entries_are_rejected_and_change_nothing() {
    for algo in [HashAlgo::Sha256, HashAlgo::Sha512] {
        let mut rim = Rim::from_value(start(algo));
        {
            let mut r = rim.ripas_run();
            r.measure(0x1000, 0x2000).unwrap();
            assert_eq!(
                r.measure(0x1800, 0x2000),
                Err(MeasureError::Misaligned(0x1800))
            );
            assert_eq!(
                r.measure(0x2000, 0x2800),
                Err(MeasureError::Misaligned(0x2800))
            );
            assert_eq!(
                r.measure(0x3000, 0x3000),
                Err(MeasureError::EmptyRange {
                    base: 0x3000,
                    top: 0x3000
                })
            );
            r.measure(0x2000, 0x3000).unwrap();
        }
        assert_eq!(
            rim.value(),
            reference(start(algo), &[(0x1000, 0x2000), (0x2000, 0x3000)])
        );
    }
}
