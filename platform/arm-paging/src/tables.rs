//! The table builder: walks, allocation from the pool, block splitting.

use crate::desc::{
    self, INVALID, LEAF_ATTR_MASK, OA_MASK, PA_LIMIT, TYPE_TABLE_PAGE, VALID, table_descriptor,
};
use crate::{Attrs, ENTRIES, MapError, Regime, TABLE_SIZE, Table};

/// Bit position of the lowest VA bit resolved at `level` with the 4 KiB
/// granule: 39 (L0), 30 (L1), 21 (L2), 12 (L3) (Arm ARM D8.2).
const fn shift(level: u8) -> u32 {
    12 + 9 * (3 - level as u32)
}

/// Bytes covered by one entry at `level`.
const fn entry_size(level: u8) -> u64 {
    1 << shift(level)
}

/// Index of `va` in a table at `level`.
const fn index(va: u64, level: u8) -> usize {
    ((va >> shift(level)) as usize) & (ENTRIES - 1)
}

/// Stage-1 translation tables for one regime, built in a borrowed pool.
///
/// `pool[0]` is the root table (at [`PageTables::root_pa`]); further tables
/// are taken from the pool in order. The pool is identity mapped: table `i`
/// lives at physical address `pool_pa + i * 4096`.
///
/// The builder is meant to run with the MMU off (or on tables not yet live):
/// it does not perform break-before-make or TLB maintenance.
#[derive(Debug)]
pub struct PageTables<'a> {
    pool: &'a mut [Table],
    pool_pa: u64,
    regime: Regime,
    va_bits: u32,
    start_level: u8,
    used: usize,
}

impl<'a> PageTables<'a> {
    /// Starts an empty address space of `2^va_bits` bytes (`va_bits` in
    /// 32..=48) in `pool`, whose first table is at physical address
    /// `pool_pa`. The walk starts at level 0 when `va_bits > 39`, else at
    /// level 1 (Arm ARM D8.2, 4 KiB granule). Clears the root table.
    ///
    /// # Errors
    ///
    /// [`MapError::InvalidVaBits`], [`MapError::EmptyPool`],
    /// [`MapError::Misaligned`] (`pool_pa` not 4 KiB aligned) or
    /// [`MapError::PaOutOfRange`] (pool beyond 48 bits).
    pub fn new(
        pool: &'a mut [Table],
        pool_pa: u64,
        regime: Regime,
        va_bits: u32,
    ) -> Result<Self, MapError> {
        if !(32..=48).contains(&va_bits) {
            return Err(MapError::InvalidVaBits(va_bits));
        }
        if pool.is_empty() {
            return Err(MapError::EmptyPool);
        }
        if !pool_pa.is_multiple_of(TABLE_SIZE) {
            return Err(MapError::Misaligned);
        }
        let pool_bytes = (pool.len() as u64)
            .checked_mul(TABLE_SIZE)
            .ok_or(MapError::PaOutOfRange)?;
        match pool_pa.checked_add(pool_bytes) {
            Some(end) if end <= PA_LIMIT => {}
            _ => return Err(MapError::PaOutOfRange),
        }
        pool[0] = Table::ZERO;
        let start_level = if va_bits > 39 { 0 } else { 1 };
        Ok(Self {
            pool,
            pool_pa,
            regime,
            va_bits,
            start_level,
            used: 1,
        })
    }

    /// Physical address of the root table, for `TTBR0_EL3` / `TTBR0_EL2`.
    pub fn root_pa(&self) -> u64 {
        self.pool_pa
    }

    /// Regime the tables were built for.
    pub fn regime(&self) -> Regime {
        self.regime
    }

    /// Level the walk starts at (0 or 1).
    pub fn start_level(&self) -> u8 {
        self.start_level
    }

    /// Number of pool tables in use (the root included).
    pub fn tables_used(&self) -> usize {
        self.used
    }

    /// Physical address of pool table `index`, if it is in use.
    pub fn table_pa(&self, index: usize) -> Option<u64> {
        (index < self.used).then(|| self.pool_pa + index as u64 * TABLE_SIZE)
    }

    /// Read-only view of pool table `index`, if it is in use.
    pub fn table(&self, index: usize) -> Option<&Table> {
        self.pool[..self.used].get(index)
    }

    /// Maps `[va, va + size)` to `[pa, pa + size)` with `attrs`.
    ///
    /// All three must be 4 KiB aligned. Each piece uses the largest leaf
    /// that fits its alignment: 1 GiB block (L1), 2 MiB block (L2) or 4 KiB
    /// page (L3). A later mapping overrides earlier ones where they overlap;
    /// a block that is only partly overridden is first split into a table
    /// holding equivalent entries, so the rest keeps its old attributes.
    /// Where a finer table already exists it is reused, not replaced.
    ///
    /// The number of tables needed is computed first: on any error nothing
    /// has been changed.
    ///
    /// # Errors
    ///
    /// [`MapError::ZeroSize`], [`MapError::Misaligned`],
    /// [`MapError::VaOutOfRange`], [`MapError::PaOutOfRange`],
    /// [`MapError::InvalidPas`], [`MapError::WritableExecutable`] or
    /// [`MapError::PoolExhausted`].
    pub fn map(&mut self, va: u64, pa: u64, size: u64, attrs: Attrs) -> Result<(), MapError> {
        if size == 0 {
            return Err(MapError::ZeroSize);
        }
        if !(va | pa | size).is_multiple_of(TABLE_SIZE) {
            return Err(MapError::Misaligned);
        }
        let end = match va.checked_add(size) {
            Some(end) if end <= self.va_limit() => end,
            _ => return Err(MapError::VaOutOfRange),
        };
        match pa.checked_add(size) {
            Some(pa_end) if pa_end <= PA_LIMIT => {}
            _ => return Err(MapError::PaOutOfRange),
        }
        let bits = desc::leaf_attr_bits(attrs, self.regime)?;
        let needed = self.count_new(Some(0), self.start_level, va, end, pa);
        if needed > self.free() {
            return Err(MapError::PoolExhausted);
        }
        self.apply(0, self.start_level, va, end, pa, bits)
    }

    /// Walks the tables for `va`: the output address, the attributes and the
    /// level of the leaf descriptor (1, 2 or 3), or `None` if unmapped.
    pub fn translate(&self, va: u64) -> Option<(u64, Attrs, u8)> {
        if va >= self.va_limit() {
            return None;
        }
        let mut table = 0;
        let mut level = self.start_level;
        loop {
            let desc = self.pool[table].0[index(va, level)];
            if desc & VALID == 0 {
                return None;
            }
            let is_table_or_page = desc & TYPE_TABLE_PAGE != 0;
            if level < 3 && is_table_or_page {
                table = self.child(desc, level)?;
                level += 1;
                continue;
            }
            if level == 0 || (level == 3 && !is_table_or_page) {
                // L0 block / L3 "block" encodings are invalid (D8.3).
                return None;
            }
            let mask = entry_size(level) - 1;
            let pa = (desc & OA_MASK & !mask) | (va & mask);
            return Some((pa, desc::decode_attrs(desc, self.regime), level));
        }
    }

    /// Makes sure a level-3 table covers `va`, creating tables and splitting
    /// blocks on the way as needed, and returns `(pool index, entry index)`
    /// of the L3 entry for `va`. Entries created fresh are [`INVALID`];
    /// entries from a split block keep its mapping.
    ///
    /// The RMM uses this to reserve slot-buffer VAs whose L3 entries it
    /// rewrites at run time (see [`page_descriptor`](crate::page_descriptor)
    /// and [`PageTables::table_pa`]). On error nothing has been changed.
    ///
    /// # Errors
    ///
    /// [`MapError::VaOutOfRange`] or [`MapError::PoolExhausted`].
    pub fn l3_table_for(&mut self, va: u64) -> Result<(usize, usize), MapError> {
        if va >= self.va_limit() {
            return Err(MapError::VaOutOfRange);
        }
        // Dry run: count the levels below the last existing table.
        let mut table = 0;
        let mut level = self.start_level;
        while level < 3 {
            match self.child(self.pool[table].0[index(va, level)], level) {
                Some(next) => {
                    table = next;
                    level += 1;
                }
                None => break,
            }
        }
        if usize::from(3 - level) > self.free() {
            return Err(MapError::PoolExhausted);
        }
        while level < 3 {
            let idx = index(va, level);
            let desc = self.pool[table].0[idx];
            let next = self.new_table_for(desc, level)?;
            self.pool[table].0[idx] = table_descriptor(self.pool_pa + next as u64 * TABLE_SIZE);
            table = next;
            level += 1;
        }
        Ok((table, index(va, 3)))
    }

    /// `2^va_bits`.
    fn va_limit(&self) -> u64 {
        1 << self.va_bits
    }

    /// Tables left in the pool.
    fn free(&self) -> usize {
        self.pool.len() - self.used
    }

    /// Pool index of the next-level table `desc` points to, if `desc` is a
    /// valid table descriptor at `level` (< 3) into the used pool.
    fn child(&self, desc: u64, level: u8) -> Option<usize> {
        if level >= 3 || desc & (VALID | TYPE_TABLE_PAGE) != (VALID | TYPE_TABLE_PAGE) {
            return None;
        }
        let offset = (desc & OA_MASK).checked_sub(self.pool_pa)?;
        let idx = usize::try_from(offset / TABLE_SIZE).ok()?;
        (idx > 0 && idx < self.used).then_some(idx)
    }

    /// Takes a zeroed table from the pool.
    fn alloc(&mut self) -> Result<usize, MapError> {
        if self.used >= self.pool.len() {
            return Err(MapError::PoolExhausted);
        }
        let idx = self.used;
        self.pool[idx] = Table::ZERO;
        self.used += 1;
        Ok(idx)
    }

    /// New table at `level + 1` replacing the non-table entry `desc` at
    /// `level`: empty if `desc` is invalid, otherwise the block split into
    /// 512 next-level entries with the same attributes.
    fn new_table_for(&mut self, desc: u64, level: u8) -> Result<usize, MapError> {
        let idx = self.alloc()?;
        let is_block = level >= 1 && desc & (VALID | TYPE_TABLE_PAGE) == VALID;
        if is_block {
            let child_level = level + 1;
            let step = entry_size(child_level);
            let base = desc & OA_MASK & !(entry_size(level) - 1);
            let kind = if child_level == 3 {
                TYPE_TABLE_PAGE | VALID
            } else {
                VALID
            };
            let attrs = desc & LEAF_ATTR_MASK;
            for (i, entry) in self.pool[idx].0.iter_mut().enumerate() {
                *entry = (base + i as u64 * step) | attrs | kind;
            }
        }
        Ok(idx)
    }

    /// Whether `[va, end)` within one entry at `level` can be a block there.
    fn block_fits(level: u8, va: u64, end: u64, pa: u64) -> bool {
        let size = entry_size(level);
        (1..3).contains(&level)
            && va.is_multiple_of(size)
            && end - va == size
            && pa.is_multiple_of(size)
    }

    /// Tables `apply` would allocate for `[va, end) -> pa` below `table`
    /// (`None`: a table that does not exist yet, or a split block).
    fn count_new(&self, table: Option<usize>, level: u8, va: u64, end: u64, pa: u64) -> usize {
        let mut needed = 0;
        let mut cur = va;
        while cur < end {
            let size = entry_size(level);
            let sub_end = end.min((cur & !(size - 1)) + size);
            let sub_pa = pa + (cur - va);
            let desc = table.map_or(INVALID, |t| self.pool[t].0[index(cur, level)]);
            if level < 3 {
                if let Some(next) = self.child(desc, level) {
                    needed += self.count_new(Some(next), level + 1, cur, sub_end, sub_pa);
                } else if !Self::block_fits(level, cur, sub_end, sub_pa) {
                    needed += 1 + self.count_new(None, level + 1, cur, sub_end, sub_pa);
                }
            }
            cur = sub_end;
        }
        needed
    }

    /// Writes the leaves for `[va, end) -> pa` with attribute `bits` below
    /// `table` at `level`.
    fn apply(
        &mut self,
        table: usize,
        level: u8,
        va: u64,
        end: u64,
        pa: u64,
        bits: u64,
    ) -> Result<(), MapError> {
        let mut cur = va;
        while cur < end {
            let size = entry_size(level);
            let sub_end = end.min((cur & !(size - 1)) + size);
            let sub_pa = pa + (cur - va);
            let idx = index(cur, level);
            let desc = self.pool[table].0[idx];
            if level == 3 {
                self.pool[table].0[idx] = sub_pa | bits | TYPE_TABLE_PAGE | VALID;
            } else if let Some(next) = self.child(desc, level) {
                self.apply(next, level + 1, cur, sub_end, sub_pa, bits)?;
            } else if Self::block_fits(level, cur, sub_end, sub_pa) {
                self.pool[table].0[idx] = sub_pa | bits | VALID;
            } else {
                let next = self.new_table_for(desc, level)?;
                self.pool[table].0[idx] = table_descriptor(self.pool_pa + next as u64 * TABLE_SIZE);
                self.apply(next, level + 1, cur, sub_end, sub_pa, bits)?;
            }
            cur = sub_end;
        }
        Ok(())
    }
}
