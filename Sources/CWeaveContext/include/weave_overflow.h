// Stack overflow reporting: the guard-fault handler and each hub thread's alternate signal stack.
#ifndef WEAVE_OVERFLOW_H
#define WEAVE_OVERFLOW_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Installs (once per process) a SIGSEGV/SIGBUS handler that reports a fault in a
/// coroutine's guard region as a stack overflow naming the coroutine, then aborts.
/// Other faults are passed on to the handler that was installed before.
void weave_install_overflow_handler(void);

/// A thread's alternate signal stack, so the overflow handler can run when a coroutine
/// stack is exhausted, and the one it replaced (restored on uninstall).
typedef struct weave_altstack {
    void *memory;
    size_t size;
    unsigned char previous[32];       // the replaced stack_t
    int installed;
} weave_altstack;

/// Maps and installs an alternate signal stack of `size` bytes on the calling thread.
/// Returns 0, or an errno value.
int weave_altstack_install(weave_altstack *a, size_t size);
/// Restores the previous alternate stack and unmaps this one.
void weave_altstack_uninstall(weave_altstack *a);

#ifdef __cplusplus
}
#endif

#endif
