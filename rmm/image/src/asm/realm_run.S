// Entering a realm at R-EL1 and coming back (the REC run loop's core).
//
// u64 rmm_realm_run(struct RealmGprs *ctx)
//   ctx: x0..x30 at 0x00..0xF0, pc at 0xF8, pstate at 0x100.
// Saves the RMM's callee-saved registers and ctx on the RMM stack, loads
// the realm's GPRs, PC and PSTATE and ERETs. Any exception from the realm
// (lower EL, AArch64 vectors in entry.S) lands in rmm_realm_exit with the
// realm's x0/x1 pushed and x1 = kind (0 sync, 1 IRQ, 2 FIQ, 3 SError); it
// stores the realm's state back into ctx and returns kind to the caller.
// SP_EL2 is not touched by the realm, so at the exit it is the value it had
// at the ERET: the frame built here.

.equ RR_FRAME,  112
.equ RR_CTX,    96
.equ CTX_PC,    0xF8

.section .text, "ax"
.global rmm_realm_run
rmm_realm_run:
    sub     sp, sp, #RR_FRAME
    stp     x19, x20, [sp, #0]
    stp     x21, x22, [sp, #16]
    stp     x23, x24, [sp, #32]
    stp     x25, x26, [sp, #48]
    stp     x27, x28, [sp, #64]
    stp     x29, x30, [sp, #80]
    str     x0, [sp, #RR_CTX]
    ldp     x1, x2, [x0, #CTX_PC]
    msr     elr_el2, x1
    msr     spsr_el2, x2
    ldp     x2, x3, [x0, #0x10]
    ldp     x4, x5, [x0, #0x20]
    ldp     x6, x7, [x0, #0x30]
    ldp     x8, x9, [x0, #0x40]
    ldp     x10, x11, [x0, #0x50]
    ldp     x12, x13, [x0, #0x60]
    ldp     x14, x15, [x0, #0x70]
    ldp     x16, x17, [x0, #0x80]
    ldp     x18, x19, [x0, #0x90]
    ldp     x20, x21, [x0, #0xA0]
    ldp     x22, x23, [x0, #0xB0]
    ldp     x24, x25, [x0, #0xC0]
    ldp     x26, x27, [x0, #0xD0]
    ldp     x28, x29, [x0, #0xE0]
    ldr     x30, [x0, #0xF0]
    ldp     x0, x1, [x0, #0x00]
    eret

.global rmm_realm_exit
rmm_realm_exit:
    ldr     x0, [sp, #16 + RR_CTX]
    stp     x2, x3, [x0, #0x10]
    stp     x4, x5, [x0, #0x20]
    stp     x6, x7, [x0, #0x30]
    stp     x8, x9, [x0, #0x40]
    stp     x10, x11, [x0, #0x50]
    stp     x12, x13, [x0, #0x60]
    stp     x14, x15, [x0, #0x70]
    stp     x16, x17, [x0, #0x80]
    stp     x18, x19, [x0, #0x90]
    stp     x20, x21, [x0, #0xA0]
    stp     x22, x23, [x0, #0xB0]
    stp     x24, x25, [x0, #0xC0]
    stp     x26, x27, [x0, #0xD0]
    stp     x28, x29, [x0, #0xE0]
    str     x30, [x0, #0xF0]
    ldp     x2, x3, [sp], #16
    stp     x2, x3, [x0, #0x00]
    mrs     x2, elr_el2
    mrs     x3, spsr_el2
    stp     x2, x3, [x0, #CTX_PC]
    mov     x0, x1
    ldp     x19, x20, [sp, #0]
    ldp     x21, x22, [sp, #16]
    ldp     x23, x24, [sp, #32]
    ldp     x25, x26, [sp, #48]
    ldp     x27, x28, [sp, #64]
    ldp     x29, x30, [sp, #80]
    add     sp, sp, #RR_FRAME
    ret

// void rmm_fp_save(struct FpRegs *p) / rmm_fp_restore(const struct FpRegs *p)
//   q0..q31 at 0x000..0x1F0, FPSR at 0x200, FPCR at 0x208.
.arch_extension fp
.arch_extension simd
.global rmm_fp_save
rmm_fp_save:
    stp     q0, q1, [x0, #0x000]
    stp     q2, q3, [x0, #0x020]
    stp     q4, q5, [x0, #0x040]
    stp     q6, q7, [x0, #0x060]
    stp     q8, q9, [x0, #0x080]
    stp     q10, q11, [x0, #0x0A0]
    stp     q12, q13, [x0, #0x0C0]
    stp     q14, q15, [x0, #0x0E0]
    stp     q16, q17, [x0, #0x100]
    stp     q18, q19, [x0, #0x120]
    stp     q20, q21, [x0, #0x140]
    stp     q22, q23, [x0, #0x160]
    stp     q24, q25, [x0, #0x180]
    stp     q26, q27, [x0, #0x1A0]
    stp     q28, q29, [x0, #0x1C0]
    stp     q30, q31, [x0, #0x1E0]
    mrs     x1, fpsr
    mrs     x2, fpcr
    add     x3, x0, #0x200
    stp     x1, x2, [x3]
    ret

.global rmm_fp_restore
rmm_fp_restore:
    ldp     q0, q1, [x0, #0x000]
    ldp     q2, q3, [x0, #0x020]
    ldp     q4, q5, [x0, #0x040]
    ldp     q6, q7, [x0, #0x060]
    ldp     q8, q9, [x0, #0x080]
    ldp     q10, q11, [x0, #0x0A0]
    ldp     q12, q13, [x0, #0x0C0]
    ldp     q14, q15, [x0, #0x0E0]
    ldp     q16, q17, [x0, #0x100]
    ldp     q18, q19, [x0, #0x120]
    ldp     q20, q21, [x0, #0x140]
    ldp     q22, q23, [x0, #0x160]
    ldp     q24, q25, [x0, #0x180]
    ldp     q26, q27, [x0, #0x1A0]
    ldp     q28, q29, [x0, #0x1C0]
    ldp     q30, q31, [x0, #0x1E0]
    add     x3, x0, #0x200
    ldp     x1, x2, [x3]
    msr     fpsr, x1
    msr     fpcr, x2
    ret
