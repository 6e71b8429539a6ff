//! RMI dispatch: FID decoding (SVE hint, MBZ bits, unknown FIDs), register
//! conventions (x4 preservation), RMI_VERSION and RMI_FEATURES.

mod common;

use common::*;
use rmm::{Features, RmiFid, RmiStatus, SMC_UNKNOWN};

const UNKNOWN: [u64; 5] = [SMC_UNKNOWN, 0, 0, 0, 0x4444_4444];

#[test]
fn rmi_version_exact_match_succeeds() {
    let env = Env::new();
    let rmm = env.rmm();
    let r = call(&rmm, RMI_VERSION, 0x1_0000);
    assert_eq!(r.x, [0, 0x1_0000, 0x1_0000, 0, 0x4444_4444]);
}

#[test]
fn rmi_version_mismatch_is_error_input_with_versions() {
    let env = Env::new();
    let rmm = env.rmm();
    for req in [
        0,
        0x1_0001,
        0x2_0000,
        0x0_0001,
        0x1_0000 | 1 << 31,
        u64::MAX,
    ] {
        let r = call(&rmm, RMI_VERSION, req);
        assert_eq!(
            r.x,
            [
                RmiStatus::ErrorInput.to_raw(),
                0x1_0000,
                0x1_0000,
                0,
                0x4444_4444
            ],
            "requested {req:#x}"
        );
    }
}

#[test]
fn features_index0_is_feature_register0() {
    let env = Env::new();
    let f = Features {
        s2sz: 48,
        lpa2: true,
        sve_max_vl_bits: Some(512),
        num_bps: 6,
        num_wps: 4,
        pmu_num_ctrs: Some(31),
        hash_sha_256: true,
        hash_sha_512: false,
        gicv3_num_lrs: 16,
        max_recs_order: 9,
    };
    let rmm = env.rmm().with_features(f);
    let expect = 48
        | 1 << 8
        | 1 << 9
        | 3 << 10 // 512/128 - 1
        | 5 << 14
        | 3 << 20
        | 1 << 26
        | 31 << 27
        | 1 << 32
        | 15 << 34
        | 9 << 38;
    assert_eq!(call(&rmm, FEATURES, 0).x, [0, expect, 0, 0, 0x4444_4444]);
    for idx in [1, 2, 0xFF, u64::MAX] {
        assert_eq!(call(&rmm, FEATURES, idx).x, [0, 0, 0, 0, 0x4444_4444]);
    }
}

#[test]
fn features_encoding_edges() {
    // Default values of the conservative set.
    let d = Features::CONSERVATIVE.to_reg0();
    assert_eq!(d & 0xFF, 40);
    assert_eq!(d >> 8 & 0b11, 0, "no LPA2, no SVE");
    assert_eq!(d >> 14 & 0x3F, 1, "2 breakpoints");
    assert_eq!(d >> 32 & 0b11, 0b11, "SHA-256 and SHA-512");
    assert_eq!(d >> 42, 0, "1.1 fields read 0");
    // Fields are masked and clamped, never spilling into neighbours.
    let f = Features {
        s2sz: 52,
        lpa2: false,
        sve_max_vl_bits: Some(4096),
        num_bps: 0,
        num_wps: 200,
        pmu_num_ctrs: Some(0xFF),
        hash_sha_256: false,
        hash_sha_512: false,
        gicv3_num_lrs: 0,
        max_recs_order: 0xFF,
    }
    .to_reg0();
    assert_eq!(f >> 10 & 0xF, 0xF, "SVE_VL clamped to 2048 bits");
    assert_eq!(f >> 14 & 0x3F, 0);
    assert_eq!(f >> 20 & 0x3F, 199 & 0x3F);
    assert_eq!(f >> 42, 0);
    // 128-bit SVE encodes as 0.
    let f = Features {
        sve_max_vl_bits: Some(128),
        ..Features::CONSERVATIVE
    }
    .to_reg0();
    assert_eq!(f >> 9 & 0x1F, 1);
}

#[test]
fn sve_hint_bit_is_masked() {
    let env = Env::new();
    let rmm = env.rmm();
    let r = call(&rmm, RMI_VERSION | 1 << 16, 0x1_0000);
    assert_eq!(r.x[..3], [0, 0x1_0000, 0x1_0000]);
    let r = call(&rmm, FEATURES | 1 << 16, 0);
    assert_eq!(r.x[0], 0);
    assert!(RmiFid::sve_hint(RMI_VERSION | 1 << 16));
    assert!(!RmiFid::sve_hint(RMI_VERSION));
}

#[test]
fn mbz_bits_give_smc_unknown() {
    let env = Env::new();
    let rmm = env.rmm();
    for bit in 17..=23 {
        for fid in [RMI_VERSION, DELEGATE, FEATURES] {
            assert_eq!(call(&rmm, fid | 1 << bit, 0x1_0000).x, UNKNOWN, "bit {bit}");
            assert_eq!(call(&rmm, fid | 1 << bit | 1 << 16, 0x1_0000).x, UNKNOWN);
        }
    }
    // A delegate with MBZ bits must not reach EL3.
    assert_eq!(call(&rmm, DELEGATE | 1 << 20, NS_GRANULE).x, UNKNOWN);
    assert_eq!(rmm.platform().gtsi_calls(), 0);
}

#[test]
fn unknown_fids_give_smc_unknown() {
    let env = Env::new();
    let rmm = env.rmm();
    let fids = [
        0xC400_0156, // unassigned in 1.0 (1.1 DA)
        0xC400_0160,
        0xC400_0163,
        0xC400_016A, // above the 1.0 range
        0xC400_018E,
        0xC400_018F, // RMM_RMI_REQ_COMPLETE is RMM -> EL3
        0xC400_0190, // RSI_VERSION: not an RMI call
        0xC400_01B0, // RMM_GTSI_DELEGATE
        0xC400_01CF,
        0x8400_0150, // SMC32 form of RMI_VERSION
        0x8400_0000, // PSCI_VERSION
        0xC400_0000,
        0x0000_0150,
        0,
        u64::MAX,
        0x1_C400_0150, // bits above 31 set
    ];
    for fid in fids {
        assert_eq!(call(&rmm, fid, 0x1_0000).x, UNKNOWN, "fid {fid:#x}");
    }
    assert_eq!(rmm.platform().gtsi_calls(), 0);
}

#[test]
fn every_rmi_1_0_command_is_implemented() {
    let env = Env::new();
    let rmm = env.rmm();
    // With RTT_SET_RIPAS every RMI 1.0 FID has a handler: bad arguments give
    // an RMI status, never SMC_UNKNOWN, and no GTSI call.
    for fid in RmiFid::ALL
        .iter()
        .filter(|f| **f != RmiFid::GranuleDelegate)
    {
        let r = rmm.handle_rmi(&[fid.raw(), 0x1008, 1, 2, 0x4444_4444, 5, 6, 7]);
        assert_ne!(r.x, UNKNOWN, "{fid:?}");
    }
    assert_eq!(rmm.platform().gtsi_calls(), 0);
}

#[test]
fn x4_is_preserved_for_every_outcome() {
    let env = Env::new();
    let rmm = env.rmm();
    for x4 in [0, 1, 0xDEAD_BEEF, u64::MAX] {
        for (fid, a1) in [
            (RMI_VERSION, 0x1_0000),
            (RMI_VERSION, 7),
            (FEATURES, 0),
            (DELEGATE, NS_GRANULE),
            (UNDELEGATE, NS_GRANULE),
            (DELEGATE, 1),
            (0xC400_0153, 0),
            (0xC400_0156, 0),
            (DELEGATE | 1 << 17, 0),
        ] {
            let r = rmm.handle_rmi(&[fid, a1, 0x22, 0x33, x4, 0x55, 0x66, 0x77]);
            assert_eq!(r.x[4], x4, "fid {fid:#x}");
            // x2/x3 inputs never echo back: unused outputs read 0.
            assert_eq!(r.x[3], 0);
        }
    }
}
