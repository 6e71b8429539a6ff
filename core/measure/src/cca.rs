//! Arm CCA Realm Initial Measurement (RIM), RMM 1.0-rel0.
//!
//! Normative: shared/spec/cca-attestation.md §2 (values read from TF-RMM
//! `lib/measurement/src/rim.c` and `measurement_descs.h`). Every measured
//! event builds a zero-filled 256-byte descriptor holding the current RIM
//! and replaces the RIM with the hash of the whole descriptor (§2.2).

use crate::MeasureError;
use core::marker::PhantomData;

use crate::desc::{PaddedDescriptor, RIM_OFFSET};

use crate::hash::{HashAlgo, HasherWith, Measurement, SLOT_LEN};
use crate::register::MeasurementRegister;
use crate::sha::{Sha2Compress, SoftSha2};

/// Size of a granule, of the RmiRealmParams and RmiRecParams images, and of
/// a DATA page (§2.1, §2.3).
pub const GRANULE_SIZE: usize = 4096;

/// Size of every measurement descriptor, hashed whole (§2.2).
pub const DESC_LEN: usize = 0x100;

/// RMI_DATA_CREATE flags value: do not measure the content (§2.3 DATA).
pub const RMI_NO_MEASURE_CONTENT: u64 = 0;

/// RMI_DATA_CREATE flags value: measure the content (§2.3 DATA).
pub const RMI_MEASURE_CONTENT: u64 = 1;

/// `desc_type` of the DATA descriptor (§2.3).
pub const DESC_TYPE_DATA: u8 = 0;
/// `desc_type` of the REC descriptor (§2.3).
pub const DESC_TYPE_REC: u8 = 1;
/// `desc_type` of the RIPAS descriptor (§2.3).
pub const DESC_TYPE_RIPAS: u8 = 2;

/// The measured subset of `RmiRealmParams` (§2.1).
///
/// Values are the raw fields exactly as the host wrote them into
/// RmiRealmParams; nothing is converted (e.g. `sve_vl` is the encoded
/// vector length, not bits). RPV, VMID and the RTT fields are not measured
/// and therefore absent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RimRealmParams {
    /// `flags` @0x000 (8 bytes).
    pub flags: u64,
    /// `s2sz` @0x008 (4 bytes in TF-RMM).
    pub s2sz: u32,
    /// `sve_vl` @0x010 (4 bytes).
    pub sve_vl: u32,
    /// `num_bps` @0x018 (4 bytes).
    pub num_bps: u32,
    /// `num_wps` @0x020 (4 bytes).
    pub num_wps: u32,
    /// `pmu_num_ctrs` @0x028 (4 bytes).
    pub pmu_num_ctrs: u32,
    /// `hash_algo` @0x030 (1 byte): 0 = SHA-256, 1 = SHA-512 (§1).
    pub hash_algo: u8,
}

impl RimRealmParams {
    /// Length of the image prefix that can be non-zero (fields up to and
    /// including `hash_algo`, padded to its 8-byte slot).
    pub const PREFIX_LEN: usize = 0x38;

    /// The first [`Self::PREFIX_LEN`] bytes of the 4096-byte image P; the
    /// rest of P is zero (§2.1). Fields are little-endian at the offsets of
    /// the §2.1 table.
    pub fn image_prefix(&self) -> [u8; Self::PREFIX_LEN] {
        let mut p = [0u8; Self::PREFIX_LEN];
        p[0x00..0x08].copy_from_slice(&self.flags.to_le_bytes());
        p[0x08..0x0c].copy_from_slice(&self.s2sz.to_le_bytes());
        p[0x10..0x14].copy_from_slice(&self.sve_vl.to_le_bytes());
        p[0x18..0x1c].copy_from_slice(&self.num_bps.to_le_bytes());
        p[0x20..0x24].copy_from_slice(&self.num_wps.to_le_bytes());
        p[0x28..0x2c].copy_from_slice(&self.pmu_num_ctrs.to_le_bytes());
        p[0x30] = self.hash_algo;
        p
    }

    /// Streams the 4096-byte image P to `sink` in pieces of at most 256
    /// bytes; concatenated they are exactly P.
    pub fn for_each_image_chunk(&self, mut sink: impl FnMut(&[u8])) {
        sink(&self.image_prefix());
        zero_fill(GRANULE_SIZE - Self::PREFIX_LEN, &mut sink);
    }

    /// `H(P)`: the initial RIM (§2.1).
    pub fn hash(&self, algo: HashAlgo) -> Measurement {
        self.hash_with::<SoftSha2>(algo)
    }

    /// `H(P)` with compression backend `E`.
    pub fn hash_with<E: Sha2Compress>(&self, algo: HashAlgo) -> Measurement {
        let mut h = HasherWith::<E>::new(algo);
        self.for_each_image_chunk(|c| h.update(c));
        h.finalize()
    }
}

/// The measured subset of `RmiRecParams` (§2.3 REC): flags, pc and gprs.
/// MPIDR and the aux list are not measured and therefore absent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RimRecParams {
    /// `flags` @0x000.
    pub flags: u64,
    /// `pc` @0x200.
    pub pc: u64,
    /// `gprs[0..7]` @0x300, i.e. x0..x7.
    pub gprs: [u64; 8],
}

impl RimRecParams {
    /// Offset of `pc` in the image.
    pub const PC_OFFSET: usize = 0x200;
    /// Offset of `gprs[0]` in the image.
    pub const GPRS_OFFSET: usize = 0x300;

    /// Streams the 4096-byte RmiRecParams image (zero except flags, pc and
    /// gprs) to `sink` in pieces of at most 256 bytes.
    pub fn for_each_image_chunk(&self, mut sink: impl FnMut(&[u8])) {
        sink(&self.flags.to_le_bytes());
        zero_fill(Self::PC_OFFSET - 8, &mut sink);
        sink(&self.pc.to_le_bytes());
        zero_fill(Self::GPRS_OFFSET - Self::PC_OFFSET - 8, &mut sink);
        let mut gprs = [0u8; 64];
        for (dst, r) in gprs.chunks_exact_mut(8).zip(self.gprs) {
            dst.copy_from_slice(&r.to_le_bytes());
        }
        sink(&gprs);
        zero_fill(GRANULE_SIZE - Self::GPRS_OFFSET - gprs.len(), &mut sink);
    }

    /// `H(rec params image)`: the `content` of the REC descriptor (§2.3).
    pub fn hash(&self, algo: HashAlgo) -> Measurement {
        self.hash_with::<SoftSha2>(algo)
    }

    /// The same with compression backend `E`.
    pub fn hash_with<E: Sha2Compress>(&self, algo: HashAlgo) -> Measurement {
        let mut h = HasherWith::<E>::new(algo);
        self.for_each_image_chunk(|c| h.update(c));
        h.finalize()
    }
}

/// Feeds `count` zero bytes to `sink` from read-only memory.
fn zero_fill(mut count: usize, sink: &mut impl FnMut(&[u8])) {
    static ZEROS: [u8; 256] = [0; 256];
    while count > 0 {
        let n = count.min(ZEROS.len());
        sink(&ZEROS[..n]);
        count -= n;
    }
}

/// Writes the 0x50-byte header shared by all descriptors (§2.3): desc_type
/// (u8 in an 8-byte slot) @0x00, len = 0x100 @0x08, RIM slot @0x10.
fn descriptor_header(desc_type: u8, rim: &Measurement) -> [u8; DESC_LEN] {
    let mut d = [0u8; DESC_LEN];
    d[0x00] = desc_type;
    d[0x08..0x10].copy_from_slice(&(DESC_LEN as u64).to_le_bytes());
    // The slot is already zero-padded past the digest (§2.2).
    d[RIM_OFFSET..RIM_OFFSET + SLOT_LEN].copy_from_slice(rim.slot());
    d
}

/// Encodes a DATA descriptor (§2.3): ipa @0x50, flags @0x58, content @0x60.
/// `content` is `None` for an unmeasured granule, which leaves zeros.
pub fn data_descriptor(
    rim: &Measurement,
    ipa: u64,
    flags: u64,
    content: Option<&Measurement>,
) -> [u8; DESC_LEN] {
    let mut d = descriptor_header(DESC_TYPE_DATA, rim);
    d[0x50..0x58].copy_from_slice(&ipa.to_le_bytes());
    d[0x58..0x60].copy_from_slice(&flags.to_le_bytes());
    if let Some(c) = content {
        d[0x60..0x60 + SLOT_LEN].copy_from_slice(c.slot());
    }
    d
}

/// Encodes a REC descriptor (§2.3): content = H(rec params image) @0x50.
pub fn rec_descriptor(rim: &Measurement, content: &Measurement) -> [u8; DESC_LEN] {
    let mut d = descriptor_header(DESC_TYPE_REC, rim);
    d[0x50..0x50 + SLOT_LEN].copy_from_slice(content.slot());
    d
}

/// Encodes a RIPAS descriptor (§2.3): base @0x50, top (exclusive) @0x58.
pub fn ripas_descriptor(rim: &Measurement, base: u64, top: u64) -> [u8; DESC_LEN] {
    let mut d = descriptor_header(DESC_TYPE_RIPAS, rim);
    d[RIPAS_BASE_OFFSET..RIPAS_BASE_OFFSET + 8].copy_from_slice(&base.to_le_bytes());
    d[RIPAS_TOP_OFFSET..RIPAS_TOP_OFFSET + 8].copy_from_slice(&top.to_le_bytes());
    d
}

/// A Realm Initial Measurement being built, from RMI_REALM_CREATE until
/// RMI_REALM_ACTIVATE (§2.4). Callers extend it in RMI call order; the
/// "realm state NEW" precondition is checked by the RMI layer, not here.
///
/// `E` is the SHA-2 compression backend; [`Rim`] uses the portable one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RimWith<E> {
    value: Measurement,
    _e: PhantomData<E>,
}

/// The RIM with RustCrypto's portable SHA-2.
pub type Rim = RimWith<SoftSha2>;

impl<E: Sha2Compress> RimWith<E> {
    /// Resume a RIM from its current value (kept by the RMM in the Realm
    /// Descriptor between RMI commands), so the next measured event extends
    /// exactly that value (§2.2).
    pub const fn from_value(value: Measurement) -> Self {
        Self {
            value,
            _e: PhantomData,
        }
    }

    /// RMI_REALM_CREATE: `RIM = H(P)` (§2.1).
    ///
    /// `algo` must be the algorithm that `params.hash_algo` encodes (§1):
    /// a mismatch would silently produce a RIM that no verifier reproduces,
    /// so it is an error.
    pub fn new(algo: HashAlgo, params: &RimRealmParams) -> Result<Self, MeasureError> {
        match HashAlgo::from_rmi(params.hash_algo) {
            None => Err(MeasureError::UnknownHashAlgo(params.hash_algo)),
            Some(a) if a != algo => Err(MeasureError::HashAlgoMismatch {
                requested: algo,
                encoded: params.hash_algo,
            }),
            Some(_) => Ok(Self::from_value(params.hash_with::<E>(algo))),
        }
    }

    /// The algorithm of this RIM.
    pub fn algo(&self) -> HashAlgo {
        self.value.algo()
    }

    /// The current RIM.
    pub fn value(&self) -> Measurement {
        self.value
    }

    /// §2.2: `RIM = H(D)` over all 256 bytes of the descriptor.
    fn extend_descriptor(&mut self, desc: &[u8; DESC_LEN]) {
        self.value = HasherWith::<E>::digest(self.algo(), desc);
    }

    /// RMI_DATA_CREATE for the granule at `ipa` (§2.3 DATA).
    ///
    /// `flags` must be [`RMI_NO_MEASURE_CONTENT`] or [`RMI_MEASURE_CONTENT`].
    /// The page content is hashed only when flags = MEASURE_CONTENT (TF-RMM
    /// tests `flags == RMI_MEASURE_CONTENT`), so `content` is then required
    /// and is otherwise ignored. DATA_CREATE_UNKNOWN is not measured at all
    /// and must not be passed here.
    pub fn measure_data(
        &mut self,
        ipa: u64,
        flags: u64,
        content: Option<&[u8; GRANULE_SIZE]>,
    ) -> Result<(), MeasureError> {
        check_granule_aligned(ipa)?;
        let content_hash = match (flags, content) {
            (RMI_NO_MEASURE_CONTENT, _) => None,
            (RMI_MEASURE_CONTENT, Some(page)) => Some(HasherWith::<E>::digest(self.algo(), page)),
            (RMI_MEASURE_CONTENT, None) => return Err(MeasureError::MissingContent),
            (other, _) => return Err(MeasureError::InvalidDataFlags(other)),
        };
        let d = data_descriptor(&self.value, ipa, flags, content_hash.as_ref());
        self.extend_descriptor(&d);
        Ok(())
    }

    /// RMI_REC_CREATE (§2.3 REC): the descriptor's content is the hash of
    /// the 4096-byte RmiRecParams image.
    pub fn measure_rec(&mut self, params: &RimRecParams) {
        let content = params.hash_with::<E>(self.algo());
        let d = rec_descriptor(&self.value, &content);
        self.extend_descriptor(&d);
    }

    /// One RTT entry covered by RMI_RTT_INIT_RIPAS (§2.3 RIPAS).
    ///
    /// TF-RMM extends once **per RTT entry**, with that entry's bounds at the
    /// level where the walk stopped, so a caller covering a range must call
    /// this once per entry, in address order. `top` is exclusive.
    pub fn measure_ripas(&mut self, base: u64, top: u64) -> Result<(), MeasureError> {
        check_ripas_range(base, top)?;
        let d = ripas_descriptor(&self.value, base, top);
        self.extend_descriptor(&d);
        Ok(())
    }

    /// A run of RIPAS extensions (one RMI_RTT_INIT_RIPAS walking an RTT):
    /// [`RipasRun::measure`] gives exactly the RIM that [`Self::measure_ripas`]
    /// gives for the same entries, but the descriptor and its SHA-2 padding
    /// are laid out once for the whole run, each entry is one call into the
    /// compression backend, and the RIM stays in the descriptor between
    /// entries (`desc` module). The RIM is updated when the run is dropped.
    pub fn ripas_run(&mut self) -> RipasRun<'_, E> {
        let d = ripas_descriptor(&self.value, 0, 0);
        RipasRun {
            desc: PaddedDescriptor::new(self.algo(), &d),
            rim: self,
        }
    }
}

/// Consecutive RIPAS extensions of one RIM ([`RimWith::ripas_run`]). The
/// RIM it borrows holds every extension made once the run is dropped.
#[derive(Debug)]
pub struct RipasRun<'a, E: Sha2Compress> {
    rim: &'a mut RimWith<E>,
    desc: PaddedDescriptor,
}

impl<E: Sha2Compress> RipasRun<'_, E> {
    /// Extends the RIM with the RIPAS descriptor of one RTT entry, as
    /// [`RimWith::measure_ripas`] (same checks; nothing changes on error).
    pub fn measure(&mut self, base: u64, top: u64) -> Result<(), MeasureError> {
        check_ripas_range(base, top)?;
        self.desc.set_u64(RIPAS_BASE_OFFSET, base);
        self.desc.set_u64(RIPAS_TOP_OFFSET, top);
        self.desc.extend_rim::<E>();
        Ok(())
    }
}

impl<E: Sha2Compress> Drop for RipasRun<'_, E> {
    fn drop(&mut self) {
        self.rim.value = self.desc.rim();
    }
}

/// Offsets of base and top in the RIPAS descriptor (§2.3).
const RIPAS_BASE_OFFSET: usize = 0x50;
const RIPAS_TOP_OFFSET: usize = 0x58;

/// The checks of one RIPAS entry: both bounds granule-aligned, top above
/// base.
fn check_ripas_range(base: u64, top: u64) -> Result<(), MeasureError> {
    check_granule_aligned(base)?;
    check_granule_aligned(top)?;
    if top <= base {
        return Err(MeasureError::EmptyRange { base, top });
    }
    Ok(())
}

/// Largest RSI_MEASUREMENT_EXTEND payload in bytes (§3: size ≤ 64).
pub const REM_MAX_DATA: usize = 64;

/// RSI_MEASUREMENT_EXTEND data path (§3): extends `rem` with the first
/// `size` bytes of x3..x10, each register little-endian, in register order.
///
/// `size > 64` is RSI_ERROR_INPUT in the ABI and [`MeasureError::DataTooLong`]
/// here. The REM index check (1..4) is the RSI handler's job.
pub fn rem_extend_from_regs(
    rem: &mut MeasurementRegister,
    regs: &[u64; 8],
    size: u64,
) -> Result<(), MeasureError> {
    let size = usize::try_from(size)
        .ok()
        .filter(|&s| s <= REM_MAX_DATA)
        .ok_or(MeasureError::DataTooLong(size))?;
    let mut data = [0u8; REM_MAX_DATA];
    for (dst, r) in data.chunks_exact_mut(8).zip(regs) {
        dst.copy_from_slice(&r.to_le_bytes());
    }
    rem.extend(&data[..size]);
    Ok(())
}

fn check_granule_aligned(addr: u64) -> Result<(), MeasureError> {
    if addr.is_multiple_of(GRANULE_SIZE as u64) {
        Ok(())
    } else {
        Err(MeasureError::Misaligned(addr))
    }
}
