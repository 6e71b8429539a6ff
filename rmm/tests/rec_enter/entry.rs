//! RMI_REC_ENTER failure conditions (DEN0137 1.0-rel0 priority order), a
//! REC that is already running, and a failed RecRun.exit write.

use super::*;

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
fn running_rec_is_busy() {
    let env = Env::new();
    let rmm = env.rmm();
    setup(&rmm);
    let f = rmm.platform();
    let (inside, release) = push_parked_step(f);
    std::thread::scope(|s| {
        let t = s.spawn(|| rmi(&rmm, REC_ENTER, &[REC0, RUN]).x[0]);
        inside.wait();
        assert_eq!(gstate(&rmm, REC0), (Some(GranuleState::Rec), 1));
        assert_eq!(
            rmi(&rmm, REC_ENTER, &[REC0, RUN]).x[0],
            ERROR_REC,
            "rec_state: the REC is running"
        );
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
        IRQ_EXIT
    });
    f.fail_next_write_ns(PhysAddr(RUN + 0x800));
    assert_eq!(enter(&rmm, REC0, 0, &[]), ERROR_INPUT);
    assert_eq!(rec_word(&rmm, REC0, layout::PC), 0x8_4000);
    assert_eq!(rec_word(&rmm, REC0, layout::GPRS + 3), 0x3333);
    assert_eq!(gstate(&rmm, REC0), (Some(GranuleState::Rec), 0));
    assert_eq!(enter(&rmm, REC0, 0, &[]), SUCCESS);
    assert_eq!(f.realm_runs()[1].regs_in.pc, 0x8_4000);
}
