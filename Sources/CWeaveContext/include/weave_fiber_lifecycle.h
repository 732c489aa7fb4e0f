// A coroutine's fiber from creation to reuse: laying it out on a stack, the stack cache, zombies.
#ifndef WEAVE_FIBER_LIFECYCLE_H
#define WEAVE_FIBER_LIFECYCLE_H

#include <stddef.h>

#include "weave_fiber.h"
#include "weave_scheduler.h"
#include "weave_switch.h"

#ifdef __cplusplus
extern "C" {
#endif

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

/// Takes every stack out of the cache (for the allocator to take back), leaving it empty.
static inline weave_fiber *weave_sched_take_stack_cache(weave_sched *s) {
    weave_fiber *c = s->stack_cache;
    s->stack_cache = NULL;
    s->stack_cache_count = 0;
    return c;
}

/// Releases per-fiber sanitizer state before the fiber's stack is reused or unmapped.
void weave_fiber_destroy(weave_fiber *f);

/// Takes the zombie list (fibers whose stacks are free to reuse), leaving it empty.
static inline weave_fiber *weave_sched_take_zombies(weave_sched *s) {
    weave_fiber *z = s->zombies;
    s->zombies = NULL;
    return z;
}

#ifdef __cplusplus
}
#endif

#endif
