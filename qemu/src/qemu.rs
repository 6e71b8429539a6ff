//! QEMU command lines and running QEMU under a wall-clock limit while
//! streaming and capturing its output.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::Result;
use crate::cli::Arch;

/// DRAM word the EL3 monitor reads for the run mode.
pub const MODE_ADDR: u64 = 0x5FFF_F000;
/// DRAM word the NS host reads for the bench iteration count (0 = default).
pub const ITERS_ADDR: u64 = 0x5FFF_F004;
/// Guest RAM of every boot unless a test asks for more.
pub const DEFAULT_MEM: &str = "1G";

/// What the firmware does after boot (loader word at [`MODE_ADDR`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Run the checks (default; memory reads 0 without a loader).
    Test = 0,
    /// Run the benchmarks.
    Bench = 1,
}

/// One boot configuration.
#[derive(Debug, Clone)]
pub struct Boot<'a> {
    pub arch: Arch,
    pub bios: &'a Path,
    pub smp: u32,
    /// Guest RAM (`-m`), e.g. "1G".
    pub mem: &'a str,
    pub mode: Mode,
    pub gdb: bool,
    /// Bench iterations (loader word at [`ITERS_ADDR`]).
    pub iters: Option<u32>,
    /// Add `-icount shift=0,sleep=off` (always on in bench mode).
    pub icount: bool,
    /// The realm guest to load for the NS host (aarch64 only).
    pub guest: Option<&'a crate::guest::GuestImage>,
    /// The development device root secret handed to the x86 shim as the
    /// fw_cfg file [`X86_ROOT_SECRET_FILE`] (aarch64 packs it into flash).
    pub root_secret: Option<&'a Path>,
}

/// The isa-debug-exit device the x86 shim ends runs with
/// (qemu-platforms.md §3.4).
pub const X86_DEBUG_EXIT: &str = "isa-debug-exit,iobase=0xf4,iosize=0x04";

/// Arguments for the QEMU of `b.arch`.
pub fn qemu_args(b: &Boot<'_>) -> Vec<String> {
    match b.arch {
        Arch::Aarch64 => aarch64_args(b),
        Arch::X86_64 => x86_args(b),
    }
}

/// fw_cfg file the x86 shim reads for its run mode (`bench`; absent = tests).
pub const X86_MODE_FILE: &str = "opt/cmon/mode";
/// fw_cfg file the x86 shim reads for the bench iteration count (decimal).
pub const X86_ITERS_FILE: &str = "opt/cmon/iters";
/// fw_cfg file with the device root secret for the x86 shim (only the
/// shim at CPL 0 can read fw_cfg; its ring-3 VMM and TDs cannot).
pub const X86_ROOT_SECRET_FILE: &str = "opt/cmon/root-secret";

/// Arguments for `qemu-system-x86_64` (q35, `-bios`; the guest RAM is
/// QEMU's default and `b.mem` is aarch64-only). The run mode and the
/// iteration count reach the shim as fw_cfg strings ([`X86_MODE_FILE`],
/// [`X86_ITERS_FILE`]) rather than loader words.
fn x86_args(b: &Boot<'_>) -> Vec<String> {
    let mut a: Vec<String> = ["-machine", "q35", "-nographic", "-bios"]
        .map(String::from)
        .to_vec();
    a.push(b.bios.display().to_string());
    a.extend(["-device", X86_DEBUG_EXIT].map(String::from));
    a.push("-smp".to_string());
    a.push(b.smp.to_string());
    let fw_cfg =
        |name: &str, value: String| ["-fw_cfg".to_string(), format!("name={name},string={value}")];
    if b.mode == Mode::Bench {
        a.extend(fw_cfg(X86_MODE_FILE, "bench".into()));
    }
    if let Some(n) = b.iters {
        a.extend(fw_cfg(X86_ITERS_FILE, n.to_string()));
    }
    if let Some(p) = b.root_secret {
        a.push("-fw_cfg".to_string());
        a.push(format!("name={X86_ROOT_SECRET_FILE},file={}", p.display()));
    }
    if b.icount || b.mode == Mode::Bench {
        a.extend(["-icount", "shift=0,sleep=off"].map(String::from));
    }
    if b.gdb {
        a.extend(["-s", "-S"].map(String::from));
    }
    a
}

/// Arguments for `qemu-system-aarch64`.
fn aarch64_args(b: &Boot<'_>) -> Vec<String> {
    let mut a: Vec<String> = [
        "-M",
        "virt,secure=on,virtualization=on,gic-version=3",
        "-cpu",
        "max,x-rme=on,pauth-impdef=on",
        "-m",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    a.push(b.mem.to_string());
    a.push("-smp".to_string());
    a.push(b.smp.to_string());
    a.extend(["-nographic", "-semihosting", "-bios"].map(String::from));
    a.push(b.bios.display().to_string());
    let loader = |addr: u64, value: u64| {
        [
            "-device".to_string(),
            format!("loader,addr={addr:#X},data={value},data-len=4"),
        ]
    };
    if b.mode != Mode::Test {
        a.extend(loader(MODE_ADDR, b.mode as u64));
    }
    if let Some(n) = b.iters {
        a.extend(loader(ITERS_ADDR, u64::from(n)));
    }
    if let Some(g) = b.guest {
        a.extend(g.loader_args(b.smp));
    }
    if b.mode == Mode::Bench || b.icount {
        a.extend(["-icount", "shift=0,sleep=off"].map(String::from));
    }
    if b.gdb {
        a.extend(["-s", "-S"].map(String::from));
    }
    a
}

/// Quotes `s` for a POSIX shell when needed (for printing commands).
pub fn shell_quote(s: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "-_./:=,+@%".contains(c);
    if !s.is_empty() && s.chars().all(safe) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// How a QEMU run ended.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// Exit status; `None` if killed by a signal (or by us on timeout).
    pub code: Option<i32>,
    pub timed_out: bool,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Outcome {
    /// Both output streams, stdout first.
    pub fn all_output(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

/// Where [`pump`] echoes what it reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Echo {
    Off,
    Stdout,
    Stderr,
}

/// Copies `src` to our stdout/stderr (per `echo`) as it arrives, and
/// returns everything read.
fn pump(mut src: impl Read, echo: Echo) -> Vec<u8> {
    let mut all = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match src.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                all.extend_from_slice(&buf[..n]);
                let chunk = &buf[..n];
                let _ = match echo {
                    Echo::Off => Ok(()),
                    Echo::Stdout => {
                        let mut w = std::io::stdout().lock();
                        w.write_all(chunk).and_then(|()| w.flush())
                    }
                    Echo::Stderr => {
                        let mut w = std::io::stderr().lock();
                        w.write_all(chunk).and_then(|()| w.flush())
                    }
                };
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    all
}

/// Runs `qemu args`, killing it after `timeout`. With `echo`, its stdout and
/// stderr are streamed live to ours; they are captured either way. With
/// `interactive`, stdin is inherited (for `--gdb` and the QEMU monitor);
/// otherwise it is /dev/null so QEMU never touches the terminal.
pub fn run(
    qemu: &Path,
    args: &[String],
    timeout: Option<Duration>,
    echo: bool,
    interactive: bool,
) -> Result<Outcome> {
    let start = Instant::now();
    let mut child = Command::new(qemu)
        .args(args)
        .stdin(if interactive {
            Stdio::inherit()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", qemu.display()))?;
    let (out_echo, err_echo) = if echo {
        (Echo::Stdout, Echo::Stderr)
    } else {
        (Echo::Off, Echo::Off)
    };
    let stdout = child.stdout.take().expect("piped");
    let stderr = child.stderr.take().expect("piped");
    let t_out = thread::spawn(move || pump(stdout, out_echo));
    let t_err = thread::spawn(move || pump(stderr, err_echo));

    let mut timed_out = false;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) => {}
            Err(e) => return Err(format!("waiting for QEMU: {e}")),
        }
        if timeout.is_some_and(|t| start.elapsed() >= t) {
            timed_out = true;
            let _ = child.kill();
            break child.wait().map_err(|e| format!("waiting for QEMU: {e}"))?;
        }
        thread::sleep(Duration::from_millis(20));
    };
    let stdout = t_out.join().unwrap_or_default();
    let stderr = t_err.join().unwrap_or_default();
    Ok(Outcome {
        code: status.code(),
        timed_out,
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
        elapsed: start.elapsed(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn boot(mode: Mode, smp: u32) -> Boot<'static> {
        Boot {
            arch: Arch::Aarch64,
            bios: Path::new("target/images/qemu-virt-bios.bin"),
            smp,
            mem: DEFAULT_MEM,
            mode,
            gdb: false,
            iters: None,
            icount: false,
            guest: None,
            root_secret: None,
        }
    }

    #[test]
    fn x86_command_line() {
        let mut b = boot(Mode::Test, 2);
        b.arch = Arch::X86_64;
        b.bios = Path::new("target/images/q35-tdx-shim.bin");
        assert_eq!(
            qemu_args(&b).join(" "),
            "-machine q35 -nographic -bios target/images/q35-tdx-shim.bin \
             -device isa-debug-exit,iobase=0xf4,iosize=0x04 -smp 2"
        );
        b.icount = true;
        b.gdb = true;
        assert!(
            qemu_args(&b)
                .join(" ")
                .ends_with("-smp 2 -icount shift=0,sleep=off -s -S")
        );
    }

    #[test]
    fn x86_bench_command_line() {
        let mut b = boot(Mode::Bench, 1);
        b.arch = Arch::X86_64;
        b.bios = Path::new("target/images/q35-tdx-shim.bin");
        assert_eq!(
            qemu_args(&b).join(" "),
            "-machine q35 -nographic -bios target/images/q35-tdx-shim.bin \
             -device isa-debug-exit,iobase=0xf4,iosize=0x04 -smp 1 \
             -fw_cfg name=opt/cmon/mode,string=bench -icount shift=0,sleep=off"
        );
        b.iters = Some(11);
        let a = qemu_args(&b).join(" ");
        assert!(
            a.contains(
                "-fw_cfg name=opt/cmon/mode,string=bench \
                 -fw_cfg name=opt/cmon/iters,string=11 -icount"
            ),
            "{a}"
        );
        assert!(!a.contains("loader"));
    }

    #[test]
    fn icount_option_on_aarch64() {
        let mut b = boot(Mode::Test, 4);
        b.icount = true;
        assert!(
            qemu_args(&b)
                .join(" ")
                .ends_with("-icount shift=0,sleep=off")
        );
    }

    #[test]
    fn test_mode_command_line() {
        let a = qemu_args(&boot(Mode::Test, 4)).join(" ");
        assert_eq!(
            a,
            "-M virt,secure=on,virtualization=on,gic-version=3 \
             -cpu max,x-rme=on,pauth-impdef=on -m 1G -smp 4 -nographic -semihosting \
             -bios target/images/qemu-virt-bios.bin"
        );
    }

    #[test]
    fn bench_mode_command_line() {
        let mut b = boot(Mode::Bench, 1);
        let a = qemu_args(&b).join(" ");
        assert!(a.contains("-smp 1 "));
        assert!(a.ends_with(
            "-device loader,addr=0x5FFFF000,data=1,data-len=4 -icount shift=0,sleep=off"
        ));
        b.iters = Some(11);
        let a = qemu_args(&b).join(" ");
        assert!(a.contains(
            "-device loader,addr=0x5FFFF000,data=1,data-len=4 \
             -device loader,addr=0x5FFFF004,data=11,data-len=4"
        ));
    }

    #[test]
    fn gdb_adds_stub() {
        let mut b = boot(Mode::Test, 2);
        b.gdb = true;
        let a = qemu_args(&b);
        assert_eq!(&a[a.len() - 2..], ["-s", "-S"]);
        assert!(!a.iter().any(|x| x.contains("loader")));
    }

    #[test]
    fn quoting() {
        assert_eq!(shell_quote("-smp"), "-smp");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }

    #[test]
    fn run_captures_status_and_output() {
        let sh = Path::new("/bin/sh");
        if !sh.exists() {
            return;
        }
        let args = ["-c", "echo out; echo err >&2; exit 7"].map(String::from);
        let o = run(sh, &args, Some(Duration::from_secs(20)), false, false).unwrap();
        assert_eq!(o.code, Some(7));
        assert!(!o.timed_out);
        assert_eq!(o.stdout, "out\n");
        assert_eq!(o.stderr, "err\n");
    }

    #[test]
    fn run_kills_on_timeout() {
        let sh = Path::new("/bin/sh");
        if !sh.exists() {
            return;
        }
        let args = ["-c", "echo started; exec sleep 30"].map(String::from);
        let o = run(sh, &args, Some(Duration::from_millis(300)), false, false).unwrap();
        assert!(o.timed_out);
        assert_eq!(o.code, None);
        assert!(o.stdout.contains("started"));
        assert!(o.elapsed < Duration::from_secs(10));
    }
}
