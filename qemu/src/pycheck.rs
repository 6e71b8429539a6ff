//! The independent token check: tests/attestation/verify_cca_token.py, our
//! own script over PyPI's `pycose`, `cbor2` and `cryptography`
//! (cca-attestation.md §6), run from a virtual environment at target/pyenv.
//!
//! A second implementation catches what a self-consistent encoder/decoder
//! pair cannot: both of ours could share a misreading of COSE or CBOR.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::token::{Expected, hex};
use crate::{Paths, Result, bail, provision};

/// Pinned requirements: pycose 1.1.0 as in the spec sheet §6; cryptography
/// at the version pip resolved for Python 3.11 when this was written. cbor2
/// stays on the 5.x line: 6.x (6.3.0 tried) decodes CBOR arrays as tuples,
/// and pycose 1.1.0's `CoseMessage.decode` then rejects every message
/// ("Bytes cannot be decoded as COSE message").
pub const REQUIREMENTS: [&str; 3] = ["pycose==1.1.0", "cbor2==5.9.0", "cryptography==50.0.2"];

/// The script, relative to the workspace root.
pub const SCRIPT: &str = "tests/attestation/verify_cca_token.py";

/// File in the venv recording what was installed; a venv whose marker
/// differs from [`marker_text`] is rebuilt.
const MARKER: &str = "xtask-requirements.txt";

/// Debian package that provides `ensurepip` for the system python3.
const VENV_PACKAGE: &str = "python3-venv";

pub fn marker_text() -> String {
    REQUIREMENTS.join("\n") + "\n"
}

/// The venv's interpreter.
fn venv_python(venv: &Path) -> PathBuf {
    venv.join("bin").join("python")
}

/// Whether `venv` holds a complete install of [`REQUIREMENTS`].
pub fn venv_is_current(venv: &Path) -> bool {
    venv_python(venv).is_file()
        && std::fs::read_to_string(venv.join(MARKER)).is_ok_and(|m| m == marker_text())
}

/// `python3 -m venv --clear DIR`; returns stderr on failure.
fn make_venv(venv: &Path) -> std::result::Result<(), String> {
    println!("xtask: + python3 -m venv --clear {}", venv.display());
    let out = Command::new("python3")
        .args(["-m", "venv", "--clear"])
        .arg(venv)
        .output()
        .map_err(|e| format!("cannot run python3: {e}"))?;
    if out.status.success() {
        return Ok(());
    }
    Err(format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    ))
}

/// What to do when `python3 -m venv` fails.
pub fn venv_instructions() -> String {
    format!(
        "create it by hand: install python3 with venv support (Debian: \
         `apt-get install {VENV_PACKAGE}`), then\n\
         \x20   python3 -m venv target/pyenv && target/pyenv/bin/pip install {}",
        REQUIREMENTS.join(" ")
    )
}

/// Whether a `python3 -m venv` failure is the missing-ensurepip case of
/// Debian's split python3 (the fix is the `python3-venv` package).
pub fn missing_ensurepip(stderr: &str) -> bool {
    stderr.contains("ensurepip") || stderr.contains(VENV_PACKAGE)
}

/// Create (or reuse) target/pyenv with [`REQUIREMENTS`]; returns its python.
pub fn ensure_venv(paths: &Paths) -> Result<PathBuf> {
    let venv = paths.pyenv();
    if venv_is_current(&venv) {
        return Ok(venv_python(&venv));
    }
    if let Err(why) = make_venv(&venv) {
        if !missing_ensurepip(&why) {
            bail!("python3 -m venv failed:\n{why}\n{}", venv_instructions());
        }
        let root = provision::is_root();
        let apt = Path::new("/usr/bin/apt-get").is_file();
        if !apt || !(root || provision::passwordless_sudo()) {
            bail!(
                "python3 -m venv failed: ensurepip is missing, and {VENV_PACKAGE} can only be \
                 installed automatically with apt-get as root or with passwordless sudo.\n{}",
                venv_instructions()
            );
        }
        println!("xtask: python3 lacks ensurepip; installing {VENV_PACKAGE}");
        provision::run_admin(root, &["apt-get", "update"])?;
        provision::run_admin(root, &["apt-get", "install", "-y", VENV_PACKAGE])?;
        make_venv(&venv).map_err(|why| {
            format!("python3 -m venv failed after installing {VENV_PACKAGE}:\n{why}")
        })?;
    }
    let python = venv_python(&venv);
    let mut pip = Command::new(&python);
    pip.args([
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
    ])
    .args(REQUIREMENTS);
    println!(
        "xtask: + {} -m pip install {}",
        python.display(),
        REQUIREMENTS.join(" ")
    );
    let status = pip
        .status()
        .map_err(|e| format!("cannot run {}: {e}", python.display()))?;
    if !status.success() {
        bail!(
            "pip install failed ({status}); PyPI must be reachable.\n{}",
            venv_instructions()
        );
    }
    crate::build::write(&venv.join(MARKER), marker_text().as_bytes())?;
    Ok(python)
}

/// Arguments of the script for `token`, `jwk` and the reference values.
pub fn script_args(script: &Path, token: &Path, jwk: &Path, expected: &Expected) -> Vec<String> {
    let mut a = vec![
        script.display().to_string(),
        token.display().to_string(),
        "--jwk".into(),
        jwk.display().to_string(),
    ];
    if let Some(rim) = &expected.rim {
        a.push("--rim".into());
        a.push(hex(rim));
    }
    if let Some(rems) = &expected.rems {
        for (i, rem) in rems.iter().enumerate() {
            a.push(format!("--rem{}", i + 1));
            a.push(hex(rem));
        }
    }
    a
}

/// Run the script with `python` on `token`; its output is shown, and a
/// non-zero exit status is an error.
pub fn run_check(
    paths: &Paths,
    python: &Path,
    token: &Path,
    jwk: &Path,
    expected: &Expected,
) -> Result<()> {
    let args = script_args(&paths.root.join(SCRIPT), token, jwk, expected);
    println!("xtask: + {} {}", python.display(), args.join(" "));
    let status = Command::new(python)
        .args(&args)
        .status()
        .map_err(|e| format!("cannot run {}: {e}", python.display()))?;
    if !status.success() {
        bail!("independent token check ({SCRIPT}) failed ({status})");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn args_and_marker() {
        let e = Expected {
            rim: Some(vec![0xAB, 0x01]),
            rems: Some([vec![1], vec![2], vec![3], vec![4]]),
        };
        let a = script_args(Path::new("s.py"), Path::new("t"), Path::new("k"), &e).join(" ");
        assert_eq!(
            a,
            "s.py t --jwk k --rim ab01 --rem1 01 --rem2 02 --rem3 03 --rem4 04"
        );
        let a = script_args(
            Path::new("s.py"),
            Path::new("t"),
            Path::new("k"),
            &Expected::default(),
        );
        assert_eq!(a.join(" "), "s.py t --jwk k");
        assert!(marker_text().contains("pycose==1.1.0\n"));
        assert!(!venv_is_current(Path::new("/nonexistent/pyenv")));
        assert!(missing_ensurepip(
            "The virtual environment was not created successfully because ensurepip is not available."
        ));
        assert!(!missing_ensurepip("permission denied"));
        assert!(venv_instructions().contains("python3-venv"));
    }

    /// End to end with PyPI: builds the venv under target/pyenv and runs
    /// the script on good and spoilt tokens. Needs python3 and network:
    /// `cargo test -p xtask -- --ignored pycose`.
    #[test]
    #[ignore = "needs python3 and PyPI"]
    fn pycose_check_on_sample_tokens() {
        use crate::token::tests::{ROOT, Spoil, sample_rems, sample_rim, sample_token};
        let paths = Paths::workspace();
        let python = ensure_venv(&paths).unwrap();
        let dir = std::env::temp_dir().join(format!("xtask-pycose-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let jwk = dir.join("k.jwk.json");
        let key = crate::jwk::cpak_public(&ROOT).unwrap();
        std::fs::write(&jwk, crate::jwk::jwk_json(&key)).unwrap();
        let good = Expected {
            rim: Some(sample_rim()),
            rems: Some(sample_rems()),
        };
        let mut wrong_rim = good.clone();
        wrong_rim.rim.as_mut().unwrap()[3] ^= 1;
        for (spoil, expected, ok) in [
            (Spoil::None, &good, true),
            (Spoil::None, &Expected::default(), true),
            (Spoil::None, &wrong_rim, false),
            (Spoil::RealmSignature, &good, false),
            (Spoil::PlatformSignature, &good, false),
            (Spoil::Binding, &good, false),
        ] {
            let token = dir.join("t.cbor");
            std::fs::write(&token, sample_token(spoil)).unwrap();
            let r = run_check(&paths, &python, &token, &jwk, expected);
            assert_eq!(r.is_ok(), ok, "{spoil:?} {expected:?}: {r:?}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
