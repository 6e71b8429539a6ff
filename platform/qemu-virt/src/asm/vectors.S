// EL3 exception vectors and the world-switch register save/restore.
//
// While a lower world runs, SP_EL3 points at that world's saved context on
// this CPU (struct GpContext in context.rs; offsets below must match it).
// An SMC from NS-EL2 or R-EL2 lands in `lower_sync`, which saves the GPRs
// there, switches to the CPU's runtime stack (SP_EL0 at EL3) and calls Rust.
// Rust returns the context to resume (same world, or the other one after a
// world switch), and `el3_exit_to_ctx` restores it and ERETs.

.equ CTX_SP_EL0,  0xF8
.equ CTX_ELR,     0x100
.equ CTX_SPSR,    0x108
.equ CTX_SCR,     0x110
.equ CTX_RT_SP,   0x118

.macro unexpected kind
    .balign 0x80
    mov     x0, #\kind
    b       el3_unexpected_entry
.endm

.section .text.vectors, "ax"
.balign 0x800
.global el3_vectors
el3_vectors:
    unexpected 0    // current EL, SP_EL0: sync
    unexpected 1
    unexpected 2
    unexpected 3
    unexpected 4    // current EL, SP_ELx: sync
    unexpected 5
    unexpected 6
    unexpected 7
    .balign 0x80    // lower EL, AArch64: sync
    b       lower_sync
    unexpected 9
    unexpected 10
    unexpected 11
    unexpected 12   // lower EL, AArch32
    unexpected 13
    unexpected 14
    unexpected 15

lower_sync:
    stp     x0, x1, [sp, #0x00]
    stp     x2, x3, [sp, #0x10]
    stp     x4, x5, [sp, #0x20]
    stp     x6, x7, [sp, #0x30]
    stp     x8, x9, [sp, #0x40]
    stp     x10, x11, [sp, #0x50]
    stp     x12, x13, [sp, #0x60]
    stp     x14, x15, [sp, #0x70]
    stp     x16, x17, [sp, #0x80]
    stp     x18, x19, [sp, #0x90]
    stp     x20, x21, [sp, #0xA0]
    stp     x22, x23, [sp, #0xB0]
    stp     x24, x25, [sp, #0xC0]
    stp     x26, x27, [sp, #0xD0]
    stp     x28, x29, [sp, #0xE0]
    mrs     x0, sp_el0
    stp     x30, x0, [sp, #0xF0]
    mrs     x0, elr_el3
    mrs     x1, spsr_el3
    stp     x0, x1, [sp, #CTX_ELR]
    mov     x0, sp
    ldr     x1, [x0, #CTX_RT_SP]
    msr     spsel, #0
    mov     sp, x1
    bl      el3_handle_lower_sync
    // fall through with x0 = context to resume

.global el3_exit_to_ctx
el3_exit_to_ctx:
    msr     spsel, #1
    mov     sp, x0
    ldp     x0, x1, [sp, #CTX_ELR]
    msr     elr_el3, x0
    msr     spsr_el3, x1
    ldr     x0, [sp, #CTX_SCR]
    msr     scr_el3, x0
    ldp     x30, x0, [sp, #0xF0]
    msr     sp_el0, x0
    ldp     x0, x1, [sp, #0x00]
    ldp     x2, x3, [sp, #0x10]
    ldp     x4, x5, [sp, #0x20]
    ldp     x6, x7, [sp, #0x30]
    ldp     x8, x9, [sp, #0x40]
    ldp     x10, x11, [sp, #0x50]
    ldp     x12, x13, [sp, #0x60]
    ldp     x14, x15, [sp, #0x70]
    ldp     x16, x17, [sp, #0x80]
    ldp     x18, x19, [sp, #0x90]
    ldp     x20, x21, [sp, #0xA0]
    ldp     x22, x23, [sp, #0xB0]
    ldp     x24, x25, [sp, #0xC0]
    ldp     x26, x27, [sp, #0xD0]
    ldp     x28, x29, [sp, #0xE0]
    eret

// Anything else taken to EL3 is a monitor bug or a hardware fault we cannot
// recover from: report it and stop (x0 = vector index).
el3_unexpected_entry:
    msr     spsel, #0
    mrs     x1, mpidr_el1
    and     x2, x1, #0xff
    ubfx    x3, x1, #8, #8
    add     x2, x2, x3, lsl #3
    adrp    x1, __stacks_end
    add     x1, x1, :lo12:__stacks_end
    mov     x3, #0x4000
    msub    x1, x2, x3, x1
    mov     sp, x1
    bl      el3_unexpected_exception
    b       el3_park
