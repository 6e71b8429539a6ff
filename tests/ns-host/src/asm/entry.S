// NS-EL2 test host entry. Primary: x0 from EL3 (BL33 convention). Secondary
// CPUs arrive at ns_secondary_entry via PSCI CPU_ON with x0 = context id.
.equ STACK_SIZE, 0x4000

.macro cpu_stack
    mrs     x9, mpidr_el1
    and     x10, x9, #0xff
    ubfx    x11, x9, #8, #8
    add     x10, x10, x11, lsl #3
    adrp    x9, __stacks_end
    add     x9, x9, :lo12:__stacks_end
    mov     x11, #STACK_SIZE
    msub    x9, x10, x11, x9
    mov     sp, x9
    adrp    x9, ns_vectors
    add     x9, x9, :lo12:ns_vectors
    msr     vbar_el2, x9
    isb
.endm

.section .text.boot, "ax"
.global ns_entry
ns_entry:
    cpu_stack
    adrp    x1, __bss_start
    add     x1, x1, :lo12:__bss_start
    adrp    x2, __bss_end
    add     x2, x2, :lo12:__bss_end
1:  cmp     x1, x2
    b.hs    2f
    stp     xzr, xzr, [x1], #16
    b       1b
2:  bl      ns_main
    b       .

.global ns_secondary_entry
ns_secondary_entry:
    cpu_stack
    bl      ns_secondary_main
    b       .

// probe_undef() -> x1 = ESR_EL2 of the UNDEF taken by an access to
// HFGRTR_EL2 (FEAT_FGT), which EL3 traps (SCR_EL3.FGTEn = 0) and answers
// with an injected UNDEF; x1 = 0 if the read simply worked.
.global probe_undef
probe_undef:
    mov     x1, #0
    mov     x2, #0
.global probe_undef_insn
probe_undef_insn:
    mrs     x0, S3_4_C1_C1_4
    ret

// probe_read(addr) -> x0 = value, x1 = ESR_EL2 if the load faulted (else 0),
// x2 = FAR_EL2. The vector below recognises a fault on `probe_load` and
// returns past it, so a granule protection fault is observed, not fatal.
.section .text, "ax"
.global probe_read
probe_read:
    mov     x1, #0
    mov     x2, #0
.global probe_load
probe_load:
    ldr     x0, [x0]
    ret

.macro vec kind
    .balign 0x80
    mov     x9, #\kind
    b       ns_vector_common
.endm

.balign 0x800
ns_vectors:
    vec 0
    vec 1
    vec 2
    vec 3
    .balign 0x80            // current EL, SP_ELx, synchronous
    b       ns_sync_current
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

ns_sync_current:
    mrs     x9, elr_el2
    adrp    x10, probe_load
    add     x10, x10, :lo12:probe_load
    cmp     x9, x10
    b.eq    3f
    adrp    x10, probe_undef_insn
    add     x10, x10, :lo12:probe_undef_insn
    cmp     x9, x10
    b.ne    1f
3:
    mrs     x1, esr_el2
    mrs     x2, far_el2
    mov     x0, #0
    add     x9, x9, #4
    msr     elr_el2, x9
    eret
1:  mov     x9, #4
ns_vector_common:
    mov     x0, x9
    bl      ns_unexpected_exception
    b       .
