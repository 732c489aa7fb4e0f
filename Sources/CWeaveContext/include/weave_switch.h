// The raw context switch (switch_<arch>.S), the layout of a fresh context, and the Swift
// runtime hooks the scheduler's switch calls to swap exclusivity-access sets.
#ifndef WEAVE_SWITCH_H
#define WEAVE_SWITCH_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Saves the callee-saved registers and FP control state on the current stack, stores the
/// stack pointer into `*save_sp`, switches to `to_sp` and returns `arg` there (either from
/// the other side's own `weave_context_switch` call, or as the entry argument of a fresh
/// context made by `weave_context_make`).
void *weave_context_switch(void **save_sp, void *to_sp, void *arg);

/// First code of a fresh context (weave_switch_<arch>.S): calls the entry it finds in a
/// callee-saved register with the switch's `arg`, and aborts if the entry returns.
void weave_context_trampoline(void);

/// Prepares a fresh context whose first activation calls `entry(arg)`, where `arg` is the
/// value passed to the `weave_context_switch` that enters it. `stack_top` is aligned down
/// to 16 bytes. `entry` must never return: the trampoline aborts if it does. (Inline: it
/// is part of every spawn.)
static inline void *weave_context_make(void *stack_top, void (*entry)(void *arg)) {
    uintptr_t top = (uintptr_t)stack_top & ~(uintptr_t)15;
#if defined(__x86_64__)
    // Layout read by weave_context_switch, from the saved sp upwards:
    // [pad][mxcsr][x87 cw][r15][r14][r13][r12=entry][rbx][rbp=0][ret=trampoline]
    // After `ret` the stack pointer is `top`, 16-byte aligned as the trampoline's call
    // needs. (72 bytes: with a detached coroutine's body above it, two cache lines.)
    uint64_t *sp = (uint64_t *)(top - 72);
    sp[0] = 0;
    sp[1] = 0x037F00001F80ull;        // MXCSR: exceptions masked, round to nearest; x87 CW default
    sp[2] = sp[3] = sp[4] = 0;        // r15, r14, r13
    sp[5] = (uint64_t)(uintptr_t)entry;                     // r12
    sp[6] = sp[7] = 0;                // rbx, rbp (0 ends backtraces)
    sp[8] = (uint64_t)(uintptr_t)weave_context_trampoline;  // return address
    return sp;
#elif defined(__aarch64__)
    // Layout: x19..x28, x29, x30, d8..d15, fpcr, pad (176 bytes); x19 = entry, x30 = trampoline.
    uint64_t *sp = (uint64_t *)(top - 176);
    for (int i = 0; i < 22; i++) sp[i] = 0;
    sp[0] = (uint64_t)(uintptr_t)entry;                      // x19
    sp[11] = (uint64_t)(uintptr_t)weave_context_trampoline;  // x30
    return sp;
#else
#error "Weave supports x86_64 and aarch64"
#endif
}

// MARK: - Swift runtime hooks (exported by libswiftCore.so)

/// Pushes a task's saved exclusivity-access set onto the thread's list (16-byte state).
extern void swift_task_enterThreadLocalContext(char *state);
/// Pops the accesses begun since the matching enter into `state`, restoring the thread's list.
extern void swift_task_exitThreadLocalContext(char *state);

/// Finds the calling thread's head of Swift's exclusivity access list: begins two nested
/// tracked accesses on locals, looks for the word in libswiftCore's thread-local block
/// that follows them exactly (set to each access, then back as they end), and returns its
/// address; NULL if no single word does (another runtime, or checking disabled). Only
/// valid on the calling thread.
void *const *weave_probe_exclusivity_head(void);

#ifdef __cplusplus
}
#endif

#endif
