// memcpy and memset for the RMM image.
//
// compiler_builtins provides weak, portable definitions that move one
// 64-bit word per three instructions (and bytes when the pointers are not
// word aligned). The RMM's REC_ENTER path zeroes and copies several
// kilobytes per call (the 2 KiB RecRun exit image, the REC context, FP/SIMD
// and GIC state), so these strong definitions, which move 64 bytes per
// loop iteration with LDP/STP, replace them at link time.
//
// Only naturally aligned accesses are made: part of the RMM runs with its
// MMU off (Device memory, where an unaligned access faults). Pointers that
// share their alignment modulo 8 are first brought to a word boundary with
// byte accesses; pointers that do not are copied bytewise. Only
// caller-saved registers are used, and no FP/SIMD register (the RMM is
// soft-float: those hold a lower world's state).
//
// (Braces are doubled: this file is a Rust global_asm! template.)

.section .text.memcpy, "ax"
// void *memcpy(void *dst, const void *src, size_t n): returns dst.
.global memcpy
.type memcpy, %function
memcpy:
    mov     x8, x0
    cmp     x2, #16
    b.lo    4f
    eor     x9, x0, x1
    tst     x9, #7
    b.ne    4f
    // Same alignment: bytes up to a word boundary (at most 7; n >= 16).
1:  tst     x8, #7
    b.eq    2f
    ldrb    w9, [x1], #1
    strb    w9, [x8], #1
    sub     x2, x2, #1
    b       1b
2:  cmp     x2, #64
    b.lo    3f
    ldp     x9, x10, [x1]
    ldp     x11, x12, [x1, #16]
    ldp     x13, x14, [x1, #32]
    ldp     x15, x16, [x1, #48]
    stp     x9, x10, [x8]
    stp     x11, x12, [x8, #16]
    stp     x13, x14, [x8, #32]
    stp     x15, x16, [x8, #48]
    add     x1, x1, #64
    add     x8, x8, #64
    sub     x2, x2, #64
    b       2b
3:  cmp     x2, #8
    b.lo    4f
    ldr     x9, [x1], #8
    str     x9, [x8], #8
    sub     x2, x2, #8
    b       3b
4:  cbz     x2, 5f
    ldrb    w9, [x1], #1
    strb    w9, [x8], #1
    sub     x2, x2, #1
    b       4b
5:  ret
.size memcpy, . - memcpy

.section .text.memset, "ax"
// void *memset(void *dst, int c, size_t n): returns dst.
.global memset
.type memset, %function
memset:
    mov     x8, x0
    and     x1, x1, #0xff
    mov     x9, #0x0101010101010101
    mul     x1, x1, x9
    cmp     x2, #16
    b.lo    4f
1:  tst     x8, #7
    b.eq    2f
    strb    w1, [x8], #1
    sub     x2, x2, #1
    b       1b
2:  cmp     x2, #64
    b.lo    3f
    stp     x1, x1, [x8]
    stp     x1, x1, [x8, #16]
    stp     x1, x1, [x8, #32]
    stp     x1, x1, [x8, #48]
    add     x8, x8, #64
    sub     x2, x2, #64
    b       2b
3:  cmp     x2, #8
    b.lo    4f
    str     x1, [x8], #8
    sub     x2, x2, #8
    b       3b
4:  cbz     x2, 5f
    strb    w1, [x8], #1
    sub     x2, x2, #1
    b       4b
5:  ret
.size memset, . - memset
