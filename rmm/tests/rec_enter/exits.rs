//! REC exits: IRQ, host call, emulated MMIO, HVC, stage-2 aborts by RIPAS
//! and WFI (cca-rmm-abi.md §7, §8).

use super::*;

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
        IRQ_EXIT
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
    f.push_realm_exit(IRQ_EXIT);
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
    assert_eq!(
        exit_word(&rmm, 0x108),
        0x678,
        "FAR: offset in the granule only"
    );
    assert_eq!(exit_word(&rmm, 0x110), hpfar(ipa));
    assert_eq!(exit_word(&rmm, 0x200), 0xEEFF_1122, "written value");
    let pc0 = RecCfg::nth(0).pc;
    // LDRSH W7, [x]: ISV, SAS=2, SSE, SRT=7, SF=0, read.
    let rd = 0x24 << 26 | IL | 1 << 24 | 1 << 22 | 1 << 21 | 7 << 16 | 0x07;
    f.push_realm_step(move |_, _, _, _| sync(rd, 0x1234_5002, hpfar(ipa)));
    assert_eq!(enter(&rmm, REC0, EMUL_MMIO, &[]), SUCCESS);
    assert_eq!(f.realm_runs()[1].regs_in.pc, pc0 + 4, "write completed");
    assert_eq!(exit_word(&rmm, 0x200), 0, "no value for a read");
    assert_eq!(exit_word(&rmm, 0x108), 0x002, "FAR offset of the halfword");
    f.push_realm_exit(IRQ_EXIT);
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
    f.push_realm_exit(IRQ_EXIT);
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
