// Save / restore the EL2 system registers that EL3 must preserve per world
// (rmm-el3-interface.md §4: NS-EL2 and R-EL2 share one set of EL2
// registers). x0 = pointer to struct El2Regs (context.rs): 32 u64 slots in
// exactly this order.


.macro el2_regs op
    \op sctlr_el2,      0
    \op actlr_el2,      1
    \op cptr_el2,       2
    \op hcr_el2,        3
    \op mdcr_el2,       4
    \op hstr_el2,       5
    \op ttbr0_el2,      6
    \op tcr_el2,        7
    \op mair_el2,       8
    \op amair_el2,      9
    \op vbar_el2,       10
    \op elr_el2,        11
    \op spsr_el2,       12
    \op esr_el2,        13
    \op far_el2,        14
    \op hpfar_el2,      15
    \op afsr0_el2,      16
    \op afsr1_el2,      17
    \op tpidr_el2,      18
    \op sp_el2,         19
    \op vtcr_el2,       20
    \op vttbr_el2,      21
    \op vpidr_el2,      22
    \op vmpidr_el2,     23
    \op cnthctl_el2,    24
    \op cntvoff_el2,    25
    \op S3_4_C13_C0_1, 26  // CONTEXTIDR_EL2 (FEAT_VHE)
    \op S3_4_C2_C0_1, 27  // TTBR1_EL2 (FEAT_VHE)
    \op icc_sre_el2,    28
    \op ich_hcr_el2,    29
    \op ich_vmcr_el2,   30
.endm

.macro save_one reg, slot
    mrs     x1, \reg
    str     x1, [x0, #(\slot * 8)]
.endm

.macro restore_one reg, slot
    ldr     x1, [x0, #(\slot * 8)]
    msr     \reg, x1
.endm

.section .text.el2ctx, "ax"
.global el3_save_el2
el3_save_el2:
    el2_regs save_one
    ret

.global el3_restore_el2
el3_restore_el2:
    el2_regs restore_one
    isb
    ret
