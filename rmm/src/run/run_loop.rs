//! The REC_ENTER run: complete what the last exit left pending, run the
//! realm until an exit goes to the host, store the REC context, and write
//! RecRun.exit once.

use crate::platform::{GicState, Platform, Stage2};
use crate::realm::RealmInfo;
use crate::rec::SysReg;
use crate::rmi::Rmm;
use crate::timer::TimerMask;
use crate::types::{PhysAddr, RmiStatus};

use super::context::{LastExit, RecCtx};
use super::exit::{Next, access_bytes, access_mask};
use super::record::{EXIT_OFFSET, RecEnter, RecExit, enter_flags, esr, exit_reason};

impl<P: Platform> Rmm<'_, P> {
    /// Complete the last exit, run, store the REC, report the exit.
    pub(super) fn run_rec(
        &self,
        ctx: &mut RecCtx,
        enter: &RecEnter,
        realm: &RealmInfo,
        run_pa: PhysAddr,
    ) -> RmiStatus {
        ctx.gic_hcr = enter.gicv3_hcr;
        ctx.gic_lrs = enter.gicv3_lrs;
        let mut exit = match self.complete_last_exit(ctx, enter, realm) {
            Some(exit) => exit,
            None => self.run_loop(ctx, realm, enter.flags),
        };
        // Fields written on every exit (§8).
        exit.gicv3_hcr = ctx.gic_hcr;
        exit.gicv3_lrs = ctx.gic_lrs;
        exit.gicv3_misr = ctx.gic_misr;
        exit.gicv3_vmcr = ctx.gic_vmcr;
        exit.cntp_ctl = ctx.sysreg(SysReg::CntpCtlEl0);
        exit.cntp_cval = ctx.sysreg(SysReg::CntpCvalEl0);
        exit.cntv_ctl = ctx.sysreg(SysReg::CntvCtlEl0);
        exit.cntv_cval = ctx.sysreg(SysReg::CntvCvalEl0);
        ctx.last.reason = exit.reason + 1;
        // REC state first, so a faulting exit write loses nothing.
        ctx.store(&self.platform);
        let out = exit.to_words();
        match self
            .platform
            .write_ns(PhysAddr(run_pa.0 + EXIT_OFFSET), bytemuck::bytes_of(&out))
        {
            Ok(()) => RmiStatus::Success,
            Err(_) => RmiStatus::ErrorInput,
        }
    }

    /// Act on RecRun.enter for the previous exit: host-call results,
    /// EMUL_MMIO, INJECT_SEA, the RIPAS change (RIPAS_RESPONSE). Returns an exit to report without running the
    /// realm (a host-call structure that is no longer mapped).
    fn complete_last_exit(
        &self,
        ctx: &mut RecCtx,
        enter: &RecEnter,
        realm: &RealmInfo,
    ) -> Option<RecExit> {
        if let Some(ipa) = ctx.host_call {
            match self.host_call_complete(ctx, ipa, &enter.gprs) {
                None => ctx.host_call = None,
                Some(level) => return Some(Self::s2_fault_exit(ipa, level)),
            }
        }
        let last = ctx.last;
        ctx.last = LastExit {
            reason: last.reason,
            ..LastExit::default()
        };
        if enter.flags & enter_flags::INJECT_SEA != 0 {
            // Checked at entry: the last exit was an unprotected data abort.
            ctx.inject_sea(false, last.far);
        } else if enter.flags & enter_flags::EMUL_MMIO != 0 {
            // Checked at entry: the last exit was an emulatable abort.
            if last.esr & esr::WNR == 0 {
                let rt = ((last.esr >> esr::SRT_SHIFT) & 0x1F) as usize;
                let mut v = enter.gprs[0] & access_mask(last.esr);
                let bits = 8 * access_bytes(last.esr);
                if last.esr & esr::SSE != 0 && bits < 64 {
                    let shift = 64 - bits;
                    v = (((v << shift) as i64) >> shift) as u64;
                }
                if last.esr & esr::SF == 0 {
                    v &= 0xFFFF_FFFF;
                }
                if rt < 31 {
                    ctx.regs.gprs[rt] = v;
                }
            }
            ctx.regs.pc = ctx.regs.pc.wrapping_add(4);
        }
        Self::complete_ripas_change(ctx, enter.flags & enter_flags::RIPAS_RESPONSE != 0);
        let _ = realm;
        None
    }

    /// Run until an exit that goes to the host.
    fn run_loop(&self, ctx: &mut RecCtx, realm: &RealmInfo, flags: u64) -> RecExit {
        // The timer output levels the host was told at the last exit.
        let reported = TimerMask::of(&ctx.sysregs);
        let mut s2 = Stage2 {
            vmid: realm.vmid,
            rtt_root: PhysAddr(realm.rtt_base),
            s2sz: realm.s2sz as u8,
            start_level: realm.start_level as i8,
            vmpidr: ctx.vmpidr(),
            trap_wfi: flags & enter_flags::TRAP_WFI != 0,
            trap_wfe: flags & enter_flags::TRAP_WFE != 0,
            timer_mask: reported,
        };
        loop {
            // Before every entry: if a timer's output changed since the host
            // last saw it, tell the host (RMI_EXIT_IRQ) instead of running;
            // otherwise mask what is asserted (timer.rs).
            s2.timer_mask = TimerMask::refresh(&mut ctx.sysregs, self.platform.counter());
            if s2.timer_mask != reported {
                return RecExit::with_reason(exit_reason::IRQ);
            }
            let mut gic = GicState {
                hcr: ctx.gic_hcr,
                lrs: ctx.gic_lrs,
                vmcr: ctx.gic_vmcr,
                aprs: ctx.gic_aprs,
                misr: 0,
            };
            let e = self.platform.run_realm(
                &mut ctx.regs,
                &mut ctx.sysregs,
                &mut ctx.fp,
                &mut gic,
                &s2,
            );
            ctx.gic_lrs = gic.lrs;
            ctx.gic_vmcr = gic.vmcr;
            ctx.gic_aprs = gic.aprs;
            ctx.gic_misr = gic.misr;
            if let Next::Exit(exit) = self.handle_exit(ctx, realm, &e) {
                return exit;
            }
        }
    }
}
