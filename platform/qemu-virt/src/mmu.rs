//! EL3 stage-1 translation: identity map with the PAS of each region chosen
//! explicitly (FEAT_RME {NSE, NS} descriptor bits), so EL3 can write the
//! Realm-PAS shared page and load NS images while the GPT is enforced.

use crate::arch::{self, read_sysreg, write_sysreg};
use crate::layout::*;
use arm_paging::{Access, Attrs, MemType, PageTables, Pas, Regime, Table};
use core::cell::UnsafeCell;

const POOL_TABLES: usize = 16;
/// 39-bit VA (start at level 1) covers all of QEMU virt's low map and DRAM.
const VA_BITS: u32 = 39;
/// TCR.PS = 2: 40-bit physical addresses, as the GPT's PPS.
const PS_40BIT: u8 = 2;

#[repr(C, align(4096))]
struct Pool(UnsafeCell<[Table; POOL_TABLES]>);
// SAFETY: the pool is written only by the primary CPU in `build`, before any
// other CPU is released; afterwards it is only read by the table walker.
unsafe impl Sync for Pool {}
static POOL: Pool = Pool(UnsafeCell::new([Table::ZERO; POOL_TABLES]));

static mut ROOT_PA: u64 = 0;

const fn attrs(mem: MemType, access: Access, exec: bool, pas: Pas) -> Attrs {
    Attrs {
        mem,
        access,
        exec,
        pas,
    }
}

/// Build the EL3 tables (primary CPU, once). `dram_end` is the exclusive end
/// of the DRAM reported by QEMU's DTB.
pub fn build(dram_end: u64) -> Result<(), arm_paging::MapError> {
    let pool_pa = POOL.0.get() as u64;
    // SAFETY: called once on the primary CPU before secondaries run and
    // before the MMU uses the pool (Pool contract).
    let pool = unsafe { &mut *POOL.0.get() };
    let mut pt = PageTables::new(pool, pool_pa, Regime::El3, VA_BITS)?;
    use Access::*;
    use MemType::*;
    pt.map(
        FLASH_BASE,
        FLASH_BASE,
        FLASH_SIZE,
        attrs(Normal, ReadOnly, true, Pas::Root),
    )?;
    pt.map(
        DEVICE_BASE,
        DEVICE_BASE,
        DEVICE_SIZE,
        attrs(Device, ReadWrite, false, Pas::Root),
    )?;
    pt.map(
        SECRAM_BASE,
        SECRAM_BASE,
        SECRAM_SIZE,
        attrs(Normal, ReadWrite, false, Pas::Root),
    )?;
    let ns = attrs(Normal, ReadWrite, false, Pas::NonSecure);
    pt.map(DRAM_BASE, DRAM_BASE, dram_end - DRAM_BASE, ns)?;
    let realm = attrs(Normal, ReadWrite, false, Pas::Realm);
    pt.map(RMM_BASE, RMM_BASE, RMM_CARVEOUT_SIZE, realm)?;
    // SAFETY: single writer (primary, before secondaries start).
    unsafe { ROOT_PA = pt.root_pa() };
    Ok(())
}

/// Turn the MMU on for the calling CPU with the tables from `build`.
pub fn enable_on_this_cpu() {
    // SAFETY: written once by the primary before any CPU calls this.
    let root = unsafe { ROOT_PA };
    write_sysreg!("mair_el3", arm_paging::mair_value());
    write_sysreg!(
        "tcr_el3",
        arm_paging::tcr_el3(VA_BITS, PS_40BIT).unwrap_or(0)
    );
    write_sysreg!("ttbr0_el3", root);
    arch::dsb_sy();
    arch::tlbi_alle3();
    let sctlr = read_sysreg!("sctlr_el3") | arm_paging::sctlr_mmu_on_bits();
    // Turning the MMU on keeps the identity map, so execution continues.
    write_sysreg!("sctlr_el3", sctlr);
    arch::isb();
}
