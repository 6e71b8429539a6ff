//! Local APIC in xAPIC mode, MMIO at 0xFEE0_0000 (SDM Vol. 3A, "Advanced
//! Programmable Interrupt Controller (APIC)": register map, ICR, SVR). The
//! boot page tables map the 3..4 GiB range UC (entry32.S).

use crate::arch::Mmio32;

const BASE: u64 = 0xFEE0_0000;
const ID: Mmio32 = Mmio32(BASE + 0x20);
const SVR: Mmio32 = Mmio32(BASE + 0xF0);
const ICR_LOW: Mmio32 = Mmio32(BASE + 0x300);
const ICR_HIGH: Mmio32 = Mmio32(BASE + 0x310);
const EOI: Mmio32 = Mmio32(BASE + 0xB0);
const LVT_TIMER: Mmio32 = Mmio32(BASE + 0x320);
const TIMER_INITIAL: Mmio32 = Mmio32(BASE + 0x380);
const TIMER_DIVIDE: Mmio32 = Mmio32(BASE + 0x3E0);
/// LVT mask bit.
const LVT_MASKED: u32 = 1 << 16;
/// Divide Configuration 1011b: divide by 1.
const DIVIDE_BY_1: u32 = 0b1011;

/// SVR bit 8: APIC software enable.
const SVR_ENABLE: u32 = 1 << 8;
/// Spurious-interrupt vector (unused: interrupts stay masked).
const SPURIOUS_VECTOR: u32 = 0xFF;
/// ICR bit 12: delivery status (1 = send pending).
const ICR_SEND_PENDING: u32 = 1 << 12;

/// An Interrupt Command Register low word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Icr(pub u32);

impl Icr {
    /// INIT, level assert, to all excluding self (SDM "Typical BSP
    /// Initialization Sequence": 000C4500H).
    pub const INIT_ALL_EXCLUDING_SELF: Icr = Icr(0x000C_4500);

    /// Start-up IPI to all excluding self, starting APs at `vector << 12`
    /// (000C46XXH).
    pub const fn sipi_all_excluding_self(vector: u8) -> Icr {
        Icr(0x000C_4600 | vector as u32)
    }
}

/// This CPU's local APIC ID (ID register bits 31:24).
pub fn id() -> u32 {
    ID.read() >> 24
}

/// Software-enables this CPU's local APIC.
pub fn enable() {
    SVR.write(SVR.read() | SVR_ENABLE | SPURIOUS_VECTOR);
}

/// Sends an IPI (destination field 0: the shorthand in `icr` selects the
/// targets) and waits until the APIC has accepted it.
pub fn send(icr: Icr) {
    ICR_HIGH.write(0);
    ICR_LOW.write(icr.0);
    while ICR_LOW.read() & ICR_SEND_PENDING != 0 {
        core::hint::spin_loop();
    }
}

/// Arms this CPU's APIC timer once: `vector` after `count` APIC-bus ticks
/// (divide by 1). The interrupt is taken only where RFLAGS.IF = 1.
pub fn timer_oneshot(vector: u8, count: u32) {
    TIMER_DIVIDE.write(DIVIDE_BY_1);
    LVT_TIMER.write(u32::from(vector));
    TIMER_INITIAL.write(count);
}

/// Stops this CPU's APIC timer (masked, count 0). An interrupt it already
/// raised stays pending until taken.
pub fn timer_stop() {
    LVT_TIMER.write(LVT_MASKED);
    TIMER_INITIAL.write(0);
}

/// Signals end of interrupt for the interrupt being handled.
pub fn eoi() {
    EOI.write(0);
}
