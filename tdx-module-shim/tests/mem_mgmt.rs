//! TDH.MEM.PAGE.AUG, RANGE.BLOCK/UNBLOCK, TRACK, PAGE.REMOVE, SEPT.REMOVE
//! and TDG.MEM.PAGE.ACCEPT: the success paths and TLB tracking with a
//! running vCPU (failure tables: `mem_mgmt_tables.rs`).
mod common;
use common::mem_mgmt::*;
use common::*;

use cmon_measure::Rtmr;
use tdx_module_shim::enter::{self, GuestState, TdExit, gpr};
use tdx_module_shim::tdg::Tdcall;
use tdx_module_shim::*;

#[test]
fn aug_then_accept_makes_a_zeroed_page_the_td_can_read() {
    let m = runnable();
    let cc = m.td_info(Hpa(TDR)).unwrap().chldcnt;
    m.platform().vmm_write(AUG0, &[0xEE; 64]);
    assert_eq!(call(&m, AUG, 0x2000, TDR, AUG0, 0), 0);
    assert_eq!(rdmd(&m, AUG0), (3, TDR), "PT_REG owned by the TDR");
    assert!(m.platform().is_isolated(AUG0));
    assert_eq!(page_words(&m, AUG0), vec![0; 512], "zeroed");
    assert_eq!(m.td_info(Hpa(TDR)).unwrap().chldcnt, cc + 1);
    assert_eq!(pt_entry(&m, 0x2000), AUG0 | 3 << 52, "PENDING, not present");
    assert_eq!(
        m.gpa_to_hpa(Hpa(TDR), Gpa(0x2000)),
        None,
        "PENDING is not TD-accessible"
    );

    enter_vcpu(&m);
    // Not yet accepted: RTMR.EXTEND cannot read it.
    assert_eq!(tdcall(&m, 2, 0x2040, 0), st(INV, OperandId::Rcx));
    // Stale content the ACCEPT must clear (module-side write).
    m.platform().set_word(AUG0 + 0x100, 0xDEAD);
    assert_eq!(tdcall(&m, ACCEPT, 0x2000, 0), 0, "ACCEPT");
    assert_eq!(pt_entry(&m, 0x2000), AUG0 | 7 | 2 << 52, "MAPPED");
    assert_eq!(m.platform().word(AUG0 + 0x100), 0, "zeroed again");
    assert_eq!(m.gpa_to_hpa(Hpa(TDR), Gpa(0x2000)), Some(Hpa(AUG0)));
    // The TD now reads it: RTMR[1] extended with 48 bytes from GPA 0x2040.
    m.platform().set_word(AUG0 + 0x40, 0x0102_0304_0506_0708);
    assert_eq!(tdcall(&m, 2, 0x2040, 1), 0);
    let mut data = [0u8; 48];
    data[..8].copy_from_slice(&0x0102_0304_0506_0708u64.to_le_bytes());
    let mut want = Rtmr::new();
    want.extend(&data);
    assert_eq!(m.td_info(Hpa(TDR)).unwrap().rtmr[1], want.value());
    // A second ACCEPT is the warning PAGE_ALREADY_ACCEPTED + level 0.
    assert_eq!(tdcall(&m, ACCEPT, 0x2000, 0), c(Code::PageAlreadyAccepted));
}

#[test]
fn accept_failures() {
    let m = augmented();
    enter_vcpu(&m);
    let size = Status::with_details(Code::PageSizeMismatch, 1).to_raw();
    let cases = [
        ("level 2", 2, st(INV, OperandId::Rcx)),
        ("reserved bits", 0x2000 | 8, st(INV, OperandId::Rcx)),
        ("2M level misaligned", 0x2000 | 1, st(INV, OperandId::Rcx)),
        ("shared GPA", 1 << 47 | 0x2000, st(INV, OperandId::Rcx)),
        ("2M over a 4K table", 1, size),
    ];
    for (what, rcx, want) in cases {
        let before = state(&m);
        assert_eq!(tdcall(&m, ACCEPT, rcx, 0), want, "{what}");
        assert_eq!(state(&m), before, "{what}: state changed");
    }
}

/// EEQ type ACCEPT with `tdaccept_vmx_eeq_info_t` in bits 63:32.
fn accept_eeq(req: u64, err_lvl: u64, state: u64, leaf: bool) -> u64 {
    enter::eeq::ACCEPT | (req | err_lvl << 3 | state << 6 | u64::from(leaf) << 14) << 32
}

#[test]
fn accept_with_nothing_to_accept_is_an_ept_violation_exit() {
    let m = augmented();
    enter_vcpu(&m);
    let cases = [
        // A FREE entry is not a leaf (the module's leaf bit is 0).
        ("FREE 4K entry", 0x3000, accept_eeq(0, 0, 0, false)),
        (
            "no SEPT below level 2 (walk stops)",
            GB1,
            accept_eeq(0, 2, 0, false),
        ),
    ];
    for (what, rcx, eeq) in cases {
        let before = state(&m);
        let (out, g) = tdcall_full(&m, ACCEPT, rcx);
        let want = Tdcall::EptViolation(TdExit::EptViolation {
            gpa: Gpa(rcx),
            qualification: 0,
            ext: eeq,
        });
        assert_eq!(out, want, "{what}");
        assert_eq!(
            g.gprs[gpr::RAX],
            ACCEPT,
            "{what}: RAX untouched (the TDCALL reruns)"
        );
        assert_eq!(state(&m), before, "{what}: state changed");
    }
    // A blocked PENDING page is not acceptable either.
    assert_eq!(call(&m, BLOCK, 0x2000, TDR, 0, 0), 0);
    let (out, _) = tdcall_full(&m, ACCEPT, 0x2000);
    let Tdcall::EptViolation(why) = out else {
        panic!("{out:?}");
    };
    assert_eq!(
        why,
        TdExit::EptViolation {
            gpa: Gpa(0x2000),
            qualification: 0,
            ext: accept_eeq(0, 0, 5, true)
        }
    );
    assert_eq!(sept_state(pt_entry(&m, 0x2000)), 5, "PENDING_BLOCKED");
    // The TD exit the image takes for it: exit reason 48, EEQ in RDX,
    // GPA in R8; the vCPU is READY again and re-enters at the TDCALL.
    let mut vmm = [0x77u64; 16];
    let g = GuestState {
        rip: 0x1234,
        ..GuestState::default()
    };
    m.td_exit(LP0, &g, why, &mut vmm);
    assert_eq!(vmm[gpr::RAX], enter::exit_reason::EPT_VIOLATION);
    assert_eq!(vmm[gpr::RCX], 0, "qualification");
    assert_eq!(vmm[gpr::RDX], accept_eeq(0, 0, 5, true));
    assert_eq!(vmm[gpr::R8], 0x2000);
    assert_eq!(vmm[gpr::R9], 0);
    assert_eq!(vmm[gpr::R10], 0x77, "other VMM GPRs kept");
    let mut r = [0u64; 16];
    r[gpr::RCX] = TDVPR;
    let e = m.vp_enter(LP0, &mut r).expect("re-enters");
    assert_eq!(e.state.rip, 0x1234, "resumes on the TDCALL");
}

/// The VMM's lazy-accept flow: ACCEPT of a GPA it never added exits, the
/// VMM AUGs the page, the TDCALL runs again and succeeds.
#[test]
fn lazy_accept_after_the_violation_exit() {
    let m = runnable();
    enter_vcpu(&m);
    let (out, _) = tdcall_full(&m, ACCEPT, 0x2000);
    let Tdcall::EptViolation(why) = out else {
        panic!("{out:?}");
    };
    let mut vmm = [0u64; 16];
    m.td_exit(LP0, &GuestState::default(), why, &mut vmm);
    assert_eq!(vmm[gpr::R8], 0x2000);
    assert_eq!(call(&m, AUG, vmm[gpr::R8], TDR, AUG0, 0), 0, "VMM AUGs it");
    enter_vcpu(&m);
    assert_eq!(tdcall(&m, ACCEPT, 0x2000, 0), 0, "the rerun accepts");
    assert_eq!(m.gpa_to_hpa(Hpa(TDR), Gpa(0x2000)), Some(Hpa(AUG0)));
}

#[test]
fn block_track_remove_frees_and_releases_the_page() {
    let m = runnable();
    let cc = m.td_info(Hpa(TDR)).unwrap().chldcnt;
    assert_eq!(call(&m, BLOCK, 0x1000, TDR, 0, 0), 0);
    assert_eq!(
        pt_entry(&m, 0x1000),
        DATA0 | 4 << 52,
        "BLOCKED, not present"
    );
    assert_eq!(bepoch(&m, DATA0), 1, "blocked in TD_EPOCH 1");
    assert_eq!(m.gpa_to_hpa(Hpa(TDR), Gpa(0x1000)), None);
    let (s, r) = call_on(&m, LP0, BLOCK, 0x1000, TDR, 0, 0);
    assert_eq!(
        s,
        st(Code::GpaRangeAlreadyBlocked, OperandId::Rcx),
        "warning"
    );
    assert_eq!((r.rcx, r.rdx), (DATA0 | 4 << 52, 4 << 8));
    let untracked = st(Code::TlbTrackingNotDone, OperandId::Rcx);
    assert_eq!(call(&m, PAGE_REMOVE, 0x1000, TDR, 0, 0), untracked);
    assert_eq!(call(&m, UNBLOCK, 0x1000, TDR, 0, 0), untracked);
    assert_eq!(call(&m, TRACK, TDR, 0, 0, 0), 0);
    let (s, r) = call_on(&m, LP0, PAGE_REMOVE, 0x1000, TDR, 0, 0);
    assert_eq!((s, r.rcx), (0, DATA0), "RCX = removed HPA");
    assert_eq!(rdmd(&m, DATA0), (0, 0), "PT_NDA");
    assert!(!m.platform().is_isolated(DATA0), "released to the VMM");
    assert_eq!(page_words(&m, DATA0), vec![0; 512]);
    assert_eq!(pt_entry(&m, 0x1000), 0, "FREE");
    assert_eq!(m.td_info(Hpa(TDR)).unwrap().chldcnt, cc - 1);
}

#[test]
fn unblock_restores_mapped_and_pending() {
    let m = augmented();
    for gpa in [0x1000, 0x2000] {
        assert_eq!(call(&m, BLOCK, gpa, TDR, 0, 0), 0);
    }
    assert_eq!(sept_state(pt_entry(&m, 0x2000)), 5, "PENDING_BLOCKED");
    assert_eq!(call(&m, TRACK, TDR, 0, 0, 0), 0);
    for gpa in [0x1000, 0x2000] {
        assert_eq!(call(&m, UNBLOCK, gpa, TDR, 0, 0), 0);
    }
    assert_eq!(pt_entry(&m, 0x1000), DATA0 | 7 | 2 << 52, "MAPPED again");
    assert_eq!(pt_entry(&m, 0x2000), AUG0 | 3 << 52, "PENDING again");
    assert_eq!(m.gpa_to_hpa(Hpa(TDR), Gpa(0x1000)), Some(Hpa(DATA0)));
    enter_vcpu(&m);
    assert_eq!(tdcall(&m, ACCEPT, 0x2000, 0), 0);
}

#[test]
fn a_running_vcpu_holds_the_previous_epoch() {
    let m = runnable();
    enter_vcpu(&m); // counted into epoch 1
    assert_eq!(call(&m, BLOCK, 0x1000, TDR, 0, 0), 0);
    assert_eq!(call(&m, TRACK, TDR, 0, 0, 0), 0, "epoch 2");
    let untracked = st(Code::TlbTrackingNotDone, OperandId::Rcx);
    assert_eq!(call(&m, PAGE_REMOVE, 0x1000, TDR, 0, 0), untracked);
    assert_eq!(
        call(&m, TRACK, TDR, 0, 0, 0),
        c(Code::PreviousTlbEpochBusy),
        "the vCPU still runs in epoch 1"
    );
    exit_vcpu(&m);
    assert_eq!(call(&m, PAGE_REMOVE, 0x1000, TDR, 0, 0), 0);
    assert_eq!(call(&m, TRACK, TDR, 0, 0, 0), 0);
}

#[test]
fn sept_remove_after_the_leaves_are_gone() {
    // With 0x1000 still mapped the PT is not empty; once its parent entry
    // is NL_BLOCKED, walks to 0x1000 stop there (not present).
    let m = blocked_tracked();
    assert_eq!(call(&m, BLOCK, 1, TDR, 0, 0), 0, "PD entry → NL_BLOCKED");
    assert_eq!(call(&m, TRACK, TDR, 0, 0, 0), 0);
    let (s, r) = call_on(&m, LP0, SEPT_REMOVE, 1, TDR, 0, 0);
    assert_eq!(s, st(Code::EptPageNotFree, OperandId::Rcx));
    assert_eq!((r.rcx, r.rdx), (PT | 6 << 52, 1 | 6 << 8));
    let (s, r) = call_on(&m, LP0, PAGE_REMOVE, 0x1000, TDR, 0, 0);
    assert_eq!(
        (s, r.rdx),
        (st(Code::EptWalkFailed, OperandId::Rcx), 1 | 6 << 8)
    );

    let m = blocked_tracked();
    assert_eq!(call(&m, PAGE_REMOVE, 0x1000, TDR, 0, 0), 0);
    assert_eq!(call(&m, BLOCK, 1, TDR, 0, 0), 0);
    let untracked = st(Code::TlbTrackingNotDone, OperandId::Rcx);
    assert_eq!(call(&m, SEPT_REMOVE, 1, TDR, 0, 0), untracked);
    assert_eq!(call(&m, TRACK, TDR, 0, 0, 0), 0);
    let cc = m.td_info(Hpa(TDR)).unwrap().chldcnt;
    let (s, r) = call_on(&m, LP0, SEPT_REMOVE, 1, TDR, 0, 0);
    assert_eq!((s, r.rcx), (0, PT));
    assert_eq!(rdmd(&m, PT), (0, 0));
    assert!(!m.platform().is_isolated(PT));
    assert_eq!(m.platform().word(PD), 0, "PD entry FREE");
    assert_eq!(m.td_info(Hpa(TDR)).unwrap().chldcnt, cc - 1);
    // Walks through it now fail.
    let (s, r) = call_on(&m, LP0, AUG, 0x2000, TDR, AUG0, 0);
    assert_eq!(
        (s, r.rcx, r.rdx),
        (st(Code::EptWalkFailed, OperandId::Rcx), 0, 1)
    );
}

#[test]
fn initialized_td_needs_no_block_or_track() {
    let m = initialized();
    sept_for_low_gpa(&m);
    m.platform().vmm_write(SRC0, &[1; 4096]);
    assert_eq!(call(&m, PAGE_ADD, 0x1000, TDR, DATA0, SRC0), 0);
    assert_eq!(call(&m, AUG, 0x2000, TDR, AUG0, 0), 0, "AUG in INITIALIZED");
    assert_eq!(call(&m, PAGE_REMOVE, 0x1000, TDR, 0, 0), 0, "MAPPED");
    assert_eq!(call(&m, PAGE_REMOVE, 0x2000, TDR, 0, 0), 0, "PENDING");
    assert_eq!(call(&m, SEPT_REMOVE, 1, TDR, 0, 0), 0, "NL_MAPPED");
    assert_eq!(rdmd(&m, AUG0), (0, 0));
}

/// A TD access to a GPA its EPTs do not map (the image's page fault):
/// EEQ PENDING_EPT_VIOLATION for a PENDING private page, none otherwise.
#[test]
fn page_fault_exits_say_whether_the_page_is_pending() {
    let m = augmented();
    let q = 1 << 1 | 1 << 7 | 1 << 8;
    let exit = |gpa: u64| m.ept_violation(Hpa(TDR), Gpa(gpa), q);
    let want = |gpa: u64, ext: u64| {
        Some(TdExit::EptViolation {
            gpa: Gpa(gpa),
            qualification: q,
            ext,
        })
    };
    let before = state(&m);
    assert_eq!(
        exit(0x2008),
        want(0x2008, enter::eeq::PENDING_EPT_VIOLATION),
        "PENDING (AUGed, not accepted)"
    );
    assert_eq!(exit(0x3000), want(0x3000, enter::eeq::NONE), "FREE");
    assert_eq!(exit(GB1), want(GB1, enter::eeq::NONE), "no SEPT table");
    let shared = 1 << 47 | 0x2000;
    assert_eq!(exit(shared), want(shared, enter::eeq::NONE), "shared GPA");
    assert_eq!(state(&m), before, "nothing changes");
    // Blocked, it is no longer guest-acceptable: no PENDING type.
    assert_eq!(call(&m, BLOCK, 0x2000, TDR, 0, 0), 0);
    assert_eq!(exit(0x2000), want(0x2000, enter::eeq::NONE));
    // Busy TD locks: no answer (the image retries).
    let _held = m.hold_lock(TestLock::Tdcs { hkid: HKID as u16 });
    assert_eq!(exit(0x2000), None);
}
