//! The VMM side of a running TD (td_run.rs): enter a vCPU with TDH.VP.ENTER
//! (harness op 5, every GPR) again and again, serving its exits:
//! - TDG.VP.VMCALL <Instruction.IO> (GHCI, R11 = 30) writes to port 0x3F8
//!   become console lines `TD vCPU i | ...`; status R10 = 0;
//! - GHCI MapGPA and GetQuote, and EPT-violation exits (exit reason 48),
//!   go to the VMM's memory service (td_mem.rs) if the vCPU has one;
//! - GHCI <Instruction.CPUID>, <Instruction.HLT>, <#VE.RequestMMIO> and
//!   ReportFatalError go to td_ghci.rs; after ReportFatalError the loop
//!   returns the registers and never enters the vCPU again;
//! - vendor calls (R10 = "CMON"): R11 = 3 the TD's own timings, R11 = 4
//!   one result of its memory steps (R12 = index, R13 = value), R11 = 1
//!   "done" (the loop returns the registers);
//! - anything else: TDVMCALL_SUBFUNC_UNSUPPORTED;
//! - exit reason 1 (the shim's preemption timer): enter again.

use tdx_module_shim::LeafId;
use tdx_module_shim::enter::{Gprs, exit_reason, gpr};

use qemu_q35::paging::UserSpace;
use qemu_q35::{CpuIndex, println};

use crate::harness::{self, Block, Call, EXIT_NO_FAULT, Probe};
use crate::leaf;

/// VP.ENTERs allowed before the TD must have said it is done.
const MAX_ENTRIES: usize = 1024;
/// GHCI TDG.VP.VMCALL sub-function <Instruction.IO> and its status.
const GHCI_IO: u64 = 30;
const GHCI_MAP_GPA: u64 = 0x10001;
const GHCI_GET_QUOTE: u64 = 0x10002;
/// Results the TD reports with vendor call R11 = 4.
pub const MEM_RESULTS: usize = 24;
const TDVMCALL_SUBFUNC_UNSUPPORTED: u64 = 0x8000_0000_0000_0003;
/// The guest's vendor calls: R10 = "CMON".
const CMON_VMCALL: u64 = 0x434D_4F4E;
/// TDX_OPERAND_BUSY in RAX[63:32] (tdx-module-abi.md §3).
const OPERAND_BUSY_CLASS: u64 = 0x8000_0200;
/// Most VP.ENTER round trips sampled.
pub const MAX_RT: usize = 128;

/// What a run measured (TSC ticks; instructions under `-icount`), for
/// bench mode (bench.rs).
#[derive(Debug, Clone, Copy)]
pub struct TdRunStats {
    /// VP.ENTER -> TDG.VP.VMCALL <IO> exit round trips as the harness
    /// times them (op 5), minus [`harness::TSC_OVERHEAD_GPRS`].
    pub round_trips: [u64; MAX_RT],
    pub n_round_trips: usize,
    /// TDG.MR.REPORT and the vendor sealing leaf, timed inside the TD.
    pub report_ticks: u64,
    pub seal_ticks: u64,
    /// The quoting service (MAC check + quote signing), timed at CPL 0.
    pub quote_ticks: u64,
}

/// The VMM's view of one vCPU's run.
pub struct Vmm {
    pub regs: Gprs,
    pub stats: TdRunStats,
    pub entries: usize,
    pub printed: u64,
    pub preempted: u64,
    /// VP.ENTERs answered TDX_OPERAND_BUSY (retried).
    pub busy: u64,
    pub seal_status: u64,
    /// The VMM's memory service, for the vCPU that uses memory calls.
    pub mem: Option<crate::td_mem::TdMem>,
    /// What the TD reported of its memory steps (vendor call R11 = 4).
    pub mem_results: [Option<u64>; MEM_RESULTS],
    /// Its GHCI instruction calls and fatal-error report.
    pub ghci: crate::td_ghci::Ghci,
    /// The last console line the vCPU completed.
    pub last_line: [u8; 96],
    pub last_len: usize,
}

impl Vmm {
    pub fn new() -> Self {
        Vmm {
            regs: [0; 16],
            stats: TdRunStats {
                round_trips: [0; MAX_RT],
                n_round_trips: 0,
                report_ticks: 0,
                seal_ticks: 0,
                quote_ticks: 0,
            },
            entries: 0,
            printed: 0,
            preempted: 0,
            busy: 0,
            seal_status: u64::MAX,
            mem: None,
            mem_results: [None; MEM_RESULTS],
            ghci: crate::td_ghci::Ghci::default(),
            last_line: [0; 96],
            last_len: 0,
        }
    }

    /// Enter the vCPU `tdvpr` until its done call or its ReportFatalError
    /// (then `ghci.fatal` is set and it must not be entered again); its
    /// registers then, or `None` (a harness fault, another exit reason, or
    /// too many entries).
    pub fn enter_until_done(
        &mut self,
        cpu: CpuIndex,
        space: UserSpace,
        tdvpr: u64,
        who: &str,
    ) -> Option<Gprs> {
        let mut line = [0u8; 96];
        let mut len = 0usize;
        while self.entries < MAX_ENTRIES {
            self.entries += 1;
            let (exit, b) = vp_enter(cpu, space, tdvpr, &mut self.regs);
            if exit != EXIT_NO_FAULT {
                println!("{who}: the harness faulted (vector {})", b.fault_vector);
                return None;
            }
            let v = &mut self.regs;
            if v[gpr::RAX] == exit_reason::EXTERNAL_INTERRUPT {
                self.preempted += 1; // the shim's timer: just enter again
                continue;
            }
            if v[gpr::RAX] >> 32 == OPERAND_BUSY_CLASS {
                // Another LP holds a lock VP.ENTER needs (the other vCPU
                // is in a leaf): try again, as KVM does.
                self.busy += 1;
                continue;
            }
            if v[gpr::RAX] == exit_reason::EPT_VIOLATION {
                let gpa = v[gpr::R8];
                println!(
                    "{who}: EPT violation at GPA {gpa:#x} (qualification {:#x}, EEQ {:#x})",
                    v[gpr::RCX],
                    v[gpr::RDX]
                );
                let served = self
                    .mem
                    .as_mut()
                    .is_some_and(|m| m.ept_violation(cpu, space, gpa));
                if served {
                    continue;
                }
                println!("{who}: EPT violation at GPA {gpa:#x} the VMM cannot serve");
                return None;
            }
            if v[gpr::RAX] != exit_reason::TDCALL {
                println!("{who}: TDH.VP.ENTER returned {:#x}", v[gpr::RAX]);
                return None;
            }
            match (v[gpr::R10], v[gpr::R11]) {
                (0, GHCI_IO) if v[gpr::R13] == 1 && v[gpr::R14] == 0x3F8 => {
                    let s = &mut self.stats;
                    if let Some(slot) = s.round_trips.get_mut(s.n_round_trips) {
                        *slot = b.calls[0]
                            .ticks()
                            .saturating_sub(harness::TSC_OVERHEAD_GPRS);
                        s.n_round_trips += 1;
                    }
                    let ch = v[gpr::R15] as u8;
                    self.printed += 1;
                    if ch == b'\n' || len == line.len() {
                        let text = core::str::from_utf8(&line[..len]).unwrap_or("?");
                        println!("{who} | {text}");
                        self.last_line = line;
                        self.last_len = len;
                        len = 0;
                    } else {
                        line[len] = ch;
                        len += 1;
                    }
                    v[gpr::R10] = 0;
                    v[gpr::R11] = 0;
                }
                (CMON_VMCALL, 1) => return Some(*v),
                (0, sub) if crate::td_ghci::serves(sub) => {
                    if !self.ghci.serve(sub, v) {
                        return Some(*v);
                    }
                }
                (CMON_VMCALL, 3) => {
                    self.stats.report_ticks = v[gpr::R12];
                    self.stats.seal_ticks = v[gpr::R13];
                    self.seal_status = v[gpr::R14];
                    v[gpr::R10] = 0;
                }
                (CMON_VMCALL, 4) if (v[gpr::R12] as usize) < MEM_RESULTS => {
                    self.mem_results[v[gpr::R12] as usize] = Some(v[gpr::R13]);
                    v[gpr::R10] = 0;
                }
                (0, GHCI_MAP_GPA) if self.mem.is_some() => {
                    let (start, size) = (v[gpr::R12], v[gpr::R13]);
                    if let Some(m) = self.mem.as_mut() {
                        v[gpr::R10] = m.map_gpa(cpu, space, start, size);
                        v[gpr::R11] = 0;
                    }
                }
                (0, GHCI_GET_QUOTE) if self.mem.is_some() => {
                    let (gpa, size) = (v[gpr::R12], v[gpr::R13]);
                    if let Some(m) = self.mem.as_mut() {
                        v[gpr::R10] = m.get_quote(cpu, space, gpa, size);
                    }
                }
                _ => v[gpr::R10] = TDVMCALL_SUBFUNC_UNSUPPORTED,
            }
        }
        None
    }
}

/// One TDH.VP.ENTER of `tdvpr` by the harness at CPL 3 with the VMM's
/// registers `regs` (RAX and RCX set here). `regs` takes what VP.ENTER
/// returned unless the harness faulted; returns the harness's exit value
/// and its Block (the call's TSC ticks, the fault vector).
pub fn vp_enter(cpu: CpuIndex, space: UserSpace, tdvpr: u64, regs: &mut Gprs) -> (u64, Block) {
    regs[gpr::RAX] = leaf(LeafId::VpEnter);
    regs[gpr::RCX] = tdvpr;
    let op = [Call::seamcall_gprs(harness::gprs_addr(cpu))];
    let (exit, b) = harness::run_with_gprs(space, cpu, &op, Probe::None, 0, *regs);
    if exit == EXIT_NO_FAULT {
        *regs = b.gprs;
    }
    (exit, b)
}
