//! TDR page layout (shim-defined; the TDR is opaque to the VMM) and the
//! TD state checks shared by the leaves that map the TDCS (§5).
//!
//! | Word | Field |
//! |------|-------|
//! | 0 | HKID |
//! | 1 | LIFECYCLE_STATE ([`Lifecycle`]) |
//! | 2 | FATAL (0/1) |
//! | 3 | CHLDCNT: child 4 KiB pages (TDCX, SEPT, REG, TDVPR) |
//! | 4 | NUM_TDCX |
//! | 5 | package bitmap of TDH.MNG.KEY.CONFIG |
//! | 8..8+NUM_TDCX | TDCX page PAs |
//!
//! Every field is read and written only while the TDR's PAMT entry lock
//! is held (exclusive for writes).

use core::sync::atomic::Ordering;

use crate::platform::TdxPlatform;
use crate::status::{Code, OperandId, Status, TdxResult};
use crate::types::{Hpa, Lifecycle};

pub(crate) const W_HKID: usize = 0;
pub(crate) const W_LIFECYCLE: usize = 1;
pub(crate) const W_FATAL: usize = 2;
pub(crate) const W_CHLDCNT: usize = 3;
pub(crate) const W_NUM_TDCX: usize = 4;
pub(crate) const W_PKG_CONFIG: usize = 5;
pub(crate) const W_TDCX: usize = 8;

/// TDCS pages: the 1.5 minimum (§2 leaf 1: "≥ 6 TDCX pages before
/// MNG.INIT"); the shim also uses it as the maximum, and reports it as
/// TDCS_BASE_SIZE.
pub const NUM_TDCX: usize = 6;
/// Index of the TDCX page holding the Secure-EPT root (shim choice).
pub(crate) const SEPT_ROOT_TDCX: usize = 2;

pub(crate) fn read<P: TdxPlatform>(plat: &P, tdr: Hpa, w: usize) -> u64 {
    plat.map_page(tdr)[w].load(Ordering::Acquire)
}

pub(crate) fn write<P: TdxPlatform>(plat: &P, tdr: Hpa, w: usize, v: u64) {
    plat.map_page(tdr)[w].store(v, Ordering::Release);
}

/// The checks of a leaf that maps the TDCS (§5): not FATAL
/// (`TDX_TD_FATAL`), KEYS_CONFIGURED (`TDX_TD_KEYS_NOT_CONFIGURED`), all TDCX
/// pages present (`TDX_TDCS_NOT_ALLOCATED`). Returns the HKID.
pub(crate) fn check_tdcs_mappable<P: TdxPlatform>(plat: &P, tdr: Hpa) -> TdxResult<usize> {
    if read(plat, tdr, W_FATAL) != 0 {
        return Err(Code::TdFatal.into());
    }
    if Lifecycle::from_u64(read(plat, tdr, W_LIFECYCLE)) != Lifecycle::KeysConfigured {
        return Err(Code::TdKeysNotConfigured.into());
    }
    if read(plat, tdr, W_NUM_TDCX) < NUM_TDCX as u64 {
        return Err(Code::TdcsNotAllocated.into());
    }
    Ok(read(plat, tdr, W_HKID) as usize)
}

/// `TDX_OPERAND_BUSY` on the TDCS/OP_STATE lock.
pub(crate) const OP_STATE_BUSY: Status =
    Status::with_operand(Code::OperandBusy, OperandId::OpState);
