//! Conditions the coverage table listed as untested, part 3: the guest
//! attestation and sealing leaves on a platform without a device root
//! secret (`FakePlat::remove_keys`), and TDG.MR.VERIFYREPORT's unreadable
//! REPORTMACSTRUCT. A failing TDCALL answers the exact status, writes no
//! other guest register (`Call::Guest`), leaves the vCPU running and
//! changes nothing.
mod common;
#[path = "common/untested.rs"]
mod untested;

use common::contention::*;
use common::mem_mgmt::*;
use common::*;
use untested::*;

use tdx_module_shim::*;

const MR_REPORT: u64 = 4;
const VERIFYREPORT: u64 = 22;
const SEAL_VERSIONS: u64 = 0x7F00;
const SEAL_KEY: u64 = 0x7F01;

/// A RUNNABLE TD whose vCPU runs on LP0.
fn entered() -> M {
    let m = runnable();
    enter_vcpu(&m);
    m
}

/// `entered`, with its TDREPORT at GPA 0x1400 (REPORTDATA at 0x1040).
fn reported() -> M {
    let m = entered();
    assert_eq!(tdcall(&m, MR_REPORT, 0x1400, 0x1040), 0);
    m
}

/// `reported`, plus a PENDING page at GPA 0x2000.
fn reported_pending() -> M {
    let m = augmented();
    enter_vcpu(&m);
    assert_eq!(tdcall(&m, MR_REPORT, 0x1400, 0x1040), 0);
    m
}

/// `entered` on a platform that has no device root secret.
fn keyless() -> M {
    let m = entered();
    m.platform().remove_keys();
    m
}

/// `reported`, then the root secret is gone: the REPORTMACSTRUCT at
/// 0x1400 is one this TD really got.
fn keyless_reported() -> M {
    let m = reported();
    m.platform().remove_keys();
    m
}

fn report(rcx: u64, rdx: u64, r8: u64) -> Call {
    Call::Guest(MR_REPORT, [rcx, rdx, r8])
}

fn verify(rcx: u64) -> Call {
    Call::Guest(VERIFYREPORT, [rcx, 0, 0])
}

fn seal_key(policy: u64, version: u64) -> Call {
    Call::Guest(SEAL_KEY, [policy, version, 0])
}

const SEAL_VERSIONS_CALL: Call = Call::Guest(SEAL_VERSIONS, [0, 0, 0]);

#[test]
fn no_key_hierarchy() {
    use OperandId::*;
    let no_keys = st(INV, Rax);
    run_rows(&[
        // TDG.MR.REPORT row 4: after the three operand checks.
        ("MR.REPORT", keyless, report(0x1400, 0x1040, 0), no_keys),
        (
            "MR.REPORT unmapped REPORTDATA",
            keyless,
            report(0x1400, 0x9040, 0),
            no_keys,
        ),
        (
            "MR.REPORT subtype 1 first",
            keyless,
            report(0x1400, 0x1040, 1),
            st(INV, R8),
        ),
        (
            "MR.REPORT misaligned output first",
            keyless,
            report(0x1200, 0x1040, 0),
            st(INV, Rcx),
        ),
        // TDG.MR.VERIFYREPORT row 2: after the alignment check.
        ("VERIFYREPORT", keyless_reported, verify(0x1400), no_keys),
        (
            "VERIFYREPORT unmapped",
            keyless_reported,
            verify(0x9000),
            no_keys,
        ),
        (
            "VERIFYREPORT misaligned first",
            keyless_reported,
            verify(0x1480),
            st(INV, Rcx),
        ),
        // CMON_SEAL_VERSIONS row 1, CMON_SEAL_KEY row 1: the first check.
        ("SEAL_VERSIONS", keyless, SEAL_VERSIONS_CALL, no_keys),
        ("SEAL_KEY", keyless, seal_key(0, 1), no_keys),
        ("SEAL_KEY RES0 policy bit", keyless, seal_key(2, 1), no_keys),
        (
            "SEAL_KEY wide version",
            keyless,
            seal_key(0, 1 << 32),
            no_keys,
        ),
        ("SEAL_KEY version 3", keyless, seal_key(0, 3), no_keys),
    ]);
    control("MR.REPORT", entered, report(0x1400, 0x1040, 0));
    control("VERIFYREPORT", reported, verify(0x1400));
    control("SEAL_VERSIONS", entered, SEAL_VERSIONS_CALL);
    control("SEAL_KEY", entered, seal_key(0, 1));
}

#[test]
fn no_key_hierarchy_comes_before_the_td_lookup() {
    // With the TDCS lock held by another LP, the lookup (`td_of`) would
    // answer OPERAND_BUSY + OP_STATE: the missing keys are found first.
    let calls = [
        ("MR.REPORT", keyless as fn() -> M, report(0x1400, 0x1040, 0)),
        ("VERIFYREPORT", keyless_reported, verify(0x1400)),
        ("SEAL_VERSIONS", keyless, SEAL_VERSIONS_CALL),
        ("SEAL_KEY", keyless, seal_key(0, 1)),
    ];
    for (name, setup, call) in calls {
        let m = setup();
        let before = watched(&m);
        let held = take(&m, TDCS);
        assert_eq!(call.run(&m), st(INV, OperandId::Rax), "{name}");
        drop(held);
        assert_module_locks_free(&m, Hold::Pamt(0), name);
        let after = watched(&m);
        assert_same(&after.0, &before.0, name);
        assert_eq!(m.running_vcpu(LP0), Some(Hpa(TDVPR)), "{name}");
        // On a platform with keys, the held lock is what the call meets;
        // SEAL_VERSIONS makes no TD lookup and succeeds.
        let keyed = if name == "VERIFYREPORT" {
            reported()
        } else {
            entered()
        };
        let held = take(&keyed, TDCS);
        let want = if name == "SEAL_VERSIONS" { 0 } else { OP_BUSY };
        assert_eq!(call.run(&keyed), want, "{name} with keys");
        drop(held);
    }
}

#[test]
fn verifyreport_unreadable_reportmacstruct() {
    let bad = st(INV, OperandId::Rcx);
    run_rows(&[
        // Row 9: after the keys and the TD lookup.
        ("FREE entry", reported, verify(0x9000), bad),
        ("no SEPT table", reported, verify(0x4000_0000), bad),
        ("shared GPA", reported, verify(1 << 47 | 0x1400), bad),
        ("GPA above GPAW", reported, verify(1 << 48 | 0x1400), bad),
        ("PENDING page", reported_pending, verify(0x2000), bad),
    ]);
    // The bytes at 0x1400 verify, so each case failed on the read alone.
    control("VERIFYREPORT", reported, verify(0x1400));
    control("VERIFYREPORT", reported_pending, verify(0x1400));
}
