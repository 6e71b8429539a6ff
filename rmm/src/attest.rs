//! The RMM's attestation material (cca-attestation.md §4.6, §5): the Realm
//! Attestation Key that EL3 hands over at cold boot, its COSE_Key encoding,
//! the platform token EL3 signed over the binding challenge, and the comb
//! table of the resumable ES384 signer.
//!
//! The arch code builds one [`Attestation`] at cold boot and gives it to the
//! monitor ([`Rmm::with_attestation`](crate::Rmm::with_attestation)); without
//! it RSI_ATTEST_TOKEN_INIT answers RSI_ERROR_UNKNOWN and realms run on.

extern crate alloc;

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::fmt;
use core::sync::atomic::{AtomicU64, Ordering};

use cmon_evidence::{BaseTable, COSE_KEY_P384_LEN, cose_key_p384, rak_binding_challenge};
use p384::elliptic_curve::{FieldBytes, sec1::ToSec1Point, zeroize::Zeroize};
use p384::{NistP384, NonZeroScalar, ProjectivePoint, PublicKey};
use spinning_top::Spinlock;

use crate::types::PhysAddr;

/// Why attestation could not be set up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttestSetupError {
    /// The RAK is not a valid P-384 private scalar (0 or >= n).
    BadKey,
    /// The platform token leaves no room for a realm token in the
    /// 4 KiB token buffer.
    PlatformTokenTooLarge,
}

/// The Realm Attestation Key: private scalar and its COSE_Key (§4.4).
pub struct Rak {
    d: NonZeroScalar,
    cose_key: [u8; COSE_KEY_P384_LEN],
}

impl fmt::Debug for Rak {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Rak([REDACTED])")
    }
}

impl Rak {
    /// Import the raw 48-byte big-endian scalar RMM_ATTEST_GET_REALM_KEY
    /// returns (rmm-el3-interface.md §5). The caller wipes its copy.
    pub fn from_scalar(bytes: &[u8; 48]) -> Result<Self, AttestSetupError> {
        let repr = FieldBytes::<NistP384>::from(*bytes);
        let d = Option::<NonZeroScalar>::from(NonZeroScalar::from_repr(repr))
            .ok_or(AttestSetupError::BadKey)?;
        let point = PublicKey::from_secret_scalar(&d).to_sec1_point(false);
        let raw = point.as_bytes();
        let (mut x, mut y) = ([0u8; 48], [0u8; 48]);
        if raw.len() != 97 {
            return Err(AttestSetupError::BadKey);
        }
        x.copy_from_slice(&raw[1..49]);
        y.copy_from_slice(&raw[49..97]);
        Ok(Self {
            d,
            cose_key: cose_key_p384(&x, &y),
        })
    }

    /// The RAK public key as the exact 107-byte COSE_Key of realm claim
    /// 44237.
    pub fn cose_key(&self) -> &[u8; COSE_KEY_P384_LEN] {
        &self.cose_key
    }

    /// The platform-token challenge: SHA-256 of the COSE_Key (§4.6).
    pub fn binding_challenge(&self) -> [u8; 32] {
        rak_binding_challenge(&self.cose_key)
    }

    pub(crate) fn scalar(&self) -> &NonZeroScalar {
        &self.d
    }
}

/// The accumulators of one REC's parked signature.
struct Live {
    rec: u64,
    generation: u64,
    points: [ProjectivePoint; 2],
}

/// Slots for parked accumulators. Parking them in memory costs nothing,
/// while writing them to the REC's aux granule needs a field inversion
/// (about 100,000 instructions, most of the interrupt latency budget); a
/// REC whose slot is taken by another REC falls back to the aux granule.
const LIVE_SLOTS: usize = 64;

/// Everything realm tokens need, owned by the monitor after cold boot.
pub struct Attestation<'a> {
    pub(crate) rak: Rak,
    pub(crate) platform_token: &'a [u8],
    pub(crate) table: BaseTable,
    live: Box<[Spinlock<Option<Live>>]>,
    generation: AtomicU64,
}

impl fmt::Debug for Attestation<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Attestation")
            .field("platform_token_len", &self.platform_token.len())
            .finish_non_exhaustive()
    }
}

/// Room a realm token needs next to the platform token in the 4 KiB
/// buffer: claims (at most ~640 bytes with SHA-512), COSE and collection
/// framing and the signature.
const REALM_TOKEN_MAX: usize = 1024;

impl<'a> Attestation<'a> {
    /// Bundle the RAK with the platform token EL3 returned for
    /// [`Rak::binding_challenge`]; builds the signer's comb table (about
    /// 730 point operations, once).
    pub fn new(rak: Rak, platform_token: &'a [u8]) -> Result<Self, AttestSetupError> {
        if platform_token.len() + REALM_TOKEN_MAX > crate::types::GRANULE_SIZE as usize {
            return Err(AttestSetupError::PlatformTokenTooLarge);
        }
        Ok(Self {
            rak,
            platform_token,
            table: BaseTable::new(),
            live: (0..LIVE_SLOTS)
                .map(|_| Spinlock::new(None))
                .collect::<Vec<_>>()
                .into_boxed_slice(),
            generation: AtomicU64::new(1),
        })
    }

    fn slot(&self, rec: PhysAddr) -> Option<&Spinlock<Option<Live>>> {
        self.live.get((rec.0 >> 12) as usize % LIVE_SLOTS)
    }

    /// Keep `points` of `rec`'s signature in memory; returns the non-zero
    /// generation to find them again, or `None` if the slot is in use by
    /// another REC (or contended): park them in the aux granule instead.
    pub(crate) fn park(&self, rec: PhysAddr, points: [ProjectivePoint; 2]) -> Option<u64> {
        let mut slot = self.slot(rec)?.try_lock()?;
        if slot.as_ref().is_some_and(|l| l.rec != rec.0) {
            return None;
        }
        let generation = self.generation.fetch_add(1, Ordering::Relaxed);
        *slot = Some(Live {
            rec: rec.0,
            generation,
            points,
        });
        Some(generation)
    }

    /// Take back the points [`park`](Self::park) kept for `rec` under
    /// `generation`; the slot is wiped and freed.
    pub(crate) fn unpark(&self, rec: PhysAddr, generation: u64) -> Option<[ProjectivePoint; 2]> {
        let mut slot = self.slot(rec)?.lock();
        let live = slot.as_mut()?;
        if live.rec != rec.0 || live.generation != generation {
            return None;
        }
        let points = live.points;
        live.points.zeroize();
        *slot = None;
        Some(points)
    }

    /// Drop any points parked for `rec` (a new INIT, or REC_DESTROY).
    pub(crate) fn forget(&self, rec: PhysAddr) {
        if let Some(s) = self.slot(rec) {
            let mut slot = s.lock();
            if let Some(live) = slot.as_mut().filter(|l| l.rec == rec.0) {
                live.points.zeroize();
                *slot = None;
            }
        }
    }
}
