/* Shared 32-bit entry (qemu-platforms.md §3.3 step 2).
 *
 * q35_entry32 expects flat 32-bit protected mode, paging off, interrupts
 * off: the state after reset16.S, and also the state a TD vCPU starts in
 * (tdx-module-abi.md §6.3: CR0 = PE|NE, flat CS/DS) or a PVH-style loader
 * provides. It loads its own GDT, so the caller's selectors do not matter.
 * It runs in place from ROM (linked at its ROM address). */
    .section .rom32, "ax"
    .code32
    .globl q35_entry32
q35_entry32:
    lgdtl q35_boot_gdtr
    ljmpl $0x08, $1f
1:  movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    movw %ax, %fs
    movw %ax, %gs

    /* Copy the payload (.text .. .data) from its ROM LMA to 1 MiB. */
    movl $__payload_lma, %esi
    movl $__payload_start, %edi
    movl $__payload_end, %ecx
    subl %edi, %ecx
    rep movsb

    /* Zero .bss (this also zeroes every per-CPU stack). */
    movl $__bss_start, %edi
    movl $__bss_end, %ecx
    subl %edi, %ecx
    xorl %eax, %eax
    rep stosb

    /* Identity map 0..4 GiB with 2 MiB pages (SDM Vol. 3A, "4-Level
     * Paging"): PML4 -> one PDPT -> four PDs. */
    movl ${BOOT_PML4}, %edi
    movl ${BOOT_TABLES_BYTES}, %ecx
    xorl %eax, %eax
    rep stosb
    movl ${BOOT_PDPT} + 3, {BOOT_PML4}          /* P | RW */
    xorl %ecx, %ecx
2:  movl %ecx, %eax
    shll $12, %eax
    addl ${BOOT_PD} + 3, %eax                   /* PD i: P | RW */
    movl %eax, {BOOT_PDPT}(,%ecx,8)
    incl %ecx
    cmpl $4, %ecx
    jb 2b
    xorl %ecx, %ecx
3:  movl %ecx, %eax
    shll $21, %eax
    orl $0x83, %eax                             /* P | RW | PS (2 MiB) */
    cmpl $1536, %ecx
    jb 4f
    orl $0x18, %eax                             /* 3..4 GiB (MMIO): PWT | PCD = UC */
4:  movl %eax, {BOOT_PD}(,%ecx,8)
    incl %ecx
    cmpl $2048, %ecx
    jb 3b

    xorl %ebp, %ebp                             /* role: bootstrap processor */
    jmp q35_enter_long32

/* AP path: the trampoline (ap_trampoline.S) jumps here in flat 32-bit mode. */
    .globl q35_ap_entry32
q35_ap_entry32:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    movw %ax, %fs
    movw %ax, %gs
    movl $1, %ebp                               /* role: application processor */

/* Common 32 -> 64-bit switch (SDM Vol. 3A, "Initializing IA-32e Mode"):
 * CR4.PAE, CR3, EFER.LME (+NXE if CPUID has NX), then CR0.PG. %ebp = role. */
q35_enter_long32:
    movl ${BOOT_PML4}, %eax
    movl %eax, %cr3
    movl %cr4, %eax
    orl $0x20, %eax                             /* CR4.PAE (bit 5) */
    movl %eax, %cr4
    movl $0x80000001, %eax
    cpuid
    movl %edx, %edi                             /* CPUID.80000001H:EDX, NX = bit 20 */
    movl $0xC0000080, %ecx                      /* IA32_EFER */
    rdmsr
    orl $0x100, %eax                            /* EFER.LME (bit 8) */
    btl $20, %edi
    jnc 5f
    orl $0x800, %eax                            /* EFER.NXE (bit 11) */
5:  wrmsr
    movl %cr0, %eax
    andl $0x9FFFFFFF, %eax                      /* clear CD, NW: caches on */
    orl $0x80000001, %eax                       /* PG | PE */
    movl %eax, %cr0
    ljmpl $0x18, $q35_entry64
    .code64
    .text
