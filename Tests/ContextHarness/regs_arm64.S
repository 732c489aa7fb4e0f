// Test helpers that C cannot express: control over callee-saved registers across a switch,
// and the exact stack pointer at a fresh context's first instruction.
#if defined(__aarch64__) && defined(__linux__)

    .text

// uint64_t harness_regs_switch(void **save_sp, void *to_sp, void *arg, uint64_t seed,
//                              uint64_t out[19]);
// Loads x19..x28 with seed+1..seed+10, x29 with seed+11 and d8..d15 with seed+12..seed+19,
// calls weave_context_switch(save_sp, to_sp, arg), then stores what those registers hold
// after the switch returns into out[0..18] (order: x19..x28, x29, d8..d15). The caller's
// own values are restored before returning the switch's result.
    .globl  harness_regs_switch
    .type   harness_regs_switch, %function
    .p2align 4
harness_regs_switch:
    stp     x29, x30, [sp, #-176]!
    stp     x19, x20, [sp, #16]
    stp     x21, x22, [sp, #32]
    stp     x23, x24, [sp, #48]
    stp     x25, x26, [sp, #64]
    stp     x27, x28, [sp, #80]
    stp     d8,  d9,  [sp, #96]
    stp     d10, d11, [sp, #112]
    stp     d12, d13, [sp, #128]
    stp     d14, d15, [sp, #144]
    str     x4, [sp, #160]          // `out`, needed after the switch
    add     x19, x3, #1
    add     x20, x3, #2
    add     x21, x3, #3
    add     x22, x3, #4
    add     x23, x3, #5
    add     x24, x3, #6
    add     x25, x3, #7
    add     x26, x3, #8
    add     x27, x3, #9
    add     x28, x3, #10
    add     x29, x3, #11            // the frame pointer too: it must survive like the rest
    add     x9,  x3, #12
    fmov    d8,  x9
    add     x9,  x3, #13
    fmov    d9,  x9
    add     x9,  x3, #14
    fmov    d10, x9
    add     x9,  x3, #15
    fmov    d11, x9
    add     x9,  x3, #16
    fmov    d12, x9
    add     x9,  x3, #17
    fmov    d13, x9
    add     x9,  x3, #18
    fmov    d14, x9
    add     x9,  x3, #19
    fmov    d15, x9
    bl      weave_context_switch    // x0, x1, x2 are passed through untouched
    ldr     x9, [sp, #160]
    stp     x19, x20, [x9, #0]
    stp     x21, x22, [x9, #16]
    stp     x23, x24, [x9, #32]
    stp     x25, x26, [x9, #48]
    stp     x27, x28, [x9, #64]
    str     x29,      [x9, #80]
    stp     d8,  d9,  [x9, #88]
    stp     d10, d11, [x9, #104]
    stp     d12, d13, [x9, #120]
    stp     d14, d15, [x9, #136]
    ldp     x19, x20, [sp, #16]
    ldp     x21, x22, [sp, #32]
    ldp     x23, x24, [sp, #48]
    ldp     x25, x26, [sp, #64]
    ldp     x27, x28, [sp, #80]
    ldp     d8,  d9,  [sp, #96]
    ldp     d10, d11, [sp, #112]
    ldp     d12, d13, [sp, #128]
    ldp     d14, d15, [sp, #144]
    ldp     x29, x30, [sp], #176
    ret                             // x0: the switch's return value
    .size   harness_regs_switch, .-harness_regs_switch

// Entry for a fresh context: records sp and x0 exactly as the entry sees them, then
// tail-branches to the C body on the same stack.
    .globl  harness_probe_entry
    .type   harness_probe_entry, %function
    .p2align 4
harness_probe_entry:
    mov     x9, sp
    adrp    x10, harness_probe_sp
    str     x9, [x10, :lo12:harness_probe_sp]
    adrp    x10, harness_probe_arg
    str     x0, [x10, :lo12:harness_probe_arg]
    b       harness_probe_body
    .size   harness_probe_entry, .-harness_probe_entry

    .bss
    .p2align 3
    .globl  harness_probe_sp
harness_probe_sp:   .quad 0
    .globl  harness_probe_arg
harness_probe_arg:  .quad 0

#endif

#if defined(__linux__) && defined(__ELF__)
    .section .note.GNU-stack,"",%progbits
#endif
