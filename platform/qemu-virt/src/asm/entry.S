// EL3 reset entry for QEMU virt. Every CPU starts here at EL3 with the MMU
// off (qemu-platforms.md §2.2: QEMU provides no PSCI when firmware owns EL3,
// so all CPUs run the reset vector). CPU 0 boots the system; the others wait
// in a hold loop on their mailbox until PSCI CPU_ON releases them.

.equ MAX_CPUS,       8
.equ STACK_SIZE,     0x4000
.equ MAILBOX_BASE,   0x0E000000

.section .text.boot, "ax"
.global el3_reset
el3_reset:
    // Linear CPU index from MPIDR: QEMU virt packs 8 CPUs per cluster
    // (Aff1 = index / 8, Aff0 = index % 8).
    mrs     x19, mpidr_el1
    and     x0, x19, #0xff
    ubfx    x1, x19, #8, #8
    add     x0, x0, x1, lsl #3
    cmp     x0, #MAX_CPUS
    b.hs    el3_park

    adrp    x1, el3_vectors
    add     x1, x1, :lo12:el3_vectors
    msr     vbar_el3, x1
    isb

    // Per-CPU runtime stack on SP_EL0; SP_EL3 is kept for the saved-context
    // pointer of the world being served (see vectors.S).
    adrp    x1, __stacks_end
    add     x1, x1, :lo12:__stacks_end
    mov     x2, #STACK_SIZE
    msub    x1, x0, x2, x1
    msr     spsel, #0
    mov     sp, x1
    cbnz    x0, el3_secondary_hold

    // Primary: copy .data from flash, zero .bss.
    adrp    x1, __data_start
    add     x1, x1, :lo12:__data_start
    adrp    x2, __data_end
    add     x2, x2, :lo12:__data_end
    adrp    x3, __data_lma
    add     x3, x3, :lo12:__data_lma
1:  cmp     x1, x2
    b.hs    2f
    ldp     x4, x5, [x3], #16
    stp     x4, x5, [x1], #16
    b       1b
2:  adrp    x1, __bss_start
    add     x1, x1, :lo12:__bss_start
    adrp    x2, __bss_end
    add     x2, x2, :lo12:__bss_end
3:  cmp     x1, x2
    b.hs    4f
    stp     xzr, xzr, [x1], #16
    b       3b
4:  mov     x0, #0
    bl      el3_primary_main
    b       el3_park

// Secondary CPUs: wait for PSCI CPU_ON to publish an entry address in the
// mailbox (written with the MMU on and cleaned to PoC by the primary).
el3_secondary_hold:
    mov     x20, x0
    mov     x21, sp
    mov     x2, #MAILBOX_BASE
    add     x22, x2, x20, lsl #3
5:  wfe
    ldr     x3, [x22]
    cbz     x3, 5b
    mov     x0, x20
    mov     sp, x21
    br      x3

.global el3_park
el3_park:
    wfe
    b       el3_park

// Return point for a CPU that executed PSCI CPU_OFF: back to the hold loop.
// x0 = linear CPU index.
.global el3_cpu_off_hold
el3_cpu_off_hold:
    adrp    x1, __stacks_end
    add     x1, x1, :lo12:__stacks_end
    mov     x2, #STACK_SIZE
    msub    x1, x0, x2, x1
    msr     spsel, #0
    mov     sp, x1
    b       el3_secondary_hold
