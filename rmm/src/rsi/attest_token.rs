//! RSI_ATTEST_TOKEN_INIT / RSI_ATTEST_TOKEN_CONTINUE (cca-rmm-abi.md §9,
//! protocol in cca-attestation.md §5).
//!
//! Per-REC state lives in the REC's auxiliary granules, which only the RMM
//! maps, so every REC has its own token in flight (as in TF-RMM):
//!
//! | aux | words / bytes | content |
//! |-----|---------------|---------|
//! | 1   | word 0        | phase: 0 none, 1 signing, 2 copying |
//! | 1   | word 1        | token length in bytes |
//! | 1   | word 2        | bytes already copied to the realm |
//! | 1   | word 3        | offset of the realm-token signature |
//! | 1   | word 4        | generation of the accumulators parked in RMM memory (`Attestation::park`), 0 = in the signer state |
//! | 1   | words 8..     | the parked signer (`SignerState`) |
//! | 2   | bytes 0..len  | the tag-399 token; the signature is zero until signed |
//!
//! INIT writes the whole token except the signature and primes the signer
//! (RFC 6979 nonce, no point arithmetic). CONTINUE runs the signer in
//! bounded steps of two point additions each; after every step it polls
//! for a pending physical interrupt and, if there is one, parks the signer
//! and exits with RMI_EXIT_IRQ, the realm seeing RSI_INCOMPLETE with no
//! bytes written (§5). A finished token is never changed again, so the
//! realm can only ever copy out the final bytes.

use cmon_evidence::{
    Es384Signer, Progress, RealmClaims, RemHashAlgo, SignerState, write_cca_token,
};

use super::*;
use crate::attest::Attestation;
use crate::platform::GRANULE_WORDS;
use crate::realm::load_bytes;

/// RSI_ATTEST_TOKEN_INIT's x1: the upper bound of the token size (one
/// 4 KiB buffer, TF-RMM's default `RMM_CCA_TOKEN_BUFFER` of 1 granule).
pub const TOKEN_MAX: u64 = GRANULE_SIZE;
/// RSI_INCOMPLETE (§9 status codes).
const INCOMPLETE: u64 = status::INCOMPLETE;
/// RSI_ERROR_UNKNOWN: the platform gave the RMM no attestation material.
const ERROR_UNKNOWN: u64 = status::ERROR_UNKNOWN;

const PHASE: usize = 0;
const LEN: usize = 1;
const COPIED: usize = 2;
const SIG_OFF: usize = 3;
const LIVE: usize = 4;
const SIGNER: usize = 8;
const PHASE_NONE: u64 = 0;
const PHASE_SIGNING: u64 = 1;
const PHASE_COPYING: u64 = 2;

/// Read `out.len()` bytes from byte offset `off` of a granule (whole
/// words where the offset is 8-byte aligned).
fn read_at(g: &GranuleWords, off: usize, out: &mut [u8]) {
    let mut i = 0;
    while i < out.len() {
        let at = off + i;
        let w = g.get(at / 8).map_or(0, |w| w.load(Ordering::Relaxed));
        if at.is_multiple_of(8) && out.len() - i >= 8 {
            out[i..i + 8].copy_from_slice(&w.to_le_bytes());
            i += 8;
        } else {
            out[i] = (w >> ((at % 8) * 8)) as u8;
            i += 1;
        }
    }
}

/// Write `bytes` at byte offset `off` of a granule: whole words where
/// aligned, read-modify-write of the partial words at the ends.
fn write_at(g: &GranuleWords, off: usize, bytes: &[u8]) {
    let mut i = 0;
    while i < bytes.len() {
        let at = off + i;
        let Some(word) = g.get(at / 8) else { return };
        if at.is_multiple_of(8) && bytes.len() - i >= 8 {
            let mut v = [0u8; 8];
            v.copy_from_slice(&bytes[i..i + 8]);
            word.store(u64::from_le_bytes(v), Ordering::Relaxed);
            i += 8;
        } else {
            let shift = (at % 8) * 8;
            let v = word.load(Ordering::Relaxed);
            word.store(
                (v & !(0xFF << shift)) | (u64::from(bytes[i]) << shift),
                Ordering::Relaxed,
            );
            i += 1;
        }
    }
}

impl<P: Platform> Rmm<'_, P> {
    /// RSI_ATTEST_TOKEN_INIT(challenge in x1..x8): discard any token in
    /// flight for this REC and start a new one; x1 = the size bound.
    pub(super) fn attest_token_init(&self, ctx: &mut RecCtx, challenge: [u64; 8]) {
        let (Some(att), Some([state_pa, buf_pa])) = (self.attest.as_ref(), ctx.aux_attest) else {
            ctx.regs.gprs[0] = ERROR_UNKNOWN;
            return;
        };
        let Some(claims) = self.realm_claims(ctx.rd, &challenge, att.rak.cose_key()) else {
            ctx.regs.gprs[0] = ERROR_UNKNOWN;
            return;
        };
        let mut token = [0u8; GRANULE_SIZE as usize];
        let Ok(layout) = write_cca_token(&mut token, att.platform_token, &claims) else {
            ctx.regs.gprs[0] = ERROR_UNKNOWN;
            return;
        };
        att.forget(ctx.rec);
        let signer = Es384Signer::start(&att.table, &layout.tbs_sha384);
        {
            let b = self.platform.map_granule(buf_pa, Slot::RecAux);
            crate::realm::store_bytes(&b, 0, &token);
        }
        let s = self.platform.map_granule(state_pa, Slot::RecAux);
        crate::realm::store_bytes(&s, SIGNER, &signer.suspend().0);
        s[LEN].store(layout.len as u64, Ordering::Relaxed);
        s[COPIED].store(0, Ordering::Relaxed);
        s[SIG_OFF].store(layout.signature_offset as u64, Ordering::Relaxed);
        s[LIVE].store(0, Ordering::Relaxed);
        s[PHASE].store(PHASE_SIGNING, Ordering::Relaxed);
        ctx.regs.gprs[0] = status::SUCCESS;
        ctx.regs.gprs[1] = TOKEN_MAX;
    }

    /// The realm claims (§4.3) from the RD: RPV, hash algorithm, RIM, REMs.
    fn realm_claims(
        &self,
        rd: PhysAddr,
        challenge: &[u64; 8],
        cose_key: &[u8; 107],
    ) -> Option<RealmClaims> {
        let (rd_g, _) = self.lock_rd(rd.0).ok()?;
        let m = self.platform.map_granule(rd_g.pa(), Slot::Rd);
        let slot = |word: usize| {
            let mut b = [0u8; 64];
            load_bytes(&m, word, &mut b);
            b
        };
        let mut ch = [0u8; 64];
        for (c, w) in ch.chunks_exact_mut(8).zip(challenge) {
            c.copy_from_slice(&w.to_le_bytes());
        }
        let hash_algo = RemHashAlgo::from_rmi(m[RD_HASH_WORD].load(Ordering::Relaxed) as u8)?;
        Some(RealmClaims {
            challenge: ch,
            rpv: slot(RD_RPV_WORD),
            rak_pub_cose_key: *cose_key,
            hash_algo,
            rim: slot(RD_RIM_WORD),
            rems: core::array::from_fn(|i| slot(RD_REM_WORD + 8 * i)),
        })
    }

    /// RSI_ATTEST_TOKEN_CONTINUE(addr, offset, size). Failure conditions
    /// in the spec's order (DEN0137 B5.3.2; ACS `attestation_token_continue`):
    /// addr_align, addr_bound, offset_bound, size_overflow, size_bound
    /// (RSI_ERROR_INPUT), then state (RSI_ERROR_STATE: no INIT).
    pub(super) fn attest_token_continue(&self, ctx: &mut RecCtx, args: [u64; 3]) -> Next {
        let [addr, offset, size] = args;
        // All five give RSI_ERROR_INPUT, so their order cannot show; listed
        // as the spec orders them.
        let bad_input = [
            !addr.is_multiple_of(GRANULE_SIZE),                 // addr_align
            self.par_end(ctx.rd).is_none_or(|end| addr >= end), // addr_bound
            offset >= GRANULE_SIZE,                             // offset_bound
            offset.checked_add(size).is_none(),                 // size_overflow
            offset.saturating_add(size) > GRANULE_SIZE,         // size_bound
        ];
        if bad_input.contains(&true) {
            ctx.regs.gprs[0] = status::ERROR_INPUT;
            return Next::Resume;
        }
        let (Some(att), Some([state_pa, buf_pa])) = (self.attest.as_ref(), ctx.aux_attest) else {
            ctx.regs.gprs[0] = status::ERROR_STATE;
            return Next::Resume;
        };
        // Only one of aux 1 / aux 2 is mapped at a time (one RecAux slot).
        let (phase, len, copied, sig_off) = {
            let s = self.platform.map_granule(state_pa, Slot::RecAux);
            let w = |i: usize| s[i].load(Ordering::Relaxed);
            (w(PHASE), w(LEN), w(COPIED), w(SIG_OFF))
        };
        if phase == PHASE_NONE || phase > PHASE_COPYING {
            ctx.regs.gprs[0] = status::ERROR_STATE; // state
            return Next::Resume;
        }
        if phase == PHASE_SIGNING {
            match self.sign_steps(att, ctx.rec, state_pa) {
                Some(sig) => {
                    {
                        let b = self.platform.map_granule(buf_pa, Slot::RecAux);
                        write_at(&b, sig_off as usize, &sig);
                    }
                    let s = self.platform.map_granule(state_pa, Slot::RecAux);
                    // The nonce is no longer needed: wipe the parked signer.
                    crate::realm::store_bytes(&s, SIGNER, &[0; SignerState::LEN]);
                    s[PHASE].store(PHASE_COPYING, Ordering::Relaxed);
                    if self.platform.irq_pending() {
                        // The copy is the next call's work.
                        ctx.regs.gprs[0] = INCOMPLETE;
                        ctx.regs.gprs[1] = 0;
                        return Next::Exit(RecExit::with_reason(exit_reason::IRQ));
                    }
                }
                None if self.attest_abandoned(state_pa) => {
                    ctx.regs.gprs[0] = status::ERROR_STATE;
                    return Next::Resume;
                }
                None => {
                    // Pre-empted: the host takes its interrupt, the realm
                    // sees INCOMPLETE with nothing written and calls again.
                    ctx.regs.gprs[0] = INCOMPLETE;
                    ctx.regs.gprs[1] = 0;
                    return Next::Exit(RecExit::with_reason(exit_reason::IRQ));
                }
            }
        }
        let len = (len as usize).min(GRANULE_SIZE as usize);
        let copied = (copied as usize).min(len);
        let n = (size as usize).min(len - copied);
        let mut chunk = [0u8; GRANULE_SIZE as usize];
        {
            let b = self.platform.map_granule(buf_pa, Slot::RecAux);
            read_at(&b, copied, &mut chunk[..n]);
        }
        let offset = offset as usize;
        let r = self.with_realm_page(ctx.rd, addr, |g| write_at(g, offset, &chunk[..n]));
        match r {
            Ok(()) => {
                let s = self.platform.map_granule(state_pa, Slot::RecAux);
                let done = copied + n >= len;
                s[COPIED].store((copied + n) as u64, Ordering::Relaxed);
                if done {
                    s[PHASE].store(PHASE_NONE, Ordering::Relaxed);
                }
                ctx.regs.gprs[0] = if done { status::SUCCESS } else { INCOMPLETE };
                ctx.regs.gprs[1] = n as u64;
                Next::Resume
            }
            Err(e) => self.rsi_page_result(ctx, addr, Err(e)),
        }
    }

    /// Run the parked signer until it finishes (`Some(signature)`) or a
    /// physical interrupt is pending after a step (`None`, signer parked
    /// again). A parked state the signer cannot read (never expected: only
    /// the RMM writes aux 1) abandons the token (`None`, phase none).
    fn sign_steps(
        &self,
        att: &Attestation<'_>,
        rec: PhysAddr,
        state_pa: PhysAddr,
    ) -> Option<[u8; 96]> {
        let s = self.platform.map_granule(state_pa, Slot::RecAux);
        let mut parked = SignerState([0; SignerState::LEN]);
        load_bytes(&s, SIGNER, &mut parked.0);
        let rak = att.rak.scalar();
        let generation = s[LIVE].load(Ordering::Relaxed);
        let points = match generation {
            0 => None,
            g => att.unpark(rec, g),
        };
        let signer = match (generation, points) {
            (0, _) | (_, Some(_)) => Es384Signer::resume_with(&att.table, &parked, points),
            // Parked points that are gone (never expected): start over.
            _ => None,
        };
        s[LIVE].store(0, Ordering::Relaxed);
        let Some(mut signer) = signer else {
            s[PHASE].store(PHASE_NONE, Ordering::Relaxed);
            return None;
        };
        loop {
            if let Progress::Done(sig) = signer.step(rak) {
                return Some(sig);
            }
            if self.platform.irq_pending() {
                // Park the accumulators in memory if this REC's slot is
                // free (no inversion), else in the aux granule.
                match att.park(rec, signer.accumulators()) {
                    Some(g) => {
                        crate::realm::store_bytes(&s, SIGNER, &signer.suspend_scalars().0);
                        s[LIVE].store(g, Ordering::Relaxed);
                    }
                    None => crate::realm::store_bytes(&s, SIGNER, &signer.suspend().0),
                }
                return None;
            }
        }
    }

    fn attest_abandoned(&self, state_pa: PhysAddr) -> bool {
        let s = self.platform.map_granule(state_pa, Slot::RecAux);
        s[PHASE].load(Ordering::Relaxed) == PHASE_NONE
    }

    /// The realm's PAR end, under the RD lock.
    fn par_end(&self, rd: PhysAddr) -> Option<u64> {
        let (_g, realm) = self.lock_rd(rd.0).ok()?;
        Some(realm.par_end())
    }
}

const _: () = assert!(SIGNER + SignerState::LEN.div_ceil(8) <= GRANULE_WORDS);
