// A tiny realm payload, copied by the host into the measured DATA granule
// at IPA 0x1000 and run at R-EL1 with its MMU off (IPA = VA). Position
// independent: immediates and PC-relative branches only.
//
// 1. RSI_VERSION(1.0) -> keeps status and lower revision.
// 2. RSI_HOST_CALL with RsiHostCall at IPA 0x2000 (imm 0x1234, gprs[0] =
//    the RSI_VERSION status, gprs[1] = lower revision).
// 3. Reads the host's answer in gprs[0], adds 1, second RSI_HOST_CALL.
// 4. Prints a line through the host's emulated UART (MMIO exits).
// 5. RSI_IPA_STATE_SET [0x2000, 0x3000) -> EMPTY, result in a host call.
// 6. PSCI SYSTEM_OFF.
.section .rodata.realm_code, "a"
.balign 4
.global realm_code_start
realm_code_start:
    movz    x0, #0x0190
    movk    x0, #0xC400, lsl #16     // RSI_VERSION
    movz    x1, #0x1, lsl #16        // requested 1.0
    smc     #0
    mov     x19, x0
    mov     x20, x1
    movz    x9, #0x2000              // RsiHostCall IPA
    movz    x10, #0x1234
    str     x10, [x9]                // imm
    str     x19, [x9, #8]            // gprs[0]
    str     x20, [x9, #16]           // gprs[1]
    movz    x0, #0x0199
    movk    x0, #0xC400, lsl #16     // RSI_HOST_CALL
    mov     x1, x9
    smc     #0
    ldr     x11, [x9, #8]            // host's answer
    add     x11, x11, #1
    str     x11, [x9, #8]
    movz    x0, #0x0199
    movk    x0, #0xC400, lsl #16
    mov     x1, x9
    smc     #0
    // 4. Print a line through a UART the host emulates: every byte is a
    //    store to an unprotected IPA (2^38 + 0x0900_0000, above the PAR of
    //    a 39-bit realm), i.e. an emulatable data abort the host completes.
    adr     x10, 3f
    movz    x9, #0x0900, lsl #16
    movk    x9, #0x40, lsl #32
2:  ldrb    w1, [x10], #1
    cbz     w1, 4f
    strb    w1, [x9]
    b       2b
    // 5. RIPAS change: ask for [0x2000, 0x3000) to become EMPTY, then
    //    report x0 (status), x1 (address reached), x2 (accept/reject) in a
    //    host call whose RsiHostCall sits at IPA 0x1800 (this page).
4:  movz    x0, #0x0197
    movk    x0, #0xC400, lsl #16     // RSI_IPA_STATE_SET
    movz    x1, #0x2000
    movz    x2, #0x3000
    mov     x3, #0                   // RIPAS EMPTY
    mov     x4, #0
    smc     #0
    movz    x9, #0x1800
    str     x0, [x9, #8]
    str     x1, [x9, #16]
    str     x2, [x9, #24]
    movz    x0, #0x0199
    movk    x0, #0xC400, lsl #16     // RSI_HOST_CALL
    mov     x1, x9
    smc     #0
    movz    x0, #0x0008
    movk    x0, #0x8400, lsl #16     // PSCI SYSTEM_OFF
    smc     #0
1:  b       1b
3:  .asciz  "hello from a realm at R-EL1, via the host's emulated UART\n"
.balign 8
.global realm_code_end
realm_code_end:

// Benchmark payload: RSI_HOST_CALL in a loop (RsiHostCall at IPA 0x2000),
// so every REC_ENTER is one entry -> host-call exit round trip.
.global realm_hostcall_loop_start
realm_hostcall_loop_start:
    movz    x9, #0x2000
1:  movz    x0, #0x0199
    movk    x0, #0xC400, lsl #16     // RSI_HOST_CALL
    mov     x1, x9
    smc     #0
    b       1b
.global realm_hostcall_loop_end
realm_hostcall_loop_end:

// Attestation benchmark payload (RsiHostCall at IPA 0x2000, token written
// into [0x2800, 0x3000) of the same page). Each pass ends in two host calls:
//   1. RSI_MEASUREMENT_EXTEND(REM 1, 64 bytes of x3..x10), host call;
//   1b. CMON_RSI_SEALING_KEY(RIM policy, version 1), host call;
//   2. RSI_ATTEST_TOKEN_INIT (challenge = whatever x1..x8 hold), then
//      RSI_ATTEST_TOKEN_CONTINUE until it stops answering RSI_INCOMPLETE,
//      then a host call with gprs[0] = last status, gprs[1] = token bytes.
.global realm_attest_loop_start
realm_attest_loop_start:
    movz    x9, #0x2000
1:  movz    x0, #0x0193
    movk    x0, #0xC400, lsl #16     // RSI_MEASUREMENT_EXTEND
    movz    x1, #1
    movz    x2, #64
    smc     #0
    movz    x0, #0x0199
    movk    x0, #0xC400, lsl #16     // RSI_HOST_CALL
    mov     x1, x9
    smc     #0
    movz    x0, #0x0011
    movk    x0, #0xC600, lsl #16     // CMON_RSI_SEALING_KEY
    mov     x1, #0
    mov     x2, #1
    smc     #0
    movz    x0, #0x0199
    movk    x0, #0xC400, lsl #16     // RSI_HOST_CALL
    mov     x1, x9
    smc     #0
    movz    x0, #0x0194
    movk    x0, #0xC400, lsl #16     // RSI_ATTEST_TOKEN_INIT
    smc     #0
    mov     x12, #0                  // token bytes so far
2:  movz    x0, #0x0195
    movk    x0, #0xC400, lsl #16     // RSI_ATTEST_TOKEN_CONTINUE
    mov     x1, x9
    add     x2, x12, #0x800          // offset in the page
    mov     x3, #0x800
    sub     x3, x3, x12              // room left
    smc     #0
    add     x12, x12, x1
    cmp     x0, #3                   // RSI_INCOMPLETE
    b.eq    2b
    str     x0, [x9, #8]
    str     x12, [x9, #16]
    movz    x0, #0x0199
    movk    x0, #0xC400, lsl #16     // RSI_HOST_CALL
    mov     x1, x9
    smc     #0
    b       1b
.global realm_attest_loop_end
realm_attest_loop_end:

// Two-REC payload. REC 0 starts REC 1 with PSCI CPU_ON (target MPIDR 1,
// entry = label 5 below, context id 0x77), then reports the PSCI return
// code in a host call (RsiHostCall at IPA 0x2000). REC 1 reports the
// context id it was started with (RsiHostCall at IPA 0x2100).
.global realm_psci_start
realm_psci_start:
    adr     x2, 5f
    movz    x0, #0x0003
    movk    x0, #0xC400, lsl #16     // PSCI CPU_ON (SMC64)
    movz    x1, #1
    movz    x3, #0x77
    smc     #0
    movz    x9, #0x2000
    str     x0, [x9, #8]
    movz    x0, #0x0199
    movk    x0, #0xC400, lsl #16     // RSI_HOST_CALL
    mov     x1, x9
    smc     #0
1:  b       1b
5:  movz    x9, #0x2100
    str     x0, [x9, #8]
    movz    x0, #0x0199
    movk    x0, #0xC400, lsl #16
    mov     x1, x9
    smc     #0
2:  b       2b
.balign 8
.global realm_psci_end
realm_psci_end:

// GIC payload: unmask all virtual priorities, enable virtual group 1,
// acknowledge the highest pending virtual interrupt (ICC_IAR1_EL1, served
// by the virtual CPU interface since HCR_EL2.IMO = 1) and report its
// INTID in a host call (RsiHostCall at IPA 0x2000).
.global realm_gic_start
realm_gic_start:
    movz    x1, #0xff
    msr     S3_0_C4_C6_0, x1         // ICC_PMR_EL1
    mov     x1, #1
    msr     S3_0_C12_C12_7, x1       // ICC_IGRPEN1_EL1
    isb
    mrs     x0, S3_0_C12_C12_0       // ICC_IAR1_EL1
    movz    x9, #0x2000
    str     x0, [x9, #8]
    movz    x0, #0x0199
    movk    x0, #0xC400, lsl #16     // RSI_HOST_CALL
    mov     x1, x9
    smc     #0
1:  b       1b
.balign 8
.global realm_gic_end
realm_gic_end:

// Timer payload: arm the EL1 physical timer (CNTP_TVAL_EL0 = 0x4000
// ticks, enabled, unmasked), unmask virtual group 1, then wait with WFI
// until the host has injected the timer's interrupt: acknowledge it
// through ICC_IAR1_EL1, note CNTP_CTL_EL0 (ISTATUS), turn the timer off,
// EOI, and report INTID and the control value in a host call
// (RsiHostCall at IPA 0x2000).
.global realm_timer_start
realm_timer_start:
    movz    x1, #0xff
    msr     S3_0_C4_C6_0, x1         // ICC_PMR_EL1
    mov     x1, #1
    msr     S3_0_C12_C12_7, x1       // ICC_IGRPEN1_EL1
    movz    x1, #0x4000
    msr     cntp_tval_el0, x1
    mov     x1, #1                   // ENABLE
    msr     cntp_ctl_el0, x1
    isb
1:  wfi
    mrs     x0, S3_0_C12_C12_0       // ICC_IAR1_EL1
    cmp     x0, #1023                // spurious: nothing injected yet
    b.eq    1b
    mrs     x2, cntp_ctl_el0
    msr     cntp_ctl_el0, xzr
    isb
    msr     S3_0_C12_C12_1, x0       // ICC_EOIR1_EL1 (EOImode 0: deactivates)
    movz    x9, #0x2000
    str     x0, [x9, #8]
    str     x2, [x9, #16]
    movz    x0, #0x0199
    movk    x0, #0xC400, lsl #16     // RSI_HOST_CALL
    mov     x1, x9
    smc     #0
2:  b       2b
.balign 8
.global realm_timer_end
realm_timer_end:
