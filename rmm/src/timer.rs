//! The realm's EL1 timers (virtual and physical).
//!
//! A realm owns the EL1 virtual and physical timers outright: R-EL2 lets
//! R-EL1 use them without traps (CNTHCTL_EL2.EL1PCEN/EL1PCTEN), switches
//! their registers with the rest of the EL1 context, and applies no offset
//! (CNTVOFF_EL2 = 0, no CNTPOFF), so both compare against the physical count.
//! The host cannot see or touch them: it learns their state from
//! RmiRecExit.cnt{v,p}_{ctl,cval}, written on every exit (cca-rmm-abi.md §8),
//! and it delivers the timer interrupt to the realm as a virtual interrupt
//! through the GIC list registers.
//!
//! Two rules keep that loop live without an interrupt storm (the model TF-RMM
//! follows for the RMM 1.0 rules on Realm timer state):
//! - While a timer's output is asserted (ENABLE, ISTATUS, not IMASK) its
//!   physical interrupt is masked at EL2 (CNTHCTL_EL2.CNTVMASK/CNTPMASK,
//!   FEAT_RME) whenever the REC runs, so it does not exit the realm again and
//!   again before the host has injected the virtual interrupt. When the
//!   output is deasserted the mask is lifted so the next expiry exits.
//! - Before every entry into the realm, if either timer's output differs from
//!   what the host was last told, the REC exits with RMI_EXIT_IRQ instead of
//!   running, so the host always acts on the current level.

use crate::platform::RealmSysregs;
use crate::rec::SysReg;

/// CNT{V,P}_CTL_EL0 bits (Arm ARM D24.8).
pub mod ctl {
    /// The timer is enabled.
    pub const ENABLE: u64 = 1 << 0;
    /// The timer's interrupt is masked by the timer itself.
    pub const IMASK: u64 = 1 << 1;
    /// The timer condition is met (read-only).
    pub const ISTATUS: u64 = 1 << 2;
}

/// Which EL1 timer outputs are asserted, i.e. which physical timer
/// interrupts R-EL2 masks while the REC runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TimerMask {
    /// EL1 virtual timer (CNTHCTL_EL2.CNTVMASK).
    pub virt: bool,
    /// EL1 physical timer (CNTHCTL_EL2.CNTPMASK).
    pub phys: bool,
}

/// Output level of a timer from its control register as last read.
pub const fn asserted(ctl: u64) -> bool {
    ctl & (ctl::ENABLE | ctl::IMASK | ctl::ISTATUS) == ctl::ENABLE | ctl::ISTATUS
}

/// The control register as the hardware would show it at count `now`:
/// ISTATUS is set exactly when the timer is enabled and its condition
/// (count >= CVAL, Arm ARM D12.8.4) is met.
pub const fn ctl_at(ctl: u64, cval: u64, now: u64) -> u64 {
    if ctl & ctl::ENABLE != 0 && now >= cval {
        ctl | ctl::ISTATUS
    } else {
        ctl & !ctl::ISTATUS
    }
}

impl TimerMask {
    /// Output levels recorded in the saved EL1 context.
    pub fn of(sysregs: &RealmSysregs) -> Self {
        TimerMask {
            virt: asserted(sysregs[SysReg::CntvCtlEl0 as usize]),
            phys: asserted(sysregs[SysReg::CntpCtlEl0 as usize]),
        }
    }

    /// Bring ISTATUS of both saved timers up to count `now` and return the
    /// resulting output levels. Neither timer has an offset (module docs).
    pub fn refresh(sysregs: &mut RealmSysregs, now: u64) -> Self {
        for (c, v) in [
            (SysReg::CntvCtlEl0, SysReg::CntvCvalEl0),
            (SysReg::CntpCtlEl0, SysReg::CntpCvalEl0),
        ] {
            sysregs[c as usize] = ctl_at(sysregs[c as usize], sysregs[v as usize], now);
        }
        Self::of(sysregs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_level() {
        assert!(asserted(ctl::ENABLE | ctl::ISTATUS));
        assert!(!asserted(ctl::ENABLE | ctl::ISTATUS | ctl::IMASK));
        assert!(!asserted(ctl::ISTATUS));
        assert!(!asserted(ctl::ENABLE));
    }

    #[test]
    fn istatus_follows_the_count() {
        assert_eq!(ctl_at(ctl::ENABLE, 100, 99), ctl::ENABLE);
        assert_eq!(ctl_at(ctl::ENABLE, 100, 100), ctl::ENABLE | ctl::ISTATUS);
        assert_eq!(ctl_at(ctl::ENABLE | ctl::ISTATUS, 100, 5), ctl::ENABLE);
        // A disabled timer never reports its condition.
        assert_eq!(ctl_at(ctl::ISTATUS, 0, 5), 0);
        // IMASK does not hide ISTATUS, only the output.
        let c = ctl_at(ctl::ENABLE | ctl::IMASK, 1, 2);
        assert_eq!(c, ctl::ENABLE | ctl::IMASK | ctl::ISTATUS);
        assert!(!asserted(c));
    }
}
