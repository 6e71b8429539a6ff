//! RMI_REC_ENTER, the exit classification, RSI and realm PSCI against the
//! fake platform's scripted `run_realm` (cca-rmm-abi.md §4.3, §8, §9,
//! §10; cca-attestation.md §3).

mod common;

use std::sync::{Arc, Barrier};

use cmon_measure::{HashAlgo, MeasurementRegister};
use common::*;
use fake_platform::FakePlatform;
use rmm::platform::{ExitKind, RealmExit};
use rmm::rec::{SysReg, layout};
use rmm::{GranuleState, PhysAddr, RmiFid, Rmm};

const L2: u64 = pool(5);
const L3: u64 = pool(6);
const DATA0: u64 = pool(10);
const DATA1: u64 = pool(11);
const REC0: u64 = pool(30);
const REC1: u64 = pool(31);
const NEW_RD: u64 = pool(20);
const NEW_REC: u64 = pool(32);
const IPA: u64 = 0x4000_0000;
/// First unprotected IPA (s2sz 40).
const NS_IPA: u64 = 1 << 39;
const RUN: u64 = 0x9000_2000;
const REC_ENTER: u64 = RmiFid::RecEnter as u64;
const PSCI_COMPLETE: u64 = RmiFid::PsciComplete as u64;
const ERROR_REC: u64 = 3;

const EMUL_MMIO: u64 = 1;
const INJECT_SEA: u64 = 2;
const TRAP_WFI: u64 = 4;

const VBAR: u64 = 0x9_0000;

/// RSI / PSCI FIDs.
const RSI_VERSION: u64 = 0xC400_0190;
const RSI_MEASUREMENT_READ: u64 = 0xC400_0192;
const RSI_MEASUREMENT_EXTEND: u64 = 0xC400_0193;
const RSI_REALM_CONFIG: u64 = 0xC400_0196;
const RSI_IPA_STATE_GET: u64 = 0xC400_0198;
const RSI_HOST_CALL: u64 = 0xC400_0199;

/// Active realm at RD: L2/L3 RTTs at IPA; RIPAS RAM for IPA..IPA+0x3000;
/// DATA0 at IPA and DATA1 at IPA+0x1000 (the host-call structure at
/// IPA+0x100: imm 0x1234, gprs 0x5000+i); IPA+0x2000 RAM but unmapped,
/// IPA+0x3000 EMPTY. REC0 runnable, REC1 not. A second realm NEW_RD stays
/// NEW with one REC.
fn setup(rmm: &Rmm<'_, FakePlatform>) {
    let f = rmm.platform();
    create_realm(rmm);
    for pa in [L2, L3, DATA0, DATA1] {
        delegate(rmm, pa);
    }
    assert_eq!(rmi(rmm, RTT_CREATE, &[RD, L2, IPA, 2]).x[0], SUCCESS);
    assert_eq!(rmi(rmm, RTT_CREATE, &[RD, L3, IPA, 3]).x[0], SUCCESS);
    let r = rmi(rmm, RTT_INIT_RIPAS, &[RD, IPA, IPA + 0x3000]);
    assert_eq!(r.x[0], SUCCESS);
    let mut image = vec![0u8; 4096];
    image[0x100..0x108].copy_from_slice(&0x1234u64.to_le_bytes());
    for i in 0..31u64 {
        let off = 0x108 + 8 * i as usize;
        image[off..off + 8].copy_from_slice(&(0x5000 + i).to_le_bytes());
    }
    f.host_write(PhysAddr(SRC), &image).unwrap();
    assert_eq!(
        rmi(rmm, DATA_CREATE, &[RD, DATA0, IPA, SRC, 0]).x[0],
        SUCCESS
    );
    assert_eq!(
        rmi(rmm, DATA_CREATE, &[RD, DATA1, IPA + 0x1000, SRC, 0]).x[0],
        SUCCESS
    );
    assert_eq!(create_rec_with(rmm, RD, REC0, &RecCfg::nth(0)), SUCCESS);
    let c1 = RecCfg {
        flags: 0,
        ..RecCfg::nth(1)
    };
    assert_eq!(create_rec_with(rmm, RD, REC1, &c1), SUCCESS);
    assert_eq!(rmi(rmm, REALM_ACTIVATE, &[RD]).x[0], SUCCESS);

    let other = RealmCfg {
        vmid: 8,
        rtt_base: pool(22),
        ..RealmCfg::default()
    };
    assert_eq!(create_realm_with(rmm, NEW_RD, &other), SUCCESS);
    let c = RecCfg {
        aux: aux_of(2),
        ..RecCfg::nth(0)
    };
    assert_eq!(create_rec_with(rmm, NEW_RD, NEW_REC, &c), SUCCESS);
    delegate(rmm, pool(41)); // a Realm-PAS run page
}

/// RecRun.enter image.
fn enter_bytes(flags: u64, gprs: &[u64], hcr: u64, lrs: &[u64]) -> Vec<u8> {
    let mut b = vec![0u8; 0x800];
    let mut put = |off: usize, v: u64| b[off..off + 8].copy_from_slice(&v.to_le_bytes());
    put(0, flags);
    for (i, g) in gprs.iter().enumerate() {
        put(0x200 + 8 * i, *g);
    }
    put(0x300, hcr);
    for (i, l) in lrs.iter().enumerate() {
        put(0x308 + 8 * i, *l);
    }
    b
}

/// Write RecRun.enter and call REC_ENTER(rec, RUN).
fn enter(rmm: &Rmm<'_, FakePlatform>, rec: u64, flags: u64, gprs: &[u64]) -> u64 {
    rmm.platform()
        .host_write(PhysAddr(RUN), &enter_bytes(flags, gprs, 0, &[]))
        .unwrap();
    rmi(rmm, REC_ENTER, &[rec, RUN]).x[0]
}

/// Word at `off` of RecRun.exit.
fn exit_word(rmm: &Rmm<'_, FakePlatform>, off: u64) -> u64 {
    let b = rmm
        .platform()
        .host_read(PhysAddr(RUN + 0x800 + off), 8)
        .unwrap();
    u64::from_le_bytes(b.try_into().unwrap())
}

fn exit_gprs(rmm: &Rmm<'_, FakePlatform>) -> Vec<u64> {
    (0..31).map(|i| exit_word(rmm, 0x200 + 8 * i)).collect()
}

fn rec_word(rmm: &Rmm<'_, FakePlatform>, rec: u64, w: usize) -> u64 {
    rmm.platform().read_word(PhysAddr(rec), w)
}

type Mutate = fn(&mut [u64; 2], &mut Vec<u8>);

#[test]
fn rec_enter_failure_conditions_in_priority_order() {
    let env = Env::new();
    let rmm = env.rmm();
    setup(&rmm);
    let f = rmm.platform();
    let cases: &[(&str, Mutate, u64)] = &[
        ("run_align", |a, _| a[1] += 8, ERROR_INPUT),
        ("run_bound: RMM memory", |a, _| a[1] = RMM_BASE, ERROR_INPUT),
        ("run_bound: no DRAM", |a, _| a[1] = 0x1000, ERROR_INPUT),
        ("run_pas: no GPT", |a, _| a[1] = NO_GPT_GRANULE, ERROR_INPUT),
        ("run_pas: Realm", |a, _| a[1] = pool(41), ERROR_INPUT),
        (
            "run_pas beats realm_new",
            |a, _| (a[0], a[1]) = (NEW_REC, pool(41)),
            ERROR_INPUT,
        ),
        (
            "run_pas beats rec_runnable",
            |a, _| (a[0], a[1]) = (REC1, pool(41)),
            ERROR_INPUT,
        ),
        ("rec_align", |a, _| a[0] += 8, ERROR_INPUT),
        ("rec_bound", |a, _| a[0] = RMM_BASE, ERROR_INPUT),
        ("rec_gran_state: RD", |a, _| a[0] = RD, ERROR_INPUT),
        ("rec_gran_state: DATA", |a, _| a[0] = DATA0, ERROR_INPUT),
        (
            "rec_gran_state: REC_AUX",
            |a, _| a[0] = aux_of(0)[0],
            ERROR_INPUT,
        ),
        (
            "rec_gran_state: UNDELEGATED",
            |a, _| a[0] = pool(42),
            ERROR_INPUT,
        ),
        (
            "rec_gran_state beats rec_gicv3",
            |a, e| {
                a[0] = pool(42);
                e[0x300] = 1;
            },
            ERROR_INPUT,
        ),
        ("realm_new", |a, _| a[0] = NEW_REC, error_realm(0)),
        (
            "realm_new beats rec_mmio",
            |a, e| {
                a[0] = NEW_REC;
                e[0] = EMUL_MMIO as u8;
            },
            error_realm(0),
        ),
        ("rec_runnable", |a, _| a[0] = REC1, ERROR_REC),
        (
            "rec_mmio: no emulatable abort",
            |_, e| e[0] = EMUL_MMIO as u8,
            ERROR_REC,
        ),
        (
            "flags: INJECT_SEA without an unprotected abort",
            |_, e| e[0] = INJECT_SEA as u8,
            ERROR_REC,
        ),
        ("rec_gicv3: HCR.EN", |_, e| e[0x300] = 1, ERROR_REC),
        ("rec_gicv3: HCR bit 8", |_, e| e[0x301] = 1, ERROR_REC),
        (
            "rec_gicv3: LR.HW",
            |_, e| e[0x308 + 7] = 0x60, // State pending + HW
            ERROR_REC,
        ),
        (
            "rec_gicv3: duplicate vINTID",
            |_, e| {
                e[0x308] = 27;
                e[0x308 + 7] = 0x40;
                e[0x310] = 27;
                e[0x310 + 7] = 0x40;
            },
            ERROR_REC,
        ),
        (
            "rec_gicv3: LR beyond GICV3_NUM_LRS",
            |_, e| e[0x308 + 8 * 4] = 1,
            ERROR_REC,
        ),
    ];
    let rd_before = f.read_raw(PhysAddr(RD), 4096);
    for (name, mutate, want) in cases {
        let mut args = [REC0, RUN];
        let mut e = enter_bytes(0, &[], 0, &[]);
        mutate(&mut args, &mut e);
        f.host_write(PhysAddr(RUN), &e).unwrap();
        f.host_write(PhysAddr(RUN + 0x800), &[0xEE; 0x800]).unwrap();
        let before = [
            gstate(&rmm, REC0),
            gstate(&rmm, REC1),
            gstate(&rmm, NEW_REC),
        ];
        let rec0 = f.read_raw(PhysAddr(REC0), 4096);
        assert_eq!(rmi(&rmm, REC_ENTER, &args).x[0], *want, "{name}");
        assert!(f.realm_runs().is_empty(), "{name}: the realm ran");
        assert_eq!(
            f.host_read(PhysAddr(RUN + 0x800), 0x800).unwrap(),
            vec![0xEE; 0x800],
            "{name}: exit written"
        );
        assert_eq!(
            [
                gstate(&rmm, REC0),
                gstate(&rmm, REC1),
                gstate(&rmm, NEW_REC)
            ],
            before,
            "{name}"
        );
        assert_eq!(f.read_raw(PhysAddr(REC0), 4096), rec0, "{name}");
    }
    assert_eq!(f.read_raw(PhysAddr(RD), 4096), rd_before);
    // A valid GIC state is accepted: the allowed HCR bits, LRs with a
    // pending SPI and an LPI.
    let lrs = [0x4000_0000_0000_0020u64 | 1 << 60, 0x8000_0000_0000_2000];
    f.host_write(PhysAddr(RUN), &enter_bytes(0, &[], 0x40FE, &lrs))
        .unwrap();
    assert_eq!(rmi(&rmm, REC_ENTER, &[REC0, RUN]).x[0], SUCCESS);
    assert_eq!(exit_word(&rmm, 0x300), 0x40FE, "gicv3_hcr reported back");
    assert_eq!(exit_word(&rmm, 0x308), lrs[0]);
    assert_eq!(exit_word(&rmm, 0x310), lrs[1]);
    // The validated state is what the platform loads into ICH_*_EL2.
    let run = f.realm_runs().last().copied().expect("the REC ran");
    assert_eq!(run.gic_in.hcr, 0x40FE);
    assert_eq!(run.gic_in.lrs[..2], lrs);
    assert!(run.gic_in.lrs[2..].iter().all(|&l| l == 0));
    assert!(f.violations().is_empty());
}

#[test]
fn irq_exit_with_stage2_and_context_loaded() {
    let env = Env::new();
    let rmm = env.rmm();
    setup(&rmm);
    let f = rmm.platform();
    f.push_realm_step(|r, s, fp, _| {
        r.gprs[9] = 0x99;
        s[SysReg::CntvCtlEl0 as usize] = 1;
        s[SysReg::CntvCvalEl0 as usize] = 0x1234;
        fp.q[3] = 0x1111_2222_3333_4444_5555_6666_7777_8888;
        fp.fpcr = 0x300_0000;
        RealmExit {
            kind: ExitKind::Irq,
            esr: 0,
            far: 0,
            hpfar: 0,
        }
    });
    f.host_write(PhysAddr(RUN + 0x800), &[0xEE; 0x800]).unwrap();
    assert_eq!(enter(&rmm, REC0, TRAP_WFI, &[]), SUCCESS);
    let runs = f.realm_runs();
    assert_eq!(runs.len(), 1);
    let s2 = runs[0].s2;
    assert_eq!(
        (s2.vmid, s2.rtt_root, s2.s2sz, s2.start_level),
        (7, PhysAddr(RTT_BASE), 40, 1)
    );
    assert_eq!(s2.vmpidr, 1 << 31, "MPIDR 0 with RES1");
    assert!(s2.trap_wfi && !s2.trap_wfe);
    let c = RecCfg::nth(0);
    assert_eq!(runs[0].regs_in.pc, c.pc);
    assert_eq!(runs[0].regs_in.pstate, 0x3C5);
    assert_eq!(&runs[0].regs_in.gprs[..8], &c.gprs);
    assert_eq!(runs[0].sysregs_in[SysReg::SctlrEl1 as usize], 0x30D0_0800);
    // The exit half: IRQ, timers, zeros elsewhere.
    assert_eq!(exit_word(&rmm, 0), 1);
    assert_eq!(exit_word(&rmm, 0x410), 1);
    assert_eq!(exit_word(&rmm, 0x418), 0x1234);
    for off in [
        0x100, 0x108, 0x110, 0x200, 0x388, 0x390, 0x500, 0x600, 0x700,
    ] {
        assert_eq!(exit_word(&rmm, off), 0, "exit +{off:#x}");
    }
    // State stored back; running mark dropped; FP in aux 0.
    assert_eq!(rec_word(&rmm, REC0, layout::GPRS + 9), 0x99);
    assert_eq!(gstate(&rmm, REC0), (Some(GranuleState::Rec), 0));
    f.push_realm_exit(RealmExit {
        kind: ExitKind::Fiq,
        esr: 0,
        far: 0,
        hpfar: 0,
    });
    assert_eq!(enter(&rmm, REC0, 0, &[]), SUCCESS);
    let runs = f.realm_runs();
    assert_eq!(runs[1].regs_in.gprs[9], 0x99);
    assert_eq!(
        runs[1].fp_in.q[3],
        0x1111_2222_3333_4444_5555_6666_7777_8888
    );
    assert_eq!(runs[1].fp_in.fpcr, 0x300_0000);
    assert_eq!(runs[1].sysregs_in[SysReg::CntvCvalEl0 as usize], 0x1234);
    assert_eq!(exit_word(&rmm, 0), 2, "FIQ");
    assert_eq!(
        f.read_word(PhysAddr(aux_of(0)[0]), 6),
        0x5555_6666_7777_8888
    );
    assert_eq!(f.read_word(PhysAddr(aux_of(0)[0]), 65), 0x300_0000);
    // SError: ESR reported.
    f.push_realm_exit(RealmExit {
        kind: ExitKind::SError,
        esr: 0xBE00_0000,
        far: 0,
        hpfar: 0,
    });
    assert_eq!(enter(&rmm, REC0, 0, &[]), SUCCESS);
    assert_eq!(
        (exit_word(&rmm, 0), exit_word(&rmm, 0x100)),
        (6, 0xBE00_0000)
    );
    assert!(f.violations().is_empty());
}

#[test]
fn host_call_round_trip_copies_gprs_both_ways() {
    let env = Env::new();
    let rmm = env.rmm();
    setup(&rmm);
    let f = rmm.platform();
    push_smc(f, &[RSI_HOST_CALL | 1 << 16, IPA + 0x100]);
    assert_eq!(enter(&rmm, REC0, 0, &[]), SUCCESS);
    assert_eq!(exit_word(&rmm, 0), 5, "RMI_EXIT_HOST_CALL");
    assert_eq!(exit_word(&rmm, 0x600), 0x1234, "imm");
    let want: Vec<u64> = (0..31).map(|i| 0x5000 + i).collect();
    assert_eq!(exit_gprs(&rmm), want);
    // Host answers; the realm resumes after the SMC with x0 = SUCCESS.
    f.push_realm_exit(RealmExit {
        kind: ExitKind::Irq,
        esr: 0,
        far: 0,
        hpfar: 0,
    });
    let answer: Vec<u64> = (0..31).map(|i| 0xA000 + i).collect();
    assert_eq!(enter(&rmm, REC0, 0, &answer), SUCCESS);
    let runs = f.realm_runs();
    assert_eq!(runs[1].regs_in.gprs[0], 0, "RSI_SUCCESS");
    assert_eq!(runs[1].regs_in.pc, RecCfg::nth(0).pc + 4);
    let mem = f.read_raw(PhysAddr(DATA0 + 0x108), 31 * 8);
    for (i, v) in answer.iter().enumerate() {
        assert_eq!(&mem[8 * i..8 * i + 8], &v.to_le_bytes(), "gprs[{i}]");
    }
    // Misaligned and unprotected structures are RSI_ERROR_INPUT, no exit.
    push_smc(f, &[RSI_HOST_CALL, IPA + 0x80]);
    push_smc(f, &[RSI_HOST_CALL, NS_IPA]);
    assert_eq!(enter(&rmm, REC0, 0, &[]), SUCCESS);
    let runs = f.realm_runs();
    assert_eq!(runs[3].regs_in.gprs[0], 1);
    assert_eq!(runs[4].regs_in.gprs[0], 1);
    assert_eq!(exit_word(&rmm, 0), 1, "IRQ at the end of the script");
    // RIPAS RAM but unmapped: stage-2 fault exit, SMC re-executed.
    push_smc(f, &[RSI_HOST_CALL, IPA + 0x2000]);
    assert_eq!(enter(&rmm, REC0, 0, &[]), SUCCESS);
    assert_eq!(exit_word(&rmm, 0), 0);
    assert_eq!(exit_word(&rmm, 0x100), 0x24 << 26 | 0x07);
    assert_eq!(exit_word(&rmm, 0x110), hpfar(IPA + 0x2000));
    let pc = rec_word(&rmm, REC0, layout::PC);
    assert_eq!(pc, f.realm_runs()[5].regs_out.pc, "PC back at the SMC");
}

#[test]
fn mmio_write_then_read_completed_with_emul_mmio() {
    let env = Env::new();
    let rmm = env.rmm();
    setup(&rmm);
    let f = rmm.platform();
    let ipa = NS_IPA + 0x5000;
    // STR W5, [x]: ISV, SAS=4 bytes, SRT=5, SF, WnR, FSC translation L3.
    let wr = 0x24 << 26 | IL | 1 << 24 | 2 << 22 | 5 << 16 | 1 << 15 | 1 << 6 | 0x07;
    f.push_realm_step(move |r, _, _, _| {
        r.gprs[5] = 0xAABB_CCDD_EEFF_1122;
        sync(wr, 0x1234_5678, hpfar(ipa))
    });
    assert_eq!(enter(&rmm, REC0, 0, &[]), SUCCESS);
    assert_eq!(exit_word(&rmm, 0), 0, "RMI_EXIT_SYNC");
    assert_eq!(
        exit_word(&rmm, 0x100),
        0x24 << 26 | 1 << 24 | 2 << 22 | 1 << 15 | 1 << 6 | 0x07,
        "EC, ISV, SAS, SF, WnR, FSC; no IL, SRT"
    );
    assert_eq!(exit_word(&rmm, 0x108), 0x1234_5000, "FAR page-aligned");
    assert_eq!(exit_word(&rmm, 0x110), hpfar(ipa));
    assert_eq!(exit_word(&rmm, 0x200), 0xEEFF_1122, "written value");
    let pc0 = RecCfg::nth(0).pc;
    // LDRSH W7, [x]: ISV, SAS=2, SSE, SRT=7, SF=0, read.
    let rd = 0x24 << 26 | IL | 1 << 24 | 1 << 22 | 1 << 21 | 7 << 16 | 0x07;
    f.push_realm_step(move |_, _, _, _| sync(rd, 0x1234_5002, hpfar(ipa)));
    assert_eq!(enter(&rmm, REC0, EMUL_MMIO, &[]), SUCCESS);
    assert_eq!(f.realm_runs()[1].regs_in.pc, pc0 + 4, "write completed");
    assert_eq!(exit_word(&rmm, 0x200), 0, "no value for a read");
    assert_eq!(exit_word(&rmm, 0x108), 0x1234_5000);
    f.push_realm_exit(RealmExit {
        kind: ExitKind::Irq,
        esr: 0,
        far: 0,
        hpfar: 0,
    });
    let mut g = [0u64; 31];
    g[0] = 0xFFFF_FFFF_FFFF_8001;
    assert_eq!(enter(&rmm, REC0, EMUL_MMIO, &g), SUCCESS);
    let run = f.realm_runs()[2];
    assert_eq!(
        run.regs_in.gprs[7], 0xFFFF_8001,
        "sign-extended halfword, W register"
    );
    assert_eq!(run.regs_in.pc, pc0 + 8);
    // EMUL_MMIO after a non-MMIO exit is refused.
    assert_eq!(enter(&rmm, REC0, EMUL_MMIO, &[]), ERROR_REC);
    // ISV=0 at an unprotected IPA: non-emulatable, FAR 0; INJECT_SEA answers it.
    f.push_realm_exit(sync(0x24 << 26 | IL | 1 << 6 | 0x07, 0x777, hpfar(ipa)));
    assert_eq!(enter(&rmm, REC0, 0, &[]), SUCCESS);
    assert_eq!(exit_word(&rmm, 0x100), 0x24 << 26 | 0x07);
    assert_eq!(
        (exit_word(&rmm, 0x108), exit_word(&rmm, 0x110)),
        (0, hpfar(ipa))
    );
    assert_eq!(enter(&rmm, REC0, EMUL_MMIO, &[]), ERROR_REC);
    f.push_realm_exit(RealmExit {
        kind: ExitKind::Irq,
        esr: 0,
        far: 0,
        hpfar: 0,
    });
    assert_eq!(enter(&rmm, REC0, INJECT_SEA, &[]), SUCCESS);
    let run = *f.realm_runs().last().unwrap();
    assert_eq!(
        run.sysregs_in[SysReg::EsrEl1 as usize],
        0x25 << 26 | IL | 0x10
    );
    assert_eq!(run.sysregs_in[SysReg::FarEl1 as usize], 0x777);
    assert_eq!(run.sysregs_in[SysReg::ElrEl1 as usize], pc0 + 8);
    assert_eq!(run.regs_in.pc, 0x200, "VBAR_EL1 (0) + current EL SPx");
}

#[test]
fn hvc_injects_undef_without_exit() {
    let env = Env::new();
    let rmm = env.rmm();
    setup(&rmm);
    let f = rmm.platform();
    f.push_realm_step(|r, s, _, _| {
        s[SysReg::VbarEl1 as usize] = VBAR;
        r.pc += 4; // ELR_EL2 of an HVC is past it
        r.pstate = 0x3C5;
        sync(0x16 << 26 | IL, 0, 0)
    });
    // An unknown EC (MSR/MRS trap) is an UNDEF too, at the instruction.
    f.push_realm_step(|r, _, _, _| {
        r.pc = 0x7000;
        r.pstate = 0x0; // EL0t
        sync(0x18 << 26 | IL, 0, 0)
    });
    assert_eq!(enter(&rmm, REC0, 0, &[]), SUCCESS);
    assert_eq!(exit_word(&rmm, 0), 1, "only the final IRQ reached the host");
    let runs = f.realm_runs();
    assert_eq!(runs.len(), 3);
    let s = runs[1].sysregs_in;
    assert_eq!(runs[1].regs_in.pc, VBAR + 0x200);
    assert_eq!(runs[1].regs_in.pstate, 0x3C5);
    assert_eq!(s[SysReg::EsrEl1 as usize], IL, "EC 0 (unknown)");
    assert_eq!(s[SysReg::ElrEl1 as usize], RecCfg::nth(0).pc, "the HVC");
    assert_eq!(s[SysReg::SpsrEl1 as usize], 0x3C5);
    assert_eq!(runs[2].regs_in.pc, VBAR + 0x400, "from EL0");
    assert_eq!(runs[2].sysregs_in[SysReg::ElrEl1 as usize], 0x7000);
}

#[test]
fn protected_empty_access_injects_sea_and_unmapped_ram_exits() {
    let env = Env::new();
    let rmm = env.rmm();
    setup(&rmm);
    let f = rmm.platform();
    let dabt = 0x24 << 26 | IL | 1 << 24 | 3 << 22 | 2 << 16 | 0x07;
    f.push_realm_step(move |r, s, _, _| {
        s[SysReg::VbarEl1 as usize] = VBAR;
        r.pc = 0x8_1000;
        sync(dabt, 0xFFFF_0000_1234_5678, hpfar(IPA + 0x3000))
    });
    // Beyond the IPA space: SEA too (instruction fetch this time).
    f.push_realm_step(|r, _, _, _| {
        r.pc = 0x8_2000;
        sync(0x20 << 26 | IL | 0x07, 0x55, hpfar(1 << 40))
    });
    // RIPAS RAM, not mapped: non-emulatable exit with HPFAR.
    f.push_realm_exit(sync(dabt, 0x999, hpfar(IPA + 0x2000)));
    assert_eq!(enter(&rmm, REC0, 0, &[]), SUCCESS);
    let runs = f.realm_runs();
    assert_eq!(runs.len(), 3, "two SEAs without host exits");
    let s = runs[1].sysregs_in;
    assert_eq!(runs[1].regs_in.pc, VBAR + 0x200);
    assert_eq!(s[SysReg::EsrEl1 as usize], 0x25 << 26 | IL | 0x10);
    assert_eq!(s[SysReg::FarEl1 as usize], 0xFFFF_0000_1234_5678);
    assert_eq!(s[SysReg::ElrEl1 as usize], 0x8_1000);
    let s = runs[2].sysregs_in;
    assert_eq!(s[SysReg::EsrEl1 as usize], 0x21 << 26 | IL | 0x10);
    assert_eq!(s[SysReg::ElrEl1 as usize], 0x8_2000);
    assert_eq!(exit_word(&rmm, 0), 0);
    assert_eq!(exit_word(&rmm, 0x100), 0x24 << 26 | 0x07, "masked");
    assert_eq!(exit_word(&rmm, 0x108), 0, "FAR hidden");
    assert_eq!(exit_word(&rmm, 0x110), hpfar(IPA + 0x2000));
    assert_eq!(exit_word(&rmm, 0x200), 0);
    // An abort at a protected IPA cannot be answered with INJECT_SEA/EMUL_MMIO.
    assert_eq!(enter(&rmm, REC0, INJECT_SEA, &[]), ERROR_REC);
    assert_eq!(enter(&rmm, REC0, EMUL_MMIO, &[]), ERROR_REC);
}

#[test]
fn wfi_exit_advances_pc() {
    let env = Env::new();
    let rmm = env.rmm();
    setup(&rmm);
    let f = rmm.platform();
    f.push_realm_exit(sync(0x01 << 26 | IL | 1, 0xAB, 0xCD)); // WFE
    assert_eq!(enter(&rmm, REC0, TRAP_WFI | 8, &[]), SUCCESS);
    assert!(f.realm_runs()[0].s2.trap_wfe);
    assert_eq!(exit_word(&rmm, 0), 0);
    assert_eq!(exit_word(&rmm, 0x100), 0x01 << 26 | 1, "EC + TI only");
    assert_eq!((exit_word(&rmm, 0x108), exit_word(&rmm, 0x110)), (0, 0));
    assert_eq!(rec_word(&rmm, REC0, layout::PC), RecCfg::nth(0).pc + 4);
}

#[test]
fn rsi_measurements_match_an_independent_register() {
    let env = Env::new();
    let rmm = env.rmm();
    setup(&rmm);
    let f = rmm.platform();
    let data = [0x0807_0605_0403_0201u64, 0x0A09];
    push_smc(f, &[RSI_MEASUREMENT_EXTEND, 2, 10, data[0], data[1]]);
    push_smc(f, &[RSI_MEASUREMENT_READ | 1 << 16, 2]);
    push_smc(f, &[RSI_MEASUREMENT_READ, 0]);
    push_smc(f, &[RSI_MEASUREMENT_EXTEND, 5, 8]);
    push_smc(f, &[RSI_MEASUREMENT_EXTEND, 1, 65]);
    push_smc(f, &[RSI_MEASUREMENT_READ, 5]);
    assert_eq!(enter(&rmm, REC0, 0, &[]), SUCCESS);
    let runs = f.realm_runs();
    assert_eq!(runs.len(), 7);
    assert_eq!(runs[1].regs_in.gprs[0], 0, "extend SUCCESS");
    let mut rem = MeasurementRegister::new(HashAlgo::Sha256);
    rem.extend(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    let got: Vec<u8> = runs[2].regs_in.gprs[1..9]
        .iter()
        .flat_map(|w| w.to_le_bytes())
        .collect();
    assert_eq!(runs[2].regs_in.gprs[0], 0);
    assert_eq!(got, rem.value().slot().to_vec(), "REM[2]");
    assert_eq!(f.read_raw(PhysAddr(RD + 0xC0 + 64), 64), got, "REM slot 2");
    let rim: Vec<u8> = runs[3].regs_in.gprs[1..9]
        .iter()
        .flat_map(|w| w.to_le_bytes())
        .collect();
    assert_eq!(rim, f.read_raw(PhysAddr(RD + 0x80), 64), "index 0 = RIM");
    for (i, r) in runs[4..7].iter().enumerate() {
        assert_eq!(r.regs_in.gprs[0], 1, "ERROR_INPUT case {i}");
    }
    assert_eq!(
        f.read_raw(PhysAddr(RD + 0xC0), 64),
        vec![0; 64],
        "REM 1 untouched"
    );
}

#[test]
fn rsi_realm_config_version_ipa_state_and_unknown() {
    let env = Env::new();
    let rmm = env.rmm();
    setup(&rmm);
    let f = rmm.platform();
    push_smc(f, &[RSI_REALM_CONFIG, IPA + 0x1000]);
    push_smc(f, &[RSI_REALM_CONFIG, IPA + 0x3000]); // EMPTY
    push_smc(f, &[RSI_REALM_CONFIG, IPA + 0x1008]); // misaligned
    push_smc(f, &[RSI_VERSION, 0x1_0000]);
    push_smc(f, &[0x8000_0000]); // SMCCC_VERSION
    push_smc(f, &[0xC400_01AF, 1, 2, 3]); // unknown
    push_smc(f, &[RSI_IPA_STATE_GET, IPA, IPA + 0x10_0000]);
    push_smc(f, &[RSI_IPA_STATE_GET, IPA + 0x3000, IPA + 0x5000]);
    push_smc(f, &[RSI_IPA_STATE_GET, IPA, NS_IPA + 0x1000]);
    assert_eq!(enter(&rmm, REC0, 0, &[]), SUCCESS);
    let r: Vec<[u64; 4]> = f
        .realm_runs()
        .iter()
        .skip(1)
        .map(|r| {
            let g = r.regs_in.gprs;
            [g[0], g[1], g[2], g[3]]
        })
        .collect();
    assert_eq!(r[0][0], 0, "REALM_CONFIG");
    assert_eq!(f.read_word(PhysAddr(DATA1), 0), 40, "ipa_width");
    assert_eq!(f.read_word(PhysAddr(DATA1), 1), 0, "hash_algo SHA-256");
    assert_eq!(
        f.read_raw(PhysAddr(DATA1 + 0x200), 64),
        vec![0x5A; 64],
        "rpv"
    );
    assert_eq!(r[1][0], 1);
    assert_eq!(r[2][0], 1);
    assert_eq!(r[3][..3], [0, 0x1_0000, 0x1_0000]);
    assert_eq!(r[4][0], 0x1_0002);
    assert_eq!(r[5], [u64::MAX, 1, 2, 3], "SMC_UNKNOWN, rest preserved");
    assert_eq!(r[6][..3], [0, IPA + 0x3000, 1], "RAM run");
    assert_eq!(r[7][..3], [0, IPA + 0x5000, 0], "EMPTY run capped at top");
    assert_eq!(r[8][0], 1, "top beyond PAR");
}

#[test]
fn running_rec_is_busy() {
    let env = Env::new();
    let rmm = env.rmm();
    setup(&rmm);
    let f = rmm.platform();
    let inside = Arc::new(Barrier::new(2));
    let release = Arc::new(Barrier::new(2));
    let (a, b) = (inside.clone(), release.clone());
    f.push_realm_step(move |_, _, _, _| {
        a.wait();
        b.wait();
        RealmExit {
            kind: ExitKind::Irq,
            esr: 0,
            far: 0,
            hpfar: 0,
        }
    });
    std::thread::scope(|s| {
        let t = s.spawn(|| rmi(&rmm, REC_ENTER, &[REC0, RUN]).x[0]);
        inside.wait();
        assert_eq!(gstate(&rmm, REC0), (Some(GranuleState::Rec), 1));
        assert_eq!(rmi(&rmm, REC_ENTER, &[REC0, RUN]).x[0], ERROR_REC);
        assert_eq!(rmi(&rmm, REC_DESTROY, &[REC0]).x[0], ERROR_REC);
        // The RD and the RTTs are free while the realm runs.
        assert_eq!(rmi(&rmm, RTT_READ_ENTRY, &[RD, IPA, 3]).x[0], SUCCESS);
        release.wait();
        assert_eq!(t.join().unwrap(), SUCCESS);
    });
    assert_eq!(gstate(&rmm, REC0), (Some(GranuleState::Rec), 0));
    assert_eq!(f.realm_runs().len(), 1, "the busy entry never ran");
}

#[test]
fn exit_write_failure_keeps_rec_state() {
    let env = Env::new();
    let rmm = env.rmm();
    setup(&rmm);
    let f = rmm.platform();
    f.push_realm_step(|r, _, _, _| {
        r.gprs[3] = 0x3333;
        r.pc = 0x8_4000;
        RealmExit {
            kind: ExitKind::Irq,
            esr: 0,
            far: 0,
            hpfar: 0,
        }
    });
    f.fail_next_write_ns(PhysAddr(RUN + 0x800));
    assert_eq!(enter(&rmm, REC0, 0, &[]), ERROR_INPUT);
    assert_eq!(rec_word(&rmm, REC0, layout::PC), 0x8_4000);
    assert_eq!(rec_word(&rmm, REC0, layout::GPRS + 3), 0x3333);
    assert_eq!(gstate(&rmm, REC0), (Some(GranuleState::Rec), 0));
    assert_eq!(enter(&rmm, REC0, 0, &[]), SUCCESS);
    assert_eq!(f.realm_runs()[1].regs_in.pc, 0x8_4000);
}

#[test]
fn psci_cpu_on_affinity_and_system_off() {
    let env = Env::new();
    let rmm = env.rmm();
    setup(&rmm);
    let f = rmm.platform();
    push_smc(f, &[0x8400_0000]); // PSCI_VERSION
    push_smc(f, &[0x8400_000A, 0xC400_0003]); // FEATURES(CPU_ON)
    push_smc(f, &[0x8400_000A, 0x8400_0005]); // FEATURES(MIGRATE)
    push_smc(f, &[0xC400_0003, 0, 0x8_8000, 0]); // CPU_ON self
    push_smc(f, &[0xC400_0003, 7, 0x8_8000, 0]); // no such REC
    push_smc(f, &[0xC400_0003, 1, NS_IPA, 0]); // entry outside PAR
    push_smc(f, &[0xC400_0004, 0, 0]); // AFFINITY_INFO self
    push_smc(f, &[0xC400_0003, 1, 0x8_8000, 0xC0FFEE]);
    assert_eq!(enter(&rmm, REC0, 0, &[]), SUCCESS);
    let runs = f.realm_runs();
    let x0: Vec<u64> = runs[1..8].iter().map(|r| r.regs_in.gprs[0]).collect();
    assert_eq!(
        x0,
        [
            0x1_0001,
            0,
            u64::MAX,
            -4i64 as u64,
            -2i64 as u64,
            -9i64 as u64,
            0
        ]
    );
    assert_eq!(exit_word(&rmm, 0), 3, "RMI_EXIT_PSCI");
    assert_eq!(exit_gprs(&rmm)[..3], [0xC400_0003, 1, 0]);
    assert_eq!(enter(&rmm, REC0, 0, &[]), ERROR_REC, "PSCI pending");
    assert_eq!(enter(&rmm, REC1, 0, &[]), ERROR_REC, "target not runnable");
    // PSCI_COMPLETE failure rows, then success.
    assert_eq!(rmi(&rmm, PSCI_COMPLETE, &[REC0, REC0, 0]).x[0], ERROR_INPUT);
    assert_eq!(rmi(&rmm, PSCI_COMPLETE, &[REC1, REC0, 0]).x[0], ERROR_INPUT);
    assert_eq!(rmi(&rmm, PSCI_COMPLETE, &[REC0, RD, 0]).x[0], ERROR_INPUT);
    assert_eq!(
        rmi(&rmm, PSCI_COMPLETE, &[REC0, NEW_REC, 0]).x[0],
        ERROR_INPUT,
        "owner"
    );
    assert_eq!(
        rmi(&rmm, PSCI_COMPLETE, &[REC0, REC1, 5]).x[0],
        ERROR_INPUT,
        "status"
    );
    assert_eq!(rmi(&rmm, PSCI_COMPLETE, &[REC0, REC1, 0]).x[0], SUCCESS);
    assert_eq!(rec_word(&rmm, REC1, layout::PC), 0x8_8000);
    assert_eq!(rec_word(&rmm, REC1, layout::GPRS), 0xC0FFEE);
    assert_eq!(rec_word(&rmm, REC1, layout::GPRS + 1), 0);
    assert_eq!(rec_word(&rmm, REC1, layout::FLAGS), 1);
    assert_eq!(rec_word(&rmm, REC0, layout::GPRS), 0, "caller: SUCCESS");
    assert_eq!(rmi(&rmm, PSCI_COMPLETE, &[REC0, REC1, 0]).x[0], ERROR_INPUT);
    // REC1 runs; AFFINITY_INFO(REC0) is asked of the host; SYSTEM_OFF.
    push_smc(f, &[0xC400_0004, 0, 0]);
    assert_eq!(enter(&rmm, REC1, 0, &[]), SUCCESS);
    assert_eq!(f.realm_runs().last().unwrap().regs_in.pc, 0x8_8000);
    assert_eq!(exit_gprs(&rmm)[..2], [0xC400_0004, 0]);
    assert_eq!(rmi(&rmm, PSCI_COMPLETE, &[REC1, REC0, 0]).x[0], SUCCESS);
    assert_eq!(rec_word(&rmm, REC1, layout::GPRS), 0, "ON");
    push_smc(f, &[0x8400_0008]);
    assert_eq!(enter(&rmm, REC1, 0, &[]), SUCCESS);
    assert_eq!(exit_word(&rmm, 0), 3);
    assert_eq!(exit_word(&rmm, 0x200), 0x8400_0008);
    assert_eq!(enter(&rmm, REC0, 0, &[]), error_realm(1), "SYSTEM_OFF");
    assert!(f.violations().is_empty());
}
