//! RSI_MEASUREMENT_READ / RSI_MEASUREMENT_EXTEND (cca-rmm-abi.md §9,
//! REMs per cca-attestation.md §3).

use super::*;

impl<P: Platform> Rmm<'_, P> {
    /// RSI_MEASUREMENT_READ: index 0 = RIM, 1..4 = REM; the 64-byte slot
    /// as eight little-endian words (SHA-256 zero-padded).
    pub(super) fn measurement_read(&self, rd: PhysAddr, index: u64) -> Option<[u64; 8]> {
        let word = match index {
            0 => RD_RIM_WORD,
            1..=4 => RD_REM_WORD + 8 * (index as usize - 1),
            _ => return None,
        };
        let (rd_g, _) = self.lock_rd(rd.0).ok()?;
        let m = self.platform.map_granule(rd_g.pa(), Slot::Rd);
        Some(core::array::from_fn(|i| {
            m[word + i].load(Ordering::Relaxed)
        }))
    }

    /// RSI_MEASUREMENT_EXTEND (cca-attestation.md §3): index 1..4, size <=
    /// 64; REM = H(REM[0..hashlen] || data[0..size]) with the data taken
    /// from x3..x10 little-endian, through the platform's SHA-2 backend,
    /// under the RD lock (extends from several RECs are serialised).
    pub(super) fn measurement_extend(
        &self,
        rd: PhysAddr,
        index: u64,
        size: u64,
        data: &[u64; 8],
    ) -> u64 {
        if !(1..=4).contains(&index) || size > 64 {
            return status::ERROR_INPUT;
        }
        let Ok((rd_g, realm)) = self.lock_rd(rd.0) else {
            return status::ERROR_INPUT;
        };
        let m = self.platform.map_granule(rd_g.pa(), Slot::Rd);
        let word = RD_REM_WORD + 8 * (index as usize - 1);
        let mut slot = [0u8; 64];
        crate::realm::load_bytes(&m, word, &mut slot);
        let Some(old) = Measurement::from_slot(realm.algo, &slot) else {
            return status::ERROR_INPUT; // never: the slot is only written here
        };
        let mut bytes = [0u8; 64];
        for (chunk, r) in bytes.chunks_exact_mut(8).zip(data) {
            chunk.copy_from_slice(&r.to_le_bytes());
        }
        let mut h = HasherWith::<P::Sha2>::new(realm.algo);
        h.update(old.as_bytes());
        h.update(&bytes[..size as usize]);
        crate::realm::store_bytes(&m, word, h.finalize().slot());
        status::SUCCESS
    }
}
