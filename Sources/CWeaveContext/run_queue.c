// Dispatch: picking the next coroutine off the run queue and switching to it.
#include "transfer.h"

#include <stdlib.h>

// The next coroutine to run: a woken one first, unless a `ready` one has waited through
// WEAVE_WOKEN_STREAK of them; the host when both queues are empty or I/O is due.
static inline weave_fiber *pick(weave_sched *s) {
    if (s->dispatches_since_poll >= s->poll_interval) return &s->host;
    weave_fiber *f = s->woken_head;
    if (f && (s->woken_streak < WEAVE_WOKEN_STREAK || !s->ready_head)) {
        s->woken_head = f->next;
        if (!s->woken_head) s->woken_tail = NULL;
        s->woken_streak++;
    } else {
        f = s->ready_head;
        if (!f) return &s->host;
        s->ready_head = f->next;
        if (!s->ready_head) s->ready_tail = NULL;
        s->woken_streak = 0;
    }
    s->dispatches_since_poll++;
    f->next = NULL;
    f->queued = 0;
    s->ready_count--;
    // One dispatch ahead: fetch the next coroutine's control block now, so that its pick
    // does not wait for it; for this one (fetched by the previous pick), fetch the top of
    // its stack and the live-list neighbours it unlinks when it finishes. A wake-up burst
    // touches a cold coroutine each time: this overlaps those misses with running code.
    weave_fiber *after = s->woken_head ? s->woken_head : s->ready_head;
    if (after) {
        __builtin_prefetch(after, 1);
        __builtin_prefetch((char *)after + 64, 1);
    }
    __builtin_prefetch(f->sp, 0);
    __builtin_prefetch(f->all_prev, 1);
    __builtin_prefetch(f->all_next, 1);
    return f;
}

void weave_sched_suspend(weave_sched *s) {
    weave_fiber *from = s->current;
    weave_fiber *to = pick(s);
    if (to != from) transfer(s, from, to);
}

void weave_sched_yield(weave_sched *s) {
    weave_sched_ready(s, s->current);
    weave_sched_suspend(s);
}

int weave_yield(int check_interrupts) {
    weave_sched *s = weave_tls_sched;
    weave_fiber *f = s ? s->current : NULL;
    if (!f || !weave_fiber_is_live(f)) return WEAVE_YIELD_NOT_COROUTINE;
    if (check_interrupts && f->interrupts) return WEAVE_YIELD_INTERRUPTED;
    f->state = WEAVE_FIBER_READY;
    weave_sched_ready(s, f);
    weave_fiber *to = pick(s);
    if (to != f) transfer(s, f, to);
    f->state = WEAVE_FIBER_RUNNING;
    return (f->interrupts & WEAVE_INTERRUPT_CANCELLED) ? WEAVE_YIELD_CANCELLED : WEAVE_YIELD_DONE;
}

void weave_sched_run(weave_sched *s) {
    s->dispatches_since_poll = 0;
    weave_fiber *to = pick(s);
    if (to != &s->host) transfer(s, &s->host, to);
}

void weave_sched_exit(weave_sched *s) {
    weave_fiber *f = s->current;
    if (f->all_prev) f->all_prev->all_next = f->all_next; else s->all_head = f->all_next;
    if (f->all_next) f->all_next->all_prev = f->all_prev;
    f->all_prev = f->all_next = NULL;
    s->alive_count--;
#if WEAVE_ASAN || WEAVE_TSAN
    const int cacheable = 0;  // sanitizer state is released by weave_fiber_destroy, on the zombie path
#else
    const int cacheable = f->cacheable && s->stack_cache_count < s->stack_cache_capacity;
#endif
    if (cacheable) {
        f->next = s->stack_cache;
        s->stack_cache = f;
        s->stack_cache_count++;
    } else {
        f->next = s->zombies;
        s->zombies = f;
    }
    transfer_ex(s, f, pick(s), 1);
    abort();  // a zombie is never resumed
}
