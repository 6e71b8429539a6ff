//! Bench mode (fw_cfg `opt/cmon/mode` = `bench`, config.rs): the ring-3
//! harness times real SEAMCALLs with RDTSC and the BSP prints
//! `BENCH <name> median=<N> min=<N> iters=<N>` lines for
//! `cargo xtask bench --arch x86_64`.
//!
//! Under `-icount shift=0,sleep=off` one TSC tick is one guest instruction
//! and TSC deltas are identical from run to run (qemu-platforms.md §4).
//! harness.S reads the TSC just before loading a SEAMCALL's inputs and
//! just after it returns, so a round trip counts the #UD trap, the CR3
//! switches, the decode, the module logic and the IRETQ, plus
//! [`TSC_OVERHEAD`] (11) harness instructions. A multi-call figure is the
//! span from the first call's first RDTSC to the last call's second one,
//! summed over harness entries (at most 32 ops each; the shim's harness
//! entry and exit between two entries is not counted).
//!
//! | name | what one sample is |
//! |---|---|
//! | `seamcall_sys_rd` | TDH.SYS.RD of MAJOR_VERSION: the round trip of a trivial leaf |
//! | `seamcall_undef_leaf` | leaf 99 (undefined) -> OPERAND_INVALID: the dispatch floor |
//! | `tdh_mem_page_add` | TDH.MEM.PAGE.ADD of one 4 KiB page (copy + MRTD update) |
//! | `tdh_mr_extend_chunk` | TDH.MR.EXTEND of one 256-byte chunk (16 samples per page) |
//! | `tdh_mr_extend_page` | the 16 MR.EXTENDs of one page, back to back |
//! | `td_build` | MNG.CREATE, MNG.KEY.CONFIG, MNG.ADDCX x TDCX, MNG.INIT, SEPT.ADD x3, PAGE.ADD, MR.EXTEND x16, MR.FINALIZE |
//! | `td_teardown` | MNG.VPFLUSHDONE, PHYMEM.CACHE.WB, MNG.KEY.FREEID, PAGE.RECLAIM of every page (TDR last), PAGE.WBINVD |
//! | `vp_enter_vmcall_round_trip` | TDH.VP.ENTER of the running TD until its next TDG.VP.VMCALL <IO> exit (harness op 5, minus its 23 instructions); one sample per console byte |
//! | `tdg_mr_report` | TDG.MR.REPORT as the TD times it (RDTSC around the TDCALL) |
//! | `td_quote_generation` | the quoting service: TDREPORT MAC check + TD Quote v4 signing (CPL 0) |
//! | `tdg_seal_key` | the vendor sealing leaf (MRTD-bound, version 1) as the TD times it |
//!
//! The per-call rows take `iters` samples (MR.EXTEND per chunk 16 x
//! `iters`); `td_build` and `td_teardown` take `iters` too, one TD built
//! and torn down per sample. PAGE.ADD pages come from the VMM region's
//! pool (vmm.rs, [`vmm::MAX_PRIVATE`] pages), so they are added in rounds
//! of one TD each. Bench mode runs on one LP (`-smp 1`): nothing else
//! runs, so no TLB shootdown waits and the counts are exact. Every
//! SEAMCALL's status is checked; a wrong one ends the run with
//! `tdx-shim: bench: ... failed` and isa-debug-exit 0x11 (status 35).

use tdx_module_shim::{Code, LeafId, OperandId};

use qemu_q35::exit::{self, ExitCode};
use qemu_q35::paging::UserSpace;
use qemu_q35::{CpuIndex, println};

use crate::harness::{self, Call, EXIT_NO_FAULT, MAX_CALLS, Probe, TSC_OVERHEAD};
use crate::vmm::{self, PAGE};
use crate::{arch, global, leaf, rax, st, st0, td_build};

/// Iterations when `opt/cmon/iters` is absent (as the Arm NS host).
pub const DEFAULT_ITERS: usize = 101;
/// Most iterations per benchmark.
pub const MAX_ITERS: usize = 1001;
/// 256-byte MR.EXTEND chunks per page.
const CHUNKS: usize = (PAGE / 256) as usize;
const _: () = assert!(MAX_CALLS.is_multiple_of(CHUNKS));
/// Leaf 99: no TDX module defines it.
const UNDEFINED_LEAF: u16 = 99;

/// The sample rows.
#[derive(Debug, Clone, Copy)]
#[repr(usize)]
enum Row {
    SysRd,
    Undefined,
    PageAdd,
    ExtendPage,
    Build,
    Teardown,
}
const ROWS: usize = 6;

/// Sample storage (arch::take_samples, in .bss).
pub struct Samples {
    rows: [[u64; MAX_ITERS]; ROWS],
    chunks: [u64; MAX_ITERS * CHUNKS],
}

impl Samples {
    pub const ZERO: Samples = Samples {
        rows: [[0; MAX_ITERS]; ROWS],
        chunks: [0; MAX_ITERS * CHUNKS],
    };

    fn row(&mut self, r: Row) -> &mut [u64; MAX_ITERS] {
        &mut self.rows[r as usize]
    }
}

/// Ends the run: a bench step went wrong.
fn fail(what: &str, detail: core::fmt::Arguments<'_>) -> ! {
    println!("tdx-shim: bench: {what} failed: {detail}");
    exit::exit(ExitCode::Failure)
}

/// Runs `n` SEAMCALLs at CPL 3, [`MAX_CALLS`] per harness entry; call `i`
/// is `make(i)` = (RAX, RCX, RDX, R8, R9) and must return RAX = `want`.
/// `each(i, record)` sees every record. Returns the sum over entries of
/// the TSC span from the first call's start to the last call's end.
fn seamcalls(
    cpu: CpuIndex,
    space: UserSpace,
    what: &str,
    n: usize,
    want: impl Fn(usize) -> u64,
    make: impl Fn(usize) -> [u64; 5],
    mut each: impl FnMut(usize, &Call),
) -> u64 {
    let mut calls = [Call::default(); MAX_CALLS];
    let mut span = 0;
    let mut base = 0;
    while base < n {
        let k = (n - base).min(MAX_CALLS);
        for (j, c) in calls[..k].iter_mut().enumerate() {
            *c = Call::seamcall(make(base + j));
        }
        let (exit, b) = harness::run(space, cpu, &calls[..k], Probe::None, 0);
        if exit != EXIT_NO_FAULT {
            fail(
                what,
                format_args!(
                    "harness exit {exit}, vector {}, cr2 {:#x}",
                    b.fault_vector, b.fault_addr
                ),
            );
        }
        for (j, rec) in b.calls[..k].iter().enumerate() {
            let i = base + j;
            if rec.out[0] != want(i) {
                fail(
                    what,
                    format_args!(
                        "call {i} (RAX {:#x}) returned {:#x}, want {:#x}",
                        rec.inp[0],
                        rec.out[0],
                        want(i)
                    ),
                );
            }
            each(i, rec);
        }
        span += b.calls[k - 1].tsc[1].wrapping_sub(b.calls[0].tsc[0]);
        base += k;
    }
    span
}

/// [`seamcalls`] of a fixed list, every call expected to succeed.
fn list(cpu: CpuIndex, space: UserSpace, what: &str, l: &[[u64; 5]]) -> u64 {
    seamcalls(cpu, space, what, l.len(), |_| 0, |i| l[i], |_, _| {})
}

/// Harness memory ops (stores, fills) in one entry, untimed.
fn vmm_ops(cpu: CpuIndex, space: UserSpace, what: &str, ops: &[Call]) {
    let (exit, _) = harness::run(space, cpu, ops, Probe::None, 0);
    if exit != EXIT_NO_FAULT {
        fail(what, format_args!("harness exit {exit}"));
    }
}

fn call(id: LeafId, rcx: u64, rdx: u64, r8: u64, r9: u64) -> [u64; 5] {
    [leaf(id), rcx, rdx, r8, r9]
}

/// GPA of private page `j`.
const fn gpa(j: u64) -> u64 {
    (j + 1) * PAGE
}

/// The TD the benchmarks build: its pages and HKID.
#[derive(Debug, Clone, Copy)]
struct Td {
    tdr: u64,
    hkid: u64,
    /// HKID bits of a PA (for PAGE.WBINVD of the TDR).
    hkid_pa: u64,
    num_tdcx: u64,
}

impl Td {
    /// MNG.CREATE .. SEPT.ADD level 1: ready for PAGE.ADD at GPAs below
    /// 2 MiB. Returns the number of calls written.
    fn skeleton(&self, out: &mut [[u64; 5]]) -> usize {
        let tdr = self.tdr;
        let mut n = 0;
        let mut push = |c: [u64; 5]| {
            out[n] = c;
            n += 1;
        };
        push(call(LeafId::MngCreate, tdr, self.hkid, 0, 0));
        push(call(LeafId::MngKeyConfig, tdr, 0, 0, 0));
        for i in 0..self.num_tdcx {
            push(call(LeafId::MngAddCx, vmm::tdcx(i), tdr, 0, 0));
        }
        push(call(LeafId::MngInit, tdr, vmm::TD_PARAMS, 0, 0));
        for lvl in [3, 2, 1] {
            push(call(LeafId::MemSeptAdd, lvl, tdr, vmm::sept(lvl), 0));
        }
        n
    }

    /// VPFLUSHDONE .. PAGE.WBINVD with `privates` private pages.
    fn teardown(&self, privates: u64, out: &mut [[u64; 5]]) -> usize {
        let tdr = self.tdr;
        let mut n = 0;
        let mut push = |c: [u64; 5]| {
            out[n] = c;
            n += 1;
        };
        push(call(LeafId::MngVpFlushDone, tdr, 0, 0, 0));
        push(call(LeafId::PhymemCacheWb, 0, 0, 0, 0));
        push(call(LeafId::MngKeyFreeId, tdr, 0, 0, 0));
        let reclaim = |p: u64| call(LeafId::PhymemPageReclaim, p, 0, 0, 0);
        for i in 0..self.num_tdcx {
            push(reclaim(vmm::tdcx(i)));
        }
        for l in 1..=3 {
            push(reclaim(vmm::sept(l)));
        }
        for j in 0..privates {
            push(reclaim(vmm::private(j)));
        }
        push(reclaim(tdr));
        push(call(LeafId::PhymemPageWbinvd, tdr | self.hkid_pa, 0, 0, 0));
        n
    }
}

/// Calls of a teardown with every private page of the pool.
const MAX_TEARDOWN: usize = 3 + vmm::MAX_TDCX as usize + 3 + vmm::MAX_PRIVATE as usize + 2;

fn report(name: &str, samples: &mut [u64]) {
    samples.sort_unstable();
    let n = samples.len();
    let median = if n % 2 == 1 {
        samples[n / 2]
    } else {
        (samples[n / 2 - 1] + samples[n / 2]) / 2
    };
    println!("BENCH {name} median={median} min={} iters={n}", samples[0]);
}

/// Module bring-up on the one LP, untimed: SYS.INIT, LP.INIT, SYS.RD
/// TDCS_BASE_SIZE, SYS.CONFIG (TDMR_INFO written by the harness),
/// KEY.CONFIG, TDMR.INIT until done, then TD_PARAMS and a zero source
/// page. Returns the number of TDCX pages.
fn bring_up(cpu: CpuIndex, space: UserSpace, global_hkid: u64) -> u64 {
    let mut tdcs_size = 0;
    seamcalls(
        cpu,
        space,
        "module init",
        3,
        |_| 0,
        |i| match i {
            0 => call(LeafId::SysInit, 0, 0, 0, 0),
            1 => call(LeafId::SysLpInit, 0, 0, 0, 0),
            _ => call(LeafId::SysRd, 0, td_build::FIELD_TDCS_BASE_SIZE, 0, 0),
        },
        |i, rec| {
            if i == 2 {
                tdcs_size = rec.out[3];
            }
        },
    );
    let num_tdcx = tdcs_size / PAGE;
    if !tdcs_size.is_multiple_of(PAGE) || !(1..=vmm::MAX_TDCX).contains(&num_tdcx) {
        fail(
            "TDH.SYS.RD TDCS_BASE_SIZE",
            format_args!("{tdcs_size:#x} is not 1..={} pages", vmm::MAX_TDCX),
        );
    }
    let mut ops = [Call::default(); MAX_CALLS];
    let n = vmm::write_tdmr_info(&mut ops);
    vmm_ops(cpu, space, "writing TDMR_INFO", &ops[..n]);
    list(
        cpu,
        space,
        "SYS.CONFIG, SYS.KEY.CONFIG",
        &[
            call(LeafId::SysConfig, vmm::TDMR_ARRAY, 1, global_hkid, 0),
            call(LeafId::SysKeyConfig, 0, 0, 0, 0),
        ],
    );
    let tdmr_init = [Call::seamcall(call(LeafId::SysTdmrInit, 0, 0, 0, 0))];
    let mut finished = false;
    for _ in 0..64 {
        let (exit, b) = harness::run(space, cpu, &tdmr_init, Probe::None, 0);
        let status = b.calls[0].out[0];
        if exit != EXIT_NO_FAULT || (status != 0 && status != st0(Code::TdmrAlreadyInitialized)) {
            fail(
                "TDH.SYS.TDMR.INIT",
                format_args!("harness exit {exit}, status {status:#x}"),
            );
        }
        if status != 0 {
            finished = true;
            break;
        }
    }
    if !finished {
        fail("TDH.SYS.TDMR.INIT", format_args!("not done after 64 calls"));
    }
    let n = vmm::write_td_params(&mut ops);
    ops[n] = Call::fill(vmm::SOURCE, PAGE / 8, 0);
    vmm_ops(
        cpu,
        space,
        "writing TD_PARAMS and the source page",
        &ops[..=n],
    );
    num_tdcx
}

/// (a) Round trips of a trivial leaf and of an undefined one.
fn round_trips(cpu: CpuIndex, space: UserSpace, iters: usize, s: &mut Samples) {
    let major = call(LeafId::SysRd, 0, td_build::FIELD_MAJOR_VERSION, 0, 0);
    let row = s.row(Row::SysRd);
    seamcalls(
        cpu,
        space,
        "TDH.SYS.RD",
        iters,
        |_| 0,
        |_| major,
        |i, rec| row[i] = rec.ticks(),
    );
    let invalid = st(Code::OperandInvalid, OperandId::Rax);
    let row = s.row(Row::Undefined);
    seamcalls(
        cpu,
        space,
        "undefined leaf",
        iters,
        |_| invalid,
        |_| [rax(UNDEFINED_LEAF, 0), 0, 0, 0, 0],
        |i, rec| row[i] = rec.ticks(),
    );
}

/// (b), (c) PAGE.ADD per page and MR.EXTEND per chunk and per page, in
/// rounds of one TD with up to [`vmm::MAX_PRIVATE`] pages each.
fn page_rounds(cpu: CpuIndex, space: UserSpace, td: &Td, iters: usize, s: &mut Samples) {
    let mut buf = [[0u64; 5]; MAX_TEARDOWN];
    let mut done = 0;
    while done < iters {
        let r = (iters - done).min(vmm::MAX_PRIVATE as usize);
        let n = td.skeleton(&mut buf);
        list(cpu, space, "TD skeleton", &buf[..n]);
        let tdr = td.tdr;
        let row = s.row(Row::PageAdd);
        seamcalls(
            cpu,
            space,
            "TDH.MEM.PAGE.ADD",
            r,
            |_| 0,
            |j| {
                let j = j as u64;
                call(
                    LeafId::MemPageAdd,
                    gpa(j),
                    tdr,
                    vmm::private(j),
                    vmm::SOURCE,
                )
            },
            |j, rec| row[done + j] = rec.ticks(),
        );
        let (chunks, rows) = (&mut s.chunks, &mut s.rows);
        let page_row = &mut rows[Row::ExtendPage as usize];
        let mut start = 0;
        seamcalls(
            cpu,
            space,
            "TDH.MR.EXTEND",
            r * CHUNKS,
            |_| 0,
            |i| {
                let (j, k) = ((i / CHUNKS) as u64, (i % CHUNKS) as u64);
                call(LeafId::MrExtend, gpa(j) + k * 256, tdr, 0, 0)
            },
            |i, rec| {
                chunks[done * CHUNKS + i] = rec.ticks();
                if i % CHUNKS == 0 {
                    start = rec.tsc[0];
                }
                if i % CHUNKS == CHUNKS - 1 {
                    page_row[done + i / CHUNKS] = rec.tsc[1].wrapping_sub(start);
                }
            },
        );
        let n = td.teardown(r as u64, &mut buf);
        list(cpu, space, "TD teardown", &buf[..n]);
        done += r;
    }
}

/// (d) Whole TD builds and teardowns, one of each per iteration.
fn builds(cpu: CpuIndex, space: UserSpace, td: &Td, iters: usize, s: &mut Samples) {
    let mut build = [[0u64; 5]; MAX_TEARDOWN];
    let mut n = td.skeleton(&mut build);
    build[n] = call(
        LeafId::MemPageAdd,
        gpa(0),
        td.tdr,
        vmm::private(0),
        vmm::SOURCE,
    );
    n += 1;
    for k in 0..CHUNKS as u64 {
        build[n] = call(LeafId::MrExtend, gpa(0) + k * 256, td.tdr, 0, 0);
        n += 1;
    }
    build[n] = call(LeafId::MrFinalize, td.tdr, 0, 0, 0);
    n += 1;
    let mut teardown = [[0u64; 5]; MAX_TEARDOWN];
    let m = td.teardown(1, &mut teardown);
    for i in 0..iters {
        s.row(Row::Build)[i] = list(cpu, space, "TD build", &build[..n]);
        s.row(Row::Teardown)[i] = list(cpu, space, "TD teardown", &teardown[..m]);
    }
}

/// Runs every benchmark on the BSP, prints the BENCH lines and exits
/// QEMU (status 33).
pub fn run(cpu: CpuIndex, space: UserSpace, online: u32, iters: Option<u32>) -> ! {
    let iters = iters.map_or(DEFAULT_ITERS, |n| (n as usize).clamp(1, MAX_ITERS));
    let Some(m) = global::MODULE.get() else {
        fail("module install", format_args!("no module"));
    };
    let cfg = *m.config();
    if online != 1 || cfg.num_packages != 1 {
        fail(
            "bench mode",
            format_args!(
                "needs one LP (-smp 1), have {online} LP(s) in {} package(s)",
                cfg.num_packages
            ),
        );
    }
    let Some(s) = arch::take_samples() else {
        fail("bench mode", format_args!("sample storage already taken"));
    };
    println!(
        "tdx-shim: bench mode, {iters} iterations; TSC deltas read with RDTSC at CPL 3 \
         (instructions under -icount shift=0), each SEAMCALL sample includes \
         {TSC_OVERHEAD} harness instructions"
    );
    let global_hkid = u64::from(cfg.first_private_hkid);
    let num_tdcx = bring_up(cpu, space, global_hkid);
    let td = Td {
        tdr: vmm::TDR,
        hkid: global_hkid + 1,
        hkid_pa: (global_hkid + 1) << cfg.hkid_shift(),
        num_tdcx,
    };
    round_trips(cpu, space, iters, s);
    page_rounds(cpu, space, &td, iters, s);
    builds(cpu, space, &td, iters, s);

    report("seamcall_sys_rd", &mut s.row(Row::SysRd)[..iters]);
    report("seamcall_undef_leaf", &mut s.row(Row::Undefined)[..iters]);
    report("tdh_mem_page_add", &mut s.row(Row::PageAdd)[..iters]);
    report("tdh_mr_extend_chunk", &mut s.chunks[..iters * CHUNKS]);
    report("tdh_mr_extend_page", &mut s.row(Row::ExtendPage)[..iters]);
    report("td_build", &mut s.row(Row::Build)[..iters]);
    report("td_teardown", &mut s.row(Row::Teardown)[..iters]);
    // A TD that runs (td_run.rs), once: its VP.ENTER -> TDG.VP.VMCALL
    // round trips (one per console byte), and the single measurements.
    let Some(mut t) = crate::td_run::run(cpu, space, online, num_tdcx) else {
        fail("TD run", format_args!("the TD did not finish"));
    };
    let n = t.n_round_trips;
    report("vp_enter_vmcall_round_trip", &mut t.round_trips[..n]);
    for (name, v) in [
        ("tdg_mr_report", t.report_ticks),
        ("td_quote_generation", t.quote_ticks),
        ("tdg_seal_key", t.seal_ticks),
    ] {
        println!("BENCH {name} median={v} min={v} iters=1");
    }
    println!("tdx-shim: bench done");
    exit::exit(ExitCode::Success)
}
