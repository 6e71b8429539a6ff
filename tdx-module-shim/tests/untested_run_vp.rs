//! The vCPU leaves' conditions that had no test: TDH.VP.CREATE, VP.ADDCX,
//! VP.INIT, VP.FLUSH and VP.ENTER. Page operands outside every TDMR or
//! with HKID bits, the TD state checks (FATAL and NUM_TDCX set by hand,
//! keys not yet configured or no longer configured after VPFLUSHDONE, no
//! TDCX page), OP_STATE, the TDVPS page count, and VP.ENTER's own dispatch
//! checks. Each case in the leaf's check order, state unchanged, every
//! lock released (`run_cases`).
mod common;
mod run_cases;
use common::contention::*;
use common::mem_mgmt::*;
use common::*;
use run_cases::*;

use tdx_module_shim::enter::gpr;
use tdx_module_shim::*;

const INV: Code = Code::OperandInvalid;
const KEYS: Code = Code::TdKeysNotConfigured;
const TDCS_NA: Code = Code::TdcsNotAllocated;
const OP: Code = Code::OpStateIncorrect;
const TDCX_NUM: Code = Code::TdcxNumIncorrect;

#[test]
fn vp_create_untested_conditions() {
    use OperandId::*;
    let create = seam(VP_CREATE, TDVPR, TDR, 0, 0);
    run_cases(&[
        case(
            "tdr outside tdmr",
            initialized,
            seam(VP_CREATE, TDVPR, OUTSIDE, 0, 0),
            st(RANGE, Rdx),
            Out::Kept,
        ),
        tweaked(
            "td fatal",
            initialized,
            Tweak::Fatal,
            create,
            c(Code::TdFatal),
            Out::Kept,
        ),
        case(
            "keys not configured yet",
            hkid_assigned,
            create,
            c(KEYS),
            Out::Kept,
        ),
        tweaked(
            "keys not configured after vpflushdone",
            initialized,
            Tweak::FlushDone,
            create,
            c(KEYS),
            Out::Kept,
        ),
        case(
            "no tdcx page",
            keys_configured,
            create,
            c(TDCS_NA),
            Out::Kept,
        ),
        case("five tdcx pages", five_tdcx, create, c(TDCS_NA), Out::Kept),
        case(
            "tdvpr outside tdmr",
            initialized,
            seam(VP_CREATE, OUTSIDE, TDR, 0, 0),
            st(RANGE, Rcx),
            Out::Kept,
        ),
    ]);
}

/// KEYS_CONFIGURED with five of the six TDCX pages (no MNG.INIT).
fn five_tdcx() -> M {
    let m = keys_configured();
    for i in 0..5 {
        assert_eq!(call(&m, MNG_ADDCX, TDCX0 + 0x1000 * i, TDR, 0, 0), 0);
    }
    m
}

#[test]
fn vp_addcx_untested_conditions() {
    use OperandId::*;
    let addcx = seam(VP_ADDCX, VCX0, TDVPR, 0, 0);
    run_cases(&[
        case(
            "tdvpr outside tdmr",
            vcpu_created,
            seam(VP_ADDCX, VCX0, OUTSIDE, 0, 0),
            st(RANGE, Rdx),
            Out::Kept,
        ),
        tweaked(
            "td fatal",
            vcpu_created,
            Tweak::Fatal,
            addcx,
            c(Code::TdFatal),
            Out::Kept,
        ),
        tweaked(
            "keys not configured after vpflushdone",
            vcpu_created,
            Tweak::FlushDone,
            addcx,
            c(KEYS),
            Out::Kept,
        ),
        tweaked(
            "tdcs not allocated",
            vcpu_created,
            Tweak::FewTdcx,
            addcx,
            c(TDCS_NA),
            Out::Kept,
        ),
        case(
            "td runnable",
            vcpu_created_runnable,
            addcx,
            c(OP),
            Out::Kept,
        ),
        case(
            "tdcx outside tdmr",
            vcpu_created,
            seam(VP_ADDCX, OUTSIDE, TDVPR, 0, 0),
            st(RANGE, Rcx),
            Out::Kept,
        ),
    ]);
}

#[test]
fn vp_init_untested_conditions() {
    use OperandId::*;
    let init = seam(VP_INIT, TDVPR, 0x1234, 0, 0);
    let init_v1 = seam(VP_INIT | 1 << 16, TDVPR, 0x1234, 3, 0);
    run_cases(&[
        case(
            "tdvpr outside tdmr",
            vcpu_pages,
            seam(VP_INIT, OUTSIDE, 0x1234, 0, 0),
            st(RANGE, Rcx),
            Out::Kept,
        ),
        tweaked(
            "td fatal",
            vcpu_pages,
            Tweak::Fatal,
            init,
            c(Code::TdFatal),
            Out::Kept,
        ),
        tweaked(
            "keys not configured after vpflushdone",
            vcpu_pages,
            Tweak::FlushDone,
            init,
            c(KEYS),
            Out::Kept,
        ),
        tweaked(
            "tdcs not allocated",
            vcpu_pages,
            Tweak::FewTdcx,
            init_v1,
            c(TDCS_NA),
            Out::Kept,
        ),
        case("td runnable", vcpu_pages_runnable, init, c(OP), Out::Kept),
        case(
            "td runnable v1",
            vcpu_pages_runnable,
            init_v1,
            c(OP),
            Out::Kept,
        ),
    ]);
}

#[test]
fn vp_flush_untested_conditions() {
    use OperandId::*;
    let flush = seam(VP_FLUSH, TDVPR, 0, 0, 0);
    run_cases(&[
        case(
            "tdvpr outside tdmr",
            runnable,
            seam(VP_FLUSH, OUTSIDE, 0, 0, 0),
            st(RANGE, Rcx),
            Out::Kept,
        ),
        case(
            "tdvpr without tdcx pages",
            vcpu_created,
            flush,
            c(TDCX_NUM),
            Out::Kept,
        ),
        case(
            "five of six tdvps pages",
            vcpu_short,
            flush,
            c(TDCX_NUM),
            Out::Kept,
        ),
    ]);
}

#[test]
fn vp_enter_untested_conditions() {
    use OperandId::*;
    let enter = Call::Enter(TDVPR);
    run_cases(&[
        case(
            "lp0 without sys.lp.init",
            sys_inited,
            enter,
            c(Code::SysLpInitNotDone),
            Out::Kept,
        ),
        case(
            "lps initialised, no sys.config",
            lps_inited,
            enter,
            c(Code::SysNotReady),
            Out::Kept,
        ),
        case(
            "sys.config done, no key.config",
            sys_configured,
            enter,
            c(Code::SysNotReady),
            Out::Kept,
        ),
        case(
            "tdvpr lowest hkid bit",
            runnable,
            Call::Enter(TDVPR | HKID_BIT),
            st(INV, Rcx),
            Out::Kept,
        ),
        case(
            "tdvpr top hkid bit",
            runnable,
            Call::Enter(TDVPR | HKID_TOP),
            st(INV, Rcx),
            Out::Kept,
        ),
        case(
            "tdvpr bit 51 (above max_pa)",
            runnable,
            Call::Enter(TDVPR | 1 << 51),
            st(INV, Rcx),
            Out::Kept,
        ),
        case(
            "tdvpr outside tdmr",
            runnable,
            Call::Enter(OUTSIDE),
            st(RANGE, Rcx),
            Out::Kept,
        ),
        tweaked(
            "td fatal",
            runnable,
            Tweak::Fatal,
            enter,
            c(Code::TdFatal),
            Out::Kept,
        ),
        tweaked(
            "keys not configured after vpflushdone",
            runnable,
            Tweak::FlushDone,
            enter,
            c(KEYS),
            Out::Kept,
        ),
        tweaked(
            "tdcs not allocated",
            runnable,
            Tweak::FewTdcx,
            enter,
            c(TDCS_NA),
            Out::Kept,
        ),
        case(
            "two of six tdvps pages",
            runnable_short_vcpu,
            Call::Enter(TDVPR2),
            c(TDCX_NUM),
            Out::Kept,
        ),
    ]);
}

/// The conditions above are the only obstacle: once FATAL is clear again,
/// the sixth TDVPS page added, or the sixth TDCX page, the same call
/// succeeds.
#[test]
fn the_same_calls_succeed_once_the_condition_is_gone() {
    let m = runnable();
    let fatal = TDR + 8 * 2;
    m.platform().set_word(fatal, 1);
    let mut r = [0u64; 16];
    r[gpr::RCX] = TDVPR;
    assert!(m.vp_enter(LP0, &mut r).is_none());
    assert_eq!(r[gpr::RAX], c(Code::TdFatal));
    m.platform().set_word(fatal, 0);
    r[gpr::RAX] = 0;
    assert!(m.vp_enter(LP0, &mut r).is_some(), "enters once FATAL is 0");

    let m = vcpu_short();
    assert_eq!(call(&m, VP_FLUSH, TDVPR, 0, 0, 0), c(TDCX_NUM));
    let sixth = VCX0 + 0x1000 * 4;
    assert_eq!(call(&m, VP_ADDCX, sixth, TDVPR, 0, 0), 0, "sixth page");
    assert_eq!(call(&m, VP_INIT, TDVPR, 0, 0, 0), 0);
    assert_eq!(call(&m, VP_FLUSH, TDVPR, 0, 0, 0), 0);

    let m = five_tdcx();
    assert_eq!(call(&m, VP_CREATE, TDVPR, TDR, 0, 0), c(TDCS_NA));
    assert_eq!(call(&m, MNG_ADDCX, TDCX0 + 0x5000, TDR, 0, 0), 0);
    m.platform().vmm_write(TD_PARAMS, &td_params());
    assert_eq!(call(&m, MNG_INIT, TDR, TD_PARAMS, 0, 0), 0);
    assert_eq!(call(&m, VP_CREATE, TDVPR, TDR, 0, 0), 0);
}
