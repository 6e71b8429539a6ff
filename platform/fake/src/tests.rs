//! Unit tests of the fake platform.

use super::*;

const BASE: u64 = 0x4000_0000;

#[test]
fn gtsi_behaves_like_el3() {
    let f = FakePlatform::new(&[(BASE, 0x1_0000)]);
    let pa = PhysAddr(BASE + 0x1000);
    assert_eq!(f.gtsi_undelegate(pa), Err(El3Error::BadPas), "not Realm");
    assert_eq!(f.gtsi_delegate(pa), Ok(()));
    assert_eq!(f.pas(pa), Some(Pas::Realm));
    assert_eq!(f.gtsi_delegate(pa), Err(El3Error::BadPas), "not NS");
    assert_eq!(f.gtsi_undelegate(pa), Ok(()));
    assert_eq!(
        f.gtsi_delegate(PhysAddr(BASE + 0x1_0000)),
        Err(El3Error::BadAddr)
    );
    assert_eq!(f.gtsi_delegate(PhysAddr(BASE + 1)), Err(El3Error::BadAddr));
    f.set_pas(pa, Pas::Secure);
    assert_eq!(f.gtsi_delegate(pa), Err(El3Error::BadPas));
    assert_eq!(f.gtsi_calls(), 7);
}

#[test]
fn injected_fault_is_one_shot_and_leaves_gpt_alone() {
    let f = FakePlatform::new(&[(BASE, 0x1_0000)]);
    let pa = PhysAddr(BASE);
    f.fail_next_gtsi(El3Error::NoMem);
    assert_eq!(f.gtsi_delegate(pa), Err(El3Error::NoMem));
    assert_eq!(f.pas(pa), Some(Pas::NonSecure));
    assert_eq!(f.gtsi_delegate(pa), Ok(()));
}

#[test]
fn sparse_memory_and_host_view() {
    // 64 GiB costs nothing until written.
    let f = FakePlatform::new(&[(BASE, 1 << 36)]);
    let pa = PhysAddr(BASE + (1 << 35));
    assert_eq!(f.host_read(pa, 4).unwrap(), vec![0; 4]);
    f.host_write(pa, &[1, 2, 3, 4]).unwrap();
    assert!(!f.granule_is_zero(pa));
    assert_eq!(f.read_raw(pa, 4), vec![1, 2, 3, 4]);
    f.gtsi_delegate(pa).unwrap();
    assert_eq!(f.host_write(pa, &[0]), Err(HostFault(pa)));
    f.zero_granule(pa).unwrap();
    assert!(f.granule_is_zero(pa));
    assert!(f.violations().is_empty());
    f.zero_granule(PhysAddr(BASE)).unwrap();
    assert_eq!(
        f.violations().len(),
        1,
        "zeroing an NS granule breaks the contract"
    );
}

#[test]
fn ns_access_mapping_and_tlbi_log() {
    let f = FakePlatform::new(&[(BASE, 0x1_0000)]);
    let ns = PhysAddr(BASE + 0x2000);
    f.write_ns(PhysAddr(ns.0 + 8), &[7, 8]).unwrap();
    let mut buf = [0u8; 12];
    f.read_ns(ns, &mut buf).unwrap();
    assert_eq!(buf[8..10], [7, 8]);
    assert_eq!(f.host_read(PhysAddr(ns.0 + 8), 2).unwrap(), vec![7, 8]);
    // Crossing a granule, not covered, or not NS: refused.
    let mut big = [0u8; 16];
    assert!(f.read_ns(PhysAddr(ns.0 + 4090), &mut big).is_err());
    assert!(f.read_ns(PhysAddr(BASE + 0x1_0000), &mut buf).is_err());
    f.gtsi_delegate(ns).unwrap();
    assert_eq!(f.read_ns(ns, &mut buf), Err(NsAccessError(ns)));
    assert!(f.write_ns(ns, &[1]).is_err());
    assert_eq!(f.ns_reads().len(), 4);
    {
        let m = f.map_granule(ns, Slot::Rd);
        assert_eq!(m[1].load(Ordering::Relaxed), 0x0807);
        m[2].store(5, Ordering::Relaxed);
        f.zero_granule(ns).unwrap();
        assert_eq!(m[1].load(Ordering::Relaxed), 0, "zeroed in place");
        m[3].store(9, Ordering::Relaxed);
    }
    assert_eq!(f.read_word(ns, 3), 9);
    assert!(f.violations().is_empty());
    f.tlbi_ipa(3, 0x1000);
    f.tlbi_vmid(3);
    assert_eq!(f.tlbi_log(), vec![Tlbi::Ipa(3, 0x1000), Tlbi::Vmid(3)]);
    // Contract breaches: NS granule, and two mappings in one slot.
    let _a = f.map_granule(PhysAddr(BASE), Slot::Data);
    let _b = f.map_granule(ns, Slot::Data);
    assert_eq!(f.violations().len(), 2);
}

#[test]
fn builder_checksums_sum_to_zero() {
    let b = ManifestBuilder::v0_5(0x418F_F000, &[(BASE, 0xC000_0000)]);
    let p = b.build();
    for list in [16usize, 40] {
        let (num, ptr) = (read_u64(&p, list), read_u64(&p, list + 8));
        let off = (ptr - 0x418F_F000) as usize;
        let words = if list == 16 { 2 } else { 6 } * num as usize;
        let sum = (0..words).fold(num.wrapping_add(ptr), |s, w| {
            s.wrapping_add(read_u64(&p, off + 8 * w))
        });
        assert_eq!(sum.wrapping_add(read_u64(&p, list + 16)), 0);
    }
    assert_eq!(
        read_u64(&p, 24),
        0x418F_F000 + 160,
        "v0.5 arrays follow the 160 B core"
    );
}
