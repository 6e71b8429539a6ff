// RMM entry at R-EL2, MMU off (rmm-el3-interface.md §2). Cold and warm boot
// share this address; a flag in .data (zero in the image) tells them apart.
// x0 = CPU index, x1..x3 = interface version, max CPUs, shared page (cold)
// or 0 (warm).

.equ RMM_MAX_CPUS,        16
.equ STACK_SIZE,          0x10000  // 64 KiB per CPU (mmu.rs, rmm.ld)
.equ RMM_BOOT_COMPLETE,   0xC40001CF
.equ E_CPU_ID_OUT_OF_RANGE, -4
.equ E_BOOT_UNKNOWN,        -1

.section .text.boot, "ax"
.global rmm_entry
rmm_entry:
    // Without a valid index there is no stack: report and stop here.
    cmp     x0, #RMM_MAX_CPUS
    b.hs    bad_cpu_id
    mov     x19, x0
    mov     x20, x1
    mov     x21, x2
    mov     x22, x3

    adrp    x4, rmm_vectors
    add     x4, x4, :lo12:rmm_vectors
    msr     vbar_el2, x4
    isb

    adrp    x4, __stacks_end
    add     x4, x4, :lo12:__stacks_end
    mov     x5, #STACK_SIZE
    msub    x4, x19, x5, x4
    mov     sp, x4
    msr     tpidr_el2, x19

    adrp    x4, rmm_cold_boot_done
    add     x4, x4, :lo12:rmm_cold_boot_done
    ldr     x5, [x4]
    cbnz    x5, 2f

    // Cold boot: the image is a PIE linked at 0; apply its
    // R_AARCH64_RELATIVE relocations for the address EL3 loaded it at
    // (*(base + offset) = base + addend). Any other type is a build error
    // and fails the boot rather than running with wrong pointers.
    adrp    x6, __rmm_start
    add     x6, x6, :lo12:__rmm_start
    adrp    x7, __rela_start
    add     x7, x7, :lo12:__rela_start
    adrp    x8, __rela_end
    add     x8, x8, :lo12:__rela_end
5:  cmp     x7, x8
    b.hs    6f
    ldp     x9, x10, [x7], #16      // r_offset, r_info
    ldr     x11, [x7], #8           // r_addend
    cmp     x10, #1027              // R_AARCH64_RELATIVE
    b.ne    bad_reloc
    add     x11, x11, x6
    str     x11, [x6, x9]
    b       5b
6:
    // Zero .bss (the stacks need no zeroing).
    adrp    x6, __bss_start
    add     x6, x6, :lo12:__bss_start
    adrp    x7, __bss_end
    add     x7, x7, :lo12:__bss_end
1:  cmp     x6, x7
    b.hs    3f
    stp     xzr, xzr, [x6], #16
    b       1b
3:  mov     x5, #1
    str     x5, [x4]
    mov     x0, x19
    mov     x1, x20
    mov     x2, x21
    mov     x3, x22
    bl      rmm_cold_main
    b       .

2:  mov     x0, x19
    mov     x1, x20
    mov     x2, x21
    mov     x3, x22
    bl      rmm_warm_main
    b       .

bad_reloc:
    mov     x1, #E_BOOT_UNKNOWN
    b       boot_failed
bad_cpu_id:
    mov     x1, #E_CPU_ID_OUT_OF_RANGE
boot_failed:
    movz    x0, #0x01CF
    movk    x0, #0xC400, lsl #16
    smc     #0
    b       boot_failed

.section .data
.balign 8
.global rmm_cold_boot_done
rmm_cold_boot_done:
    .quad 0

// R-EL2 vectors: the RMM takes no exceptions in normal operation (it runs
// with DAIF masked and every access checked beforehand); any exception is
// a monitor bug and is reported by rmm_unexpected_exception.
.macro vec kind
    .balign 0x80
    mov     x0, #\kind
    b       rmm_vector_common
.endm

.macro realm_exit_vector kind
    stp     x0, x1, [sp, #-16]!
    mov     x1, #\kind
    b       rmm_realm_exit
.endm

.section .text.vectors, "ax"
.balign 0x800
.global rmm_vectors
rmm_vectors:
    vec 0
    vec 1
    vec 2
    vec 3
    .balign 0x80            // current EL, SP_ELx, synchronous
    b       rmm_sync_current
    vec 5
    vec 6
    vec 7
    .balign 0x80            // lower EL, AArch64: the running realm exits
    realm_exit_vector 0     // synchronous
    .balign 0x80
    realm_exit_vector 1     // IRQ
    .balign 0x80
    realm_exit_vector 2     // FIQ
    .balign 0x80
    realm_exit_vector 3     // SError
    vec 12
    vec 13
    vec 14
    vec 15

// A synchronous exception inside a "recoverable" routine (section
// .text.recoverable: leaf functions that touch host-named or possibly absent
// memory and never change x30 or sp) returns 1 from that routine to its
// caller. Anything else is fatal. Uses only x16/x17 (AAPCS64 IP0/IP1, which
// callers of these routines treat as clobbered).
rmm_sync_current:
    mrs     x16, elr_el2
    adrp    x17, __recoverable_start
    add     x17, x17, :lo12:__recoverable_start
    cmp     x16, x17
    b.lo    1f
    adrp    x17, __recoverable_end
    add     x17, x17, :lo12:__recoverable_end
    cmp     x16, x17
    b.hs    1f
    mov     x0, #1
    msr     elr_el2, x30
    eret
1:  mov     x0, #4
    b       rmm_vector_common

.section .text.recoverable, "ax"
// u64 rmm_zero_page(va, block): zero the 4 KiB page at va with DC ZVA
// (block = DC ZVA block size). Returns 0 (1 if an access aborted).
.global rmm_zero_page
rmm_zero_page:
    add     x2, x0, #0x1000
2:  dc      zva, x0
    add     x0, x0, x1
    dc      zva, x0
    add     x0, x0, x1
    cmp     x0, x2
    b.lo    2b
    mov     x0, #0
    ret

// u64 rmm_copy(dst, src, len): copy len bytes. When dst and src are both
// 8-byte aligned (the MMU is on and the memory Normal, so word alignment
// suffices): 64 bytes per step (four LDP/STP pairs), then words, then
// bytes; otherwise bytes. Returns 0 (1 if an access aborted). The RecRun
// halves (0x388 bytes in, 0x800 out per REC_ENTER) go through here.
.global rmm_copy
rmm_copy:
    orr     x3, x0, x1
    tst     x3, #7
    b.ne    4f
3:  cmp     x2, #64
    b.lo    6f
    ldp     x4, x5, [x1]
    ldp     x6, x7, [x1, #16]
    ldp     x8, x9, [x1, #32]
    ldp     x10, x11, [x1, #48]
    stp     x4, x5, [x0]
    stp     x6, x7, [x0, #16]
    stp     x8, x9, [x0, #32]
    stp     x10, x11, [x0, #48]
    add     x1, x1, #64
    add     x0, x0, #64
    sub     x2, x2, #64
    b       3b
6:  cmp     x2, #8
    b.lo    4f
    ldr     x4, [x1], #8
    str     x4, [x0], #8
    sub     x2, x2, #8
    b       6b
4:  cbz     x2, 5f
    ldrb    w4, [x1], #1
    strb    w4, [x0], #1
    sub     x2, x2, #1
    b       4b
5:  mov     x0, #0
    ret

.section .text.vectors, "ax"
rmm_vector_common:
    mrs     x1, tpidr_el2
    adrp    x2, __stacks_end
    add     x2, x2, :lo12:__stacks_end
    mov     x3, #STACK_SIZE
    msub    x2, x1, x3, x2
    mov     sp, x2
    bl      rmm_unexpected_exception
    b       .
