// The blocked-loop monitor's view of a hub: the only scheduler fields another thread reads.
#ifndef WEAVE_MONITOR_H
#define WEAVE_MONITOR_H

#include <stdint.h>

#include "weave_fiber.h"
#include "weave_scheduler.h"

#ifdef __cplusplus
extern "C" {
#endif

/// The hub is about to wait in libuv's poll: time from here on is idle, not a stall.
static inline void weave_sched_mark_idle(weave_sched *s) {
    __atomic_store_n(&s->idle_mark, s->switches, __ATOMIC_RELAXED);
    __atomic_store_n(&s->idle, 1u, __ATOMIC_RELEASE);
}

/// The hub left the poll and runs callbacks or coroutines again.
static inline void weave_sched_mark_busy(weave_sched *s) {
    __atomic_store_n(&s->idle, 0u, __ATOMIC_RELAXED);
}

/// What the watchdog samples from a hub it does not own: relaxed loads only.
typedef struct weave_sched_sample {
    uint64_t switches;
    const weave_fiber *current;
    int idle;                         // waiting in the poll, nothing resumed since
} weave_sched_sample;

/// Samples `s` from another thread. `s` must stay allocated during the call.
static inline weave_sched_sample weave_sched_sample_of(const weave_sched *s) {
    weave_sched_sample out;
    uint32_t idle = __atomic_load_n(&s->idle, __ATOMIC_ACQUIRE);
    uint64_t mark = __atomic_load_n(&s->idle_mark, __ATOMIC_RELAXED);
    out.switches = __atomic_load_n(&s->switches, __ATOMIC_RELAXED);
    out.current = __atomic_load_n(&s->current, __ATOMIC_RELAXED);
    out.idle = idle && out.switches == mark;
    return out;
}

/// A copy of what the monitor reports about a fiber.
typedef struct weave_fiber_info {
    uint64_t id;
    uint32_t is_host;
    uint32_t site_line;
    char name[WEAVE_FIBER_NAME_BYTES];
    char site[WEAVE_FIBER_SITE_BYTES];
} weave_fiber_info;

/// Copies a fiber's identity from another thread without trusting that its stack is still
/// mapped (a finished coroutine's slab may be unmapped): reads through `process_vm_readv`,
/// which fails with EFAULT instead of faulting. Returns 0, or -1 if the memory is gone.
/// The caller re-samples the switch counter to know the copy is of the running fiber.
int weave_fiber_peek(const weave_fiber *f, weave_fiber_info *out);

#ifdef __cplusplus
}
#endif

#endif
