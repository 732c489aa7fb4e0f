// The hub's run queue: making coroutines ready, waking them, and switching to the next one.
#ifndef WEAVE_RUN_QUEUE_H
#define WEAVE_RUN_QUEUE_H

#include <stdint.h>

#include "weave_fiber.h"
#include "weave_scheduler.h"

#ifdef __cplusplus
extern "C" {
#endif

/// Whether any coroutine is runnable.
static inline int weave_sched_has_ready(const weave_sched *s) {
    return s->ready_head != NULL || s->woken_head != NULL;
}

/// Appends a fiber to the `ready` queue (a new coroutine, or one that yields). No effect
/// when already queued.
static inline void weave_sched_ready(weave_sched *s, weave_fiber *f) {
    if (f->queued) return;
    f->queued = 1;
    f->next = NULL;
    if (s->ready_tail) s->ready_tail->next = f; else s->ready_head = f;
    s->ready_tail = f;
    s->ready_count++;
}

/// Makes a parked fiber ready (returns 1), or does nothing if it is not parked (returns 0).
/// Woken by the loop (a timer, I/O, another thread: the host is running), it joins the
/// `woken` queue, ahead of coroutines that have not started. Woken by another coroutine
/// (a lock, a queue, a join), it joins the `ready` queue in turn: hand-offs between
/// coroutines keep their FIFO order, and a join woken per finished coroutine does not
/// run once per coroutine.
static inline int weave_fiber_wake(weave_sched *s, weave_fiber *f) {
    if (f->state != WEAVE_FIBER_PARKED) return 0;
    f->state = WEAVE_FIBER_READY;
    if (s->current != &s->host) {
        weave_sched_ready(s, f);
        return 1;
    }
    if (f->queued) return 1;
    f->queued = 1;
    f->next = NULL;
    if (s->woken_tail) s->woken_tail->next = f; else s->woken_head = f;
    s->woken_tail = f;
    s->ready_count++;
    return 1;
}

/// Wakes a sleeper whose timer fired, marking the timer as gone (the sleep then need not
/// look it up to remove it).
static inline void weave_fiber_wake_sleeper(weave_sched *s, weave_fiber *f) {
    f->timer_fired = 1;
    weave_fiber_wake(s, f);
}

/// Wakes the sleeper `f` a few timers later: its control block is fetched now and touched
/// only once the next timers have been taken off the heap, so that a batch of due timers
/// waits for many cache misses at once, not one at a time. Keeps the order; call
/// `weave_sched_wake_now` before anything else may read the run queue.
static inline void weave_sched_wake_soon(weave_sched *s, weave_fiber *f) {
    __builtin_prefetch(f, 1);
    const uint32_t size = sizeof s->wake_soon / sizeof s->wake_soon[0];
    if (s->wake_soon_count == size) {
        const uint32_t oldest = s->wake_soon_start;
        weave_fiber_wake_sleeper(s, s->wake_soon[oldest]);
        s->wake_soon[oldest] = f;
        s->wake_soon_start = (oldest + 1) % size;
    } else {
        s->wake_soon[(s->wake_soon_start + s->wake_soon_count) % size] = f;
        s->wake_soon_count++;
    }
}

/// Wakes every sleeper `weave_sched_wake_soon` holds, in order.
static inline void weave_sched_wake_now(weave_sched *s) {
    const uint32_t size = sizeof s->wake_soon / sizeof s->wake_soon[0];
    while (s->wake_soon_count) {
        weave_fiber_wake_sleeper(s, s->wake_soon[s->wake_soon_start]);
        s->wake_soon_start = (s->wake_soon_start + 1) % size;
        s->wake_soon_count--;
    }
}

/// Switches the current coroutine out until another party makes it ready again. Control
/// goes straight to the next ready coroutine, or to the host when the queue is empty or
/// I/O is due to be polled.
void weave_sched_suspend(weave_sched *s);

/// Puts the current coroutine at the back of the run queue and switches out.
void weave_sched_yield(weave_sched *s);

/// `weave_yield`: yielded, not cancelled meanwhile.
#define WEAVE_YIELD_DONE 0
/// `weave_yield`: not called from a live coroutine (nothing happened).
#define WEAVE_YIELD_NOT_COROUTINE 1
/// `weave_yield`: an interruption was pending (nothing happened; the caller throws it).
#define WEAVE_YIELD_INTERRUPTED 2
/// `weave_yield`: yielded, and the coroutine was cancelled meanwhile.
#define WEAVE_YIELD_CANCELLED 3

/// `Coroutine.yield()` in one call, so that a yield costs two frames between the caller
/// and the switch (each frame is a return the CPU mispredicts after a switch). With
/// `check_interrupts` 0, a pending interruption does not stop the yield.
int weave_yield(int check_interrupts);

/// Host side: runs ready coroutines until control comes back to the host (the queue ran
/// dry or I/O is due to be polled).
void weave_sched_run(weave_sched *s);

/// Final switch of a finished coroutine. Unlinks it from the live list, parks its stack in
/// the stack cache (default size, cache not full) or on the zombie list (recycled later by
/// another context), and never returns.
__attribute__((noreturn)) void weave_sched_exit(weave_sched *s);

#ifdef __cplusplus
}
#endif

#endif
