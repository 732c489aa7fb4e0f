// The stack overflow report: a guard-fault handler naming the coroutine, and alternate stacks.
#define _GNU_SOURCE  // MAP_NORESERVE
#include "CWeaveContext.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

_Static_assert(sizeof(stack_t) <= 32, "weave_altstack.previous too small");

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
