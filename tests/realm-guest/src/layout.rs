//! The guest's IPA map (README "Realm guest"). The host knows only the
//! link IPA (entry point), the RAM range it INIT_RIPASes and the UART; the
//! test pages are reported to it in host calls.

/// Realm IPA width the guest is built for (RSI_REALM_CONFIG must agree):
/// the protected range is [0, 2^38), bit 38 selects the unprotected alias.
pub const IPA_WIDTH: u64 = 39;
pub const UNPROTECTED: u64 = 1 << (IPA_WIDTH - 1);
/// RAM the host gives RIPAS RAM with RMI_RTT_INIT_RIPAS: [0, 1 MiB).
pub const RAM_TOP: u64 = 0x10_0000;
/// The PL011 the host emulates from MMIO exits: the unprotected alias of
/// 0x0900_0000 (the same convention as the host's small payloads).
pub const UART_IPA: u64 = UNPROTECTED | 0x0900_0000;
/// An unprotected IPA with no device: the host answers with INJECT_SEA.
pub const NO_DEVICE_IPA: u64 = UNPROTECTED | 0x0910_0000;
/// RAM the guest never touches before the probe: no DATA behind it.
pub const PAGE_UNKNOWN: u64 = 0x1_0000;
/// RAM page REC 1 fills, then asks the host to DATA_DESTROY.
pub const PAGE_DESTROY: u64 = 0x1_1000;
/// RAM page REC 0 fills, then changes to EMPTY with RSI_IPA_STATE_SET.
pub const PAGE_TO_EMPTY: u64 = 0x1_2000;
/// The first page above RAM: RIPAS EMPTY since realm creation.
pub const PAGE_EMPTY: u64 = RAM_TOP;
/// RECs the guest can run (stacks, per-REC data).
pub const MAX_RECS: usize = 4;
