// Realm guest entry. Every REC starts here at R-EL1 with the MMU off:
// REC 0 from its RmiRecParams (x0 = 0), RECs 1..3 from realm PSCI CPU_ON
// (x0 = context id). The REC index is MPIDR_EL1.Aff0 (the RMM derives
// VMPIDR_EL2 from RmiRecParams.mpidr).
.equ STACK_SIZE, 0x4000
.equ MAX_RECS, 4

.section .text.entry, "ax"
.global guest_entry
guest_entry:
    mrs     x9, mpidr_el1
    and     x1, x9, #0xff
    cmp     x1, #MAX_RECS
    b.hs    9f
    adrp    x10, __stacks_end
    mov     x11, #STACK_SIZE
    msub    x10, x1, x11, x10
    mov     sp, x10
    adrp    x10, guest_vectors
    add     x10, x10, :lo12:guest_vectors
    msr     vbar_el1, x10
    isb
    adrp    x2, __text_end
    adr     x3, guest_entry
    bl      guest_main              // (context, REC, text end, entry): never returns
9:  wfi
    b       9b

// guest_exception(kind, esr, far, elr) returns the address to resume at.
// The frame holds x0..x30 (the handler may resume any faulting load).
.macro vec kind
    .balign 0x80
    sub     sp, sp, #0x100
    stp     x0, x1, [sp]
    mov     x0, #\kind
    b       guest_vector_common
.endm

.section .text, "ax"
.balign 0x800
guest_vectors:
    vec 0
    vec 1
    vec 2
    vec 3
    vec 4
    vec 5
    vec 6
    vec 7
    vec 8
    vec 9
    vec 10
    vec 11
    vec 12
    vec 13
    vec 14
    vec 15

guest_vector_common:
    stp     x2, x3, [sp, #0x10]
    stp     x4, x5, [sp, #0x20]
    stp     x6, x7, [sp, #0x30]
    stp     x8, x9, [sp, #0x40]
    stp     x10, x11, [sp, #0x50]
    stp     x12, x13, [sp, #0x60]
    stp     x14, x15, [sp, #0x70]
    stp     x16, x17, [sp, #0x80]
    stp     x18, x19, [sp, #0x90]
    stp     x20, x21, [sp, #0xa0]
    stp     x22, x23, [sp, #0xb0]
    stp     x24, x25, [sp, #0xc0]
    stp     x26, x27, [sp, #0xd0]
    stp     x28, x29, [sp, #0xe0]
    str     x30, [sp, #0xf0]
    mrs     x1, esr_el1
    mrs     x2, far_el1
    mrs     x3, elr_el1
    bl      guest_exception
    msr     elr_el1, x0
    ldp     x0, x1, [sp]
    ldp     x2, x3, [sp, #0x10]
    ldp     x4, x5, [sp, #0x20]
    ldp     x6, x7, [sp, #0x30]
    ldp     x8, x9, [sp, #0x40]
    ldp     x10, x11, [sp, #0x50]
    ldp     x12, x13, [sp, #0x60]
    ldp     x14, x15, [sp, #0x70]
    ldp     x16, x17, [sp, #0x80]
    ldp     x18, x19, [sp, #0x90]
    ldp     x20, x21, [sp, #0xa0]
    ldp     x22, x23, [sp, #0xb0]
    ldp     x24, x25, [sp, #0xc0]
    ldp     x26, x27, [sp, #0xd0]
    ldp     x28, x29, [sp, #0xe0]
    ldr     x30, [sp, #0xf0]
    add     sp, sp, #0x100
    eret
