//! Fixed addresses of the QEMU virt platform and of our own memory use.
//! Sources: qemu-platforms.md §2.3 (QEMU `base_memmap`) and
//! rmm-el3-interface.md §8 (TF-A's RMM load address, carve-out, shared page,
//! BL33 address), which we reproduce so one RMM binary runs under both.

/// Number of CPUs the monitor supports (QEMU virt cluster of 8). The RMM is
/// told this as `x2` (maximum number of CPUs) at cold boot.
pub const MAX_CPUS: usize = 8;
/// Per-CPU EL3 runtime stack (must match entry.S).
pub const STACK_SIZE: u64 = 0x4000;

/// Secure flash, where QEMU puts `-bios`; EL3 executes in place.
pub const FLASH_BASE: u64 = 0x0000_0000;
pub const FLASH_SIZE: u64 = 64 << 20;
/// Offset in flash of the firmware package header (written by `cargo xtask`).
pub const PACKAGE_OFFSET: u64 = 0x0020_0000;

/// MMIO window holding the GIC, UARTs, RTC, fw_cfg and GPIO.
pub const DEVICE_BASE: u64 = 0x0800_0000;
pub const DEVICE_SIZE: u64 = 0x0600_0000;
pub const UART0_BASE: u64 = 0x0900_0000;
/// Secure PL061: pin 0 powers QEMU off, pin 1 resets it (§2.3).
pub const SECURE_GPIO_BASE: u64 = 0x090B_0000;

/// Secure RAM: Root PAS, EL3 only.
pub const SECRAM_BASE: u64 = 0x0E00_0000;
pub const SECRAM_SIZE: u64 = 16 << 20;
/// CPU hold mailboxes, one u64 entry address per CPU (entry.S).
pub const MAILBOX_BASE: u64 = 0x0E00_0000;
/// GPT level-0 table (8 KiB for a 1 TB PPS with 1 GiB L0 entries).
pub const GPT_L0_BASE: u64 = 0x0E7F_E000;
/// GPT level-1 tables, 128 KiB each (one per GiB described at 4 KiB):
/// GiB 0 plus up to 31 GiB of DRAM.
pub const GPT_L1_BASE: u64 = 0x0E80_0000;
pub const GPT_L1_POOL_SIZE: u64 = 4 << 20;
/// Top 4 MiB of secure RAM: Secure PAS, reserved for a Secure-world payload
/// (none on this platform), like TF-A's secure DRAM on QEMU (§8).
pub const SECURE_BASE: u64 = GPT_L1_BASE + GPT_L1_POOL_SIZE;
pub const SECURE_SIZE: u64 = SECRAM_BASE + SECRAM_SIZE - SECURE_BASE;

/// Non-secure DRAM; QEMU places the DTB at its base for `-bios` boots.
pub const DRAM_BASE: u64 = 0x4000_0000;
/// The RMM image, linked and loaded at TF-A's address (§8).
pub const RMM_BASE: u64 = 0x4010_0000;
/// Realm carve-out holding the RMM image and the shared page (TF-A's
/// `REALM_DRAM_SIZE`, 24 MiB).
pub const RMM_CARVEOUT_SIZE: u64 = 0x0180_0000;
/// EL3 <-> RMM shared page: last page of the carve-out.
pub const RMM_SHARED_PAGE: u64 = RMM_BASE + RMM_CARVEOUT_SIZE - 0x1000;
/// Where the NS payload (BL33) is loaded and entered at NS-EL2.
pub const NS_ENTRY: u64 = 0x6000_0000;

/// Granule size used by the GPT and the RMM.
pub const GRANULE: u64 = 0x1000;
