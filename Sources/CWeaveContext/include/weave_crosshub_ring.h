// The lock-free core of CrossHubChannel: a bounded multi-producer multi-consumer ring of
// positions with a sequence number per slot (the per-slot-sequence bounded queue scheme).
// It decides who may touch which slot when; the values themselves live in Swift, in a
// buffer indexed like the sequences.
//
// Why it is shaped this way (each send or receive should touch only lines of its own side
// plus the slots it hands over, whose lines are shared by 8 neighbouring messages):
// - Slots are a power of two >= the capacity, so a position maps to its slot with a mask.
//   The capacity itself is enforced with the producers' cached copy of the read position,
//   refreshed only when that stale view says full: one bounce per ~capacity messages.
// - A slot's sequence is 2 pos when free for the write at `pos` and 2 pos + 1 once written
//   (doubled so that even a single slot tells the two states apart).
// - Closing sets the top bit of the write position, so that a write claimed before the close
//   is always published and received, and "closed and drained" is exact.
// - A side about to park raises the parked count of its side with a sequentially consistent
//   RMW and then looks at the ring again with sequentially consistent loads; the other side
//   publishes with a sequentially consistent store (and claims with a sequentially
//   consistent CAS) before loading that count. In the single total order one of the two
//   sees the other, so no wake is lost, with no separate fence on the fast path.
#ifndef WEAVE_CROSSHUB_RING_H
#define WEAVE_CROSSHUB_RING_H

#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "weave_run_queue.h"

#ifdef __cplusplus
extern "C" {
#endif

#define WEAVE_XRING_CLOSED_BIT 0x8000000000000000ull
/// Returned by a claim: no position now (full for a write, empty for a read).
#define WEAVE_XRING_NONE 0xFFFFFFFFFFFFFFFFull
/// Returned by a claim: the channel is closed (for a read: closed and drained).
#define WEAVE_XRING_CLOSED 0xFFFFFFFFFFFFFFFEull

typedef struct weave_xring {
    // Producers' lines. Each side's group starts on a 128-byte boundary: the CPU fetches
    // lines in adjacent pairs, so 64 bytes apart would still let the two sides' indexes
    // pull each other's pair.
    _Alignas(128) _Atomic(uint64_t) tail;
    _Atomic(uint64_t) cached_head;
    uint64_t producer_mask;
    uint64_t producer_capacity;
    _Atomic(uint64_t) *producer_sequence;
    // Consumers' lines.
    _Alignas(128) _Atomic(uint64_t) head;
    /// Positions below this were all seen written by a receiver that waited for a batch (a
    /// hint: each read still checks its slot's sequence).
    _Atomic(uint64_t) ready_until;
    uint64_t consumer_mask;
    uint64_t consumer_slots;
    uint64_t consumer_batch;
    _Atomic(uint64_t) *consumer_sequence;
    // Read by both sides on every operation, written only when a coroutine parks or leaves.
    _Alignas(128) _Atomic(int64_t) parked_receivers;
    _Atomic(int64_t) parked_senders;
} weave_xring;

/// The slots a ring of `capacity` values uses: the next power of two.
static inline uint64_t weave_xring_slots_for(uint64_t capacity) {
    uint64_t slots = 1;
    while (slots < capacity) slots <<= 1;
    return slots;
}

/// The values a side that has nothing else to do waits for before it goes on: half the
/// capacity, at most 64 (eight lines of sequences, eight of 8-byte values), so that the two
/// sides hand lines over whole and never work on the same line at once.
static inline uint64_t weave_xring_batch_for(uint64_t capacity) {
    uint64_t half = capacity / 2;
    return half < 1 ? 1 : half > 64 ? 64 : half;
}

/// A ring holding up to `capacity` (>= 1) values, or NULL when out of memory.
static inline weave_xring *weave_xring_create(uint64_t capacity) {
    uint64_t slots = weave_xring_slots_for(capacity);
    weave_xring *ring = aligned_alloc(128, sizeof(weave_xring));
    if (!ring) return NULL;
    uint64_t bytes = (slots * sizeof(_Atomic(uint64_t)) + 127) & ~(uint64_t)127;
    _Atomic(uint64_t) *sequence = aligned_alloc(128, bytes);
    if (!sequence) { free(ring); return NULL; }
    for (uint64_t i = 0; i < slots; i++) atomic_init(&sequence[i], 2 * i);
    atomic_init(&ring->tail, 0);
    atomic_init(&ring->cached_head, 0);
    atomic_init(&ring->head, 0);
    atomic_init(&ring->ready_until, 0);
    atomic_init(&ring->parked_receivers, 0);
    atomic_init(&ring->parked_senders, 0);
    ring->producer_mask = ring->consumer_mask = slots - 1;
    ring->producer_capacity = capacity;
    ring->consumer_slots = slots;
    ring->consumer_batch = weave_xring_batch_for(capacity);
    ring->producer_sequence = ring->consumer_sequence = sequence;
    return ring;
}

static inline void weave_xring_destroy(weave_xring *ring) {
    free((void *)ring->producer_sequence);
    free(ring);
}

/// The slot of position `pos` (an index into the values buffer).
static inline uint64_t weave_xring_slot(const weave_xring *ring, uint64_t pos) {
    return pos & ring->producer_mask;
}

/// Claims the next position to write: WEAVE_XRING_NONE when `capacity` values are held (or
/// the slot is still being read), WEAVE_XRING_CLOSED once closed. The caller stores its
/// value in slot weave_xring_slot(pos), then calls weave_xring_publish_write.
static inline uint64_t weave_xring_claim_write(weave_xring *ring) {
    uint64_t pos = atomic_load_explicit(&ring->tail, memory_order_relaxed);
    for (;;) {
        if (pos & WEAVE_XRING_CLOSED_BIT) return WEAVE_XRING_CLOSED;
        uint64_t head = atomic_load_explicit(&ring->cached_head, memory_order_relaxed);
        if ((int64_t)(pos - head) >= (int64_t)ring->producer_capacity) {
            head = atomic_load_explicit(&ring->head, memory_order_seq_cst);
            atomic_store_explicit(&ring->cached_head, head, memory_order_relaxed);
            if ((int64_t)(pos - head) >= (int64_t)ring->producer_capacity) {
                uint64_t now = atomic_load_explicit(&ring->tail, memory_order_relaxed);
                if (now == pos) return WEAVE_XRING_NONE;
                pos = now;
                continue;
            }
        }
        uint64_t seq = atomic_load_explicit(&ring->producer_sequence[pos & ring->producer_mask],
                                            memory_order_acquire);
        int64_t diff = (int64_t)(seq - 2 * pos);
        if (diff == 0) {
            if (atomic_compare_exchange_weak_explicit(&ring->tail, &pos, pos + 1, memory_order_seq_cst,
                                                      memory_order_relaxed)) return pos;
        } else if (diff < 0) {
            // Still being read one lap earlier.
            uint64_t now = atomic_load_explicit(&ring->tail, memory_order_relaxed);
            if (now == pos) return WEAVE_XRING_NONE;
            pos = now;
        } else {
            pos = atomic_load_explicit(&ring->tail, memory_order_relaxed);
        }
    }
}

/// Hands the value written at `pos` to readers; returns whether a receiver is parked (then
/// the caller wakes one). The parked count is ordered after the claim's CAS on `tail` (see
/// the top), so the publish itself is a plain release store.
static inline int weave_xring_publish_write(weave_xring *ring, uint64_t pos) {
    atomic_store_explicit(&ring->producer_sequence[pos & ring->producer_mask], 2 * pos + 1,
                          memory_order_release);
    return atomic_load_explicit(&ring->parked_receivers, memory_order_seq_cst) > 0;
}

/// Claims the oldest written position: WEAVE_XRING_NONE while none is written (empty, or the
/// oldest write is still in flight), WEAVE_XRING_CLOSED once closed and drained. The caller
/// moves the value out of slot weave_xring_slot(pos), then calls weave_xring_publish_read.
static inline uint64_t weave_xring_claim_read(weave_xring *ring) {
    uint64_t pos = atomic_load_explicit(&ring->head, memory_order_relaxed);
    for (;;) {
        uint64_t seq = atomic_load_explicit(&ring->consumer_sequence[pos & ring->consumer_mask],
                                            memory_order_acquire);
        int64_t diff = (int64_t)(seq - (2 * pos + 1));
        if (diff == 0) {
            if (atomic_compare_exchange_weak_explicit(&ring->head, &pos, pos + 1, memory_order_seq_cst,
                                                      memory_order_relaxed)) return pos;
        } else if (diff < 0) {
            uint64_t now = atomic_load_explicit(&ring->head, memory_order_relaxed);
            if (now != pos) { pos = now; continue; }
            uint64_t tail = atomic_load_explicit(&ring->tail, memory_order_acquire);
            // Closed, and every claimed write has been read: nothing more can come.
            if ((tail & WEAVE_XRING_CLOSED_BIT) && (tail & ~WEAVE_XRING_CLOSED_BIT) == pos) {
                return WEAVE_XRING_CLOSED;
            }
            return WEAVE_XRING_NONE;
        } else {
            pos = atomic_load_explicit(&ring->head, memory_order_relaxed);
        }
    }
}

/// Frees the slot read at `pos` for the write one lap later; returns whether a sender is
/// parked (then the caller wakes one). Ordered after the claim's CAS on `head`, as above.
static inline int weave_xring_publish_read(weave_xring *ring, uint64_t pos) {
    atomic_store_explicit(&ring->consumer_sequence[pos & ring->consumer_mask],
                          2 * (pos + ring->consumer_slots), memory_order_release);
    return atomic_load_explicit(&ring->parked_senders, memory_order_seq_cst) > 0;
}

/// Values claimed for writing and not yet claimed for reading (a snapshot).
static inline uint64_t weave_xring_count(weave_xring *ring) {
    uint64_t head = atomic_load_explicit(&ring->head, memory_order_seq_cst);
    uint64_t tail = atomic_load_explicit(&ring->tail, memory_order_seq_cst) & ~WEAVE_XRING_CLOSED_BIT;
    return tail > head ? tail - head : 0;
}

/// Whether a read would find a value or the end now, or soon: a write claimed but not yet
/// published counts (its writer is between two instructions). Sequentially consistent: called
/// by a receiver after raising its parked count; it looks at `tail`, which the writer's claim
/// moved with a sequentially consistent CAS before it loads the parked count.
static inline int weave_xring_readable(weave_xring *ring) {
    uint64_t pos = atomic_load_explicit(&ring->head, memory_order_seq_cst);
    uint64_t tail = atomic_load_explicit(&ring->tail, memory_order_seq_cst);
    if (tail & WEAVE_XRING_CLOSED_BIT) return 1;
    return (int64_t)(tail - pos) > 0;
}

/// Whether a write would find room or the close now, or soon: a read claimed but not yet
/// published counts. Sequentially consistent: called by a sender after raising its parked
/// count; it looks at `head`, which a reader's claim moved with a sequentially consistent CAS.
static inline int weave_xring_writable(weave_xring *ring) {
    uint64_t pos = atomic_load_explicit(&ring->tail, memory_order_seq_cst);
    if (pos & WEAVE_XRING_CLOSED_BIT) return 1;
    uint64_t head = atomic_load_explicit(&ring->head, memory_order_seq_cst);
    return (int64_t)(pos - head) < (int64_t)ring->producer_capacity;
}

static inline void weave_xring_pause(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/// Whether the calling thread may spin: it runs a hub with no other coroutine ready (a
/// spin there delays nobody), not a plain thread.
static inline int weave_xring_may_spin(void) {
    weave_sched *s = weave_tls_sched;
    return s != NULL && !weave_sched_has_ready(s);
}

/// Pauses a receiver waits for a batch to fill before it takes what there is (some 2 µs).
#define WEAVE_XRING_GATHER_ROUNDS 64

/// The slow half of weave_xring_prepare_read.
static inline __attribute__((noinline)) void weave_xring_gather(weave_xring *ring, uint64_t pos) {
    if (!weave_xring_may_spin()) return;
    const uint64_t mask = ring->consumer_mask;
    _Atomic(uint64_t) *sequence = ring->consumer_sequence;
    // Nothing written: the empty path (a spin, then a park) takes over.
    if (atomic_load_explicit(&sequence[pos & mask], memory_order_relaxed) != 2 * pos + 1) return;
    const uint64_t last = pos + ring->consumer_batch - 1;
    uint64_t progress = atomic_load_explicit(&ring->tail, memory_order_relaxed);
    for (uint32_t i = 1; i <= WEAVE_XRING_GATHER_ROUNDS; i++) {
        if (atomic_load_explicit(&sequence[last & mask], memory_order_relaxed) == 2 * last + 1) {
            atomic_store_explicit(&ring->ready_until, last + 1, memory_order_relaxed);
            return;
        }
        weave_xring_pause();
        if (i % 16 == 0) {
            // No write claimed meanwhile: the writers have stopped (or are not running).
            uint64_t claimed = atomic_load_explicit(&ring->tail, memory_order_relaxed);
            if (claimed == progress) break;
            progress = claimed;
        }
    }
    // The writers have slowed down: go on with what is written, without waiting again for
    // each of those values.
    uint64_t end = pos + 1;
    while (end < last && atomic_load_explicit(&sequence[end & mask], memory_order_relaxed) == 2 * end + 1) end++;
    atomic_store_explicit(&ring->ready_until, end, memory_order_relaxed);
}

/// Called by a receiver before it claims a value. Reading right behind a writer on another
/// core costs a cache-line transfer per value (the line bounces between the writer's stores
/// and the reader's loads); so a receiver whose hub has nothing else to do, finding fewer
/// than a batch of values written, waits briefly for the batch, then reads it while the
/// writer fills lines further on. Costs two loads of the receivers' own line otherwise.
static inline void weave_xring_prepare_read(weave_xring *ring) {
    uint64_t pos = atomic_load_explicit(&ring->head, memory_order_relaxed);
    if ((int64_t)(atomic_load_explicit(&ring->ready_until, memory_order_relaxed) - pos) > 0) return;
    weave_xring_gather(ring, pos);
}

/// Yields a spinning side may make while the other side shows no progress, before it parks.
#define WEAVE_XRING_YIELDS 4

/// A yield that kept this thread off its core this long (nanoseconds) means there are more
/// runnable threads than cores: the other side has had its turn, and yielding again would only
/// keep this hub (its timers and I/O) waiting a whole time slice more each time.
#define WEAVE_XRING_SLOW_YIELD_NS 200000

/// Called by a spin that saw no progress from the other side: gives the core up once (the
/// other side may be runnable on this very core, which a spin only keeps it off; a yield
/// costs one system call, a park and a cross-thread wake-up several, and the wake-up's
/// receiver may spin in libuv until its sender, preempted by it, runs again). Returns
/// false once the yields are spent (a slow yield spends them all): the caller parks.
static inline int weave_xring_yield(uint32_t *yields) {
    if (*yields >= WEAVE_XRING_YIELDS) return 0;
    (*yields)++;
    struct timespec before, after;
    clock_gettime(CLOCK_MONOTONIC, &before);
    sched_yield();
    clock_gettime(CLOCK_MONOTONIC, &after);
    int64_t away = (int64_t)(after.tv_sec - before.tv_sec) * 1000000000 + (after.tv_nsec - before.tv_nsec);
    if (away > WEAVE_XRING_SLOW_YIELD_NS) *yields = WEAVE_XRING_YIELDS;
    return 1;
}

/// Pauses a spin waits for a whole batch before it settles for what there is (the other side
/// has likely paused): bounds the delay a lone message takes to about 10 µs.
#define WEAVE_XRING_PATIENT_ROUNDS 256

/// Spins up to `rounds` pauses until `want` (1 ... capacity) values are written, settling for
/// fewer after WEAVE_XRING_PATIENT_ROUNDS; returns whether a read would now find a value (or
/// the end). A receiver tries this before parking: a producer on another core usually refills
/// the ring far sooner than a park and a cross-thread wake-up would take, and taking a batch
/// rather than one value hands slot lines over whole. It watches the last slot of the batch,
/// not each slot as it is written (chasing the producer would pull every line it writes to,
/// one message at a time), and never the producers' line (that would slow every claim).
static inline int weave_xring_spin_readable(weave_xring *ring, uint32_t rounds, uint64_t want) {
    uint64_t pos = atomic_load_explicit(&ring->head, memory_order_relaxed);
    uint64_t progress = atomic_load_explicit(&ring->tail, memory_order_relaxed);
    uint32_t yields = 0;
    for (uint32_t i = 1; i <= rounds; i++) {
        uint64_t last = pos + want - 1;
        if (atomic_load_explicit(&ring->consumer_sequence[last & ring->consumer_mask], memory_order_relaxed) ==
            2 * last + 1) return 1;
        weave_xring_pause();
        if (i % 32 == 0) {
            // Another receiver may have taken values; then the batch starts further on.
            pos = atomic_load_explicit(&ring->head, memory_order_relaxed);
            if (i >= WEAVE_XRING_PATIENT_ROUNDS &&
                atomic_load_explicit(&ring->consumer_sequence[pos & ring->consumer_mask], memory_order_relaxed) ==
                    2 * pos + 1) return 1;
            // No write claimed meanwhile: the writers are not running (descheduled, or on
            // this very core); spinning on would only keep them off it.
            uint64_t claimed = atomic_load_explicit(&ring->tail, memory_order_relaxed);
            if (claimed == progress && !weave_xring_yield(&yields)) break;
            progress = claimed;
        }
    }
    pos = atomic_load_explicit(&ring->head, memory_order_relaxed);
    if (atomic_load_explicit(&ring->consumer_sequence[pos & ring->consumer_mask], memory_order_relaxed) ==
        2 * pos + 1) return 1;
    return (atomic_load_explicit(&ring->tail, memory_order_relaxed) & WEAVE_XRING_CLOSED_BIT) != 0;
}

/// Whether a write at `pos` has room: its slot is free (every read up to one lap before it is
/// done) and, with more slots than capacity, the readers are close enough behind.
static inline int weave_xring_room_at(weave_xring *ring, uint64_t pos) {
    if (atomic_load_explicit(&ring->producer_sequence[pos & ring->producer_mask], memory_order_relaxed) != 2 * pos)
        return 0;
    if (ring->producer_mask + 1 == ring->producer_capacity) return 1;
    return (int64_t)(pos - atomic_load_explicit(&ring->head, memory_order_relaxed)) <
           (int64_t)ring->producer_capacity;
}

/// The sender's counterpart of weave_xring_spin_readable: spins until there is room for
/// `want` (1 ... capacity) values, settling for less after WEAVE_XRING_PATIENT_ROUNDS.
static inline int weave_xring_spin_writable(weave_xring *ring, uint32_t rounds, uint64_t want) {
    uint64_t pos = atomic_load_explicit(&ring->tail, memory_order_relaxed);
    uint64_t progress = atomic_load_explicit(&ring->head, memory_order_relaxed);
    uint32_t yields = 0;
    for (uint32_t i = 1; i <= rounds; i++) {
        if (pos & WEAVE_XRING_CLOSED_BIT) return 1;
        if (weave_xring_room_at(ring, pos + want - 1)) return 1;
        weave_xring_pause();
        if (i % 32 == 0) {
            // Another sender may have taken the room (or the ring closed).
            pos = atomic_load_explicit(&ring->tail, memory_order_relaxed);
            if (i >= WEAVE_XRING_PATIENT_ROUNDS && !(pos & WEAVE_XRING_CLOSED_BIT) && weave_xring_room_at(ring, pos))
                return 1;
            // No read claimed meanwhile: the readers are not running.
            uint64_t claimed = atomic_load_explicit(&ring->head, memory_order_relaxed);
            if (claimed == progress && !weave_xring_yield(&yields)) break;
            progress = claimed;
        }
    }
    pos = atomic_load_explicit(&ring->tail, memory_order_relaxed);
    if (pos & WEAVE_XRING_CLOSED_BIT) return 1;
    uint64_t head = atomic_load_explicit(&ring->head, memory_order_relaxed);
    return (int64_t)(pos - head) < (int64_t)ring->producer_capacity;
}

static inline int weave_xring_is_closed(weave_xring *ring) {
    return (atomic_load_explicit(&ring->tail, memory_order_seq_cst) & WEAVE_XRING_CLOSED_BIT) != 0;
}

/// Closes the ring (no further write claims); returns whether it was open.
static inline int weave_xring_close(weave_xring *ring) {
    uint64_t old = atomic_fetch_or_explicit(&ring->tail, WEAVE_XRING_CLOSED_BIT, memory_order_seq_cst);
    return (old & WEAVE_XRING_CLOSED_BIT) == 0;
}

/// Adjusts a side's parked count (under the channel's waiter mutex).
static inline void weave_xring_add_parked_receivers(weave_xring *ring, int64_t delta) {
    atomic_fetch_add_explicit(&ring->parked_receivers, delta, memory_order_seq_cst);
}
static inline void weave_xring_add_parked_senders(weave_xring *ring, int64_t delta) {
    atomic_fetch_add_explicit(&ring->parked_senders, delta, memory_order_seq_cst);
}

#ifdef __cplusplus
}
#endif

#endif
