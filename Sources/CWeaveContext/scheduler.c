// The thread's current scheduler, and a scheduler's initial state.
#define _GNU_SOURCE  // pthread_getattr_np (ASan builds)
#include "CWeaveContext.h"
#include "sanitizers.h"

#include <string.h>
#if WEAVE_ASAN
#include <pthread.h>
#endif

__thread weave_sched *weave_tls_sched __attribute__((tls_model("initial-exec")));

void weave_sched_init(weave_sched *s) {
    memset(s, 0, sizeof *s);
    s->host.is_host = 1;
    memcpy(s->host.name, "hub", 4);
    s->host.named = 1;
    s->current = &s->host;
    s->poll_interval = 256;
    s->swap_exclusivity = 1;
#if WEAVE_ASAN
    // ASan needs the host's stack bounds for the switches back to it.
    pthread_attr_t attr;
    if (pthread_getattr_np(pthread_self(), &attr) == 0) {
        pthread_attr_getstack(&attr, &s->host.stack_low, &s->host.stack_size);
        pthread_attr_destroy(&attr);
    }
#endif
#if WEAVE_TSAN
    s->host.sanitizer_fiber = __tsan_get_current_fiber();
#endif
}
