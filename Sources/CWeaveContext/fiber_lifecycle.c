// Laying out a fiber on a fresh stack, its first code, and releasing its sanitizer state.
#include "CWeaveContext.h"
#include "sanitizers.h"

#include <stdlib.h>

// First code run on a fresh stack: completes the sanitizer hand-off, then enters Swift.
void weave_fiber_start(void *arg) {
    weave_fiber *f = (weave_fiber *)arg;
#if WEAVE_ASAN
    __sanitizer_finish_switch_fiber(NULL, NULL, NULL);
#endif
    f->entry(f);
    abort();  // the entry ends with weave_sched_exit, which never returns
}

void weave_fiber_destroy(weave_fiber *f) {
#if WEAVE_TSAN
    if (f->sanitizer_fiber) __tsan_destroy_fiber(f->sanitizer_fiber);
    f->sanitizer_fiber = NULL;
#else
    (void)f;
#endif
}

weave_fiber *weave_fiber_create(weave_sched *s, void *stack_low, void *guard_low, void *top,
                                void (*entry)(void *fiber), void *owner, size_t reserve) {
    uintptr_t at = ((uintptr_t)top - sizeof(weave_fiber)) & ~(uintptr_t)63;
    weave_fiber *f = (weave_fiber *)at;
    f->is_host = 0;
    f->site_line = 0;
    f->region = NULL;
    f->slot = 0;
    f->sanitizer_fiber = NULL;
    f->stack_low = stack_low;
    f->guard_low = guard_low;
    f->stack_size = at - (uintptr_t)stack_low;
    f->stack_top = top;
    f->cacheable = (size_t)((char *)top - (char *)stack_low) == s->stack_cache_span;
#if WEAVE_TSAN
    f->sanitizer_fiber = __tsan_create_fiber(0);
#endif
    return weave_fiber_start_on(s, f, entry, owner, reserve);
}
