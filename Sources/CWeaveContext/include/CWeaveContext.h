// The lowest layer of Weave: a stack-switching primitive written in assembly, the
// per-coroutine control block (`weave_fiber`) and the hub's run queue.
//
// Why C and not Swift: the switch path must hold no Swift references and begin no
// dynamic exclusivity accesses (an access open across a switch is what the exclusivity swap
// and the suspended-access trap guard against). Keeping the run queue and the switch in
// C guarantees that, whatever the optimiser does to the Swift code around it.
#ifndef WEAVE_CONTEXT_H
#define WEAVE_CONTEXT_H

#include <stddef.h>
#include <stdint.h>


#ifdef __cplusplus
extern "C" {
#endif

// MARK: - Raw context switch (weave_switch_<arch>.S)

/// Saves the callee-saved registers and FP control state on the current stack, stores the
/// stack pointer into `*save_sp`, switches to `to_sp` and returns `arg` there (either from
/// the other side's own `weave_context_switch` call, or as the entry argument of a fresh
/// context made by `weave_context_make`).
void *weave_context_switch(void **save_sp, void *to_sp, void *arg);

/// First code of a fresh context (weave_switch_<arch>.S): calls the entry it finds in a
/// callee-saved register with the switch's `arg`, and aborts if the entry returns.
void weave_context_trampoline(void);

/// Prepares a fresh context whose first activation calls `entry(arg)`, where `arg` is the
/// value passed to the `weave_context_switch` that enters it. `stack_top` is aligned down
/// to 16 bytes. `entry` must never return: the trampoline aborts if it does. (Inline: it
/// is part of every spawn.)
static inline void *weave_context_make(void *stack_top, void (*entry)(void *arg)) {
    uintptr_t top = (uintptr_t)stack_top & ~(uintptr_t)15;
#if defined(__x86_64__)
    // Layout read by weave_context_switch, from the saved sp upwards:
    // [pad][mxcsr][x87 cw][r15][r14][r13][r12=entry][rbx][rbp=0][ret=trampoline]
    // After `ret` the stack pointer is `top`, 16-byte aligned as the trampoline's call
    // needs. (72 bytes: with a detached coroutine's body above it, two cache lines.)
    uint64_t *sp = (uint64_t *)(top - 72);
    sp[0] = 0;
    sp[1] = 0x037F00001F80ull;        // MXCSR: exceptions masked, round to nearest; x87 CW default
    sp[2] = sp[3] = sp[4] = 0;        // r15, r14, r13
    sp[5] = (uint64_t)(uintptr_t)entry;                     // r12
    sp[6] = sp[7] = 0;                // rbx, rbp (0 ends backtraces)
    sp[8] = (uint64_t)(uintptr_t)weave_context_trampoline;  // return address
    return sp;
#elif defined(__aarch64__)
    // Layout: x19..x28, x29, x30, d8..d15, fpcr, pad (176 bytes); x19 = entry, x30 = trampoline.
    uint64_t *sp = (uint64_t *)(top - 176);
    for (int i = 0; i < 22; i++) sp[i] = 0;
    sp[0] = (uint64_t)(uintptr_t)entry;                      // x19
    sp[11] = (uint64_t)(uintptr_t)weave_context_trampoline;  // x30
    return sp;
#else
#error "Weave supports x86_64 and aarch64"
#endif
}

// MARK: - Swift runtime hooks (exported by libswiftCore.so)

/// Pushes a task's saved exclusivity-access set onto the thread's list (16-byte state).
extern void swift_task_enterThreadLocalContext(char *state);
/// Pops the accesses begun since the matching enter into `state`, restoring the thread's list.
extern void swift_task_exitThreadLocalContext(char *state);

// MARK: - Fibers and the run queue

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

/// The scheduler state of one hub; owned by the hub and touched only on its thread.
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

/// Whether any coroutine is runnable.
static inline int weave_sched_has_ready(const weave_sched *s) {
    return s->ready_head != NULL || s->woken_head != NULL;
}

/// Finds the calling thread's head of Swift's exclusivity access list: begins two nested
/// tracked accesses on locals, looks for the word in libswiftCore's thread-local block
/// that follows them exactly (set to each access, then back as they end), and returns its
/// address; NULL if no single word does (another runtime, or checking disabled). Only
/// valid on the calling thread.
void *const *weave_probe_exclusivity_head(void);

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

// MARK: - Blocked-loop monitor (the only fields another thread reads)

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

/// The calling thread's kernel id, to tell hubs apart in reports.
int32_t weave_thread_id(void);

/// Names the calling thread (first 15 bytes), as tools like `top -H` and gdb show it.
void weave_set_thread_name(const char *name);

/// Copies a fiber's identity from another thread without trusting that its stack is still
/// mapped (a finished coroutine's slab may be unmapped): reads through `process_vm_readv`,
/// which fails with EFAULT instead of faulting. Returns 0, or -1 if the memory is gone.
/// The caller re-samples the switch counter to know the copy is of the running fiber.
int weave_fiber_peek(const weave_fiber *f, weave_fiber_info *out);

/// Lays out a fiber at the top of a stack region and prepares its first activation. Every
/// new fiber gets the next id of `s` (`weave_sched.next_id`).
/// `top` is the highest address of the region; returns the fiber (which sits just below top).
///
/// `reserve` bytes (a multiple of 16) just below the fiber are left to the caller: the
/// coroutine's stack begins under them. A detached coroutine keeps its body there, on a
/// cache line its first switch-in touches anyway.
weave_fiber *weave_fiber_create(weave_sched *s, void *stack_low, void *guard_low, void *top,
                                void (*entry)(void *fiber), void *owner, size_t reserve);

/// The C routine every fiber starts in: hands over to `weave_fiber.entry`.
void weave_fiber_start(void *fiber);

/// Resets what belongs to one coroutine (the stack fields stay: a cached stack's fiber sits
/// at the same address, its stack fields already right), gives it the next id, prepares
/// its first activation below `reserve` bytes and links it into the live list. Writes only
/// the fiber's first two cache lines.
static inline weave_fiber *weave_fiber_start_on(weave_sched *s, weave_fiber *f,
                                                void (*entry)(void *fiber), void *owner, size_t reserve) {
    f->exclusivity[0] = f->exclusivity[1] = 0;
    f->next = NULL;
    f->owner = owner;
    f->id = ++s->next_id;
    f->state = f->interrupts = 0;
    f->queued = 0;
    f->named = 0;
    f->detached = owner == NULL;
    f->entry = entry;
    f->all_prev = NULL;
    f->wait_object = NULL;
    f->sp = weave_context_make((char *)f - reserve, weave_fiber_start);
    f->all_next = s->all_head;
    if (s->all_head) s->all_head->all_prev = f;
    s->all_head = f;
    s->alive_count++;
    return f;
}

/// Lays out a fresh fiber on a stack from the cache (see `weave_sched.stack_cache`),
/// keeping the stack's allocator record (`region`, `slot`). Returns NULL when the cache
/// is empty. (Inline: it is most of a spawn.)
static inline weave_fiber *weave_fiber_create_cached(weave_sched *s, void (*entry)(void *fiber), void *owner,
                                                     size_t reserve) {
    weave_fiber *f = s->stack_cache;
    if (!f) return NULL;
    s->stack_cache = f->next;
    s->stack_cache_count--;
    return weave_fiber_start_on(s, f, entry, owner, reserve);
}

/// Whether `f` is a coroutine that can still block: not the hub's own context, and not a
/// coroutine past its end (a deinit run as its last references went). A coroutine with an
/// object is live until the object is let go; a detached one without one, until it is
/// marked finished.
static inline int weave_fiber_is_live(const weave_fiber *f) {
    return !f->is_host && (f->owner || (f->detached && f->state != WEAVE_FIBER_FINISHED));
}

/// Where a fiber keeps the bytes of its spawn site's file ID (a Swift `StaticString`).
static inline void *weave_fiber_spawn_file(weave_fiber *f) { return f->spawn_file; }

_Static_assert(__builtin_offsetof(weave_fiber, entry) == 64, "weave_fiber: line 0 is not 64 bytes");
_Static_assert(__builtin_offsetof(weave_fiber, wait_operation) == 128, "weave_fiber: line 1 is not 64 bytes");

/// Takes every stack out of the cache (for the allocator to take back), leaving it empty.
static inline weave_fiber *weave_sched_take_stack_cache(weave_sched *s) {
    weave_fiber *c = s->stack_cache;
    s->stack_cache = NULL;
    s->stack_cache_count = 0;
    return c;
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

/// Releases per-fiber sanitizer state before the fiber's stack is reused or unmapped.
void weave_fiber_destroy(weave_fiber *f);

/// Takes the zombie list (fibers whose stacks are free to reuse), leaving it empty.
static inline weave_fiber *weave_sched_take_zombies(weave_sched *s) {
    weave_fiber *z = s->zombies;
    s->zombies = NULL;
    return z;
}

// MARK: - Wait queues

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

// MARK: - Stack overflow reporting

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

// MARK: - Benchmark support

/// Ping-pongs between the calling thread and a fresh context `rounds` times (two switches
/// a round) through the same path the scheduler uses: `swap_exclusivity` 0 without the
/// exclusivity swap, 1 with the runtime calls on every switch, 2 as hubs run it (the calls
/// skipped while no access is open).
/// Returns the elapsed nanoseconds.
uint64_t weave_bench_switch(uint64_t rounds, int swap_exclusivity);

#ifdef __cplusplus
}
#endif

#endif
