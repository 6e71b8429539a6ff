//! Hand-written argument parser and help texts.

use std::path::PathBuf;

use crate::{Result, bail};

/// Default wall-clock limit for one QEMU boot.
pub const DEFAULT_TIMEOUT_SECS: u64 = 120;
/// Default `-smp` for `run`.
pub const DEFAULT_SMP: u32 = 4;

/// A subcommand name (for `--help`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sub {
    Build,
    Size,
    Run,
    Test,
    Bench,
    Lint,
}

impl Sub {
    fn from_name(name: &str) -> Option<Sub> {
        Some(match name {
            "build" => Sub::Build,
            "size" => Sub::Size,
            "run" => Sub::Run,
            "test" => Sub::Test,
            "bench" => Sub::Bench,
            "lint" => Sub::Lint,
            _ => return None,
        })
    }
}

/// Options shared by everything that boots QEMU.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BootOpts {
    /// `--timeout SECS`; `None` = the command's default, `Some(0)` = no limit.
    pub timeout: Option<u64>,
    /// `--qemu PATH`.
    pub qemu: Option<PathBuf>,
    /// `--bios PATH`: boot this image and skip the build.
    pub bios: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOpts {
    pub smp: u32,
    pub gdb: bool,
    pub boot: BootOpts,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TestOpts {
    pub host_only: bool,
    pub qemu_only: bool,
    pub boot: BootOpts,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BenchOpts {
    /// `--iters N`; `None` lets the firmware use its default (101).
    pub iters: Option<u32>,
    pub check: bool,
    pub boot: BootOpts,
}

/// A parsed command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Print the help text of a subcommand, or the overview.
    Help(Option<Sub>),
    Build,
    Size,
    Run(RunOpts),
    Test(TestOpts),
    Bench(BenchOpts),
    Lint,
}

pub const MAIN_HELP: &str = "\
cargo xtask: build the Arm CCA firmware and boot it on QEMU

USAGE:
    cargo xtask <COMMAND> [OPTIONS]

COMMANDS:
    build    Build qemu-virt-el3, rmm-image and ns-host, convert them to flat
             binaries and write the flash package target/images/qemu-virt-bios.bin
    size     Build, then print .text/.rodata/.data/.bss sizes of each firmware ELF
    run      Build and boot once on QEMU; prints RUN PASSED or RUN FAILED: <why>
    test     Host tests (`cargo test`) plus QEMU test boots (-smp 4, -smp 1, -m 3G)
    bench    Build and boot in bench mode (-smp 1, -icount); print BENCH results
    lint     cargo clippy -D warnings on the host crates and the firmware crates
    help     Print this text, or `cargo xtask help <COMMAND>`

OPTIONS:
    -h, --help    Print help (also after a command: `cargo xtask run --help`)

QEMU: qemu-system-aarch64 >= 8.2 is required (found on PATH or via --qemu).
If it is missing on Debian bookworm and we are root (or have passwordless
sudo), run/test/bench install it from bookworm-backports.

Exit status of run/test/bench: 0 = passed; for run, the QEMU exit status when
it is non-zero (1..=89 failed checks, 90+ firmware fatal error); 124 = QEMU
timed out; 1 = other failure; 2 = bad command line.
";

pub const BUILD_HELP: &str = "\
cargo xtask build: build the firmware and the QEMU flash package

USAGE:
    cargo xtask build

Runs `cargo build --profile firmware --target aarch64-unknown-none-softfloat
-p qemu-virt-el3 -p rmm-image -p ns-host` into <workspace>/target, converts each
ELF with llvm-objcopy (rustup component llvm-tools) and writes:
    target/images/qemu-virt-el3.bin   EL3 monitor (flat, linked at 0x0)
    target/images/rmm.bin             RMM (flat, linked at 0x4010_0000)
    target/images/ns-host.bin         NS test host (flat, linked at 0x6000_0000)
    target/images/qemu-virt-bios.bin  flash package for QEMU -bios
Then prints the image sizes and the package layout.

OPTIONS:
    -h, --help    Print this help
";

pub const SIZE_HELP: &str = "\
cargo xtask size: section sizes of each firmware ELF

USAGE:
    cargo xtask size

Builds the firmware crates (no-op when up to date), then prints a table of
the .text, .rodata, .data and .bss sizes (including .text.* etc.), other
allocated sections, and the flash/RAM totals of each ELF.

OPTIONS:
    -h, --help    Print this help
";

pub const LINT_HELP: &str = "\
cargo xtask lint: clippy with warnings denied, everywhere

USAGE:
    cargo xtask lint

Runs `cargo clippy --all-targets -- -D warnings` for the host crates (the
workspace default members), then `cargo clippy --profile firmware --target
aarch64-unknown-none-softfloat -p qemu-virt-el3 -p rmm-image -p ns-host --
-D warnings` for the firmware and its path dependencies (arm-rt, rmm,
core/*). Fails on the first warning.

OPTIONS:
    -h, --help    Print this help
";

pub const RUN_HELP: &str = "\
cargo xtask run: build and boot the firmware once on QEMU

USAGE:
    cargo xtask run [--smp N] [--gdb] [--timeout SECS] [--qemu PATH] [--bios PATH]

Streams QEMU's output live and ends with `RUN PASSED` or `RUN FAILED: <why>`.
Passes only if QEMU exits with 0 and a summary line `N passed, 0 failed`
with N > 0 was printed.

OPTIONS:
    --smp N           Number of CPUs (-smp), 1..=8 [default: 4]
    --gdb             Start QEMU halted with a GDB server on :1234 (-s -S) and
                      print how to attach; no timeout unless --timeout is given
    --timeout SECS    Kill QEMU after SECS seconds of wall clock and fail with
                      `QEMU timed out`; 0 = no limit [default: 120]
    --qemu PATH       Use this qemu-system-aarch64 instead of the one on PATH
                      (never auto-installed)
    --bios PATH       Boot this flash package instead of building one
    -h, --help        Print this help

Exit status: 0 passed; QEMU's status when non-zero (1..=89 failed checks,
90+ firmware fatal error); 124 timed out; 1 other failure.
";

pub const TEST_HELP: &str = "\
cargo xtask test: host tests and QEMU test boots

USAGE:
    cargo xtask test [--host-only | --qemu-only] [--timeout SECS] [--qemu PATH]
                     [--bios PATH]

Steps: (1) `cargo test` at the workspace root (the default members);
(2) build, boot with -smp 4 -m 1G, (3) -smp 1 -m 1G, (4) -smp 2 -m 3G (a
GPT with several L1 tables), each judged like `cargo xtask run`. Ends with `xtask: N passed, M failed` over the steps and
exits non-zero if any step failed or timed out.

OPTIONS:
    --host-only       Run only the host tests
    --qemu-only       Run only the QEMU boots
    --timeout SECS    Wall-clock limit per QEMU boot; 0 = no limit [default: 120]
    --qemu PATH       Use this qemu-system-aarch64 (never auto-installed)
    --bios PATH       Boot this flash package instead of building one
    -h, --help        Print this help
";

pub const BENCH_HELP: &str = "\
cargo xtask bench: boot in bench mode and report the BENCH lines

USAGE:
    cargo xtask bench [--iters N] [--check] [--timeout SECS] [--qemu PATH]
                      [--bios PATH]

Boots with -smp 1 and `-icount shift=0,sleep=off` (deterministic: one tick per
instruction) and run mode 1 (bench) in the loader word at 0x5FFFF000. Prints
every `BENCH <name> median=<N> min=<N> iters=<N>` line as a table and compares
the medians with the budgets rmi_version 700, granule_delegate 1500,
granule_undelegate 1500 (OK/OVER). Fails if QEMU fails or no BENCH line is seen.

OPTIONS:
    --iters N         Iterations per benchmark, written to the loader word at
                      0x5FFFF004 [default: firmware default, 101]
    --check           Make a median over its budget (OVER) an error
    --timeout SECS    Wall-clock limit for the boot; 0 = no limit [default: 120]
    --qemu PATH       Use this qemu-system-aarch64 (never auto-installed)
    --bios PATH       Boot this flash package instead of building one
    -h, --help        Print this help
";

/// The help text of `sub` (or the overview).
pub fn help_text(sub: Option<Sub>) -> &'static str {
    match sub {
        None => MAIN_HELP,
        Some(Sub::Build) => BUILD_HELP,
        Some(Sub::Size) => SIZE_HELP,
        Some(Sub::Run) => RUN_HELP,
        Some(Sub::Test) => TEST_HELP,
        Some(Sub::Bench) => BENCH_HELP,
        Some(Sub::Lint) => LINT_HELP,
    }
}

/// Splits `--opt=value` into (`--opt`, Some(value)).
fn split_eq(arg: &str) -> (&str, Option<&str>) {
    match arg.split_once('=') {
        Some((k, v)) if k.starts_with("--") => (k, Some(v)),
        _ => (arg, None),
    }
}

/// Walks the options of one subcommand.
struct Opts<'a> {
    args: std::slice::Iter<'a, String>,
}

impl<'a> Opts<'a> {
    /// The value of option `name`: inline (`--x=v`) or the next argument.
    fn value(&mut self, name: &str, inline: Option<&'a str>) -> Result<&'a str> {
        if let Some(v) = inline {
            return Ok(v);
        }
        match self.args.next() {
            Some(v) => Ok(v.as_str()),
            None => bail!("option {name} needs a value"),
        }
    }

    fn number<T: std::str::FromStr>(&mut self, name: &str, inline: Option<&'a str>) -> Result<T> {
        let v = self.value(name, inline)?;
        v.parse()
            .map_err(|_| format!("option {name}: `{v}` is not a valid number"))
    }
}

/// Parses the arguments after `cargo xtask`.
pub fn parse(args: &[String]) -> Result<Command> {
    let Some(first) = args.first() else {
        return Ok(Command::Help(None));
    };
    let sub = match first.as_str() {
        "-h" | "--help" => return Ok(Command::Help(None)),
        "help" => {
            return match args.get(1) {
                None => Ok(Command::Help(None)),
                Some(name) => match Sub::from_name(name) {
                    Some(s) => Ok(Command::Help(Some(s))),
                    None => bail!("unknown command `{name}`"),
                },
            };
        }
        name => match Sub::from_name(name) {
            Some(s) => s,
            None => bail!("unknown command `{name}`"),
        },
    };
    let rest = &args[1..];
    if rest.iter().any(|a| a == "-h" || a == "--help") {
        return Ok(Command::Help(Some(sub)));
    }
    let mut opts = Opts { args: rest.iter() };
    let mut boot = BootOpts::default();
    let mut run = RunOpts {
        smp: DEFAULT_SMP,
        gdb: false,
        boot: BootOpts::default(),
    };
    let mut test = TestOpts::default();
    let mut bench = BenchOpts::default();
    let boots = matches!(sub, Sub::Run | Sub::Test | Sub::Bench);

    while let Some(arg) = opts.args.next() {
        let (name, inline) = split_eq(arg);
        match (sub, name) {
            (_, "--timeout") if boots => boot.timeout = Some(opts.number(name, inline)?),
            (_, "--qemu") if boots => boot.qemu = Some(PathBuf::from(opts.value(name, inline)?)),
            (_, "--bios") if boots => boot.bios = Some(PathBuf::from(opts.value(name, inline)?)),
            (Sub::Run, "--smp") => {
                run.smp = opts.number(name, inline)?;
                if !(1..=8).contains(&run.smp) {
                    bail!("option --smp: {} is out of range 1..=8", run.smp);
                }
            }
            (Sub::Run, "--gdb") if inline.is_none() => run.gdb = true,
            (Sub::Test, "--host-only") if inline.is_none() => test.host_only = true,
            (Sub::Test, "--qemu-only") if inline.is_none() => test.qemu_only = true,
            (Sub::Bench, "--iters") => {
                let n: u32 = opts.number(name, inline)?;
                if n == 0 {
                    bail!("option --iters: must be at least 1");
                }
                bench.iters = Some(n);
            }
            (Sub::Bench, "--check") if inline.is_none() => bench.check = true,
            _ => bail!("unexpected argument `{arg}` for `{}`", first),
        }
    }
    Ok(match sub {
        Sub::Build => Command::Build,
        Sub::Size => Command::Size,
        Sub::Run => Command::Run(RunOpts { boot, ..run }),
        Sub::Test => {
            if test.host_only && test.qemu_only {
                bail!("--host-only and --qemu-only exclude each other");
            }
            Command::Test(TestOpts { boot, ..test })
        }
        Sub::Bench => Command::Bench(BenchOpts { boot, ..bench }),
        Sub::Lint => Command::Lint,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<Command> {
        let v: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        parse(&v)
    }

    #[test]
    fn empty_and_help() {
        assert_eq!(p(&[]).unwrap(), Command::Help(None));
        assert_eq!(p(&["--help"]).unwrap(), Command::Help(None));
        assert_eq!(p(&["help"]).unwrap(), Command::Help(None));
        assert_eq!(p(&["help", "run"]).unwrap(), Command::Help(Some(Sub::Run)));
        assert_eq!(
            p(&["bench", "-h"]).unwrap(),
            Command::Help(Some(Sub::Bench))
        );
        assert_eq!(
            p(&["run", "--smp", "x", "--help"]).unwrap(),
            Command::Help(Some(Sub::Run))
        );
        assert!(p(&["help", "nope"]).is_err());
        assert!(p(&["nope"]).is_err());
    }

    #[test]
    fn run_defaults_and_options() {
        let Command::Run(r) = p(&["run"]).unwrap() else {
            panic!()
        };
        assert_eq!(r.smp, 4);
        assert!(!r.gdb);
        assert_eq!(r.boot, BootOpts::default());
        let Command::Run(r) = p(&[
            "run",
            "--smp=2",
            "--gdb",
            "--timeout",
            "30",
            "--qemu",
            "/q",
            "--bios=/b",
        ])
        .unwrap() else {
            panic!()
        };
        assert_eq!(r.smp, 2);
        assert!(r.gdb);
        assert_eq!(r.boot.timeout, Some(30));
        assert_eq!(r.boot.qemu, Some(PathBuf::from("/q")));
        assert_eq!(r.boot.bios, Some(PathBuf::from("/b")));
    }

    #[test]
    fn run_errors() {
        assert!(p(&["run", "--smp"]).is_err());
        assert!(p(&["run", "--smp", "0"]).is_err());
        assert!(p(&["run", "--smp", "9"]).is_err());
        assert!(p(&["run", "--smp", "four"]).is_err());
        assert!(p(&["run", "--gdb=1"]).is_err());
        assert!(p(&["run", "--check"]).is_err());
        assert!(p(&["run", "extra"]).is_err());
        assert!(p(&["build", "--timeout", "3"]).is_err());
        assert!(p(&["size", "x"]).is_err());
    }

    #[test]
    fn test_and_bench() {
        assert_eq!(p(&["test"]).unwrap(), Command::Test(TestOpts::default()));
        let Command::Test(t) = p(&["test", "--qemu-only", "--timeout=5"]).unwrap() else {
            panic!()
        };
        assert!(t.qemu_only && !t.host_only);
        assert_eq!(t.boot.timeout, Some(5));
        assert!(p(&["test", "--host-only", "--qemu-only"]).is_err());
        assert!(p(&["test", "--smp", "1"]).is_err());

        assert_eq!(p(&["bench"]).unwrap(), Command::Bench(BenchOpts::default()));
        let Command::Bench(b) = p(&["bench", "--iters", "11", "--check"]).unwrap() else {
            panic!()
        };
        assert_eq!(b.iters, Some(11));
        assert!(b.check);
        assert!(p(&["bench", "--iters", "0"]).is_err());
        assert!(p(&["bench", "--iters", "-1"]).is_err());
        assert!(p(&["bench", "--gdb"]).is_err());
    }

    #[test]
    fn build_and_size() {
        assert_eq!(p(&["build"]).unwrap(), Command::Build);
        assert_eq!(p(&["size"]).unwrap(), Command::Size);
    }

    #[test]
    fn help_mentions_every_option() {
        for (sub, opts) in [
            (
                Sub::Run,
                &["--smp", "--gdb", "--timeout", "--qemu", "--bios", "--help"][..],
            ),
            (
                Sub::Test,
                &[
                    "--host-only",
                    "--qemu-only",
                    "--timeout",
                    "--qemu",
                    "--bios",
                ],
            ),
            (
                Sub::Bench,
                &["--iters", "--check", "--timeout", "--qemu", "--bios"],
            ),
            (Sub::Build, &["--help"]),
            (Sub::Size, &["--help"]),
        ] {
            for o in opts {
                assert!(help_text(Some(sub)).contains(o), "{sub:?} help lacks {o}");
            }
        }
        for c in ["build", "size", "run", "test", "bench", "help"] {
            assert!(MAIN_HELP.contains(c));
        }
    }
}
