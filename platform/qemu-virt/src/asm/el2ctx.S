// Save / restore the EL2 system registers that EL3 must preserve per world
// (rmm-el3-interface.md §4: NS-EL2 and R-EL2 share one set of EL2
// registers). x0 = pointer to struct El2Regs (context.rs): 32 u64 slots in
// exactly this order.
// Slot order (u64 index): 0 sctlr_el2, 1 actlr_el2, 2 cptr_el2, 3 hcr_el2, 4 mdcr_el2, 5 hstr_el2, 6 ttbr0_el2, 7 tcr_el2, 8 mair_el2, 9 amair_el2, 10 vbar_el2, 11 elr_el2, 12 spsr_el2, 13 esr_el2, 14 far_el2, 15 hpfar_el2, 16 afsr0_el2, 17 afsr1_el2, 18 tpidr_el2, 19 sp_el2, 20 vtcr_el2, 21 vttbr_el2, 22 vpidr_el2, 23 vmpidr_el2, 24 cnthctl_el2, 25 cntvoff_el2, 26 CONTEXTIDR_EL2 (FEAT_VHE), 27 TTBR1_EL2 (FEAT_VHE), 28 icc_sre_el2, 29 ich_hcr_el2, 30 ich_vmcr_el2.
// Pairs are moved with STP/LDP: this is on every world switch.

.section .text.el2ctx, "ax"
.global el3_save_el2
el3_save_el2:
    mrs     x1, sctlr_el2
    mrs     x2, actlr_el2
    stp     x1, x2, [x0, #0]
    mrs     x1, cptr_el2
    mrs     x2, hcr_el2
    stp     x1, x2, [x0, #16]
    mrs     x1, mdcr_el2
    mrs     x2, hstr_el2
    stp     x1, x2, [x0, #32]
    mrs     x1, ttbr0_el2
    mrs     x2, tcr_el2
    stp     x1, x2, [x0, #48]
    mrs     x1, mair_el2
    mrs     x2, amair_el2
    stp     x1, x2, [x0, #64]
    mrs     x1, vbar_el2
    mrs     x2, elr_el2
    stp     x1, x2, [x0, #80]
    mrs     x1, spsr_el2
    mrs     x2, esr_el2
    stp     x1, x2, [x0, #96]
    mrs     x1, far_el2
    mrs     x2, hpfar_el2
    stp     x1, x2, [x0, #112]
    mrs     x1, afsr0_el2
    mrs     x2, afsr1_el2
    stp     x1, x2, [x0, #128]
    mrs     x1, tpidr_el2
    mrs     x2, sp_el2
    stp     x1, x2, [x0, #144]
    mrs     x1, vtcr_el2
    mrs     x2, vttbr_el2
    stp     x1, x2, [x0, #160]
    mrs     x1, vpidr_el2
    mrs     x2, vmpidr_el2
    stp     x1, x2, [x0, #176]
    mrs     x1, cnthctl_el2
    mrs     x2, cntvoff_el2
    stp     x1, x2, [x0, #192]
    mrs     x1, S3_4_C13_C0_1
    mrs     x2, S3_4_C2_C0_1
    stp     x1, x2, [x0, #208]
    mrs     x1, icc_sre_el2
    mrs     x2, ich_hcr_el2
    stp     x1, x2, [x0, #224]
    mrs     x1, ich_vmcr_el2
    str     x1, [x0, #240]
    ret

.global el3_restore_el2
el3_restore_el2:
    ldp     x1, x2, [x0, #0]
    msr     sctlr_el2, x1
    msr     actlr_el2, x2
    ldp     x1, x2, [x0, #16]
    msr     cptr_el2, x1
    msr     hcr_el2, x2
    ldp     x1, x2, [x0, #32]
    msr     mdcr_el2, x1
    msr     hstr_el2, x2
    ldp     x1, x2, [x0, #48]
    msr     ttbr0_el2, x1
    msr     tcr_el2, x2
    ldp     x1, x2, [x0, #64]
    msr     mair_el2, x1
    msr     amair_el2, x2
    ldp     x1, x2, [x0, #80]
    msr     vbar_el2, x1
    msr     elr_el2, x2
    ldp     x1, x2, [x0, #96]
    msr     spsr_el2, x1
    msr     esr_el2, x2
    ldp     x1, x2, [x0, #112]
    msr     far_el2, x1
    msr     hpfar_el2, x2
    ldp     x1, x2, [x0, #128]
    msr     afsr0_el2, x1
    msr     afsr1_el2, x2
    ldp     x1, x2, [x0, #144]
    msr     tpidr_el2, x1
    msr     sp_el2, x2
    ldp     x1, x2, [x0, #160]
    msr     vtcr_el2, x1
    msr     vttbr_el2, x2
    ldp     x1, x2, [x0, #176]
    msr     vpidr_el2, x1
    msr     vmpidr_el2, x2
    ldp     x1, x2, [x0, #192]
    msr     cnthctl_el2, x1
    msr     cntvoff_el2, x2
    ldp     x1, x2, [x0, #208]
    msr     S3_4_C13_C0_1, x1
    msr     S3_4_C2_C0_1, x2
    ldp     x1, x2, [x0, #224]
    msr     icc_sre_el2, x1
    msr     ich_hcr_el2, x2
    ldr     x1, [x0, #240]
    msr     ich_vmcr_el2, x1
    isb
    ret
