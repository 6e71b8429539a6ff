//! The trusted `ModuleConfig`, built from the machine at boot.
//!
//! - LPs: fw_cfg FW_CFG_NB_CPUS (capped at `MAX_CPUS`), the count the BSP
//!   starts; LP index = the CPU index qemu-q35 assigns.
//! - Packages: package of an LP = its APIC ID >> the package shift of
//!   CPUID 0Bh (x2APIC topology, sub-leaf 1 EAX[4:0]; 0 without leaf 0Bh),
//!   so QEMU's `-smp sockets=S` gives S packages. Counted after the APs are
//!   online.
//! - PA width: CPUID 80000008h EAX[7:0] (QEMU TCG: 40).
//! - HKID layout (shim choice, documented): the top [`HKID_BITS`] bits of
//!   the PA; HKID 0 = no key (TME), the lower half of the rest "shared"
//!   (MKTME), the upper half private (TDX): 32..=63 with 6 bits.
//! - CMRs: the RAM ranges of fw_cfg `etc/e820` below 4 GiB, with the shim's
//!   own memory (0..6 MiB: boot tables, AP trampoline, image, .bss, legacy
//!   VGA/BIOS hole) cut off. Without `etc/e820`: [6 MiB, 128 MiB), QEMU
//!   q35's default `-m`, which is RAM for every `-m` >= 128M.

use tdx_module_shim::{Cmr, MAX_CMRS, ModuleConfig};

use qemu_q35::arch::cpuid;
use qemu_q35::{CpuIndex, fw_cfg};

/// HKID bits at the top of the PA (at most; fewer if the PA is narrow).
pub const HKID_BITS: u32 = 6;
/// Everything below is the shim's (linker/q35-bios.ld asserts the image
/// ends below it).
pub const SHIM_END: u64 = 6 << 20;
const _: () = assert!(crate::vmm::REGION.start >= SHIM_END);
const FOUR_GIB: u64 = 1 << 32;
const FALLBACK_RAM_END: u64 = 128 << 20;

/// Where the CMRs came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmrSource {
    E820,
    Fallback,
}

/// PA width from CPUID 80000008h (36 if the leaf is missing).
pub fn pa_bits() -> u32 {
    if cpuid(0x8000_0000)[0] >= 0x8000_0008 {
        cpuid(0x8000_0008)[0] & 0xFF
    } else {
        36
    }
}

/// Right shift from APIC ID to package ID.
fn package_shift() -> u32 {
    if cpuid(0)[0] < 0xB {
        return 0;
    }
    let r = core::arch::x86_64::__cpuid_count(0xB, 1);
    if r.ebx == 0 { 0 } else { r.eax & 0x1F }
}

/// Package of `cpu` (0 if its APIC ID is unknown).
pub fn package_of(cpu: CpuIndex) -> u32 {
    qemu_q35::cpu::apic_id(cpu).map_or(0, |id| id >> package_shift())
}

/// CMRs from e820 (or the fallback), clipped to [SHIM_END, 4 GiB).
pub fn cmrs() -> ([Cmr; MAX_CMRS], CmrSource) {
    let mut out = [Cmr::default(); MAX_CMRS];
    let Some(ram) = fw_cfg::e820_ram() else {
        out[0] = Cmr {
            base: SHIM_END,
            size: FALLBACK_RAM_END - SHIM_END,
        };
        return (out, CmrSource::Fallback);
    };
    let mut n = 0;
    for &(base, len) in ram.iter().filter(|r| r.1 != 0) {
        let start = base.max(SHIM_END).next_multiple_of(4096);
        let end = base.saturating_add(len).min(FOUR_GIB) & !0xFFF;
        if start < end && n < MAX_CMRS {
            out[n] = Cmr {
                base: start,
                size: end - start,
            };
            n += 1;
        }
    }
    out[..n].sort_unstable_by_key(|c| c.base);
    (out, CmrSource::E820)
}

/// The module configuration for `num_lps` LPs whose packages are known.
pub fn module_config(num_lps: u32, cmrs: [Cmr; MAX_CMRS]) -> ModuleConfig {
    let max_pa = pa_bits();
    let hkid_bits = HKID_BITS.min(max_pa.saturating_sub(32)).max(1);
    let half = 1u16 << (hkid_bits - 1);
    let num_packages = (0..num_lps)
        .map(|i| package_of(CpuIndex(i)) + 1)
        .max()
        .unwrap_or(1);
    ModuleConfig {
        num_lps,
        num_packages,
        max_pa,
        hkid_bits,
        first_private_hkid: half,
        num_private_hkids: half,
        cmrs,
        cpuid1_eax: cpuid(1)[0],
        tee: tee_facts(),
    }
}

// SAFETY: linker/q35-bios.ld symbols; only their addresses are used.
unsafe extern "C" {
    safe static __payload_start: u8;
    safe static __user_text_start: u8;
}

/// TEE_TCB_INFO facts: MRSEAM is SHA-384 of the shim's CPL 0 code as
/// loaded (`__payload_start..__user_text_start`, the range trap.rs treats
/// as kernel text), so any change to the module's code changes the
/// reports of every TD it runs. TEE_TCB_SVN carries the crate's version
/// (major, minor, patch in bytes 0..2); CPUSVN is zero (no microcode
/// versioning under QEMU).
fn tee_facts() -> tdx_module_shim::TeeFacts {
    use sha2::{Digest, Sha384};
    let (start, end) = (
        &raw const __payload_start as u64,
        &raw const __user_text_start as u64,
    );
    let mut h = Sha384::new();
    let mut at = start;
    while at < end {
        let n = (end - at).min(4096);
        h.update(crate::arch::code_slice(at, n));
        at += n;
    }
    let mut svn = [0u8; 16];
    let v = |s: &str| s.parse::<u8>().unwrap_or(0);
    svn[0] = v(env!("CARGO_PKG_VERSION_MAJOR"));
    svn[1] = v(env!("CARGO_PKG_VERSION_MINOR"));
    svn[2] = v(env!("CARGO_PKG_VERSION_PATCH"));
    tdx_module_shim::TeeFacts {
        mrseam: h.finalize().into(),
        tee_tcb_svn: svn,
        cpu_svn: [0; 16],
    }
}

/// fw_cfg file with the device root secret (`cargo xtask` passes
/// target/dev-root-secret.bin, the same development secret the aarch64
/// EL3 reads from flash). Only CPL 0 can read fw_cfg.
pub const ROOT_SECRET_FILE: &[u8] = b"opt/cmon/root-secret";

/// The device key hierarchy from the fw_cfg root secret, at key version 1
/// (minimum 1), or `None` if the file is missing or not 32..=64 bytes.
pub fn key_hierarchy() -> Option<cmon_keys::KeyHierarchy> {
    let mut buf = cmon_keys::Zeroizing::new([0u8; cmon_keys::ROOT_SECRET_MAX_LEN]);
    let n = fw_cfg::read_file(ROOT_SECRET_FILE, &mut buf[..])?;
    let root = cmon_keys::RootSecret::new(&buf[..n]).ok()?;
    let v = cmon_keys::KeyVersion(1);
    cmon_keys::KeyHierarchy::new(root, v)
        .with_minimum_version(v)
        .ok()
}

/// fw_cfg file that selects the run mode: `-fw_cfg
/// name=opt/cmon/mode,string=bench` (`cargo xtask bench --arch x86_64`).
/// Missing, or `test`: the checks.
pub const MODE_FILE: &[u8] = b"opt/cmon/mode";
/// fw_cfg file with the bench iteration count in decimal (`string=101`).
pub const ITERS_FILE: &[u8] = b"opt/cmon/iters";

/// What the shim does after boot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunMode {
    /// The checks (default).
    Test,
    /// The benchmarks (bench.rs) with this many iterations, or the
    /// default if `opt/cmon/iters` is absent.
    Bench { iters: Option<u32> },
}

/// A fw_cfg string option, without trailing NULs and whitespace.
fn fw_cfg_string<'a>(name: &[u8], buf: &'a mut [u8; 32]) -> Option<&'a [u8]> {
    let n = fw_cfg::read_file(name, buf)?;
    let s = &buf[..n];
    let end = s
        .iter()
        .rposition(|&b| b != 0 && !b.is_ascii_whitespace())
        .map_or(0, |i| i + 1);
    Some(&s[..end])
}

/// The run mode from fw_cfg ([`MODE_FILE`], [`ITERS_FILE`]); an
/// unrecognised value is an error naming the file.
pub fn run_mode() -> Result<RunMode, &'static str> {
    let mut buf = [0u8; 32];
    match fw_cfg_string(MODE_FILE, &mut buf) {
        None | Some(b"test") => return Ok(RunMode::Test),
        Some(b"bench") => {}
        Some(_) => return Err("opt/cmon/mode: not `test` or `bench`"),
    }
    let mut buf = [0u8; 32];
    let iters = match fw_cfg_string(ITERS_FILE, &mut buf) {
        None => None,
        Some(s) => Some(
            core::str::from_utf8(s)
                .ok()
                .and_then(|s| s.parse::<u32>().ok())
                .filter(|&n| n > 0)
                .ok_or("opt/cmon/iters: not a decimal number >= 1")?,
        ),
    };
    Ok(RunMode::Bench { iters })
}
