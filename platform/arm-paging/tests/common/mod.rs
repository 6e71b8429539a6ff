//! Shared helpers for the host tests.
#![allow(dead_code)]

use arm_paging::{Access, Attrs, MemType, Pas, Table};

pub const KIB: u64 = 1 << 10;
pub const MIB: u64 = 1 << 20;
pub const GIB: u64 = 1 << 30;

/// A pool of `n` zeroed tables and a plausible PA for it (QEMU secure RAM).
pub fn pool(n: usize) -> Vec<Table> {
    vec![Table::ZERO; n]
}

/// PA used for the pool in tests.
pub const POOL_PA: u64 = 0x0E01_0000;

pub const fn attrs(mem: MemType, access: Access, exec: bool, pas: Pas) -> Attrs {
    Attrs {
        mem,
        access,
        exec,
        pas,
    }
}

/// Normal RO executable.
pub const fn code(pas: Pas) -> Attrs {
    attrs(MemType::Normal, Access::ReadOnly, true, pas)
}

/// Normal RW execute-never.
pub const fn data(pas: Pas) -> Attrs {
    attrs(MemType::Normal, Access::ReadWrite, false, pas)
}

/// Device RW (always XN).
pub const fn device(pas: Pas) -> Attrs {
    attrs(MemType::Device, Access::ReadWrite, false, pas)
}
