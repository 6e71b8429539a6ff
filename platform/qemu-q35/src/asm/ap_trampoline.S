/* AP real-mode trampoline. Linked at 0x8000, copied there from ROM by
 * smp.rs before INIT-SIPI-SIPI; a SIPI with vector 0x08 starts an AP at
 * CS = 0x0800, IP = 0 (SDM Vol. 3A, "MP Initialization", typical AP
 * initialization sequence). All APs may run it at once: it has no stack
 * and writes no memory. */
    .section .ap_trampoline, "ax"
    .code16
    .globl q35_ap_trampoline
q35_ap_trampoline:
    cli
    cld
    movw %cs, %ax
    movw %ax, %ds
    lgdtl (q35_ap_gdtr - q35_ap_trampoline)
    movl %cr0, %eax
    orl $1, %eax                                /* CR0.PE */
    movl %eax, %cr0
    ljmpl $0x08, $q35_ap_entry32
    .balign 8
q35_ap_gdtr:
    .word q35_boot_gdt_end - q35_boot_gdt - 1
    .long q35_boot_gdt
    .globl q35_ap_trampoline_end
q35_ap_trampoline_end:
    .code64
    .text
