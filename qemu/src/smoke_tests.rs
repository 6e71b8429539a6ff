//! End-to-end checks of the QEMU path with hand-assembled images: an EL3
//! image for aarch64 and a 64 KiB q35 `-bios` image for x86_64 (each
//! skipped when no suitable QEMU for it is on PATH).

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::cli::Arch;
use crate::package::{self, Image};
use crate::provision;
use crate::qemu::{self, Boot, DEFAULT_MEM, Mode};
use crate::report;

/// A flat EL3 image that prints `msg` on the PL011 at 0x0900_0000 and ends
/// QEMU through semihosting SYS_EXIT with `code`.
fn el3_image(msg: &str, code: u64) -> Vec<u8> {
    let words: [u32; 10] = [
        0xD2A1_2002, // 0x00 movz x2, #0x0900, lsl #16   (PL011 DR)
        0x1000_01E3, // 0x04 adr  x3, msg (0x40)
        0x3840_1464, // 0x08 loop: ldrb w4, [x3], #1
        0x3400_0064, // 0x0C cbz  w4, done (0x18)
        0xB900_0044, // 0x10 str  w4, [x2]
        0x17FF_FFFD, // 0x14 b    loop
        0x5280_0300, // 0x18 done: movz w0, #0x18         (SYS_EXIT)
        0x1000_00A1, // 0x1C adr  x1, block (0x30)
        0xD45E_0000, // 0x20 hlt  #0xF000
        0x1400_0000, // 0x24 b    .
    ];
    let mut img: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
    img.resize(0x30, 0);
    img.extend_from_slice(&0x20026u64.to_le_bytes()); // ADP_Stopped_ApplicationExit
    img.extend_from_slice(&code.to_le_bytes());
    img.extend_from_slice(msg.as_bytes());
    img.push(0);
    img
}

/// The QEMU for `arch` to use, or `None` (test skipped).
fn qemu_or_skip_for(arch: Arch) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let q = provision::find_in_path(arch.qemu_bin(), &path)?;
    let v = provision::qemu_version(&q).ok()?;
    (v >= provision::MIN_VERSION).then_some(q)
}

fn qemu_or_skip() -> Option<PathBuf> {
    qemu_or_skip_for(Arch::Aarch64)
}

fn boot(qemu_bin: &Path, name: &str, msg: &str, code: u64, mode: Mode) -> qemu::Outcome {
    let dir = std::env::temp_dir().join(format!("xtask-smoke-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let el3 = el3_image(msg, code);
    let payload = [0u8; 16];
    let images = [Image {
        id: package::ID_NS,
        load_addr: 0x6000_0000,
        data: &payload,
    }];
    let (pkg, _) = package::build(&el3, &images).unwrap();
    let bios = dir.join("bios.bin");
    std::fs::write(&bios, pkg).unwrap();
    let b = Boot {
        arch: Arch::Aarch64,
        bios: &bios,
        smp: 1,
        mem: DEFAULT_MEM,
        mode,
        gdb: false,
        iters: Some(3),
        icount: false,
        guest: None,
        root_secret: None,
    };
    let args = qemu::qemu_args(&b);
    let o = qemu::run(qemu_bin, &args, Some(Duration::from_secs(60)), false, false).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    o
}

#[test]
fn boots_passing_image() {
    let Some(q) = qemu_or_skip() else {
        eprintln!("skipped: no qemu-system-aarch64 >= 8.2 on PATH");
        return;
    };
    let o = boot(
        &q,
        "pass",
        "check one ... ok\nsmoke: 3 passed, 0 failed\n",
        0,
        Mode::Test,
    );
    let v = report::judge(&o);
    assert_eq!(v, report::Verdict::Pass("3 checks".into()), "{o:?}");
    assert_eq!(v.line("RUN"), "RUN PASSED");
    assert_eq!(v.exit_code(), 0);
}

#[test]
fn boots_failing_image() {
    let Some(q) = qemu_or_skip() else {
        return;
    };
    let o = boot(&q, "fail", "smoke: 1 passed, 2 failed\n", 2, Mode::Test);
    let v = report::judge(&o);
    assert_eq!(v.exit_code(), 2, "{o:?}");
    assert!(v.line("RUN").starts_with("RUN FAILED: 2 check(s) failed"));

    let o = boot(&q, "fatal", "EL3 panic\n", 90, Mode::Test);
    assert!(report::judge(&o).line("RUN").contains("fatal"), "{o:?}");
}

#[test]
fn boots_bench_image() {
    let Some(q) = qemu_or_skip() else {
        return;
    };
    let msg = "BENCH rmi_version median=650 min=600 iters=3\n\
               BENCH granule_delegate median=1501 min=1400 iters=3\n";
    let o = boot(&q, "bench", msg, 0, Mode::Bench);
    let lines = report::parse_bench(&o.all_output());
    assert_eq!(lines.len(), 2, "{o:?}");
    let (_, over) = report::bench_table(&lines);
    assert_eq!(over, 1);
    assert!(report::judge_bench(&o, &lines, over, false).exit_code() == 0);
    assert!(report::judge_bench(&o, &lines, over, true).exit_code() != 0);
}

/// A 64 KiB q35 `-bios` image (mapped at 0xFFFF_0000, CS base 0xFFFF_0000)
/// that prints `msg` on COM1 in real mode and writes `exit` to
/// isa-debug-exit (port 0xF4), then halts.
fn x86_image(msg: &str, exit: u8) -> Vec<u8> {
    let mut code = vec![0xBA, 0xF8, 0x03]; // mov dx, 0x3F8
    for b in msg.bytes() {
        code.extend([0xB0, b, 0xEE]); // mov al, b; out dx, al
    }
    code.extend([0xBA, 0xF4, 0x00, 0xB0, exit, 0xEE]); // mov dx, 0xF4; mov al, exit; out dx, al
    code.extend([0xFA, 0xF4, 0xEB, 0xFC]); // cli; hlt; jmp (back to cli)
    let mut img = vec![0u8; crate::x86::BIOS_GRANULE];
    img[..code.len()].copy_from_slice(&code);
    // Reset vector at offset 0xFFF0: jmp near to IP 0 (0xFFF3 + 0x000D wraps to 0).
    img[0xFFF0..0xFFF3].copy_from_slice(&[0xE9, 0x0D, 0x00]);
    img
}

fn boot_x86(qemu_bin: &Path, name: &str, msg: &str, exit: u8) -> qemu::Outcome {
    let dir = std::env::temp_dir().join(format!("xtask-smoke86-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bios = dir.join("q35.bin");
    std::fs::write(&bios, x86_image(msg, exit)).unwrap();
    let b = Boot {
        arch: Arch::X86_64,
        bios: &bios,
        smp: 2,
        mem: DEFAULT_MEM,
        mode: Mode::Test,
        gdb: false,
        iters: None,
        icount: false,
        guest: None,
        root_secret: None,
    };
    let args = qemu::qemu_args(&b);
    let o = qemu::run(qemu_bin, &args, Some(Duration::from_secs(60)), false, false).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    o
}

#[test]
fn boots_x86_images() {
    let Some(q) = qemu_or_skip_for(Arch::X86_64) else {
        eprintln!("skipped: no qemu-system-x86_64 >= 8.2 on PATH");
        return;
    };
    let o = boot_x86(&q, "pass", "smoke: 3 passed, 0 failed\n", 0x10);
    assert_eq!(o.code, Some(33), "{o:?}");
    let v = report::judge_for(Arch::X86_64, &o);
    assert_eq!(v, report::Verdict::Pass("3 checks".into()), "{o:?}");

    let o = boot_x86(&q, "fail", "smoke: 1 passed, 2 failed\n", 0x11);
    let v = report::judge_for(Arch::X86_64, &o);
    assert_eq!(v.exit_code(), 2, "{o:?}");

    let o = boot_x86(&q, "fatal", "q35: FATAL\n", 0x12);
    let v = report::judge_for(Arch::X86_64, &o);
    assert_eq!(v.exit_code(), 93, "{o:?}");
}
