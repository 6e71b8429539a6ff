//! `cargo xtask`: builds the firmware images, packages the QEMU flash image
//! and boots it on `qemu-system-aarch64`, or builds the x86 TDX module shim
//! image and boots it on `qemu-system-x86_64` (see `cargo xtask --help`).
//!
//! Host tool (std). The firmware crates are built into the normal workspace
//! target directory (`<workspace>/target`), whatever `CARGO_TARGET_DIR` says.

mod arch;
mod attest;
mod b64url;
mod build;
mod capture;
mod cli;
mod cli_attest;
mod commands;
mod elf;
mod guest;
mod help;
mod jwk;
mod package;
mod provision;
mod pycheck;
mod qemu;
mod report;
mod sealing;
#[cfg(test)]
mod smoke_tests;
mod td_attest;
mod token;
mod x86;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Errors are human-readable messages; `main` prints them with an `xtask:` prefix.
pub type Result<T> = std::result::Result<T, String>;

/// Returns early with a formatted error message.
#[macro_export]
macro_rules! bail {
    ($($arg:tt)*) => { return Err(format!($($arg)*)) };
}

/// The bare-metal target all firmware crates are built for.
pub const FIRMWARE_TARGET: &str = "aarch64-unknown-none-softfloat";
/// The Cargo profile used for firmware images.
pub const FIRMWARE_PROFILE: &str = "firmware";

/// The x86 target of the TDX module shim image.
pub const X86_TARGET: &str = "x86_64-unknown-none";
/// Cargo package (and binary) of the x86 TDX module shim image.
pub const X86_SHIM_PACKAGE: &str = "tdx-shim-image";
/// File name of the padded q35 `-bios` image under `target/images/`.
pub const X86_IMAGE_NAME: &str = "q35-tdx-shim.bin";

/// One firmware crate and where its image goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Firmware {
    /// Cargo package (and binary) name.
    pub package: &'static str,
    /// File name of the flat binary under `target/images/`.
    pub flat_name: &'static str,
    /// Link address of the ELF (its first loadable byte).
    pub link_addr: u64,
    /// Where the image is loaded on QEMU virt.
    pub load_addr: u64,
    /// Flash package entry id; `None` for the EL3 monitor at offset 0.
    pub package_id: Option<u32>,
}

/// EL3 monitor: linked at 0x0, executes in place from secure flash.
pub const EL3: Firmware = Firmware {
    package: "qemu-virt-el3",
    flat_name: "qemu-virt-el3.bin",
    link_addr: 0x0,
    load_addr: 0x0,
    package_id: None,
};
/// R-EL2 RMM image: position independent (a PIE linked at 0, relocating
/// itself at cold boot), loaded at TF-A's QEMU address.
pub const RMM: Firmware = Firmware {
    package: "rmm-image",
    flat_name: "rmm.bin",
    link_addr: 0x0,
    load_addr: 0x4010_0000,
    package_id: Some(package::ID_RMM),
};
/// NS-EL2 test host (BL33).
pub const NS_HOST: Firmware = Firmware {
    package: "ns-host",
    flat_name: "ns-host.bin",
    link_addr: 0x6000_0000,
    load_addr: 0x6000_0000,
    package_id: Some(package::ID_NS),
};
/// The realm guest the NS host runs (tests/realm-guest): linked at its
/// realm IPA, loaded by QEMU's `-device loader` into NS DRAM, where the
/// host reads it like a VMM reads a kernel file (not in the flash package).
pub const REALM_GUEST: Firmware = Firmware {
    package: "realm-guest",
    flat_name: "realm-guest.bin",
    link_addr: 0x2_0000,
    load_addr: guest::IMAGE_NS,
    package_id: None,
};
/// All firmware crates, in package order.
pub const FIRMWARE: [Firmware; 4] = [EL3, RMM, NS_HOST, REALM_GUEST];

/// Well-known paths inside the workspace.
#[derive(Debug, Clone)]
pub struct Paths {
    /// Workspace root (holds the root `Cargo.toml`).
    pub root: PathBuf,
}

impl Paths {
    /// The workspace containing this xtask crate (`CARGO_MANIFEST_DIR/..`).
    pub fn workspace() -> Self {
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
        let root = manifest.parent().unwrap_or(manifest).to_path_buf();
        Paths { root }
    }

    /// The normal workspace target directory (never `CARGO_TARGET_DIR`).
    pub fn target_dir(&self) -> PathBuf {
        self.root.join("target")
    }

    /// Where Cargo puts the firmware ELF of `fw`.
    pub fn elf(&self, fw: &Firmware) -> PathBuf {
        self.target_dir()
            .join(FIRMWARE_TARGET)
            .join(FIRMWARE_PROFILE)
            .join(fw.package)
    }

    /// Output directory for flat binaries and the flash package.
    pub fn images(&self) -> PathBuf {
        self.target_dir().join("images")
    }

    /// Flat binary of `fw`.
    pub fn flat(&self, fw: &Firmware) -> PathBuf {
        self.images().join(fw.flat_name)
    }

    /// The `-bios` flash package.
    pub fn bios(&self) -> PathBuf {
        self.images().join("qemu-virt-bios.bin")
    }

    /// The ELF of the x86 TDX module shim.
    pub fn x86_elf(&self) -> PathBuf {
        self.target_dir()
            .join(X86_TARGET)
            .join(FIRMWARE_PROFILE)
            .join(X86_SHIM_PACKAGE)
    }

    /// The padded q35 `-bios` image of the shim.
    pub fn x86_image(&self) -> PathBuf {
        self.images().join(X86_IMAGE_NAME)
    }

    /// The development device root secret (`cargo xtask build` creates it).
    pub fn dev_root_secret(&self) -> PathBuf {
        self.target_dir().join("dev-root-secret.bin")
    }

    /// Attestation artefacts of the last boot (docs/attestation.md).
    pub fn attestation_dir(&self) -> PathBuf {
        self.target_dir().join("attestation")
    }

    /// The CCA token captured from the console of the last boot.
    pub fn cca_token(&self) -> PathBuf {
        self.attestation_dir().join("cca-token.cbor")
    }

    /// The platform trust anchor: the CPAK public key as a JWK.
    pub fn platform_jwk(&self) -> PathBuf {
        self.attestation_dir().join("platform-key.jwk.json")
    }

    /// The Python virtual environment of the independent token check.
    pub fn pyenv(&self) -> PathBuf {
        self.target_dir().join("pyenv")
    }

    /// `path` relative to the workspace root when it is inside it.
    pub fn rel<'a>(&self, path: &'a Path) -> &'a Path {
        path.strip_prefix(&self.root).unwrap_or(path)
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let cmd = match cli::parse(&args) {
        Ok(cmd) => cmd,
        Err(e) => {
            eprintln!("xtask: {e}");
            eprintln!("Try `cargo xtask --help`.");
            return ExitCode::from(2);
        }
    };
    let paths = Paths::workspace();
    match commands::dispatch(&cmd, &paths) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("xtask: error: {e}");
            ExitCode::FAILURE
        }
    }
}
