//! Attestation from inside the realm (cca-attestation.md §3-§5) and the
//! vendor sealing-key RSI (docs/sealing.md), run by REC 0:
//!
//! 1. REM[1..4] are extended with known bytes (`rem_data`; `cargo xtask`
//!    replays them to check the token's REM claims);
//! 2. bad input: each wrong argument gets its RSI status and the realm
//!    goes on (probe ATTEST_BAD_INPUT);
//! 3. a token over the host's 64-byte challenge, INIT then CONTINUE in
//!    512-byte pieces, INCOMPLETE calls without bytes counted as
//!    pre-emptions (probe ATTEST_TOKEN); the token goes to the host in
//!    HC_TOKEN calls so `cargo xtask` can verify it offline;
//! 4. sealing keys: the versions, a key bound to the RIM and one bound to
//!    the RPV (fingerprints: first 8 bytes of SHA-256(key)), and a version
//!    above the current one refused (probe SEALING).

use core::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};

use crate::console::println;
use crate::host::{self, probe};
use crate::layout::{PAGE_EMPTY, UNPROTECTED};
use crate::rsi;

const ERROR_INPUT: u64 = 1;
const ERROR_STATE: u64 = 2;
const INCOMPLETE: u64 = 3;
/// Piece size of the CONTINUE calls.
const PIECE: u64 = 512;

#[repr(C, align(4096))]
struct Page([AtomicU64; 512]);

/// The token buffer (guest RAM; its first touch may be by the RMM, which
/// then makes the host populate it, as for any RAM page).
static TOKEN: Page = Page([const { AtomicU64::new(0) }; 512]);

/// The bytes REM[i] (1..=4) is extended with: `16 * i` bytes,
/// byte j = `0x11 * i + j` (mod 256). Mirrored by qemu/src/guest.rs.
pub fn rem_data(i: u64) -> ([u64; 8], u64) {
    let size = 16 * i;
    let mut b = [0u8; 64];
    for (j, x) in b.iter_mut().enumerate().take(size as usize) {
        *x = (0x11 * i as usize + j) as u8;
    }
    let words = core::array::from_fn(|w| {
        let mut v = [0u8; 8];
        v.copy_from_slice(&b[8 * w..8 * w + 8]);
        u64::from_le_bytes(v)
    });
    (words, size)
}

fn token_ipa() -> u64 {
    &TOKEN as *const Page as u64
}

pub fn run() {
    for i in 1..=4 {
        let (words, size) = rem_data(i);
        let s = rsi::measurement_extend(i, size, &words);
        if s != rsi::RSI_SUCCESS {
            crate::fatal(2, format_args!("RSI_MEASUREMENT_EXTEND({i}) failed: {s}"));
        }
    }
    bad_input();
    token();
    sealing();
}

/// Each case: (what, status got, status wanted).
fn bad_input() {
    let buf = token_ipa();
    let cases: [(&str, u64, u64); 10] = [
        (
            "CONTINUE without INIT",
            rsi::token_continue(buf, 0, 64).0,
            ERROR_STATE,
        ),
        (
            "MEASUREMENT_READ(5)",
            rsi::measurement_read(5).0,
            ERROR_INPUT,
        ),
        (
            "MEASUREMENT_EXTEND size 65",
            rsi::measurement_extend(1, 65, &[0; 8]),
            ERROR_INPUT,
        ),
        (
            "MEASUREMENT_EXTEND(0)",
            rsi::measurement_extend(0, 8, &[0; 8]),
            ERROR_INPUT,
        ),
        ("INIT", rsi::token_init(&[7; 8]).0, rsi::RSI_SUCCESS),
        (
            "CONTINUE unaligned",
            rsi::token_continue(buf + 8, 0, 64).0,
            ERROR_INPUT,
        ),
        (
            "CONTINUE unprotected",
            rsi::token_continue(buf | UNPROTECTED, 0, 64).0,
            ERROR_INPUT,
        ),
        (
            "CONTINUE RIPAS EMPTY",
            rsi::token_continue(PAGE_EMPTY, 0, 64).0,
            ERROR_INPUT,
        ),
        (
            "CONTINUE offset 4096",
            rsi::token_continue(buf, 4096, 0).0,
            ERROR_INPUT,
        ),
        (
            "CONTINUE size overflow",
            rsi::token_continue(buf, 8, u64::MAX).0,
            ERROR_INPUT,
        ),
    ];
    let mut ok = 0u64;
    for (i, (what, got, want)) in cases.iter().enumerate() {
        if got == want {
            ok |= 1 << i;
        } else {
            println!("realm guest: bad input {what}: status {got}, want {want}");
        }
    }
    host::result(0, probe::ATTEST_BAD_INPUT, &[ok, cases.len() as u64]);
    println!(
        "realm guest: attestation bad input: {} of {} calls got the spec's status",
        ok.count_ones(),
        cases.len()
    );
}

fn token() {
    let mut challenge = [0u64; 8];
    for half in 0..2 {
        let (_, w) = host::call(0, host::HC_CHALLENGE, &[half]);
        challenge[4 * half as usize..4 * half as usize + 4].copy_from_slice(&w);
    }
    let (s, bound) = rsi::token_init(&challenge);
    let buf = token_ipa();
    let (mut off, mut calls, mut preempted, mut last) = (0u64, 0u64, 0u64, 0u64);
    if s == rsi::RSI_SUCCESS {
        loop {
            let size = PIECE.min(bound - off);
            let (st, n) = rsi::token_continue(buf, off, size);
            calls += 1;
            last = st;
            if st == INCOMPLETE && n == 0 && size > 0 {
                preempted += 1;
            }
            off += n;
            if st != INCOMPLETE || calls > 100_000 {
                break;
            }
        }
    }
    host::result(
        0,
        probe::ATTEST_TOKEN,
        &[s, bound, last, off, calls, preempted],
    );
    println!(
        "realm guest: attestation token {off} bytes (bound {bound}) in {calls} CONTINUE calls, \
         {preempted} pre-empted by host interrupts; status {last}"
    );
    // Hand it to the host, 224 bytes per call.
    let mut at = 0u64;
    while at < off {
        let n = (off - at).min(224);
        let mut args = [0u64; 31];
        args[0] = at;
        args[1] = off;
        args[2] = n;
        for (k, a) in args[3..].iter_mut().enumerate() {
            let mut v = [0u8; 8];
            for (b, x) in v.iter_mut().enumerate() {
                let i = at + 8 * k as u64 + b as u64;
                if i < at + n {
                    let w = TOKEN.0[(i / 8) as usize].load(Ordering::Relaxed);
                    *x = (w >> ((i % 8) * 8)) as u8;
                }
            }
            *a = u64::from_le_bytes(v);
        }
        host::call(0, host::HC_TOKEN, &args);
        at += n;
    }
}

fn fingerprint(key: &[u64; 4]) -> u64 {
    let mut b = [0u8; 32];
    for (c, w) in b.chunks_exact_mut(8).zip(key) {
        c.copy_from_slice(&w.to_le_bytes());
    }
    let d = Sha256::digest(b);
    u64::from_be_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]])
}

fn sealing() {
    let (vs, min, cur) = rsi::sealing_versions();
    let (rs, rim_key) = rsi::sealing_key(0, cur);
    let (ps, rpv_key) = rsi::sealing_key(1, cur);
    let (too_new, _) = rsi::sealing_key(0, cur + 1);
    let (again, rim_again) = rsi::sealing_key(0, cur);
    let status = vs | rs << 8 | ps << 16 | too_new << 24 | again << 32;
    let stable = u64::from(rim_again == rim_key);
    let (frim, frpv) = (fingerprint(&rim_key), fingerprint(&rpv_key));
    host::result(
        0,
        probe::SEALING,
        &[status, min << 32 | cur, frim, frpv, stable],
    );
    println!(
        "realm guest: sealing key v{cur} (versions {min}..{cur}): RIM-bound fingerprint {frim:016x}, \
         RPV-bound {frpv:016x}; v{} refused with status {too_new}",
        cur + 1
    );
}
