//! Vendor RSI: sealing keys (docs/sealing.md). Not part of RSI 1.0; the
//! FIDs sit in the SMCCC *vendor-specific hypervisor service* range (OEN 6,
//! 0xC600_0000..0xC600_FFFF, SMCCC DEN0028 §6), which the RMM is to its
//! realms, so they can never collide with a future RSI command.
//!
//! | FID | Inputs | Outputs |
//! |-----|--------|---------|
//! | `0xC600_0010` CMON_RSI_SEALING_VERSIONS | — | x0 SUCCESS, x1 minimum, x2 current key version |
//! | `0xC600_0011` CMON_RSI_SEALING_KEY | x1 flags (bit 0: 0 = bind to the RIM, 1 = bind to the RPV; others RES0), x2 key version | x0 status, x1..x4 the 256-bit key (bytes 0..31, each register little-endian) |
//!
//! Status of SEALING_KEY, checked in this order: flags with a RES0 bit set
//! or a version wider than 32 bits → RSI_ERROR_INPUT; a version above the
//! current or below the minimum → RSI_ERROR_INPUT; no sealing service on
//! this platform → RSI_ERROR_UNKNOWN. On error x1..x4 are zero.
//!
//! The key is derived by EL3 from the device root secret (the RMM never
//! holds it) with the identity read from the RD here: the RIM (hash length
//! bytes) or the 64-byte RPV. Nothing the host chooses after creation
//! enters it, and the RIM itself covers every host choice that shapes the
//! realm.

use super::*;
use crate::platform::{SealError, SealPolicy};

/// CMON_RSI_SEALING_VERSIONS.
pub const CMON_RSI_SEALING_VERSIONS: u64 = 0xC600_0010;
/// CMON_RSI_SEALING_KEY.
pub const CMON_RSI_SEALING_KEY: u64 = 0xC600_0011;
/// Flag bit 0 of CMON_RSI_SEALING_KEY: bind to the RPV instead of the RIM.
pub const SEAL_FLAG_RPV: u64 = 1;

impl<P: Platform> Rmm<'_, P> {
    /// CMON_RSI_SEALING_VERSIONS.
    pub(super) fn sealing_versions(&self, ctx: &mut RecCtx) {
        match self.platform.sealing_versions() {
            Some((min, cur)) => {
                ctx.regs.gprs[..3].copy_from_slice(&[status::SUCCESS, min.into(), cur.into()]);
            }
            None => ctx.regs.gprs[..3].copy_from_slice(&[status::ERROR_UNKNOWN, 0, 0]),
        }
    }

    /// CMON_RSI_SEALING_KEY(flags, version).
    pub(super) fn sealing_key(&self, ctx: &mut RecCtx, flags: u64, version: u64) {
        ctx.regs.gprs[1..5].fill(0);
        let (Ok(version), true) = (u32::try_from(version), flags & !SEAL_FLAG_RPV == 0) else {
            ctx.regs.gprs[0] = status::ERROR_INPUT;
            return;
        };
        let policy = if flags & SEAL_FLAG_RPV != 0 {
            SealPolicy::Rpv
        } else {
            SealPolicy::Rim
        };
        let Some((identity, len)) = self.seal_identity(ctx.rd, policy) else {
            ctx.regs.gprs[0] = status::ERROR_UNKNOWN;
            return;
        };
        match self.platform.sealing_key(policy, &identity[..len], version) {
            Ok(key) => {
                ctx.regs.gprs[0] = status::SUCCESS;
                for (r, c) in ctx.regs.gprs[1..5].iter_mut().zip(key.chunks_exact(8)) {
                    let mut w = [0u8; 8];
                    w.copy_from_slice(c);
                    *r = u64::from_le_bytes(w);
                }
            }
            Err(SealError::VersionTooNew | SealError::VersionRetired) => {
                ctx.regs.gprs[0] = status::ERROR_INPUT;
            }
            Err(SealError::NotSupported) => ctx.regs.gprs[0] = status::ERROR_UNKNOWN,
        }
    }

    /// The identity bytes of `policy` from the RD: the RIM (hash length) or
    /// the RPV (64 bytes).
    fn seal_identity(&self, rd: PhysAddr, policy: SealPolicy) -> Option<([u8; 64], usize)> {
        let (rd_g, realm) = self.lock_rd(rd.0).ok()?;
        let m = self.platform.map_granule(rd_g.pa(), Slot::Rd);
        let (word, len) = match policy {
            SealPolicy::Rim => (RD_RIM_WORD, realm.algo.digest_len()),
            SealPolicy::Rpv => (RD_RPV_WORD, 64),
        };
        let mut b = [0u8; 64];
        crate::realm::load_bytes(&m, word, &mut b);
        Some((b, len))
    }
}
