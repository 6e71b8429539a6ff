//! Typed values: PhysAddr, El3Error, GranuleState, RmiFid, RmiStatus.

use rmm::{El3Error, GranuleState, PhysAddr, RmiFid, RmiStatus, SMC_UNKNOWN};

#[test]
fn phys_addr_helpers() {
    assert!(PhysAddr(0).is_granule_aligned());
    assert!(PhysAddr(0x4000_1000).is_granule_aligned());
    assert!(!PhysAddr(0x4000_1001).is_granule_aligned());
    assert!(!PhysAddr(0x4000_1800).is_granule_aligned());
    assert_eq!(PhysAddr(0x4000_1FFF).granule_index(), 0x4_0001);
    assert_eq!(PhysAddr(u64::MAX).granule_index(), u64::MAX >> 12);
    assert_eq!(PhysAddr(u64::MAX).checked_add(1), None);
    assert_eq!(PhysAddr(1).checked_add(1), Some(PhysAddr(2)));
}

#[test]
fn el3_error_values() {
    let all = [
        (-1, El3Error::Unk),
        (-2, El3Error::BadAddr),
        (-3, El3Error::BadPas),
        (-4, El3Error::NoMem),
        (-5, El3Error::Inval),
        (-6, El3Error::Again),
        (-7, El3Error::Fault),
        (-8, El3Error::InProgress),
    ];
    for (raw, e) in all {
        assert_eq!(El3Error::from_raw(raw), Some(e));
        assert_eq!(e.raw(), raw);
        assert_eq!(El3Error::check(raw), Err(e));
    }
    for raw in [0, 1, -9, i64::MIN, i64::MAX] {
        assert_eq!(El3Error::from_raw(raw), None);
    }
    assert_eq!(El3Error::check(0), Ok(()));
    // Out-of-spec values never look like success.
    assert_eq!(El3Error::check(1), Err(El3Error::Unk));
    assert_eq!(El3Error::check(-100), Err(El3Error::Unk));
}

#[test]
fn granule_state_numbering() {
    for (bits, s) in [
        (0, GranuleState::Undelegated),
        (1, GranuleState::Delegated),
        (2, GranuleState::Rd),
        (3, GranuleState::Rec),
        (4, GranuleState::RecAux),
        (5, GranuleState::Data),
        (6, GranuleState::Rtt),
    ] {
        assert_eq!(GranuleState::from_bits(bits), Some(s));
        assert_eq!(s as u8, bits);
    }
    assert_eq!(GranuleState::from_bits(7), None);
}

#[test]
fn rmi_status_wire_values() {
    assert_eq!(RmiStatus::Success.to_raw(), 0);
    assert_eq!(RmiStatus::ErrorInput.to_raw(), 1);
    assert_eq!(RmiStatus::ErrorRealm(0).to_raw(), 2);
    assert_eq!(RmiStatus::ErrorRealm(1).to_raw(), 0x102);
    assert_eq!(RmiStatus::ErrorRec.to_raw(), 3);
    assert_eq!(RmiStatus::ErrorRtt(3).to_raw(), 0x304);
    assert_eq!(RmiStatus::ErrorRtt(255).to_raw(), 0xFF04);
    assert_eq!(SMC_UNKNOWN, 0xFFFF_FFFF_FFFF_FFFF);
}

#[test]
fn rmi_fid_values_match_the_sheet() {
    let expect: [(u64, RmiFid); 23] = [
        (0xC400_0150, RmiFid::Version),
        (0xC400_0151, RmiFid::GranuleDelegate),
        (0xC400_0152, RmiFid::GranuleUndelegate),
        (0xC400_0153, RmiFid::DataCreate),
        (0xC400_0154, RmiFid::DataCreateUnknown),
        (0xC400_0155, RmiFid::DataDestroy),
        (0xC400_0157, RmiFid::RealmActivate),
        (0xC400_0158, RmiFid::RealmCreate),
        (0xC400_0159, RmiFid::RealmDestroy),
        (0xC400_015A, RmiFid::RecCreate),
        (0xC400_015B, RmiFid::RecDestroy),
        (0xC400_015C, RmiFid::RecEnter),
        (0xC400_015D, RmiFid::RttCreate),
        (0xC400_015E, RmiFid::RttDestroy),
        (0xC400_015F, RmiFid::RttMapUnprotected),
        (0xC400_0161, RmiFid::RttReadEntry),
        (0xC400_0162, RmiFid::RttUnmapUnprotected),
        (0xC400_0164, RmiFid::PsciComplete),
        (0xC400_0165, RmiFid::Features),
        (0xC400_0166, RmiFid::RttFold),
        (0xC400_0167, RmiFid::RecAuxCount),
        (0xC400_0168, RmiFid::RttInitRipas),
        (0xC400_0169, RmiFid::RttSetRipas),
    ];
    for (raw, fid) in expect {
        assert_eq!(fid.raw(), raw);
        assert_eq!(RmiFid::from_raw(raw), Some(fid));
        // SVE hint (bit 16) is masked.
        assert_eq!(RmiFid::from_raw(raw | 1 << 16), Some(fid));
        // Each MBZ bit (23:17) rejects.
        for bit in 17..=23 {
            assert_eq!(RmiFid::from_raw(raw | 1 << bit), None, "{raw:#x} bit {bit}");
        }
        // Upper half must be zero.
        assert_eq!(RmiFid::from_raw(raw | 1 << 32), None);
    }
    assert_eq!(RmiFid::ALL.map(RmiFid::raw), expect.map(|(r, _)| r));
}

#[test]
fn rmi_fid_rejects_everything_else() {
    let known: Vec<u64> = RmiFid::ALL.iter().map(|f| f.raw()).collect();
    for fnum in 0..=0xFFFFu64 {
        let raw = 0xC400_0000 | fnum;
        assert_eq!(
            RmiFid::from_raw(raw).is_some(),
            known.contains(&raw),
            "{raw:#x}"
        );
        // SMC32 (bit 30 clear) is never RMI.
        assert_eq!(RmiFid::from_raw(0x8400_0000 | fnum), None);
    }
}
