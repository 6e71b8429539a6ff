//! The x86 TDX module shim image for QEMU q35 `-bios`
//! (shared/spec/qemu-platforms.md §3.2).
//!
//! `cargo build --profile firmware --target x86_64-unknown-none -p
//! tdx-shim-image`, then `llvm-objcopy -O binary` (the linker script,
//! linker/q35-bios.ld, makes the flat binary end at 4 GiB with the reset
//! vector in its last 16 bytes), then zero padding at the FRONT to a
//! multiple of 64 KiB: QEMU refuses other sizes and maps the image so that
//! its last byte is at 0xFFFF_FFFF, so front padding moves nothing.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::build::{self, human};
use crate::elf::Elf;
use crate::qemu::Outcome;
use crate::report::{self, BenchLine, Verdict, fail, find_summary, qemu_error_line};
use crate::{FIRMWARE_PROFILE, Paths, Result, X86_SHIM_PACKAGE, X86_TARGET, bail};

/// QEMU's `-bios` size granule on x86.
pub const BIOS_GRANULE: usize = 64 << 10;
/// End of the image in the guest physical address space.
pub const BIOS_END: u64 = 1 << 32;
/// Largest `-bios` image we produce (QEMU accepts up to 16 MiB here).
pub const BIOS_MAX: usize = 16 << 20;
const EM_X86_64: u16 = 62;

/// Arguments of the shim's `cargo build`.
pub fn build_args(target_dir: &Path) -> Vec<String> {
    let mut args: Vec<String> = [
        "build",
        "--profile",
        FIRMWARE_PROFILE,
        "--target",
        X86_TARGET,
        "--target-dir",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.push(target_dir.display().to_string());
    args.extend(["-p".to_string(), X86_SHIM_PACKAGE.to_string()]);
    args
}

/// `flat` zero-padded at the front to a multiple of [`BIOS_GRANULE`].
pub fn pad_front(flat: &[u8]) -> Result<Vec<u8>> {
    if flat.is_empty() {
        bail!("the x86 flat binary is empty");
    }
    let size = flat.len().div_ceil(BIOS_GRANULE) * BIOS_GRANULE;
    if size > BIOS_MAX {
        bail!("the x86 image is {size} bytes; the limit is {BIOS_MAX}");
    }
    let mut out = vec![0u8; size - flat.len()];
    out.extend_from_slice(flat);
    Ok(out)
}

/// Checks the ELF is x86_64 and its last loadable byte is at 4 GiB - 1.
pub fn check_elf(elf: &Elf) -> Result<()> {
    if elf.machine != EM_X86_64 {
        bail!("not an x86_64 ELF (e_machine {})", elf.machine);
    }
    let end = elf
        .segments
        .iter()
        .filter(|s| s.kind == 1 && s.filesz > 0)
        .map(|s| s.paddr + s.filesz)
        .max();
    match end {
        Some(BIOS_END) => Ok(()),
        Some(e) => bail!("loadable contents end at {e:#x}, not at 4 GiB (reset vector)"),
        None => bail!("no loadable contents"),
    }
}

/// QEMU statuses of the x86 shim: isa-debug-exit value v gives (v << 1) | 1
/// (qemu-platforms.md §3.4); the shim writes 0x10 (passed), 0x11 (checks
/// failed) or 0x12 (unexpected exception or panic).
pub const X86_STATUS_PASSED: i32 = 33;
pub const X86_STATUS_FAILED: i32 = 35;
pub const X86_STATUS_FATAL: i32 = 37;

/// xtask's status for a fatal error of the shim (report.rs names it).
pub const X86_FATAL: i32 = report::X86_FATAL;

/// Maps the shim's isa-debug-exit statuses onto the aarch64 scheme
/// (33 -> 0, 35 -> the failed count, or 1 without a summary, 37 -> 93), or
/// returns the verdict when the status alone fails the run. QEMU's own
/// status 0 is a failure here: the shim only reports success through
/// isa-debug-exit.
fn map_status(o: &Outcome) -> std::result::Result<Outcome, Verdict> {
    let failed = find_summary(&o.stdout).map_or(1, |s| s.failed.clamp(1, 89) as i32);
    let code = match o.code {
        _ if o.timed_out => o.code,
        Some(X86_STATUS_PASSED) => Some(0),
        Some(X86_STATUS_FAILED) => Some(failed),
        Some(X86_STATUS_FATAL) => Some(X86_FATAL),
        Some(0) => {
            return Err(fail(
                "QEMU exited with status 0, but the x86 shim reports success only \
                 through isa-debug-exit (status 33)"
                    .into(),
                1,
            ));
        }
        Some(c) if c > 1 && c % 2 == 1 && qemu_error_line(&o.stderr).is_none() => {
            return Err(fail(
                format!(
                    "QEMU exit status {c}: isa-debug-exit value {:#x} is not one the shim uses",
                    c >> 1
                ),
                1,
            ));
        }
        other => other,
    };
    Ok(Outcome { code, ..o.clone() })
}

/// Judges a run of the shim: [`map_status`], then [`report::judge`].
pub fn judge(o: &Outcome) -> Verdict {
    map_status(o).map_or_else(|v| v, |o| report::judge(&o))
}

/// Judges a bench run of the shim: [`map_status`], then
/// [`report::judge_bench`].
pub fn judge_bench(o: &Outcome, lines: &[BenchLine], over: usize, check: bool) -> Verdict {
    map_status(o).map_or_else(|v| v, |o| report::judge_bench(&o, lines, over, check))
}

/// Builds, converts and pads the shim; returns `target/images/q35-tdx-shim.bin`.
pub fn build_image(paths: &Paths) -> Result<PathBuf> {
    build::run_cargo(paths, &build_args(&paths.target_dir()), "x86 shim build")?;
    let elf_path = paths.x86_elf();
    let elf =
        Elf::parse(&build::read(&elf_path)?).map_err(|e| format!("{}: {e}", elf_path.display()))?;
    check_elf(&elf).map_err(|e| format!("{}: {e}", elf_path.display()))?;
    std::fs::create_dir_all(paths.images())
        .map_err(|e| format!("cannot create {}: {e}", paths.images().display()))?;
    let elf_bytes = build::read(&elf_path)?;
    let td = crate::td_attest::extract_td_guest(&elf_bytes, &elf)
        .map_err(|e| format!("{}: {e}", elf_path.display()))?;
    build::write(&crate::td_attest::td_guest_path(paths), &td)?;
    let image = paths.x86_image();
    let flat = image.with_extension("flat");
    let objcopy = build::llvm_objcopy(paths)?;
    let status = Command::new(&objcopy)
        .arg("-O")
        .arg("binary")
        .arg(&elf_path)
        .arg(&flat)
        .status()
        .map_err(|e| format!("cannot run {}: {e}", objcopy.display()))?;
    if !status.success() {
        bail!("llvm-objcopy failed on {} ({status})", elf_path.display());
    }
    let data = build::read(&flat)?;
    let _ = std::fs::remove_file(&flat);
    let padded = pad_front(&data)?;
    build::write(&image, &padded)?;
    println!(
        "xtask: {} {} (flat binary {} + {} B of front padding to a 64 KiB multiple; \
         ends at 4 GiB)",
        paths.rel(&image).display(),
        human(padded.len() as u64),
        human(data.len() as u64),
        padded.len() - data.len()
    );
    Ok(image)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Arch;
    use crate::elf::Segment;
    use crate::report::EXIT_TIMEOUT;
    use crate::report::tests::outcome;

    #[test]
    fn build_args_are_one_command() {
        assert_eq!(
            build_args(Path::new("/ws/target")).join(" "),
            "build --profile firmware --target x86_64-unknown-none \
             --target-dir /ws/target -p tdx-shim-image"
        );
    }

    #[test]
    fn pads_at_the_front() {
        let flat: Vec<u8> = (0..100u8).collect();
        let img = pad_front(&flat).unwrap();
        assert_eq!(img.len(), BIOS_GRANULE);
        assert!(img[..BIOS_GRANULE - 100].iter().all(|&b| b == 0));
        assert_eq!(&img[BIOS_GRANULE - 100..], &flat[..]);
        let exact = vec![1u8; 2 * BIOS_GRANULE];
        assert_eq!(pad_front(&exact).unwrap(), exact);
        let odd = vec![1u8; 2 * BIOS_GRANULE + 1];
        assert_eq!(pad_front(&odd).unwrap().len(), 3 * BIOS_GRANULE);
        assert!(pad_front(&[]).is_err());
        assert!(pad_front(&vec![0u8; BIOS_MAX + 1]).is_err());
    }

    fn elf(machine: u16, segs: &[(u64, u64)]) -> Elf {
        Elf {
            machine,
            entry: 0,
            sections: vec![],
            segments: segs
                .iter()
                .map(|&(paddr, filesz)| Segment {
                    kind: 1,
                    offset: 0,
                    vaddr: paddr,
                    paddr,
                    filesz,
                    memsz: filesz,
                })
                .collect(),
        }
    }

    #[test]
    fn elf_must_end_at_4g() {
        assert!(check_elf(&elf(62, &[(0xFFFC_0000, 0x100), (0xFFFF_FFF0, 16)])).is_ok());
        let e = check_elf(&elf(62, &[(0xFFFC_0000, 0x100)])).unwrap_err();
        assert!(e.contains("not at 4 GiB"), "{e}");
        assert!(check_elf(&elf(183, &[(0xFFFF_FFF0, 16)])).is_err());
        assert!(check_elf(&elf(62, &[])).is_err());
    }

    #[test]
    fn judging_x86_bench() {
        let text = "BENCH seamcall_sys_rd median=900 min=900 iters=101\n\
                    tdx-shim: bench done\n";
        let lines = report::parse_bench(text);
        let (table, over) = report::bench_table(&lines);
        assert_eq!(over, 0);
        assert!(table.lines().nth(1).unwrap().ends_with("-  -"), "{table}");
        let v = judge_bench(&outcome(Some(33), text, ""), &lines, over, true);
        assert_eq!(v, Verdict::Pass("1 benchmarks".into()));
        assert_eq!(v.line("BENCH"), "BENCH PASSED");
        let failed = "tdx-shim: bench: TD build failed: call 3\n";
        let v = judge_bench(&outcome(Some(35), failed, ""), &[], 0, false);
        assert_eq!(v.exit_code(), 1);
        assert!(v.line("BENCH").contains("1 check(s) failed"), "{v:?}");
        let v = judge_bench(&outcome(Some(37), "", ""), &[], 0, false);
        assert_eq!(v.exit_code(), 93);
        let v = judge_bench(&outcome(Some(33), "no lines\n", ""), &[], 0, false);
        assert!(v.line("BENCH").contains("no `BENCH"), "{v:?}");
        let v = judge_bench(&outcome(Some(0), text, ""), &lines, 0, false);
        assert!(v.line("BENCH").contains("isa-debug-exit"), "{v:?}");
    }

    #[test]
    fn judging_x86() {
        let ok = "cpu0: x ... ok\ntdx-shim: 30 passed, 0 failed\n";
        let v = judge(&outcome(Some(33), ok, ""));
        assert_eq!(v, Verdict::Pass("30 checks".into()));
        assert_eq!(
            report::judge_for(Arch::X86_64, &outcome(Some(33), ok, "")).exit_code(),
            0
        );
        assert!(!report::judge_for(Arch::Aarch64, &outcome(Some(33), ok, "")).passed());

        let v = judge(&outcome(Some(35), "tdx-shim: 28 passed, 2 failed\n", ""));
        assert_eq!(v.exit_code(), 2);
        assert!(v.line("RUN").contains("2 check(s) failed"), "{v:?}");
        // 33 with a failing summary still fails.
        assert!(!judge(&outcome(Some(33), "tdx-shim: 1 passed, 1 failed\n", "")).passed());
        // 33 without a summary fails.
        assert!(!judge(&outcome(Some(33), "boot\n", "")).passed());

        let v = judge(&outcome(Some(37), "q35: FATAL exception\n", ""));
        assert_eq!(v.exit_code(), 93);
        assert!(v.line("RUN").contains("x86 TDX shim"), "{v:?}");

        let v = judge(&outcome(Some(0), ok, ""));
        assert!(v.line("RUN").contains("isa-debug-exit"), "{v:?}");
        let v = judge(&outcome(Some(3), ok, ""));
        assert!(v.line("RUN").contains("value 0x1"), "{v:?}");
        let err = "qemu-system-x86_64: could not load PC BIOS 'x.bin'\n";
        let v = judge(&outcome(Some(1), "", err));
        assert!(v.line("RUN").contains("could not load PC BIOS"), "{v:?}");
        let mut t = outcome(None, "", "");
        t.timed_out = true;
        assert_eq!(judge(&t).exit_code(), EXIT_TIMEOUT);
    }
}
