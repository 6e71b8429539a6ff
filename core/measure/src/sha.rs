//! SHA-2 over a pluggable block-compression backend (FIPS 180-4).
//!
//! The streaming part (buffering, padding §5.1, initial values §5.3) lives
//! here; the compression function (§6.2.2 / §6.4.2) comes from a
//! [`Sha2Compress`] backend. [`SoftSha2`] uses RustCrypto's portable
//! implementation. Firmware can supply one that uses the CPU's SHA-2
//! instructions (the RMM does, saving the SIMD registers it touches), and
//! the known-answer tests run every backend through this same code.

use core::marker::PhantomData;

/// The SHA-2 block step: fold whole message blocks into the state.
pub trait Sha2Compress {
    /// SHA-256 compression of `blocks` into `state` (FIPS 180-4 §6.2.2).
    fn compress256(state: &mut [u32; 8], blocks: &[[u8; 64]]);
    /// SHA-512 compression (also SHA-384) of `blocks` into `state` (§6.4.2).
    fn compress512(state: &mut [u64; 8], blocks: &[[u8; 128]]);
}

/// RustCrypto's portable compression functions. (Backends are zero-sized
/// marker types; the derives let measurement types that carry them derive.)
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SoftSha2;

impl Sha2Compress for SoftSha2 {
    fn compress256(state: &mut [u32; 8], blocks: &[[u8; 64]]) {
        sha2::block_api::compress256(state, blocks);
    }

    fn compress512(state: &mut [u64; 8], blocks: &[[u8; 128]]) {
        sha2::block_api::compress512(state, blocks);
    }
}

/// SHA-256 initial hash value (FIPS 180-4 §5.3.3).
pub(crate) const IV256: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];
/// SHA-384 initial hash value (§5.3.4).
pub(crate) const IV384: [u64; 8] = [
    0xcbbb9d5dc1059ed8,
    0x629a292a367cd507,
    0x9159015a3070dd17,
    0x152fecd8f70e5939,
    0x67332667ffc00b31,
    0x8eb44a8768581511,
    0xdb0c2e0d64f98fa7,
    0x47b5481dbefa4fa4,
];
/// SHA-512 initial hash value (§5.3.5).
pub(crate) const IV512: [u64; 8] = [
    0x6a09e667f3bcc908,
    0xbb67ae8584caa73b,
    0x3c6ef372fe94f82b,
    0xa54ff53a5f1d36f1,
    0x510e527fade682d1,
    0x9b05688c2b3e6c1f,
    0x1f83d9abfb41bd6b,
    0x5be0cd19137e2179,
];

/// Streaming SHA-256 over backend `E`.
#[derive(Clone, Debug)]
pub struct Sha256With<E> {
    h: [u32; 8],
    buf: [u8; 64],
    buffered: usize,
    total: u64,
    _e: PhantomData<E>,
}

/// Streaming SHA-384 / SHA-512 over backend `E` (they differ only in the
/// initial value and the truncation, §6.5).
#[derive(Clone, Debug)]
pub struct Sha512With<E> {
    h: [u64; 8],
    buf: [u8; 128],
    buffered: usize,
    total: u128,
    out_len: usize,
    _e: PhantomData<E>,
}

/// Feed `data` through a `B`-byte block buffer, compressing full blocks.
/// Returns nothing; `compress` receives runs of whole blocks.
fn absorb<const B: usize>(
    buf: &mut [u8; B],
    buffered: &mut usize,
    mut data: &[u8],
    mut compress: impl FnMut(&[[u8; B]]),
) {
    if *buffered > 0 {
        let take = (B - *buffered).min(data.len());
        buf[*buffered..*buffered + take].copy_from_slice(&data[..take]);
        *buffered += take;
        data = &data[take..];
        if *buffered < B {
            return;
        }
        compress(core::slice::from_ref(buf));
        *buffered = 0;
    }
    let (blocks, rest) = data.as_chunks::<B>();
    if !blocks.is_empty() {
        compress(blocks);
    }
    buf[..rest.len()].copy_from_slice(rest);
    *buffered = rest.len();
}

impl<E: Sha2Compress> Sha256With<E> {
    /// A fresh SHA-256 computation.
    pub const fn new() -> Self {
        Self {
            h: IV256,
            buf: [0; 64],
            buffered: 0,
            total: 0,
            _e: PhantomData,
        }
    }

    /// Append `data`.
    pub fn update(&mut self, data: &[u8]) {
        self.total = self.total.wrapping_add(data.len() as u64);
        let h = &mut self.h;
        absorb(&mut self.buf, &mut self.buffered, data, |b| {
            E::compress256(h, b)
        });
    }

    /// Pad (§5.1.1) in the block buffer and return the 32-byte digest.
    pub fn finalize(mut self) -> [u8; 32] {
        let bits = self.total.wrapping_mul(8);
        let mut i = self.buffered;
        self.buf[i] = 0x80;
        i += 1;
        if i > 56 {
            // No room for the length: finish this block, pad a fresh one.
            self.buf[i..].fill(0);
            E::compress256(&mut self.h, core::slice::from_ref(&self.buf));
            i = 0;
        }
        self.buf[i..56].fill(0);
        self.buf[56..].copy_from_slice(&bits.to_be_bytes());
        E::compress256(&mut self.h, core::slice::from_ref(&self.buf));
        let mut out = [0u8; 32];
        for (o, w) in out.chunks_exact_mut(4).zip(self.h) {
            o.copy_from_slice(&w.to_be_bytes());
        }
        out
    }
}

impl<E: Sha2Compress> Default for Sha256With<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E: Sha2Compress> Sha512With<E> {
    /// A fresh SHA-512 computation.
    pub const fn new_512() -> Self {
        Self {
            h: IV512,
            buf: [0; 128],
            buffered: 0,
            total: 0,
            out_len: 64,
            _e: PhantomData,
        }
    }

    /// A fresh SHA-384 computation.
    pub const fn new_384() -> Self {
        Self {
            h: IV384,
            buf: [0; 128],
            buffered: 0,
            total: 0,
            out_len: 48,
            _e: PhantomData,
        }
    }

    /// Append `data`.
    pub fn update(&mut self, data: &[u8]) {
        self.total = self.total.wrapping_add(data.len() as u128);
        let h = &mut self.h;
        absorb(&mut self.buf, &mut self.buffered, data, |b| {
            E::compress512(h, b)
        });
    }

    /// Pad (§5.1.2) in the block buffer and write the digest (48 or 64
    /// bytes) into `out`, returning its length.
    pub fn finalize_into(mut self, out: &mut [u8; 64]) -> usize {
        let bits = self.total.wrapping_mul(8);
        let mut i = self.buffered;
        self.buf[i] = 0x80;
        i += 1;
        if i > 112 {
            self.buf[i..].fill(0);
            E::compress512(&mut self.h, core::slice::from_ref(&self.buf));
            i = 0;
        }
        self.buf[i..112].fill(0);
        self.buf[112..].copy_from_slice(&bits.to_be_bytes());
        E::compress512(&mut self.h, core::slice::from_ref(&self.buf));
        for (o, w) in out.chunks_exact_mut(8).zip(self.h) {
            o.copy_from_slice(&w.to_be_bytes());
        }
        self.out_len
    }
}
