//! A whole realm lifecycle through every implemented RMI command, with the
//! RIM checked against an independent replay through `cmon_measure::Rim`
//! and every granule back to DELEGATED and zero (then UNDELEGATED) at the
//! end.

mod common;

use cmon_measure::{HashAlgo, Rim};
use common::*;
use rmm::{GranuleState, PhysAddr};

const L2: u64 = pool(5);
const L3: u64 = pool(6);
const DATA: [u64; 4] = [pool(10), pool(11), pool(12), pool(13)];
const REC0: u64 = pool(30);
const REC1: u64 = pool(31);
const IPA: u64 = 0x4000_0000;

#[test]
fn full_realm_lifecycle() {
    let env = Env::new();
    let rmm = env.rmm();
    let f = rmm.platform();
    let cfg = RealmCfg {
        hash_algo: 1,
        ..RealmCfg::default()
    };
    assert_eq!(create_realm_with(&rmm, RD, &cfg), SUCCESS);
    let mut rim = Rim::new(HashAlgo::Sha512, &cfg.rim_params()).unwrap();
    for pa in [L2, L3].into_iter().chain(DATA) {
        delegate(&rmm, pa);
    }
    assert_eq!(rmi(&rmm, RTT_CREATE, &[RD, L2, IPA, 2]).x[0], SUCCESS);
    assert_eq!(rmi(&rmm, RTT_CREATE, &[RD, L3, IPA, 3]).x[0], SUCCESS);

    // RIPAS RAM for the first four pages (measured per entry).
    let r = rmi(&rmm, RTT_INIT_RIPAS, &[RD, IPA, IPA + 0x4000]);
    assert_eq!((r.x[0], r.x[1]), (SUCCESS, IPA + 0x4000));
    for i in 0..4 {
        rim.measure_ripas(IPA + i * 0x1000, IPA + (i + 1) * 0x1000)
            .unwrap();
    }

    // Measured and unmeasured DATA, then unknown DATA (not measured).
    let image: Vec<u8> = (0..4096u32).map(|i| (i ^ 0xA5) as u8).collect();
    f.host_write(PhysAddr(SRC), &image).unwrap();
    assert_eq!(
        rmi(&rmm, DATA_CREATE, &[RD, DATA[0], IPA, SRC, 1]).x[0],
        SUCCESS
    );
    rim.measure_data(IPA, 1, Some(&image.clone().try_into().unwrap()))
        .unwrap();
    assert_eq!(
        rmi(&rmm, DATA_CREATE, &[RD, DATA[1], IPA + 0x1000, SRC, 0]).x[0],
        SUCCESS
    );
    rim.measure_data(IPA + 0x1000, 0, None).unwrap();
    assert_eq!(
        rmi(&rmm, DATA_CREATE_UNKNOWN, &[RD, DATA[2], IPA + 0x2000]).x[0],
        SUCCESS
    );
    assert_eq!(
        rmi(&rmm, DATA_CREATE_UNKNOWN, &[RD, DATA[3], IPA + 0x10_0000]).x[0],
        SUCCESS
    );

    // Two RECs with their aux granules.
    let c0 = RecCfg::nth(0);
    let c1 = RecCfg::nth(1);
    assert_eq!(create_rec_with(&rmm, RD, REC0, &c0), SUCCESS);
    rim.measure_rec(&c0.rim_params());
    assert_eq!(create_rec_with(&rmm, RD, REC1, &c1), SUCCESS);
    rim.measure_rec(&c1.rim_params());

    assert_eq!(rmi(&rmm, REALM_ACTIVATE, &[RD]).x[0], SUCCESS);
    assert_eq!(
        f.read_raw(PhysAddr(RD + 0x80), 64),
        rim.value().slot().to_vec(),
        "RIM = independent replay"
    );
    // Measuring commands are refused once ACTIVE; the RIM stays.
    assert_eq!(
        rmi(&rmm, RTT_INIT_RIPAS, &[RD, IPA + 0x5000, IPA + 0x6000]).x[0],
        error_realm(0)
    );

    // Tear down in reverse.
    f.clear_tlbi_log();
    for (i, ipa) in [IPA, IPA + 0x1000, IPA + 0x2000, IPA + 0x10_0000]
        .into_iter()
        .enumerate()
    {
        let r = rmi(&rmm, DATA_DESTROY, &[RD, ipa]);
        assert_eq!(
            (r.x[0], r.x[1]),
            (SUCCESS, DATA[i]),
            "DATA_DESTROY {ipa:#x}"
        );
    }
    // Three valid mappings were removed; the EMPTY one was never valid.
    assert_eq!(f.tlbi_log().len(), 3);
    assert_eq!(rmi(&rmm, RTT_DESTROY, &[RD, IPA, 3]).x[0], SUCCESS);
    assert_eq!(rmi(&rmm, RTT_DESTROY, &[RD, IPA, 2]).x[0], SUCCESS);
    assert_eq!(
        rmi(&rmm, REALM_DESTROY, &[RD]).x[0],
        error_realm(0),
        "RECs live"
    );
    assert_eq!(rmi(&rmm, REC_DESTROY, &[REC1]).x[0], SUCCESS);
    assert_eq!(rmi(&rmm, REC_DESTROY, &[REC0]).x[0], SUCCESS);
    assert_eq!(rmi(&rmm, REALM_DESTROY, &[RD]).x[0], SUCCESS);

    let all: Vec<u64> = [RD, RTT_BASE, RTT_BASE + 0x1000, L2, L3, REC0, REC1]
        .into_iter()
        .chain(DATA)
        .chain(c0.aux)
        .chain(c1.aux)
        .collect();
    for &pa in &all {
        assert_eq!(
            gstate(&rmm, pa),
            (Some(GranuleState::Delegated), 0),
            "{pa:#x}"
        );
        assert!(f.granule_is_zero(PhysAddr(pa)), "{pa:#x} scrubbed");
    }
    for &pa in &all {
        assert_eq!(status(&rmm, UNDELEGATE, pa), SUCCESS, "{pa:#x}");
        assert_eq!(f.host_read(PhysAddr(pa), 8).unwrap(), vec![0; 8]);
    }
    assert!(!rmm.vmids().in_use(7));
    assert!(f.violations().is_empty());
}
