//! Links the RMM image with its linker script.
fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let script = format!("{dir}/../../linker/rmm.ld");
    println!("cargo:rustc-link-arg-bins=-T{script}");
    // Position independent: the entry code applies .rela.dyn itself, so
    // relocations in read-only sections are fine (-z notext).
    println!("cargo:rustc-link-arg-bins=-pie");
    println!("cargo:rustc-link-arg-bins=--no-dynamic-linker");
    println!("cargo:rustc-link-arg-bins=-z");
    println!("cargo:rustc-link-arg-bins=notext");
    println!("cargo:rerun-if-changed={script}");
    println!("cargo:rerun-if-changed=src/asm");
}
