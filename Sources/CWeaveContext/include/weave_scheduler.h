// The scheduler state of one hub (`weave_sched`) and the thread's current scheduler.
#ifndef WEAVE_SCHEDULER_H
#define WEAVE_SCHEDULER_H

#include <stdint.h>

#include "weave_fiber.h"

#ifdef __cplusplus
extern "C" {
#endif

/// The scheduler state of one hub; owned by the hub and touched only on its thread (but
/// for the blocked-loop monitor's fields, see weave_monitor.h).
typedef struct weave_sched {
    weave_fiber host;                 // the hub's own context (the thread's stack)
    weave_fiber *current;             // the running fiber (host while the loop runs)
    // Two FIFOs of runnable coroutines. `woken`: coroutines the loop woke (timers, I/O,
    // other threads), which run first, so that a wake-up never waits behind a backlog of
    // first runs. `ready`: the rest (new coroutines, those that yielded, those woken by
    // another coroutine). A `ready` coroutine still runs at least once every
    // WEAVE_WOKEN_STREAK dispatches, so neither queue can starve the other.
    weave_fiber *ready_head;
    weave_fiber *ready_tail;
    weave_fiber *woken_head;
    weave_fiber *woken_tail;
    weave_fiber *all_head;            // every live coroutine (for shutdown and reports)
    weave_fiber *zombies;             // finished fibers whose stacks wait to be recycled
    uint64_t ready_count;
    uint64_t alive_count;
    uint64_t switches;                // total switches (the watchdog reads it; see transfer_ex)
    uint32_t dispatches_since_poll;   // hand-offs since the host last polled libuv
    uint32_t woken_streak;            // `woken` dispatches since the last `ready` one
    // Sleepers whose timers fired, not yet woken (see weave_sched_wake_soon): a ring.
    uint32_t wake_soon_start;
    uint32_t wake_soon_count;
    struct weave_fiber *wake_soon[16];
    uint32_t poll_interval;           // poll I/O at least every this many hand-offs
    int check_exclusivity;            // trap when a coroutine switches out inside an access
    int swap_exclusivity;             // 0 only in the opt-in strict mode
    // This thread's head of Swift's exclusivity access list (found by
    // weave_probe_exclusivity_head), or NULL: while the list is empty, swapping a
    // coroutine with no saved accesses is a no-op, and the runtime calls are skipped.
    void *const *exclusivity_head;
    void *owner;                      // the Swift Hub (unretained)
    // Stacks of finished default-size coroutines, ready for the next spawn: the exiting
    // fiber pushes its own stack here (nothing else runs on it once it has switched out,
    // and only a later spawn, from another context, reuses it), so spawning and finishing
    // cost no Swift allocator work. Linked through the old fibers' `next`.
    weave_fiber *stack_cache;
    uint64_t next_id;                 // the last coroutine id given out
    const uint64_t *clock;            // the loop's cached time in ms (`uv_now`), read at spawn
    // 1 while a plain spawn may take the fast path (a cached stack): 0 once the hub shuts down.
    uint16_t fast_spawn;
    // 1 when the blocked-loop monitor is on: every spawn copies its site into the fiber.
    uint16_t copies_spawn_sites;
    uint32_t stack_cache_count;
    uint32_t stack_cache_capacity;    // 0 disables the cache (sanitizer builds always do)
    size_t stack_cache_span;          // stack_top - stack_low of the stacks it takes
    // Blocked-loop monitor: set just before libuv may block in its poll, cleared after.
    // `idle_mark` is the switch count when the poll began: a coroutine resumed from a
    // callback inside the poll phase moves `switches` past it, so it is not mistaken for idle.
    uint32_t idle;
    uint64_t idle_mark;
} weave_sched;

/// How many woken coroutines may run in a row while a `ready` one (new, or yielded) waits.
/// Small on purpose: a wake-up waits for at most one first run per WEAVE_WOKEN_STREAK
/// wake-ups ahead of it (100,000 sleepers spawned at once: p99 lateness ~12-15 ms), while
/// coroutines that poll in a sleep loop cannot delay a yielded coroutine by more than that
/// factor (at 64, a test with 100,000 pollers and one yield ran 20x slower).
#define WEAVE_WOKEN_STREAK 4u

/// Initialises the scheduler; the calling thread becomes its host.
void weave_sched_init(weave_sched *s);

/// The scheduler of the hub running on this thread. initial-exec: a plain thread-pointer
/// relative load, no __tls_get_addr call, on every `current` lookup.
extern __thread weave_sched *weave_tls_sched __attribute__((tls_model("initial-exec")));

/// The scheduler running on this thread, or NULL.
static inline weave_sched *weave_sched_current(void) { return weave_tls_sched; }
static inline void weave_sched_set_current(weave_sched *s) { weave_tls_sched = s; }

/// The fiber running on this thread (the host's while the loop runs), or NULL without a hub.
static inline weave_fiber *weave_current_fiber(void) {
    weave_sched *s = weave_tls_sched;
    return s ? s->current : (weave_fiber *)0;
}

#ifdef __cplusplus
}
#endif

#endif
