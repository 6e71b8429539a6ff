//! Application-processor bring-up with a broadcast INIT-SIPI-SIPI (SDM
//! Vol. 3A, "MP Initialization": typical BSP initialization sequence).
//!
//! 1. Copy the real-mode trampoline (asm/ap_trampoline.S) from ROM to
//!    0x8000 (SIPI vector 0x08; it must be a 4 KiB page below 1 MiB).
//! 2. INIT to all excluding self, ~10 ms, SIPI, ~200 us, SIPI.
//! 3. Each AP: trampoline -> q35_ap_entry32 (ROM) -> long mode on the boot
//!    page tables -> entry64.S takes a CPU index and its own stack ->
//!    `rust_start` -> the image's main.
//! 4. The BSP waits until `expected` CPUs are online or a timeout expires,
//!    re-sending the SIPI every ~1 ms meanwhile.
//!
//! Delays use writes to the POST port 0x80 (about 1 us each on PC hardware;
//! much faster under TCG) plus PAUSE.

use core::sync::atomic::{AtomicU32, Ordering};

use crate::arch::{self, Port};
use crate::lapic::{self, Icr};
use crate::{MAX_CPUS, fw_cfg};

/// Physical address of the AP trampoline.
pub const TRAMPOLINE: u64 = 0x8000;
const SIPI_VECTOR: u8 = (TRAMPOLINE >> 12) as u8;
/// Port-0x80 writes to wait for all APs (about 1 s on hardware).
const WAIT_BUDGET: u32 = 1_000_000;
/// Port-0x80 writes between SIPI retries (about 1 ms).
const SIPI_RETRY: u32 = 1_000;

/// CPUs that finished `rust_start` (the BSP included).
pub(crate) static ONLINE: AtomicU32 = AtomicU32::new(0);

// SAFETY: symbols of asm/ap_trampoline.S and linker/q35-bios.ld; only their
// addresses are used.
unsafe extern "C" {
    safe static q35_ap_trampoline: u8;
    safe static q35_ap_trampoline_end: u8;
    safe static __ap_trampoline_lma: u8;
}

/// Where the CPU count came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CountSource {
    /// fw_cfg FW_CFG_NB_CPUS (key 0x05).
    FwCfg,
    /// No fw_cfg: assume a single CPU.
    Assumed,
}

/// Result of [`start_aps`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SmpReport {
    /// CPUs QEMU reports (capped at MAX_CPUS).
    pub expected: u32,
    /// CPUs online after the wait (BSP included).
    pub online: u32,
    pub source: CountSource,
}

/// Waits about `n` microseconds. The PAUSE also makes QEMU's round-robin
/// TCG (used with `-icount`) switch to the next vCPU, without which the
/// APs would not run until the BSP's 100 ms time slice ends.
fn io_delay(n: u32) {
    for _ in 0..n {
        arch::outb(Port(0x80), 0);
        core::hint::spin_loop();
    }
}

/// CPUs online now (BSP included).
pub fn online() -> u32 {
    ONLINE.load(Ordering::Acquire)
}

/// Starts every AP (BSP only, once).
pub fn start_aps() -> SmpReport {
    let (count, source) = match fw_cfg::cpu_count() {
        Some(n) => (u32::from(n), CountSource::FwCfg),
        None => (1, CountSource::Assumed),
    };
    let expected = count.clamp(1, MAX_CPUS as u32);
    if expected > 1 {
        let src = &raw const __ap_trampoline_lma;
        let len = &raw const q35_ap_trampoline_end as usize - &raw const q35_ap_trampoline as usize;
        // SAFETY: the linker script places the trampoline image (< 4 KiB) in
        // ROM at `src` and links it at TRAMPOLINE; 0x8000..0x9000 is RAM
        // nothing else uses (layout in lib.rs).
        unsafe { core::ptr::copy_nonoverlapping(src, TRAMPOLINE as *mut u8, len) };
        lapic::enable();
        lapic::send(Icr::INIT_ALL_EXCLUDING_SELF);
        io_delay(10_000);
        lapic::send(Icr::sipi_all_excluding_self(SIPI_VECTOR));
        io_delay(200);
        lapic::send(Icr::sipi_all_excluding_self(SIPI_VECTOR));
        // A SIPI that reaches an AP before it has processed the INIT is
        // dropped (QEMU: only a CPU in wait-for-SIPI state takes it), which
        // happens under `-icount` with its round-robin vCPU scheduling. So
        // keep re-sending SIPIs while waiting: CPUs already running ignore
        // them (SDM: SIPI is only recognised in wait-for-SIPI state).
        let mut waited = 0;
        while online() < expected && waited < WAIT_BUDGET {
            io_delay(SIPI_RETRY);
            waited += SIPI_RETRY;
            if online() < expected {
                lapic::send(Icr::sipi_all_excluding_self(SIPI_VECTOR));
            }
        }
    }
    SmpReport {
        expected,
        online: online(),
        source,
    }
}
