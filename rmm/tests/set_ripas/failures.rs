//! RMI_RTT_SET_RIPAS failure conditions (DEN0137 1.0-rel0 priority order),
//! including a REC that is running.

use super::*;

type Args = [u64; 4];
type Mutate = fn(&mut Args);

#[test]
fn rtt_set_ripas_failure_conditions_in_priority_order() {
    let env = Env::new();
    let rmm = env.rmm();
    setup(&rmm);
    let f = rmm.platform();
    request(&rmm, REC0, IPA, IPA + 0x3000, EMPTY, 0);
    // REC1 asks for a range whose walk stops at level 2 (no L3 RTT there).
    request(
        &rmm,
        REC1,
        IPA + L2_SIZE + 0x1000,
        IPA + L2_SIZE + 0x3000,
        RAM,
        0,
    );
    delegate(&rmm, pool(43));
    let valid: Args = [RD, REC0, IPA, IPA + 0x3000];
    let cases: &[(&str, Mutate, u64)] = &[
        ("rd_align", |a| a[0] += 8, ERROR_INPUT),
        ("rd_bound: RMM memory", |a| a[0] = RMM_BASE, ERROR_INPUT),
        ("rd_bound: no DRAM", |a| a[0] = 0x1000, ERROR_INPUT),
        ("rd_state: UNDELEGATED", |a| a[0] = pool(42), ERROR_INPUT),
        ("rd_state: DELEGATED", |a| a[0] = pool(43), ERROR_INPUT),
        ("rd_state: REC", |a| a[0] = REC0, ERROR_INPUT),
        ("rd_state: RTT", |a| a[0] = L3, ERROR_INPUT),
        ("rd_state: DATA", |a| a[0] = DATA0, ERROR_INPUT),
        (
            "rd_state beats rec_owner",
            |a| (a[0], a[1]) = (DATA0, NEW_REC),
            ERROR_INPUT,
        ),
        ("rec_align", |a| a[1] += 8, ERROR_INPUT),
        ("rec_bound: RMM memory", |a| a[1] = RMM_BASE, ERROR_INPUT),
        ("rec_bound: no DRAM", |a| a[1] = 0x1000, ERROR_INPUT),
        (
            "rec_gran_state: UNDELEGATED",
            |a| a[1] = pool(42),
            ERROR_INPUT,
        ),
        (
            "rec_gran_state: DELEGATED",
            |a| a[1] = pool(43),
            ERROR_INPUT,
        ),
        ("rec_gran_state: RD", |a| a[1] = RD, ERROR_INPUT),
        ("rec_gran_state: RTT", |a| a[1] = L3, ERROR_INPUT),
        ("rec_gran_state: DATA", |a| a[1] = DATA0, ERROR_INPUT),
        (
            "rec_gran_state: REC_AUX",
            |a| a[1] = aux_of(0)[0],
            ERROR_INPUT,
        ),
        ("rec_owner", |a| a[1] = NEW_REC, ERROR_REC),
        (
            "rec_owner beats size_valid",
            |a| (a[1], a[3]) = (NEW_REC, a[2]),
            ERROR_REC,
        ),
        ("size_valid: top == base", |a| a[3] = a[2], ERROR_INPUT),
        (
            "size_valid: top < base",
            |a| a[3] = a[2] - 0x1000,
            ERROR_INPUT,
        ),
        (
            "size_valid beats base_bound",
            |a| (a[2], a[3]) = (IPA + 0x2000, IPA),
            ERROR_INPUT,
        ),
        ("base_bound", |a| a[2] += 0x1000, ERROR_INPUT),
        ("base_bound: below", |a| a[2] -= 0x1000, ERROR_INPUT),
        (
            "base_bound beats base_align",
            |a| a[2] += 0x800,
            ERROR_INPUT,
        ),
        ("top_bound", |a| a[3] += 0x1000, ERROR_INPUT),
        (
            "top_bound: no request pending",
            |a| (a[0], a[1]) = (NEW_RD, NEW_REC),
            ERROR_INPUT,
        ),
        (
            "base_align: walk stops at level 2",
            |a| (a[1], a[2], a[3]) = (REC1, IPA + L2_SIZE + 0x1000, IPA + L2_SIZE + 0x3000),
            error_rtt(2),
        ),
        (
            "top_gran_align: top not 4 KiB aligned",
            |a| a[3] = a[2] + 0x800,
            ERROR_INPUT,
        ),
    ];
    let before = (
        world(&rmm, 50),
        req_words(&rmm, REC0),
        req_words(&rmm, REC1),
    );
    for (name, m, want) in cases {
        let mut a = valid;
        m(&mut a);
        let r = rmi(&rmm, SET_RIPAS, &a);
        assert_eq!(r.x[0], *want, "{name}");
        assert_eq!(r.x[1..4], [0, 0, 0], "{name}: no outputs");
        assert_eq!(r.x[4], a[3], "{name}: x4 preserved");
        let after = (
            world(&rmm, 50),
            req_words(&rmm, REC0),
            req_words(&rmm, REC1),
        );
        assert!(after == before, "{name}: nothing changed");
        assert!(f.tlbi_log().is_empty(), "{name}: no TLBI");
    }
    // "no request pending" for a REC of this realm: REC0 with its request
    // completed.
    assert_eq!(rmi(&rmm, SET_RIPAS, &valid).x[..2], [SUCCESS, IPA + 0x3000]);
    let _ = complete(&rmm, REC0, 0);
    assert_eq!(rmi(&rmm, SET_RIPAS, &valid).x[0], ERROR_INPUT);
    assert_eq!(
        rmi(&rmm, SET_RIPAS, &[RD, REC0, 0, 0x1000]).x[0],
        ERROR_INPUT
    );
    assert!(f.violations().is_empty());
}

#[test]
fn rtt_set_ripas_on_a_running_rec_is_error_rec() {
    let env = Env::new();
    let rmm = env.rmm();
    setup(&rmm);
    let f = rmm.platform();
    request(&rmm, REC0, IPA, IPA + 0x1000, EMPTY, 0);
    let (inside, release) = push_parked_step(f);
    std::thread::scope(|s| {
        let t = s.spawn(|| enter(&rmm, REC0, 0));
        inside.wait();
        let r = rmi(&rmm, SET_RIPAS, &[RD, REC0, IPA, IPA + 0x1000]);
        assert_eq!(r.x[..2], [ERROR_REC, 0], "rec_state: the REC is running");
        release.wait();
        assert_eq!(t.join().unwrap(), SUCCESS);
    });
    assert_eq!(entry(&rmm, IPA), [3, 1, DATA0, RAM], "unchanged");
    assert_eq!(gstate(&rmm, REC0), (Some(GranuleState::Rec), 0));
}

/// DEN0137 1.0-rel0 B4.3.21.2: `base_align` and `no_progress` fail only if
/// the entry's RIPAS is not the requested one, and `top_gran_align`
/// (ERROR_INPUT) comes before `no_progress`. An entry that already has the
/// requested RIPAS counts as done even where base is inside it or top
/// cuts it.
#[test]
fn rtt_set_ripas_base_align_and_no_progress_depend_on_the_ripas() {
    let env = Env::new();
    let rmm = env.rmm();
    setup(&rmm);
    let f = rmm.platform();
    // REC1: EMPTY for a range that starts inside the EMPTY L2 entry 1 and
    // ends inside the EMPTY L2 entry 2: nothing needs to change.
    let (base, top) = (IPA + L2_SIZE + 0x1000, IPA + 2 * L2_SIZE + 0x1000);
    request(&rmm, REC1, base, top, EMPTY, 0);
    let rtts = || [RTT_BASE, RTT_BASE + 0x1000, L2, L3].map(|t| f.read_raw(PhysAddr(t), 4096));
    let before = rtts();
    assert_eq!(
        set_ripas(&rmm, REC1, base, top),
        [SUCCESS, top],
        "base_align: unaligned base, RIPAS already EMPTY"
    );
    assert!(rtts() == before, "no entry written");
    assert!(f.tlbi_log().is_empty());
    assert_eq!(req_words(&rmm, REC1)[4], top, "progress");
    assert_eq!(complete(&rmm, REC1, 0).0, [0, top, ACCEPT]);

    // REC0: RAM for the first 4 KiB of the EMPTY L2 entry 2 (base
    // aligned): the entry must change but ends beyond top.
    let (base, top) = (IPA + 2 * L2_SIZE, IPA + 2 * L2_SIZE + 0x1000);
    request(&rmm, REC0, base, top, RAM, 0);
    let before = (world(&rmm, 50), req_words(&rmm, REC0));
    for (rule, t, want) in [
        (
            "top_gran_align beats no_progress",
            base + 0x800,
            ERROR_INPUT,
        ),
        (
            "no_progress: L2 entry must change, ends beyond top",
            top,
            error_rtt(2),
        ),
    ] {
        assert_eq!(set_ripas(&rmm, REC0, base, t), [want, 0], "{rule}");
        let after = (world(&rmm, 50), req_words(&rmm, REC0));
        assert!(after == before, "{rule}: nothing changed");
    }
    // base_bound is checked before base_align.
    let r = rmi(&rmm, SET_RIPAS, &[RD, REC0, base + 0x1000, top]);
    assert_eq!(r.x[0], ERROR_INPUT, "base_bound still comes first");
    assert!(f.tlbi_log().is_empty());
    assert!(f.violations().is_empty());
}
