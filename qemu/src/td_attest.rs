//! TDX attestation on the host side: the TD guest image the x86 shim runs
//! (`.td_guest` of its ELF, saved as target/images/td-guest.bin) and
//! `cargo xtask mrtd`, the MRTD a TD built from an image gets
//! (tdx-module-abi.md §7), computed with cmon-measure exactly as the
//! harness builds it (tdx-module-shim/image/src/td_run.rs).

use std::path::PathBuf;

use cmon_measure::Mrtd;

use crate::elf::Elf;
use crate::token::hex;
use crate::{Paths, Result, bail};

/// Where the harness puts the TD image (td_run.rs `CODE_GPA`): its last
/// 16 bytes hold the reset vector 0xFFFF_FFF0 (§6.3).
pub const DEFAULT_GPA: u64 = 0xFFFF_F000;
/// The data and stack pages td_run.rs adds unmeasured.
pub const DEFAULT_ADDS: [u64; 2] = [0xFFFF_E000, 0xFFFF_D000];
const PAGE: usize = 4096;

/// `cargo xtask mrtd TD_IMAGE [--gpa GPA] [--add GPA]...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MrtdOpts {
    pub image: PathBuf,
    /// First GPA of the image; page i goes to `gpa + i * 4096`, each
    /// PAGE.ADDed then MR.EXTENDed in full.
    pub gpa: u64,
    /// Pages PAGE.ADDed afterwards without MR.EXTEND, in order.
    pub add: Vec<u64>,
}

/// The TD guest image path.
pub fn td_guest_path(paths: &Paths) -> PathBuf {
    paths.images().join("td-guest.bin")
}

/// The `.td_guest` section of the shim ELF (one page).
pub fn extract_td_guest(data: &[u8], elf: &Elf) -> Result<Vec<u8>> {
    let Some(s) = elf.sections.iter().find(|s| s.name == ".td_guest") else {
        bail!("the shim ELF has no .td_guest section");
    };
    let start = usize::try_from(s.offset).map_err(|_| "bad .td_guest offset".to_string())?;
    let len = usize::try_from(s.size).map_err(|_| "bad .td_guest size".to_string())?;
    match data.get(start..start.saturating_add(len)) {
        Some(b) if len > 0 && len.is_multiple_of(PAGE) => Ok(b.to_vec()),
        _ => bail!(".td_guest is not whole pages inside the ELF ({len} bytes)"),
    }
}

/// The MRTD of a TD built from `image` per `o` (after MR.FINALIZE).
pub fn mrtd_of(image: &[u8], gpa: u64, add: &[u64]) -> Result<[u8; 48]> {
    if image.is_empty() {
        bail!("the TD image is empty");
    }
    let mut m = Mrtd::new();
    for (i, chunk) in image.chunks(PAGE).enumerate() {
        let mut page = [0u8; PAGE];
        page[..chunk.len()].copy_from_slice(chunk);
        let g = gpa + (i * PAGE) as u64;
        m.page_add(g).map_err(|e| format!("GPA {g:#x}: {e:?}"))?;
        m.extend_page(g, &page)
            .map_err(|e| format!("GPA {g:#x}: {e:?}"))?;
    }
    for &g in add {
        m.page_add(g).map_err(|e| format!("GPA {g:#x}: {e:?}"))?;
    }
    Ok(m.finalize())
}

/// `cargo xtask mrtd`.
pub fn mrtd_cmd(o: &MrtdOpts) -> Result<u8> {
    let data = crate::build::read(&o.image)?;
    let m = mrtd_of(&data, o.gpa, &o.add)?;
    println!("{}", hex(&m));
    Ok(0)
}

/// The x86 boot's verdict with the evidence check added (aarch64 and
/// failed boots unchanged).
pub fn judge(
    paths: &Paths,
    verdict: crate::report::Verdict,
    arch: crate::cli::Arch,
    console: &str,
) -> crate::report::Verdict {
    use crate::report::Verdict;
    let Verdict::Pass(note) = verdict else {
        return verdict;
    };
    if arch != crate::cli::Arch::X86_64 {
        return Verdict::Pass(note);
    }
    match check_x86_evidence(paths, console) {
        Ok(more) => Verdict::Pass(format!("{note}; {more}")),
        Err(why) => crate::report::fail(why, 1),
    }
}

/// After a passing x86 boot: save the TD's report and quote the shim
/// printed (TD-REPORT / TD-QUOTE lines) to target/attestation/ and verify
/// them here, independently of the shim's own checks:
/// - the report's MAC and hashes with the MAC key derived from
///   target/dev-root-secret.bin (cmon-keys, as the shim derives it);
/// - its MRTD against [`mrtd_of`] the TD image the build saved;
/// - the quote with `cmon-evidence` and the attestation key derived from
///   the same secret, and parsed by `dcap-qvl` (Phala's DCAP quote parser),
///   whose MRTD and REPORTDATA must match the report's.
///
/// Returns a note for the verdict; `Err` fails the boot.
pub fn check_x86_evidence(paths: &Paths, console: &str) -> Result<String> {
    use cmon_evidence::tdx::{parse_tdreport, verify_quote_v4, verify_report_mac};
    let reports = crate::capture::parse_blobs(console, "TD-REPORT")?;
    let quotes = crate::capture::parse_blobs(console, "TD-QUOTE")?;
    let (Some(report), Some(quote)) = (reports.first(), quotes.first()) else {
        bail!("no TD-REPORT / TD-QUOTE on the console");
    };
    let dir = paths.attestation_dir();
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let (rp, qp) = (dir.join("td-report.bin"), dir.join("td-quote.bin"));
    crate::build::write(&rp, report)?;
    crate::build::write(&qp, quote)?;
    let secret = crate::build::dev_root_secret(paths)?;
    let root = cmon_keys::RootSecret::new(&secret).map_err(|e| format!("root secret: {e:?}"))?;
    let keys = cmon_keys::KeyHierarchy::new(root, cmon_keys::KeyVersion(1));
    let report: &[u8; 1024] = report
        .as_slice()
        .try_into()
        .map_err(|_| format!("TD-REPORT is {} bytes, not 1024", report.len()))?;
    let mac = keys.tdx_report_mac_key().map_err(|e| format!("{e:?}"))?;
    verify_report_mac(report, mac.as_bytes())
        .map_err(|e| format!("TDREPORT MAC/hashes do not verify: {e:?}"))?;
    let r = parse_tdreport(report).map_err(|e| format!("TDREPORT: {e:?}"))?;
    let image = crate::build::read(&td_guest_path(paths))?;
    let want = mrtd_of(&image, DEFAULT_GPA, &DEFAULT_ADDS)?;
    if r.td_info.mrtd != want {
        bail!(
            "TDREPORT MRTD {} is not `cargo xtask mrtd {}` = {}",
            hex(&r.td_info.mrtd),
            paths.rel(&td_guest_path(paths)).display(),
            hex(&want)
        );
    }
    let ak = keys.tdx_quote_signing_key().map_err(|e| format!("{e:?}"))?;
    let f = verify_quote_v4(quote, ak.verifying_key())
        .map_err(|e| format!("TD quote does not verify: {e:?}"))?;
    let parsed = dcap_qvl::quote::Quote::parse(quote)
        .map_err(|e| format!("dcap-qvl cannot parse the quote: {e:?}"))?;
    let body = parsed
        .report
        .as_td10()
        .ok_or("dcap-qvl: not a TD 1.0 quote body")?;
    if body.mr_td != r.td_info.mrtd
        || body.report_data != r.report_data
        || f.body.mr_td != r.td_info.mrtd
    {
        bail!("the quote's MRTD/REPORTDATA differ from the report's");
    }
    println!(
        "xtask: TD report {} and quote {} ({} bytes) verified: MAC (key from {}), \
         MRTD {}.. = `cargo xtask mrtd`, quote signature (AK from the same secret), \
         dcap-qvl parse (v{}, TEE {:#x})",
        paths.rel(&rp).display(),
        paths.rel(&qp).display(),
        quote.len(),
        paths.rel(&paths.dev_root_secret()).display(),
        &hex(&want)[..16],
        parsed.header.version,
        parsed.header.tee_type
    );
    Ok("TD report and quote verified".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_page_known_answer() {
        // tdx-module-abi.md §7: one zero page at GPA 0x1000, extended.
        let m = mrtd_of(&[0u8; PAGE], 0x1000, &[]).unwrap();
        assert_eq!(
            hex(&m),
            "ca76d5541328afef8bc9364261c515aebef90412ebc56ca0c2260ec531a14462cfc0c11de61d84292ddf8ca871da1ff1"
        );
    }

    #[test]
    fn layout_changes_the_mrtd() {
        let img = [0x90u8; PAGE];
        let a = mrtd_of(&img, DEFAULT_GPA, &DEFAULT_ADDS).unwrap();
        assert_ne!(a, mrtd_of(&img, DEFAULT_GPA, &[]).unwrap());
        assert_ne!(a, mrtd_of(&img, 0xFFFF_C000, &DEFAULT_ADDS).unwrap());
        assert!(mrtd_of(&img, 0x1001, &[]).is_err(), "unaligned GPA");
        assert!(mrtd_of(&[], 0x1000, &[]).is_err());
    }
}
