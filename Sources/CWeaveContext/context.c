// Fibers, the run queue and overflow reporting. See CWeaveContext.h for the contracts.
#define _GNU_SOURCE
#include "CWeaveContext.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

_Static_assert(sizeof(stack_t) <= 32, "weave_altstack.previous too small");

// Sanitizers must be told about stack switches (ASan: fake stacks and stack bounds; TSan:
// one fiber per coroutine); without sanitizers all of this compiles away.
#if defined(__has_feature)
#  if __has_feature(address_sanitizer)
#    define WEAVE_ASAN 1
#  endif
#  if __has_feature(thread_sanitizer)
#    define WEAVE_TSAN 1
#  endif
#endif
#if defined(__SANITIZE_ADDRESS__) && !defined(WEAVE_ASAN)
#  define WEAVE_ASAN 1
#endif
#if WEAVE_ASAN
#include <pthread.h>
void __sanitizer_start_switch_fiber(void **fake_stack_save, const void *bottom, size_t size);
void __sanitizer_finish_switch_fiber(void *fake_stack_save, const void **bottom_old, size_t *size_old);
#endif
#if WEAVE_TSAN
void *__tsan_get_current_fiber(void);
void *__tsan_create_fiber(unsigned flags);
void __tsan_destroy_fiber(void *fiber);
void __tsan_switch_to_fiber(void *fiber, unsigned flags);
#endif

// MARK: - Scheduler

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

// First code run on a fresh stack: completes the sanitizer hand-off, then enters Swift.
void weave_fiber_start(void *arg) {
    weave_fiber *f = (weave_fiber *)arg;
#if WEAVE_ASAN
    __sanitizer_finish_switch_fiber(NULL, NULL, NULL);
#endif
    f->entry(f);
    abort();  // the entry ends with weave_sched_exit, which never returns
}

void weave_fiber_destroy(weave_fiber *f) {
#if WEAVE_TSAN
    if (f->sanitizer_fiber) __tsan_destroy_fiber(f->sanitizer_fiber);
    f->sanitizer_fiber = NULL;
#else
    (void)f;
#endif
}

weave_fiber *weave_fiber_create(weave_sched *s, void *stack_low, void *guard_low, void *top,
                                void (*entry)(void *fiber), void *owner, size_t reserve) {
    uintptr_t at = ((uintptr_t)top - sizeof(weave_fiber)) & ~(uintptr_t)63;
    weave_fiber *f = (weave_fiber *)at;
    f->is_host = 0;
    f->site_line = 0;
    f->region = NULL;
    f->slot = 0;
    f->sanitizer_fiber = NULL;
    f->stack_low = stack_low;
    f->guard_low = guard_low;
    f->stack_size = at - (uintptr_t)stack_low;
    f->stack_top = top;
    f->cacheable = (size_t)((char *)top - (char *)stack_low) == s->stack_cache_span;
#if WEAVE_TSAN
    f->sanitizer_fiber = __tsan_create_fiber(0);
#endif
    return weave_fiber_start_on(s, f, entry, owner, reserve);
}

__attribute__((noinline, cold, noreturn))
static void report_suspended_in_access(const weave_fiber *f) {
    char line[160];
    int n = snprintf(line, sizeof line,
                     "Weave: coroutine '%s' suspended inside an exclusive access "
                     "(an inout or modify held across a blocking call loses updates)\n",
                     f->named ? f->name : "<unnamed>");
    if (n > 0) (void)!write(STDERR_FILENO, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
    abort();
}

// The one place that switches. Swaps Swift's exclusivity-access set so each coroutine
// sees only its own accesses (plus the host's), exactly as Swift tasks do.
static inline __attribute__((always_inline))
void transfer_ex(weave_sched *s, weave_fiber *from, weave_fiber *to, int from_is_dying) {
    if (s->swap_exclusivity) {
        // The runtime's exit and enter do nothing while the thread's access list is empty
        // and the coroutine has no saved accesses (its state word is 0): the common case,
        // checked here without the runtime's thread-local lookups.
        const int list_empty = s->exclusivity_head && *s->exclusivity_head == NULL;
        if (!from->is_host && !(list_empty && from->exclusivity[0] == 0)) {
            swift_task_exitThreadLocalContext((char *)from->exclusivity);
            if (__builtin_expect(s->check_exclusivity && from->exclusivity[0] != 0, 0))
                report_suspended_in_access(from);
        }
        if (!to->is_host && !(s->exclusivity_head && *s->exclusivity_head == NULL && to->exclusivity[0] == 0))
            swift_task_enterThreadLocalContext((char *)to->exclusivity);
    }
    // The watchdog thread reads these two with relaxed loads. `current` is a relaxed store
    // (a plain mov). The counter stays a plain increment (`incq` in memory; a relaxed atomic
    // store would split it into load, add, store): only this thread writes it, and aligned
    // 8-byte stores are single-copy atomic on x86_64 and AArch64, so the reader sees the old
    // or the new value. Under TSan, where that benign race would be reported, it is atomic.
    __atomic_store_n(&s->current, to, __ATOMIC_RELAXED);
#if WEAVE_TSAN
    __atomic_store_n(&s->switches, s->switches + 1, __ATOMIC_RELAXED);
#else
    s->switches++;
#endif
#if WEAVE_ASAN
    void *fake_stack = NULL;
    __sanitizer_start_switch_fiber(from_is_dying ? NULL : &fake_stack, to->stack_low, to->stack_size);
#else
    (void)from_is_dying;
#endif
#if WEAVE_TSAN
    __tsan_switch_to_fiber(to->sanitizer_fiber, 0);
#endif
    weave_context_switch(&from->sp, to->sp, to);
#if WEAVE_ASAN
    __sanitizer_finish_switch_fiber(fake_stack, NULL, NULL);
#endif
}

static inline __attribute__((always_inline))
void transfer(weave_sched *s, weave_fiber *from, weave_fiber *to) {
    transfer_ex(s, from, to, 0);
}

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

// MARK: - Exclusivity list probe

#include <link.h>

// From the Swift runtime (Exclusivity.h): a tracked read, and the 3-word access record.
extern void swift_beginAccess(void *pointer, void *buffer, uintptr_t flags, void *pc);
extern void swift_endAccess(void *buffer);
#define WEAVE_SWIFT_ACCESS_TRACKED_READ ((uintptr_t)0x20)

struct tls_block { void *data; size_t size; };

static int find_swift_core_tls(struct dl_phdr_info *info, size_t size, void *out) {
    (void)size;
    if (!info->dlpi_name || !strstr(info->dlpi_name, "libswiftCore.so")) return 0;
    struct tls_block *block = out;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        if (info->dlpi_phdr[i].p_type == PT_TLS) {
            block->data = info->dlpi_tls_data;
            block->size = info->dlpi_phdr[i].p_memsz;
        }
    }
    return 1;
}

void *const *weave_probe_exclusivity_head(void) {
    uintptr_t first_access[3], second_access[3];
    int first_target = 0, second_target = 0;
    struct tls_block block = { NULL, 0 };
    // The first access also makes sure this thread's block exists.
    swift_beginAccess(&first_target, first_access, WEAVE_SWIFT_ACCESS_TRACKED_READ, NULL);
    dl_iterate_phdr(find_swift_core_tls, &block);
    void **found = NULL;
    int matches = 0;
    if (block.data) {
        void **words = block.data;
        for (size_t i = 0; i < block.size / sizeof(void *); i++) {
            if (words[i] == (void *)first_access) { found = &words[i]; matches++; }
        }
    }
    int ok = matches == 1;
    if (ok) {
        swift_beginAccess(&second_target, second_access, WEAVE_SWIFT_ACCESS_TRACKED_READ, NULL);
        ok = *found == (void *)second_access;
        swift_endAccess(second_access);
        ok = ok && *found == (void *)first_access;
    } else {
        swift_beginAccess(&second_target, second_access, WEAVE_SWIFT_ACCESS_TRACKED_READ, NULL);
        swift_endAccess(second_access);
    }
    swift_endAccess(first_access);
    // Back to empty. (A thread that starts a hub with an access open gets NULL: the list
    // is then never empty while the hub runs, and every switch calls the runtime.)
    ok = ok && *found == NULL;
    return ok ? (void *const *)found : NULL;
}

// MARK: - Blocked-loop monitor

#include <sys/syscall.h>
#include <sys/uio.h>

#include <pthread.h>

int32_t weave_thread_id(void) { return (int32_t)syscall(SYS_gettid); }

void weave_set_thread_name(const char *name) {
    char short_name[16];
    strncpy(short_name, name, sizeof short_name - 1);
    short_name[sizeof short_name - 1] = 0;
    (void)pthread_setname_np(pthread_self(), short_name);
}

int weave_fiber_peek(const weave_fiber *f, weave_fiber_info *out) {
    weave_fiber copy;
    struct iovec local = { .iov_base = &copy, .iov_len = sizeof copy };
    struct iovec remote = { .iov_base = (void *)f, .iov_len = sizeof copy };
    if (process_vm_readv(getpid(), &local, 1, &remote, 1, 0) != (ssize_t)sizeof copy) return -1;
    out->id = copy.id;
    out->is_host = copy.is_host;
    out->site_line = copy.site_line;
    memcpy(out->name, copy.name, sizeof out->name);
    if (!copy.named) out->name[0] = 0;
    memcpy(out->site, copy.site, sizeof out->site);
    out->name[sizeof out->name - 1] = 0;
    out->site[sizeof out->site - 1] = 0;
    if (copy.site_line == 0) out->site[0] = 0;
    return 0;
}

// MARK: - Overflow reporting

static struct sigaction previous_segv, previous_bus;
static atomic_int handler_installed;

static void write_str(const char *p) { (void)!write(STDERR_FILENO, p, strlen(p)); }

static void write_dec(size_t v) {
    char buf[24];
    int i = (int)sizeof buf;
    do { buf[--i] = (char)('0' + v % 10); v /= 10; } while (v && i > 0);
    (void)!write(STDERR_FILENO, buf + i, sizeof buf - (size_t)i);
}

/// Writes the fiber's spawn site as `fileID:line`. `spawn_file` holds a Swift
/// `StaticString`'s bytes: start (pointer or scalar), UTF-8 count, flags (bit 0 set: the
/// start is a single scalar, not a pointer). Every spawn records it.
static void write_spawn_site(const weave_fiber *f) {
    uintptr_t start;
    uint64_t count;
    memcpy(&start, f->spawn_file, sizeof start);
    memcpy(&count, f->spawn_file + 8, sizeof count);
    unsigned char flags = f->spawn_file[16];
    if ((flags & 1) == 0 && start != 0 && count > 0 && count < 4096) {
        (void)!write(STDERR_FILENO, (const void *)start, (size_t)count);
    } else {
        write_str("<unknown>");
    }
    write_str(":");
    if (f->spawn_line < 0) write_str("?"); else write_dec((size_t)f->spawn_line);
}

static void chain(int sig, siginfo_t *info, void *uctx) {
    struct sigaction *prev = sig == SIGBUS ? &previous_bus : &previous_segv;
    if ((prev->sa_flags & SA_SIGINFO) && prev->sa_sigaction) {
        prev->sa_sigaction(sig, info, uctx);
        return;
    }
    if (prev->sa_handler != SIG_DFL && prev->sa_handler != SIG_IGN) {
        prev->sa_handler(sig);
        return;
    }
    // Default action: re-raise with the default disposition once we return.
    signal(sig, SIG_DFL);
}

static void overflow_handler(int sig, siginfo_t *info, void *uctx) {
    weave_sched *s = weave_tls_sched;
    if (s && s->current && !s->current->is_host) {
        weave_fiber *f = s->current;
        char *addr = (char *)info->si_addr;
        if (addr >= (char *)f->guard_low && addr < (char *)f->stack_low) {
            // Reads only the fiber, never the Swift object: the handler may not allocate,
            // lock or retain. Named: 'name' (#id); unnamed: #id (as the deadlock report).
            write_str("Weave: stack overflow in coroutine ");
            if (f->named) {
                write_str("'");
                write_str(f->name);
                write_str("' (#");
                write_dec(f->id);
                write_str(")");
            } else {
                write_str("#");
                write_dec(f->id);
            }
            write_str(" spawned at ");
            write_spawn_site(f);
            write_str(" (stack size ");
            write_dec(f->stack_size);
            write_str(" bytes); spawn it with a larger stackSize\n");
            signal(SIGABRT, SIG_DFL);
            abort();
        }
    }
    chain(sig, info, uctx);
}

void weave_install_overflow_handler(void) {
    int expected = 0;
    if (!atomic_compare_exchange_strong(&handler_installed, &expected, 1)) return;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = overflow_handler;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, &previous_segv);
    sigaction(SIGBUS, &sa, &previous_bus);
}

int weave_altstack_install(weave_altstack *a, size_t size) {
    memset(a, 0, sizeof *a);
    void *m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED) return errno;
    stack_t ss = { .ss_sp = m, .ss_flags = 0, .ss_size = size };
    stack_t old;
    if (sigaltstack(&ss, &old) != 0) {
        int e = errno;
        munmap(m, size);
        return e;
    }
    memcpy(a->previous, &old, sizeof old);
    a->memory = m;
    a->size = size;
    a->installed = 1;
    return 0;
}

void weave_altstack_uninstall(weave_altstack *a) {
    if (!a->installed) return;
    stack_t old;
    memcpy(&old, a->previous, sizeof old);
    if (old.ss_flags & SS_DISABLE) {
        stack_t off = { .ss_sp = NULL, .ss_flags = SS_DISABLE, .ss_size = 0 };
        sigaltstack(&off, NULL);
    } else {
        sigaltstack(&old, NULL);
    }
    munmap(a->memory, a->size);
    a->installed = 0;
}

// MARK: - Switch micro-benchmark (for Benchmarks/, through Weave's SPI)

#include <time.h>

static weave_sched bench_sched;
static weave_fiber *bench_peer;

static void bench_entry(void *arg) {
    weave_fiber *self = (weave_fiber *)arg;
    for (;;) transfer(&bench_sched, self, &bench_sched.host);
}

uint64_t weave_bench_switch(uint64_t rounds, int swap_exclusivity) {
    size_t size = 64 * 1024;
    char *stack = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (stack == MAP_FAILED) return 0;
    weave_sched_init(&bench_sched);
    bench_sched.swap_exclusivity = swap_exclusivity != 0;
    // 2: as hubs run, skipping the runtime calls while no access is open anywhere.
    if (swap_exclusivity == 2) bench_sched.exclusivity_head = weave_probe_exclusivity_head();
    bench_peer = weave_fiber_create(&bench_sched, stack, stack, stack + size, bench_entry, NULL, 0);
    for (int i = 0; i < 1000; i++) transfer(&bench_sched, &bench_sched.host, bench_peer);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (uint64_t i = 0; i < rounds; i++) transfer(&bench_sched, &bench_sched.host, bench_peer);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    // The peer is parked forever in its loop; its stack holds nothing that needs unwinding.
    munmap(stack, size);
    return (uint64_t)(t1.tv_sec - t0.tv_sec) * 1000000000ull + (uint64_t)(t1.tv_nsec - t0.tv_nsec);
}
