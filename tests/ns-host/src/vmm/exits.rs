//! The exit loop of one host CPU: REC_ENTER the RECs it owns, handle each
//! REC exit (cca-rmm-abi.md §8) and enter again, until the realm is
//! SYSTEM_OFF. With one REC per CPU every REC runs at the same time as the
//! others; with several per CPU they take turns exit by exit.

use core::sync::atomic::Ordering;

use super::build::{self, Realm};
use super::state::{
    self, CONCURRENT, DONE, NRECS, OBS, REC_BLOCKED, REC_OFF, REC_ON, REC_STATE, RECS,
};
use crate::hw::{self, println};
use crate::realm::rmi;
use crate::rmi::*;

/// RecRun offsets (§4.3).
const ENTER_FLAGS: u64 = 0x000;
const ENTER_GPRS: u64 = 0x200;
const EXIT_REASON: u64 = 0x800;
const EXIT_ESR: u64 = 0x900;
const EXIT_FAR: u64 = 0x908;
const EXIT_HPFAR: u64 = 0x910;
const EXIT_GPRS: u64 = 0xA00;
const EXIT_RIPAS_BASE: u64 = 0xD00;
const EXIT_RIPAS_TOP: u64 = 0xD08;
const EXIT_RIPAS_VALUE: u64 = 0xD10;
const EXIT_IMM: u64 = 0xE00;
/// Exit reasons and entry flags.
const EXIT_SYNC: u64 = 0;
const EXIT_IRQ: u64 = 1;
const EXIT_FIQ: u64 = 2;
const EXIT_PSCI: u64 = 3;
const EXIT_RIPAS_CHANGE: u64 = 4;
const EXIT_HOST_CALL: u64 = 5;
const EMUL_MMIO: u64 = 1 << 0;
const INJECT_SEA: u64 = 1 << 1;
/// ESR fields.
const EC_DABT_LOWER: u64 = 0x24;
const ISV: u64 = 1 << 24;
const WNR: u64 = 1 << 6;
/// The guest's devices (tests/realm-guest/src/layout.rs): a PL011 at the
/// unprotected alias of 0x0900_0000; anything else unprotected has none.
const UNPROTECTED: u64 = 1 << (build::S2SZ - 1);
const UART_PAGE: u64 = UNPROTECTED | 0x0900_0000;
/// Realm PSCI FIDs (§10).
const PSCI_CPU_OFF: u64 = 0x8400_0002;
const PSCI_SYSTEM_OFF: u64 = 0x8400_0008;
/// Host-call immediates (tests/realm-guest/src/host.rs).
const HC_HELLO: u64 = 0x100;
const HC_RIM: u64 = 0x101;
const HC_RESULT: u64 = 0x102;
const HC_DESTROY: u64 = 0x103;
const HC_VCPU_STATE: u64 = 0x104;
const HC_CHALLENGE: u64 = 0x105;
const HC_TOKEN: u64 = 0x106;
const HC_FATAL: u64 = 0x1FF;
const RTT_UNASSIGNED: u64 = 0;
const RTT_ASSIGNED: u64 = 1;
const RIPAS_RAM: u64 = 1;
const RIPAS_DESTROYED: u64 = 2;
const ERROR_REALM_SYSTEM_OFF: u64 = 2 | 1 << 8;

/// Give up on a realm that has not finished after this long.
pub fn timeout_ticks() -> u64 {
    let freq: u64 = arm_rt::read_sysreg!("cntfrq_el0");
    freq.max(1_000_000) * 240
}

/// One REC as this CPU runs it.
struct Vcpu {
    rec: usize,
    /// Flags and gprs[0..4] for the next REC_ENTER.
    flags: u64,
    answer: [u64; 4],
    line: [u8; 160],
    len: usize,
}

/// What one REC_ENTER led to.
enum Step {
    Ran,
    Idle,
}

/// Run the RECs `recs` until the realm is done.
pub fn vcpu_loop(recs: &[usize]) {
    let mut vcpus = [0, 1, 2, 3].map(|rec| Vcpu {
        rec,
        flags: 0,
        answer: [0; 4],
        line: [0; 160],
        len: 0,
    });
    let start = hw::counter();
    while DONE.load(Ordering::Acquire) == 0 {
        let mut ran = false;
        for &rec in recs {
            if let Step::Ran = step(&mut vcpus[rec % super::MAX_RECS]) {
                ran = true;
            }
        }
        if !ran {
            core::hint::spin_loop();
        }
        if hw::counter() - start > timeout_ticks() {
            OBS.lock()
                .error("realm did not finish in time", recs[0] as u64, 0);
            DONE.store(1, Ordering::Release);
        }
    }
}

fn rd() -> u64 {
    state::RD.load(Ordering::Acquire)
}

fn rec_pa(i: usize) -> u64 {
    RECS[i % super::MAX_RECS].load(Ordering::Acquire)
}

/// Enter `v` once if it is ON and handle its exit.
fn step(v: &mut Vcpu) -> Step {
    if REC_STATE[v.rec].load(Ordering::Acquire) != REC_ON {
        return Step::Idle;
    }
    let run = Realm::run_page(v.rec);
    hw::write_u64(run + ENTER_FLAGS, v.flags);
    for (i, &a) in v.answer.iter().enumerate() {
        hw::write_u64(run + ENTER_GPRS + 8 * i as u64, a);
    }
    v.flags = 0;
    v.answer = [0; 4];
    let s = rmi(RMI_REC_ENTER, [rec_pa(v.rec), run, 0, 0])[0];
    if s == ERROR_REALM_SYSTEM_OFF {
        DONE.store(1, Ordering::Release);
        return Step::Idle;
    }
    if s != SUCCESS {
        OBS.lock().error("REC_ENTER failed", v.rec as u64, s);
        REC_STATE[v.rec].store(REC_OFF, Ordering::Release);
        return Step::Idle;
    }
    let gpr = |i: u64| hw::read_u64(run + EXIT_GPRS + 8 * i);
    match hw::read_u64(run + EXIT_REASON) {
        EXIT_SYNC => sync_exit(v, run),
        EXIT_HOST_CALL => host_call(v, hw::read_u64(run + EXIT_IMM) & 0xFFFF, gpr),
        EXIT_PSCI => psci(v, gpr(0), gpr(1)),
        EXIT_RIPAS_CHANGE => ripas_change(v, run),
        EXIT_IRQ | EXIT_FIQ => {}
        other => OBS
            .lock()
            .error("unexpected exit reason", v.rec as u64, other),
    }
    Step::Ran
}

/// RMI_EXIT_SYNC: data aborts (MMIO, unmapped RAM, DESTROYED).
fn sync_exit(v: &mut Vcpu, run: u64) {
    let esr = hw::read_u64(run + EXIT_ESR);
    let far = hw::read_u64(run + EXIT_FAR);
    let hpfar = hw::read_u64(run + EXIT_HPFAR);
    let ipa = (hpfar & 0x0000_0FFF_FFFF_FFF0) << 8;
    if esr >> 26 != EC_DABT_LOWER {
        OBS.lock().error("unexpected sync exit", v.rec as u64, esr);
        return;
    }
    if ipa >= UNPROTECTED {
        if ipa == UART_PAGE && esr & ISV != 0 {
            // PL011: a write is a byte for DR; a read (FR) says the TX FIFO
            // is never full (gprs[0] = 0).
            if esr & WNR != 0 {
                uart_byte(v, hw::read_u64(run + EXIT_GPRS) as u8);
            }
            v.flags = EMUL_MMIO;
        } else {
            // No device there: the spec's answer is an SEA.
            v.flags = INJECT_SEA;
            let mut o = OBS.lock();
            o.injected = ipa | (far & 0xFFF);
        }
        return;
    }
    if let Some((w, b)) = state::page_bit(ipa) {
        OBS.lock().exited[w] |= b;
    }
    let e = rmi(RMI_RTT_READ_ENTRY, [rd(), ipa, 3, 0]);
    match (e[0], e[2], e[4]) {
        (SUCCESS, RTT_UNASSIGNED, RIPAS_RAM) => populate(v, ipa),
        // Another CPU populated it first: just run again.
        (SUCCESS, RTT_ASSIGNED, RIPAS_RAM) => OBS.lock().populate_races += 1,
        (SUCCESS, _, RIPAS_DESTROYED) => destroyed(v, run, ipa),
        _ => OBS.lock().error("data abort at a protected IPA", ipa, e[4]),
    }
}

/// RIPAS RAM without DATA: back it with a zeroed granule, unmeasured.
fn populate(v: &Vcpu, ipa: u64) {
    let cpu = (hw::mpidr() & 0xFF) as usize;
    let Some(pa) = build::alloc(cpu) else {
        OBS.lock()
            .error("guest page pool exhausted", ipa, cpu as u64);
        return;
    };
    let s = rmi(RMI_DATA_CREATE_UNKNOWN, [rd(), pa, ipa, 0])[0];
    let mut o = OBS.lock();
    if s == SUCCESS {
        if let Some((w, b)) = state::page_bit(ipa) {
            o.populated[w] |= b;
        }
    } else if s & 0xFF == 4 {
        // ERROR_RTT: populated by another CPU in the meantime. The granule
        // stays delegated in the pool and is given back at teardown.
        o.populate_races += 1;
    } else {
        o.error("DATA_CREATE_UNKNOWN failed", ipa, s | (v.rec as u64) << 32);
    }
}

/// An access to a RIPAS DESTROYED page: the host may not inject an SEA
/// for a protected IPA (§8: INJECT_SEA only answers an unprotected
/// abort), and re-entering replays the load, so the REC can make no
/// progress; the VMM stops running it (as KVM would report the vCPU).
fn destroyed(v: &mut Vcpu, run: u64, ipa: u64) {
    let rec = rec_pa(v.rec);
    hw::write_u64(run + ENTER_FLAGS, INJECT_SEA);
    let inject = rmi(RMI_REC_ENTER, [rec, run, 0, 0])[0];
    hw::write_u64(run + ENTER_FLAGS, 0);
    let again = rmi(RMI_REC_ENTER, [rec, run, 0, 0])[0];
    let reexit = (hw::read_u64(run + EXIT_HPFAR) & 0x0000_0FFF_FFFF_FFF0) << 8;
    let reason = hw::read_u64(run + EXIT_REASON);
    let mut o = OBS.lock();
    o.destroyed.exit_ipa = ipa;
    o.destroyed.exit_ripas = RIPAS_DESTROYED;
    o.destroyed.inject_status = inject;
    o.destroyed.reenter_status = again;
    o.destroyed.reexit_ipa = if reason == EXIT_SYNC {
        reexit
    } else {
        u64::MAX
    };
    REC_STATE[v.rec].store(REC_BLOCKED, Ordering::Release);
}

fn uart_byte(v: &mut Vcpu, b: u8) {
    OBS.lock().uart_bytes += 1;
    if b == b'\r' {
        return;
    }
    if b != b'\n' && v.len < v.line.len() {
        v.line[v.len] = b;
        v.len += 1;
        return;
    }
    let text = core::str::from_utf8(&v.line[..v.len]).unwrap_or("<not UTF-8>");
    println!("realm REC {} | {text}", v.rec);
    OBS.lock().uart_lines[v.rec] += 1;
    v.len = 0;
}

fn host_call(v: &mut Vcpu, imm: u64, gpr: impl Fn(u64) -> u64) {
    match imm {
        HC_HELLO => v.answer[0] = u64::from(CONCURRENT.load(Ordering::Acquire)),
        HC_RIM => OBS.lock().rim = Some(core::array::from_fn(|i| gpr(i as u64))),
        HC_RESULT => {
            let id = gpr(0) as usize;
            if id < state::MAX_PROBES {
                OBS.lock().results[id] = core::array::from_fn(|i| gpr(i as u64));
            }
        }
        HC_DESTROY => {
            let ipa = gpr(0);
            let d = rmi(RMI_DATA_DESTROY, [rd(), ipa, 0, 0]);
            let mut o = OBS.lock();
            o.destroyed.ipa = ipa;
            o.destroyed.destroy_status = d[0];
            o.destroyed.pa = d[1];
            v.answer[0] = d[0];
        }
        HC_VCPU_STATE => {
            v.answer[0] =
                match REC_STATE[(gpr(0) as usize) % super::MAX_RECS].load(Ordering::Acquire) {
                    REC_ON => 0,
                    REC_BLOCKED => 2,
                    _ => 1,
                }
        }
        HC_CHALLENGE => {
            let mut a = state::ATTEST.lock();
            // A fresh 64-byte challenge per run, from the counter through
            // a SplitMix64 mix (a verifier's nonce stands in here).
            let c = *a.challenge.get_or_insert_with(|| {
                let mut x = crate::hw::counter();
                core::array::from_fn(|_| {
                    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
                    let mut z = x;
                    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
                    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
                    z ^ (z >> 31)
                })
            });
            let half = (gpr(0) as usize & 1) * 4;
            v.answer.copy_from_slice(&c[half..half + 4]);
        }
        HC_TOKEN => {
            let (at, total, n) = (gpr(0) as usize, gpr(1) as usize, gpr(2) as usize);
            let mut a = state::ATTEST.lock();
            if at != a.received || n > 224 || total > a.token.len() || at + n > total {
                drop(a);
                OBS.lock().error("bad HC_TOKEN piece", at as u64, n as u64);
                return;
            }
            a.len = total;
            for i in 0..n {
                a.token[at + i] = (gpr(3 + i as u64 / 8) >> ((i % 8) * 8)) as u8;
            }
            a.received += n;
        }
        HC_FATAL => OBS.lock().guest_fatal = Some(gpr(0)),
        _ => OBS.lock().error("unknown host call", imm, v.rec as u64),
    }
}

/// RMI_EXIT_PSCI (§10).
fn psci(v: &mut Vcpu, fid: u64, target: u64) {
    match fid {
        PSCI_CPU_OFF => {
            OBS.lock().cpu_off += 1;
            REC_STATE[v.rec].store(REC_OFF, Ordering::Release);
        }
        PSCI_SYSTEM_OFF => {
            OBS.lock().system_off_by = Some(v.rec);
            DONE.store(1, Ordering::Release);
        }
        0x8400_0003 | 0xC400_0003 | 0x8400_0004 | 0xC400_0004 => {
            let t = (target & 0xFF) as usize;
            let n = NRECS.load(Ordering::Acquire) as usize;
            if t >= n {
                OBS.lock()
                    .error("PSCI target outside the realm", fid, target);
                return;
            }
            let cpu_on = fid & 0xFF == 3;
            // The target may be running on another CPU right now; the RMM
            // reads its state under the REC lock, so completing is safe.
            let s = rmi(RMI_PSCI_COMPLETE, [rec_pa(v.rec), rec_pa(t), 0, 0])[0];
            let mut o = OBS.lock();
            if s != SUCCESS {
                o.error("PSCI_COMPLETE failed", fid, s);
            } else if cpu_on {
                o.cpu_on += 1;
                drop(o);
                let _ = REC_STATE[t].compare_exchange(
                    REC_OFF,
                    REC_ON,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                );
            } else {
                o.affinity += 1;
            }
        }
        _ => OBS.lock().error("unexpected PSCI exit", fid, v.rec as u64),
    }
}

/// RMI_EXIT_RIPAS_CHANGE: apply it with RTT_SET_RIPAS (one RTT per call)
/// and accept (RIPAS_RESPONSE = 0).
fn ripas_change(v: &mut Vcpu, run: u64) {
    let base = hw::read_u64(run + EXIT_RIPAS_BASE);
    let top = hw::read_u64(run + EXIT_RIPAS_TOP);
    let value = hw::read_u64(run + EXIT_RIPAS_VALUE);
    let mut addr = base;
    let mut status = SUCCESS;
    while addr < top {
        let r = rmi(RMI_RTT_SET_RIPAS, [rd(), rec_pa(v.rec), addr, top]);
        status = r[0];
        if status != SUCCESS || r[1] <= addr {
            break;
        }
        addr = r[1];
    }
    let e = rmi(RMI_RTT_READ_ENTRY, [rd(), base, 3, 0]);
    let mut o = OBS.lock();
    o.ripas_change = state::RipasChange {
        base,
        top,
        value,
        status,
        reached: addr,
        state: e[2],
        ripas: e[4],
    };
}
