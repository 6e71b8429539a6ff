//! The RmiRecRun halves (cca-rmm-abi.md §4.3): RecRun.enter as copied in
//! once, RecRun.exit as written once, and the exit reason, entry flag and
//! ESR constants of §8.

/// RmiRecExitReason values (§8).
pub mod exit_reason {
    /// RMI_EXIT_SYNC.
    pub const SYNC: u64 = 0;
    /// RMI_EXIT_IRQ.
    pub const IRQ: u64 = 1;
    /// RMI_EXIT_FIQ.
    pub const FIQ: u64 = 2;
    /// RMI_EXIT_PSCI.
    pub const PSCI: u64 = 3;
    /// RMI_EXIT_RIPAS_CHANGE.
    pub const RIPAS_CHANGE: u64 = 4;
    /// RMI_EXIT_HOST_CALL.
    pub const HOST_CALL: u64 = 5;
    /// RMI_EXIT_SERROR.
    pub const SERROR: u64 = 6;
}

/// RecRun.enter.flags (§4.3).
pub mod enter_flags {
    /// Complete an emulatable data abort.
    pub const EMUL_MMIO: u64 = 1 << 0;
    /// Inject an SEA for the last unprotected data abort.
    pub const INJECT_SEA: u64 = 1 << 1;
    /// Trap WFI.
    pub const TRAP_WFI: u64 = 1 << 2;
    /// Trap WFE.
    pub const TRAP_WFE: u64 = 1 << 3;
    /// Reject the RIPAS change (1) or accept it (0).
    pub const RIPAS_RESPONSE: u64 = 1 << 4;
}

/// ESR_EL2 fields.
pub mod esr {
    /// EC, bits 31:26.
    pub const EC_SHIFT: u32 = 26;
    /// EC mask (in place).
    pub const EC_MASK: u64 = 0x3F << EC_SHIFT;
    /// IL.
    pub const IL: u64 = 1 << 25;
    /// EC: WFI/WFE.
    pub const EC_WFX: u64 = 0x01;
    /// EC: HVC64.
    pub const EC_HVC64: u64 = 0x16;
    /// EC: SMC64.
    pub const EC_SMC64: u64 = 0x17;
    /// EC: instruction abort from a lower EL.
    pub const EC_IABT_LOWER: u64 = 0x20;
    /// EC: instruction abort from the same EL.
    pub const EC_IABT_CUR: u64 = 0x21;
    /// EC: data abort from a lower EL.
    pub const EC_DABT_LOWER: u64 = 0x24;
    /// EC: data abort from the same EL.
    pub const EC_DABT_CUR: u64 = 0x25;
    /// WFx TI bit.
    pub const WFX_TI: u64 = 1 << 0;
    /// ISV.
    pub const ISV: u64 = 1 << 24;
    /// SAS, 23:22.
    pub const SAS_SHIFT: u32 = 22;
    /// SAS mask.
    pub const SAS_MASK: u64 = 0b11 << SAS_SHIFT;
    /// SSE.
    pub const SSE: u64 = 1 << 21;
    /// SRT, 20:16.
    pub const SRT_SHIFT: u32 = 16;
    /// SF.
    pub const SF: u64 = 1 << 15;
    /// SET, 12:11.
    pub const SET_MASK: u64 = 0b11 << 11;
    /// FnV.
    pub const FNV: u64 = 1 << 10;
    /// EA.
    pub const EA: u64 = 1 << 9;
    /// WnR.
    pub const WNR: u64 = 1 << 6;
    /// FSC, 5:0.
    pub const FSC_MASK: u64 = 0x3F;
    /// FSC: synchronous external abort (not on a walk).
    pub const FSC_SEA: u64 = 0x10;
    /// FSC: translation fault at level 0 (+ level).
    pub const FSC_TRANSLATION_L0: u64 = 0x04;
    /// Non-emulatable abort mask (§8): EC, SET, FnV, EA, FSC.
    pub const NON_EMULATABLE_MASK: u64 = EC_MASK | SET_MASK | FNV | EA | FSC_MASK;
    /// Emulatable abort mask (§8): the above plus ISV, SAS, SF, WnR (no
    /// SRT, no SSE).
    pub const EMULATABLE_MASK: u64 = NON_EMULATABLE_MASK | ISV | SAS_MASK | SF | WNR;
}

/// Bytes of RecRun.enter copied in: flags .. gicv3_lrs[15].
pub(super) const ENTER_LEN: usize = 0x388;
/// RecRun.exit offset and length.
pub(super) const EXIT_OFFSET: u64 = 0x800;
const EXIT_LEN: usize = 0x800;
/// GICv3 list registers in RecRun.
pub const GIC_LRS: usize = 16;

/// RecRun.enter, decoded from the single copy.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RecEnter {
    pub flags: u64,
    pub gprs: [u64; 31],
    pub gicv3_hcr: u64,
    pub gicv3_lrs: [u64; GIC_LRS],
}

/// RecRun.enter as copied in: little-endian words (aligned, so decoding is
/// a plain load per field on the strict-alignment firmware target).
pub(super) type EnterWords = [u64; ENTER_LEN / 8];

impl RecEnter {
    pub(super) fn parse(w: &EnterWords) -> RecEnter {
        let word = |off: usize| u64::from_le(w[off / 8]);
        RecEnter {
            flags: word(0x000),
            gprs: core::array::from_fn(|i| word(0x200 + 8 * i)),
            gicv3_hcr: word(0x300),
            gicv3_lrs: core::array::from_fn(|i| word(0x308 + 8 * i)),
        }
    }
}

/// RecRun.exit, encoded once at the end of REC_ENTER. Every field not set
/// reads 0.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct RecExit {
    pub reason: u64,
    pub esr: u64,
    pub far: u64,
    pub hpfar: u64,
    pub gprs: [u64; 31],
    pub gicv3_hcr: u64,
    pub gicv3_lrs: [u64; GIC_LRS],
    pub gicv3_misr: u64,
    pub gicv3_vmcr: u64,
    pub cntp_ctl: u64,
    pub cntp_cval: u64,
    pub cntv_ctl: u64,
    pub cntv_cval: u64,
    pub ripas_base: u64,
    pub ripas_top: u64,
    pub ripas_value: u64,
    pub imm: u64,
    pub pmu_ovf_status: u64,
}

impl RecExit {
    pub(crate) fn with_reason(reason: u64) -> RecExit {
        RecExit {
            reason,
            ..RecExit::default()
        }
    }

    /// RMI_EXIT_SYNC with the given (already masked) syndrome.
    pub(crate) fn sync(esr: u64, far: u64, hpfar: u64) -> RecExit {
        RecExit {
            esr,
            far,
            hpfar,
            ..RecExit::with_reason(exit_reason::SYNC)
        }
    }

    /// The exit half as little-endian words, written with one `write_ns`.
    pub(super) fn to_words(self) -> [u64; EXIT_LEN / 8] {
        let mut b = [0u64; EXIT_LEN / 8];
        let mut put = |off: usize, v: u64| b[off / 8] = v.to_le();
        put(0x000, self.reason);
        put(0x100, self.esr);
        put(0x108, self.far);
        put(0x110, self.hpfar);
        for (i, &g) in self.gprs.iter().enumerate() {
            put(0x200 + 8 * i, g);
        }
        put(0x300, self.gicv3_hcr);
        for (i, &l) in self.gicv3_lrs.iter().enumerate() {
            put(0x308 + 8 * i, l);
        }
        put(0x388, self.gicv3_misr);
        put(0x390, self.gicv3_vmcr);
        put(0x400, self.cntp_ctl);
        put(0x408, self.cntp_cval);
        put(0x410, self.cntv_ctl);
        put(0x418, self.cntv_cval);
        put(0x500, self.ripas_base);
        put(0x508, self.ripas_top);
        put(0x510, self.ripas_value & 0xFF);
        put(0x600, self.imm);
        put(0x700, self.pmu_ovf_status);
        b
    }
}
