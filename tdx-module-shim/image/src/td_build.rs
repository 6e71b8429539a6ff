//! The TD build the ring-3 harness drives with real SEAMCALLs, in its own
//! memory (vmm.rs): TDH.SYS.CONFIG (TDMR_INFO written by the harness, PAMT
//! in its region), SYS.KEY.CONFIG on every package, SYS.TDMR.INIT until
//! done, MNG.CREATE, MNG.KEY.CONFIG on every package, MNG.ADDCX (as many
//! pages as TDH.SYS.RD TDCS_BASE_SIZE says), MNG.INIT, MEM.SEPT.ADD down to
//! the 4 KiB level, MEM.PAGE.ADD of a zero page at GPA 0x1000, 16
//! MR.EXTENDs, MR.FINALIZE; then TDH.MNG.RD of the MRTD (known answer,
//! checked at ring 3's side of the ABI) and the TD state; then teardown
//! (`td_teardown.rs`). One vCPU is created after MNG.INIT: VP.CREATE,
//! VP.ADDCX for the rest of its TDVPS, VP.INIT v1. Error paths and isolation
//! (harness loads of module pages fault) are checked from ring 3 on the
//! way.

use tdx_module_shim::md::field;
use tdx_module_shim::{Code, LeafId, OpState, OperandId};

use qemu_q35::paging::UserSpace;
use qemu_q35::{CpuIndex, println};

use crate::checks::{check, check_eq};
use crate::harness::{self, Block, Call, EXIT_NO_FAULT, MAX_CALLS, Probe};
use crate::vmm::{self, PAGE};
use crate::{Job, PF_USER, check_fault, global, leaf, post_job, seam, st, st0};

pub const FIELD_MINOR_VERSION: u64 = 0x0800_0001_0000_0003;
pub const FIELD_MAJOR_VERSION: u64 = 0x0800_0001_0000_0004;
pub const FIELD_TDCS_BASE_SIZE: u64 = 0x9800_0001_0000_0100;

/// MRTD of a TD with one all-zero page at GPA 0x1000, PAGE.ADDed and
/// MR.EXTENDed in full (tdx-module-abi.md §7; cmon-measure's known answer).
const MRTD_KAT: &str = "ca76d5541328afef8bc9364261c515aebef90412ebc56ca0\
                        c2260ec531a14462cfc0c11de61d84292ddf8ca871da1ff1";
const GPA: u64 = 0x1000;
const CHUNK: u64 = 256;

/// One op plus, for a SEAMCALL, its check line and expected status.
#[derive(Debug, Clone, Copy)]
struct Step {
    call: Call,
    want: Option<(&'static str, u64)>,
}

#[derive(Debug)]
pub(crate) struct Script {
    steps: [Step; MAX_CALLS],
    n: usize,
}

impl Script {
    pub(crate) fn new() -> Self {
        Script {
            steps: [Step {
                call: Call::default(),
                want: None,
            }; MAX_CALLS],
            n: 0,
        }
    }

    pub(crate) fn push(&mut self, call: Call, want: Option<(&'static str, u64)>) {
        if let Some(s) = self.steps.get_mut(self.n) {
            *s = Step { call, want };
            self.n += 1;
        } else {
            check(
                CpuIndex(0),
                "script fits in one harness Block",
                false,
                format_args!(""),
            );
        }
    }

    pub(crate) fn seamcall(&mut self, name: &'static str, inp: [u64; 5], want: u64) {
        self.push(Call::seamcall(inp), Some((name, want)));
    }

    pub(crate) fn ops(&mut self, f: fn(&mut [Call]) -> usize) {
        let mut buf = [Call::default(); MAX_CALLS];
        let n = f(&mut buf);
        for c in &buf[..n] {
            self.push(*c, None);
        }
    }

    /// Runs the script; every SEAMCALL's status is one check line. Ops
    /// that did not run keep OUT = NOT_RUN and fail their check.
    pub(crate) fn run(&self, cpu: CpuIndex, space: UserSpace, probe: Option<u64>) -> (u64, Block) {
        let mut calls = [Call::default(); MAX_CALLS];
        for (c, s) in calls.iter_mut().zip(&self.steps[..self.n]) {
            *c = s.call;
        }
        let (mode, addr) = probe.map_or((Probe::None, 0), |a| (Probe::ReadShim, a));
        let (exit, block) = harness::run(space, cpu, &calls[..self.n], mode, addr);
        for (s, rec) in self.steps[..self.n].iter().zip(&block.calls) {
            if let Some((name, want)) = s.want {
                check_eq(cpu, name, rec.out[0], want);
            }
        }
        (exit, block)
    }
}

pub(crate) fn call(id: LeafId, rcx: u64, rdx: u64, r8: u64, r9: u64) -> [u64; 5] {
    [leaf(id), rcx, rdx, r8, r9]
}

/// The same call with leaf version 1 (RAX bits 23:16).
fn leaf_v1(mut c: [u64; 5]) -> [u64; 5] {
    c[0] |= 1 << 16;
    c
}

fn hex48(s: &str) -> [u8; 48] {
    let mut out = [0u8; 48];
    let d = |c: u8| (c as char).to_digit(16).unwrap_or(0) as u8;
    for (o, p) in out.iter_mut().zip(s.as_bytes().chunks_exact(2)) {
        *o = d(p[0]) << 4 | d(p[1]);
    }
    out
}

/// Checks the SYS.RD outputs (MAJOR, MINOR, TDCS_BASE_SIZE); returns the
/// number of TDCX pages the module requires.
pub fn check_sys_rd(cpu: CpuIndex, rd: &[Call]) -> u64 {
    let r8 = |i: usize| rd.get(i).map_or(0, |c| c.out[3]);
    check_eq(cpu, "TDH.SYS.RD MAJOR_VERSION = 1", r8(0), 1);
    check_eq(cpu, "TDH.SYS.RD MINOR_VERSION = 5", r8(1), 5);
    let n = r8(2) / PAGE;
    check(
        cpu,
        "TDH.SYS.RD TDCS_BASE_SIZE: whole pages, at most the harness's pool",
        r8(2).is_multiple_of(PAGE) && (1..=vmm::MAX_TDCX).contains(&n),
        format_args!("{:#x} = {n} TDCX pages", r8(2)),
    );
    n.clamp(1, vmm::MAX_TDCX)
}

/// Job on an AP for its package: SYS.KEY.CONFIG, MNG.KEY.CONFIG of the
/// TDR `arg`, or PHYMEM.CACHE.WB.
pub fn package_job(cpu: CpuIndex, space: UserSpace, job: Job, arg: u64) {
    let mut s = Script::new();
    match job {
        Job::SysKeyConfig => s.seamcall(
            "CPL3 TDH.SYS.KEY.CONFIG (this package)",
            call(LeafId::SysKeyConfig, 0, 0, 0, 0),
            0,
        ),
        Job::MngKeyConfig => s.seamcall(
            "CPL3 TDH.MNG.KEY.CONFIG (this package)",
            call(LeafId::MngKeyConfig, arg, 0, 0, 0),
            0,
        ),
        Job::CacheWb => s.seamcall(
            "CPL3 TDH.PHYMEM.CACHE.WB (this package)",
            call(LeafId::PhymemCacheWb, 0, 0, 0, 0),
            0,
        ),
        Job::LpChecks | Job::VcpuInit | Job::VcpuRun | Job::VcpuFlush => return,
    }
    s.run(cpu, space, None);
}

/// Runs `job` on one LP of every package other than the BSP's.
pub(crate) fn other_packages(cpu: CpuIndex, online: u32, job: Job, arg: u64) {
    let Some(m) = global::MODULE.get() else {
        return;
    };
    let mine = seam::lp(cpu).package;
    for pkg in (0..m.config().num_packages).filter(|&p| p != mine) {
        let lp = (1..online)
            .map(CpuIndex)
            .find(|&c| seam::lp(c).package == pkg);
        let ok = lp.is_some_and(|c| post_job(c, job, arg));
        check(
            cpu,
            "key job ran on the package",
            ok,
            format_args!("package {pkg}, {job:?}"),
        );
    }
}

fn fault_check(cpu: CpuIndex, name: &str, (exit, b): (u64, Block), addr: u64) {
    check_fault(cpu, name, exit, &b, crate::VECTOR_PF, PF_USER, addr);
}

/// The whole sequence on the BSP (after every LP did SYS.LP.INIT).
pub fn run(cpu: CpuIndex, space: UserSpace, online: u32, num_tdcx: u64) {
    let Some(m) = global::MODULE.get() else {
        check(cpu, "module installed", false, format_args!(""));
        return;
    };
    let cfg = *m.config();
    let global_hkid = u64::from(cfg.first_private_hkid);
    let td_hkid = global_hkid + 1;
    let tdr = vmm::TDR;

    // 1. SYS.CONFIG + SYS.KEY.CONFIG; the PAMT is gone from the harness.
    let mut s = Script::new();
    s.ops(vmm::write_tdmr_info);
    s.seamcall(
        "CPL3 TDH.SYS.CONFIG (1 TDMR, PAMT in the harness region)",
        call(LeafId::SysConfig, vmm::TDMR_ARRAY, 1, global_hkid, 0),
        0,
    );
    s.seamcall(
        "CPL3 TDH.SYS.KEY.CONFIG (BSP's package)",
        call(LeafId::SysKeyConfig, 0, 0, 0, 0),
        0,
    );
    s.push(Call::load(vmm::PAMT_4K), None);
    fault_check(
        cpu,
        "CPL3 read of the PAMT after SYS.CONFIG -> #PF (not present)",
        s.run(cpu, space, None),
        vmm::PAMT_4K,
    );
    other_packages(cpu, online, Job::SysKeyConfig, 0);

    // 2. TDMR.INIT until done, MNG.CREATE, MNG.KEY.CONFIG.
    let mut s = Script::new();
    s.seamcall(
        "CPL3 TDH.SYS.TDMR.INIT",
        call(LeafId::SysTdmrInit, 0, 0, 0, 0),
        0,
    );
    s.seamcall(
        "CPL3 TDH.SYS.TDMR.INIT again -> TDMR_ALREADY_INITIALIZED (done)",
        call(LeafId::SysTdmrInit, 0, 0, 0, 0),
        st0(Code::TdmrAlreadyInitialized),
    );
    s.seamcall(
        "CPL3 TDH.PHYMEM.PAGE.RDMD of the TDR page",
        call(LeafId::PhymemPageRdmd, tdr, 0, 0, 0),
        0,
    );
    s.seamcall(
        "CPL3 TDH.MNG.CREATE",
        call(LeafId::MngCreate, tdr, td_hkid, 0, 0),
        0,
    );
    s.seamcall(
        "CPL3 TDH.MNG.KEY.CONFIG (BSP's package)",
        call(LeafId::MngKeyConfig, tdr, 0, 0, 0),
        0,
    );
    let (exit, b) = s.run(cpu, space, None);
    check_eq(cpu, "harness run completed", exit, EXIT_NO_FAULT);
    check_eq(
        cpu,
        "TDH.SYS.TDMR.INIT: RDX = next address (1 GiB)",
        b.calls[0].out[2],
        1 << 30,
    );
    check_eq(
        cpu,
        "TDH.PHYMEM.PAGE.RDMD: TDR page was PT_NDA",
        b.calls[2].out[1],
        0,
    );
    other_packages(cpu, online, Job::MngKeyConfig, tdr);

    // 3. TDCX pages, TD_PARAMS, MNG.INIT, Secure EPT, error paths.
    let mut s = Script::new();
    for i in 0..num_tdcx {
        s.seamcall(
            "CPL3 TDH.MNG.ADDCX",
            call(LeafId::MngAddCx, vmm::tdcx(i), tdr, 0, 0),
            0,
        );
    }
    s.ops(vmm::write_td_params);
    s.seamcall(
        "CPL3 TDH.MNG.INIT (valid TD_PARAMS)",
        call(LeafId::MngInit, tdr, vmm::TD_PARAMS, 0, 0),
        0,
    );
    s.seamcall(
        "CPL3 TDH.VP.CREATE",
        call(LeafId::VpCreate, vmm::tdvps(0), tdr, 0, 0),
        0,
    );
    s.seamcall(
        "CPL3 TDH.VP.INIT before its TDCX pages -> TDCX_NUM_INCORRECT",
        call(LeafId::VpInit, vmm::tdvps(0), 0, 0, 0),
        st0(Code::TdcxNumIncorrect),
    );
    for i in 1..vmm::TDVPS_PAGES {
        s.seamcall(
            "CPL3 TDH.VP.ADDCX",
            call(LeafId::VpAddCx, vmm::tdvps(i), vmm::tdvps(0), 0, 0),
            0,
        );
    }
    s.seamcall(
        "CPL3 TDH.VP.INIT v1 (x2APIC ID 0)",
        leaf_v1(call(LeafId::VpInit, vmm::tdvps(0), 0, 0, 0)),
        0,
    );
    for (lvl, name) in [
        (3, "CPL3 TDH.MEM.SEPT.ADD level 3"),
        (2, "CPL3 TDH.MEM.SEPT.ADD level 2"),
        (1, "CPL3 TDH.MEM.SEPT.ADD level 1 (4 KiB table)"),
    ] {
        s.seamcall(
            name,
            call(LeafId::MemSeptAdd, lvl, tdr, vmm::sept(lvl), 0),
            0,
        );
    }
    s.seamcall(
        "CPL3 TDH.MEM.SEPT.ADD with a TDCX page -> PAGE_METADATA_INCORRECT + R8",
        call(LeafId::MemSeptAdd, 0x20_0000 | 1, tdr, vmm::tdcx(0), 0),
        st(Code::PageMetadataIncorrect, OperandId::R8),
    );
    let (exit, _) = s.run(cpu, space, None);
    check_eq(cpu, "harness run completed", exit, EXIT_NO_FAULT);

    // 4. PAGE.ADD, MR.EXTEND x16, MR.FINALIZE; the private page is gone.
    let mut s = Script::new();
    s.push(Call::fill(vmm::SOURCE, PAGE / 8, 0), None);
    s.seamcall(
        "CPL3 TDH.MEM.PAGE.ADD to a misaligned HPA -> OPERAND_INVALID + R8",
        call(
            LeafId::MemPageAdd,
            0x2000,
            tdr,
            vmm::PRIVATE + 0x800,
            vmm::SOURCE,
        ),
        st(Code::OperandInvalid, OperandId::R8),
    );
    s.seamcall(
        "CPL3 TDH.MEM.PAGE.ADD GPA 0x1000 (zero page)",
        call(LeafId::MemPageAdd, GPA, tdr, vmm::PRIVATE, vmm::SOURCE),
        0,
    );
    for k in 0..PAGE / CHUNK {
        s.seamcall(
            "CPL3 TDH.MR.EXTEND",
            call(LeafId::MrExtend, GPA + k * CHUNK, tdr, 0, 0),
            0,
        );
    }
    s.seamcall(
        "CPL3 TDH.MR.FINALIZE",
        call(LeafId::MrFinalize, tdr, 0, 0, 0),
        0,
    );
    s.push(Call::load(vmm::PRIVATE), None);
    fault_check(
        cpu,
        "CPL3 read of the PAGE.ADDed page -> #PF (isolated)",
        s.run(cpu, space, None),
        vmm::PRIVATE,
    );

    // 5. The source page is still the harness's; the TDR is not.
    let mut s = Script::new();
    s.push(Call::load(vmm::SOURCE), None);
    s.push(Call::load(tdr), None);
    let (exit, b) = s.run(cpu, space, None);
    check_eq(
        cpu,
        "CPL3 read of its own source page works (reads 0)",
        b.calls[0].out[0],
        0,
    );
    fault_check(
        cpu,
        "CPL3 read of the TDR page -> #PF (isolated)",
        (exit, b),
        tdr,
    );

    // 6. The TD's metadata over TDH.MNG.RD, from ring 3.
    read_metadata(cpu, space, tdr, num_tdcx);

    // 7. Teardown: every page goes back to the harness, zeroed.
    crate::td_teardown::run(
        cpu,
        space,
        online,
        crate::td_teardown::TdPages {
            tdr,
            num_tdcx,
            hkid_pa: td_hkid << cfg.hkid_shift(),
            num_private: 1,
            vcpu1: None,
            vcpu1_flushed: false,
            aug: [None; 2],
        },
    );
}

/// MNG.RD of OP_STATE, CHLDCNT, the MRTD (6 elements) and MROWNER; the
/// MRTD must be the known answer.
fn read_metadata(cpu: CpuIndex, space: UserSpace, tdr: u64, num_tdcx: u64) {
    let rd = |id: u64| call(LeafId::MngRd, tdr, id, 0, 0);
    let mut s = Script::new();
    s.seamcall("CPL3 TDH.MNG.RD OP_STATE", rd(field::OP_STATE), 0);
    s.seamcall("CPL3 TDH.MNG.RD CHLDCNT", rd(field::CHLDCNT), 0);
    for k in 0..6 {
        s.seamcall("CPL3 TDH.MNG.RD MRTD element", rd(field::MRTD + k), 0);
    }
    s.seamcall("CPL3 TDH.MNG.RD MROWNER element 0", rd(field::MROWNER), 0);
    s.seamcall(
        "CPL3 TDH.MNG.RD v1, null field ID -> FIRST_FIELD_ID_IN_CONTEXT",
        [leaf(LeafId::MngRd) | 1 << 16, tdr, u64::MAX, 0, 0],
        st0(Code::MetadataFirstFieldIdInContext),
    );
    s.seamcall(
        "CPL3 TDH.MNG.RD RTMR of a non-DEBUG TD -> FIELD_NOT_READABLE",
        rd(field::RTMR),
        st0(Code::MetadataFieldNotReadable),
    );
    s.seamcall(
        "CPL3 TDH.MNG.RD reserved field ID bits -> FIELD_ID_INCORRECT",
        rd(field::MRTD | 1 << 24),
        st0(Code::MetadataFieldIdIncorrect),
    );
    let (exit, b) = s.run(cpu, space, None);
    check_eq(cpu, "harness run completed", exit, EXIT_NO_FAULT);
    let r8 = |i: usize| b.calls[i].out[3];
    check_eq(
        cpu,
        "MNG.RD: OP_STATE = RUNNABLE",
        r8(0),
        OpState::Runnable as u64,
    );
    check_eq(
        cpu,
        "MNG.RD: CHLDCNT = TDCX + SEPT + private + TDVPS pages",
        r8(1),
        num_tdcx + 4 + vmm::TDVPS_PAGES,
    );
    let mut got = [0u8; 48];
    for (k, c) in got.chunks_exact_mut(8).enumerate() {
        c.copy_from_slice(&r8(2 + k).to_le_bytes());
    }
    println!("cpu{}: MRTD (TDH.MNG.RD) = {}", cpu.0, Hex(&got));
    check(
        cpu,
        "MRTD read from ring 3 = known answer (zero page at GPA 0x1000, MR.EXTENDed)",
        got == hex48(MRTD_KAT),
        format_args!("48 bytes"),
    );
    check_eq(cpu, "MNG.RD: MROWNER = 0 (TD_PARAMS)", r8(8), 0);
    check_eq(
        cpu,
        "MNG.RD v1: RDX = first field ID (FATAL)",
        b.calls[9].out[2],
        field::FATAL,
    );
}

struct Hex<'a>(&'a [u8]);

impl core::fmt::Display for Hex<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}
