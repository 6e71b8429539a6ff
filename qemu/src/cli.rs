//! Hand-written argument parser and help texts.

use std::path::PathBuf;

pub use crate::arch::Arch;
pub use crate::cli_attest::{RimOpts, VerifyTokenOpts};
pub use crate::help::*;
pub use crate::td_attest::MrtdOpts;
use crate::{Result, bail};

/// Default wall-clock limit for one QEMU boot.
pub const DEFAULT_TIMEOUT_SECS: u64 = 120;
/// Default `-smp` for `run` on aarch64.
pub const DEFAULT_SMP: u32 = 4;
/// Default `-smp` for `run --arch x86_64`.
pub const DEFAULT_SMP_X86: u32 = 2;

/// A subcommand name (for `--help`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sub {
    Build,
    Size,
    Run,
    Test,
    Bench,
    Lint,
    VerifyToken,
    Rim,
    Mrtd,
}

impl Sub {
    /// The command name as typed.
    pub fn name(self) -> &'static str {
        match self {
            Sub::Build => "build",
            Sub::Size => "size",
            Sub::Run => "run",
            Sub::Test => "test",
            Sub::Bench => "bench",
            Sub::Lint => "lint",
            Sub::VerifyToken => "verify-token",
            Sub::Rim => "rim",
            Sub::Mrtd => "mrtd",
        }
    }

    fn from_name(name: &str) -> Option<Sub> {
        Some(match name {
            "build" => Sub::Build,
            "size" => Sub::Size,
            "run" => Sub::Run,
            "test" => Sub::Test,
            "bench" => Sub::Bench,
            "lint" => Sub::Lint,
            "verify-token" => Sub::VerifyToken,
            "rim" => Sub::Rim,
            "mrtd" => Sub::Mrtd,
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
    pub arch: Arch,
    pub smp: u32,
    pub gdb: bool,
    /// `--icount`: add `-icount shift=0,sleep=off`.
    pub icount: bool,
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
    /// `--arch`: aarch64 (the RMI benchmarks) or x86_64 (the TDX shim's).
    pub arch: Arch,
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
    VerifyToken(VerifyTokenOpts),
    Rim(RimOpts),
    Mrtd(MrtdOpts),
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

/// The value of `--arch`.
fn arch_value(v: &str) -> Result<Arch> {
    match Arch::from_name(v) {
        Some(a) => Ok(a),
        None => bail!("option --arch: `{v}` is not aarch64 or x86_64"),
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
    if matches!(sub, Sub::VerifyToken | Sub::Rim | Sub::Mrtd) {
        return crate::cli_attest::parse(sub, rest);
    }
    let mut opts = Opts { args: rest.iter() };
    let mut boot = BootOpts::default();
    let mut run = RunOpts {
        arch: Arch::Aarch64,
        smp: 0, // 0 = the architecture's default, resolved below
        gdb: false,
        icount: false,
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
            (Sub::Run, "--icount") if inline.is_none() => run.icount = true,
            (Sub::Run, "--arch") => run.arch = arch_value(opts.value(name, inline)?)?,
            (Sub::Bench, "--arch") => bench.arch = arch_value(opts.value(name, inline)?)?,
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
        Sub::Run => {
            if run.smp == 0 {
                run.smp = run.arch.default_smp();
            }
            Command::Run(RunOpts { boot, ..run })
        }
        Sub::Test => {
            if test.host_only && test.qemu_only {
                bail!("--host-only and --qemu-only exclude each other");
            }
            Command::Test(TestOpts { boot, ..test })
        }
        Sub::Bench => Command::Bench(BenchOpts { boot, ..bench }),
        Sub::Lint => Command::Lint,
        // Returned early above.
        Sub::VerifyToken | Sub::Rim | Sub::Mrtd => {
            bail!("internal: {} parsed twice", sub.name())
        }
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
        assert_eq!(r.arch, Arch::Aarch64);
        assert!(!r.gdb && !r.icount);
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
    fn run_arch() {
        let Command::Run(r) = p(&["run", "--arch", "x86_64"]).unwrap() else {
            panic!()
        };
        assert_eq!((r.arch, r.smp, r.icount), (Arch::X86_64, 2, false));
        let Command::Run(r) = p(&["run", "--arch=x86_64", "--smp", "4", "--icount"]).unwrap()
        else {
            panic!()
        };
        assert_eq!((r.arch, r.smp, r.icount), (Arch::X86_64, 4, true));
        let Command::Run(r) = p(&["run", "--arch", "aarch64"]).unwrap() else {
            panic!()
        };
        assert_eq!((r.arch, r.smp), (Arch::Aarch64, 4));
        assert!(p(&["run", "--arch"]).is_err());
        assert!(p(&["run", "--arch", "riscv64"]).is_err());
        assert!(p(&["run", "--icount=1"]).is_err());
        assert!(p(&["test", "--arch", "x86_64"]).is_err());
        assert_eq!(Arch::X86_64.qemu_bin(), "qemu-system-x86_64");
        assert_eq!(Arch::from_name("aarch64"), Some(Arch::Aarch64));
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
        assert_eq!(b.arch, Arch::Aarch64);
        let Command::Bench(b) = p(&["bench", "--arch", "x86_64", "--iters=5"]).unwrap() else {
            panic!()
        };
        assert_eq!((b.arch, b.iters, b.check), (Arch::X86_64, Some(5), false));
        let Command::Bench(b) = p(&["bench", "--arch=aarch64"]).unwrap() else {
            panic!()
        };
        assert_eq!(b.arch, Arch::Aarch64);
        assert!(p(&["bench", "--arch", "riscv64"]).is_err());
        assert!(p(&["bench", "--arch"]).is_err());
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
                &[
                    "--arch",
                    "aarch64",
                    "x86_64",
                    "--smp",
                    "--gdb",
                    "--icount",
                    "--timeout",
                    "--qemu",
                    "--bios",
                    "--help",
                    "q35-tdx-shim.bin",
                    "isa-debug-exit",
                    "CCA-TOKEN-HEX",
                    "cca-token.cbor",
                ][..],
            ),
            (
                Sub::Test,
                &[
                    "--host-only",
                    "--qemu-only",
                    "--timeout",
                    "--qemu",
                    "--bios",
                    "verify_cca_token.py",
                    "target/pyenv",
                ],
            ),
            (
                Sub::Bench,
                &[
                    "--arch",
                    "x86_64",
                    "--iters",
                    "--check",
                    "--timeout",
                    "--qemu",
                    "--bios",
                    "opt/cmon/mode",
                    "opt/cmon/iters",
                    "q35-tdx-shim.bin",
                ],
            ),
            (Sub::Build, &["--help"]),
            (Sub::Size, &["--help"]),
            (Sub::VerifyToken, &["--key", "JWK", "NOT"]),
            (
                Sub::Rim,
                &["--recs", "--hash", "sha512", "--ipa", "--ram-top", "--s2sz"],
            ),
            (Sub::Mrtd, &["--gpa", "--add", "0xFFFFF000"]),
        ] {
            for o in opts {
                assert!(help_text(Some(sub)).contains(o), "{sub:?} help lacks {o}");
            }
        }
        for c in [
            "build",
            "size",
            "run",
            "test",
            "bench",
            "help",
            "verify-token",
            "rim",
            "mrtd",
        ] {
            assert!(MAIN_HELP.contains(c));
        }
    }
}
