//! Byte-offset tests of the RIM inputs against cca-attestation.md §2.

use cmon_measure::cca::{
    self, DESC_LEN, GRANULE_SIZE, REM_MAX_DATA, RMI_MEASURE_CONTENT, RMI_NO_MEASURE_CONTENT,
};
use cmon_measure::{
    HashAlgo, Hasher, MeasureError, Measurement, MeasurementRegister, Rim, RimRealmParams,
    RimRecParams,
};

fn u64_at(b: &[u8], off: usize) -> u64 {
    u64::from_le_bytes(b[off..off + 8].try_into().unwrap())
}

fn collect(f: impl FnOnce(&mut dyn FnMut(&[u8]))) -> Vec<u8> {
    let mut v = Vec::new();
    f(&mut |c: &[u8]| {
        assert!(c.len() <= 256, "streamed piece larger than 256 bytes");
        v.extend_from_slice(c)
    });
    v
}

fn sample_rim(algo: HashAlgo) -> Measurement {
    Hasher::digest(algo, b"current rim")
}

#[test]
fn realm_params_image_offsets() {
    let p = RimRealmParams {
        flags: 0x0102_0304_0506_0708,
        s2sz: 0x1122_3344,
        sve_vl: 0x5566_7788,
        num_bps: 0x99aa_bbcc,
        num_wps: 0xddee_ff01,
        pmu_num_ctrs: 0x0203_0405,
        hash_algo: 1,
    };
    let img = collect(|s| p.for_each_image_chunk(s));
    assert_eq!(img.len(), GRANULE_SIZE);
    assert_eq!(u64_at(&img, 0x00), 0x0102_0304_0506_0708);
    // 4-byte fields, rest of each 8-byte slot zero (§2.1 "Width in TF-RMM").
    assert_eq!(u64_at(&img, 0x08), 0x1122_3344);
    assert_eq!(u64_at(&img, 0x10), 0x5566_7788);
    assert_eq!(u64_at(&img, 0x18), 0x99aa_bbcc);
    assert_eq!(u64_at(&img, 0x20), 0xddee_ff01);
    assert_eq!(u64_at(&img, 0x28), 0x0203_0405);
    assert_eq!(u64_at(&img, 0x30), 1);
    // RPV @0x400 and everything after hash_algo is excluded (zero).
    assert!(img[0x31..].iter().all(|&b| b == 0));
    assert_eq!(&img[..RimRealmParams::PREFIX_LEN], &p.image_prefix());
    assert_eq!(
        p.hash(HashAlgo::Sha512),
        Hasher::digest(HashAlgo::Sha512, &img)
    );
    let rim = Rim::new(HashAlgo::Sha512, &p).unwrap();
    assert_eq!(rim.value(), Hasher::digest(HashAlgo::Sha512, &img));
}

#[test]
fn rec_params_image_offsets() {
    let p = RimRecParams {
        flags: 1,
        pc: 0x8000_0000,
        gprs: [10, 11, 12, 13, 14, 15, 16, u64::MAX],
    };
    let img = collect(|s| p.for_each_image_chunk(s));
    assert_eq!(img.len(), GRANULE_SIZE);
    assert_eq!(u64_at(&img, 0x000), 1);
    assert_eq!(u64_at(&img, 0x200), 0x8000_0000);
    for i in 0..8 {
        assert_eq!(u64_at(&img, 0x300 + 8 * i), p.gprs[i]);
    }
    let nonzero: Vec<usize> = (0..GRANULE_SIZE).filter(|&i| img[i] != 0).collect();
    assert!(
        nonzero
            .iter()
            .all(|&i| i < 8 || (0x200..0x208).contains(&i) || (0x300..0x340).contains(&i))
    );
    assert_eq!(
        p.hash(HashAlgo::Sha256),
        Hasher::digest(HashAlgo::Sha256, &img)
    );
}

#[test]
fn data_descriptor_offsets() {
    let rim = sample_rim(HashAlgo::Sha256);
    let content = Hasher::digest(HashAlgo::Sha256, &[0xa5; GRANULE_SIZE]);
    let d = cca::data_descriptor(&rim, 0x8000_1000, RMI_MEASURE_CONTENT, Some(&content));
    assert_eq!(d.len(), DESC_LEN);
    assert_eq!(u64_at(&d, 0x00), 0); // desc_type DATA in an 8-byte slot
    assert_eq!(u64_at(&d, 0x08), 0x100);
    assert_eq!(&d[0x10..0x30], rim.as_bytes());
    assert!(d[0x30..0x50].iter().all(|&b| b == 0)); // SHA-256 slot padding
    assert_eq!(u64_at(&d, 0x50), 0x8000_1000);
    assert_eq!(u64_at(&d, 0x58), 1);
    assert_eq!(&d[0x60..0xa0], content.slot());
    assert!(d[0xa0..].iter().all(|&b| b == 0));

    let d = cca::data_descriptor(&rim, 0x2000, RMI_NO_MEASURE_CONTENT, None);
    assert_eq!(u64_at(&d, 0x58), 0);
    assert!(d[0x60..].iter().all(|&b| b == 0));
}

#[test]
fn rec_descriptor_offsets() {
    let rim = sample_rim(HashAlgo::Sha512);
    let content = Hasher::digest(HashAlgo::Sha512, b"rec");
    let d = cca::rec_descriptor(&rim, &content);
    assert_eq!(u64_at(&d, 0x00), 1);
    assert_eq!(u64_at(&d, 0x08), 0x100);
    assert_eq!(&d[0x10..0x50], rim.slot());
    assert_eq!(&d[0x50..0x90], content.slot());
    assert!(d[0x90..].iter().all(|&b| b == 0));
}

#[test]
fn ripas_descriptor_offsets() {
    let rim = sample_rim(HashAlgo::Sha512);
    let d = cca::ripas_descriptor(&rim, 0x4000_0000, 0x8000_0000);
    assert_eq!(u64_at(&d, 0x00), 2);
    assert_eq!(u64_at(&d, 0x08), 0x100);
    assert_eq!(&d[0x10..0x50], rim.slot());
    assert_eq!(u64_at(&d, 0x50), 0x4000_0000);
    assert_eq!(u64_at(&d, 0x58), 0x8000_0000);
    assert!(d[0x60..].iter().all(|&b| b == 0));
}

#[test]
fn rim_extension_is_hash_of_descriptor() {
    let params = RimRealmParams {
        s2sz: 40,
        hash_algo: 0,
        ..Default::default()
    };
    let mut rim = Rim::new(HashAlgo::Sha256, &params).unwrap();
    let before = rim.value();
    let page = [7u8; GRANULE_SIZE];
    rim.measure_data(0x1000, RMI_MEASURE_CONTENT, Some(&page))
        .unwrap();
    let content = Hasher::digest(HashAlgo::Sha256, &page);
    let d = cca::data_descriptor(&before, 0x1000, 1, Some(&content));
    assert_eq!(rim.value(), Hasher::digest(HashAlgo::Sha256, &d));

    // Unmeasured: content ignored even if given.
    let before = rim.value();
    rim.measure_data(0x2000, RMI_NO_MEASURE_CONTENT, Some(&page))
        .unwrap();
    let d = cca::data_descriptor(&before, 0x2000, 0, None);
    assert_eq!(rim.value(), Hasher::digest(HashAlgo::Sha256, &d));
}

#[test]
fn rim_rejects_bad_inputs() {
    let p = RimRealmParams {
        hash_algo: 2,
        ..Default::default()
    };
    assert_eq!(
        Rim::new(HashAlgo::Sha256, &p),
        Err(MeasureError::UnknownHashAlgo(2))
    );
    let p = RimRealmParams::default(); // hash_algo 0 = SHA-256
    assert!(matches!(
        Rim::new(HashAlgo::Sha512, &p),
        Err(MeasureError::HashAlgoMismatch { .. })
    ));
    let mut rim = Rim::new(HashAlgo::Sha256, &p).unwrap();
    let v = rim.value();
    assert_eq!(
        rim.measure_data(0x1000, 2, None),
        Err(MeasureError::InvalidDataFlags(2))
    );
    assert_eq!(
        rim.measure_data(0x1000, RMI_MEASURE_CONTENT, None),
        Err(MeasureError::MissingContent)
    );
    assert_eq!(
        rim.measure_data(0x1001, 0, None),
        Err(MeasureError::Misaligned(0x1001))
    );
    assert_eq!(
        rim.measure_ripas(0x2000, 0x2000),
        Err(MeasureError::EmptyRange {
            base: 0x2000,
            top: 0x2000
        })
    );
    assert_eq!(rim.value(), v, "failed calls must not extend");
}

#[test]
fn rem_extend_rule() {
    // §3: REM[i] = H(REM[i][0..hashlen] ‖ data[0..size]), initial zero.
    for algo in [HashAlgo::Sha256, HashAlgo::Sha512] {
        let mut rem = MeasurementRegister::new(algo);
        let mut expect = vec![0u8; algo.digest_len()];
        expect.extend_from_slice(b"event");
        rem.extend(b"event");
        assert_eq!(rem.value(), Hasher::digest(algo, &expect));
    }
}

#[test]
fn rem_extend_from_regs_uses_le_registers() {
    let regs = [
        0x0706_0504_0302_0100,
        0x0f0e_0d0c_0b0a_0908,
        0,
        0,
        0,
        0,
        0,
        u64::MAX,
    ];
    let mut a = MeasurementRegister::new(HashAlgo::Sha512);
    cca::rem_extend_from_regs(&mut a, &regs, 10).unwrap();
    let mut b = MeasurementRegister::new(HashAlgo::Sha512);
    b.extend(&[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert_eq!(a, b);
    // size 64 takes all eight registers; 65 is RSI_ERROR_INPUT.
    cca::rem_extend_from_regs(&mut a, &regs, REM_MAX_DATA as u64).unwrap();
    assert_eq!(
        cca::rem_extend_from_regs(&mut a, &regs, 65),
        Err(MeasureError::DataTooLong(65))
    );
}

#[test]
fn rim_resumed_from_its_value_extends_identically() {
    use cmon_measure::{HashAlgo, Rim, RimRealmParams};
    let params = RimRealmParams {
        flags: 0,
        s2sz: 40,
        sve_vl: 0,
        num_bps: 0,
        num_wps: 0,
        pmu_num_ctrs: 0,
        hash_algo: 0,
    };
    let mut a = Rim::new(HashAlgo::Sha256, &params).unwrap();
    let mut b = Rim::from_value(a.value());
    a.measure_ripas(0, 0x1000).unwrap();
    b.measure_ripas(0, 0x1000).unwrap();
    assert_eq!(a.value(), b.value());
}
