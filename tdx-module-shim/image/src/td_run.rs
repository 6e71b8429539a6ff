//! A TD that runs (after the first TD's teardown): the ring-3 harness
//! builds a second TD from the guest image `td_guest.S` (code page
//! PAGE.ADDed and MR.EXTENDed at GPA 0xFFFF_F000, data and stack pages at
//! 0xFFFF_E000 / 0xFFFF_D000, unmeasured), enters it with TDH.VP.ENTER
//! (harness op 5, every GPR), serves its TDG.VP.VMCALLs (GHCI
//! <Instruction.IO> to port 0x3F8 becomes console output) until its vendor
//! "done" call, checks what the TD reported (TDG.VP.INFO, RTMR.EXTEND,
//! MR.REPORT, MR.VERIFYREPORT good and forged), its MRTD and RTMR[2]
//! against independent replays, and tears it down.

use core::sync::atomic::{AtomicU64, Ordering};

use cmon_measure::{Mrtd, Rtmr};
use tdx_module_shim::enter::{Gprs, exit_reason, gpr};
use tdx_module_shim::{Code, Hpa, LeafId};

use qemu_q35::paging::UserSpace;
use qemu_q35::{CpuIndex, println};

use crate::checks::{check, check_eq};
use crate::harness::{Call, EXIT_NO_FAULT};
use crate::td_build::{Script, call, other_packages};
use crate::td_mem::TdMem;
use crate::vmm::{self, PAGE};
use crate::{Job, global, post_job, st0, start_job, wait_job};

/// The TD's pages: code (measured), data, stack.
const CODE_GPA: u64 = 0xFFFF_F000;
const DATA_GPA: u64 = 0xFFFF_E000;
const STACK_GPA: u64 = 0xFFFF_D000;
const CHUNK: u64 = 256;
/// The shared page (GPA) whose word at [`STOP_OFFSET`] tells the TD to stop.
const STOP_PAGE: u64 = crate::td_mem::SHARED | 0xFFFF_A000;
const STOP_OFFSET: u64 = 0x800;
/// TDH.VP.WR field ID of the TD VMCS SHARED_EPT_POINTER (VMCS encoding
/// 0x203C).
const SHARED_EPTP_FIELD: u64 = tdx_module_shim::md_vp::field::SHARED_EPT_POINTER;
/// The AP that runs vCPU 1 when there are two LPs.
const AP: CpuIndex = CpuIndex(1);

/// vCPU 1's run on the AP, for the BSP (written before the job ends).
static V1_REGS: [AtomicU64; 16] = [const { AtomicU64::new(0) }; 16];
static V1_DONE: AtomicU64 = AtomicU64::new(0);
static V1_ENTRIES: AtomicU64 = AtomicU64::new(0);
static V1_LINE: [AtomicU64; 12] = [const { AtomicU64::new(0) }; 12];
static V1_LINE_LEN: AtomicU64 = AtomicU64::new(0);

fn vcpu1_init() -> [u64; 5] {
    let mut init = call(LeafId::VpInit, vcpu1_page(0), 0, 1, 0);
    init[0] |= 1 << 16;
    init
}

/// Job::VcpuInit: TDH.VP.INIT v1 of vCPU 1 (x2APIC ID 1) on this AP.
pub fn ap_vcpu_init(cpu: CpuIndex, space: UserSpace, tdvpr: u64) {
    let mut s = Script::new();
    if tdvpr == vcpu1_page(0) {
        s.seamcall(
            "CPL3 TD2 TDH.VP.INIT v1 (vCPU 1, x2APIC ID 1) on LP 1",
            vcpu1_init(),
            0,
        );
    }
    s.run(cpu, space, None);
}

/// Job::VcpuRun: run vCPU `tdvpr` until its done call; results in V1_*.
pub fn ap_vcpu_run(cpu: CpuIndex, space: UserSpace, tdvpr: u64) {
    let mut v = crate::td_vmm::Vmm::new();
    let d = v.enter_until_done(cpu, space, tdvpr, "TD vCPU 1");
    if let Some(r) = d {
        for (slot, x) in V1_REGS.iter().zip(r) {
            slot.store(x, Ordering::Release);
        }
    }
    for (k, w) in V1_LINE.iter().enumerate() {
        let mut b = [0u8; 8];
        b.copy_from_slice(&v.last_line[8 * k..8 * k + 8]);
        w.store(u64::from_le_bytes(b), Ordering::Release);
    }
    V1_LINE_LEN.store(v.last_len as u64, Ordering::Release);
    V1_ENTRIES.store(v.entries as u64, Ordering::Release);
    V1_DONE.store(u64::from(d.is_some()), Ordering::Release);
}

/// Job::VcpuFlush: TDH.VP.FLUSH of vCPU `tdvpr` on this AP.
pub fn ap_vcpu_flush(cpu: CpuIndex, space: UserSpace, tdvpr: u64) {
    let mut s = Script::new();
    s.seamcall(
        "CPL3 TD2 TDH.VP.FLUSH of vCPU 1 on LP 1",
        call(LeafId::VpFlush, tdvpr, 0, 0, 0),
        0,
    );
    s.run(cpu, space, None);
}

/// Private pages of the TD (code, data, stack): `vmm::private(0..3)`.
const TD_PRIVATE: u64 = 3;
/// VMM pages after vCPU 1's TDVPS: four the memory service hands out
/// (PAGE.AUG, shared pages), then the four tables of its shared EPT.
const MEM_FIRST: u64 = TD_PRIVATE + vmm::TDVPS_PAGES;
const MEM_PAGES: [u64; 4] = [
    vmm::private(MEM_FIRST),
    vmm::private(MEM_FIRST + 1),
    vmm::private(MEM_FIRST + 2),
    vmm::private(MEM_FIRST + 3),
];
const SHARED_EPT: [u64; 4] = [
    vmm::private(MEM_FIRST + 4),
    vmm::private(MEM_FIRST + 5),
    vmm::private(MEM_FIRST + 6),
    vmm::private(MEM_FIRST + 7),
];

/// TDVPS page `i` of vCPU 1 (its TDVPR, then its TDCX pages): the pool
/// pages after the TD's private pages.
pub const fn vcpu1_page(i: u64) -> u64 {
    vmm::private(TD_PRIVATE + i)
}

// SAFETY: symbols of td_guest.S (in .user_text, readable by the harness);
// only their addresses are used.
unsafe extern "C" {
    safe static td_guest_start: u8;
    safe static td_guest_end: u8;
}

fn guest_page() -> &'static [u8; 4096] {
    let start = &raw const td_guest_start as u64;
    let len = &raw const td_guest_end as u64 - start;
    if len != PAGE {
        return &[0; 4096];
    }
    // SAFETY: td_guest.S makes td_guest_start..td_guest_end exactly one
    // page of this image's code, identity mapped and never written.
    unsafe { &*(start as *const [u8; 4096]) }
}

pub use crate::td_vmm::TdRunStats;

/// Build, run, check and tear down the TD. `num_tdcx` from TDH.SYS.RD.
pub fn run(cpu: CpuIndex, space: UserSpace, online: u32, num_tdcx: u64) -> Option<TdRunStats> {
    let m = global::MODULE.get()?;
    let cfg = *m.config();
    let td_hkid = u64::from(cfg.first_private_hkid) + 1;
    let tdr = vmm::TDR;
    println!("tdx-shim: second TD: build from td_guest.S, run, attest, tear down");

    let mut s = Script::new();
    s.seamcall(
        "CPL3 TD2 TDH.MNG.CREATE",
        call(LeafId::MngCreate, tdr, td_hkid, 0, 0),
        0,
    );
    s.seamcall(
        "CPL3 TD2 TDH.MNG.KEY.CONFIG",
        call(LeafId::MngKeyConfig, tdr, 0, 0, 0),
        0,
    );
    let (exit, _) = s.run(cpu, space, None);
    check_eq(cpu, "TD2 harness run completed", exit, EXIT_NO_FAULT);
    other_packages(cpu, online, Job::MngKeyConfig, tdr);

    let mut s = Script::new();
    for i in 0..num_tdcx {
        s.seamcall(
            "CPL3 TD2 TDH.MNG.ADDCX",
            call(LeafId::MngAddCx, vmm::tdcx(i), tdr, 0, 0),
            0,
        );
    }
    s.ops(vmm::write_td_params_2);
    s.seamcall(
        "CPL3 TD2 TDH.MNG.INIT (MAX_VCPUS 2)",
        call(LeafId::MngInit, tdr, vmm::TD_PARAMS, 0, 0),
        0,
    );
    s.seamcall(
        "CPL3 TD2 TDH.VP.CREATE",
        call(LeafId::VpCreate, vmm::tdvps(0), tdr, 0, 0),
        0,
    );
    for i in 1..vmm::TDVPS_PAGES {
        s.seamcall(
            "CPL3 TD2 TDH.VP.ADDCX",
            call(LeafId::VpAddCx, vmm::tdvps(i), vmm::tdvps(0), 0, 0),
            0,
        );
    }
    let mut init = call(LeafId::VpInit, vmm::tdvps(0), 0, 0, 0);
    init[0] |= 1 << 16;
    s.seamcall("CPL3 TD2 TDH.VP.INIT v1 (vCPU 0, x2APIC ID 0)", init, 0);
    s.seamcall(
        "CPL3 TD2 TDH.VP.CREATE (vCPU 1)",
        call(LeafId::VpCreate, vcpu1_page(0), tdr, 0, 0),
        0,
    );
    for i in 1..vmm::TDVPS_PAGES {
        s.seamcall(
            "CPL3 TD2 TDH.VP.ADDCX (vCPU 1)",
            call(LeafId::VpAddCx, vcpu1_page(i), vcpu1_page(0), 0, 0),
            0,
        );
    }
    if online < 2 {
        s.seamcall(
            "CPL3 TD2 TDH.VP.INIT v1 (vCPU 1, x2APIC ID 1)",
            vcpu1_init(),
            0,
        );
    }
    for (lvl, gpa) in [(3, 0), (2, 0xC000_0000), (1, 0xFFE0_0000)] {
        s.seamcall(
            "CPL3 TD2 TDH.MEM.SEPT.ADD",
            call(LeafId::MemSeptAdd, gpa | lvl, tdr, vmm::sept(lvl), 0),
            0,
        );
    }
    let (exit, _) = s.run(cpu, space, None);
    check_eq(cpu, "TD2 harness run completed", exit, EXIT_NO_FAULT);
    if online >= 2 {
        // vCPU 1 belongs to LP 1: VP.INIT there associates it with LP 1,
        // where it will run at the same time as vCPU 0 on this LP.
        check(
            cpu,
            "TD2 TDH.VP.INIT of vCPU 1 on LP 1 (job)",
            post_job(AP, Job::VcpuInit, vcpu1_page(0)),
            format_args!(""),
        );
    }

    // The guest image into the source page (the harness copies its own
    // code page), PAGE.ADD + 16 MR.EXTENDs; data and stack zero pages.
    let code = guest_page();
    let mut s = Script::new();
    s.push(
        Call::copy(vmm::SOURCE, &raw const td_guest_start as u64, PAGE / 8),
        None,
    );
    s.seamcall(
        "CPL3 TD2 TDH.MEM.PAGE.ADD of the guest image at GPA 0xFFFF_F000",
        call(
            LeafId::MemPageAdd,
            CODE_GPA,
            tdr,
            vmm::private(0),
            vmm::SOURCE,
        ),
        0,
    );
    for k in 0..PAGE / CHUNK {
        s.seamcall(
            "CPL3 TD2 TDH.MR.EXTEND",
            call(LeafId::MrExtend, CODE_GPA + k * CHUNK, tdr, 0, 0),
            0,
        );
    }
    s.push(Call::fill(vmm::SOURCE, PAGE / 8, 0), None);
    for (j, gpa) in [(1, DATA_GPA), (2, STACK_GPA)] {
        s.seamcall(
            "CPL3 TD2 TDH.MEM.PAGE.ADD (zero page)",
            call(LeafId::MemPageAdd, gpa, tdr, vmm::private(j), vmm::SOURCE),
            0,
        );
    }
    s.seamcall(
        "CPL3 TD2 TDH.MR.FINALIZE",
        call(LeafId::MrFinalize, tdr, 0, 0, 0),
        0,
    );
    let (exit, _) = s.run(cpu, space, None);
    check_eq(cpu, "TD2 harness run completed", exit, EXIT_NO_FAULT);

    let mut want = Mrtd::new();
    let measured = want.page_add(CODE_GPA).is_ok()
        && want.extend_page(CODE_GPA, code).is_ok()
        && want.page_add(DATA_GPA).is_ok()
        && want.page_add(STACK_GPA).is_ok();
    let got = m.td_info(Hpa(tdr)).ok().and_then(|i| i.mrtd);
    check(
        cpu,
        "TD2 MRTD = independent replay (code page added + extended, two pages added)",
        measured && got == Some(want.finalize()),
        format_args!(""),
    );

    let mut mem = TdMem::new(tdr, SHARED_EPT, &MEM_PAGES);
    let stats = run_td(cpu, space, tdr, online, &mut mem);
    let mut aug = [None; 2];
    for (a, m) in aug.iter_mut().zip(mem.augmented()) {
        *a = Some(m.hpa);
    }
    if online >= 2 {
        check(
            cpu,
            "TD2 TDH.VP.FLUSH of vCPU 1 on LP 1 (job)",
            post_job(AP, Job::VcpuFlush, vcpu1_page(0)),
            format_args!(""),
        );
    }

    crate::td_teardown::run(
        cpu,
        space,
        online,
        crate::td_teardown::TdPages {
            tdr,
            num_tdcx,
            hkid_pa: td_hkid << cfg.hkid_shift(),
            num_private: TD_PRIVATE,
            vcpu1: Some(vcpu1_page(0)),
            vcpu1_flushed: online >= 2,
            aug,
        },
    );
    stats
}

/// Enter vCPU 0 until its "done" call, serving its VMCALLs and memory
/// exits with `mem`; then check.
fn run_td(
    cpu: CpuIndex,
    space: UserSpace,
    tdr: u64,
    online: u32,
    mem: &mut TdMem,
) -> Option<TdRunStats> {
    check_eq(
        cpu,
        "TD2 TDH.VP.WR SHARED_EPT_POINTER of vCPU 0 (the VMM's shared EPT)",
        mem.install(cpu, space, vmm::tdvps(0), SHARED_EPTP_FIELD),
        0,
    );
    if online >= 2 {
        // vCPU 1 runs on LP 1 while vCPU 0 runs here.
        V1_DONE.store(0, Ordering::Release);
        start_job(AP, Job::VcpuRun, vcpu1_page(0));
    }
    let mut v = crate::td_vmm::Vmm::new();
    v.mem = Some(core::mem::replace(mem, TdMem::new(tdr, SHARED_EPT, &[])));
    let done = v.enter_until_done(cpu, space, vmm::tdvps(0), "TD vCPU 0");
    if let Some(m) = v.mem.take() {
        *mem = m;
    }
    let stats = v.stats;
    let (entries, printed, preempted, seal_status) =
        (v.entries, v.printed, v.preempted, v.seal_status);
    let results = v.mem_results;
    let vmm = v.regs;
    let Some(r) = done else {
        check(
            cpu,
            "TD2 ran to its done call",
            false,
            format_args!("{entries} entries, last RAX {:#x}", vmm[gpr::RAX]),
        );
        return None;
    };
    let mut stats = stats;
    check(
        cpu,
        "TD2 ran: VP.ENTER -> TDCALL exits (exit reason 77) until its done call",
        true,
        format_args!(
            "{entries} VP.ENTERs, {printed} console bytes over GHCI <IO>, {preempted} timer exits"
        ),
    );
    check_eq(cpu, "TD2 TDG.VP.INFO status", r[gpr::RBX], 0);
    check_eq(cpu, "TD2 TDG.VP.INFO vCPU index", r[gpr::R8], 0);
    check_eq(cpu, "TD2 TDG.VP.INFO GPAW", r[gpr::R9], 48);
    check_eq(cpu, "TD2 TDG.MR.RTMR.EXTEND status", r[gpr::R12], 0);
    check_eq(cpu, "TD2 TDG.MR.REPORT status", r[gpr::R13], 0);
    check_eq(cpu, "TD2 TDG.MR.VERIFYREPORT of its report", r[gpr::R14], 0);
    check_eq(
        cpu,
        "TD2 TDG.MR.VERIFYREPORT after a REPORTDATA bit flip -> INVALID_REPORTMACSTRUCT",
        r[gpr::R15],
        st0(Code::InvalidReportMacStruct),
    );
    // After its done call the TD spins: re-entered twice, it comes back
    // through the preemption timer each time (exit reason 1).
    let mut vmm = r;
    for k in 0..2 {
        let (exit, _) = crate::td_vmm::vp_enter(cpu, space, vmm::tdvps(0), &mut vmm);
        check_eq(
            cpu,
            if k == 0 {
                "TD2 spinning TD preempted by the shim's timer: VP.ENTER exit reason 1"
            } else {
                "TD2 re-entered and preempted again"
            },
            if exit == EXIT_NO_FAULT {
                vmm[gpr::RAX]
            } else {
                u64::MAX
            },
            exit_reason::EXTERNAL_INTERRUPT,
        );
    }
    // Then the VMM lets it stop: the word it polls in its shared page,
    // and it ends with GHCI ReportFatalError; the VMM never enters it
    // again.
    let flagged = mem.write_shared(cpu, space, STOP_PAGE, STOP_OFFSET, 1);
    v.regs = vmm;
    let stopped = flagged
        && v.enter_until_done(cpu, space, vmm::tdvps(0), "TD vCPU 0")
            .is_some();
    let fatal = v.ghci.fatal;
    check(
        cpu,
        "TD2 vCPU 0 stopped with GHCI ReportFatalError: code 0 and its 64-byte message",
        stopped
            && fatal.is_some_and(|f| {
                f.code == 0 && f.text() == "TD2 vCPU 0: stopping through GHCI ReportFatalError"
            }),
        format_args!("{:?}", fatal.as_ref().map(|f| (f.text(), f.code, f.gpa))),
    );
    check_eq(
        cpu,
        "TD2 vendor sealing leaf (MRTD-bound key, version 1) status",
        seal_status,
        0,
    );
    stats.quote_ticks = crate::td_checks::memory_checks(cpu, tdr, &results, mem);
    // vCPU 1: its first entry starts at the reset vector with RSI = 1
    // (§6.3), so it takes the guest's second path: TDG.VP.INFO, a console
    // line, done. With two LPs it ran on LP 1 meanwhile; else it runs now.
    let (regs, entries, line_buf, line_len, where_) = if online >= 2 {
        let finished = wait_job(AP);
        let r: Gprs = core::array::from_fn(|i| V1_REGS[i].load(Ordering::Acquire));
        let mut line = [0u8; 96];
        for (k, b) in line.iter_mut().enumerate() {
            *b = (V1_LINE[k / 8].load(Ordering::Acquire) >> ((k % 8) * 8)) as u8;
        }
        let done = finished && V1_DONE.load(Ordering::Acquire) == 1;
        (
            done.then_some(r),
            V1_ENTRIES.load(Ordering::Acquire),
            line,
            V1_LINE_LEN.load(Ordering::Acquire) as usize,
            "on LP 1, at the same time as vCPU 0 on LP 0",
        )
    } else {
        let mut v1 = crate::td_vmm::Vmm::new();
        let d1 = v1.enter_until_done(cpu, space, vcpu1_page(0), "TD vCPU 1");
        (
            d1,
            v1.entries as u64,
            v1.last_line,
            v1.last_len,
            "after vCPU 0 on this LP",
        )
    };
    let line = core::str::from_utf8(&line_buf[..line_len.min(96)]).unwrap_or("");
    check(
        cpu,
        "TD2 vCPU 1 ran to its done call: TDG.VP.INFO vCPU index 1, its own console line",
        regs.is_some_and(|r| r[gpr::RBX] == 0 && r[gpr::R8] == 1) && line == "hello from vCPU 1",
        format_args!("{entries} VP.ENTERs {where_}, line {line:?}"),
    );
    let mut rtmr = Rtmr::new();
    let data: [u8; 48] = core::array::from_fn(|i| 0x11 + i as u8);
    rtmr.extend(&data);
    let got = global::MODULE
        .get()
        .and_then(|m| m.td_info(Hpa(tdr)).ok())
        .map(|i| i.rtmr[2]);
    check(
        cpu,
        "TD2 RTMR[2] = SHA-384(0^48 || the 48 bytes it extended)",
        got == Some(rtmr.value()),
        format_args!(""),
    );
    Some(stats)
}
