//! The VMM's memory service for a running TD (td_vmm.rs), as KVM + QEMU
//! provide it, driven through the ring-3 harness with real SEAMCALLs:
//!
//! - **Shared EPT.** The VMM's own 4-level EPT for the TD's shared GPAs,
//!   in its memory, written by the harness; its root goes into the TD
//!   VMCS SHARED_EPT_POINTER with TDH.VP.WR before the first entry.
//! - **EPT violation** (exit reason 48, GPA in R8): a private GPA gets a
//!   page with TDH.MEM.PAGE.AUG (the TD's TDG.MEM.PAGE.ACCEPT then runs
//!   again and accepts it: lazy accept); a shared GPA gets a zeroed VMM
//!   page in the shared EPT.
//! - **GHCI MapGPA** (R11 = 0x10001): to shared, the private page (if
//!   any) goes with TDH.MEM.RANGE.BLOCK, TDH.MEM.TRACK and
//!   TDH.MEM.PAGE.REMOVE (retried while another vCPU still runs in the
//!   previous TLB epoch), and a VMM page is mapped shared; to private,
//!   the shared mapping goes (the private page comes with the TD's next
//!   ACCEPT).
//! - **GHCI GetQuote** (R11 = 0x10002): the buffer in shared memory
//!   (tdx-module-abi.md §9: version, status, in_len, out_len, data) holds
//!   the TD's TDREPORT; the shim's quoting service turns it into a TD
//!   Quote v4, which goes back into the buffer with status SUCCESS, or
//!   status ERROR if the report does not verify. Completion is
//!   synchronous: the status is final when the TD resumes.
//!
//! Every byte of VMM memory is read and written by the harness at CPL 3
//! (`Op::Load` / `Op::Store` / `Op::Fill`), so the VMM never reaches a page
//! the module has isolated.

extern crate alloc;

use alloc::vec::Vec;

use tdx_module_shim::{Code, LeafId};

use qemu_q35::CpuIndex;
use qemu_q35::paging::UserSpace;

use crate::harness::{self, Call, EXIT_NO_FAULT, MAX_CALLS, NOT_RUN, Probe};
use crate::st0;
use crate::td_build::call;
use crate::vmm::PAGE;

/// GHCI TDG.VP.VMCALL status (R10; tdx-module-abi.md §9).
pub mod vmcall_status {
    pub const SUCCESS: u64 = 0;
    pub const INVALID_OPERAND: u64 = 0x8000_0000_0000_0000;
    pub const ALIGN_ERROR: u64 = 0x8000_0000_0000_0002;
}
/// GetQuote buffer status values (§9).
const QUOTE_SUCCESS: u64 = 0;
const QUOTE_ERROR: u64 = 0x8000_0000_0000_0000;
const QUOTE_HEADER: usize = 24;
const TDREPORT_LEN: usize = 1024;

/// The TD's GPA window (td.rs): private pages live in [WINDOW, 4 GiB).
const WINDOW: u64 = qemu_q35::guest_space::WINDOW;
const WINDOW_END: u64 = 1 << 32;
/// GPAW 48's shared bit.
pub const SHARED: u64 = 1 << 47;
/// EPT entry bits (SDM Vol. 3C §29.3.2): RWX, write-back memory type.
const EPT_RWX: u64 = 7;
const EPT_WB: u64 = 6 << 3;
/// Attempts at REMOVE while another vCPU holds the previous TLB epoch.
const TRACK_RETRIES: u32 = 100_000;
const FREE_SLOTS: usize = 4;
const EPTP_ADDR: u64 = 0x000F_FFFF_FFFF_F000;
/// The largest GetQuote buffer the VMM takes, in pages.
pub const MAX_QUOTE_PAGES: usize = 4;
const RECORDS: usize = 8;

/// A GPA and the page behind it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mapping {
    pub gpa: u64,
    pub hpa: u64,
}

/// What the service did (for the run's checks).
#[derive(Debug, Default)]
pub struct MemStats {
    pub ept_violations: u64,
    pub augs: u64,
    pub removes: u64,
    pub track_retries: u64,
    pub shared_maps: u64,
    pub map_gpa: u64,
    /// The last TDREPORT and quote GetQuote saw and made.
    pub report: Option<[u8; TDREPORT_LEN]>,
    pub quote: Option<Vec<u8>>,
    /// The quoting service's TSC ticks.
    pub quote_ticks: u64,
}

/// The VMM's memory for one TD.
pub struct TdMem {
    tdr: u64,
    /// Shared EPT tables: PML4, PDPT, PD, PT (VMM pages).
    ept: [u64; 4],
    free: [Option<u64>; FREE_SLOTS],
    /// Private pages the VMM AUGed (to reclaim at teardown).
    private: [Option<Mapping>; RECORDS],
    /// Shared GPAs the VMM mapped.
    shared: [Option<Mapping>; RECORDS],
    pub stats: MemStats,
}

/// One SEAMCALL from the harness; its OUT (RAX first), or `None` if the
/// harness faulted.
fn seam(cpu: CpuIndex, space: UserSpace, inp: [u64; 5]) -> Option<[u64; 7]> {
    let (exit, b) = harness::run(space, cpu, &[Call::seamcall(inp)], Probe::None, 0);
    (exit == EXIT_NO_FAULT && b.calls[0].out[0] != NOT_RUN).then_some(b.calls[0].out)
}

/// Harness ops in runs of at most [`MAX_CALLS`]; every op's OUT[0].
fn ops(cpu: CpuIndex, space: UserSpace, calls: &[Call], out: &mut [u64]) -> bool {
    for (chunk, dst) in calls.chunks(MAX_CALLS).zip(out.chunks_mut(MAX_CALLS)) {
        let (exit, b) = harness::run(space, cpu, chunk, Probe::None, 0);
        if exit != EXIT_NO_FAULT {
            return false;
        }
        for (d, c) in dst.iter_mut().zip(&b.calls) {
            *d = c.out[0];
        }
    }
    true
}

fn store_words(cpu: CpuIndex, space: UserSpace, addr: u64, words: &[u64]) -> bool {
    let mut calls = [Call::default(); MAX_CALLS];
    let mut out = [0u64; MAX_CALLS];
    words.chunks(MAX_CALLS).enumerate().all(|(k, chunk)| {
        let base = addr + (8 * MAX_CALLS * k) as u64;
        for (i, (c, &w)) in calls.iter_mut().zip(chunk).enumerate() {
            *c = Call::store(base + 8 * i as u64, w);
        }
        ops(cpu, space, &calls[..chunk.len()], &mut out)
    })
}

fn load_words(cpu: CpuIndex, space: UserSpace, addr: u64, words: &mut [u64]) -> bool {
    let mut calls = [Call::default(); MAX_CALLS];
    words.chunks_mut(MAX_CALLS).enumerate().all(|(k, chunk)| {
        let base = addr + (8 * MAX_CALLS * k) as u64;
        for (i, c) in calls.iter_mut().take(chunk.len()).enumerate() {
            *c = Call::load(base + 8 * i as u64);
        }
        let n = chunk.len();
        ops(cpu, space, &calls[..n], chunk)
    })
}

fn zero_page(cpu: CpuIndex, space: UserSpace, page: u64) -> bool {
    let (exit, _) = harness::run(space, cpu, &[Call::fill(page, PAGE / 8, 0)], Probe::None, 0);
    exit == EXIT_NO_FAULT
}

fn in_window(gpa: u64) -> bool {
    (WINDOW..WINDOW_END).contains(&gpa)
}

impl TdMem {
    /// The service for TD `tdr`, with VMM pages for its shared EPT and a
    /// few more to hand out.
    pub fn new(tdr: u64, ept: [u64; 4], pages: &[u64]) -> Self {
        let mut free = [None; FREE_SLOTS];
        for (f, &p) in free.iter_mut().zip(pages) {
            *f = Some(p);
        }
        TdMem {
            tdr,
            ept,
            free,
            private: [None; RECORDS],
            shared: [None; RECORDS],
            stats: MemStats::default(),
        }
    }

    /// Build the (empty) shared EPT down to the PT of the shared window
    /// and point vCPU `tdvpr`'s SHARED_EPT_POINTER at it; TDH.VP.WR's
    /// status.
    pub fn install(&self, cpu: CpuIndex, space: UserSpace, tdvpr: u64, field: u64) -> u64 {
        let base = SHARED | WINDOW;
        let mut calls = [Call::default(); 7];
        for (c, &t) in calls.iter_mut().zip(&self.ept) {
            *c = Call::fill(t, PAGE / 8, 0);
        }
        calls[4] = Call::store(
            self.ept[0] + 8 * ((base >> 39) & 511),
            self.ept[1] | EPT_RWX,
        );
        calls[5] = Call::store(
            self.ept[1] + 8 * ((base >> 30) & 511),
            self.ept[2] | EPT_RWX,
        );
        calls[6] = Call::store(
            self.ept[2] + 8 * ((base >> 21) & 511),
            self.ept[3] | EPT_RWX,
        );
        let mut out = [0u64; 7];
        if !ops(cpu, space, &calls, &mut out) {
            return u64::MAX;
        }
        // Only bits 51:12 are the VMM's (the field's write mask).
        let wr = call(LeafId::VpWr, tdvpr, field, self.ept[0], EPTP_ADDR);
        seam(cpu, space, wr).map_or(u64::MAX, |o| o[0])
    }

    /// The private pages the VMM added with PAGE.AUG that the TD still
    /// holds (for its teardown).
    pub fn augmented(&self) -> impl Iterator<Item = Mapping> + '_ {
        self.private.iter().flatten().copied()
    }

    /// Write `value` at byte `offset` of the shared page the VMM mapped at
    /// `shared_gpa`; false if there is none.
    pub fn write_shared(
        &self,
        cpu: CpuIndex,
        space: UserSpace,
        shared_gpa: u64,
        offset: u64,
        value: u64,
    ) -> bool {
        let page = self.shared.iter().flatten().find(|m| m.gpa == shared_gpa);
        page.is_some_and(|m| offset < PAGE && store_words(cpu, space, m.hpa + offset, &[value]))
    }

    fn take_free(&mut self) -> Option<u64> {
        self.free.iter_mut().find_map(Option::take)
    }

    fn give_back(&mut self, page: u64) {
        if let Some(slot) = self.free.iter_mut().find(|f| f.is_none()) {
            *slot = Some(page);
        }
    }

    fn pt_entry_addr(&self, shared_gpa: u64) -> u64 {
        self.ept[3] + 8 * ((shared_gpa >> 12) & 511)
    }

    fn remember(list: &mut [Option<Mapping>; RECORDS], m: Mapping) -> bool {
        match list.iter_mut().find(|r| r.is_none()) {
            Some(slot) => {
                *slot = Some(m);
                true
            }
            None => false,
        }
    }

    fn forget(list: &mut [Option<Mapping>; RECORDS], gpa: u64) -> Option<u64> {
        let slot = list.iter_mut().find(|r| r.is_some_and(|m| m.gpa == gpa))?;
        slot.take().map(|m| m.hpa)
    }

    /// Map a zeroed VMM page at `shared_gpa` in the shared EPT.
    fn map_shared(&mut self, cpu: CpuIndex, space: UserSpace, shared_gpa: u64) -> bool {
        if self.shared.iter().flatten().any(|m| m.gpa == shared_gpa) {
            return true;
        }
        let Some(page) = self.take_free() else {
            return false;
        };
        let entry = page | EPT_RWX | EPT_WB;
        let ok = zero_page(cpu, space, page)
            && store_words(cpu, space, self.pt_entry_addr(shared_gpa), &[entry])
            && Self::remember(
                &mut self.shared,
                Mapping {
                    gpa: shared_gpa,
                    hpa: page,
                },
            );
        if ok {
            self.stats.shared_maps += 1;
        } else {
            self.give_back(page);
        }
        ok
    }

    /// An EPT-violation exit at `gpa`: map something there so that the
    /// TD's access (or its ACCEPT) succeeds when it runs again.
    pub fn ept_violation(&mut self, cpu: CpuIndex, space: UserSpace, gpa: u64) -> bool {
        self.stats.ept_violations += 1;
        let page_gpa = gpa & !(PAGE - 1);
        if page_gpa & SHARED != 0 {
            return in_window(page_gpa & !SHARED) && self.map_shared(cpu, space, page_gpa);
        }
        if !in_window(page_gpa) {
            return false;
        }
        let Some(page) = self.take_free() else {
            return false;
        };
        let aug = call(LeafId::MemPageAug, page_gpa, self.tdr, page, 0);
        let st = seam(cpu, space, aug).map(|o| o[0]);
        if st != Some(0) {
            qemu_q35::println!("vmm: TDH.MEM.PAGE.AUG of GPA {page_gpa:#x} failed: {st:#x?}");
            self.give_back(page);
            return false;
        }
        self.stats.augs += 1;
        Self::remember(
            &mut self.private,
            Mapping {
                gpa: page_gpa,
                hpa: page,
            },
        )
    }

    /// Take the private page at `gpa` away from the TD, if it has one:
    /// BLOCK, TRACK, REMOVE (the page comes back to the VMM).
    fn remove_private(&mut self, cpu: CpuIndex, space: UserSpace, gpa: u64) -> bool {
        let block = call(LeafId::MemRangeBlock, gpa, self.tdr, 0, 0);
        match seam(cpu, space, block).map(|o| o[0]) {
            Some(0) => {}
            // Nothing mapped there: nothing to remove.
            Some(s) if s >> 32 == st0(Code::EptEntryStateIncorrect) >> 32 => return true,
            Some(s) if s >> 32 == st0(Code::EptWalkFailed) >> 32 => return true,
            _ => return false,
        }
        for _ in 0..TRACK_RETRIES {
            // TRACK may find a vCPU still in the previous epoch, and
            // REMOVE then says tracking is not done: the other vCPU exits
            // within a preemption quantum (KVM would kick it with an IPI).
            let _ = seam(cpu, space, call(LeafId::MemTrack, self.tdr, 0, 0, 0));
            let remove = call(LeafId::MemPageRemove, gpa, self.tdr, 0, 0);
            match seam(cpu, space, remove) {
                Some(o) if o[0] == 0 => {
                    self.stats.removes += 1;
                    let _ = Self::forget(&mut self.private, gpa);
                    self.give_back(o[1]);
                    return true;
                }
                Some(_) => self.stats.track_retries += 1,
                None => return false,
            }
        }
        false
    }

    /// GHCI MapGPA (R12 = start, R13 = size): R10 status, R11 = 0.
    pub fn map_gpa(&mut self, cpu: CpuIndex, space: UserSpace, start: u64, size: u64) -> u64 {
        use vmcall_status::*;
        self.stats.map_gpa += 1;
        if !start.is_multiple_of(PAGE) || !size.is_multiple_of(PAGE) {
            return ALIGN_ERROR;
        }
        let private_start = start & !SHARED;
        let Some(end) = private_start.checked_add(size) else {
            return INVALID_OPERAND;
        };
        if size == 0 || !in_window(private_start) || end > WINDOW_END {
            return INVALID_OPERAND;
        }
        for gpa in (private_start..end).step_by(PAGE as usize) {
            let ok = if start & SHARED != 0 {
                self.remove_private(cpu, space, gpa) && self.map_shared(cpu, space, gpa | SHARED)
            } else {
                self.unmap_shared(cpu, space, gpa | SHARED)
            };
            if !ok {
                return INVALID_OPERAND;
            }
        }
        SUCCESS
    }

    fn unmap_shared(&mut self, cpu: CpuIndex, space: UserSpace, shared_gpa: u64) -> bool {
        let Some(page) = Self::forget(&mut self.shared, shared_gpa) else {
            return true;
        };
        let ok = store_words(cpu, space, self.pt_entry_addr(shared_gpa), &[0]);
        self.give_back(page);
        ok
    }

    /// GHCI GetQuote (R12 = shared GPA of the buffer, R13 = its size, a
    /// multiple of 4 KiB, at most [`MAX_QUOTE_PAGES`] pages; Linux's
    /// tdx-guest driver uses 8 KiB): R10 status. Every page of the buffer
    /// must be a shared page the VMM mapped (they need not be contiguous
    /// in its memory). The buffer gets the quote and its status, or status
    /// ERROR if the report does not verify or the quote does not fit.
    pub fn get_quote(&mut self, cpu: CpuIndex, space: UserSpace, gpa: u64, size: u64) -> u64 {
        use vmcall_status::*;
        let pages = size / PAGE;
        if !size.is_multiple_of(PAGE) || pages == 0 || pages > MAX_QUOTE_PAGES as u64 {
            return INVALID_OPERAND;
        }
        let mut hpas = [0u64; MAX_QUOTE_PAGES];
        for (k, h) in hpas.iter_mut().take(pages as usize).enumerate() {
            let page_gpa = gpa.wrapping_add(k as u64 * PAGE);
            match self.shared.iter().flatten().find(|m| m.gpa == page_gpa) {
                Some(m) => *h = m.hpa,
                None => return INVALID_OPERAND,
            }
        }
        let hpas = &hpas[..pages as usize];
        // The header and the TDREPORT lie in the first page.
        let mut words = [0u64; (QUOTE_HEADER + TDREPORT_LEN) / 8];
        if !load_words(cpu, space, hpas[0], &mut words) {
            return INVALID_OPERAND;
        }
        let (version, in_len) = (words[0], words[2] & 0xFFFF_FFFF);
        let mut report = [0u8; TDREPORT_LEN];
        for (r, w) in report.chunks_exact_mut(8).zip(&words[3..]) {
            r.copy_from_slice(&w.to_le_bytes());
        }
        let t0 = crate::arch::rdtsc();
        let quote = if version == 1 && in_len == TDREPORT_LEN as u64 {
            crate::quote::quote(&report).ok()
        } else {
            None
        };
        self.stats.quote_ticks = crate::arch::rdtsc().wrapping_sub(t0);
        self.stats.report = Some(report);
        let fits = quote
            .as_ref()
            .filter(|q| QUOTE_HEADER + q.len() <= size as usize);
        // From byte 8 of the buffer: status, in_len | out_len << 32, data.
        let mut out = Vec::new();
        match fits {
            Some(q) => {
                out.push(QUOTE_SUCCESS);
                out.push(in_len | (q.len() as u64) << 32);
                for c in q.chunks(8) {
                    let mut w = [0u8; 8];
                    w[..c.len()].copy_from_slice(c);
                    out.push(u64::from_le_bytes(w));
                }
            }
            None => {
                out.push(QUOTE_ERROR);
                out.push(in_len);
            }
        }
        let calls: Vec<Call> = out
            .iter()
            .enumerate()
            .map(|(i, &w)| {
                let at = 8 + 8 * i as u64;
                Call::store(hpas[(at / PAGE) as usize] + at % PAGE, w)
            })
            .collect();
        let mut done = alloc::vec![0u64; calls.len()];
        if !ops(cpu, space, &calls, &mut done) {
            return INVALID_OPERAND;
        }
        self.stats.quote = fits.cloned();
        SUCCESS
    }
}
