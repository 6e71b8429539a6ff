//! RSI_HOST_CALL and its completion on the next REC_ENTER (cca-rmm-abi.md
//! §9).

use super::*;

/// Bytes of RsiHostCall: imm (u16 in an 8-byte slot) + gprs[31].
const HOST_CALL_LEN: u64 = 0x100;

impl<P: Platform> Rmm<'_, P> {
    /// RSI_HOST_CALL(addr): the RsiHostCall at `addr` (256-byte aligned,
    /// protected, mapped RAM) is read and the REC exits with
    /// RMI_EXIT_HOST_CALL, imm and gprs[0..30] copied out; the call stays
    /// pending until the next REC_ENTER copies enter.gprs back.
    pub(super) fn host_call(&self, ctx: &mut RecCtx, addr: u64) -> Next {
        if !addr.is_multiple_of(HOST_CALL_LEN) {
            ctx.regs.gprs[0] = status::ERROR_INPUT;
            return Next::Resume;
        }
        let off = ((addr % GRANULE_SIZE) / 8) as usize;
        let r = self.with_realm_page(ctx.rd, addr, |g| {
            let imm = g[off].load(Ordering::Relaxed) & 0xFFFF;
            let gprs: [u64; 31] = core::array::from_fn(|i| g[off + 1 + i].load(Ordering::Relaxed));
            (imm, gprs)
        });
        match r {
            Ok((imm, gprs)) => {
                ctx.host_call = Some(addr);
                let mut x = RecExit::with_reason(exit_reason::HOST_CALL);
                x.imm = imm;
                x.gprs = gprs;
                Next::Exit(x)
            }
            Err(e) => self.rsi_page_result(ctx, addr, Err(e)),
        }
    }

    /// Complete a pending host call on REC_ENTER: enter.gprs[0..30] into
    /// the structure, realm x0 = RSI_SUCCESS. If the page is no longer
    /// mapped (RIPAS RAM) the REC_ENTER reports a stage-2 fault exit
    /// without running the realm and the call stays pending; if it is no
    /// longer usable at all the realm gets RSI_ERROR_INPUT. Returns the
    /// walk level of the stage-2 fault to report, if any.
    pub(crate) fn host_call_complete(
        &self,
        ctx: &mut RecCtx,
        addr: u64,
        gprs: &[u64; 31],
    ) -> Option<i64> {
        let off = ((addr % GRANULE_SIZE) / 8) as usize;
        let r = self.with_realm_page(ctx.rd, addr, |g| {
            for (i, &v) in gprs.iter().enumerate() {
                g[off + 1 + i].store(v, Ordering::Relaxed);
            }
        });
        match r {
            Ok(()) => ctx.regs.gprs[0] = status::SUCCESS,
            Err(PageError::Input) => ctx.regs.gprs[0] = status::ERROR_INPUT,
            Err(PageError::Unmapped(level)) => return Some(level),
        }
        None
    }
}
