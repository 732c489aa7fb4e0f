// Context switch for x86_64 System V (fcontext-style: the saved state lives on the
// suspended stack itself, so a switch is a handful of pushes, a stack swap and pops).
// Saved: rbp, rbx, r12-r15, MXCSR and the x87 control word. No signal mask (that is
// ucontext's syscall per switch).
#if defined(__x86_64__) && defined(__linux__)

    .text
    .globl  weave_context_switch
    .type   weave_context_switch, @function
    .p2align 4
// void *weave_context_switch(void **save_sp /*rdi*/, void *to_sp /*rsi*/, void *arg /*rdx*/)
weave_context_switch:
    .cfi_startproc
    pushq   %rbp
    pushq   %rbx
    pushq   %r12
    pushq   %r13
    pushq   %r14
    pushq   %r15
    subq    $16, %rsp
    stmxcsr 8(%rsp)
    fnstcw  12(%rsp)
    movl    8(%rsp), %r8d
    movzwl  12(%rsp), %r9d
    movq    %rsp, (%rdi)

    movq    %rsi, %rsp
    // Loading MXCSR and the x87 control word is slow (fldcw is microcoded) and they almost
    // never differ between contexts: load each only when the other side's differs.
    movl    8(%rsp), %ecx
    xorl    %r8d, %ecx
    testl   $0xFFC0, %ecx   // control bits only: the sticky status flags (0-5) are not preserved
    je      1f
    ldmxcsr 8(%rsp)
1:
    cmpw    12(%rsp), %r9w
    je      2f
    fldcw   12(%rsp)
2:
    addq    $16, %rsp
    popq    %r15
    popq    %r14
    popq    %r13
    popq    %r12
    popq    %rbx
    popq    %rbp
    movq    %rdx, %rax      // returned on the resumed side
    movq    %rdx, %rdi      // first argument for a fresh context's entry
    ret
    .cfi_endproc
    .size   weave_context_switch, .-weave_context_switch

// First activation of a fresh context: r12 holds the entry function, rdi its argument.
    .globl  weave_context_trampoline
    .type   weave_context_trampoline, @function
    .p2align 4
weave_context_trampoline:
    .cfi_startproc
    .cfi_undefined rip      // the outermost frame: unwinders and debuggers stop here
    xorl    %ebp, %ebp
    callq   *%r12
    // The entry must never return; if it does, die loudly instead of running off the stack.
    callq   abort@PLT
    ud2
    .cfi_endproc
    .size   weave_context_trampoline, .-weave_context_trampoline

#endif

#if defined(__linux__) && defined(__ELF__)
    .section .note.GNU-stack,"",%progbits
#endif
