// SHA-256 block compression with the Armv8 Cryptographic Extension
// (SHA256H, SHA256H2, SHA256SU0, SHA256SU1), FIPS 180-4 §6.2.2.
//
// The RMM is built soft-float, so the compiler never touches the FP/SIMD
// registers: they hold the state of whichever world ran last (NS host or
// realm). This routine therefore saves every SIMD register it uses on entry
// and restores it before returning, so no world's FP/SIMD state is read by,
// or leaked through, the RMM.
//
// (Braces are doubled: this file is a Rust global_asm! template.)
// void rmm_sha256_blocks(u32 state[8], const u8 *data, u64 nblocks)

.arch_extension fp
.arch_extension simd
.arch_extension sha2

// One group of four rounds. \wk is the schedule register for W[i..i+3];
// when \upd is 1 it is then advanced to W[i+16..i+19] from \w1..\w3.
.macro sha256_quad w0, w1, w2, w3, upd
    ld1     {{v5.4s}}, [x3], #16
    add     v5.4s, v5.4s, \w0\().4s
.if \upd
    sha256su0 \w0\().4s, \w1\().4s
.endif
    mov     v2.16b, v0.16b
    sha256h  q0, q1, v5.4s
    sha256h2 q1, q2, v5.4s
.if \upd
    sha256su1 \w0\().4s, \w2\().4s, \w3\().4s
.endif
.endm

.section .text, "ax"
.global rmm_sha256_blocks
rmm_sha256_blocks:
    sub     sp, sp, #160
    stp     q0, q1, [sp, #0]
    stp     q2, q3, [sp, #32]
    stp     q4, q5, [sp, #64]
    stp     q16, q17, [sp, #96]
    stp     q18, q19, [sp, #128]
    ld1     {{v0.4s, v1.4s}}, [x0]
1:  cbz     x2, 2f
    ld1     {{v16.16b, v17.16b, v18.16b, v19.16b}}, [x1], #64
    rev32   v16.16b, v16.16b
    rev32   v17.16b, v17.16b
    rev32   v18.16b, v18.16b
    rev32   v19.16b, v19.16b
    mov     v3.16b, v0.16b
    mov     v4.16b, v1.16b
    adrp    x3, rmm_sha256_k
    add     x3, x3, :lo12:rmm_sha256_k
.rept 3
    sha256_quad v16, v17, v18, v19, 1
    sha256_quad v17, v18, v19, v16, 1
    sha256_quad v18, v19, v16, v17, 1
    sha256_quad v19, v16, v17, v18, 1
.endr
    sha256_quad v16, v17, v18, v19, 0
    sha256_quad v17, v18, v19, v16, 0
    sha256_quad v18, v19, v16, v17, 0
    sha256_quad v19, v16, v17, v18, 0
    add     v0.4s, v0.4s, v3.4s
    add     v1.4s, v1.4s, v4.4s
    sub     x2, x2, #1
    b       1b
2:  st1     {{v0.4s, v1.4s}}, [x0]
    ldp     q0, q1, [sp, #0]
    ldp     q2, q3, [sp, #32]
    ldp     q4, q5, [sp, #64]
    ldp     q16, q17, [sp, #96]
    ldp     q18, q19, [sp, #128]
    add     sp, sp, #160
    ret

// SHA-256 round constants K (FIPS 180-4 §4.2.2).
.section .rodata, "a"
.balign 16
rmm_sha256_k:
    .word 0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5
    .word 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5
    .word 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3
    .word 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174
    .word 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc
    .word 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da
    .word 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7
    .word 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967
    .word 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13
    .word 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85
    .word 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3
    .word 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070
    .word 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5
    .word 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3
    .word 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208
    .word 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2
