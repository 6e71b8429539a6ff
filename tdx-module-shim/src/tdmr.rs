//! TDMR_INFO validation for TDH.SYS.CONFIG.
//!
//! The sheet (§2 TDMR_INFO) gives the layout and alignments; the check
//! order and error codes follow intel/tdx-module `tdh_sys_config.c`
//! (`check_and_set_tdmrs`): TDMR order/overlap (`NON_ORDERED_TDMR`), TDMR
//! base/size (`INVALID_TDMR`), reserved areas (`NON_ORDERED_RESERVED_IN_TDMR`,
//! `INVALID_RESERVED_IN_TDMR`), PAMT size/alignment (`INVALID_PAMT`), PAMT
//! overlap with other PAMTs or with any TDMR's non-reserved part
//! (`PAMT_OVERLAP`), PAMT in CMRs (`PAMT_OUTSIDE_CMRS`), non-reserved parts in
//! CMRs (`TDMR_OUTSIDE_CMRS`). Details carry `api_error_with_multiple_info`
//! bytes: [TDMR index, PAMT level or reserved index, other TDMR index, 0].

use crate::ModuleConfig;
use crate::pamt::{MAX_RSVD, PAMT_ENTRY_SIZE, PamtLevel, TdmrInfo, TdmrTable};
use crate::status::{Code, Status, TdxResult};
use crate::types::{GIB, PAGE_SIZE};

const LEVELS: [PamtLevel; 3] = [PamtLevel::P4k, PamtLevel::P2m, PamtLevel::P1g];

fn info(code: Code, a: usize, b: u8, c: usize) -> Status {
    Status::with_info(code, [a as u8, b, c as u8, 0])
}

fn overlap(a: u64, asz: u64, b: u64, bsz: u64) -> bool {
    asz != 0 && bsz != 0 && a < b + bsz && b < a + asz
}

/// Non-reserved ("available") sub-ranges of a TDMR whose reserved areas
/// are already validated.
fn for_each_available(t: &TdmrInfo, mut f: impl FnMut(u64, u64) -> bool) -> bool {
    let end = t.base + t.size;
    let mut start = t.base;
    for (off, sz) in t.rsvd_used() {
        let r = t.base + off;
        if r > start && !f(start, r) {
            return false;
        }
        start = r + sz;
    }
    if end > start && !f(start, end) {
        return false;
    }
    true
}

/// Validate entry `i` against the staged entries `0..i` of `table`
/// (already validated; read one at a time to keep the stack small).
pub fn check_tdmr(cfg: &ModuleConfig, table: &TdmrTable, i: usize, t: &TdmrInfo) -> TdxResult<()> {
    let prev = |j: usize| table.get(j);
    let pa_limit = 1u64 << cfg.hkid_shift();
    let Some(end) = t.base.checked_add(t.size) else {
        return Err(info(Code::InvalidTdmr, i, 0, 0));
    };
    if let Some(p) = i.checked_sub(1).map(prev)
        && (t.base < p.base || t.base < p.base + p.size)
    {
        return Err(info(Code::NonOrderedTdmr, i, 0, 0));
    }
    if !t.base.is_multiple_of(GIB) || !t.size.is_multiple_of(GIB) || t.size == 0 || end > pa_limit {
        return Err(info(Code::InvalidTdmr, i, 0, 0));
    }
    check_rsvd(t, i)?;
    check_pamt(cfg, &prev, i, t)?;
    let mut ok = true;
    for_each_available(t, |s, e| {
        ok = cfg.in_cmr(s, e);
        ok
    });
    if !ok {
        return Err(info(Code::TdmrOutsideCmrs, i, 0, 0));
    }
    Ok(())
}

fn check_rsvd(t: &TdmrInfo, i: usize) -> TdxResult<()> {
    let mut prev: Option<(u64, u64)> = None;
    for j in 0..MAX_RSVD {
        let (off, sz) = t.rsvd[j];
        if sz == 0 {
            if j + 1 < MAX_RSVD && t.rsvd[j + 1].1 != 0 {
                return Err(info(Code::NonOrderedReservedInTdmr, i, j as u8, 0));
            }
            continue;
        }
        let bad = info(Code::InvalidReservedInTdmr, i, j as u8, 0);
        let Some(rel_end) = off.checked_add(sz) else {
            return Err(bad);
        };
        if let Some((po, ps)) = prev
            && (off < po || off < po + ps)
        {
            return Err(info(Code::NonOrderedReservedInTdmr, i, j as u8, 0));
        }
        if off % PAGE_SIZE != 0 || sz % PAGE_SIZE != 0 || rel_end > t.size {
            return Err(bad);
        }
        prev = Some((off, sz));
    }
    Ok(())
}

fn check_pamt(
    cfg: &ModuleConfig,
    prev: &dyn Fn(usize) -> TdmrInfo,
    i: usize,
    t: &TdmrInfo,
) -> TdxResult<()> {
    let pa_limit = 1u64 << cfg.hkid_shift();
    for (k, lvl) in LEVELS.iter().enumerate() {
        let (b, s) = t.pamt[k];
        let required = (t.size / lvl.granule()) * PAMT_ENTRY_SIZE;
        let ok = b.checked_add(s).is_some_and(|e| e <= pa_limit)
            && b % PAGE_SIZE == 0
            && s % PAGE_SIZE == 0
            && s >= required;
        if !ok {
            return Err(info(Code::InvalidPamt, i, *lvl as u8, 0));
        }
    }
    // PAMTs must not overlap other PAMTs (earlier TDMRs, then each other).
    for (k, lvl) in LEVELS.iter().enumerate() {
        let (b, s) = t.pamt[k];
        for j in 0..i {
            let p = prev(j);
            if p.pamt.iter().any(|&(pb, ps)| overlap(b, s, pb, ps)) {
                return Err(info(Code::PamtOverlap, i, *lvl as u8, j));
            }
        }
        for (k2, _) in LEVELS.iter().enumerate().skip(k + 1) {
            if overlap(b, s, t.pamt[k2].0, t.pamt[k2].1) {
                return Err(info(Code::PamtOverlap, i, *lvl as u8, i));
            }
        }
    }
    // PAMTs may lie only in reserved parts of any TDMR.
    for j in 0..=i {
        let other = if j < i { prev(j) } else { *t };
        let other = &other;
        for (k, lvl) in LEVELS.iter().enumerate() {
            let (b, s) = t.pamt[k];
            if !for_each_available(other, |as_, ae| !overlap(b, s, as_, ae - as_)) {
                return Err(info(Code::PamtOverlap, i, *lvl as u8, j));
            }
            if j < i {
                let (pb, ps) = other.pamt[k];
                if !for_each_available(t, |as_, ae| !overlap(pb, ps, as_, ae - as_)) {
                    return Err(info(Code::PamtOverlap, j, *lvl as u8, i));
                }
            }
        }
    }
    for (k, lvl) in LEVELS.iter().enumerate() {
        let (b, s) = t.pamt[k];
        if !cfg.in_cmr(b, b + s) {
            return Err(info(Code::PamtOutsideCmrs, i, *lvl as u8, 0));
        }
    }
    Ok(())
}
