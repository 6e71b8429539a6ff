//! Finding `qemu-system-aarch64` / `qemu-system-x86_64`, checking their
//! versions and, on Debian bookworm, installing both (qemu-system-arm and
//! qemu-system-x86) from bookworm-backports.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::cli::Arch;
use crate::{Result, bail};

/// Oldest QEMU we accept: FEAT_RME / `x-rme` for aarch64; the same project
/// baseline for x86_64 (only 10.0.2 is verified, qemu-platforms.md §1).
pub const MIN_VERSION: Version = Version(8, 2, 0);
pub const BACKPORTS_FILE: &str = "/etc/apt/sources.list.d/bookworm-backports.sources";
pub const BACKPORTS_SOURCES: &str = "\
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
";
pub const APT_PACKAGES: [&str; 2] = ["qemu-system-arm", "qemu-system-x86"];

/// A QEMU version `major.minor.micro`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version(pub u32, pub u32, pub u32);

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.0, self.1, self.2)
    }
}

/// Parses `qemu-system-aarch64 --version` output
/// (`QEMU emulator version 10.0.2 (Debian 1:10.0.2+ds-2...)`).
pub fn parse_version(output: &str) -> Option<Version> {
    let line = output.lines().find(|l| l.contains("version"))?;
    let rest = &line[line.find("version")? + "version".len()..];
    let token = rest.split_whitespace().next()?;
    let mut nums = token
        .split(['.', '-', '+', '~'])
        .map(|p| p.parse::<u32>().ok());
    let major = nums.next()??;
    let minor = nums.next().flatten().unwrap_or(0);
    let micro = nums.next().flatten().unwrap_or(0);
    Some(Version(major, minor, micro))
}

/// `name` on `path_var` (a `PATH`-style list), if it is an existing file.
pub fn find_in_path(name: &str, path_var: &std::ffi::OsStr) -> Option<PathBuf> {
    std::env::split_paths(path_var)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// Whether `/etc/os-release` text describes Debian 12 (bookworm).
pub fn is_bookworm(os_release: &str) -> bool {
    let field = |key: &str| {
        os_release.lines().find_map(|l| {
            l.strip_prefix(key)
                .and_then(|v| v.strip_prefix('='))
                .map(|v| v.trim().trim_matches('"').to_string())
        })
    };
    field("ID").as_deref() == Some("debian")
        && field("VERSION_CODENAME").as_deref() == Some("bookworm")
}

/// Whether some APT source already names the bookworm-backports suite.
pub fn sources_have_backports(texts: &[String]) -> bool {
    texts.iter().any(|t| {
        t.lines()
            .map(str::trim)
            .filter(|l| !l.starts_with('#'))
            .any(|l| l.contains("bookworm-backports"))
    })
}

/// The commands a user must run by hand to get a usable QEMU.
pub fn manual_instructions() -> String {
    format!(
        "On Debian 12 (bookworm), as root:\n\
         \x20   cat > {BACKPORTS_FILE} <<'EOF'\n{}EOF\n\
         \x20   apt-get update\n\
         \x20   apt-get install -y -t bookworm-backports {}\n\
         (bookworm main ships QEMU 7.2, which lacks x-rme; a plain install picks it.)\n\
         Elsewhere: install QEMU >= {MIN_VERSION} with qemu-system-aarch64 and \
         qemu-system-x86_64, or pass --qemu PATH.",
        BACKPORTS_SOURCES,
        APT_PACKAGES.join(" ")
    )
}

/// Runs `qemu --version` and parses it.
pub fn qemu_version(qemu: &Path) -> Result<Version> {
    let out = Command::new(qemu)
        .arg("--version")
        .output()
        .map_err(|e| format!("cannot run {} --version: {e}", qemu.display()))?;
    let text = String::from_utf8_lossy(&out.stdout);
    match parse_version(&text) {
        Some(v) if out.status.success() => Ok(v),
        _ => bail!(
            "cannot parse the version of {} (output: {:?})",
            qemu.display(),
            text.trim()
        ),
    }
}

/// Rejects QEMU older than [`MIN_VERSION`].
pub fn check_version(qemu: &Path, v: Version, arch: Arch) -> Result<()> {
    let need = match arch {
        Arch::Aarch64 => "FEAT_RME (-cpu max,x-rme=on) needs",
        Arch::X86_64 => "the project baseline is",
    };
    if v < MIN_VERSION {
        bail!(
            "{} is QEMU {v}, but {need} QEMU >= {MIN_VERSION}.\n{}",
            qemu.display(),
            manual_instructions()
        );
    }
    Ok(())
}

pub(crate) fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

pub(crate) fn passwordless_sudo() -> bool {
    Command::new("sudo")
        .args(["-n", "true"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs `argv` (prefixed with `sudo -n` unless root), echoing it first.
pub(crate) fn run_admin(root: bool, argv: &[&str]) -> Result<()> {
    let mut full: Vec<&str> = if root { vec![] } else { vec!["sudo", "-n"] };
    full.extend_from_slice(argv);
    println!("xtask: + {}", full.join(" "));
    let status = Command::new(full[0])
        .args(&full[1..])
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status()
        .map_err(|e| format!("cannot run {}: {e}", full[0]))?;
    if !status.success() {
        bail!("`{}` failed ({status})", full.join(" "));
    }
    Ok(())
}

/// Installs QEMU from bookworm-backports (root or passwordless sudo).
fn install_backports(root: bool) -> Result<()> {
    let mut texts: Vec<String> = std::fs::read_to_string("/etc/apt/sources.list")
        .into_iter()
        .collect();
    if let Ok(dir) = std::fs::read_dir("/etc/apt/sources.list.d") {
        for entry in dir.flatten() {
            texts.extend(std::fs::read_to_string(entry.path()).ok());
        }
    }
    if sources_have_backports(&texts) {
        println!("xtask: bookworm-backports is already in the APT sources");
    } else {
        println!("xtask: adding the bookworm-backports suite as {BACKPORTS_FILE}:");
        print!("{BACKPORTS_SOURCES}");
        if root {
            std::fs::write(BACKPORTS_FILE, BACKPORTS_SOURCES)
                .map_err(|e| format!("cannot write {BACKPORTS_FILE}: {e}"))?;
        } else {
            let tmp = std::env::temp_dir().join("xtask-bookworm-backports.sources");
            std::fs::write(&tmp, BACKPORTS_SOURCES)
                .map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
            let tmp = tmp.display().to_string();
            run_admin(false, &["install", "-m", "0644", &tmp, BACKPORTS_FILE])?;
        }
    }
    run_admin(root, &["apt-get", "update"])?;
    let mut install = vec!["apt-get", "install", "-y", "-t", "bookworm-backports"];
    install.extend_from_slice(&APT_PACKAGES);
    run_admin(root, &install)
}

/// Finds a usable QEMU for `arch` (`qemu-system-aarch64` or
/// `qemu-system-x86_64`), installing it when that is possible. An explicit
/// `--qemu PATH` is only checked, never installed.
pub fn ensure_qemu(explicit: Option<&Path>, arch: Arch) -> Result<PathBuf> {
    let qemu_bin = arch.qemu_bin();
    if let Some(q) = explicit {
        let v = qemu_version(q)?;
        check_version(q, v, arch)?;
        println!("xtask: using {} (QEMU {v})", q.display());
        return Ok(q.to_path_buf());
    }
    let path_var = std::env::var_os("PATH").unwrap_or_default();
    let qemu = match find_in_path(qemu_bin, &path_var) {
        Some(q) => q,
        None => {
            let os = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
            let root = is_root();
            if !is_bookworm(&os) || !(root || passwordless_sudo()) {
                bail!(
                    "{qemu_bin} not found on PATH, and it can only be installed automatically \
                     on Debian bookworm as root or with passwordless sudo.\n{}",
                    manual_instructions()
                );
            }
            println!("xtask: {qemu_bin} not found; installing it from bookworm-backports");
            install_backports(root)?;
            let path_var = std::env::var_os("PATH").unwrap_or_default();
            match find_in_path(qemu_bin, &path_var).or_else(|| {
                let p = Path::new("/usr/bin").join(qemu_bin);
                p.is_file().then_some(p)
            }) {
                Some(q) => q,
                None => bail!(
                    "{qemu_bin} still not found after installing {}",
                    APT_PACKAGES.join(" ")
                ),
            }
        }
    };
    let v = qemu_version(&qemu)?;
    check_version(&qemu, v, arch)?;
    println!("xtask: using {} (QEMU {v})", qemu.display());
    Ok(qemu)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_versions() {
        let cases = [
            (
                "QEMU emulator version 10.0.2 (Debian 1:10.0.2+ds-2+deb13u1~bpo12+1)\n\
                 Copyright (c) 2003-2025 Fabrice Bellard and the QEMU Project developers\n",
                Version(10, 0, 2),
            ),
            (
                "QEMU emulator version 7.2.15 (Debian 1:7.2+dfsg-7+deb12u13)",
                Version(7, 2, 15),
            ),
            ("QEMU emulator version 8.2.0 (v8.2.0)", Version(8, 2, 0)),
            (
                "QEMU emulator version 9.0.50 (v9.0.0-1234-gabc)",
                Version(9, 0, 50),
            ),
            ("QEMU emulator version 8.1.0-rc2", Version(8, 1, 0)),
            ("QEMU emulator version 6.2", Version(6, 2, 0)),
        ];
        for (text, want) in cases {
            assert_eq!(parse_version(text), Some(want), "{text}");
        }
        assert_eq!(parse_version(""), None);
        assert_eq!(parse_version("qemu-system-aarch64: garbage"), None);
        assert_eq!(parse_version("QEMU emulator version x.y"), None);
    }

    #[test]
    fn version_gate() {
        let q = Path::new("/usr/bin/qemu-system-aarch64");
        let a = Arch::Aarch64;
        assert!(check_version(q, Version(10, 0, 2), a).is_ok());
        assert!(check_version(q, Version(8, 2, 0), a).is_ok());
        assert!(check_version(q, Version(9, 0, 0), a).is_ok());
        let err = check_version(q, Version(8, 1, 5), a).unwrap_err();
        assert!(
            err.contains("QEMU 8.1.5") && err.contains(">= 8.2.0"),
            "{err}"
        );
        let x = Path::new("/usr/bin/qemu-system-x86_64");
        assert!(check_version(x, Version(10, 0, 2), Arch::X86_64).is_ok());
        let err = check_version(x, Version(7, 2, 15), Arch::X86_64).unwrap_err();
        assert!(
            err.contains("qemu-system-x86_64 is QEMU 7.2.15") && !err.contains("RME"),
            "{err}"
        );
        let err = check_version(q, Version(7, 2, 15), a).unwrap_err();
        assert!(
            err.contains("7.2.15") && err.contains("bookworm-backports"),
            "{err}"
        );
        assert!(Version(10, 0, 0) > Version(8, 2, 0));
        assert_eq!(Version(8, 2, 1).to_string(), "8.2.1");
    }

    #[test]
    fn detects_bookworm() {
        let os = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\n\
                  VERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\nID=debian\n";
        assert!(is_bookworm(os));
        assert!(!is_bookworm(&os.replace("bookworm\n", "trixie\n")));
        assert!(!is_bookworm("ID=ubuntu\nVERSION_CODENAME=bookworm\n"));
        assert!(!is_bookworm("ID_LIKE=debian\nVERSION_CODENAME=bookworm\n"));
        assert!(!is_bookworm(""));
    }

    #[test]
    fn detects_backports_sources() {
        assert!(sources_have_backports(&[BACKPORTS_SOURCES.to_string()]));
        assert!(sources_have_backports(&[
            "deb http://deb.debian.org/debian bookworm-backports main".into()
        ]));
        assert!(!sources_have_backports(&[
            "# deb http://deb.debian.org/debian bookworm-backports main\n\
             deb http://deb.debian.org/debian bookworm main"
                .into()
        ]));
        assert!(!sources_have_backports(&[]));
    }

    #[test]
    fn instructions_are_complete() {
        let s = manual_instructions();
        for needle in [
            BACKPORTS_FILE,
            "Types: deb",
            "URIs: http://deb.debian.org/debian",
            "Suites: bookworm-backports",
            "Components: main",
            "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg",
            "apt-get update",
            "apt-get install -y -t bookworm-backports qemu-system-arm qemu-system-x86",
        ] {
            assert!(s.contains(needle), "missing {needle}");
        }
    }

    #[test]
    fn finds_in_path() {
        let dir = std::env::temp_dir().join(format!("xtask-path-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let exe = dir.join("fake-qemu");
        std::fs::write(&exe, "").unwrap();
        let var = std::env::join_paths([Path::new("/nonexistent"), &dir]).unwrap();
        assert_eq!(find_in_path("fake-qemu", &var), Some(exe));
        assert_eq!(find_in_path("no-such-binary", &var), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
