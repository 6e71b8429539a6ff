//! Cold/warm boot validation: one test per E_RMM_BOOT_* code and per
//! manifest corruption (rmm-el3-interface.md §1, §2, §6).

mod common;

use common::*;
use fake_platform::{ConsoleSpec, ManifestBuilder, read_u64, write_u64};
use rmm::boot::{InitError, Version};
use rmm::manifest::{ManifestError, OFF_PLAT_CONSOLE, OFF_PLAT_DRAM};
use rmm::{BootArgs, BootError, PhysAddr, validate_cold_boot, validate_warm_boot};

fn args(x0: u64, x1: u64, x2: u64, x3: u64) -> BootArgs {
    BootArgs { x0, x1, x2, x3 }
}

fn v05() -> Box<[u8; 4096]> {
    ManifestBuilder::v0_5(SHARED, &BANKS).build()
}

fn boot_err(a: &BootArgs, page: &[u8; 4096]) -> BootError {
    validate_cold_boot(a, page).expect_err("boot must fail")
}

fn data_err(page: &[u8; 4096]) -> ManifestError {
    match boot_err(&cold_args(), page) {
        BootError::ManifestData(e) => e,
        other => panic!("expected -7, got {other:?}"),
    }
}

#[test]
fn error_codes_match_the_sheet() {
    assert_eq!(BootError::Init(InitError::StorageTooSmall).code(), -1);
    assert_eq!(BootError::VersionNotValid.code(), -2);
    assert_eq!(BootError::CpusOutOfRange.code(), -3);
    assert_eq!(BootError::CpuIdOutOfRange.code(), -4);
    assert_eq!(BootError::InvalidSharedBuffer.code(), -5);
    assert_eq!(BootError::ManifestVersionNotSupported.code(), -6);
    assert_eq!(
        BootError::ManifestData(ManifestError::DramChecksum).code(),
        -7
    );
}

#[test]
fn tf_a_v2_13_boot_is_accepted() {
    let info = validate_cold_boot(&cold_args(), &v05()).unwrap();
    assert_eq!(info.max_cpus, 4);
    assert_eq!(info.shared_buf, PhysAddr(SHARED));
    assert_eq!(info.if_version, Version::new(0, 6));
    assert_eq!(info.manifest_version, Version::new(0, 5));
    let banks: Vec<_> = info
        .dram
        .banks()
        .iter()
        .map(|b| (b.base.0, b.size))
        .collect();
    assert_eq!(banks, BANKS);
    let c = info.console.unwrap();
    assert_eq!(
        (c.base.0, c.map_pages, c.clk_in_hz, c.baud_rate),
        (0x0900_0000, 1, 1, 115_200)
    );
    assert_eq!(&c.name, b"pl011\0\0\0");
}

#[test]
fn tf_a_v2_12_boot_with_v0_3_manifest_is_accepted() {
    let page = ManifestBuilder::v0_3(SHARED, &BANKS).build();
    let info = validate_cold_boot(&args(0, 4, 4, SHARED), &page).unwrap();
    assert_eq!(info.if_version, Version::new(0, 4));
    assert_eq!(info.manifest_version, Version::new(0, 3));
    assert_eq!(info.dram.banks().len(), 2);
}

#[test]
fn v0_4_manifest_is_accepted() {
    let mut b = ManifestBuilder::v0_5(SHARED, &BANKS);
    b.version = 4;
    assert!(validate_cold_boot(&cold_args(), &b.build()).is_ok());
}

#[test]
fn v2_12_console_checksum_quirk_accepted_only_for_v0_3() {
    let mut b = ManifestBuilder::v0_3(SHARED, &BANKS);
    b.v212_console_quirk = true;
    let info = validate_cold_boot(&args(0, 4, 4, SHARED), &b.build()).unwrap();
    assert_eq!(&info.console.unwrap().name, b"pl011\0\0\0");

    // The same bug in a v0.5 manifest (v2.13 fixed it) is a real error.
    b.version = 5;
    assert_eq!(data_err(&b.build()), ManifestError::ConsoleChecksum);
}

#[test]
fn v0_3_console_checksum_off_by_other_amount_is_rejected() {
    let mut page = ManifestBuilder::v0_3(SHARED, &BANKS).build();
    let ck = read_u64(&page, OFF_PLAT_CONSOLE + 16);
    // Off by the name word plus one: not the v2.12 bug.
    let name = u64::from_le_bytes(*b"pl011\0\0\0");
    write_u64(
        &mut page,
        OFF_PLAT_CONSOLE + 16,
        ck.wrapping_sub(name).wrapping_sub(1),
    );
    assert_eq!(data_err(&page), ManifestError::ConsoleChecksum);
    // Off by exactly 1.
    write_u64(&mut page, OFF_PLAT_CONSOLE + 16, ck.wrapping_add(1));
    assert_eq!(data_err(&page), ManifestError::ConsoleChecksum);
}

#[test]
fn e2_interface_version_not_valid() {
    for x1 in [
        0,
        2,
        0x1_0000,
        0x1_0006,
        0x2_0000,
        1 << 31 | 6,
        1 << 32 | 6,
        u64::MAX,
    ] {
        assert_eq!(
            boot_err(&args(0, x1, 4, SHARED), &v05()),
            BootError::VersionNotValid,
            "x1 = {x1:#x}"
        );
    }
    for x1 in [3, 4, 6, 8, 0xFFFF] {
        assert!(
            validate_cold_boot(&args(0, x1, 4, SHARED), &v05()).is_ok(),
            "x1 = {x1:#x}"
        );
    }
}

#[test]
fn e3_cpus_out_of_range() {
    for x2 in [0, 65, 1000, u64::MAX] {
        assert_eq!(
            boot_err(&args(0, 6, x2, SHARED), &v05()),
            BootError::CpusOutOfRange
        );
    }
    assert!(validate_cold_boot(&args(63, 6, 64, SHARED), &v05()).is_ok());
    assert!(validate_cold_boot(&args(0, 6, 1, SHARED), &v05()).is_ok());
}

#[test]
fn e4_cpu_id_out_of_range() {
    for (x0, x2) in [(4, 4), (5, 4), (1, 1), (u64::MAX, 64)] {
        assert_eq!(
            boot_err(&args(x0, 6, x2, SHARED), &v05()),
            BootError::CpuIdOutOfRange
        );
    }
}

#[test]
fn e5_invalid_shared_buffer() {
    for x3 in [0, SHARED + 8, SHARED + 0x800, 1] {
        assert_eq!(
            boot_err(&args(0, 6, 4, x3), &v05()),
            BootError::InvalidSharedBuffer
        );
    }
}

#[test]
fn e6_manifest_version_not_supported() {
    for v in [0u32, 1, 2, 0x1_0003, 0x1_0000, 0x8000_0005] {
        let mut b = ManifestBuilder::v0_5(SHARED, &BANKS);
        b.version = v;
        assert_eq!(
            boot_err(&cold_args(), &b.build()),
            BootError::ManifestVersionNotSupported,
            "version {v:#x}"
        );
    }
}

#[test]
fn first_failing_check_decides_the_code() {
    let mut bad_manifest = *v05();
    bad_manifest[0] = 2; // manifest 0.2 (-6)
    // Bad x1 and x2 and x0 and x3 -> -2.
    assert_eq!(boot_err(&args(9, 0, 0, 1), &bad_manifest).code(), -2);
    // Bad x2, x0, x3 -> -3.
    assert_eq!(boot_err(&args(9, 6, 0, 1), &bad_manifest).code(), -3);
    // Bad x0, x3 -> -4.
    assert_eq!(boot_err(&args(9, 6, 4, 1), &bad_manifest).code(), -4);
    // Bad x3 and manifest -> -5.
    assert_eq!(boot_err(&args(0, 6, 4, 1), &bad_manifest).code(), -5);
    // Bad manifest version and data -> -6.
    write_u64(&mut bad_manifest, OFF_PLAT_DRAM + 16, 1);
    assert_eq!(boot_err(&cold_args(), &bad_manifest).code(), -6);
}

#[test]
fn e7_dram_checksum_mismatch() {
    let mut page = v05();
    let b = ManifestBuilder::v0_5(SHARED, &BANKS);
    // Grow bank 0 by one granule without fixing the checksum.
    let off = b.banks_offset() + 8;
    let size = read_u64(&page, off);
    write_u64(&mut page, off, size + 0x1000);
    assert_eq!(data_err(&page), ManifestError::DramChecksum);
    // Corrupt the checksum itself.
    let mut page = v05();
    write_u64(&mut page, OFF_PLAT_DRAM + 16, 0);
    assert_eq!(data_err(&page), ManifestError::DramChecksum);
}

#[test]
fn e7_console_checksum_mismatch() {
    let mut page = v05();
    let off = ManifestBuilder::v0_5(SHARED, &BANKS).consoles_offset() + 32;
    write_u64(&mut page, off, 9600); // baud rate
    assert_eq!(data_err(&page), ManifestError::ConsoleChecksum);
}

#[test]
fn e7_dram_pointer_outside_shared_page() {
    for ptr in [
        SHARED + 4096,      // just past the page
        SHARED + 4096 - 16, // second bank would cross the end
        SHARED - 32,        // below the page
        0,                  // NULL
        0x4000_0000,        // somewhere in DRAM
        u64::MAX - 8,       // overflow
    ] {
        let mut page = v05();
        write_u64(&mut page, OFF_PLAT_DRAM + 8, ptr);
        assert_eq!(data_err(&page), ManifestError::DramPointer, "ptr {ptr:#x}");
    }
}

#[test]
fn e7_console_pointer_outside_shared_page() {
    for ptr in [
        SHARED + 4096,
        SHARED + 4096 - 40,
        SHARED - 48,
        0,
        0x0900_0000,
    ] {
        let mut page = v05();
        write_u64(&mut page, OFF_PLAT_CONSOLE + 8, ptr);
        assert_eq!(
            data_err(&page),
            ManifestError::ConsolePointer,
            "ptr {ptr:#x}"
        );
    }
}

#[test]
fn e7_dram_bank_count() {
    for n in [0u64, 9, u64::MAX] {
        let mut page = v05();
        write_u64(&mut page, OFF_PLAT_DRAM, n);
        assert_eq!(
            data_err(&page),
            ManifestError::DramBankCount,
            "num_banks {n}"
        );
    }
    let banks: Vec<_> = (0..9u64)
        .map(|i| (0x1_0000_0000 * (i + 1), 0x1000))
        .collect();
    let page = ManifestBuilder::v0_5(SHARED, &banks).build();
    assert_eq!(data_err(&page), ManifestError::DramBankCount);
    let page = ManifestBuilder::v0_5(SHARED, &banks[..8]).build();
    assert_eq!(
        validate_cold_boot(&cold_args(), &page)
            .unwrap()
            .dram
            .banks()
            .len(),
        8
    );
}

#[test]
fn e7_console_count() {
    let mut b = ManifestBuilder::v0_5(SHARED, &BANKS);
    b.consoles = vec![ConsoleSpec::QEMU_PL011; 5];
    assert_eq!(data_err(&b.build()), ManifestError::ConsoleCount);
}

#[test]
fn consoles_zero_to_four_first_is_used() {
    let mut b = ManifestBuilder::v0_5(SHARED, &BANKS);
    b.consoles = vec![];
    assert_eq!(
        validate_cold_boot(&cold_args(), &b.build())
            .unwrap()
            .console,
        None
    );
    let second = ConsoleSpec {
        base: 0x0904_0000,
        ..ConsoleSpec::QEMU_PL011
    };
    b.consoles = vec![ConsoleSpec::QEMU_PL011, second, second, second];
    let info = validate_cold_boot(&cold_args(), &b.build()).unwrap();
    assert_eq!(info.console.unwrap().base, PhysAddr(0x0900_0000));
}

fn bank_err(banks: &[(u64, u64)]) -> ManifestError {
    data_err(&ManifestBuilder::v0_5(SHARED, banks).build())
}

#[test]
fn e7_bank_overlap() {
    assert_eq!(
        bank_err(&[(0x4000_0000, 0x2000_0000), (0x5000_0000, 0x1000)]),
        ManifestError::BankOrder
    );
    // Identical banks overlap too.
    assert_eq!(
        bank_err(&[(0x4000_0000, 0x1000), (0x4000_0000, 0x1000)]),
        ManifestError::BankOrder
    );
    // Adjacent banks are fine.
    let page =
        ManifestBuilder::v0_5(SHARED, &[(0x4000_0000, 0x1000), (0x4000_1000, 0x1000)]).build();
    assert!(validate_cold_boot(&cold_args(), &page).is_ok());
}

#[test]
fn e7_banks_not_sorted() {
    assert_eq!(
        bank_err(&[(0x2_0000_0000, 0x1000), (0x4000_0000, 0x1000)]),
        ManifestError::BankOrder
    );
}

#[test]
fn e7_bank_misaligned() {
    assert_eq!(
        bank_err(&[(0x4000_0800, 0x1000)]),
        ManifestError::BankMisaligned
    );
    assert_eq!(
        bank_err(&[(0x4000_0000, 0x1800)]),
        ManifestError::BankMisaligned
    );
    assert_eq!(
        bank_err(&[(0x4000_0000, 0x1000), (0x5000_0001, 0x1000)]),
        ManifestError::BankMisaligned
    );
}

#[test]
fn e7_bank_empty() {
    assert_eq!(bank_err(&[(0x4000_0000, 0)]), ManifestError::BankEmpty);
}

#[test]
fn e7_bank_overflow() {
    assert_eq!(
        bank_err(&[(0xFFFF_FFFF_FFFF_0000, 0x2_0000)]),
        ManifestError::BankOverflow
    );
}

#[test]
fn warm_boot() {
    assert_eq!(validate_warm_boot(&args(0, 0, 0, 0), 4), Ok(()));
    assert_eq!(validate_warm_boot(&args(3, 0, 0, 0), 4), Ok(()));
    assert_eq!(
        validate_warm_boot(&args(4, 0, 0, 0), 4),
        Err(BootError::CpuIdOutOfRange)
    );
    assert_eq!(
        validate_warm_boot(&args(u64::MAX, 0, 0, 0), 64)
            .unwrap_err()
            .code(),
        -4
    );
    // x1..x3 are RES0: tolerated (documented choice).
    assert_eq!(validate_warm_boot(&args(1, 6, 4, SHARED), 4), Ok(()));
}

#[test]
fn rmm_init_errors_are_boot_unknown() {
    use std::sync::atomic::AtomicU16;
    let env = Env::new();
    let short: Vec<AtomicU16> = (0..10).map(|_| AtomicU16::new(0)).collect();
    let fake = fake_platform::FakePlatform::new(&GPT_RANGES);
    let e = rmm::Rmm::new(fake, &env.info, &short, &[]).unwrap_err();
    assert_eq!(e, BootError::Init(InitError::StorageTooSmall));
    assert_eq!(e.code(), -1);
    let fake = fake_platform::FakePlatform::new(&GPT_RANGES);
    let e = rmm::Rmm::new(
        fake,
        &env.info,
        &env.storage,
        &[(PhysAddr(u64::MAX - 0xFFF), 0x2000)],
    )
    .unwrap_err();
    assert_eq!(e, BootError::Init(InitError::ReservedRangeOverflow));
}
