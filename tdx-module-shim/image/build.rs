//! Links the shim with the q35 `-bios` linker script as a non-PIE static
//! executable: the 16- and 32-bit boot code has absolute relocations that a
//! PIE link rejects (qemu-platforms.md §3.3).
fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let script = format!("{dir}/../../linker/q35-bios.ld");
    println!("cargo:rustc-link-arg-bins=-T{script}");
    println!("cargo:rustc-link-arg-bins=--no-pie");
    println!("cargo:rerun-if-changed={script}");
    println!("cargo:rerun-if-changed=src/harness.S");
}
