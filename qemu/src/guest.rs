//! The realm guest image as `cargo xtask` hands it to the NS host: loaded
//! into NS DRAM with QEMU's `-device loader`, with its size and the RIM the
//! realm must report in loader words (README "Realm guest").
//!
//! The RIM is computed here, independently of the RMM and of the host,
//! with `cmon-measure`, by replaying the host's creation sequence
//! (tests/ns-host/src/vmm/build.rs) over the same flat binary.

use std::path::{Path, PathBuf};

use cmon_measure::cca::{RMI_MEASURE_CONTENT, Rim, RimRealmParams, RimRecParams};
use cmon_measure::{HashAlgo, MeasureError};

use crate::{Result, bail};

/// NS address the guest binary is loaded at.
pub const IMAGE_NS: u64 = 0x5C00_0000;
/// Loader word (u32): size of the binary.
pub const SIZE_ADDR: u64 = 0x5FFF_F008;
/// Loader words (4 x u64): the expected RIM.
pub const RIM_ADDR: u64 = 0x5FFF_F010;

/// The host's creation sequence (vmm/build.rs): IPA width, guest RAM that
/// RTT_INIT_RIPAS covers (inside one level-3 RTT, so one RIM extension per
/// 4 KiB entry), the link IPA, which is also every REC's PC.
pub const S2SZ: u32 = 39;
pub const RAM_TOP: u64 = 0x10_0000;
pub const LINK_IPA: u64 = 0x2_0000;
const PAGE: usize = 4096;
/// The host creates level-2 and level-3 RTTs for [0, 2 MiB) only
/// (vmm/build.rs step 2); the replay mirrors that one L3 table, so RAM and
/// image must lie below it.
pub const L3_SPAN: u64 = 0x20_0000;

/// The parameters of a realm creation that change its RIM, for an offline
/// replay (`cargo xtask rim`). [`RimConfig::host`] is what the NS host uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RimConfig {
    /// RECs created (REC 0 runnable, the others not).
    pub recs: usize,
    /// RIM hash (`RmiRealmParams.hash_algo`): SHA-256 or SHA-512.
    pub hash: HashAlgo,
    /// IPA of the first image page; also every REC's PC.
    pub ipa: u64,
    /// RTT_INIT_RIPAS covers [0, ram_top), one extension per 4 KiB.
    pub ram_top: u64,
    /// `RmiRealmParams.s2sz`.
    pub s2sz: u32,
}

impl RimConfig {
    /// The NS host's realm guest with `recs` RECs (vmm/build.rs).
    pub const fn host(recs: usize) -> RimConfig {
        RimConfig {
            recs,
            hash: HashAlgo::Sha256,
            ipa: LINK_IPA,
            ram_top: RAM_TOP,
            s2sz: S2SZ,
        }
    }

    /// Reject configurations the replay cannot mirror: unaligned addresses,
    /// RAM or image outside the host's one L3 RTT, SHA-384 (not selectable
    /// in RMM 1.0, cca-attestation.md §1), no REC.
    fn check(&self, image_len: usize) -> Result<()> {
        let page = PAGE as u64;
        if self.hash.to_rmi().is_none() {
            bail!("the RIM hash must be SHA-256 or SHA-512 (RMM 1.0)");
        }
        if self.recs == 0 {
            bail!("a realm needs at least one REC");
        }
        if !self.ipa.is_multiple_of(page) || !self.ram_top.is_multiple_of(page) || self.ram_top == 0
        {
            bail!("--ipa must be 4 KiB aligned and --ram-top a non-zero multiple of 4 KiB");
        }
        if self.ram_top > L3_SPAN {
            bail!(
                "--ram-top {:#x} is beyond the host's level-3 RTT [0, {L3_SPAN:#x})",
                self.ram_top
            );
        }
        let pages = image_len.div_ceil(PAGE) as u64;
        match pages
            .checked_mul(page)
            .and_then(|l| l.checked_add(self.ipa))
        {
            Some(end) if end <= L3_SPAN => Ok(()),
            _ => bail!(
                "image of {image_len} bytes at IPA {:#x} does not fit below {L3_SPAN:#x}",
                self.ipa
            ),
        }
    }
}

/// The REM values the realm guest reports (claim 44239), hash-length bytes
/// each: tests/realm-guest/src/attest.rs extends REM[i] (i = 1..4) once,
/// from zero, with `16 * i` bytes, byte j = `0x11 * i + j` (mod 256), in a
/// SHA-256 realm (cca-attestation.md §3: REM[i] = H(REM[i] || data)).
pub fn expected_rems() -> Option<[Vec<u8>; 4]> {
    Some(core::array::from_fn(|k| {
        let i = k + 1;
        let data: Vec<u8> = (0..16 * i).map(|j| (0x11 * i + j) as u8).collect();
        let mut rem = cmon_measure::MeasurementRegister::new(HashAlgo::Sha256);
        rem.extend(&data);
        rem.value().as_bytes().to_vec()
    }))
}

/// A guest binary read from disk.
#[derive(Debug, Clone)]
pub struct GuestImage {
    pub path: PathBuf,
    pub data: Vec<u8>,
}

impl GuestImage {
    /// Read a guest binary; it must fit the host's layout (below 2 MiB).
    pub fn load(path: &Path) -> Result<GuestImage> {
        let data = crate::build::read(path)?;
        RimConfig::host(1)
            .check(data.len())
            .map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(GuestImage {
            path: path.to_path_buf(),
            data,
        })
    }

    /// RECs the host creates on a machine with `smp` CPUs: one per CPU,
    /// at least 2, at most 4 (vmm/mod.rs).
    pub fn recs_for(smp: u32) -> usize {
        (smp as usize).clamp(2, 4)
    }

    /// The RIM (hash-length bytes) after REALM_CREATE, INIT_RIPAS of
    /// [0, ram_top) per 4 KiB entry, a measured DATA_CREATE of every image
    /// page (the last one zero-padded) and REC_CREATE of every REC, in the
    /// host's order (cca-attestation.md §2.4).
    pub fn rim_with(&self, cfg: &RimConfig) -> Result<Vec<u8>> {
        cfg.check(self.data.len())?;
        let params = RimRealmParams {
            s2sz: cfg.s2sz,
            // check() made sure the algorithm has an RMI encoding.
            hash_algo: cfg.hash.to_rmi().unwrap_or(0),
            ..RimRealmParams::default()
        };
        let err = |e: MeasureError| format!("RIM replay: {e:?}");
        let mut rim = Rim::new(cfg.hash, &params).map_err(err)?;
        for base in (0..cfg.ram_top).step_by(PAGE) {
            rim.measure_ripas(base, base + PAGE as u64).map_err(err)?;
        }
        for (i, chunk) in self.data.chunks(PAGE).enumerate() {
            let mut page = [0u8; PAGE];
            page[..chunk.len()].copy_from_slice(chunk);
            let ipa = cfg.ipa + (i * PAGE) as u64;
            rim.measure_data(ipa, RMI_MEASURE_CONTENT, Some(&page))
                .map_err(err)?;
        }
        for i in 0..cfg.recs {
            rim.measure_rec(&RimRecParams {
                flags: u64::from(i == 0),
                pc: cfg.ipa,
                gprs: [0; 8],
            });
        }
        Ok(rim.value().as_bytes().to_vec())
    }

    /// The host's SHA-256 RIM with `nrecs` RECs, as 4 little-endian words
    /// (the loader words the NS host compares with).
    pub fn rim(&self, nrecs: usize) -> Result<[u64; 4]> {
        let v = self.rim_with(&RimConfig::host(nrecs))?;
        let mut words = [0u64; 4];
        for (w, b) in words.iter_mut().zip(v.chunks_exact(8)) {
            let mut le = [0u8; 8];
            le.copy_from_slice(b);
            *w = u64::from_le_bytes(le);
        }
        Ok(words)
    }

    /// `-device loader` arguments for a boot with `smp` CPUs.
    pub fn loader_args(&self, smp: u32) -> Vec<String> {
        let mut a = vec![
            "-device".to_string(),
            format!(
                "loader,file={},addr={IMAGE_NS:#X},force-raw=on",
                self.path.display()
            ),
            "-device".to_string(),
            format!(
                "loader,addr={SIZE_ADDR:#X},data={},data-len=4",
                self.data.len()
            ),
        ];
        // Cannot fail for an image that load() accepted; a zero RIM would
        // make the NS host's RIM check fail loudly rather than pass.
        let rim = self.rim(Self::recs_for(smp)).unwrap_or_default();
        for (i, w) in rim.iter().enumerate() {
            a.push("-device".to_string());
            a.push(format!(
                "loader,addr={:#X},data={w:#x},data-len=8",
                RIM_ADDR + 8 * i as u64
            ));
        }
        a
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(len: usize) -> GuestImage {
        GuestImage {
            path: PathBuf::from("/g.bin"),
            data: (0..len).map(|i| i as u8).collect(),
        }
    }

    #[test]
    fn rim_depends_on_recs_and_content() {
        let a = image(5000);
        assert_ne!(a.rim(2), a.rim(4));
        let mut b = a.clone();
        b.data[4999] ^= 1;
        assert_ne!(a.rim(2), b.rim(2));
        assert_eq!(a.rim(3), a.clone().rim(3));
    }

    #[test]
    fn last_page_is_zero_padded() {
        // A trailing zero inside the last page does not change the RIM.
        let a = image(5000);
        let mut b = a.clone();
        b.data.push(0);
        assert_eq!(a.rim(2), b.rim(2));
    }

    #[test]
    fn recs_follow_cpus() {
        assert_eq!(GuestImage::recs_for(1), 2);
        assert_eq!(GuestImage::recs_for(2), 2);
        assert_eq!(GuestImage::recs_for(4), 4);
        assert_eq!(GuestImage::recs_for(8), 4);
    }

    #[test]
    fn loader_args_name_file_size_and_rim() {
        let a = image(100).loader_args(4).join(" ");
        assert!(a.starts_with("-device loader,file=/g.bin,addr=0x5C000000,force-raw=on"));
        assert!(a.contains("loader,addr=0x5FFFF008,data=100,data-len=4"));
        assert!(a.contains("loader,addr=0x5FFFF028,data=0x"));
    }

    #[test]
    fn rim_with_configs() {
        let a = image(5000);
        let host = RimConfig::host(2);
        assert_eq!(a.rim_with(&host).unwrap().len(), 32);
        let words = a.rim(2).unwrap();
        assert_eq!(words[0].to_le_bytes(), a.rim_with(&host).unwrap()[..8]);
        let sha512 = RimConfig {
            hash: HashAlgo::Sha512,
            ..host
        };
        assert_eq!(a.rim_with(&sha512).unwrap().len(), 64);
        for (cfg, what) in [
            (
                RimConfig {
                    ipa: 0x2_0800,
                    ..host
                },
                "unaligned ipa",
            ),
            (
                RimConfig {
                    ram_top: 0x1234,
                    ..host
                },
                "unaligned ram top",
            ),
            (RimConfig { ram_top: 0, ..host }, "no RAM"),
            (
                RimConfig {
                    ram_top: 0x40_0000,
                    ..host
                },
                "RAM beyond the L3 RTT",
            ),
            (
                RimConfig {
                    ipa: 0x1F_F000,
                    ..host
                },
                "image beyond 2 MiB",
            ),
            (
                RimConfig {
                    ipa: u64::MAX - 0xFFF,
                    ..host
                },
                "overflow",
            ),
            (RimConfig { recs: 0, ..host }, "no REC"),
            (
                RimConfig {
                    hash: HashAlgo::Sha384,
                    ..host
                },
                "SHA-384",
            ),
        ] {
            assert!(a.rim_with(&cfg).is_err(), "{what}");
        }
        // REM[1] = SHA-256(32 zero bytes || 0x11..=0x20), computed with
        // Python's hashlib.
        let rems = expected_rems().expect("the guest's extensions");
        let want = "028e5c751fcc616c55f32d3e6c8befccab2955e06c0a943f35544af60d6a9661";
        let got: String = rems[0].iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(got, want);
    }
}

#[cfg(test)]
#[path = "guest_crosscheck.rs"]
mod crosscheck;
