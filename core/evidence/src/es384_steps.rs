//! ES384 (ECDSA P-384 over a SHA-384 prehash) in bounded, resumable steps.
//!
//! RSI_ATTEST_TOKEN_CONTINUE must not hold a CPU for a whole signature: TF-RMM
//! runs the ECDSA in slices and exits to the host with RMI_EXIT_IRQ whenever
//! a physical interrupt is pending, and the realm's next CONTINUE resumes
//! where the last one stopped (cca-attestation.md §5). This module is that
//! signer, built only from the `p384`/`primeorder` crates' constant-time
//! group and scalar operations (no field arithmetic of its own):
//!
//! - the nonce is RFC 6979 (the `rfc6979` crate with HMAC-SHA-384), exactly as
//!   `p384::ecdsa::SigningKey::sign_prehash` derives it, so a finished
//!   signature is byte-identical to the one-shot signer's (tested below);
//! - `R = k·G` is a fixed-base comb over [`BaseTable`] (49 tables of
//!   `[1..8]·256^i·G`, selected in constant time from signed radix-16
//!   digits): each [`Es384Signer::step`] adds one table entry, for the even
//!   digits into one accumulator and the odd ones into another, which two
//!   steps of two doublings then weigh by 16;
//! - one step computes `r = x(R) mod n` (a field inversion), the last one
//!   `s = k⁻¹(z + r·d) mod n` (a scalar inversion).
//!
//! Every step is about one point addition or one inversion, so a caller
//! that checks for interrupts between steps answers within one step plus a
//! suspension. Between CPU slices the signer is parked as a
//! [`SignerState`], a plain byte array (the RMM keeps it in a REC auxiliary
//! granule): while accumulators are live they are stored in affine form,
//! which costs one field inversion for both ([`BatchNormalize`]); before the
//! first addition and once `r` is known there is nothing to invert. The
//! state holds the nonce `k`, as secret as the key itself; both the signer
//! and the state are wiped on drop.

use alloc::{boxed::Box, vec::Vec};
use core::fmt;

use p384::elliptic_curve::{
    BatchNormalize, Curve, FieldBytes, PrimeField,
    group::Group,
    ops::Reduce,
    point::AffineCoordinates,
    sec1::{FromSec1Point, Sec1Point, ToSec1Point},
    zeroize::Zeroize,
};
use p384::{AffinePoint, NistP384, NonZeroScalar, ProjectivePoint, Scalar, U384};
use primeorder::{LookupTable, Radix16Decomposition, array::typenum::U97};
use rfc6979::KGenerator;
use sha2::Sha384;

use crate::ES384_SIGNATURE_LEN;

/// Signed radix-16 digits of a P-384 scalar: 2 per byte plus one carry.
const DIGITS: usize = 97;
/// Comb tables: table `i` serves digits `2i` and `2i+1` (byte `i` of `k`),
/// and table 48 the carry digit 96.
pub const COMB_TABLES: usize = 49;
/// Comb steps: one point addition each (even and odd digit of each table;
/// the last table has no odd digit, its step adds the identity).
const COMB_STEPS: usize = 2 * COMB_TABLES;
/// Step 0 derives the RFC 6979 nonce (HMAC-SHA-384 rounds).
const STEP_NONCE: usize = 0;
const COMB_FIRST: usize = 1;
const STEP_QUAD1: usize = COMB_FIRST + COMB_STEPS;
const STEP_QUAD2: usize = STEP_QUAD1 + 1;
const STEP_R: usize = STEP_QUAD2 + 1;
/// Steps of one signature: the nonce, the comb additions, two steps of two
/// doublings each (the odd-digit sum weighs 16), the affine `x(R)` (one
/// field inversion), and `s` (one scalar inversion).
pub const SIGN_STEPS: usize = STEP_R + 2;
/// Bytes of an uncompressed SEC1 P-384 point; the identity is one 0x00.
const POINT_LEN: usize = 97;

/// Precomputed multiples of the generator: `tables[i][j-1] = j·256^i·G`,
/// `j = 1..8`. Public data; build it once (about 730 group operations) and
/// share it between every signature.
///
/// The tables (about 56 KiB) live on the heap, built one entry at a time, so
/// firmware with small stacks can make one.
#[derive(Clone)]
pub struct BaseTable {
    tables: Box<[LookupTable<ProjectivePoint>]>,
}

impl fmt::Debug for BaseTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BaseTable(P-384 generator comb)")
    }
}

impl BaseTable {
    /// Compute the comb tables of the P-384 generator.
    pub fn new() -> Self {
        let mut base = ProjectivePoint::generator();
        let mut tables = Vec::with_capacity(COMB_TABLES);
        for _ in 0..COMB_TABLES {
            tables.push(LookupTable::new(base));
            for _ in 0..8 {
                base = base.double();
            }
        }
        Self {
            tables: tables.into_boxed_slice(),
        }
    }
}

impl Default for BaseTable {
    fn default() -> Self {
        Self::new()
    }
}

/// A parked signature: everything needed to resume, as bytes.
///
/// Layout (all fixed): `[0]` magic, `[1]` next step, `[2]` nonce attempt,
/// `[3..51]` k, `[51..99]` prehash z, `[99..147]` r (once known), then the
/// two accumulators as SEC1 points (97 bytes each, identity = 0x00 then
/// zeros; not stored before the first step or after `r`).
#[derive(Clone, PartialEq, Eq)]
pub struct SignerState(pub [u8; SignerState::LEN]);

impl SignerState {
    /// Serialised length in bytes.
    pub const LEN: usize = 3 + 3 * 48 + 2 * POINT_LEN;
    const MAGIC: u8 = 0xE3;
}

impl fmt::Debug for SignerState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SignerState(step {}, [REDACTED])", self.0[1])
    }
}

impl Drop for SignerState {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

/// What one [`Es384Signer::step`] achieved.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Progress {
    /// More steps are needed.
    Pending,
    /// The signature `r ‖ s`, each 48 bytes big-endian (RFC 9053 §2.1).
    Done([u8; ES384_SIGNATURE_LEN]),
}

/// An ES384 signature in progress.
pub struct Es384Signer<'t> {
    table: &'t BaseTable,
    k: Scalar,
    z: [u8; 48],
    digits: [i8; DIGITS],
    step: u8,
    attempt: u8,
    acc: ProjectivePoint,
    acc2: ProjectivePoint,
    /// `x(R) mod n`, once step STEP_R ran.
    r: Scalar,
}

impl fmt::Debug for Es384Signer<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Es384Signer(step {}, [REDACTED])", self.step)
    }
}

impl Drop for Es384Signer<'_> {
    fn drop(&mut self) {
        self.k = Scalar::ZERO;
        self.digits.zeroize();
    }
}

/// The `attempt`-th RFC 6979 nonce candidate that is a valid scalar (as the
/// `ecdsa` crate's loop takes them; attempt > 0 only after r or s was 0).
fn nonce(d: &NonZeroScalar, z: &[u8; 48], attempt: u8) -> Scalar {
    let order = NistP384::ORDER;
    let mut kgen = KGenerator::<Sha384, U384>::new(&d.to_repr(), z, &[], order.as_ref());
    let mut taken = 0u8;
    loop {
        let mut bytes = FieldBytes::<NistP384>::default();
        kgen.fill_next_k(&mut bytes);
        if let Some(k) = NonZeroScalar::from_repr(bytes).into_option() {
            if taken == attempt {
                return *k;
            }
            taken = taken.wrapping_add(1);
        }
    }
}

fn digits_of(k: &Scalar) -> [i8; DIGITS] {
    let dec = Radix16Decomposition::<U97>::new(k);
    core::array::from_fn(|i| dec[i])
}

fn point_bytes(p: &AffinePoint) -> [u8; POINT_LEN] {
    let enc = p.to_sec1_point(false);
    let mut out = [0u8; POINT_LEN];
    let b = enc.as_bytes();
    if b.len() == POINT_LEN {
        out.copy_from_slice(b);
    }
    out
}

fn point_from(bytes: &[u8]) -> Option<ProjectivePoint> {
    if bytes[0] == 0 {
        return bytes
            .iter()
            .all(|&b| b == 0)
            .then_some(ProjectivePoint::IDENTITY);
    }
    let enc = Sec1Point::<NistP384>::from_bytes(bytes).ok()?;
    AffinePoint::from_sec1_point(&enc)
        .into_option()
        .map(ProjectivePoint::from)
}

impl<'t> Es384Signer<'t> {
    /// Start signing the SHA-384 `prehash`: cheap, all the work (the
    /// nonce included) is done by [`step`](Self::step).
    pub fn start(table: &'t BaseTable, prehash: &[u8; 48]) -> Self {
        Self::with_attempt(table, prehash, 0)
    }

    fn with_attempt(table: &'t BaseTable, z: &[u8; 48], attempt: u8) -> Self {
        Self {
            table,
            k: Scalar::ZERO,
            z: *z,
            digits: [0; DIGITS],
            step: 0,
            attempt,
            acc: ProjectivePoint::IDENTITY,
            acc2: ProjectivePoint::IDENTITY,
            r: Scalar::ZERO,
        }
    }

    /// Resume a parked signature. `None` if the state is not one that
    /// [`suspend`](Self::suspend) wrote (the caller starts over).
    pub fn resume(table: &'t BaseTable, state: &SignerState) -> Option<Self> {
        Self::resume_with(table, state, None)
    }

    /// Resume from a state written by [`suspend_scalars`](Self::suspend_scalars)
    /// plus the accumulators the caller kept in memory ([`accumulators`](Self::accumulators)),
    /// or from a full [`suspend`](Self::suspend) state if `points` is `None`.
    pub fn resume_with(
        table: &'t BaseTable,
        state: &SignerState,
        points: Option<[ProjectivePoint; 2]>,
    ) -> Option<Self> {
        let s = &state.0;
        if s[0] != SignerState::MAGIC || usize::from(s[1]) >= SIGN_STEPS {
            return None;
        }
        let k_bytes = FieldBytes::<NistP384>::try_from(&s[3..51]).ok()?;
        let k = Option::<Scalar>::from(Scalar::from_repr(k_bytes))?;
        let mut z = [0u8; 48];
        z.copy_from_slice(&s[51..99]);
        let r_bytes = FieldBytes::<NistP384>::try_from(&s[99..147]).ok()?;
        let [acc, acc2] = match points {
            Some(p) => p,
            None => [
                point_from(&s[147..147 + POINT_LEN])?,
                point_from(&s[147 + POINT_LEN..])?,
            ],
        };
        Some(Self {
            table,
            k,
            z,
            digits: digits_of(&k),
            step: s[1],
            attempt: s[2],
            acc,
            acc2,
            r: Option::<Scalar>::from(Scalar::from_repr(r_bytes))?,
        })
    }

    /// Whether the accumulators hold anything (after the first addition,
    /// until `r` is known).
    fn points_live(&self) -> bool {
        (COMB_FIRST + 1..=STEP_R).contains(&usize::from(self.step))
    }

    /// Park everything but the accumulators (no inversion); keep
    /// [`accumulators`](Self::accumulators) in memory and hand them to
    /// [`resume_with`](Self::resume_with).
    pub fn suspend_scalars(&self) -> SignerState {
        let mut s = [0u8; SignerState::LEN];
        s[0] = SignerState::MAGIC;
        s[1] = self.step;
        s[2] = self.attempt;
        s[3..51].copy_from_slice(&self.k.to_repr());
        s[51..99].copy_from_slice(&self.z);
        s[99..147].copy_from_slice(&self.r.to_repr());
        SignerState(s)
    }

    /// The two accumulators, in projective form.
    pub fn accumulators(&self) -> [ProjectivePoint; 2] {
        [self.acc, self.acc2]
    }

    /// Park the signature: one field inversion for both accumulators while
    /// they are live, none otherwise.
    pub fn suspend(&self) -> SignerState {
        let mut state = self.suspend_scalars();
        if self.points_live() {
            let s = &mut state.0;
            let [a, a2] = ProjectivePoint::batch_normalize(&[self.acc, self.acc2]);
            s[147..147 + POINT_LEN].copy_from_slice(&point_bytes(&a));
            s[147 + POINT_LEN..].copy_from_slice(&point_bytes(&a2));
        }
        state
    }

    /// Steps done so far (0..[`SIGN_STEPS`]).
    pub fn steps_done(&self) -> usize {
        usize::from(self.step)
    }

    /// Do one bounded step (about one point addition or one inversion).
    /// Returns the signature when it is complete.
    pub fn step(&mut self, d: &NonZeroScalar) -> Progress {
        let step = usize::from(self.step);
        if step == STEP_NONCE {
            self.k = nonce(d, &self.z, self.attempt);
            self.digits = digits_of(&self.k);
        } else if step < STEP_QUAD1 {
            // Table i serves digit 2i (into acc) and digit 2i+1 (into acc2,
            // none for the carry digit 96): both at weight 256^i.
            let c = step - COMB_FIRST;
            if let Some(t) = self.table.tables.get(c / 2) {
                let digit = self.digits.get(c).copied().unwrap_or(0);
                if c.is_multiple_of(2) {
                    self.acc += t.select(digit);
                } else {
                    self.acc2 += t.select(digit);
                }
            }
        } else if step == STEP_QUAD1 {
            self.acc2 = self.acc2.double().double();
        } else if step == STEP_QUAD2 {
            // The odd digits weigh 16·256^i: R = acc + 16·acc2.
            self.acc += self.acc2.double().double();
        } else if step == STEP_R {
            let r_point = self.acc.to_affine();
            self.r = <Scalar as Reduce<FieldBytes<NistP384>>>::reduce(&r_point.x());
            self.acc = ProjectivePoint::IDENTITY;
            self.acc2 = ProjectivePoint::IDENTITY;
            if bool::from(self.r.is_zero()) {
                return self.retry();
            }
        } else {
            let z = <Scalar as Reduce<FieldBytes<NistP384>>>::reduce(&self.z.into());
            let k_inv = Option::<Scalar>::from(self.k.invert()).unwrap_or(Scalar::ZERO);
            let s = k_inv * (z + self.r * d.as_ref());
            if bool::from(s.is_zero()) {
                return self.retry();
            }
            let mut sig = [0u8; ES384_SIGNATURE_LEN];
            sig[..48].copy_from_slice(&self.r.to_repr());
            sig[48..].copy_from_slice(&s.to_repr());
            return Progress::Done(sig);
        }
        self.step += 1;
        Progress::Pending
    }

    /// r or s was zero (probability ~2^-383): take the next RFC 6979
    /// candidate as the `ecdsa` crate does, starting the comb again.
    fn retry(&mut self) -> Progress {
        let (z, attempt) = (self.z, self.attempt.wrapping_add(1));
        let table = self.table;
        *self = Self::with_attempt(table, &z, attempt);
        Progress::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use p384::ecdsa::{Signature, SigningKey, signature::hazmat::PrehashSigner};
    use sha2::Digest;

    fn key(seed: u8) -> SigningKey {
        let mut b = [seed; 48];
        b[0] = 0x11;
        SigningKey::from_bytes(&b.into()).expect("valid scalar")
    }

    fn run_to_end(signer: &mut Es384Signer<'_>, d: &NonZeroScalar) -> [u8; 96] {
        for _ in 0..2 * SIGN_STEPS {
            if let Progress::Done(sig) = signer.step(d) {
                return sig;
            }
        }
        panic!("signature did not finish");
    }

    #[test]
    fn matches_the_one_shot_rfc6979_signer() {
        let table = BaseTable::new();
        for seed in [1u8, 7, 0x42] {
            let sk = key(seed);
            let d = *sk.as_nonzero_scalar();
            let z: [u8; 48] = Sha384::digest([seed; 100]).into();
            let expected: Signature = sk.sign_prehash(&z).expect("sign");
            let mut s = Es384Signer::start(&table, &z);
            let sig = run_to_end(&mut s, &d);
            assert_eq!(&sig[..], &expected.to_bytes()[..], "seed {seed}");
        }
    }

    #[test]
    fn suspending_after_every_step_gives_the_same_signature() {
        let table = BaseTable::new();
        let sk = key(3);
        let d = *sk.as_nonzero_scalar();
        let z: [u8; 48] = Sha384::digest(b"resume").into();
        let expected: Signature = sk.sign_prehash(&z).expect("sign");
        let mut state = Es384Signer::start(&table, &z).suspend();
        let sig = loop {
            let mut s = Es384Signer::resume(&table, &state).expect("resumes");
            match s.step(&d) {
                Progress::Done(sig) => break sig,
                Progress::Pending => state = s.suspend(),
            }
        };
        assert_eq!(&sig[..], &expected.to_bytes()[..]);
    }

    #[test]
    fn suspending_with_points_in_memory_gives_the_same_signature() {
        let table = BaseTable::new();
        let sk = key(9);
        let d = *sk.as_nonzero_scalar();
        let z: [u8; 48] = Sha384::digest(b"light").into();
        let expected: Signature = sk.sign_prehash(&z).expect("sign");
        let s = Es384Signer::start(&table, &z);
        let (mut state, mut points) = (s.suspend_scalars(), s.accumulators());
        let sig = loop {
            let mut s = Es384Signer::resume_with(&table, &state, Some(points)).expect("resumes");
            match s.step(&d) {
                Progress::Done(sig) => break sig,
                Progress::Pending => (state, points) = (s.suspend_scalars(), s.accumulators()),
            }
        };
        assert_eq!(&sig[..], &expected.to_bytes()[..]);
    }

    #[test]
    fn a_corrupt_state_is_refused_not_trusted() {
        let table = BaseTable::new();
        assert!(Es384Signer::resume(&table, &SignerState([0; SignerState::LEN])).is_none());
        let sk = key(5);
        let d = *sk.as_nonzero_scalar();
        let mut s = Es384Signer::start(&table, &[9; 48]);
        s.step(&d);
        let mut st = s.suspend();
        st.0[1] = SIGN_STEPS as u8; // step out of range
        assert!(Es384Signer::resume(&table, &st).is_none());
        let mut st = s.suspend();
        st.0[170] ^= 1; // accumulator no longer on the curve
        assert!(Es384Signer::resume(&table, &st).is_none());
    }
}
