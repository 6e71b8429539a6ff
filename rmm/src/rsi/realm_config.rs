//! RSI_REALM_CONFIG (cca-rmm-abi.md §9).

use super::*;

impl<P: Platform> Rmm<'_, P> {
    /// RSI_REALM_CONFIG(ipa): writes RsiRealmConfig (ipa_width u64 @0x0,
    /// hash_algo @0x8 (RMI/RSI encoding 0 SHA-256, 1 SHA-512), rpv[64]
    /// @0x200) into the realm's granule at `ipa`, which must be 4 KiB
    /// aligned, protected and ASSIGNED RAM.
    pub(super) fn realm_config(&self, ctx: &mut RecCtx, ipa: u64) -> Next {
        if !ipa.is_multiple_of(GRANULE_SIZE) {
            ctx.regs.gprs[0] = status::ERROR_INPUT;
            return Next::Resume;
        }
        let config = {
            let Ok((rd_g, realm)) = self.lock_rd(ctx.rd.0) else {
                ctx.regs.gprs[0] = status::ERROR_INPUT;
                return Next::Resume;
            };
            let m = self.platform.map_granule(rd_g.pa(), Slot::Rd);
            let rpv: [u64; 8] =
                core::array::from_fn(|i| m[RD_RPV_WORD + i].load(Ordering::Relaxed));
            (
                u64::from(realm.s2sz),
                m[RD_HASH_WORD].load(Ordering::Relaxed),
                rpv,
            )
        };
        let r = self.with_realm_page(ctx.rd, ipa, |g| {
            g[0].store(config.0, Ordering::Relaxed);
            g[1].store(config.1, Ordering::Relaxed);
            for (i, &w) in config.2.iter().enumerate() {
                g[0x200 / 8 + i].store(w, Ordering::Relaxed);
            }
        });
        self.rsi_page_result(ctx, ipa, r.map(|()| status::SUCCESS))
    }
}
