//! What the second TD (td_run.rs) reported of its memory and GHCI steps
//! (td_guest.S `memory_steps`), what the VMM's memory service saw, and the
//! quote GetQuote made, checked one line each.

use tdx_module_shim::{Code, Hpa};

use qemu_q35::CpuIndex;

use crate::checks::{check, check_eq};
use crate::td_mem::TdMem;
use crate::{global, st0};

/// What the TD reported of its memory steps (td_guest.S `memory_steps`)
/// and what the VMM's memory service saw; then the quote GetQuote made.
/// Returns the quoting service's TSC ticks.
pub fn memory_checks(cpu: CpuIndex, tdr: u64, r: &[Option<u64>], mem: &TdMem) -> u64 {
    use crate::td_mem::vmcall_status::INVALID_OPERAND;
    let got = |i: usize| r.get(i).copied().flatten().unwrap_or(u64::MAX);
    let s = &mem.stats;
    check_eq(
        cpu,
        "TD2 TDG.MEM.PAGE.ACCEPT of an un-added GPA: EPT-violation exit, VMM PAGE.AUG, rerun accepts",
        got(0),
        0,
    );
    check_eq(
        cpu,
        "TD2 ACCEPT again -> PAGE_ALREADY_ACCEPTED (warning, level 0)",
        got(1),
        st0(Code::PageAlreadyAccepted),
    );
    check_eq(
        cpu,
        "TD2 GHCI MapGPA of 8 KiB to shared (VMM: RANGE.BLOCK, MEM.TRACK, PAGE.REMOVE, shared EPT)",
        got(2),
        0,
    );
    check_eq(
        cpu,
        "TD2 GHCI GetQuote over an 8 KiB shared buffer: R10",
        got(3),
        0,
    );
    check_eq(cpu, "TD2 GetQuote buffer status SUCCESS", got(4), 0);
    let qlen = s.quote.as_ref().map_or(0, |q| q.len() as u64);
    check(
        cpu,
        "TD2 read the quote back from shared memory: out_len and version 4",
        qlen != 0 && got(5) == qlen | 4 << 32,
        format_args!("{qlen} bytes"),
    );
    check_eq(
        cpu,
        "TD2 GetQuote over a private GPA -> INVALID_OPERAND",
        got(6),
        INVALID_OPERAND,
    );
    check_eq(
        cpu,
        "TD2 write to an unmapped shared GPA: EPT-violation exit, VMM maps a page, rerun",
        got(7),
        0x5EED_5EED,
    );
    check_eq(cpu, "TD2 GHCI MapGPA back to private", got(8), 0);
    check_eq(
        cpu,
        "TD2 ACCEPT after the conversion (lazy AUG again)",
        got(9),
        0,
    );
    check_eq(
        cpu,
        "TD2 the re-accepted page reads all zeros (its shared data is gone)",
        got(10),
        0,
    );
    check_eq(cpu, "TD2 GHCI <Instruction.CPUID> leaf 0: R10", got(11), 0);
    check_eq(
        cpu,
        "TD2 GHCI CPUID answer (EBX, ECX, EDX) = the CPU's own CPUID",
        got(12),
        1,
    );
    check_eq(
        cpu,
        "TD2 GHCI MMIO 8-byte read of the VMM device's ID register",
        got(13),
        crate::td_ghci::MMIO_ID,
    );
    check_eq(
        cpu,
        "TD2 GHCI MMIO write of the scratch register, 4-byte read back",
        got(14),
        0x5566_7788,
    );
    check_eq(cpu, "TD2 GHCI <Instruction.HLT>: R10", got(15), 0);
    check_eq(
        cpu,
        "TD2 TDG.VM.WR NOTIFY_ENABLES (as Linux at boot)",
        got(16),
        0,
    );
    let mrtd0 = global::MODULE
        .get()
        .and_then(|m| m.td_info(Hpa(tdr)).ok())
        .and_then(|i| i.mrtd)
        .map(|d| u64::from_le_bytes(core::array::from_fn(|i| d[i])));
    check(
        cpu,
        "TD2 TDG.VM.RD of the MRTD's first 8 bytes = the TD's MRTD",
        got(18) == 0 && Some(got(17)) == mrtd0,
        format_args!("status {:#x}, {:#x}", got(18), got(17)),
    );
    check(
        cpu,
        "TD2 VMM memory service: 3 EPT violations, 2 PAGE.AUGs, 1 PAGE.REMOVE, 3 shared maps",
        s.ept_violations == 3 && s.augs == 2 && s.removes == 1 && s.shared_maps == 3,
        format_args!(
            "{} violations, {} AUGs, {} REMOVEs ({} retries while the other vCPU held the epoch), {} shared maps",
            s.ept_violations, s.augs, s.removes, s.track_retries, s.shared_maps
        ),
    );
    match (&s.report, &s.quote) {
        (Some(report), Some(quote)) => quote_checks(cpu, tdr, report, quote),
        _ => check(
            cpu,
            "TD2 GetQuote produced a quote",
            false,
            format_args!(""),
        ),
    }
    s.quote_ticks
}

/// The quote the quoting service made over GetQuote for the TD's report:
/// it verifies with the platform's attestation key and carries the TD's
/// MRTD and REPORTDATA; a report with one flipped bit is refused. Report
/// and quote are printed for `cargo xtask` (target/attestation/
/// td-report.bin, td-quote.bin).
fn quote_checks(cpu: CpuIndex, tdr: u64, report: &[u8; 1024], quote: &[u8]) {
    use cmon_evidence::tdx::verify_quote_v4;
    use tdx_module_shim::TdxPlatform;
    let Some(m) = global::MODULE.get() else {
        return;
    };
    let ak = m
        .platform()
        .keys()
        .and_then(|k| k.tdx_quote_signing_key().ok());
    let fields = ak.and_then(|k| verify_quote_v4(quote, k.verifying_key()).ok());
    let mrtd = m.td_info(Hpa(tdr)).ok().and_then(|i| i.mrtd);
    let want_data: [u8; 64] = core::array::from_fn(|i| 0xA0 + i as u8);
    check(
        cpu,
        "TD2 quote v4 verifies (AK signature, QE report binding) and carries MRTD + REPORTDATA",
        fields.as_ref().is_some_and(|f| {
            Some(f.body.mr_td) == mrtd && f.body.report_data == want_data && f.header.version == 4
        }),
        format_args!("{} bytes", quote.len()),
    );
    let mut forged = *report;
    forged[0x80] ^= 1;
    check(
        cpu,
        "TD2 quoting service refuses a report with a flipped REPORTDATA bit",
        crate::quote::quote(&forged).is_err(),
        format_args!(""),
    );
    crate::quote::print_blob("TD-REPORT", report);
    crate::quote::print_blob("TD-QUOTE", quote);
}
