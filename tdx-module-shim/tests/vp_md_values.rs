//! TDH.VP.RD / TDH.VP.WR values: SHARED_EPT_POINTER round trips and write
//! masks, the v1 walk, DEBUG-only guest state, the management fields and
//! the LP association the leaves make.
mod common;
use common::vp_md::*;
use common::*;

use tdx_module_shim::enter::{Gprs, GuestState, TdExit, gpr};
use tdx_module_shim::md_vp::{SHARED_EPTP_PA, field};
use tdx_module_shim::vp::TDVPS_PAGES;
use tdx_module_shim::*;

#[test]
fn shared_ept_pointer_round_trip_and_masks() {
    for (debug, m) in [(false, prod()), (true, dbg())] {
        let ept = field::SHARED_EPT_POINTER;
        let word = TDVPR + 8 * W_SHARED_EPTP;
        assert_eq!(rd(&m, ept), 0, "none yet");
        // R8 = the old value; TDVPS word 6 holds the new one.
        assert_eq!(wr(&m, ept, EPT_ROOT, ALL), (0, 0));
        assert_eq!(m.platform().word(word), EPT_ROOT);
        assert_eq!(rd(&m, ept), EPT_ROOT);
        // Only the bits under both masks change: here 31:12.
        assert_eq!(wr(&m, ept, 0xFFFF_ABCD_E000, 0xFFFF_F000), (0, EPT_ROOT));
        assert_eq!(rd(&m, ept), 0xABCD_E000);
        // Bits outside the request mask are ignored, even non-zero ones.
        assert_eq!(wr(&m, ept, 0x5678_9FFF, SHARED_EPTP_PA), (0, 0xABCD_E000));
        assert_eq!(rd(&m, ept), 0x5678_9000);
        // A shared (non-zero) HKID is fine.
        let hkid1 = 1 << 40 | EPT_ROOT;
        assert_eq!(wr(&m, ept, hkid1, ALL), (0, 0x5678_9000));
        assert_eq!(rd(&m, ept), hkid1);
        // The ID as Linux builds it (TDVPS_VMCS(SHARED_EPT_POINTER): class
        // 0, no context, size code 0, no INC_SIZE) reaches the same field.
        assert_eq!(wr(&m, 0x203C, EPT_ROOT, ALL), (0, hkid1));
        assert_eq!(rd(&m, 0x203C), EPT_ROOT);
        assert_eq!(m.platform().word(word), EPT_ROOT, "debug {debug}");
    }
}

#[test]
fn v1_walks_the_readable_vp_fields() {
    fn walk(m: &M) -> Vec<u64> {
        let (s, r) = call_on(m, LP0, VP_RD_V1, TDVPR, ALL, 0, 0);
        assert_eq!(s, c(Code::MetadataFirstFieldIdInContext));
        assert_eq!(r.r8, 0);
        let mut ids = Vec::new();
        let mut id = r.rdx;
        while id != ALL {
            let (s, r) = call_on(m, LP0, VP_RD_V1, TDVPR, id, 0, 0);
            assert_eq!(s, 0, "{id:#x}");
            ids.push(id);
            id = r.rdx;
        }
        ids
    }
    let pages: Vec<u64> = (0..15).map(|i| field::TDVPS_PAGE_PA + i).collect();
    let mut want = vec![
        field::SHARED_EPT_POINTER,
        field::VCPU_STATE_DETAILS,
        field::VCPU_INDEX,
        field::NUM_TDVPS_PAGES,
        field::ASSOC_LPID,
    ];
    want.extend(&pages);
    assert_eq!(walk(&prod()), want, "production TD");
    let mut want = vec![
        field::SHARED_EPT_POINTER,
        field::GUEST_RSP,
        field::GUEST_RIP,
        field::GUEST_RFLAGS,
    ];
    want.extend((0..16).filter(|&n| n != 4).map(|n| field::GPR + n));
    want.extend([
        field::VCPU_STATE_DETAILS,
        field::VCPU_STATE,
        field::VCPU_INDEX,
        field::NUM_TDVPS_PAGES,
        field::ASSOC_LPID,
    ]);
    want.extend(&pages);
    assert_eq!(walk(&dbg()), want, "DEBUG TD (no RSP placeholder)");
    // Within TDVPS_PAGE_PA, "next" steps the requested ID (size code kept).
    let m = prod();
    let size0 = field::TDVPS_PAGE_PA & !(3 << 32);
    let (s, r) = call_on(&m, LP0, VP_RD_V1, TDVPR, size0 + 3, 0, 0);
    assert_eq!((s, r.rdx), (0, size0 + 4));
    // v0 leaves RDX alone.
    let (_, r) = call_on(&m, LP0, VP_RD, TDVPR, field::VCPU_INDEX, 0, 0);
    assert_eq!(r.rdx, field::VCPU_INDEX);
}

#[test]
fn debug_td_guest_state_reads_and_writes() {
    let m = td(true, false);
    // Before the first entry: the §6.3 initial state.
    assert_eq!(rd(&m, field::GUEST_RIP), 0xFFFF_FFF0);
    assert_eq!(rd(&m, field::GUEST_RFLAGS), 2);
    assert_eq!(rd(&m, field::GPR + gpr::RCX as u64), 0x1234);
    assert_eq!(rd(&m, field::GPR + gpr::RBX as u64), 48);
    assert_eq!(rd(&m, field::GUEST_RSP), 0);
    // Writes with masks: R8 = old value, only masked bits change.
    assert_eq!(wr(&m, field::GUEST_RIP, 0x7000, ALL), (0, 0xFFFF_FFF0));
    assert_eq!(wr(&m, field::GPR, 0xAAAA_BBBB, 0xFFFF), (0, 0));
    assert_eq!(rd(&m, field::GPR), 0xBBBB);
    assert_eq!(wr(&m, field::GPR + 15, ALL, ALL), (0, 0));
    assert_eq!(wr(&m, field::GUEST_RSP, 0x8000, ALL), (0, 0));
    assert_eq!(rd(&m, field::GPR + gpr::RCX as u64), 0x1234, "others kept");
    // The first TDH.VP.ENTER runs the written state.
    assert_eq!(call(&m, MR_FINALIZE, TDR, 0, 0, 0), 0);
    let mut vmm: Gprs = [0; 16];
    vmm[gpr::RCX] = TDVPR;
    let e = m.vp_enter(LP0, &mut vmm).expect("enters");
    let g = e.state;
    assert_eq!(g.rip, 0x7000);
    assert_eq!(g.rflags, 2);
    assert_eq!(g.gprs[gpr::RAX], 0xBBBB);
    assert_eq!(g.gprs[gpr::RCX], 0x1234);
    assert_eq!(g.gprs[gpr::RSP], 0x8000);
    assert_eq!(g.gprs[gpr::R15], ALL);
    // After a TD exit the reads see the saved state.
    let mut out = GuestState { rip: 0x7010, ..g };
    out.gprs[gpr::R9] = 0x99;
    m.td_exit(LP0, &out, TdExit::ExternalInterrupt, &mut vmm);
    assert_eq!(rd(&m, field::GUEST_RIP), 0x7010);
    assert_eq!(rd(&m, field::GPR + 9), 0x99);
}

#[test]
fn management_fields() {
    for m in [prod(), dbg()] {
        assert_eq!(rd(&m, field::VCPU_INDEX), 0);
        assert_eq!(rd(&m, field::NUM_TDVPS_PAGES), TDVPS_PAGES as u64);
        assert_eq!(rd(&m, field::ASSOC_LPID), 0);
        assert_eq!(rd(&m, field::VCPU_STATE_DETAILS), 0, "no vAPIC");
        assert_eq!(rd(&m, field::TDVPS_PAGE_PA), TDVPR);
        assert_eq!(rd(&m, field::TDVPS_PAGE_PA + 1), VCX0);
        assert_eq!(rd(&m, field::TDVPS_PAGE_PA + 5), VCX0 + 0x4000);
        assert_eq!(rd(&m, field::TDVPS_PAGE_PA + 14), 0);
        // Element size code 0, as Linux passes it: the value keeps the
        // field's own size.
        assert_eq!(rd(&m, field::VCPU_INDEX & !(3 << 32)), 0);
    }
    let m = td(true, false);
    assert_eq!(rd(&m, field::VCPU_STATE), 2, "READY");
    // The second vCPU, initialised on LP1, has index 1 and reads there.
    assert_eq!(call_on(&m, LP1, VP_INIT, TDVPR2, 0, 0, 0).0, 0);
    let (s, r) = call_on(&m, LP1, VP_RD, TDVPR2, field::VCPU_INDEX, 0, 0);
    assert_eq!((s, r.r8), (0, 1));
    let (s, r) = call_on(&m, LP1, VP_RD, TDVPR2, field::ASSOC_LPID, 0, 0);
    assert_eq!((s, r.r8), (0, 1));
}

#[test]
fn vp_rd_wr_associate_the_vcpu() {
    let m = prod();
    assert_eq!(num_assoc(&m), 1, "VP.INIT associated it with LP0");
    assert_eq!(call_on(&m, LP0, VP_FLUSH, TDVPR, 0, 0, 0).0, 0);
    assert_eq!(num_assoc(&m), 0);
    // A failing VP.RD does not associate it (the shim's all-or-nothing rule).
    fails(
        &m,
        LP1,
        (
            "bad field",
            VP_RD,
            TDVPR,
            field::GPR + 16,
            0,
            0,
            c(Code::MetadataFieldIdIncorrect),
        ),
    );
    // A successful one does, with the calling LP; ASSOC_LPID reads it.
    assert_eq!(rd_on(&m, LP1, field::ASSOC_LPID), (0, 1, field::ASSOC_LPID));
    assert_eq!(num_assoc(&m), 1);
    assert_eq!(m.platform().word(TDVPR + 16), 1, "TDVPS word 2");
    fails(
        &m,
        LP0,
        (
            "now associated with lp1",
            VP_RD,
            TDVPR,
            field::ASSOC_LPID,
            0,
            0,
            c(Code::VcpuAssociated),
        ),
    );
    // So TDH.MNG.VPFLUSHDONE needs a VP.FLUSH on LP1 first.
    assert_eq!(call(&m, VPFLUSHDONE, TDR, 0, 0, 0), c(Code::FlushvpNotDone));
    assert_eq!(call_on(&m, LP1, VP_FLUSH, TDVPR, 0, 0, 0).0, 0);
    // The v1 null-ID warning completes the leaf, so it associates too.
    let (s, r) = call_on(&m, LP0, VP_RD_V1, TDVPR, ALL, 0, 0);
    assert_eq!(
        (s, r.rdx),
        (
            c(Code::MetadataFirstFieldIdInContext),
            field::SHARED_EPT_POINTER
        )
    );
    assert_eq!(num_assoc(&m), 1);
    // VP.WR associates as well.
    assert_eq!(call_on(&m, LP0, VP_FLUSH, TDVPR, 0, 0, 0).0, 0);
    let (s, r) = call_on(
        &m,
        LP1,
        VP_WR,
        TDVPR,
        field::SHARED_EPT_POINTER,
        EPT_ROOT,
        ALL,
    );
    assert_eq!((s, r.r8), (0, 0));
    assert_eq!(m.platform().word(TDVPR + 16), 1);
    assert_eq!(num_assoc(&m), 1);
    assert_eq!(call_on(&m, LP1, VP_FLUSH, TDVPR, 0, 0, 0).0, 0);
    assert_eq!(call(&m, VPFLUSHDONE, TDR, 0, 0, 0), 0);
}
