/* Reset vector and real-mode start (qemu-platforms.md §3.2, §3.3 step 1).
 * At reset CS = 0xF000 with base 0xFFFF_0000 and IP = 0xFFF0, so ROM data is
 * addressed CS-relative as `sym - 0xFFFF0000`. */
    .section .rom16, "ax"
    .code16
    .globl q35_rom16_start
q35_rom16_start:
    cli
    cld
    lgdtl %cs:(q35_boot_gdtr - 0xFFFF0000)
    movl %cr0, %eax
    orl $1, %eax                        /* CR0.PE */
    movl %eax, %cr0
    ljmpl $0x08, $q35_entry32           /* flat 32-bit code */

/* Boot GDT (qemu-platforms.md §3.3 table). Read-only in ROM; also loaded by
 * the AP trampoline. The per-CPU runtime GDT (gdt.rs) keeps these selectors. */
    .balign 8
    .globl q35_boot_gdt
q35_boot_gdt:
    .quad 0
    .quad 0x00CF9A000000FFFF            /* 0x08: 32-bit code, flat */
    .quad 0x00CF92000000FFFF            /* 0x10: data, flat */
    .quad 0x00AF9A000000FFFF            /* 0x18: 64-bit code */
q35_boot_gdt_end:
    .balign 8
    .globl q35_boot_gdtr
q35_boot_gdtr:
    .word q35_boot_gdt_end - q35_boot_gdt - 1
    .long q35_boot_gdt

/* The last 16 bytes of the image: 0xFFFF_FFF0. A near jump stays inside the
 * CS segment (the top 64 KiB). */
    .section .resetvec, "ax"
    .code16
    .globl q35_reset_vector
q35_reset_vector:
    jmp q35_rom16_start
    .fill 16 - (. - q35_reset_vector), 1, 0xF4
    .code64
    .text
