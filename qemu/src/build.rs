//! Building the firmware crates, flat binaries and the flash package.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::elf::{Elf, SizeSummary};
use crate::package::{self, Image};
use crate::{FIRMWARE, FIRMWARE_PROFILE, FIRMWARE_TARGET, Firmware, Paths, Result, bail};

/// The `cargo` that runs us (`$CARGO`), else the one on PATH.
pub fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// Arguments of the one firmware `cargo build`.
pub fn firmware_build_args(target_dir: &Path) -> Vec<String> {
    let mut args: Vec<String> = [
        "build",
        "--profile",
        FIRMWARE_PROFILE,
        "--target",
        FIRMWARE_TARGET,
        "--target-dir",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.push(target_dir.display().to_string());
    for fw in FIRMWARE {
        args.push("-p".into());
        args.push(fw.package.into());
    }
    args
}

/// Runs `cargo ARGS` at the workspace root (echoing the command); `what`
/// names the step in the error.
pub fn run_cargo(paths: &Paths, args: &[String], what: &str) -> Result<()> {
    println!("xtask: cargo {}", args.join(" "));
    let status = cargo()
        .args(args)
        .current_dir(&paths.root)
        .env_remove("CARGO_TARGET_DIR")
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        bail!("{what} failed ({status})");
    }
    Ok(())
}

/// `cargo xtask lint`: clippy with `-D warnings` on host and firmware crates.
pub fn lint(paths: &Paths) -> Result<()> {
    let host: Vec<String> = ["clippy", "--all-targets", "--", "-D", "warnings"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    run_cargo(paths, &host, "cargo clippy (host crates)")?;
    let mut fw = firmware_build_args(&paths.target_dir());
    fw[0] = "clippy".into();
    fw.extend(["--".into(), "-D".into(), "warnings".into()]);
    run_cargo(paths, &fw, "cargo clippy (firmware)")?;
    let mut x86 = crate::x86::build_args(&paths.target_dir());
    x86[0] = "clippy".into();
    x86.extend(["-p", "qemu-q35", "--", "-D", "warnings"].map(String::from));
    run_cargo(paths, &x86, "cargo clippy (x86 firmware)")?;
    println!("xtask: lint passed");
    Ok(())
}

/// Builds the three firmware crates into `<workspace>/target`.
pub fn cargo_build_firmware(paths: &Paths) -> Result<()> {
    run_cargo(
        paths,
        &firmware_build_args(&paths.target_dir()),
        "firmware build",
    )
}

/// Host triple from `rustc -vV` output.
pub fn host_triple(rustc_vv: &str) -> Option<&str> {
    rustc_vv
        .lines()
        .find_map(|l| l.strip_prefix("host:"))
        .map(str::trim)
}

fn rustc_output(paths: &Paths, args: &[&str]) -> Result<String> {
    let out = Command::new("rustc")
        .args(args)
        .current_dir(&paths.root)
        .output()
        .map_err(|e| format!("cannot run rustc: {e}"))?;
    if !out.status.success() {
        bail!(
            "`rustc {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `llvm-objcopy` of the rustup `llvm-tools` component.
pub fn llvm_objcopy(paths: &Paths) -> Result<PathBuf> {
    let sysroot = rustc_output(paths, &["--print", "sysroot"])?;
    let vv = rustc_output(paths, &["-vV"])?;
    let host = host_triple(&vv).ok_or("no `host:` line in `rustc -vV`")?;
    let exe = if cfg!(windows) {
        "llvm-objcopy.exe"
    } else {
        "llvm-objcopy"
    };
    let path = Path::new(sysroot.trim())
        .join("lib/rustlib")
        .join(host)
        .join("bin")
        .join(exe);
    if !path.is_file() {
        bail!(
            "llvm-objcopy not found at {}; run: rustup component add llvm-tools",
            path.display()
        );
    }
    Ok(path)
}

pub fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

pub fn write(path: &Path, data: &[u8]) -> Result<()> {
    std::fs::write(path, data).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Checks that the ELF of `fw` is an aarch64 image linked where it must be.
fn check_elf(paths: &Paths, fw: &Firmware) -> Result<()> {
    let path = paths.elf(fw);
    let elf = Elf::parse(&read(&path)?).map_err(|e| format!("{}: {e}", path.display()))?;
    const EM_AARCH64: u16 = 183;
    if elf.machine != EM_AARCH64 {
        bail!(
            "{}: not an aarch64 ELF (e_machine {})",
            path.display(),
            elf.machine
        );
    }
    match elf.load_base() {
        None => bail!("{}: no loadable contents", path.display()),
        Some(base) if base != fw.link_addr => bail!(
            "{}: first loadable byte is at {base:#x}, but {} must be linked at {:#x}",
            path.display(),
            fw.package,
            fw.link_addr
        ),
        Some(_) => Ok(()),
    }
}

/// `llvm-objcopy -O binary` of each firmware ELF into `target/images/`.
fn objcopy_all(paths: &Paths) -> Result<()> {
    let objcopy = llvm_objcopy(paths)?;
    std::fs::create_dir_all(paths.images())
        .map_err(|e| format!("cannot create {}: {e}", paths.images().display()))?;
    for fw in FIRMWARE {
        check_elf(paths, &fw)?;
        let (elf, bin) = (paths.elf(&fw), paths.flat(&fw));
        let status = Command::new(&objcopy)
            .arg("-O")
            .arg("binary")
            .arg(&elf)
            .arg(&bin)
            .status()
            .map_err(|e| format!("cannot run {}: {e}", objcopy.display()))?;
        if !status.success() {
            bail!("llvm-objcopy failed on {} ({status})", elf.display());
        }
    }
    Ok(())
}

/// The development device root secret: `target/dev-root-secret.bin`, 32
/// random bytes made once per checkout (from /dev/urandom) and reused, so
/// keys derived from it (attestation, sealing) stay the same across builds
/// and boots. QEMU has no fuses; this file stands in for them and is packed
/// into secure flash, which only EL3 can read. Delete it to get a new device.
pub fn dev_root_secret(paths: &Paths) -> Result<Vec<u8>> {
    let path = paths.dev_root_secret();
    if let Ok(data) = std::fs::read(&path) {
        if data.len() == package::DEV_ROOT_SECRET_LEN {
            return Ok(data);
        }
        bail!(
            "{} must be exactly {} bytes; delete it to generate a new one",
            path.display(),
            package::DEV_ROOT_SECRET_LEN
        );
    }
    let mut data = vec![0u8; package::DEV_ROOT_SECRET_LEN];
    let mut rng = std::fs::File::open("/dev/urandom")
        .map_err(|e| format!("cannot open /dev/urandom for the dev root secret: {e}"))?;
    std::io::Read::read_exact(&mut rng, &mut data)
        .map_err(|e| format!("cannot read /dev/urandom: {e}"))?;
    std::fs::create_dir_all(paths.target_dir()).map_err(|e| format!("target dir: {e}"))?;
    write(&path, &data)?;
    println!(
        "xtask: generated development root secret {}",
        paths.rel(&path).display()
    );
    Ok(data)
}

/// The device root secret file for an x86 boot (made if missing, as for
/// the aarch64 flash package); `None` on aarch64, where it is in flash.
pub fn x86_root_secret(
    arch: crate::cli::Arch,
    paths: &Paths,
) -> Result<Option<std::path::PathBuf>> {
    if arch != crate::cli::Arch::X86_64 {
        return Ok(None);
    }
    dev_root_secret(paths)?;
    Ok(Some(paths.dev_root_secret()))
}

/// Writes the `-bios` flash package from the flat binaries.
fn write_package(paths: &Paths) -> Result<Vec<package::Entry>> {
    let el3 = read(&paths.flat(&crate::EL3))?;
    let mut blobs = Vec::new();
    for fw in FIRMWARE.iter().filter(|f| f.package_id.is_some()) {
        blobs.push((fw, read(&paths.flat(fw))?));
    }
    let secret = dev_root_secret(paths)?;
    let mut images: Vec<Image> = blobs
        .iter()
        .map(|(fw, data)| Image {
            id: fw.package_id.expect("filtered"),
            load_addr: fw.load_addr,
            data,
        })
        .collect();
    images.push(Image {
        id: package::ID_DEV_ROOT_SECRET,
        load_addr: 0,
        data: &secret,
    });
    let (pkg, entries) =
        package::build(&el3, &images).map_err(|e| format!("flash package: {e}"))?;
    package::parse(&pkg).map_err(|e| format!("flash package self-check: {e}"))?;
    write(&paths.bios(), &pkg)?;
    Ok(entries)
}

/// `1234567 B (1205.6 KiB)`.
pub fn human(bytes: u64) -> String {
    if bytes >= 1 << 20 {
        format!("{bytes} B ({:.2} MiB)", bytes as f64 / (1u64 << 20) as f64)
    } else {
        format!("{bytes} B ({:.1} KiB)", bytes as f64 / 1024.0)
    }
}

/// `cargo xtask build`: everything up to the flash package; returns its path.
pub fn build_all(paths: &Paths) -> Result<PathBuf> {
    cargo_build_firmware(paths)?;
    objcopy_all(paths)?;
    let entries = write_package(paths)?;
    println!("xtask: images in {}:", paths.rel(&paths.images()).display());
    for fw in FIRMWARE {
        let len = std::fs::metadata(paths.flat(&fw)).map_or(0, |m| m.len());
        println!(
            "  {:<18} {:<24} load {:#012x}",
            fw.flat_name,
            human(len),
            fw.load_addr
        );
    }
    let bios = paths.bios();
    let len = std::fs::metadata(&bios).map_or(0, |m| m.len());
    println!("  {:<18} {}", "qemu-virt-bios.bin", human(len));
    println!("    0x000000  EL3 monitor");
    println!(
        "    {:#08x}  package header, {} entries",
        package::HEADER_OFFSET,
        entries.len()
    );
    for e in &entries {
        let name = match e.id {
            package::ID_RMM => "RMM",
            package::ID_NS => "NS payload",
            package::ID_DEV_ROOT_SECRET => "dev secret",
            _ => "?",
        };
        println!(
            "    {:#08x}  id {} {:<10} {:>8} B -> {:#x}",
            e.offset, e.id, name, e.size, e.load_addr
        );
    }
    Ok(bios)
}

/// One row of the `size` table.
pub fn size_row(name: &str, s: &SizeSummary) -> String {
    format!(
        "{:<14} {:>9} {:>9} {:>9} {:>9} {:>9} {:>10} {:>10}",
        name,
        s.text,
        s.rodata,
        s.data,
        s.bss,
        s.other,
        s.text + s.rodata + s.data,
        s.total()
    )
}

/// `cargo xtask size`.
pub fn size(paths: &Paths) -> Result<()> {
    cargo_build_firmware(paths)?;
    println!(
        "{:<14} {:>9} {:>9} {:>9} {:>9} {:>9} {:>10} {:>10}",
        "image", ".text", ".rodata", ".data", ".bss", "other", "flash", "total"
    );
    for fw in FIRMWARE {
        let path = paths.elf(&fw);
        let elf = Elf::parse(&read(&path)?).map_err(|e| format!("{}: {e}", path.display()))?;
        println!("{}", size_row(fw.package, &SizeSummary::of(&elf)));
    }
    println!("(bytes; flash = .text + .rodata + .data; other = remaining allocated sections)");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_args_are_one_command() {
        let a = firmware_build_args(Path::new("/ws/target"));
        assert_eq!(
            a.join(" "),
            "build --profile firmware --target aarch64-unknown-none-softfloat \
             --target-dir /ws/target -p qemu-virt-el3 -p rmm-image -p ns-host -p realm-guest"
        );
    }

    #[test]
    fn parses_host_triple() {
        let vv = "rustc 1.95.0 (59807616e 2026-04-14)\nbinary: rustc\n\
                  host: x86_64-unknown-linux-gnu\nrelease: 1.95.0\n";
        assert_eq!(host_triple(vv), Some("x86_64-unknown-linux-gnu"));
        assert_eq!(host_triple("nothing"), None);
    }

    #[test]
    fn paths_use_workspace_target() {
        let p = Paths {
            root: PathBuf::from("/ws"),
        };
        assert_eq!(
            p.elf(&crate::RMM),
            Path::new("/ws/target/aarch64-unknown-none-softfloat/firmware/rmm-image")
        );
        assert_eq!(p.bios(), Path::new("/ws/target/images/qemu-virt-bios.bin"));
        assert_eq!(
            p.flat(&crate::NS_HOST),
            Path::new("/ws/target/images/ns-host.bin")
        );
        assert_eq!(
            p.rel(&p.bios()),
            Path::new("target/images/qemu-virt-bios.bin")
        );
    }

    #[test]
    fn human_sizes() {
        assert_eq!(human(512), "512 B (0.5 KiB)");
        assert_eq!(human(3 << 20), "3145728 B (3.00 MiB)");
    }

    #[test]
    fn size_row_totals() {
        let s = SizeSummary {
            text: 10,
            rodata: 20,
            data: 30,
            bss: 40,
            other: 5,
        };
        let row = size_row("x", &s);
        assert!(row.ends_with("        60        105"), "{row}");
    }
}
