// Wait queues: FIFOs of parked coroutines whose entries live in the waiting call's frame.
#ifndef WEAVE_WAIT_QUEUE_H
#define WEAVE_WAIT_QUEUE_H

#include <stdint.h>

#include "weave_fiber.h"
#include "weave_run_queue.h"
#include "weave_scheduler.h"

#ifdef __cplusplus
extern "C" {
#endif

/// Shared by the waiters of one `Channel.select`: the first case to fire closes it.
typedef struct weave_select_state {
    uint32_t open;
    int32_t fired_case;
} weave_select_state;

/// One parked coroutine's place in a wait queue. Usually lives in the waiting call's own
/// stack frame (the stack stays put while the coroutine is parked), so waiting costs no
/// allocation and no reference counting.
typedef struct weave_waiter {
    struct weave_waiter *next;
    struct weave_waiter *prev;
    weave_fiber *fiber;               // the waiting coroutine
    void *slot;                       // a value slot in the waiter's frame (queues, channels)
    weave_select_state *group;        // for a select case: the select's shared state
    int32_t case_index;               // which select case this waiter stands for
    uint8_t queued;                   // in a queue now
    uint8_t signaled;                 // woken through the queue (satisfied, or closed)
    uint8_t saw_close;                // woken because the primitive closed
    uint8_t reserved;
} weave_waiter;

/// A FIFO of waiters.
typedef struct weave_waitq {
    weave_waiter *head;
    weave_waiter *tail;
    intptr_t count;
} weave_waitq;

static inline void weave_waitq_append(weave_waitq *q, weave_waiter *w) {
    w->queued = 1;
    w->signaled = 0;
    w->saw_close = 0;
    w->next = NULL;
    w->prev = q->tail;
    if (q->tail) q->tail->next = w; else q->head = w;
    q->tail = w;
    q->count++;
}

static inline void weave_waitq_remove(weave_waitq *q, weave_waiter *w) {
    if (!w->queued) return;
    if (w->prev) w->prev->next = w->next; else q->head = w->next;
    if (w->next) w->next->prev = w->prev; else q->tail = w->prev;
    w->next = w->prev = NULL;
    w->queued = 0;
    q->count--;
}

/// Whether waking `w` through its queue still counts: its coroutine is parked in this wait,
/// not already woken by cancellation, a timeout or another select case.
static inline int weave_waiter_is_waiting(const weave_waiter *w) {
    return w->fiber->state == WEAVE_FIBER_PARKED && (!w->group || w->group->open);
}

/// Removes and returns the first waiter still waiting; drops those found leaving.
static inline weave_waiter *weave_waitq_pop_waiting(weave_waitq *q) {
    weave_waiter *w;
    while ((w = q->head)) {
        weave_waitq_remove(q, w);
        if (weave_waiter_is_waiting(w)) return w;
    }
    return NULL;
}

/// The first waiter still waiting, left in place; drops those found leaving.
static inline weave_waiter *weave_waitq_first_waiting(weave_waitq *q) {
    weave_waiter *w;
    while ((w = q->head)) {
        if (weave_waiter_is_waiting(w)) return w;
        weave_waitq_remove(q, w);
    }
    return NULL;
}

/// Marks `w` signalled (closing its select) and makes its coroutine ready.
static inline void weave_waiter_wake(weave_waiter *w, int saw_close) {
    w->signaled = 1;
    w->saw_close = (uint8_t)saw_close;
    if (w->group) {
        w->group->open = 0;
        w->group->fired_case = w->case_index;
    }
    weave_fiber_wake(weave_tls_sched, w->fiber);
}

/// Wakes the first waiter still waiting and returns it (NULL if none waits).
static inline weave_waiter *weave_waitq_signal_first(weave_waitq *q, int saw_close) {
    weave_waiter *w = weave_waitq_pop_waiting(q);
    if (w) weave_waiter_wake(w, saw_close);
    return w;
}

#ifdef __cplusplus
}
#endif

#endif
