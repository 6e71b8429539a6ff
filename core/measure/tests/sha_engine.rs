//! The streaming SHA-2 engine (padding, buffering, IVs) against RustCrypto's
//! complete implementation: every length across several block boundaries
//! and arbitrary update splits must give identical digests.

use cmon_measure::{HashAlgo, Hasher};
use sha2::{Digest, Sha256, Sha384, Sha512};

fn message(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 + 7) as u8).collect()
}

fn reference(algo: HashAlgo, m: &[u8]) -> Vec<u8> {
    match algo {
        HashAlgo::Sha256 => Sha256::digest(m).to_vec(),
        HashAlgo::Sha384 => Sha384::digest(m).to_vec(),
        HashAlgo::Sha512 => Sha512::digest(m).to_vec(),
    }
}

#[test]
fn every_length_matches_rustcrypto() {
    for algo in [HashAlgo::Sha256, HashAlgo::Sha384, HashAlgo::Sha512] {
        for len in 0..300 {
            let m = message(len);
            assert_eq!(
                Hasher::digest(algo, &m).as_bytes(),
                &reference(algo, &m)[..],
                "{algo:?} len {len}"
            );
        }
    }
}

#[test]
fn update_splits_do_not_matter() {
    let m = message(1000);
    for algo in [HashAlgo::Sha256, HashAlgo::Sha512] {
        let want = reference(algo, &m);
        for split in [1usize, 3, 55, 56, 63, 64, 65, 111, 112, 127, 128, 129, 500] {
            let mut h = Hasher::new(algo);
            for chunk in m.chunks(split) {
                h.update(chunk);
            }
            assert_eq!(h.finalize().as_bytes(), &want[..], "{algo:?} split {split}");
        }
    }
}
