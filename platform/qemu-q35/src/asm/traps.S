/* Exception entry and ring-3 entry/exit (SDM Vol. 3A, "Interrupt and
 * Exception Handling": 64-bit mode stack frame; IRET to a lower privilege).
 *
 * Every stub leaves the same TrapFrame (idt.rs): 15 GPRs (RAX lowest), vector,
 * error code (0 when the CPU pushes none), then the CPU frame RIP, CS,
 * RFLAGS, RSP, SS. The frame is 176 bytes, so RSP is 16-byte aligned at the
 * call (the CPU aligns RSP before pushing in 64-bit mode). */
    .text
    .code64
    .balign 16
q35_trap_0:
    pushq $0
    pushq $0
    jmp q35_trap_common
q35_trap_1:
    pushq $0
    pushq $1
    jmp q35_trap_common
q35_trap_2:
    pushq $0
    pushq $2
    jmp q35_trap_common
q35_trap_3:
    pushq $0
    pushq $3
    jmp q35_trap_common
q35_trap_4:
    pushq $0
    pushq $4
    jmp q35_trap_common
q35_trap_5:
    pushq $0
    pushq $5
    jmp q35_trap_common
q35_trap_6:
    pushq $0
    pushq $6
    jmp q35_trap_common
q35_trap_7:
    pushq $0
    pushq $7
    jmp q35_trap_common
q35_trap_8:
    pushq $8
    jmp q35_trap_common
q35_trap_9:
    pushq $0
    pushq $9
    jmp q35_trap_common
q35_trap_10:
    pushq $10
    jmp q35_trap_common
q35_trap_11:
    pushq $11
    jmp q35_trap_common
q35_trap_12:
    pushq $12
    jmp q35_trap_common
q35_trap_13:
    pushq $13
    jmp q35_trap_common
q35_trap_14:
    pushq $14
    jmp q35_trap_common
q35_trap_15:
    pushq $0
    pushq $15
    jmp q35_trap_common
q35_trap_16:
    pushq $0
    pushq $16
    jmp q35_trap_common
q35_trap_17:
    pushq $17
    jmp q35_trap_common
q35_trap_18:
    pushq $0
    pushq $18
    jmp q35_trap_common
q35_trap_19:
    pushq $0
    pushq $19
    jmp q35_trap_common
q35_trap_20:
    pushq $0
    pushq $20
    jmp q35_trap_common
q35_trap_21:
    pushq $21
    jmp q35_trap_common
q35_trap_22:
    pushq $0
    pushq $22
    jmp q35_trap_common
q35_trap_23:
    pushq $0
    pushq $23
    jmp q35_trap_common
q35_trap_24:
    pushq $0
    pushq $24
    jmp q35_trap_common
q35_trap_25:
    pushq $0
    pushq $25
    jmp q35_trap_common
q35_trap_26:
    pushq $0
    pushq $26
    jmp q35_trap_common
q35_trap_27:
    pushq $0
    pushq $27
    jmp q35_trap_common
q35_trap_28:
    pushq $0
    pushq $28
    jmp q35_trap_common
q35_trap_29:
    pushq $29
    jmp q35_trap_common
q35_trap_30:
    pushq $30
    jmp q35_trap_common
q35_trap_31:
    pushq $0
    pushq $31
    jmp q35_trap_common

/* IDT vectors 0x40 (the local APIC timer a guest runs under) and 0xFF
 * (APIC spurious): interrupts, so no error code. */
    .globl q35_timer_stub
q35_timer_stub:
    pushq $0
    pushq $0x40
    jmp q35_trap_common
    .globl q35_spurious_stub
q35_spurious_stub:
    pushq $0
    pushq $0xFF
    jmp q35_trap_common

q35_trap_common:
    pushq %r15
    pushq %r14
    pushq %r13
    pushq %r12
    pushq %r11
    pushq %r10
    pushq %r9
    pushq %r8
    pushq %rbp
    pushq %rdi
    pushq %rsi
    pushq %rdx
    pushq %rcx
    pushq %rbx
    pushq %rax
    cld
    movq %rsp, %rdi
    call {trap_rust}
    popq %rax
    popq %rbx
    popq %rcx
    popq %rdx
    popq %rsi
    popq %rdi
    popq %rbp
    popq %r8
    popq %r9
    popq %r10
    popq %r11
    popq %r12
    popq %r13
    popq %r14
    popq %r15
    addq $16, %rsp                      /* vector, error code */
    iretq

/* u64 q35_enter_user(entry, user_rsp, arg, *mut tss_rsp0)
 * Saves the callee-saved registers, points TSS.RSP0 just below them (so any
 * trap from CPL 3 builds its frame there), and IRETQs to CPL 3 with
 * RDI = arg, RFLAGS.IF = 0 and every other GPR zeroed. Returns, with the
 * value user code passed in RDI, when user code executes INT 0x80. */
    .globl q35_enter_user
q35_enter_user:
    pushq %rbx
    pushq %rbp
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    subq $8, %rsp                       /* keep RSP0 16-byte aligned */
    movq %rsp, (%rcx)
    pushq ${USER_SS}
    pushq %rsi
    pushq $0x2                          /* RFLAGS: reserved bit 1 only */
    pushq ${USER_CS}
    pushq %rdi
    movq %rdx, %rdi
    xorl %eax, %eax
    xorl %ebx, %ebx
    xorl %ecx, %ecx
    xorl %edx, %edx
    xorl %esi, %esi
    xorl %ebp, %ebp
    xorl %r8d, %r8d
    xorl %r9d, %r9d
    xorl %r10d, %r10d
    xorl %r11d, %r11d
    xorl %r12d, %r12d
    xorl %r13d, %r13d
    xorl %r14d, %r14d
    xorl %r15d, %r15d
    iretq

/* IDT vector 0x80 (DPL 3 interrupt gate): "leave user mode". From CPL 3 the
 * CPU switched to RSP0, so the 5-word frame sits right below the area
 * q35_enter_user saved; drop it and return from q35_enter_user with RAX =
 * user RDI. Executed at CPL 0 (no stack switch) it is a fatal trap. */
    .globl q35_user_exit_gate
q35_user_exit_gate:
    testb $3, 8(%rsp)
    jz 1f
    cld
    movq %rdi, %rax
    addq $48, %rsp                      /* frame (40) + alignment pad (8) */
    movw $0x10, %cx
    movw %cx, %ds
    movw %cx, %es
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbp
    popq %rbx
    ret
1:  pushq $0
    pushq $0x80
    jmp q35_trap_common

    .section .rodata.q35_trap_stubs, "a"
    .balign 8
    .globl q35_trap_stubs
q35_trap_stubs:
    .quad q35_trap_0
    .quad q35_trap_1
    .quad q35_trap_2
    .quad q35_trap_3
    .quad q35_trap_4
    .quad q35_trap_5
    .quad q35_trap_6
    .quad q35_trap_7
    .quad q35_trap_8
    .quad q35_trap_9
    .quad q35_trap_10
    .quad q35_trap_11
    .quad q35_trap_12
    .quad q35_trap_13
    .quad q35_trap_14
    .quad q35_trap_15
    .quad q35_trap_16
    .quad q35_trap_17
    .quad q35_trap_18
    .quad q35_trap_19
    .quad q35_trap_20
    .quad q35_trap_21
    .quad q35_trap_22
    .quad q35_trap_23
    .quad q35_trap_24
    .quad q35_trap_25
    .quad q35_trap_26
    .quad q35_trap_27
    .quad q35_trap_28
    .quad q35_trap_29
    .quad q35_trap_30
    .quad q35_trap_31
    .text
