// The control block of one coroutine (`weave_fiber`): its layout, states and interrupt bits.
#ifndef WEAVE_FIBER_H
#define WEAVE_FIBER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Bytes of the coroutine name kept in the control block, for the overflow report
/// (a signal handler cannot touch Swift strings).
#define WEAVE_FIBER_NAME_BYTES 48
/// Bytes of the spawn site's file ID kept in the control block, for the blocked-loop monitor.
#define WEAVE_FIBER_SITE_BYTES 64

/// The control block of one coroutine. It lives at the top of the coroutine's own stack
/// mapping (no separate allocation); the host context has one embedded in `weave_sched`.
///
/// Field order is for the cache: the first two lines hold what spawning, switching and
/// finishing touch; the rest is read on rare paths (reports, overflow, the allocator).
typedef struct weave_fiber {
    // Line 0: the switch and the run queue.
    void *sp;                         // saved stack pointer while switched out
    uintptr_t exclusivity[2];         // Swift's per-task access-set state (zeroed when idle)
    struct weave_fiber *next;         // run-queue link
    // The Swift AnyCoroutine, retained by the fiber; NULL for the host, and for a detached
    // coroutine until something needs its object (see weave_fiber.body).
    void *owner;
    uint64_t id;                      // the coroutine's id (unique per hub), 0 for the host
    uint32_t state;                   // WEAVE_FIBER_READY / _RUNNING / _PARKED / _FINISHED
    uint32_t interrupts;              // WEAVE_INTERRUPT_* bits, so hot paths test one word
    uint16_t queued;                  // 1 while in the run queue
    uint8_t is_host;
    uint8_t named;                    // `name` holds the coroutine's name (else unnamed)
    uint8_t cacheable;                // its stack is of the size `weave_sched.stack_cache` takes
    uint8_t detached;                 // spawned without an object (`owner` may be made later)
    uint8_t timer_fired;              // the timer of the sleep it is in has fired (see weave_sched_wake_soon)
    uint8_t reserved[1];
    // Line 1: set at spawn and at the end, read when the coroutine starts or a report
    // needs it.
    void (*entry)(void *fiber);       // the Swift entry, called by the C start routine
    // Where the coroutine was spawned (a Swift StaticString's 17 bytes, and the line: every
    // spawn records them, for the overflow report) and, for a detached one, when (for an
    // object made later, see `owner`).
    _Alignas(8) unsigned char spawn_file[20];
    int32_t spawn_line;
    uint64_t spawned_at;              // the loop's clock (ms) at spawn
    // What the coroutine is parked on when it parked through a wait queue (for deadlock
    // reports and dumps): the primitive (an unretained Swift object) and the operation.
    void *wait_object;
    struct weave_fiber *all_prev;     // list of every live coroutine of the hub
    struct weave_fiber *all_next;
    // Line 2 and on: what reports, the allocator and overflows read.
    const char *wait_operation;
    uint32_t wait_operation_length;
    uint32_t site_line;               // line of `site` below; 0: no site recorded
    void *stack_low;                  // lowest usable stack address
    void *stack_top;                  // highest address of the stack (the fiber sits just below)
    void *guard_low;                  // lowest address of the guard region below it
    size_t stack_size;                // usable bytes, for the overflow report
    void *region;                     // the allocator's record of this stack (unretained)
    uint32_t slot;                    // index of the stack in its region
    void *sanitizer_fiber;            // TSan's fiber handle, when built with TSan
    char name[WEAVE_FIBER_NAME_BYTES]; // valid when `named` is set
    // Spawn site, copied only when the hub's blocked-loop monitor is on (the watchdog
    // thread reads C bytes, never the Swift coroutine object).
    // (Valid only when `site_line` is not 0, so a spawn need not touch this cache line.)
    char site[WEAVE_FIBER_SITE_BYTES];
} weave_fiber;

_Static_assert(__builtin_offsetof(weave_fiber, entry) == 64, "weave_fiber: line 0 is not 64 bytes");
_Static_assert(__builtin_offsetof(weave_fiber, wait_operation) == 128, "weave_fiber: line 1 is not 64 bytes");

/// Coroutine states, kept in the fiber so that waking one touches no Swift object.
#define WEAVE_FIBER_READY 0u
#define WEAVE_FIBER_RUNNING 1u
#define WEAVE_FIBER_PARKED 2u
#define WEAVE_FIBER_FINISHED 3u

/// `weave_fiber.interrupts`: the coroutine was cancelled (sticky).
#define WEAVE_INTERRUPT_CANCELLED 1u
/// `weave_fiber.interrupts`: an error waits to be thrown at the next suspension point
/// (the Swift object holds it).
#define WEAVE_INTERRUPT_PENDING 2u
/// `weave_fiber.interrupts`: the coroutine was resumed with an error to throw (the Swift
/// object holds it: cancellation, a timed-out wait).
#define WEAVE_INTERRUPT_RESUME_ERROR 4u

/// Whether `f` is a coroutine that can still block: not the hub's own context, and not a
/// coroutine past its end (a deinit run as its last references went). A coroutine with an
/// object is live until the object is let go; a detached one without one, until it is
/// marked finished.
static inline int weave_fiber_is_live(const weave_fiber *f) {
    return !f->is_host && (f->owner || (f->detached && f->state != WEAVE_FIBER_FINISHED));
}

/// Where a fiber keeps the bytes of its spawn site's file ID (a Swift `StaticString`).
static inline void *weave_fiber_spawn_file(weave_fiber *f) { return f->spawn_file; }

#ifdef __cplusplus
}
#endif

#endif
