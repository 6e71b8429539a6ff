//! Failure cases for the conditions of `docs/tdx-leaf-coverage.md` that had
//! no test (`untested_run_*.rs`). Each case runs on a fresh setup, reaches
//! exactly one check of the leaf (every earlier check in the leaf's order
//! passes), and asserts the exact status, the output registers, that no
//! PAMT entry lock or module lock was left held, and that nothing changed
//! (`contention::world`: PAMT, isolation, the TD's pages, `td_info`, the
//! running vCPU).
#![allow(dead_code)]

use crate::common::contention::*;
use crate::common::mem_mgmt::*;
use crate::common::*;
use tdx_module_shim::vp::{TDVPS_PAGES, VcpuState};
use tdx_module_shim::*;

pub const VP_ADDCX: u64 = 4;
pub const VP_CREATE: u64 = 10;
pub const VP_FLUSH: u64 = 18;
pub const VP_INIT: u64 = 22;
pub const VPFLUSHDONE: u64 = 19;
pub const RANGE: Code = Code::OperandAddrRangeError;
/// A page in RAM outside TDMR 0 (`[0, 1 GiB)`), so outside every TDMR.
pub const OUTSIDE: u64 = GIB;
/// The lowest HKID bit of a PA (MAX_PA 46 with 6 HKID bits: bits 45:40).
pub const HKID_BIT: u64 = 1 << 40;
/// The top HKID bit.
pub const HKID_TOP: u64 = 1 << 45;

/// TDR words (`tdr.rs`): FATAL and NUM_TDCX.
const TDR_FATAL: u64 = TDR + 8 * 2;
const TDR_NUM_TDCX: u64 = TDR + 8 * 4;

/// What is done to the setup before the call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tweak {
    /// Nothing.
    None,
    /// The TDR's FATAL word set by hand (no leaf sets it).
    Fatal,
    /// The TDR's NUM_TDCX word set to 5 by hand (no leaf takes a TDCX
    /// page back while the TD's keys are configured).
    FewTdcx,
    /// TDH.VP.FLUSH of TDVPR on LP0 (when VP.INIT associated it there),
    /// then TDH.MNG.VPFLUSHDONE: the lifecycle is BLOCKED.
    FlushDone,
}

/// What the leaf must leave in RCX and RDX (R8 and R9 are always kept).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Out {
    /// As they went in (a VP.ENTER call checks all 16 GPRs itself).
    Kept,
    /// Both 0 (the SEPT leaves clear them on entry).
    Zero,
    /// The SEPT entry details: RCX = the entry, RDX = level | state << 8.
    Details(u64, u64),
}

/// One failure case.
#[derive(Clone, Copy, Debug)]
pub struct Row {
    pub name: &'static str,
    pub setup: fn() -> M,
    pub tweak: Tweak,
    pub call: Call,
    pub want: u64,
    pub out: Out,
}

/// A case with no tweak.
pub const fn case(name: &'static str, setup: fn() -> M, call: Call, want: u64, out: Out) -> Row {
    Row {
        name,
        setup,
        tweak: Tweak::None,
        call,
        want,
        out,
    }
}

/// A case with a tweak.
pub const fn tweaked(
    name: &'static str,
    setup: fn() -> M,
    tweak: Tweak,
    call: Call,
    want: u64,
    out: Out,
) -> Row {
    Row {
        name,
        setup,
        tweak,
        call,
        want,
        out,
    }
}

fn apply(m: &M, t: Tweak) {
    let p = m.platform();
    match t {
        Tweak::None => {}
        Tweak::Fatal => {
            assert_eq!(p.word(TDR_FATAL), 0);
            p.set_word(TDR_FATAL, 1);
        }
        Tweak::FewTdcx => {
            assert_eq!(p.word(TDR_NUM_TDCX), 6);
            p.set_word(TDR_NUM_TDCX, 5);
        }
        Tweak::FlushDone => {
            // VPFLUSHDONE needs every vCPU flushed: only a vCPU that
            // VP.INIT associated with LP0 is.
            let ready = m
                .vcpu_info(Hpa(TDVPR))
                .is_ok_and(|(s, _, _)| s == VcpuState::Ready as u64);
            if ready {
                assert_eq!(call_on(m, LP0, VP_FLUSH, TDVPR, 0, 0, 0).0, 0, "VP.FLUSH");
            }
            assert_eq!(call(m, VPFLUSHDONE, TDR, 0, 0, 0), 0, "VPFLUSHDONE");
        }
    }
}

/// Run every case on a fresh setup (see the module documentation).
pub fn run_cases(cases: &[Row]) {
    for k in cases {
        let name = k.name;
        let m = (k.setup)();
        apply(&m, k.tweak);
        let before = world(&m);
        let (status, regs) = match k.call {
            Call::Seam(lp, leaf, [rcx, rdx, r8, r9]) => {
                let (s, r) = call_on(&m, lp, leaf, rcx, rdx, r8, r9);
                let (want_rcx, want_rdx) = match k.out {
                    Out::Kept => (rcx, rdx),
                    Out::Zero => (0, 0),
                    Out::Details(e, d) => (e, d),
                };
                (
                    s,
                    Some(((r.rcx, r.rdx, r.r8, r.r9), (want_rcx, want_rdx, r8, r9))),
                )
            }
            other => (other.run(&m), None),
        };
        assert_eq!(status, k.want, "{name}: status {status:#x}");
        if let Some((got, want)) = regs {
            assert_eq!(got, want, "{name}: RCX, RDX, R8, R9");
        }
        assert_eq!(locked_pages(&m), [], "{name}: PAMT entry locks left held");
        assert_module_locks_free(&m, Hold::Pamt(0), name);
        assert_same(&world(&m), &before, &format!("{name}: state changed"));
    }
}

// Setups beyond common/.

/// INITIALIZED TD, TDVPR created (no TDCX page).
pub fn vcpu_created() -> M {
    let m = initialized();
    assert_eq!(call(&m, VP_CREATE, TDVPR, TDR, 0, 0), 0);
    m
}

/// `vcpu_created` with every TDVPS page, no VP.INIT.
pub fn vcpu_pages() -> M {
    let m = vcpu_created();
    for i in 0..(TDVPS_PAGES as u64 - 1) {
        assert_eq!(call(&m, VP_ADDCX, VCX0 + 0x1000 * i, TDVPR, 0, 0), 0);
    }
    m
}

/// `vcpu_created` after MR.FINALIZE (RUNNABLE).
pub fn vcpu_created_runnable() -> M {
    let m = vcpu_created();
    assert_eq!(call(&m, MR_FINALIZE, TDR, 0, 0, 0), 0);
    m
}

/// `vcpu_pages` after MR.FINALIZE (RUNNABLE).
pub fn vcpu_pages_runnable() -> M {
    let m = vcpu_pages();
    assert_eq!(call(&m, MR_FINALIZE, TDR, 0, 0, 0), 0);
    m
}

/// Five of the six TDVPS pages (the TDVPR and four TDCX pages).
pub fn vcpu_short() -> M {
    let m = vcpu_created();
    for i in 0..(TDVPS_PAGES as u64 - 2) {
        assert_eq!(call(&m, VP_ADDCX, VCX0 + 0x1000 * i, TDVPR, 0, 0), 0);
    }
    m
}

/// The second vCPU of [`runnable_short_vcpu`].
pub const TDVPR2: u64 = 0x23_0000;
pub const VCX2: u64 = 0x23_1000;

/// `runnable`'s TD with a second vCPU, TDVPR2, that has only two of its
/// six TDVPS pages (created and given one TDCX page before MR.FINALIZE).
pub fn runnable_short_vcpu() -> M {
    let m = vcpu_pages();
    assert_eq!(call(&m, VP_INIT, TDVPR, 0, 0, 0), 0, "VP.INIT");
    assert_eq!(call(&m, VP_CREATE, TDVPR2, TDR, 0, 0), 0);
    assert_eq!(call(&m, VP_ADDCX, VCX2, TDVPR2, 0, 0), 0);
    sept_for_low_gpa(&m);
    assert_eq!(call(&m, MR_FINALIZE, TDR, 0, 0, 0), 0);
    m
}
