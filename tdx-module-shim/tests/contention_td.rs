//! Lock contention, part 2: the vCPU leaves (VP.CREATE, ADDCX, INIT,
//! FLUSH, ENTER), the memory-management leaves of a built TD (PAGE.AUG,
//! RANGE.BLOCK / UNBLOCK, TRACK, PAGE.REMOVE, SEPT.REMOVE) and the TD
//! lookup of the guest leaves (TDCALL). Another LP holds a PAMT entry
//! lock (explicit operand, the implicit owner TDR, or a page the Secure
//! EPT points to) or the TDCS lock; the leaf answers the exact contention
//! status, releases what it took, changes nothing, and succeeds once the
//! lock is free (`common::contention::run_busy`).
mod common;
use common::contention::*;
use common::mem_mgmt::*;
use common::*;

use tdx_module_shim::enter::gpr;
use tdx_module_shim::vp::TDVPS_PAGES;
use tdx_module_shim::*;

const VP_ADDCX: u64 = 4;
const VP_CREATE: u64 = 10;
const VP_FLUSH: u64 = 18;
const VP_INIT: u64 = 22;

/// `built` plus a TDVPR (VP.CREATE), no TDCX page.
fn vcpu_created() -> M {
    let m = built();
    assert_eq!(call(&m, VP_CREATE, TDVPR, TDR, 0, 0), 0);
    m
}

/// `vcpu_created` with every TDVPS page, no VP.INIT.
fn vcpu_pages() -> M {
    let m = vcpu_created();
    for i in 0..(TDVPS_PAGES as u64 - 1) {
        assert_eq!(call(&m, VP_ADDCX, VCX0 + 0x1000 * i, TDVPR, 0, 0), 0);
    }
    m
}

#[test]
fn vcpu_leaves_busy() {
    use OperandId::*;
    let (tdr, tdvpr) = (Hold::Pamt(TDR), Hold::Pamt(TDVPR));
    run_busy(&[
        BusyCase {
            name: "VP.CREATE",
            setup: built,
            call: seam(VP_CREATE, TDVPR, TDR, 0, 0),
            busy: &[
                (tdr, st(BUSY, Rdx)),
                (TDCS, OP_BUSY),
                (tdvpr, st(BUSY, Rcx)),
            ],
        },
        BusyCase {
            name: "VP.ADDCX",
            setup: vcpu_created,
            call: seam(VP_ADDCX, VCX0, TDVPR, 0, 0),
            busy: &[
                (tdvpr, st(BUSY, Rdx)),
                (tdr, st(BUSY, Tdr)),
                (TDCS, OP_BUSY),
                (Hold::Pamt(VCX0), st(BUSY, Rcx)),
            ],
        },
        BusyCase {
            name: "VP.INIT",
            setup: vcpu_pages,
            call: seam(VP_INIT, TDVPR, 0x1234, 0, 0),
            busy: &[
                (tdvpr, st(BUSY, Rcx)),
                (tdr, st(BUSY, Tdr)),
                (TDCS, OP_BUSY),
            ],
        },
        BusyCase {
            name: "VP.FLUSH",
            setup: runnable,
            call: seam(VP_FLUSH, TDVPR, 0, 0, 0),
            busy: &[
                (tdvpr, st(BUSY, Rcx)),
                (tdr, st(BUSY, Tdr)),
                (TDCS, OP_BUSY),
            ],
        },
        BusyCase {
            name: "VP.RD",
            setup: runnable,
            call: seam(26, TDVPR, md_vp::field::SHARED_EPT_POINTER, 0, 0),
            busy: &[
                (tdvpr, st(BUSY, Rcx)),
                (tdr, st(BUSY, Tdr)),
                (TDCS, OP_BUSY),
            ],
        },
        BusyCase {
            name: "VP.WR",
            setup: runnable,
            call: seam(
                43,
                TDVPR,
                md_vp::field::SHARED_EPT_POINTER,
                0x50_0000,
                0x000F_FFFF_FFFF_F000,
            ),
            busy: &[
                (tdvpr, st(BUSY, Rcx)),
                (tdr, st(BUSY, Tdr)),
                (TDCS, OP_BUSY),
            ],
        },
        BusyCase {
            name: "VP.ENTER",
            setup: runnable,
            call: Call::Enter(TDVPR),
            busy: &[
                (tdvpr, st(BUSY, Rcx)),
                (tdr, st(BUSY, Tdr)),
                (TDCS, OP_BUSY),
            ],
        },
    ]);
}

#[test]
fn memory_leaves_busy() {
    use OperandId::*;
    let tdr = Hold::Pamt(TDR);
    run_busy(&[
        BusyCase {
            name: "PAGE.AUG",
            setup: runnable,
            call: seam(AUG, 0x2000, TDR, AUG0, 0),
            busy: &[
                (tdr, st(BUSY, Rdx)),
                (TDCS, OP_BUSY),
                (Hold::Pamt(AUG0), st(BUSY, R8)),
            ],
        },
        BusyCase {
            name: "RANGE.BLOCK",
            setup: runnable,
            call: seam(BLOCK, 0x1000, TDR, 0, 0),
            busy: &[(tdr, st(BUSY, Rdx)), (TDCS, OP_BUSY)],
        },
        BusyCase {
            name: "RANGE.UNBLOCK",
            setup: blocked_tracked,
            call: seam(UNBLOCK, 0x1000, TDR, 0, 0),
            busy: &[(tdr, st(BUSY, Rdx)), (TDCS, OP_BUSY)],
        },
        BusyCase {
            name: "MEM.TRACK",
            setup: runnable,
            call: seam(TRACK, TDR, 0, 0, 0),
            busy: &[(tdr, st(BUSY, Rcx)), (TDCS, OP_BUSY)],
        },
        BusyCase {
            name: "PAGE.REMOVE",
            setup: blocked_tracked,
            call: seam(PAGE_REMOVE, 0x1000, TDR, 0, 0),
            busy: &[
                (tdr, st(BUSY, Rdx)),
                (TDCS, OP_BUSY),
                (Hold::Pamt(DATA0), st(BUSY, Rcx)),
            ],
        },
        BusyCase {
            name: "SEPT.REMOVE",
            setup: empty_sept,
            call: seam(SEPT_REMOVE, 1, TDR, 0, 0),
            busy: &[
                (tdr, st(BUSY, Rdx)),
                (TDCS, OP_BUSY),
                (Hold::Pamt(PT), st(BUSY, Rcx)),
            ],
        },
    ]);
}

/// A RUNNABLE TD whose vCPU runs on LP0.
fn entered() -> M {
    let m = runnable();
    enter_vcpu(&m);
    m
}

/// `entered`, with a PENDING page at GPA 0x2000.
fn entered_with_pending() -> M {
    let m = augmented();
    enter_vcpu(&m);
    m
}

/// `entered`, with the TD's TDREPORT at GPA 0x1400 (REPORTDATA 0x1040).
fn reported() -> M {
    let m = entered();
    assert_eq!(tdcall(&m, 4, 0x1400, 0x1040), 0);
    m
}

#[test]
fn guest_td_lookup_busy() {
    // The lookup every TD-scope guest leaf makes (`td_of`): the running
    // vCPU's TDVPR (operand TDVPR), its TDR (operand TDR), the TDCS lock.
    let lookup: &[(Hold, u64)] = &[
        (Hold::Pamt(TDVPR), st(BUSY, OperandId::Tdvpr)),
        (Hold::Pamt(TDR), st(BUSY, OperandId::Tdr)),
        (TDCS, OP_BUSY),
    ];
    run_busy(&[
        BusyCase {
            name: "TDG.VP.INFO",
            setup: entered,
            call: Call::Guest(1, [0, 0, 0]),
            busy: lookup,
        },
        BusyCase {
            name: "TDG.MR.RTMR.EXTEND",
            setup: entered,
            call: Call::Guest(2, [0x1000, 2, 0]),
            busy: lookup,
        },
        BusyCase {
            name: "TDG.MR.REPORT",
            setup: entered,
            call: Call::Guest(4, [0x1400, 0x1040, 0]),
            busy: lookup,
        },
        BusyCase {
            name: "TDG.MEM.PAGE.ACCEPT",
            setup: entered_with_pending,
            call: Call::Guest(ACCEPT, [0x2000, 0, 0]),
            busy: lookup,
        },
        BusyCase {
            name: "TDG.MR.VERIFYREPORT",
            setup: reported,
            call: Call::Guest(22, [0x1400, 0, 0]),
            busy: lookup,
        },
        BusyCase {
            name: "CMON_SEAL_KEY",
            setup: entered,
            call: Call::Guest(0x7F01, [0, 1, 0]),
            busy: lookup,
        },
    ]);
}

#[test]
fn a_busy_tdcall_leaves_the_vcpu_running() {
    // The TD retries a busy TDCALL: it stays in the TD (no exit), and the
    // same vCPU's next TDCALL succeeds.
    let m = entered();
    let held = m.hold_lock(TestLock::Tdcs { hkid: HKID as u16 }).unwrap();
    assert_eq!(tdcall(&m, 1, 0, 0), OP_BUSY);
    assert_eq!(m.running_vcpu(LP0), Some(Hpa(TDVPR)));
    drop(held);
    let mut g = enter::GuestState::default();
    g.gprs[gpr::RAX] = 1;
    assert_eq!(m.tdcall(LP0, &mut g), tdg::Tdcall::Resume);
    assert_eq!((g.gprs[gpr::RAX], g.gprs[gpr::RCX]), (0, 48));
}
