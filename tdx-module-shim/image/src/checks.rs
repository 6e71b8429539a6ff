//! Check bookkeeping shared by all CPUs: every check prints one
//! `cpuN: name ... ok|FAILED (detail)` line and counts towards the summary
//! `tdx-shim: N passed, M failed` that `cargo xtask` parses.

use core::fmt;
use core::sync::atomic::{AtomicU32, Ordering};

use qemu_q35::{CpuIndex, println};

static PASSED: AtomicU32 = AtomicU32::new(0);
static FAILED: AtomicU32 = AtomicU32::new(0);

/// Records one check.
pub fn check(cpu: CpuIndex, name: &str, ok: bool, detail: fmt::Arguments<'_>) {
    if ok {
        PASSED.fetch_add(1, Ordering::Relaxed);
        println!("cpu{}: {name} ... ok ({detail})", cpu.0);
    } else {
        FAILED.fetch_add(1, Ordering::Relaxed);
        println!("cpu{}: {name} ... FAILED ({detail})", cpu.0);
    }
}

/// Records that `got` equals `want`.
pub fn check_eq(cpu: CpuIndex, name: &str, got: u64, want: u64) {
    check(
        cpu,
        name,
        got == want,
        format_args!("got {got:#x}, want {want:#x}"),
    );
}

/// (passed, failed) so far.
pub fn totals() -> (u32, u32) {
    (
        PASSED.load(Ordering::Acquire),
        FAILED.load(Ordering::Acquire),
    )
}
