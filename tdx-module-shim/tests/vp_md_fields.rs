//! TDH.VP.RD / TDH.VP.WR: the field-ID, read-mask, write-mask and value
//! failures in the module's order (exact status, R8 = 0, v1 RDX = -1,
//! state unchanged).
mod common;
use common::vp_md::*;
use common::*;

use tdx_module_shim::md_vp::{SHARED_EPTP_PA, field};
use tdx_module_shim::*;

#[test]
fn vp_rd_wr_field_failures_in_order() {
    let ept = field::SHARED_EPT_POINTER;
    let bad_id = c(Code::MetadataFieldIdIncorrect);
    let not_rd = c(Code::MetadataFieldNotReadable);
    let not_wr = c(Code::MetadataFieldNotWritable);
    let bad_value = c(Code::MetadataFieldValueNotValid);
    for leaf in [VP_RD, VP_RD_V1, VP_WR] {
        table(
            prod,
            &[
                (
                    "reserved 31:24",
                    leaf,
                    TDVPR,
                    ept | 1 << 24,
                    EPT_ROOT,
                    ALL,
                    bad_id,
                ),
                (
                    "last element",
                    leaf,
                    TDVPR,
                    ept | 1 << 34,
                    EPT_ROOT,
                    ALL,
                    bad_id,
                ),
                (
                    "last field",
                    leaf,
                    TDVPR,
                    ept | 1 << 38,
                    EPT_ROOT,
                    ALL,
                    bad_id,
                ),
                (
                    "reserved 49:47",
                    leaf,
                    TDVPR,
                    ept | 1 << 47,
                    EPT_ROOT,
                    ALL,
                    bad_id,
                ),
                (
                    "reserved 55",
                    leaf,
                    TDVPR,
                    ept | 1 << 55,
                    EPT_ROOT,
                    ALL,
                    bad_id,
                ),
                (
                    "reserved 62",
                    leaf,
                    TDVPR,
                    ept | 1 << 62,
                    EPT_ROOT,
                    ALL,
                    bad_id,
                ),
                (
                    "unknown vmcs field",
                    leaf,
                    TDVPR,
                    0x0024_0003_0000_2010,
                    0,
                    ALL,
                    bad_id,
                ),
                (
                    "vmcs high half",
                    leaf,
                    TDVPR,
                    ept + 1,
                    EPT_ROOT,
                    ALL,
                    bad_id,
                ),
                ("gpr 16", leaf, TDVPR, field::GPR + 16, 0, ALL, bad_id),
                (
                    "unknown class",
                    leaf,
                    TDVPR,
                    0x0520_0003_0000_0000,
                    0,
                    ALL,
                    bad_id,
                ),
                (
                    "past tdvps_page_pa",
                    leaf,
                    TDVPR,
                    field::TDVPS_PAGE_PA + 15,
                    0,
                    ALL,
                    bad_id,
                ),
            ],
        );
    }
    // v0 with the null ID is an ID with reserved bits set.
    table(prod, &[("v0 null id", VP_RD, TDVPR, ALL, 0, 0, bad_id)]);
    table(
        prod,
        &[("vp.wr null id", VP_WR, TDVPR, ALL, 0, ALL, bad_id)],
    );
    // Read masks: DEBUG-only fields on a production TD; RSP's GPR
    // placeholder even on a DEBUG TD.
    for (what, id) in [
        ("rip", field::GUEST_RIP),
        ("rsp", field::GUEST_RSP),
        ("rflags", field::GUEST_RFLAGS),
        ("rax", field::GPR),
        ("r15", field::GPR + 15),
        ("vcpu_state", field::VCPU_STATE),
    ] {
        table(prod, &[(what, VP_RD, TDVPR, id, 0, 0, not_rd)]);
        table(prod, &[(what, VP_RD_V1, TDVPR, id, 0, 0, not_rd)]);
    }
    table(
        dbg,
        &[(
            "rsp placeholder",
            VP_RD,
            TDVPR,
            field::GPR + 4,
            0,
            0,
            not_rd,
        )],
    );
    // Write masks.
    table(
        prod,
        &[
            (
                "rip, production",
                VP_WR,
                TDVPR,
                field::GUEST_RIP,
                0x1000,
                ALL,
                not_wr,
            ),
            ("rax, production", VP_WR, TDVPR, field::GPR, 1, ALL, not_wr),
            (
                "vcpu_index",
                VP_WR,
                TDVPR,
                field::VCPU_INDEX,
                1,
                ALL,
                not_wr,
            ),
            (
                "assoc_lpid",
                VP_WR,
                TDVPR,
                field::ASSOC_LPID,
                1,
                ALL,
                not_wr,
            ),
            (
                "tdvps_page_pa",
                VP_WR,
                TDVPR,
                field::TDVPS_PAGE_PA,
                0,
                ALL,
                not_wr,
            ),
            (
                "state details",
                VP_WR,
                TDVPR,
                field::VCPU_STATE_DETAILS,
                0,
                ALL,
                not_wr,
            ),
            ("eptp mask 0", VP_WR, TDVPR, ept, EPT_ROOT, 0, not_wr),
            (
                "eptp mask outside 51:12",
                VP_WR,
                TDVPR,
                ept,
                0x6 | 3 << 3,
                0xFFF,
                not_wr,
            ),
        ],
    );
    table(
        dbg,
        &[
            (
                "rsp placeholder write",
                VP_WR,
                TDVPR,
                field::GPR + 4,
                1,
                ALL,
                not_wr,
            ),
            (
                "vcpu_state write",
                VP_WR,
                TDVPR,
                field::VCPU_STATE,
                2,
                ALL,
                not_wr,
            ),
        ],
    );
    // SHARED_EPT_POINTER values (production and DEBUG alike).
    for setup in [prod, dbg] {
        table(
            setup,
            &[
                // Bits outside 51:12 under the mask must stay 0: no memory
                // type, walk length or A/D bit in this field.
                (
                    "eptp with WB and 4-level walk",
                    VP_WR,
                    TDVPR,
                    ept,
                    EPT_ROOT | 6 | 3 << 3,
                    ALL,
                    bad_value,
                ),
                (
                    "eptp bit 63",
                    VP_WR,
                    TDVPR,
                    ept,
                    EPT_ROOT | 1 << 63,
                    ALL,
                    bad_value,
                ),
                // Not a shared HPA: bits at or above MAX_PA (46), or a
                // private HKID (HKID bits 45:40; private HKIDs from 32).
                (
                    "eptp above max_pa",
                    VP_WR,
                    TDVPR,
                    ept,
                    1 << 46 | EPT_ROOT,
                    ALL,
                    bad_value,
                ),
                ("eptp bit 51", VP_WR, TDVPR, ept, 1 << 51, ALL, bad_value),
                (
                    "eptp private hkid",
                    VP_WR,
                    TDVPR,
                    ept,
                    32 << 40 | EPT_ROOT,
                    ALL,
                    bad_value,
                ),
                (
                    "eptp private hkid 63",
                    VP_WR,
                    TDVPR,
                    ept,
                    63 << 40,
                    SHARED_EPTP_PA,
                    bad_value,
                ),
            ],
        );
    }
}
