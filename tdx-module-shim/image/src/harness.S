/* The "VMM harness": untrusted host code that runs at CPL 3 in the shim's
 * user address space and calls the module with a real SEAMCALL encoding.
 * RDI = its Block (harness.rs) in user memory. It
 *   1. runs Block.ncalls ops. Op 0: a SEAMCALL, loading RAX, RCX, RDX, R8,
 *      R9 from IN[0..5] of the record and storing RAX, RCX, RDX, R8..R11
 *      into OUT[0..7], with the TSC (RDTSC; CR4.TSD is clear) just before
 *      and just after it in TSC_START/TSC_END (bench mode's round trips). Op 1: store the u64 IN[2] at address IN[1]. Op 2:
 *      fill IN[2] u64s at IN[1] with IN[3]. Op 3: load the u64 at IN[1]
 *      into OUT[0] (a fault ends the run through tdx_harness_fault). Op 4:
 *      OR of the IN[2] u64s at IN[1] into OUT[0] (reads a whole page;
 *      may fault likewise). Op 5: a SEAMCALL with every GPR but RSP loaded
 *      from, and stored back to, the 16 words at IN[1] (x86 register
 *      order; TDH.VP.ENTER needs them all). Op 6: copy IN[3] qwords from
 *      IN[2] to IN[1]. The addresses are the harness's own memory (its
 *      VMM region, its Block, or its code for op 6's source);
 *   2. runs the probe of Block.mode: 0 = read Block.probe, 1 = write it,
 *      2 = UD2 (a #UD that is not a SEAMCALL), 3 = jump to Block.probe
 *      (execute shim code), 4 = OUT to the isa-debug-exit port 0xF4,
 *      5 = none;
 *   3. leaves with INT 0x80: RDI = EXIT_NO_FAULT if the probe did not trap.
 * tdx_harness_fault is where the shim reflects a CPL 3 exception (RDI =
 * vector, RSI = error code, RDX = CR2); it records them in the Block and
 * leaves with RDI = EXIT_FAULT_SEEN. */
    .section .user_text, "ax"
    .code64
    .globl tdx_harness_entry
tdx_harness_entry:
    pushq %rdi                          /* 8(%rsp): Block */
    pushq $0                            /* (%rsp): op index */
1:  movq 8(%rsp), %rbx
    movq (%rsp), %rax
    cmpq {NCALLS}(%rbx), %rax
    jae 2f
    imulq ${REC_SIZE}, %rax, %rax
    leaq {CALLS}(%rbx,%rax), %rbx
    movq {OP}(%rbx), %rax
    cmpq $1, %rax
    je 10f
    cmpq $2, %rax
    je 11f
    cmpq $3, %rax
    je 12f
    cmpq $4, %rax
    je 14f
    cmpq $5, %rax
    je 17f
    cmpq $6, %rax
    je 18f
    pushq %rbx                          /* op 0: SEAMCALL, timed */
    rdtsc                               /* TSC_START; 11 instructions up to the */
    shlq $32, %rdx                      /* next RDTSC (TSC_OVERHEAD, harness.rs) */
    orq %rdx, %rax
    movq %rax, {TSC_START}(%rbx)
    movq {IN_RCX}(%rbx), %rcx
    movq {IN_RDX}(%rbx), %rdx
    movq {IN_R8}(%rbx), %r8
    movq {IN_R9}(%rbx), %r9
    movq {IN_RAX}(%rbx), %rax
    .byte 0x66, 0x0f, 0x01, 0xcf        /* SEAMCALL */
    movq %rax, %r12
    movq %rdx, %r13
    rdtsc                               /* TSC_END */
    shlq $32, %rdx
    orq %rdx, %rax
    popq %rbx
    movq %rax, {TSC_END}(%rbx)
    movq %r12, {OUT_RAX}(%rbx)
    movq %rcx, {OUT_RCX}(%rbx)
    movq %r13, {OUT_RDX}(%rbx)
    movq %r8, {OUT_R8}(%rbx)
    movq %r9, {OUT_R9}(%rbx)
    movq %r10, {OUT_R10}(%rbx)
    movq %r11, {OUT_R11}(%rbx)
    jmp 13f
10: movq {IN_RCX}(%rbx), %rdi           /* op 1: store IN[2] at IN[1] */
    movq {IN_RDX}(%rbx), %rax
    movq %rax, (%rdi)
    jmp 13f
11: movq {IN_RCX}(%rbx), %rdi           /* op 2: fill IN[2] qwords at IN[1] with IN[3] */
    movq {IN_RDX}(%rbx), %rcx
    movq {IN_R8}(%rbx), %rax
    rep stosq
    jmp 13f
12: movq {IN_RCX}(%rbx), %rdi           /* op 3: load IN[1] into OUT[0] (may fault) */
    movq (%rdi), %rax
    movq %rax, {OUT_RAX}(%rbx)
    jmp 13f
14: movq {IN_RCX}(%rbx), %rsi           /* op 4: OR IN[2] qwords at IN[1] into OUT[0] */
    movq {IN_RDX}(%rbx), %rcx
    xorl %eax, %eax
    testq %rcx, %rcx
    jz 16f
15: orq (%rsi), %rax
    addq $8, %rsi
    decq %rcx
    jnz 15b
16: movq %rax, {OUT_RAX}(%rbx)
    jmp 13f
17: pushq %rbx                          /* op 5: SEAMCALL with all GPRs from/to */
    rdtsc                               /* the 16 words at IN[1] (RSP slot */
    shlq $32, %rdx                      /* unused), timed like op 0 */
    orq %rdx, %rax
    movq %rax, {TSC_START}(%rbx)
    movq {IN_RCX}(%rbx), %rax
    pushq %rax
    movq 8(%rax), %rcx
    movq 16(%rax), %rdx
    movq 24(%rax), %rbx
    movq 40(%rax), %rbp
    movq 48(%rax), %rsi
    movq 56(%rax), %rdi
    movq 64(%rax), %r8
    movq 72(%rax), %r9
    movq 80(%rax), %r10
    movq 88(%rax), %r11
    movq 96(%rax), %r12
    movq 104(%rax), %r13
    movq 112(%rax), %r14
    movq 120(%rax), %r15
    movq (%rax), %rax
    .byte 0x66, 0x0f, 0x01, 0xcf        /* SEAMCALL */
    pushq %rax
    pushq %rdx
    rdtsc
    shlq $32, %rdx
    orq %rdx, %rax
    movq 24(%rsp), %rdx                 /* the record */
    movq %rax, {TSC_END}(%rdx)
    popq %rdx
    movq 8(%rsp), %rax                  /* the array */
    movq %rcx, 8(%rax)
    movq %rdx, 16(%rax)
    movq %rbx, 24(%rax)
    movq %rbp, 40(%rax)
    movq %rsi, 48(%rax)
    movq %rdi, 56(%rax)
    movq %r8, 64(%rax)
    movq %r9, 72(%rax)
    movq %r10, 80(%rax)
    movq %r11, 88(%rax)
    movq %r12, 96(%rax)
    movq %r13, 104(%rax)
    movq %r14, 112(%rax)
    movq %r15, 120(%rax)
    popq %rcx
    movq %rcx, (%rax)
    popq %rax
    popq %rbx
    jmp 13f
18: movq {IN_RCX}(%rbx), %rdi           /* op 6: copy IN[3] qwords from IN[2] to IN[1] */
    movq {IN_RDX}(%rbx), %rsi
    movq {IN_R8}(%rbx), %rcx
    rep movsq
13: incq (%rsp)
    jmp 1b
2:  movq 8(%rsp), %rbx
    movq {PROBE}(%rbx), %rdx
    movq {MODE}(%rbx), %rax
    cmpq $1, %rax
    je 3f
    cmpq $2, %rax
    je 4f
    cmpq $3, %rax
    je 6f
    cmpq $4, %rax
    je 7f
    cmpq $5, %rax
    je 5f
    movq (%rdx), %rax                   /* mode 0: read shim memory */
    jmp 5f
3:  movq %rax, (%rdx)                   /* mode 1: write shim memory */
    jmp 5f
4:  ud2                                 /* mode 2: genuine #UD */
    jmp 5f
6:  jmp *%rdx                           /* mode 3: execute shim code */
7:  movw $0xF4, %dx                     /* mode 4: port I/O (isa-debug-exit) */
    movb $0x10, %al
    outb %al, %dx
5:  movl ${EXIT_NO_FAULT}, %edi
    int $0x80

    .globl tdx_harness_fault
tdx_harness_fault:
    movq 8(%rsp), %rbx
    movq %rdi, {FAULT_VECTOR}(%rbx)
    movq %rsi, {FAULT_ERROR}(%rbx)
    movq %rdx, {FAULT_ADDR}(%rbx)
    movq $1, {FAULTED}(%rbx)
    movl ${EXIT_FAULT_SEEN}, %edi
    int $0x80
    .text
