// Test helpers that C cannot express: control over callee-saved registers across a switch,
// and the exact stack pointer at a fresh context's first instruction.
#if defined(__x86_64__) && defined(__linux__)

    .text

// uint64_t harness_regs_switch(void **save_sp, void *to_sp, void *arg, uint64_t seed,
//                              uint64_t out[6]);
// Loads rbx, rbp, r12..r15 with seed+1..seed+6, calls weave_context_switch(save_sp, to_sp,
// arg), then stores what those registers hold after the switch returns into out[0..5]
// (order: rbx, rbp, r12, r13, r14, r15). The caller's own values are restored before
// returning the switch's result.
    .globl  harness_regs_switch
    .type   harness_regs_switch, @function
    .p2align 4
harness_regs_switch:
    pushq   %rbp
    pushq   %rbx
    pushq   %r12
    pushq   %r13
    pushq   %r14
    pushq   %r15
    pushq   %r8             // `out`; 7 pushes keep rsp 16-byte aligned for the call
    leaq    1(%rcx), %rbx
    leaq    2(%rcx), %rbp
    leaq    3(%rcx), %r12
    leaq    4(%rcx), %r13
    leaq    5(%rcx), %r14
    leaq    6(%rcx), %r15
    callq   weave_context_switch@PLT    // rdi, rsi, rdx are passed through untouched
    movq    (%rsp), %rcx
    movq    %rbx, 0(%rcx)
    movq    %rbp, 8(%rcx)
    movq    %r12, 16(%rcx)
    movq    %r13, 24(%rcx)
    movq    %r14, 32(%rcx)
    movq    %r15, 40(%rcx)
    addq    $8, %rsp
    popq    %r15
    popq    %r14
    popq    %r13
    popq    %r12
    popq    %rbx
    popq    %rbp
    ret                     // rax: the switch's return value
    .size   harness_regs_switch, .-harness_regs_switch

// Entry for a fresh context: records rsp and rdi exactly as the entry sees them, then
// tail-jumps to the C body on the same stack (so the body sees the same alignment).
    .globl  harness_probe_entry
    .type   harness_probe_entry, @function
    .p2align 4
harness_probe_entry:
    movq    %rsp, harness_probe_sp(%rip)
    movq    %rdi, harness_probe_arg(%rip)
    jmp     harness_probe_body@PLT
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
