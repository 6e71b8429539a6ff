/* The TD guest the harness builds and runs (td_run.rs): one 4 KiB page
 * PAGE.ADDed (and MR.EXTENDed) at GPA 0xFFFF_F000, so that TDH.VP.INIT's
 * reset RIP 0xFFFF_FFF0 (tdx-module-abi.md §6.3) lands on its last 16
 * bytes. The shim runs TDs in 64-bit mode at CPL 3 with linear = GPA
 * (td.rs), so the code is position-independent 64-bit code; its data page
 * is GPA 0xFFFF_E000 and its stack the page below.
 *
 * It makes, in order: TDG.VP.INFO; console output through TDG.VP.VMCALL
 * <Instruction.IO> (GHCI, R11 = 30) to port 0x3F8; TDG.MR.RTMR.EXTEND of
 * RTMR[2] with 48 bytes it writes; TDG.MR.REPORT over 64 bytes of
 * REPORTDATA into its data page; TDG.MR.VERIFYREPORT of that report; the
 * same after flipping one REPORTDATA bit (must fail); it flips the bit
 * back; makes its memory steps (`memory_steps` below: lazy ACCEPT,
 * MapGPA to shared, GHCI GetQuote of that report over shared memory,
 * MapGPA back, ACCEPT again; then GHCI CPUID, MMIO and HLT); times
 * TDG.MR.REPORT and
 * the vendor sealing leaf with RDTSC and reports them (R11 = 3: R12
 * report ticks, R13 sealing ticks, R14 sealing status); then the vendor
 * "done" TDG.VP.VMCALL (R10 = 0x434D4F4E "CMON", R11 = 1) carrying the
 * statuses in R12..R15, RBX, RSI, RDI, R8 and R9. If it is entered again
 * after that, it spins (the shim's preemption timer must get the VMM
 * back) until the VMM sets a word in its shared page at GPA
 * 0x8000_FFFF_A800 (linear 0xFFDF_A800); then it stops with GHCI
 * ReportFatalError. */
/* TDCALL of leaf \leaf, again while the module answers TDX_OPERAND_BUSY
 * (RAX[63:32] = 0x80000200): the other vCPU holds the TD's lock. Inputs
 * other than RAX are untouched by a failed TDCALL. Clobbers R11. */
    .macro TDCALL_RETRY leaf
99: movl $\leaf, %eax
    .byte 0x66, 0x0f, 0x01, 0xcc
    movq %rax, %r11
    shrq $32, %r11
    cmpl $0x80000200, %r11d
    je 99b
    .endm

    .section .td_guest, "ax"
    .code64
    .balign 4096
    .globl td_guest_start
td_guest_start:
    testq %rsi, %rsi                    /* RSI = vCPU index (§6.3) */
    jnz vcpu1
    movl $0xFFFFE000, %esp
    TDCALL_RETRY 1                      /* TDG.VP.INFO */
    movq %rax, %rbp                     /* status */
    movq %r9, %rdi                      /* vCPU index */
    movq %rcx, %rsi                     /* GPAW */
    leaq msg(%rip), %rbx
1:  movzbl (%rbx), %eax
    testl %eax, %eax
    jz 2f
    call putc
    incq %rbx
    jmp 1b
2:  movl $0xFFFFE100, %eax              /* 48 bytes: 0x11, 0x12, ... */
    movl $0x11, %ecx
3:  movb %cl, (%rax)
    incq %rax
    incl %ecx
    cmpl $0x41, %ecx
    jne 3b
    movl $0xFFFFE000, %eax              /* REPORTDATA: 0xA0, 0xA1, ... */
    movl $0xA0, %ecx
4:  movb %cl, (%rax)
    incq %rax
    incl %ecx
    cmpl $0xE0, %ecx
    jne 4b
    movl $0xFFFFE100, %ecx              /* TDG.MR.RTMR.EXTEND RTMR[2] */
    movl $2, %edx
    TDCALL_RETRY 2
    movq %rax, %r12
    movl $0xFFFFE400, %ecx              /* TDG.MR.REPORT -> 0xFFFFE400 */
    movl $0xFFFFE000, %edx
    xorl %r8d, %r8d
    TDCALL_RETRY 4
    movq %rax, %r13
    movl $0xFFFFE400, %ecx              /* TDG.MR.VERIFYREPORT */
    TDCALL_RETRY 22
    movq %rax, %r14
    movl $0xFFFFE480, %eax              /* flip a REPORTDATA bit, verify again */
    xorb $1, (%rax)
    movl $0xFFFFE400, %ecx
    TDCALL_RETRY 22
    movq %rax, %r15
    movl $0xFFFFE480, %eax              /* restore the bit: hand the report over */
    xorb $1, (%rax)
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    pushq %rsi
    pushq %rdi
    call memory_steps
    rdtsc                               /* timed from inside: TDG.MR.REPORT */
    shlq $32, %rdx
    orq %rdx, %rax
    movq %rax, %r9
    movl $0xFFFFE400, %ecx
    movl $0xFFFFE000, %edx
    xorl %r8d, %r8d
    TDCALL_RETRY 4
    rdtsc
    shlq $32, %rdx
    orq %rdx, %rax
    subq %r9, %rax
    movq %rax, %r12                     /* R12 = report ticks */
    rdtsc                               /* and the sealing key (MRTD, v1; it */
    shlq $32, %rdx                      /* returns the key in R8..R11) */
    orq %rdx, %rax
    movq %rax, %r15
    xorl %ecx, %ecx
    movl $1, %edx
    TDCALL_RETRY 0x7F01
    movq %rax, %r14                     /* R14 = sealing status */
    rdtsc
    shlq $32, %rdx
    orq %rdx, %rax
    subq %r15, %rax
    movq %rax, %r13                     /* R13 = sealing ticks */
    movl $0x434D4F4E, %r10d             /* vendor VMCALL R11 = 3: timings */
    movl $3, %r11d
    movl $0x7C00, %ecx                  /* expose R10..R14 */
    xorl %eax, %eax
    .byte 0x66, 0x0f, 0x01, 0xcc
    popq %rdi
    popq %rsi
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    movq %rbp, %rbx                     /* done: statuses to the VMM */
    movq %rdi, %r8
    movq %rsi, %r9
    movl $0x434D4F4E, %r10d
    movl $1, %r11d
    movl $0xFF08, %ecx                  /* expose R8..R15, RBX */
    xorl %eax, %eax
    .byte 0x66, 0x0f, 0x01, 0xcc
5:  movl $0xFFDFA800, %eax              /* spin until the VMM sets the stop */
    cmpq $0, (%rax)                     /* word in the shared page */
    je 5b
    leaq fatal_msg(%rip), %rax          /* GHCI ReportFatalError, code 0, */
    movq 0(%rax), %r14                  /* with its 64-byte message */
    movq 8(%rax), %r15
    movq 16(%rax), %rbx
    movq 24(%rax), %rdi
    movq 32(%rax), %rsi
    movq 40(%rax), %r8
    movq 48(%rax), %r9
    movq 56(%rax), %rdx
    xorl %r12d, %r12d
    xorl %r13d, %r13d
    xorl %r10d, %r10d
    movl $0x10003, %r11d
    movl $0xFFCC, %ecx                  /* expose RDX, RBX, RSI, RDI, R8..R15 */
    xorl %eax, %eax
    .byte 0x66, 0x0f, 0x01, 0xcc
6:  jmp 6b                              /* never entered again */
fatal_msg:
    .ascii "TD2 vCPU 0: stopping through GHCI ReportFatalError"
    .fill 64 - (. - fatal_msg), 1, 0

/* vCPU 1: its own stack (the lower half of the stack page), TDG.VP.INFO,
 * a console line, then the done call with RBX = VP.INFO status and R8 =
 * the vCPU index it reports. */
vcpu1:
    movl $0xFFFFD800, %esp
    TDCALL_RETRY 1
    movq %rax, %rbp
    movq %r9, %rdi
    leaq msg1(%rip), %rbx
7:  movzbl (%rbx), %eax
    testl %eax, %eax
    jz 8f
    call putc
    incq %rbx
    jmp 7b
8:  movq %rbp, %rbx
    movq %rdi, %r8
    xorl %r9d, %r9d
    xorl %r12d, %r12d
    xorl %r13d, %r13d
    xorl %r14d, %r14d
    xorl %r15d, %r15d
    movl $0x434D4F4E, %r10d
    movl $1, %r11d
    movl $0xFF08, %ecx
    xorl %eax, %eax
    .byte 0x66, 0x0f, 0x01, 0xcc
9:  jmp 9b

/* The memory steps (td_mem.rs serves them); each result goes into the
 * results page area at 0xFFFFE800 and then to the VMM in vendor calls
 * R11 = 4 (R12 = index, R13 = value):
 *  [0] TDG.MEM.PAGE.ACCEPT of GPA 0xFFFF_C000, which the VMM never added:
 *      an EPT-violation exit, the VMM AUGs a page, the TDCALL reruns;
 *  [1] the same ACCEPT again (PAGE_ALREADY_ACCEPTED);
 *  [2] GHCI MapGPA to shared (R10) of 8 KiB: 0xFFFF_B000 (never
 *      private) and that page;
 *  [3] GHCI GetQuote (R10) over an 8 KiB buffer there, as Linux's
 *      tdx-guest driver uses (shared GPA 0x8000_FFFF_B000, linear
 *      0xFFDF_B000: the shim's shared window), holding the TDREPORT at
 *      0xFFFF_E400, its second page filled with 0xA5 bytes; [4] the
 *      buffer's status; [5] out_len | the quote's version << 32;
 *  [6] GetQuote over a private GPA (R10: INVALID_OPERAND);
 *  [7] a write to the shared GPA 0x8000_FFFF_A000, which nothing maps: an
 *      EPT-violation exit, the VMM maps a page, the write reruns; the
 *      value read back;
 *  [8] MapGPA of 0xFFFF_C000 back to private (R10);
 *  [9] ACCEPT of it (a new page: the lazy path again);
 *  [10] the OR of its 512 words (0: none of the shared data survives);
 *  [11] GHCI <Instruction.CPUID> of leaf 0 (R10); [12] 1 if the VMM's
 *      EBX, ECX, EDX equal the CPU's own CPUID;
 *  [13] GHCI MMIO: an 8-byte read of the VMM device's ID register
 *      (shared GPA 0x8000_FE00_0000);
 *  [14] an 8-byte write of 0x1122334455667788 to its scratch register
 *      (+8), then a 4-byte read back;
 *  [15] GHCI <Instruction.HLT> (R10);
 *  [16] TDG.VM.WR of NOTIFY_ENABLES (0, mask -1, as Linux at boot);
 *  [17] TDG.VM.RD of the MRTD's first 8 bytes, [18] its status. */
memory_steps:
    movl $0xFFFFC000, %ecx
    TDCALL_RETRY 6
    movl $0xFFFFE800, %edx
    movq %rax, 0(%rdx)
    movl $0xFFFFC000, %ecx
    TDCALL_RETRY 6
    movl $0xFFFFE800, %edx
    movq %rax, 8(%rdx)
    movabsq $0x8000FFFFB000, %r12       /* MapGPA -> shared, 8 KiB */
    movl $0x2000, %r13d
    movl $0x10001, %r11d
    call ghci
    movl $0xFFFFE800, %edx
    movq %r10, 16(%rdx)
    movl $0xFFDFC000, %edi              /* its second page: 0xA5 bytes */
    movabsq $0xA5A5A5A5A5A5A5A5, %rax
    movl $512, %ecx
    rep stosq
    movl $0xFFDFB000, %edi              /* the GetQuote buffer */
    movq $1, 0(%rdi)                    /* version */
    movq $0, 8(%rdi)                    /* status */
    movl $1024, 16(%rdi)                /* in_len */
    movl $0, 20(%rdi)                   /* out_len */
    addq $24, %rdi
    movl $0xFFFFE400, %esi
    movl $128, %ecx
    rep movsq
    movabsq $0x8000FFFFB000, %r12       /* GetQuote, 8 KiB */
    movl $0x2000, %r13d
    movl $0x10002, %r11d
    call ghci
    movl $0xFFFFE800, %edx
    movq %r10, 24(%rdx)
    movl $0xFFDFB000, %edi
    movq 8(%rdi), %rax
    movq %rax, 32(%rdx)
    movzwl 24(%rdi), %eax
    shlq $32, %rax
    movl 20(%rdi), %ecx
    orq %rcx, %rax
    movq %rax, 40(%rdx)
    movl $0xFFFFE000, %r12d             /* GetQuote over a private GPA */
    movl $0x1000, %r13d
    movl $0x10002, %r11d
    call ghci
    movl $0xFFFFE800, %edx
    movq %r10, 48(%rdx)
    movl $0xFFDFA000, %eax              /* unmapped shared GPA: write */
    movq $0x5EED5EED, (%rax)
    movq (%rax), %rcx
    movq %rcx, 56(%rdx)
    movl $0xFFFFC000, %r12d             /* MapGPA -> private */
    movl $0x1000, %r13d
    movl $0x10001, %r11d
    call ghci
    movl $0xFFFFE800, %edx
    movq %r10, 64(%rdx)
    movl $0xFFFFC000, %ecx
    TDCALL_RETRY 6
    movl $0xFFFFE800, %edx
    movq %rax, 72(%rdx)
    movl $0xFFFFC000, %esi              /* OR of the page's words */
    xorl %eax, %eax
    movl $512, %ecx
10: orq (%rsi), %rax
    addq $8, %rsi
    decl %ecx
    jnz 10b
    movq %rax, 80(%rdx)
    xorl %r12d, %r12d                   /* [11] GHCI CPUID leaf 0 (R10) */
    xorl %r13d, %r13d
    movl $10, %r11d
    call ghci
    movl $0xFFFFE800, %edx
    movq %r10, 88(%rdx)
    movq %r13, %r8                      /* the VMM's EBX, ECX, EDX */
    movq %r14, %r9
    movq %r15, %r10
    xorl %eax, %eax                     /* [12] = 1 if they are the CPU's */
    xorl %ecx, %ecx
    cpuid
    xorl %esi, %esi
    cmpl %ebx, %r8d
    jne 12f
    cmpl %ecx, %r9d
    jne 12f
    cmpl %edx, %r10d
    jne 12f
    movl $1, %esi
12: movl $0xFFFFE800, %edx
    movq %rsi, 96(%rdx)
    movl $8, %r12d                      /* [13] MMIO read of the VMM device's */
    xorl %r13d, %r13d                   /* 8-byte ID register (R11) */
    movabsq $0x8000FE000000, %r14
    xorl %r15d, %r15d
    movl $48, %r11d
    call ghci
    movl $0xFFFFE800, %edx
    movq %r11, 104(%rdx)
    movl $8, %r12d                      /* MMIO write of its scratch register, */
    movl $1, %r13d                      /* then a 4-byte read back: [14] */
    movabsq $0x8000FE000008, %r14
    movabsq $0x1122334455667788, %r15
    movl $48, %r11d
    call ghci
    movl $4, %r12d
    xorl %r13d, %r13d
    movabsq $0x8000FE000008, %r14
    xorl %r15d, %r15d
    movl $48, %r11d
    call ghci
    movl $0xFFFFE800, %edx
    movq %r11, 112(%rdx)
    xorl %r12d, %r12d                   /* [15] GHCI HLT (R10) */
    movl $12, %r11d
    call ghci
    movl $0xFFFFE800, %edx
    movq %r10, 120(%rdx)
    xorl %ecx, %ecx                     /* [16] TDG.VM.WR NOTIFY_ENABLES = 0, */
    movabsq $0x9100000000000010, %rdx   /* mask -1, as Linux does at boot */
    xorl %r8d, %r8d                     /* (RCX = VM id 0: the TD itself) */
    movq $-1, %r9
    TDCALL_RETRY 8
    movl $0xFFFFE800, %edx
    movq %rax, 128(%rdx)
    xorl %ecx, %ecx                     /* TDG.VM.RD of MRTD bytes 0..7: */
    movabsq $0x1310000300000000, %rdx   /* [17] the value, [18] the status */
    TDCALL_RETRY 7
    movl $0xFFFFE800, %edx
    movq %r8, 136(%rdx)
    movq %rax, 144(%rdx)
    xorl %r12d, %r12d                   /* hand the 19 results over */
11: movl $0xFFFFE800, %eax
    movq (%rax,%r12,8), %r13
    movl $0x434D4F4E, %r10d
    movl $4, %r11d
    movl $0x3C00, %ecx                  /* expose R10..R13 */
    xorl %eax, %eax
    .byte 0x66, 0x0f, 0x01, 0xcc
    incq %r12
    cmpq $19, %r12
    jne 11b
    ret

/* ghci: TDG.VP.VMCALL with R10 = 0 (GHCI), R11 = sub-function, R12..R15
 * the arguments; returns R10 = status, R11..R15 the outputs. Clobbers
 * RAX, RCX. */
ghci:
    xorl %r10d, %r10d
    movl $0xFC00, %ecx                  /* expose R10..R15 */
    xorl %eax, %eax
    .byte 0x66, 0x0f, 0x01, 0xcc
    ret

/* putc: AL = character, through TDG.VP.VMCALL <Instruction.IO> write of
 * one byte to port 0x3F8 (GHCI: R12 size, R13 direction 1 = out, R14
 * port, R15 value); clobbers RAX, RCX, R10..R15. */
putc:
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movzbl %al, %r15d
    xorl %r10d, %r10d
    movl $30, %r11d
    movl $1, %r12d
    movl $1, %r13d
    movl $0x3F8, %r14d
    movl $0xFC00, %ecx                  /* expose R10..R15 */
    xorl %eax, %eax
    .byte 0x66, 0x0f, 0x01, 0xcc
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    ret
msg:
    .asciz "hello from a TD at CPL 3, through TDG.VP.VMCALL <IO>\n"
msg1:
    .asciz "hello from vCPU 1\n"
    .org td_guest_start + 0xFF0
    jmp td_guest_start                  /* the reset vector */
    .org td_guest_start + 0x1000
    .globl td_guest_end
td_guest_end:
    .text
