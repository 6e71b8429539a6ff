//! FIPS 180-4 / NIST CSRC example known answers through `Hasher`.

mod common;

use cmon_measure::{HashAlgo, Hasher, Measurement};
use common::hex;

const MSG_448: &[u8] = b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
const MSG_896: &[u8] = b"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn\
hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";

/// (message, SHA-256, SHA-384, SHA-512)
const VECTORS: &[(&[u8], &str, &str, &str)] = &[
    (
        b"abc",
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed\
         8086072ba1e7cc2358baeca134c825a7",
        "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a\
         2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
    ),
    (
        b"",
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "38b060a751ac96384cd9327eb1b1e36a21fdb71114be07434c0cc7bf63f6e1da\
         274edebfe76f65fbd51ad2f14898b95b",
        "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce\
         47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e",
    ),
    (
        MSG_448,
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
        "3391fdddfc8dc7393707a65b1b4709397cf8b1d162af05abfe8f450de5f36bc6\
         b0455a8520bc4e6f5fe95b1fe3c8452b",
        "204a8fc6dda82f0a0ced7beb8e08a41657c16ef468b228a8279be331a703c335\
         96fd15c13b1b07f9aa1d3bea57789ca031ad85c7a71dd70354ec631238ca3445",
    ),
    (
        MSG_896,
        "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1",
        "09330c33f71147e83d192fc782cd1b4753111b173b3b05d22fa08086e3b0f712\
         fcc7c71a557e2db966c3e9fa91746039",
        "8e959b75dae313da8cf4f72814fc143f8f7779c6eb9f7fa17299aeadb6889018\
         501d289e4900f7e4331b99dec4b5433ac7d329eeb6dd26545e96e55b874be909",
    ),
];

fn check(algo: HashAlgo, msg: &[u8], want: &str) {
    // One-shot.
    let m = Hasher::digest(algo, msg);
    assert_eq!(hex(m.as_bytes()), want, "{algo:?} one-shot");
    assert_eq!(m.as_bytes().len(), algo.digest_len());
    // Streaming in odd-sized pieces must give the same answer.
    let mut h = Hasher::new(algo);
    for piece in msg.chunks(7) {
        h.update(piece);
    }
    assert_eq!(h.finalize(), m, "{algo:?} streamed");
    // Padding of the 64-byte slot is zero.
    assert!(m.slot()[algo.digest_len()..].iter().all(|&b| b == 0));
}

#[test]
fn sha256_known_answers() {
    for (msg, want, _, _) in VECTORS {
        check(HashAlgo::Sha256, msg, want);
    }
}

#[test]
fn sha384_known_answers() {
    for (msg, _, want, _) in VECTORS {
        check(HashAlgo::Sha384, msg, want);
    }
}

#[test]
fn sha512_known_answers() {
    for (msg, _, _, want) in VECTORS {
        check(HashAlgo::Sha512, msg, want);
    }
}

#[test]
fn msg_lengths_are_the_nist_ones() {
    assert_eq!(MSG_448.len() * 8, 448);
    assert_eq!(MSG_896.len() * 8, 896);
}

#[test]
fn update_zeros_equals_explicit_zeros() {
    for algo in [HashAlgo::Sha256, HashAlgo::Sha384, HashAlgo::Sha512] {
        let mut h = Hasher::new(algo);
        h.update_zeros(4096 + 3);
        assert_eq!(h.finalize(), Hasher::digest(algo, &[0u8; 4099]));
    }
}

#[test]
fn hash_algo_rmi_encoding() {
    assert_eq!(HashAlgo::from_rmi(0), Some(HashAlgo::Sha256));
    assert_eq!(HashAlgo::from_rmi(1), Some(HashAlgo::Sha512));
    for bad in [2u8, 3, 0x80, 0xff] {
        assert_eq!(HashAlgo::from_rmi(bad), None);
        assert_eq!(
            HashAlgo::try_from(bad),
            Err(cmon_measure::UnknownHashAlgo(bad))
        );
    }
    assert_eq!(HashAlgo::try_from(1), Ok(HashAlgo::Sha512));
    assert_eq!(HashAlgo::Sha256.to_rmi(), Some(0));
    assert_eq!(HashAlgo::Sha512.to_rmi(), Some(1));
    assert_eq!(HashAlgo::Sha384.to_rmi(), None);
    assert_eq!(HashAlgo::Sha256.digest_len(), 32);
    assert_eq!(HashAlgo::Sha384.digest_len(), 48);
    assert_eq!(HashAlgo::Sha512.digest_len(), 64);
}

#[test]
fn measurement_slot_and_debug() {
    let m = Hasher::digest(HashAlgo::Sha256, b"abc");
    assert_eq!(
        format!("{m:?}"),
        "Sha256(ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad)"
    );
    assert_eq!(m.slot().len(), 64);
    assert_eq!(Measurement::from_slot(HashAlgo::Sha256, m.slot()), Some(m));
    assert_eq!(
        Measurement::from_digest(HashAlgo::Sha256, m.as_bytes()),
        Some(m)
    );
    assert_eq!(
        Measurement::from_digest(HashAlgo::Sha512, m.as_bytes()),
        None
    );
    // Non-zero padding would break the slot invariant.
    let mut bad = *m.slot();
    bad[40] = 1;
    assert_eq!(Measurement::from_slot(HashAlgo::Sha256, &bad), None);
    assert_eq!(Measurement::zero(HashAlgo::Sha384).as_bytes(), &[0u8; 48]);
}
