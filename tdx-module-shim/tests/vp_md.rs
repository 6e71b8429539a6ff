//! TDH.VP.RD / TDH.VP.WR: the operand, TD-state and vCPU-state failures in
//! the module's check order (exact status and operand, R8 = 0, v1 RDX =
//! -1, state unchanged). Field-ID and value failures: `vp_md_fields.rs`;
//! values, walks and association: `vp_md_values.rs`.
mod common;
use common::vp_md::*;
use common::*;

use tdx_module_shim::enter::{Gprs, TdExit, gpr};
use tdx_module_shim::md_vp::field;
use tdx_module_shim::*;

#[test]
fn vp_rd_wr_operand_and_state_failures_in_order() {
    use OperandId::*;
    let ept = field::SHARED_EPT_POINTER;
    let meta = Code::PageMetadataIncorrect;
    for leaf in [VP_RD, VP_RD_V1, VP_WR] {
        table(
            prod,
            &[
                (
                    "tdvpr misaligned",
                    leaf,
                    TDVPR + 8,
                    ept,
                    EPT_ROOT,
                    ALL,
                    st(INV, Rcx),
                ),
                (
                    "tdvpr hkid bits",
                    leaf,
                    TDVPR | 1 << 41,
                    ept,
                    EPT_ROOT,
                    ALL,
                    st(INV, Rcx),
                ),
                (
                    "tdvpr outside tdmr",
                    leaf,
                    GIB,
                    ept,
                    EPT_ROOT,
                    ALL,
                    st(Code::OperandAddrRangeError, Rcx),
                ),
                ("not a tdvpr", leaf, TDR, ept, EPT_ROOT, ALL, st(meta, Rcx)),
                (
                    "tdvps page, not a tdvpr",
                    leaf,
                    VCX0,
                    ept,
                    EPT_ROOT,
                    ALL,
                    st(meta, Rcx),
                ),
                (
                    "vcpu without its tdcx pages",
                    leaf,
                    TDVPR3,
                    ept,
                    EPT_ROOT,
                    ALL,
                    c(Code::TdcxNumIncorrect),
                ),
                (
                    "vcpu not initialised",
                    leaf,
                    TDVPR2,
                    ept,
                    EPT_ROOT,
                    ALL,
                    c(Code::VcpuStateIncorrect),
                ),
            ],
        );
        // Locks held by another LP: the TDVPR, then its owner TDR.
        let m = prod();
        fails_holding(
            &m,
            LP0,
            Some(TDVPR),
            (
                "tdvpr locked",
                leaf,
                TDVPR,
                ept,
                EPT_ROOT,
                ALL,
                st(Code::OperandBusy, Rcx),
            ),
        );
        fails_holding(
            &m,
            LP0,
            Some(TDR),
            (
                "tdr locked",
                leaf,
                TDVPR,
                ept,
                EPT_ROOT,
                ALL,
                st(Code::OperandBusy, Tdr),
            ),
        );
        // The TD state checks, by hand where the leaves cannot get there:
        // FATAL (no leaf sets it) and fewer TDCX pages (TDR words 2 and 4).
        let p = m.platform();
        p.set_word(TDR + 16, 1);
        fails(
            &m,
            LP0,
            (
                "td fatal",
                leaf,
                TDVPR,
                ept,
                EPT_ROOT,
                ALL,
                c(Code::TdFatal),
            ),
        );
        p.set_word(TDR + 16, 0);
        p.set_word(TDR + 32, 5);
        fails(
            &m,
            LP0,
            (
                "tdcs not allocated",
                leaf,
                TDVPR,
                ept,
                EPT_ROOT,
                ALL,
                c(Code::TdcsNotAllocated),
            ),
        );
        p.set_word(TDR + 32, 6);
        // Associated with LP0 by VP.INIT: not from LP1.
        fails(
            &m,
            LP1,
            (
                "associated with lp0",
                leaf,
                TDVPR,
                ept,
                EPT_ROOT,
                ALL,
                c(Code::VcpuAssociated),
            ),
        );
        // Keys no longer configured after VPFLUSHDONE.
        assert_eq!(call_on(&m, LP0, VP_FLUSH, TDVPR, 0, 0, 0).0, 0);
        assert_eq!(call(&m, VPFLUSHDONE, TDR, 0, 0, 0), 0);
        fails(
            &m,
            LP0,
            (
                "keys not configured",
                leaf,
                TDVPR,
                ept,
                EPT_ROOT,
                ALL,
                c(Code::TdKeysNotConfigured),
            ),
        );
    }
}

#[test]
fn vp_rd_wr_vcpu_state_rules() {
    // ACTIVE (inside TDH.VP.ENTER on LP0): neither read nor write.
    let m = prod();
    let mut vmm: Gprs = [0; 16];
    vmm[gpr::RCX] = TDVPR;
    let e = m.vp_enter(LP0, &mut vmm).expect("enters");
    let ept = field::SHARED_EPT_POINTER;
    for leaf in [VP_RD, VP_WR] {
        fails(
            &m,
            LP0,
            (
                "active",
                leaf,
                TDVPR,
                ept,
                EPT_ROOT,
                ALL,
                c(Code::VcpuStateIncorrect),
            ),
        );
    }
    m.td_exit(LP0, &e.state, TdExit::ExternalInterrupt, &mut vmm);
    assert_eq!(rd(&m, ept), 0, "READY again");
    // DISABLED (TDVPS word 0 = 8; the shim never disables a vCPU itself):
    // a read is still allowed, a write is not.
    m.platform().set_word(TDVPR, 8);
    assert_eq!(rd(&m, field::VCPU_INDEX), 0);
    fails(
        &m,
        LP0,
        (
            "disabled write",
            VP_WR,
            TDVPR,
            ept,
            EPT_ROOT,
            ALL,
            c(Code::VcpuStateIncorrect),
        ),
    );
    // Versions: VP.RD has v0/v1 only, VP.WR v0 only.
    m.platform().set_word(TDVPR, 2);
    fails(
        &m,
        LP0,
        (
            "vp.rd v2",
            VP_RD | 2 << 16,
            TDVPR,
            ept,
            0,
            0,
            st(INV, OperandId::Rax),
        ),
    );
    fails(
        &m,
        LP0,
        (
            "vp.wr v1",
            VP_WR | 1 << 16,
            TDVPR,
            ept,
            0,
            ALL,
            st(INV, OperandId::Rax),
        ),
    );
    // INITIALIZED (not yet finalised) TDs take both.
    let m = td(false, false);
    assert_eq!(wr(&m, ept, EPT_ROOT, ALL), (0, 0));
    assert_eq!(rd(&m, ept), EPT_ROOT);
}
