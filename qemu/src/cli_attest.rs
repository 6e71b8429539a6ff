//! Command lines of the attestation commands `verify-token` and `rim`
//! (kept apart from cli.rs, whose commands take no positional argument).

use std::path::PathBuf;

use cmon_measure::HashAlgo;

use crate::cli::{DEFAULT_SMP, Sub};
use crate::guest::{GuestImage, RimConfig};
use crate::{Result, bail};

/// `cargo xtask verify-token FILE [--key JWK]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyTokenOpts {
    pub file: PathBuf,
    pub key: Option<PathBuf>,
}

/// `cargo xtask rim GUEST_IMAGE [options]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RimOpts {
    pub image: PathBuf,
    pub config: RimConfig,
}

/// A number in decimal or `0x` hex (underscores allowed, as in the docs).
pub fn parse_u64(name: &str, v: &str) -> Result<u64> {
    let clean = v.replace('_', "");
    let parsed = match clean
        .strip_prefix("0x")
        .or_else(|| clean.strip_prefix("0X"))
    {
        Some(h) => u64::from_str_radix(h, 16),
        None => clean.parse(),
    };
    parsed.map_err(|_| format!("option {name}: `{v}` is not a valid number"))
}

/// The value of an option: inline (`--x=v`) or the next argument.
fn value<'a>(
    name: &str,
    inline: Option<&'a str>,
    it: &mut std::slice::Iter<'a, String>,
) -> Result<&'a str> {
    match inline {
        Some(v) => Ok(v),
        None => it
            .next()
            .map(String::as_str)
            .ok_or_else(|| format!("option {name} needs a value")),
    }
}

/// Parse the arguments after `verify-token` / `rim` (no `--help` among
/// them: cli::parse handles that first).
pub fn parse(sub: Sub, args: &[String]) -> Result<crate::cli::Command> {
    let mut it = args.iter();
    let mut positional: Option<PathBuf> = None;
    let mut key = None;
    let mut cfg = RimConfig::host(GuestImage::recs_for(DEFAULT_SMP));
    let mut gpa = crate::td_attest::DEFAULT_GPA;
    let mut add: Option<Vec<u64>> = None;
    while let Some(arg) = it.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((k, v)) if k.starts_with("--") => (k, Some(v)),
            _ => (arg.as_str(), None),
        };
        match (sub, name) {
            (Sub::VerifyToken, "--key") => key = Some(PathBuf::from(value(name, inline, &mut it)?)),
            (Sub::Rim, "--recs") => {
                let n = parse_u64(name, value(name, inline, &mut it)?)?;
                if !(1..=64).contains(&n) {
                    bail!("option --recs: {n} is out of range 1..=64");
                }
                cfg.recs = n as usize;
            }
            (Sub::Rim, "--hash") => {
                cfg.hash = match value(name, inline, &mut it)? {
                    "sha256" | "sha-256" => HashAlgo::Sha256,
                    "sha512" | "sha-512" => HashAlgo::Sha512,
                    v => bail!("option --hash: `{v}` is not sha256 or sha512"),
                }
            }
            (Sub::Rim, "--ipa") => cfg.ipa = parse_u64(name, value(name, inline, &mut it)?)?,
            (Sub::Rim, "--ram-top") => {
                cfg.ram_top = parse_u64(name, value(name, inline, &mut it)?)?
            }
            (Sub::Rim, "--s2sz") => {
                let n = parse_u64(name, value(name, inline, &mut it)?)?;
                // RmiRealmParams.s2sz: RMM 1.0 allows up to 52 (with LPA2).
                if !(16..=52).contains(&n) {
                    bail!("option --s2sz: {n} is out of range 16..=52");
                }
                cfg.s2sz = n as u32;
            }
            (Sub::Mrtd, "--gpa") => gpa = parse_u64(name, value(name, inline, &mut it)?)?,
            (Sub::Mrtd, "--add") => {
                let g = parse_u64(name, value(name, inline, &mut it)?)?;
                add.get_or_insert_with(Vec::new).push(g);
            }
            _ if !arg.starts_with('-') && positional.is_none() => {
                positional = Some(PathBuf::from(arg))
            }
            _ => bail!("unexpected argument `{arg}` for `{}`", sub.name()),
        }
    }
    let Some(path) = positional else {
        bail!("`{}` needs a file argument", sub.name());
    };
    Ok(match sub {
        Sub::VerifyToken => crate::cli::Command::VerifyToken(VerifyTokenOpts { file: path, key }),
        Sub::Mrtd => crate::cli::Command::Mrtd(crate::td_attest::MrtdOpts {
            image: path,
            gpa,
            add: add.unwrap_or_else(|| crate::td_attest::DEFAULT_ADDS.to_vec()),
        }),
        _ => crate::cli::Command::Rim(RimOpts {
            image: path,
            config: cfg,
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Command, parse as cli_parse};

    fn p(args: &[&str]) -> Result<Command> {
        let v: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        cli_parse(&v)
    }

    #[test]
    fn verify_token_args() {
        assert_eq!(
            p(&["verify-token", "t.cbor"]).unwrap(),
            Command::VerifyToken(VerifyTokenOpts {
                file: "t.cbor".into(),
                key: None
            })
        );
        assert_eq!(
            p(&["verify-token", "--key=k.json", "t.cbor"]).unwrap(),
            Command::VerifyToken(VerifyTokenOpts {
                file: "t.cbor".into(),
                key: Some("k.json".into())
            })
        );
        assert!(p(&["verify-token"]).is_err());
        assert!(p(&["verify-token", "a", "b"]).is_err());
        assert!(p(&["verify-token", "a", "--key"]).is_err());
        assert!(p(&["verify-token", "a", "--recs", "2"]).is_err());
        assert_eq!(
            p(&["verify-token", "--help"]).unwrap(),
            Command::Help(Some(Sub::VerifyToken))
        );
    }

    #[test]
    fn rim_args() {
        let Command::Rim(r) = p(&["rim", "g.bin"]).unwrap() else {
            panic!()
        };
        assert_eq!(r.image, PathBuf::from("g.bin"));
        assert_eq!(r.config, RimConfig::host(4));
        let Command::Rim(r) = p(&[
            "rim",
            "--recs",
            "2",
            "--hash=sha512",
            "--ipa",
            "0x4_0000",
            "g.bin",
            "--ram-top",
            "0x200000",
            "--s2sz",
            "40",
        ])
        .unwrap() else {
            panic!()
        };
        assert_eq!(
            r.config,
            RimConfig {
                recs: 2,
                hash: HashAlgo::Sha512,
                ipa: 0x4_0000,
                ram_top: 0x20_0000,
                s2sz: 40
            }
        );
        for bad in [
            &["rim"][..],
            &["rim", "g", "--recs", "0"],
            &["rim", "g", "--recs", "x"],
            &["rim", "g", "--hash", "sha384"],
            &["rim", "g", "--ipa", "0xZZ"],
            &["rim", "g", "--s2sz", "64"],
            &["rim", "g", "--key", "k"],
            &["rim", "g", "--ipa"],
        ] {
            assert!(p(bad).is_err(), "{bad:?}");
        }
        assert_eq!(parse_u64("--x", "4096").unwrap(), 4096);
        assert_eq!(parse_u64("--x", "0X10").unwrap(), 16);
    }
}
