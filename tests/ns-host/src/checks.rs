//! Scripted checks: one result line each, then the summary.

use crate::hw::{self, println};
use crate::rmi::*;
use crate::smp;

/// Test granules: NS DRAM well away from the images, the RMM carve-out and
/// QEMU's DTB; inside the first 1 GiB so any `-m` >= 1G works.
pub const POOL: u64 = 0x5000_0000;

pub struct Report {
    passed: u64,
    failed: u64,
}

impl Report {
    pub fn check(&mut self, name: &str, ok: bool, detail: core::fmt::Arguments<'_>) {
        if ok {
            self.passed += 1;
            println!("[PASS] {name}: {detail}");
        } else {
            self.failed += 1;
            println!("[FAIL] {name}: {detail}");
        }
    }
}

pub fn is_gpf(esr: u64) -> bool {
    // EC 0x25 = data abort at the same EL; DFSC 0x28 = GPF not on a walk
    // (qemu-platforms.md §2.4).
    esr >> 26 == 0x25 && esr & 0x3F == 0x28
}

pub fn page_is(pa: u64, byte: u8) -> bool {
    (0..4096)
        .step_by(8)
        .all(|o| hw::read_u64(pa + o) == u64::from_ne_bytes([byte; 8]))
}

/// Run every check; returns the number of failures.
pub fn run() -> u64 {
    let mut r = Report {
        passed: 0,
        failed: 0,
    };

    let v = call(RMI_VERSION, RMI_ABI_VERSION);
    r.check(
        "rmi_version",
        v[0] == SUCCESS && v[1] == RMI_ABI_VERSION && v[2] == RMI_ABI_VERSION,
        format_args!("status {} lower {:#x} higher {:#x}", v[0], v[1], v[2]),
    );
    let v = call(RMI_VERSION, 0x2_0000);
    r.check(
        "rmi_version_unsupported",
        v[0] == ERROR_INPUT && v[1] == RMI_ABI_VERSION,
        format_args!("requested 2.0 -> status {} lower {:#x}", v[0], v[1]),
    );
    let v = call(RMI_VERSION | SVE_HINT, RMI_ABI_VERSION);
    r.check(
        "rmi_sve_hint_masked",
        v[0] == SUCCESS,
        format_args!("FID|bit16 -> status {}", v[0]),
    );
    let v = hw::smc([RMI_VERSION, RMI_ABI_VERSION, 0, 0, 0xDEAD_BEEF, 0, 0, 0]);
    r.check(
        "rmi_x4_preserved",
        v[4] == 0xDEAD_BEEF,
        format_args!("x4 = {:#x}", v[4]),
    );
    let a = call(0xC400_0156, 0)[0];
    let b = call(0xC400_016A, 0)[0];
    r.check(
        "rmi_unknown_fid",
        a == SMC_UNKNOWN && b == SMC_UNKNOWN,
        format_args!("0x156 -> {a:#x}, 0x16A -> {b:#x}"),
    );
    let f = call(RMI_FEATURES, 0);
    let f1 = call(RMI_FEATURES, 1);
    r.check(
        "rmi_features",
        f[0] == SUCCESS && f[1] & 0xFF >= 32 && f[1] >> 32 & 3 == 3 && f1[1] == 0,
        format_args!(
            "reg0 {:#x} (S2SZ {}), index 1 -> {:#x}",
            f[1],
            f[1] & 0xFF,
            f1[1]
        ),
    );

    let g = POOL;
    hw::fill_page(g, 0xA5);
    let s = delegate(g);
    r.check(
        "delegate",
        s == SUCCESS,
        format_args!("{g:#x} -> status {s}"),
    );
    let p = hw::probe(g);
    r.check(
        "delegated_read_gpf",
        is_gpf(p.esr) && p.far == g,
        format_args!(
            "NS load -> ESR_EL2 {:#x} FAR {:#x} (granule protection fault)",
            p.esr, p.far
        ),
    );
    let s = delegate(g);
    r.check(
        "delegate_twice",
        s == ERROR_INPUT,
        format_args!("status {s}"),
    );
    let s = undelegate(g);
    r.check("undelegate", s == SUCCESS, format_args!("status {s}"));
    let p = hw::probe(g);
    r.check(
        "undelegated_reads_zero",
        p.esr == 0 && page_is(g, 0),
        format_args!(
            "first word {:#x}, whole granule zero: {}",
            p.value,
            page_is(g, 0)
        ),
    );
    let s = undelegate(g);
    r.check(
        "undelegate_twice",
        s == ERROR_INPUT,
        format_args!("status {s}"),
    );

    hw::fill_page(g, 0x5A);
    let s = delegate(g + 8);
    r.check(
        "delegate_misaligned",
        s == ERROR_INPUT && hw::probe(g).esr == 0 && page_is(g, 0x5A),
        format_args!("{:#x} -> status {s}, granule unchanged", g + 8),
    );
    for (name, pa) in [
        ("delegate_out_of_range_high", 0xFF_FFFF_F000u64),
        ("delegate_out_of_range_flash", 0x0),
        ("delegate_rmm_image", 0x4010_0000),
        ("delegate_el3_shared_page", 0x418F_F000),
    ] {
        let s = delegate(pa);
        r.check(
            name,
            s == ERROR_INPUT,
            format_args!("{pa:#x} -> status {s}"),
        );
    }
    let s = undelegate(0x4010_0000);
    r.check(
        "undelegate_rmm_image",
        s == ERROR_INPUT,
        format_args!("status {s}"),
    );

    // A trapped, unemulated register access must come back as an UNDEF to
    // this host (EC 0x00, IL set), never stop the machine.
    let esr = hw::probe_trapped_sysreg();
    r.check(
        "el3_trap_injects_undef",
        esr == 1 << 25,
        format_args!("HFGRTR_EL2 read -> ESR_EL2 {esr:#x} (UNDEF injected by EL3)"),
    );
    crate::realm::run(&mut r);
    crate::psci_realm::run(&mut r);
    crate::gic_realm::run(&mut r);
    crate::timer_realm::run(&mut r);
    crate::fold_realm::run(&mut r);
    let v = hw::smc([hw::PSCI_VERSION, 0, 0, 0, 0, 0, 0, 0])[0];
    r.check("psci_version", v == 0x1_0001, format_args!("{v:#x}"));
    let s = smp::run_secondaries();
    r.check(
        "smp_secondaries",
        s.ok(),
        format_args!(
            "{} secondaries started, {} passed, {} failed, CPU_ON(self) -> {}",
            s.started, s.passed, s.failed, s.self_on
        ),
    );
    let p = hw::probe(smp::SHARED);
    r.check(
        "smp_shared_granule_ns",
        p.esr == 0,
        format_args!("contended granule ends Non-secure (ESR {:#x})", p.esr),
    );
    let want = s.stress_cpus * crate::stress::ROUNDS as u32;
    r.check(
        "smp_realm_stress",
        s.stress_rounds == want && s.stress_cpus >= 1,
        format_args!(
            "{} CPUs x {} rounds of realm build/run/teardown in parallel: {} of {want} clean",
            s.stress_cpus,
            crate::stress::ROUNDS,
            s.stress_rounds
        ),
    );
    crate::vmm::run(&mut r);

    println!("ns-host: {} passed, {} failed", r.passed, r.failed);
    r.failed
}
