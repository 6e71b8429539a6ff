//! RmiFeatureRegister0 (cca-rmm-abi.md §4.4), returned by RMI_FEATURES index 0.
//!
//! The arch code fills [`Features`] from the ID registers (ID_AA64MMFR0/DFR0,
//! ZCR/RDVL, PMCR_EL0.N, ICH_VTR_EL2.ListRegs) and hands it to
//! [`crate::Rmm::with_features`]; this module only encodes it. Every field is
//! masked to its width so a bogus value can never spill into a neighbour.

/// Platform capabilities advertised to the host, in natural units.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Features {
    /// Maximum IPA width in bits (S2SZ): the PA width, 32..=48 (52 with LPA2).
    pub s2sz: u8,
    /// FEAT_LPA2 usable at stage 1 and stage 2 with 4 KiB granules.
    pub lpa2: bool,
    /// Maximum SVE vector length in bits (128..=2048), `None` if no SVE.
    pub sve_max_vl_bits: Option<u16>,
    /// Number of hardware breakpoints (>= 1; encoded minus one).
    pub num_bps: u8,
    /// Number of hardware watchpoints (>= 1; encoded minus one).
    pub num_wps: u8,
    /// PMU event counters (PMCR_EL0.N), `None` if no PMUv3 for realms.
    pub pmu_num_ctrs: Option<u8>,
    /// SHA-256 supported for RIM/REM.
    pub hash_sha_256: bool,
    /// SHA-512 supported for RIM/REM.
    pub hash_sha_512: bool,
    /// Number of GICv3 list registers (>= 1; encoded minus one).
    pub gicv3_num_lrs: u8,
    /// log2 of the maximum number of RECs per realm.
    pub max_recs_order: u8,
}

impl Features {
    /// Conservative values used until the arch code supplies real ones: the
    /// QEMU virt / GPT PPS width (40 bits), no LPA2/SVE/PMU, the architectural
    /// minimum of 2 breakpoints and 2 watchpoints, 4 GICv3 LRs (QEMU), both
    /// hash algorithms (implemented in software), up to 64 RECs (= MAX_CPUS).
    pub const CONSERVATIVE: Features = Features {
        s2sz: 40,
        lpa2: false,
        sve_max_vl_bits: None,
        num_bps: 2,
        num_wps: 2,
        pmu_num_ctrs: None,
        hash_sha_256: true,
        hash_sha_512: true,
        gicv3_num_lrs: 4,
        max_recs_order: 6,
    };

    /// Encode as RmiFeatureRegister0. Bits 42 and up (1.1 additions) are 0.
    pub const fn to_reg0(&self) -> u64 {
        let mut r = self.s2sz as u64; // 7:0
        if self.lpa2 {
            r |= 1 << 8;
        }
        if let Some(vl) = self.sve_max_vl_bits {
            // SVE_VL is ZCR_ELx.LEN form: VL/128 - 1 (0 = 128 bits, 15 = 2048).
            let len = (vl / 128).saturating_sub(1);
            let len = if len > 0xF { 0xF } else { len };
            r |= 1 << 9 | (len as u64) << 10;
        }
        r |= (self.num_bps.saturating_sub(1) as u64 & 0x3F) << 14;
        r |= (self.num_wps.saturating_sub(1) as u64 & 0x3F) << 20;
        if let Some(n) = self.pmu_num_ctrs {
            r |= 1 << 26 | (n as u64 & 0x1F) << 27;
        }
        if self.hash_sha_256 {
            r |= 1 << 32;
        }
        if self.hash_sha_512 {
            r |= 1 << 33;
        }
        r |= (self.gicv3_num_lrs.saturating_sub(1) as u64 & 0xF) << 34;
        r |= (self.max_recs_order as u64 & 0xF) << 38;
        r
    }
}

impl Default for Features {
    fn default() -> Self {
        Features::CONSERVATIVE
    }
}
