//! Panic-free fixed-offset byte access for the TDX structures.
//!
//! Offsets come from `layout` and always lie inside the fixed-size buffers
//! they are used with; out-of-range reads still yield zeros and
//! out-of-range writes are dropped rather than panicking, so no input can
//! turn a layout mistake into a panic (tests pin every offset).

use crate::EvidenceError;

/// `N` bytes of `buf` from `off` (zero where out of range).
pub(crate) fn read<const N: usize>(buf: &[u8], off: usize) -> [u8; N] {
    core::array::from_fn(|i| {
        off.checked_add(i)
            .and_then(|j| buf.get(j))
            .copied()
            .unwrap_or(0)
    })
}

/// Little-endian u64 at `off`.
pub(crate) fn read_u64(buf: &[u8], off: usize) -> u64 {
    u64::from_le_bytes(read(buf, off))
}

/// Copy `src` into `buf` at `off` (dropped if it would not fit).
pub(crate) fn write(buf: &mut [u8], off: usize, src: &[u8]) {
    if let Some(dst) = off
        .checked_add(src.len())
        .and_then(|end| buf.get_mut(off..end))
    {
        dst.copy_from_slice(src);
    }
}

/// Bounds-checked forward reader over untrusted bytes: every read that
/// would run past the end is [`EvidenceError::MalformedQuote`].
#[derive(Debug)]
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Self { buf }
    }

    /// The next `n` bytes.
    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], EvidenceError> {
        if n > self.buf.len() {
            return Err(EvidenceError::MalformedQuote);
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    /// The next `N` bytes as an array.
    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N], EvidenceError> {
        Ok(read(self.take(N)?, 0))
    }

    /// Little-endian u16.
    pub(crate) fn u16(&mut self) -> Result<u16, EvidenceError> {
        Ok(u16::from_le_bytes(self.array()?))
    }

    /// Little-endian u32.
    pub(crate) fn u32(&mut self) -> Result<u32, EvidenceError> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    /// Bytes not read yet.
    pub(crate) fn remaining(&self) -> usize {
        self.buf.len()
    }
}
