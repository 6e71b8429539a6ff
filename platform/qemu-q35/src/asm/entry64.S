/* 64-bit entry in RAM (qemu-platforms.md §3.3 step 3). %ebp = role from
 * entry32.S: 0 = BSP (CPU index 0), else an AP, which takes the next CPU
 * index with LOCK XADD (APs arrive in any order after the broadcast SIPI).
 * Each CPU gets stack `index` of the STACKS array, then calls rust_start. */
    .section .text.q35_entry64, "ax"
    .code64
    .globl q35_entry64
q35_entry64:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    xorl %eax, %eax
    movw %ax, %fs
    movw %ax, %gs
    xorl %edi, %edi
    testl %ebp, %ebp
    jz 1f
    movl $1, %edi
    lock xaddl %edi, {ap_ticket}(%rip)
    cmpl ${MAX_CPUS}, %edi
    jae 2f                                      /* more CPUs than we have stacks */
1:  leaq {stacks}(%rip), %rsp
    movl %edi, %eax
    incq %rax
    imulq ${STACK_SIZE}, %rax, %rax
    addq %rax, %rsp                             /* top of stack `index` */
    xorl %ebp, %ebp
    call {rust_start}
2:  cli
    hlt
    jmp 2b
    .text
