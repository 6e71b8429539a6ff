//! Attestation benchmarks (issue: RSI 1.0 and CCA attestation), with the
//! payload `realm_attest_loop` (asm/realm_code.S): each pass is an
//! RSI_MEASUREMENT_EXTEND then a host call, and a whole token (INIT and
//! every CONTINUE) then a host call.
//!
//! * `rsi_measurement_extend_64`: REC_ENTER round trip of the extend pass
//!   minus the plain host-call round trip (`rec_enter_host_call`).
//! * `sealing_key_derivation`: the same for CMON_RSI_SEALING_KEY (RMM ->
//!   EL3 SiP call -> HKDF-SHA-384 from the root secret -> back).
//! * `attest_token_full`: instructions the host spends in REC_ENTERs from
//!   INIT to the token's last byte, without interrupts.
//! * `attest_token_bytes`: the token's size (bytes, not instructions).
//! * `attest_irq_latency`: with the EL2 physical timer firing at varying
//!   points during signing, instructions from the timer's deadline until
//!   the host has control again (counter after REC_ENTER returns minus
//!   CNTHP_CVAL), the worst over every pre-empted entry; `attest_preempted`
//!   is how many entries a token took then.

use crate::hw;
use crate::realm::{EXIT_HOST_CALL, EXIT_REASON, load_attest_loop, rmi};
use crate::rmi::{RMI_REC_ENTER, SUCCESS};
use crate::stress::{Layout, RecSpec};
use crate::timer_realm::{ppi, redistributor};

/// EL2 physical timer PPI (GIC INTID 26).
const CNTHP_PPI: u64 = 26;
/// RmiRecExitReason RMI_EXIT_IRQ.
const EXIT_IRQ: u64 = 1;
/// RecRun.exit.gprs[0] (exit page + 0x200).
const EXIT_GPRS: u64 = 0x800 + 0x200;

pub struct AttestBench {
    pub bytes: u64,
    pub latency: u64,
    pub preempted: u64,
}

fn enter(l: &Layout) -> (u64, u64, u64) {
    let t0 = hw::counter();
    let s = rmi(RMI_REC_ENTER, [l.rec(0), l.run(), 0, 0])[0];
    let t = hw::counter() - t0;
    (s, hw::read_u64(l.run() + EXIT_REASON), t)
}

/// One token pass, entering until the host-call exit; the timer (if
/// `irq_delay` is given) is armed that many instructions after each entry
/// starts. Returns (instructions in REC_ENTERs, token bytes, last status,
/// worst latency, pre-empted entries).
fn token_pass(l: &Layout, irq_delay: Option<&dyn Fn(u64) -> u64>) -> Option<[u64; 5]> {
    let (mut total, mut worst, mut preempted) = (0, 0, 0);
    for n in 0..100_000u64 {
        let cval = irq_delay.map(|d| {
            let c = hw::counter() + d(n);
            hw::hyp_timer_at(c);
            c
        });
        let t0 = hw::counter();
        let s = rmi(RMI_REC_ENTER, [l.rec(0), l.run(), 0, 0])[0];
        let back = hw::counter();
        hw::hyp_timer_off();
        total += back - t0;
        let reason = hw::read_u64(l.run() + EXIT_REASON);
        if s != SUCCESS {
            return None;
        }
        match reason {
            EXIT_HOST_CALL => {
                let status = hw::read_u64(l.run() + EXIT_GPRS);
                let bytes = hw::read_u64(l.run() + EXIT_GPRS + 8);
                return Some([total, bytes, status, worst, preempted]);
            }
            EXIT_IRQ => {
                preempted += 1;
                if let Some(c) = cval {
                    worst = worst.max(back.saturating_sub(c));
                }
            }
            _ => return None,
        }
    }
    None
}

/// Run `iters` passes of each measurement; `None` if anything failed.
pub fn run(
    iters: usize,
    ext: &mut [u64],
    seal: &mut [u64],
    tok: &mut [u64],
) -> Option<AttestBench> {
    let rd = redistributor()?;
    hw::gic_cpu_interface_on();
    ppi(rd, CNTHP_PPI, true);
    let l = Layout::for_cpu(6);
    let naux = l.build(
        load_attest_loop,
        &[RecSpec {
            mpidr: 0,
            runnable: true,
        }],
    )?;
    // First entries: the extend and sealing passes from the REC's start.
    let mut ok = enter(&l).1 == EXIT_HOST_CALL && enter(&l).1 == EXIT_HOST_CALL;
    let mut bytes = 0;
    for i in 0..iters {
        let r = token_pass(&l, None)?;
        ok &= r[2] == SUCCESS && r[1] > 0;
        tok[i] = r[0];
        bytes = r[1];
        let (s, reason, t) = enter(&l);
        ok &= s == SUCCESS && reason == EXIT_HOST_CALL;
        ext[i] = t;
        let (s, reason, t) = enter(&l);
        ok &= s == SUCCESS && reason == EXIT_HOST_CALL;
        seal[i] = t;
    }
    // Pre-emption: the deadline moves through the signature pass by pass.
    let (mut latency, mut preempted) = (0, 0);
    for i in 0..iters.min(8) as u64 {
        let delay = move |n: u64| 3_000 + (n * 7_919 + i * 104_729) % 120_000;
        let r = token_pass(&l, Some(&delay))?;
        ok &= r[2] == SUCCESS && r[1] == bytes && r[4] > 0;
        latency = latency.max(r[3]);
        preempted = preempted.max(r[4]);
        ok &= enter(&l).1 == EXIT_HOST_CALL && enter(&l).1 == EXIT_HOST_CALL;
    }
    ppi(rd, CNTHP_PPI, false);
    ok &= l.teardown(naux, 1);
    ok.then_some(AttestBench {
        bytes,
        latency,
        preempted,
    })
}
