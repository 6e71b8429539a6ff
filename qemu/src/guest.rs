//! The realm guest image as `cargo xtask` hands it to the NS host: loaded
//! into NS DRAM with QEMU's `-device loader`, with its size and the RIM the
//! realm must report in loader words (README "Realm guest").
//!
//! The RIM is computed here, independently of the RMM and of the host,
//! with `cmon-measure`, by replaying the host's creation sequence
//! (tests/ns-host/src/vmm/build.rs) over the same flat binary.

use std::path::{Path, PathBuf};

use cmon_measure::HashAlgo;
use cmon_measure::cca::{RMI_MEASURE_CONTENT, Rim, RimRealmParams, RimRecParams};

use crate::Result;

/// NS address the guest binary is loaded at.
pub const IMAGE_NS: u64 = 0x5C00_0000;
/// Loader word (u32): size of the binary.
pub const SIZE_ADDR: u64 = 0x5FFF_F008;
/// Loader words (4 x u64): the expected RIM.
pub const RIM_ADDR: u64 = 0x5FFF_F010;

/// The host's creation sequence (vmm/build.rs): IPA width, guest RAM that
/// RTT_INIT_RIPAS covers (inside one level-3 RTT, so one RIM extension per
/// 4 KiB entry), the link IPA, which is also every REC's PC.
const S2SZ: u32 = 39;
const RAM_TOP: u64 = 0x10_0000;
const LINK_IPA: u64 = 0x2_0000;
const PAGE: usize = 4096;

/// A guest binary read from disk.
#[derive(Debug, Clone)]
pub struct GuestImage {
    pub path: PathBuf,
    pub data: Vec<u8>,
}

impl GuestImage {
    pub fn load(path: &Path) -> Result<GuestImage> {
        let data = crate::build::read(path)?;
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

    /// The RIM after REALM_CREATE, INIT_RIPAS, DATA_CREATE of every page
    /// and REC_CREATE of `nrecs` RECs, as 4 little-endian words.
    pub fn rim(&self, nrecs: usize) -> [u64; 4] {
        let params = RimRealmParams {
            s2sz: S2SZ,
            hash_algo: 0,
            ..RimRealmParams::default()
        };
        let mut rim = Rim::new(HashAlgo::Sha256, &params).expect("SHA-256 params");
        for base in (0..RAM_TOP).step_by(PAGE) {
            rim.measure_ripas(base, base + PAGE as u64)
                .expect("aligned");
        }
        for (i, chunk) in self.data.chunks(PAGE).enumerate() {
            let mut page = [0u8; PAGE];
            page[..chunk.len()].copy_from_slice(chunk);
            rim.measure_data(
                LINK_IPA + (i * PAGE) as u64,
                RMI_MEASURE_CONTENT,
                Some(&page),
            )
            .expect("aligned IPA, measured content");
        }
        for i in 0..nrecs {
            rim.measure_rec(&RimRecParams {
                flags: u64::from(i == 0),
                pc: LINK_IPA,
                gprs: [0; 8],
            });
        }
        let v = rim.value();
        core::array::from_fn(|i| {
            u64::from_le_bytes(v.as_bytes()[8 * i..8 * i + 8].try_into().expect("8 bytes"))
        })
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
        for (i, w) in self.rim(Self::recs_for(smp)).iter().enumerate() {
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
}
