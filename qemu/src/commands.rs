//! The subcommands: glue between building, provisioning, QEMU and reporting.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::cli::{self, Arch, BenchOpts, BootOpts, Command, RunOpts, TestOpts};
use crate::guest::GuestImage;
use crate::qemu::{self, Boot, DEFAULT_MEM, Mode, Outcome};
use crate::report::{self, Verdict};
use crate::{EL3, NS_HOST, Paths, RMM, Result, attest, bail, build, provision, x86};

/// Runs `cmd`; returns the process exit status.
pub fn dispatch(cmd: &Command, paths: &Paths) -> Result<u8> {
    match cmd {
        Command::Help(sub) => {
            print!("{}", cli::help_text(*sub));
            Ok(0)
        }
        Command::Build => build::build_all(paths).map(|_| 0),
        Command::Size => build::size(paths).map(|_| 0),
        Command::Run(o) => run(o, paths),
        Command::Test(o) => test(o, paths),
        Command::Bench(o) => bench(o, paths),
        Command::Lint => build::lint(paths).map(|_| 0),
        Command::VerifyToken(o) => attest::verify_token_cmd(o),
        Command::Rim(o) => attest::rim_cmd(o),
        Command::Mrtd(o) => crate::td_attest::mrtd_cmd(o),
    }
}

/// `--timeout`: the given value (0 = none), else `default`.
pub fn timeout_of(boot: &BootOpts, default: Option<u64>) -> Option<Duration> {
    match boot.timeout.or(default) {
        None | Some(0) => None,
        Some(s) => Some(Duration::from_secs(s)),
    }
}

/// The image to boot: `--bios PATH`, or a fresh build for `arch` (the Arm
/// flash package or the x86 q35 image).
fn bios_image(arch: Arch, boot: &BootOpts, paths: &Paths) -> Result<PathBuf> {
    match &boot.bios {
        Some(p) if p.is_file() => Ok(p.clone()),
        Some(p) => bail!("--bios {}: no such file", p.display()),
        None => match arch {
            Arch::Aarch64 => build::build_all(paths),
            Arch::X86_64 => x86::build_image(paths),
        },
    }
}

/// The realm guest binary for the NS host (aarch64 only), if it was built.
fn guest_image(arch: Arch, paths: &Paths) -> Option<GuestImage> {
    if arch != Arch::Aarch64 {
        return None;
    }
    let path = paths.flat(&crate::REALM_GUEST);
    match GuestImage::load(&path) {
        Ok(g) => Some(g),
        Err(e) => {
            println!("xtask: {e}: the NS host will skip the realm guest");
            None
        }
    }
}

/// Prints the QEMU command, boots, and returns the outcome.
fn boot(
    qemu_bin: &Path,
    b: &Boot<'_>,
    timeout: Option<Duration>,
    interactive: bool,
) -> Result<Outcome> {
    let args = qemu::qemu_args(b);
    let shown: Vec<String> = std::iter::once(qemu_bin.display().to_string())
        .chain(args.iter().cloned())
        .map(|a| qemu::shell_quote(&a))
        .collect();
    let limit = timeout.map_or("no time limit".to_string(), |t| {
        format!("timeout {} s", t.as_secs())
    });
    println!("xtask: + {}   ({limit})", shown.join(" "));
    qemu::run(qemu_bin, &args, timeout, true, interactive)
}

/// Prints the verdict: the pass note (if any), then the closing line.
fn print_verdict(v: &Verdict, what: &str) {
    if let Verdict::Pass(note) = v {
        println!("xtask: {note}");
    }
    println!("{}", v.line(what));
}

/// How to attach GDB to a `--gdb` run.
pub fn gdb_help(paths: &Paths) -> String {
    let rel = |fw| paths.rel(&paths.elf(fw)).display().to_string();
    format!(
        "xtask: QEMU is halted and waits for GDB on localhost:1234. In another terminal:\n\
         \x20   cd {}\n\
         \x20   gdb-multiarch {} -ex 'target remote :1234' \\\n\
         \x20       -ex 'add-symbol-file {} -o {:#x}' -ex 'add-symbol-file {}'\n\
         xtask: then `continue`. Quit QEMU with Ctrl-A X. (The RMM is a PIE linked at 0:\n\
         xtask: -o gives its load address.)",
        paths.root.display(),
        rel(&EL3),
        rel(&RMM),
        RMM.load_addr - RMM.link_addr,
        rel(&NS_HOST)
    )
}

/// How to attach GDB to a `--gdb` run of the x86 shim.
pub fn gdb_help_x86(paths: &Paths) -> String {
    format!(
        "xtask: QEMU is halted at the reset vector and waits for GDB on localhost:1234:\n\
         \x20   cd {}\n\
         \x20   gdb {} -ex 'target remote :1234'\n\
         xtask: the first instructions are 16-bit (`set architecture i8086`), then 32-bit\n\
         xtask: (q35_entry32) and 64-bit from q35_entry64. Quit QEMU with Ctrl-A X.",
        paths.root.display(),
        paths.rel(&paths.x86_elf()).display()
    )
}

/// `cargo xtask run`.
fn run(o: &RunOpts, paths: &Paths) -> Result<u8> {
    let qemu_bin = provision::ensure_qemu(o.boot.qemu.as_deref(), o.arch)?;
    let bios = bios_image(o.arch, &o.boot, paths)?;
    let default = if o.gdb {
        None
    } else {
        Some(cli::DEFAULT_TIMEOUT_SECS)
    };
    let timeout = timeout_of(&o.boot, default);
    let guest = guest_image(o.arch, paths);
    if o.gdb {
        match o.arch {
            Arch::Aarch64 => println!("{}", gdb_help(paths)),
            Arch::X86_64 => println!("{}", gdb_help_x86(paths)),
        }
    }
    let secret = crate::build::x86_root_secret(o.arch, paths)?;
    let b = Boot {
        arch: o.arch,
        bios: &bios,
        smp: o.smp,
        mem: DEFAULT_MEM,
        mode: Mode::Test,
        gdb: o.gdb,
        iters: None,
        icount: o.icount,
        guest: guest.as_ref(),
        root_secret: secret.as_deref(),
    };
    let outcome = boot(&qemu_bin, &b, timeout, o.gdb)?;
    let verdict = report::judge_for(o.arch, &outcome);
    let (console, g) = (&outcome.stdout, guest.as_ref());
    let verdict = attest::judge_tokens(paths, verdict, o.arch, console, g, o.smp, false);
    let verdict = crate::td_attest::judge(paths, verdict, o.arch, console);
    print_verdict(&verdict, "RUN");
    Ok(verdict.exit_code())
}

/// One step of `cargo xtask test`.
#[derive(Debug)]
struct Step {
    name: String,
    result: std::result::Result<String, String>,
}

/// `cargo test` at the workspace root (default members), stdio inherited.
fn host_tests(paths: &Paths) -> Step {
    println!("xtask: + cargo test   (in {})", paths.root.display());
    let status = build::cargo().arg("test").current_dir(&paths.root).status();
    let result = match status {
        Ok(s) if s.success() => Ok("cargo test passed".to_string()),
        Ok(s) => Err(format!("cargo test failed ({s})")),
        Err(e) => Err(format!("cannot run cargo: {e}")),
    };
    Step {
        name: "host tests (cargo test)".into(),
        result,
    }
}

/// One QEMU boot of `cargo xtask test`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct TestBoot {
    arch: Arch,
    smp: u32,
    mem: &'static str,
}

impl TestBoot {
    fn name(&self) -> String {
        match self.arch {
            Arch::Aarch64 => format!("QEMU boot -smp {} -m {}", self.smp, self.mem),
            Arch::X86_64 => format!("QEMU x86 q35 -smp {}", self.smp),
        }
    }
}

/// The boots of `cargo xtask test`: aarch64 -smp 4 (SMP races), -smp 1
/// (single-CPU paths), -m 3G (a GPT with several L1 tables and a 3 GiB
/// manifest DRAM bank); x86_64 -smp 2 (the TDX shim on q35).
const TEST_BOOTS: [TestBoot; 4] = [
    TestBoot {
        arch: Arch::Aarch64,
        smp: 4,
        mem: DEFAULT_MEM,
    },
    TestBoot {
        arch: Arch::Aarch64,
        smp: 1,
        mem: DEFAULT_MEM,
    },
    TestBoot {
        arch: Arch::Aarch64,
        smp: 2,
        mem: "3G",
    },
    TestBoot {
        arch: Arch::X86_64,
        smp: 2,
        mem: DEFAULT_MEM,
    },
];

/// QEMU and image for `arch` in `cargo xtask test`; `--qemu` and `--bios`
/// apply to the aarch64 boots only.
fn prepare(arch: Arch, o: &TestOpts, paths: &Paths) -> Result<(PathBuf, PathBuf)> {
    let opts = match arch {
        Arch::Aarch64 => o.boot.clone(),
        Arch::X86_64 => BootOpts::default(),
    };
    let q = provision::ensure_qemu(opts.qemu.as_deref(), arch)?;
    let b = bios_image(arch, &opts, paths)?;
    Ok((q, b))
}

/// QEMU binary and image of one architecture, or why there are none.
type Prepared = std::result::Result<(PathBuf, PathBuf), String>;

/// The QEMU boots of `cargo xtask test`; a failed build or a missing QEMU
/// fails the steps of its architecture only.
fn qemu_tests(o: &TestOpts, paths: &Paths) -> Vec<Step> {
    let timeout = timeout_of(&o.boot, Some(cli::DEFAULT_TIMEOUT_SECS));
    let mut prepared: Vec<(Arch, Prepared)> = Vec::new();
    let mut steps = Vec::new();
    let mut seals = Vec::new();
    for t in TEST_BOOTS {
        let name = t.name();
        if !prepared.iter().any(|(a, _)| *a == t.arch) {
            let p = prepare(t.arch, o, paths).map_err(|e| {
                eprintln!("xtask: error: {e}");
                e.lines().next().unwrap_or("setup failed").to_string()
            });
            prepared.push((t.arch, p));
        }
        let ready = prepared
            .iter()
            .find(|(a, _)| *a == t.arch)
            .map(|(_, p)| p.clone())
            .expect("prepared above");
        let (qemu_bin, bios) = match ready {
            Ok(x) => x,
            Err(why) => {
                steps.push(Step {
                    name,
                    result: Err(why),
                });
                continue;
            }
        };
        println!("xtask: ==== {name} ====");
        let guest = guest_image(t.arch, paths);
        let secret = crate::build::x86_root_secret(t.arch, paths).unwrap_or(None);
        let b = Boot {
            arch: t.arch,
            bios: &bios,
            smp: t.smp,
            mem: t.mem,
            mode: Mode::Test,
            gdb: false,
            iters: None,
            icount: false,
            guest: guest.as_ref(),
            root_secret: secret.as_deref(),
        };
        let result = match boot(&qemu_bin, &b, timeout, false) {
            Ok(outcome) => {
                let v = report::judge_for(t.arch, &outcome);
                // The token check, with the independent pycose check too.
                let (console, g) = (&outcome.stdout, guest.as_ref());
                if t.arch == Arch::Aarch64 {
                    seals.push(crate::sealing::BootKeys {
                        smp: t.smp,
                        recs: crate::guest::GuestImage::recs_for(t.smp),
                        keys: crate::sealing::parse_fingerprints(console),
                    });
                }
                let v = attest::judge_tokens(paths, v, t.arch, console, g, t.smp, true);
                let v = crate::td_attest::judge(paths, v, t.arch, console);
                print_verdict(&v, "RUN");
                match v {
                    Verdict::Pass(note) => Ok(note),
                    Verdict::Fail { why, .. } => Err(why),
                }
            }
            Err(e) => Err(e),
        };
        steps.push(Step { name, result });
    }
    if seals.len() > 1 {
        steps.push(Step {
            name: "sealing keys across boots".into(),
            result: crate::sealing::judge(&seals),
        });
    }
    steps
}

/// The summary block of `cargo xtask test`, ending with the closing line.
fn test_summary(steps: &[Step]) -> (String, usize) {
    let mut s = String::from("xtask: test summary:\n");
    let mut failed = 0;
    for step in steps {
        match &step.result {
            Ok(note) => s += &format!("  PASS  {:<26} {note}\n", step.name),
            Err(why) => {
                failed += 1;
                s += &format!("  FAIL  {:<26} {why}\n", step.name);
            }
        }
    }
    s += &report::final_line(steps.len() - failed, failed);
    (s, failed)
}

/// `cargo xtask test`.
fn test(o: &TestOpts, paths: &Paths) -> Result<u8> {
    let mut steps = Vec::new();
    if !o.qemu_only {
        steps.push(host_tests(paths));
    }
    if !o.host_only {
        steps.extend(qemu_tests(o, paths));
    }
    let (summary, failed) = test_summary(&steps);
    println!("{summary}");
    Ok(u8::from(failed > 0))
}

/// `cargo xtask bench` (`--arch x86_64`: the TDX shim in bench mode,
/// selected by the fw_cfg file `opt/cmon/mode`).
fn bench(o: &BenchOpts, paths: &Paths) -> Result<u8> {
    let qemu_bin = provision::ensure_qemu(o.boot.qemu.as_deref(), o.arch)?;
    let bios = bios_image(o.arch, &o.boot, paths)?;
    let timeout = timeout_of(&o.boot, Some(cli::DEFAULT_TIMEOUT_SECS));
    let secret = crate::build::x86_root_secret(o.arch, paths)?;
    let b = Boot {
        arch: o.arch,
        bios: &bios,
        smp: 1,
        mem: DEFAULT_MEM,
        mode: Mode::Bench,
        gdb: false,
        iters: o.iters,
        icount: true,
        guest: None,
        root_secret: secret.as_deref(),
    };
    let outcome = boot(&qemu_bin, &b, timeout, false)?;
    let lines = report::parse_bench(&outcome.all_output());
    let (table, over) = report::bench_table(&lines);
    if !lines.is_empty() {
        println!("xtask: bench results (ticks = instructions under -icount shift=0):");
        print!("{table}");
    }
    let verdict = match o.arch {
        Arch::Aarch64 => report::judge_bench(&outcome, &lines, over, o.check),
        Arch::X86_64 => x86::judge_bench(&outcome, &lines, over, o.check),
    };
    print_verdict(&verdict, "BENCH");
    Ok(verdict.exit_code())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts() {
        let mut b = BootOpts::default();
        assert_eq!(timeout_of(&b, Some(120)), Some(Duration::from_secs(120)));
        assert_eq!(timeout_of(&b, None), None);
        b.timeout = Some(0);
        assert_eq!(timeout_of(&b, Some(120)), None);
        b.timeout = Some(7);
        assert_eq!(timeout_of(&b, None), Some(Duration::from_secs(7)));
    }

    #[test]
    fn summary_counts_steps() {
        let steps = vec![
            Step {
                name: "host".into(),
                result: Ok("ok".into()),
            },
            Step {
                name: "smp4".into(),
                result: Err("QEMU timed out".into()),
            },
            Step {
                name: "smp1".into(),
                result: Ok("3 checks".into()),
            },
        ];
        let (s, failed) = test_summary(&steps);
        assert_eq!(failed, 1);
        assert_eq!(s.lines().last(), Some("xtask: 2 passed, 1 failed"));
        assert!(s.contains("FAIL  smp4"));
        assert!(s.contains("QEMU timed out"));
    }

    #[test]
    fn gdb_instructions() {
        let p = Paths {
            root: PathBuf::from("/ws"),
        };
        let s = gdb_help(&p);
        assert!(s.contains(
            "gdb-multiarch target/aarch64-unknown-none-softfloat/firmware/qemu-virt-el3 \
             -ex 'target remote :1234'"
        ));
        assert!(
            s.contains("add-symbol-file target/aarch64-unknown-none-softfloat/firmware/rmm-image")
        );
        assert!(
            s.contains("add-symbol-file target/aarch64-unknown-none-softfloat/firmware/ns-host")
        );
    }

    #[test]
    fn missing_bios_is_an_error() {
        let b = BootOpts {
            bios: Some(PathBuf::from("/nonexistent/x.bin")),
            ..Default::default()
        };
        let p = Paths {
            root: PathBuf::from("/ws"),
        };
        assert!(
            bios_image(Arch::Aarch64, &b, &p)
                .unwrap_err()
                .contains("no such file")
        );
        assert!(
            bios_image(Arch::X86_64, &b, &p)
                .unwrap_err()
                .contains("no such file")
        );
    }

    #[test]
    fn test_boots_include_one_x86_step() {
        let names: Vec<String> = TEST_BOOTS.iter().map(TestBoot::name).collect();
        assert_eq!(
            names,
            [
                "QEMU boot -smp 4 -m 1G",
                "QEMU boot -smp 1 -m 1G",
                "QEMU boot -smp 2 -m 3G",
                "QEMU x86 q35 -smp 2"
            ]
        );
    }

    #[test]
    fn gdb_instructions_x86() {
        let p = Paths {
            root: PathBuf::from("/ws"),
        };
        let s = gdb_help_x86(&p);
        assert!(s.contains("gdb target/x86_64-unknown-none/firmware/tdx-shim-image"));
        assert!(s.contains("set architecture i8086"));
    }
}
