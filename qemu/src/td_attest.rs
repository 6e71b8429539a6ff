//! TDX attestation on the host side: the TD guest image the x86 shim runs
//! (`.td_guest` of its ELF, saved as target/images/td-guest.bin) and
//! `cargo xtask mrtd`, the MRTD a TD built from an image gets
//! (tdx-module-abi.md §7), computed with cmon-measure exactly as the
//! harness builds it (tdx-module-shim/image/src/td_run.rs).

use std::path::PathBuf;

use cmon_measure::Mrtd;

use crate::elf::Elf;
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

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// `cargo xtask mrtd`.
pub fn mrtd_cmd(o: &MrtdOpts) -> Result<u8> {
    let data = crate::build::read(&o.image)?;
    let m = mrtd_of(&data, o.gpa, &o.add)?;
    println!("{}", hex(&m));
    Ok(0)
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
