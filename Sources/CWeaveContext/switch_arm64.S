// Context switch for AArch64 (AAPCS64). Saved: x19-x28, fp (x29), lr (x30), d8-d15 and
// FPCR. The saved state lives on the suspended stack itself (fcontext-style).
#if defined(__aarch64__) && defined(__linux__)

    .text
    .globl  weave_context_switch
    .type   weave_context_switch, %function
    .p2align 4
// void *weave_context_switch(void **save_sp /*x0*/, void *to_sp /*x1*/, void *arg /*x2*/)
weave_context_switch:
    .cfi_startproc
    sub     sp, sp, #176
    stp     x19, x20, [sp, #0]
    stp     x21, x22, [sp, #16]
    stp     x23, x24, [sp, #32]
    stp     x25, x26, [sp, #48]
    stp     x27, x28, [sp, #64]
    stp     x29, x30, [sp, #80]
    stp     d8,  d9,  [sp, #96]
    stp     d10, d11, [sp, #112]
    stp     d12, d13, [sp, #128]
    stp     d14, d15, [sp, #144]
    mrs     x10, fpcr
    str     x10, [sp, #160]
    mov     x9, sp
    str     x9, [x0]

    mov     sp, x1
    ldp     x19, x20, [sp, #0]
    ldp     x21, x22, [sp, #16]
    ldp     x23, x24, [sp, #32]
    ldp     x25, x26, [sp, #48]
    ldp     x27, x28, [sp, #64]
    ldp     x29, x30, [sp, #80]
    ldp     d8,  d9,  [sp, #96]
    ldp     d10, d11, [sp, #112]
    ldp     d12, d13, [sp, #128]
    ldp     d14, d15, [sp, #144]
    ldr     x9, [sp, #160]
    // Writing FPCR can be slow; it almost never differs between coroutines.
    cmp     x9, x10
    b.eq    1f
    msr     fpcr, x9
1:
    add     sp, sp, #176
    mov     x0, x2          // returned on the resumed side, or the entry's argument
    ret
    .cfi_endproc
    .size   weave_context_switch, .-weave_context_switch

// First activation of a fresh context: x19 holds the entry function, x0 its argument.
    .globl  weave_context_trampoline
    .type   weave_context_trampoline, %function
    .p2align 4
weave_context_trampoline:
    .cfi_startproc
    .cfi_undefined x30      // the outermost frame: unwinders stop here
    mov     x29, #0
    mov     x30, #0
    blr     x19
    // The entry must never return; if it does, die loudly instead of running off the stack.
    bl      abort
    brk     #0
    .cfi_endproc
    .size   weave_context_trampoline, .-weave_context_trampoline

#endif

#if defined(__linux__) && defined(__ELF__)
    .section .note.GNU-stack,"",%progbits
#endif
