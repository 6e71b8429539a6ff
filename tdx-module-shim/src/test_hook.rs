//! Test hook (feature `test-hooks`, for the host tests only; not part of
//! the module's interface): hold one of the module's own locks the way
//! another LP holds it while it runs a leaf, so host tests can provoke
//! each leaf's contention statuses (`SYS_BUSY`, `OPERAND_BUSY` + OP_STATE /
//! KOT / RCX / WBCACHE). PAMT entry locks need no hook: they live in PAMT
//! memory, which a test sets directly.
//!
//! Taking a lock here is the same try-lock a leaf takes; nothing about a
//! leaf changes.

use core::sync::atomic::Ordering;

use crate::mem::TdcsGuard;
use crate::platform::TdxPlatform;
use crate::sys::GlobalGuard;
use crate::{MAX_HKIDS, Module, TryLock};

/// A module lock [`Module::hold_lock`] can take.
#[doc(hidden)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TestLock {
    /// The global lock (`SYS_BUSY`): exclusive as TDH.SYS.INIT, CONFIG and
    /// KEY.CONFIG take it, or shared as TDH.SYS.LP.INIT does.
    Sys {
        /// Exclusive (true) or shared.
        exclusive: bool,
    },
    /// The TDCS lock of the TD with this HKID: OP_STATE for the leaves
    /// that map the TDCS, KOT for TDH.MNG.CREATE.
    Tdcs {
        /// The TD's HKID.
        hkid: u16,
    },
    /// TDH.SYS.TDMR.INIT's lock of the published TDMR with this index.
    TdmrInit {
        /// Index in the TDMR table.
        index: usize,
    },
    /// TDH.PHYMEM.CACHE.WB's lock of this package.
    Wbcache {
        /// Package number.
        package: u32,
    },
}

enum Held<'a, P: TdxPlatform + 'a> {
    // Held for their `Drop`.
    Sys { _guard: GlobalGuard<'a> },
    Tdcs { _guard: TdcsGuard<'a, P> },
    TdmrInit(usize),
    Wbcache(u32),
}

/// A lock taken by [`Module::hold_lock`]; released when dropped.
#[doc(hidden)]
pub struct HeldLock<'a, P: TdxPlatform + 'a> {
    m: &'a Module<P>,
    held: Held<'a, P>,
}

impl<P: TdxPlatform> core::fmt::Debug for HeldLock<'_, P> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let which = match self.held {
            Held::Sys { .. } => "Sys",
            Held::Tdcs { .. } => "Tdcs",
            Held::TdmrInit(_) => "TdmrInit",
            Held::Wbcache(_) => "Wbcache",
        };
        f.debug_struct("HeldLock").field("lock", &which).finish()
    }
}

impl<P: TdxPlatform> Drop for HeldLock<'_, P> {
    fn drop(&mut self) {
        match self.held {
            // The guards release themselves.
            Held::Sys { .. } | Held::Tdcs { .. } => {}
            Held::TdmrInit(i) => self.m.tdmrs.unbusy(i),
            Held::Wbcache(p) => self.m.wbt_busy[p as usize].store(false, Ordering::Release),
        }
    }
}

impl<P: TdxPlatform> Module<P> {
    /// Test hook: take `which` as another LP would; `None` if it is
    /// already held (or names no TDMR / package).
    #[doc(hidden)]
    pub fn hold_lock(&self, which: TestLock) -> Option<HeldLock<'_, P>> {
        let held = match which {
            TestLock::Sys { exclusive } => Held::Sys {
                _guard: self.global.try_lock(exclusive).ok()?,
            },
            TestLock::Tdcs { hkid } => Held::Tdcs {
                _guard: self.tdcs[usize::from(hkid) % MAX_HKIDS].try_lock()?,
            },
            TestLock::TdmrInit { index } => {
                if index >= self.tdmrs.count() || !self.tdmrs.try_busy(index) {
                    return None;
                }
                Held::TdmrInit(index)
            }
            TestLock::Wbcache { package } => {
                let busy = self.wbt_busy.get(package as usize)?;
                busy.compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
                    .ok()?;
                Held::Wbcache(package)
            }
        };
        Some(HeldLock { m: self, held })
    }
}
