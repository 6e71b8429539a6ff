//! SHA-2 compression for the RMM's measurements: the CPU's SHA-256
//! instructions when the CPU has them (FEAT_SHA256; QEMU `max` does),
//! RustCrypto's portable code otherwise and for SHA-512. Checked against
//! the FIPS 180-2 "abc" known answer at boot before it is used.

use cmon_measure::{HashAlgo, HasherWith, Sha2Compress, SoftSha2};
use core::sync::atomic::{AtomicBool, Ordering};

core::arch::global_asm!(include_str!("asm/sha256.S"));

unsafe extern "C" {
    fn rmm_sha256_blocks(state: *mut [u32; 8], data: *const u8, nblocks: u64);
}

/// Set at boot once the instructions exist and pass the known answer.
static HW_SHA256: AtomicBool = AtomicBool::new(false);

/// The RMM's SHA-2 backend.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct RmmSha2;

impl Sha2Compress for RmmSha2 {
    fn compress256(state: &mut [u32; 8], blocks: &[[u8; 64]]) {
        if HW_SHA256.load(Ordering::Relaxed) {
            // SAFETY: the CPU implements FEAT_SHA256 (checked in `init`);
            // the routine reads `blocks.len()` 64-byte blocks from `blocks`,
            // updates the 8 words of `state`, and restores every SIMD
            // register it uses (asm/sha256.S).
            unsafe { rmm_sha256_blocks(state, blocks.as_ptr().cast(), blocks.len() as u64) };
        } else {
            SoftSha2::compress256(state, blocks);
        }
    }

    fn compress512(state: &mut [u64; 8], blocks: &[[u8; 128]]) {
        SoftSha2::compress512(state, blocks);
    }
}

/// SHA-256("abc"), FIPS 180-2 appendix B.1.
const ABC_SHA256: [u8; 32] = [
    0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23,
    0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad,
];

/// Enable the hardware path if the CPU has it and it gives the known answer
/// (and the same result as the portable code over multi-block input).
/// Returns whether it is in use.
pub fn init() -> bool {
    // ID_AA64ISAR0_EL1.SHA2, bits [15:12]: 1 = SHA-256, 2 = also SHA-512.
    if (crate::arch::read_sysreg!("id_aa64isar0_el1") >> 12) & 0xF == 0 {
        return false;
    }
    HW_SHA256.store(true, Ordering::Relaxed);
    let abc = HasherWith::<RmmSha2>::digest(HashAlgo::Sha256, b"abc");
    let mut long = [0u8; 300];
    for (i, b) in long.iter_mut().enumerate() {
        *b = (i * 7) as u8;
    }
    let hw = HasherWith::<RmmSha2>::digest(HashAlgo::Sha256, &long);
    let soft = HasherWith::<SoftSha2>::digest(HashAlgo::Sha256, &long);
    let ok = abc.as_bytes() == ABC_SHA256 && hw == soft;
    HW_SHA256.store(ok, Ordering::Relaxed);
    ok
}
