// The scheduler's one switch between two fibers, inlined into each caller (private to the target).
#ifndef WEAVE_TRANSFER_H
#define WEAVE_TRANSFER_H

#include "CWeaveContext.h"
#include "sanitizers.h"

/// Reports a coroutine that switched out with an exclusive access still open, and aborts.
/// Out of line and cold: the switch only branches to it.
__attribute__((noinline, cold, noreturn, visibility("hidden")))
void weave_report_suspended_in_access(const weave_fiber *f);

// The one place that switches. Swaps Swift's exclusivity-access set so each coroutine
// sees only its own accesses (plus the host's), exactly as Swift tasks do. Always inlined,
// so the run queue and the benchmark pay no call on top of the assembly switch.
static inline __attribute__((always_inline))
void transfer_ex(weave_sched *s, weave_fiber *from, weave_fiber *to, int from_is_dying) {
    if (s->swap_exclusivity) {
        // The runtime's exit and enter do nothing while the thread's access list is empty
        // and the coroutine has no saved accesses (its state word is 0): the common case,
        // checked here without the runtime's thread-local lookups.
        const int list_empty = s->exclusivity_head && *s->exclusivity_head == NULL;
        if (!from->is_host && !(list_empty && from->exclusivity[0] == 0)) {
            swift_task_exitThreadLocalContext((char *)from->exclusivity);
            if (__builtin_expect(s->check_exclusivity && from->exclusivity[0] != 0, 0))
                weave_report_suspended_in_access(from);
        }
        if (!to->is_host && !(s->exclusivity_head && *s->exclusivity_head == NULL && to->exclusivity[0] == 0))
            swift_task_enterThreadLocalContext((char *)to->exclusivity);
    }
    // The watchdog thread reads these two with relaxed loads. `current` is a relaxed store
    // (a plain mov). The counter stays a plain increment (`incq` in memory; a relaxed atomic
    // store would split it into load, add, store): only this thread writes it, and aligned
    // 8-byte stores are single-copy atomic on x86_64 and AArch64, so the reader sees the old
    // or the new value. Under TSan, where that benign race would be reported, it is atomic.
    __atomic_store_n(&s->current, to, __ATOMIC_RELAXED);
#if WEAVE_TSAN
    __atomic_store_n(&s->switches, s->switches + 1, __ATOMIC_RELAXED);
#else
    s->switches++;
#endif
#if WEAVE_ASAN
    void *fake_stack = NULL;
    __sanitizer_start_switch_fiber(from_is_dying ? NULL : &fake_stack, to->stack_low, to->stack_size);
#else
    (void)from_is_dying;
#endif
#if WEAVE_TSAN
    __tsan_switch_to_fiber(to->sanitizer_fiber, 0);
#endif
    weave_context_switch(&from->sp, to->sp, to);
#if WEAVE_ASAN
    __sanitizer_finish_switch_fiber(fake_stack, NULL, NULL);
#endif
}

static inline __attribute__((always_inline))
void transfer(weave_sched *s, weave_fiber *from, weave_fiber *to) {
    transfer_ex(s, from, to, 0);
}

#endif
