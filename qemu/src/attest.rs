//! Attestation glue of `cargo xtask` (docs/attestation.md): the token
//! check after an aarch64 boot, and the `verify-token` and `rim` commands.

use std::path::{Path, PathBuf};

use crate::capture::{self, REQUIRE_TOKEN};
use crate::cli::Arch;
use crate::cli_attest::{RimOpts, VerifyTokenOpts};
use crate::guest::{self, GuestImage, RimConfig};
use crate::report::{self, Verdict};
use crate::token::{self, Expected, TokenReport};
use crate::{Paths, Result, bail, jwk, pycheck};

/// The reference values for a boot with `smp` CPUs: the RIM of the realm
/// guest as the NS host builds it (if the guest image was loaded), and the
/// REMs of [`guest::expected_rems`].
pub fn expected_for_boot(guest: Option<&GuestImage>, smp: u32) -> Result<Expected> {
    let rim = match guest {
        Some(g) => Some(g.rim_with(&RimConfig::host(GuestImage::recs_for(smp)))?),
        None => None,
    };
    Ok(Expected {
        rim,
        rems: guest::expected_rems(),
    })
}

/// Where the `n`-th (0-based) captured token is written: the first as
/// target/attestation/cca-token.cbor, later ones as cca-token-2.cbor, ...
fn token_path(paths: &Paths, n: usize) -> PathBuf {
    match n {
        0 => paths.cca_token(),
        _ => paths
            .attestation_dir()
            .join(format!("cca-token-{}.cbor", n + 1)),
    }
}

/// Remove the tokens of an earlier boot so that none is mistaken for this
/// boot's.
fn remove_old_tokens(paths: &Paths) {
    let Ok(dir) = std::fs::read_dir(paths.attestation_dir()) else {
        return;
    };
    for e in dir.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with("cca-token") && name.ends_with(".cbor") {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// The check after a passing aarch64 boot: capture the CCA token(s) from
/// `console`, write them and the platform JWK to target/attestation/,
/// verify each with the JWK and `expected`, and with `python` also run the
/// independent pycose check. Returns a note for the verdict; `Err` fails
/// the boot.
pub fn check_boot_tokens(
    paths: &Paths,
    console: &str,
    expected: &Expected,
    python: bool,
) -> Result<String> {
    let tokens = capture::parse_tokens(console).map_err(|e| format!("CCA token capture: {e}"))?;
    remove_old_tokens(paths);
    if tokens.is_empty() {
        if REQUIRE_TOKEN {
            bail!("no CCA token (CCA-TOKEN-HEX / CCA-TOKEN-END lines) on the console");
        }
        println!(
            "xtask: note: no CCA token on the console; token check skipped (not yet required)"
        );
        return Ok("no CCA token captured".into());
    }
    let jwk_path = jwk::write_platform_jwk(paths)?;
    let jwk_text =
        std::fs::read_to_string(&jwk_path).map_err(|e| format!("{}: {e}", jwk_path.display()))?;
    let key = jwk::parse_jwk(&jwk_text)?;
    println!(
        "xtask: platform trust anchor {} (CPAK from {})",
        paths.rel(&jwk_path).display(),
        paths.rel(&paths.dev_root_secret()).display()
    );
    let mut failed = Vec::new();
    let mut files = Vec::new();
    for (n, bytes) in tokens.iter().enumerate() {
        let path = token_path(paths, n);
        crate::build::write(&path, bytes)?;
        println!(
            "xtask: CCA token {} ({} bytes) -> {}",
            n + 1,
            bytes.len(),
            paths.rel(&path).display()
        );
        let rep = token::verify_token(bytes, Some(&key), expected);
        print!("{}", rep.render());
        if !rep.passed() {
            failed.push(format!("token {}: {}", n + 1, rep.failures().join(", ")));
        }
        files.push(path);
    }
    if !failed.is_empty() {
        bail!("CCA token verification failed ({})", failed.join("; "));
    }
    if python {
        let py = pycheck::ensure_venv(paths)?;
        for f in &files {
            pycheck::run_check(paths, &py, f, &jwk_path, expected)?;
        }
    }
    let with_py = if python { ", pycose check passed" } else { "" };
    Ok(format!("{} CCA token(s) verified{with_py}", tokens.len()))
}

/// The verdict of an aarch64 test-mode boot after the token check: a
/// passing boot fails if its token does not verify. Other architectures and
/// failed boots are returned unchanged.
pub fn judge_tokens(
    paths: &Paths,
    verdict: Verdict,
    arch: Arch,
    console: &str,
    guest: Option<&GuestImage>,
    smp: u32,
    python: bool,
) -> Verdict {
    let Verdict::Pass(note) = verdict else {
        return verdict;
    };
    if arch != Arch::Aarch64 {
        return Verdict::Pass(note);
    }
    let checked =
        expected_for_boot(guest, smp).and_then(|e| check_boot_tokens(paths, console, &e, python));
    if let Some((rim, rpv)) = crate::sealing::parse_fingerprints(console) {
        println!(
            "xtask: realm sealing keys (docs/sealing.md): RIM-bound fingerprint {rim:016x}, \
             RPV-bound {rpv:016x}"
        );
    }
    match checked {
        Ok(more) => Verdict::Pass(format!("{note}; {more}")),
        Err(why) => report::fail(why, 1),
    }
}

/// `cargo xtask verify-token FILE [--key JWK]`: exit status 0 if no check
/// failed (a missing --key is reported, not failed), 1 otherwise.
pub fn verify_token_cmd(o: &VerifyTokenOpts) -> Result<u8> {
    let bytes = read(&o.file)?;
    let key = match &o.key {
        Some(k) => {
            let text = String::from_utf8(read(k)?)
                .map_err(|_| format!("{}: not UTF-8 text", k.display()))?;
            Some(jwk::parse_jwk(&text).map_err(|e| format!("{}: {e}", k.display()))?)
        }
        None => None,
    };
    let rep = token::verify_token(&bytes, key.as_ref(), &Expected::default());
    println!("token {} ({} bytes)", o.file.display(), bytes.len());
    print!("{}", rep.render());
    println!("{}", verdict_line(&rep));
    Ok(u8::from(!rep.passed()))
}

/// The closing line of `verify-token`.
pub fn verdict_line(rep: &TokenReport) -> String {
    if !rep.passed() {
        format!("TOKEN FAILED: {}", rep.failures().join(", "))
    } else if rep.fully_verified() {
        "TOKEN VERIFIED".into()
    } else {
        "TOKEN PASSED, but the platform signature was NOT verified (no --key JWK)".into()
    }
}

/// `cargo xtask rim GUEST_IMAGE [options]`: print the RIM in hex.
pub fn rim_cmd(o: &RimOpts) -> Result<u8> {
    let image = GuestImage {
        path: o.image.clone(),
        data: read(&o.image)?,
    };
    let rim = image.rim_with(&o.config)?;
    println!("{}", token::hex(&rim));
    Ok(0)
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::tests::{Spoil, sample_token};

    fn temp_paths(name: &str) -> Paths {
        let root = std::env::temp_dir().join(format!("xtask-attest-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("target")).unwrap();
        Paths { root }
    }

    fn console_of(token: &[u8]) -> String {
        let mut s = String::from("boot\n");
        for c in token.chunks(64) {
            s += &format!("[host] CCA-TOKEN-HEX {}\n", token::hex(c));
        }
        s + &format!("[host] CCA-TOKEN-END {}\n3 passed, 0 failed\n", token.len())
    }

    #[test]
    fn boot_check_writes_and_verifies() {
        let p = temp_paths("ok");
        std::fs::write(p.dev_root_secret(), crate::token::tests::ROOT).unwrap();
        let console = console_of(&sample_token(Spoil::None));
        let note = check_boot_tokens(&p, &console, &Expected::default(), false).unwrap();
        assert_eq!(note, "1 CCA token(s) verified");
        assert_eq!(
            std::fs::read(p.cca_token()).unwrap(),
            sample_token(Spoil::None)
        );
        let jwk_text = std::fs::read_to_string(p.platform_jwk()).unwrap();
        assert!(jwk_text.contains("\"crv\":\"P-384\""));

        // A bad binding fails the boot; the earlier token file is replaced.
        let bad = console_of(&sample_token(Spoil::Binding));
        let err = check_boot_tokens(&p, &bad, &Expected::default(), false).unwrap_err();
        assert!(err.contains("RAK binding"), "{err}");
        assert_eq!(
            std::fs::read(p.cca_token()).unwrap(),
            sample_token(Spoil::Binding)
        );

        // No token: a note (not an error while REQUIRE_TOKEN is false);
        // the old token file is gone.
        let note = check_boot_tokens(&p, "3 passed, 0 failed\n", &Expected::default(), false);
        assert_eq!(note.is_ok(), !REQUIRE_TOKEN);
        assert!(!p.cca_token().exists());
        // Garbage markers are an error.
        let err = check_boot_tokens(&p, "CCA-TOKEN-HEX 0\n", &Expected::default(), false);
        assert!(err.unwrap_err().contains("capture"));
        let _ = std::fs::remove_dir_all(&p.root);
    }

    #[test]
    fn boot_check_needs_the_root_secret() {
        let p = temp_paths("nosecret");
        let console = console_of(&sample_token(Spoil::None));
        let err = check_boot_tokens(&p, &console, &Expected::default(), false).unwrap_err();
        assert!(err.contains("dev-root-secret.bin"), "{err}");
        let _ = std::fs::remove_dir_all(&p.root);
    }

    #[test]
    fn verdict_lines() {
        let cpak = jwk::cpak_public(&crate::token::tests::ROOT).unwrap();
        let t = sample_token(Spoil::None);
        let e = Expected::default();
        assert_eq!(
            verdict_line(&token::verify_token(&t, Some(&cpak), &e)),
            "TOKEN VERIFIED"
        );
        assert!(verdict_line(&token::verify_token(&t, None, &e)).contains("NOT verified"));
        let bad = sample_token(Spoil::RealmSignature);
        assert_eq!(
            verdict_line(&token::verify_token(&bad, None, &e)),
            "TOKEN FAILED: realm signature"
        );
    }

    #[test]
    fn expected_rim_follows_the_cpus() {
        let g = GuestImage {
            path: PathBuf::from("/g.bin"),
            data: vec![1; 5000],
        };
        let e4 = expected_for_boot(Some(&g), 4).unwrap();
        let e1 = expected_for_boot(Some(&g), 1).unwrap();
        assert_eq!(e4.rim, Some(g.rim_with(&RimConfig::host(4)).unwrap()));
        assert_ne!(e4.rim, e1.rim);
        // Without a guest image there is no RIM to expect; the REMs are
        // the guest's fixed extensions either way.
        let none = expected_for_boot(None, 4).unwrap();
        assert_eq!(none.rim, None);
        assert_eq!(none.rems, crate::guest::expected_rems());
    }
}
