// Native test harness for Sources/CWeaveContext: the assembly context switch, fresh
// contexts, and the scheduler's run queue, without Swift. Built for x86_64 (natively) and
// for aarch64 (run under qemu-aarch64) by the Makefile next to this file.
#define _GNU_SOURCE
#include "CWeaveContext.h"

#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

// MARK: - Tiny test framework

static int test_failures;  // failed checks in the running test

#define CHECK(cond, ...)                                                        \
    do {                                                                        \
        if (!(cond)) {                                                          \
            test_failures++;                                                    \
            printf("    check failed at line %d: %s: ", __LINE__, #cond);       \
            printf(__VA_ARGS__);                                                \
            printf("\n");                                                       \
        }                                                                       \
    } while (0)

// MARK: - Stacks

typedef struct {
    char *base;   // start of the mapping (the guard page)
    size_t size;  // whole mapping
    char *low;    // lowest usable byte
    char *top;    // one past the highest usable byte (page aligned, so 16-byte aligned)
} test_stack;

// An mmap'd stack with a PROT_NONE guard page below it, like the real allocator's.
static test_stack stack_new(size_t usable) {
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    test_stack st;
    st.size = usable + page;
    st.base = mmap(NULL, st.size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (st.base == MAP_FAILED) { perror("mmap"); exit(2); }
    if (mprotect(st.base, page, PROT_NONE) != 0) { perror("mprotect"); exit(2); }
    st.low = st.base + page;
    st.top = st.base + st.size;
    return st;
}

static void stack_free(test_stack *st) { munmap(st->base, st->size); }

// MARK: - Helpers in regs_<arch>.S

#if defined(__x86_64__)
#define NREGS 6
static const char *const reg_names[NREGS] = { "rbx", "rbp", "r12", "r13", "r14", "r15" };
#elif defined(__aarch64__)
#define NREGS 19
static const char *const reg_names[NREGS] = {
    "x19", "x20", "x21", "x22", "x23", "x24", "x25", "x26", "x27", "x28", "x29",
    "d8", "d9", "d10", "d11", "d12", "d13", "d14", "d15" };
#endif

// Fills the callee-saved registers with seed+1.. (in reg_names order), switches, and reports
// in out[] what they hold once the switch returns.
void *harness_regs_switch(void **save_sp, void *to_sp, void *arg, uint64_t seed, uint64_t *out);

// A fresh context's entry that records sp and its argument on the first instruction,
// then continues in harness_probe_body on the same stack.
void harness_probe_entry(void *arg);
void harness_probe_body(void *arg);
extern uintptr_t harness_probe_sp;
extern void *harness_probe_arg;

// MARK: - Test 1: ping-pong

#define PP_ROUNDS 1000000
static void *pp_main_sp, *pp_co_sp;
static uint64_t pp_co_seen, pp_co_bad;

// The coroutine side: each value from main must be the round number; it answers with its
// complement so main can tell the reply came from here and carried the right value.
static void pp_entry(void *arg) {
    for (;;) {
        if ((uintptr_t)arg != pp_co_seen) pp_co_bad++;
        pp_co_seen++;
        arg = weave_context_switch(&pp_co_sp, pp_main_sp, (void *)~(uintptr_t)arg);
    }
}

static void test_ping_pong(void) {
    test_stack st = stack_new(64 * 1024);
    pp_co_sp = weave_context_make(st.top, pp_entry);
    uint64_t bad = 0;
    for (uintptr_t i = 0; i < PP_ROUNDS; i++) {
        void *r = weave_context_switch(&pp_main_sp, pp_co_sp, (void *)i);
        if ((uintptr_t)r != ~i) bad++;
    }
    CHECK(pp_co_seen == PP_ROUNDS, "coroutine ran %llu rounds", (unsigned long long)pp_co_seen);
    CHECK(pp_co_bad == 0, "%llu wrong values arrived in the coroutine", (unsigned long long)pp_co_bad);
    CHECK(bad == 0, "%llu wrong values arrived in main", (unsigned long long)bad);
    stack_free(&st);  // the coroutine stays suspended for good; nothing resumes it
}

// MARK: - Test 2: a fresh stack

static void *probe_main_sp, *probe_co_sp;
static void *probe_body_arg;

void harness_probe_body(void *arg) {
    probe_body_arg = arg;
    weave_context_switch(&probe_co_sp, probe_main_sp, NULL);
    abort();  // never resumed
}

static void test_fresh_stack(void) {
    test_stack st = stack_new(64 * 1024);
    // Once with an aligned top, once with a top 8 bytes off (weave_context_make rounds down).
    for (int k = 0; k < 2; k++) {
        char *top = st.top - (k ? 8 : 0);
        void *token = (void *)(uintptr_t)(0xF00D0000u + (unsigned)k);
        harness_probe_sp = 0;
        harness_probe_arg = NULL;
        probe_body_arg = NULL;
        probe_co_sp = weave_context_make(top, harness_probe_entry);
        CHECK((char *)probe_co_sp > st.low && (char *)probe_co_sp < top,
              "made sp %p outside the stack", probe_co_sp);
        weave_context_switch(&probe_main_sp, probe_co_sp, token);

        uintptr_t sp = harness_probe_sp;
        CHECK(harness_probe_arg == token, "entry got %p, want %p", harness_probe_arg, token);
        CHECK(probe_body_arg == token, "body got %p, want %p", probe_body_arg, token);
        // Inside the new stack, and near its top (a fresh context wastes almost nothing).
        // sp == top is fine on aarch64, where a call pushes nothing.
        CHECK(sp > (uintptr_t)st.low && sp <= (uintptr_t)top && (uintptr_t)top - sp <= 256,
              "entry sp %#lx not just below top %p", (unsigned long)sp, (void *)top);
#if defined(__x86_64__)
        // SysV: rsp+8 is 16-byte aligned at function entry (the call pushed 8 bytes).
        CHECK((sp + 8) % 16 == 0, "entry rsp %#lx: (rsp+8)%%16 = %lu",
              (unsigned long)sp, (unsigned long)((sp + 8) % 16));
#else
        // AAPCS64: sp is always 16-byte aligned.
        CHECK(sp % 16 == 0, "entry sp %#lx: sp%%16 = %lu", (unsigned long)sp, (unsigned long)(sp % 16));
#endif
    }
    stack_free(&st);
}

// MARK: - Test 3: callee-saved registers

#define RG_ROUNDS 4
static void *rg_main_sp, *rg_co_sp;
static int rg_co_checked, rg_co_bad;

// Distinct patterns per side and per round, so a register restored from the wrong side or
// from an older round is caught.
static uint64_t seed_main(int r) { return 0x5A5A000000000000ull + ((uint64_t)r << 32) + 0x1000; }
static uint64_t seed_co(int r) { return 0xC3C3000000000000ull + ((uint64_t)r << 32) + 0x2000; }

static int count_mismatches(const uint64_t *out, uint64_t seed, const char *who, int round) {
    int bad = 0;
    for (int i = 0; i < NREGS; i++) {
        if (out[i] != seed + (uint64_t)i + 1) {
            printf("    %s round %d: %s = %#llx, want %#llx\n", who, round, reg_names[i],
                   (unsigned long long)out[i], (unsigned long long)(seed + (uint64_t)i + 1));
            bad++;
        }
    }
    return bad;
}

// The other side fills every callee-saved register with its own pattern before switching
// back, so main's values survive only if the switch saved and restored them.
static void rg_entry(void *arg) {
    for (int r = 0;; r++) {
        uint64_t out[NREGS];
        void *got = harness_regs_switch(&rg_co_sp, rg_main_sp, arg, seed_co(r), out);
        // Resumed by main's next round: our registers must be ours again.
        rg_co_bad += count_mismatches(out, seed_co(r), "coroutine", r);
        if ((uintptr_t)got != (uintptr_t)r + 1) rg_co_bad++;
        rg_co_checked++;
        arg = got;
    }
}

static void test_callee_saved(void) {
    test_stack st = stack_new(64 * 1024);
    rg_co_sp = weave_context_make(st.top, rg_entry);
    for (int r = 0; r < RG_ROUNDS; r++) {
        uint64_t out[NREGS];
        harness_regs_switch(&rg_main_sp, rg_co_sp, (void *)(uintptr_t)r, seed_main(r), out);
        int bad = count_mismatches(out, seed_main(r), "main", r);
        CHECK(bad == 0, "%d registers of main clobbered in round %d", bad, r);
    }
    CHECK(rg_co_checked == RG_ROUNDS - 1, "coroutine checked %d rounds", rg_co_checked);
    CHECK(rg_co_bad == 0, "%d registers (or values) of the coroutine clobbered", rg_co_bad);
    stack_free(&st);
}

// MARK: - Test 4: FP control state

// The per-context FP control registers: MXCSR and the x87 control word, or FPCR.
typedef struct { uint64_t a, b; } fpctl;

#if defined(__x86_64__)
#define MXCSR_FLAGS 0x3Fu  // sticky exception flags: status, not control
static fpctl fp_get(void) {
    uint32_t mxcsr;
    uint16_t cw;
    __asm__ volatile("stmxcsr %0" : "=m"(mxcsr));
    __asm__ volatile("fnstcw %0" : "=m"(cw));
    return (fpctl){ mxcsr, cw };
}
static void fp_set(fpctl f) {
    uint32_t mxcsr = (uint32_t)f.a;
    uint16_t cw = (uint16_t)f.b;
    __asm__ volatile("ldmxcsr %0" : : "m"(mxcsr) : "memory");
    __asm__ volatile("fldcw %0" : : "m"(cw) : "memory");
}
static const fpctl fp_default = { 0x1F80, 0x037F };
static const fpctl fp_main = { 0x7F80, 0x077F };  // SSE toward zero, x87 down
static const fpctl fp_co = { 0x5F80, 0x0B7F };    // SSE up, x87 up
static int fp_same(fpctl x, fpctl y) { return ((x.a ^ y.a) & ~(uint64_t)MXCSR_FLAGS) == 0 && x.b == y.b; }
#define FP_FMT "mxcsr %#llx x87cw %#llx"
#define FP_ARGS(f) (unsigned long long)(f).a, (unsigned long long)(f).b
#else
static fpctl fp_get(void) {
    uint64_t v;
    __asm__ volatile("mrs %0, fpcr" : "=r"(v));
    return (fpctl){ v, 0 };
}
static void fp_set(fpctl f) { __asm__ volatile("msr fpcr, %0" : : "r"(f.a) : "memory"); }
static const fpctl fp_default = { 0, 0 };
static const fpctl fp_main = { 0xC00000, 0 };  // RMode = RZ (toward zero)
static const fpctl fp_co = { 0x400000, 0 };    // RMode = RP (toward +inf)
static int fp_same(fpctl x, fpctl y) { return x.a == y.a; }
#define FP_FMT "fpcr %#llx"
#define FP_ARGS(f) (unsigned long long)(f).a
#endif

#define FP_ROUNDS 5
static void *fp_main_sp, *fp_co_sp;
static fpctl fp_co_fresh;
static int fp_co_bad;
static double fp_co_third;
static volatile double fp_one = 1.0, fp_three = 3.0;

static void fp_entry(void *arg) {
    (void)arg;
    fp_co_fresh = fp_get();  // before anything could touch it
    fp_set(fp_co);
    for (;;) {
        weave_context_switch(&fp_co_sp, fp_main_sp, NULL);
        fpctl now = fp_get();
        if (!fp_same(now, fp_co)) {
            printf("    coroutine sees " FP_FMT ", want " FP_FMT "\n", FP_ARGS(now), FP_ARGS(fp_co));
            fp_co_bad++;
        }
        fp_co_third = fp_one / fp_three;  // rounded up here
    }
}

static void test_fp_control(void) {
    test_stack st = stack_new(64 * 1024);
    fpctl saved = fp_get();
    fp_set(fp_main);
    fp_co_sp = weave_context_make(st.top, fp_entry);
    for (int r = 0; r < FP_ROUNDS; r++) {
        weave_context_switch(&fp_main_sp, fp_co_sp, NULL);
        fpctl now = fp_get();
        CHECK(fp_same(now, fp_main), "main sees " FP_FMT ", want " FP_FMT " (round %d)",
              FP_ARGS(now), FP_ARGS(fp_main), r);
    }
    volatile double main_third = fp_one / fp_three;  // rounded toward zero here (volatile:
                                                     // computed before the mode is reset)
    fp_set(saved);

    // A fresh context starts from the defaults exactly, not from its creator's state.
    CHECK(fp_co_fresh.a == fp_default.a && fp_co_fresh.b == fp_default.b,
          "fresh context started with " FP_FMT ", want " FP_FMT, FP_ARGS(fp_co_fresh), FP_ARGS(fp_default));
    CHECK(fp_co_bad == 0, "coroutine lost its FP control state %d times", fp_co_bad);
    // The modes are not just stored but in force: 1/3 rounds differently on the two sides.
    CHECK(main_third < fp_co_third, "1/3 toward zero %a is not below 1/3 upward %a", main_third, fp_co_third);
    stack_free(&st);
}

// MARK: - Test 5: scheduler, run queue, exclusivity hooks

// Stand-ins for libswiftCore's hooks: they record each call with the fiber whose state
// they got, the fiber running at the time, and where the stack was.
typedef struct {
    char kind;              // 'E' enter, 'X' exit
    char *state;
    weave_fiber *current;   // s->current when called
    uintptr_t sp;
} xevent;

#define XMAX 64
static xevent xlog[XMAX];
static int xlog_n;

static void xrecord(char kind, char *state) {
    volatile char here;  // its address approximates the stack pointer of the caller
    weave_sched *s = weave_sched_current();
    if (xlog_n < XMAX)
        xlog[xlog_n] = (xevent){ kind, state, s ? s->current : NULL, (uintptr_t)&here };
    xlog_n++;
}

void swift_task_enterThreadLocalContext(char *state) { xrecord('E', state); }
void swift_task_exitThreadLocalContext(char *state) { xrecord('X', state); }
// The exclusivity-list probe (weave_probe_exclusivity_head) is linked in but not used here:
// the harness's schedulers leave `exclusivity_head` NULL, so every swap calls the hooks above.
void swift_beginAccess(void *pointer, void *buffer, uintptr_t flags, void *pc) { (void)pointer; (void)buffer; (void)flags; (void)pc; }
void swift_endAccess(void *buffer) { (void)buffer; }

#define NFIBERS 3
#define STEPS 3
typedef struct { int id, step; uint64_t alive, live_listed; weave_fiber *zombies; } sched_event;
static sched_event slog[NFIBERS * STEPS + 4];
static int slog_n;
static int sched_bad_arg;

static uint64_t count_all(const weave_sched *s) {
    uint64_t n = 0;
    for (const weave_fiber *f = s->all_head; f; f = f->all_next) n++;
    return n;
}

// Each fiber logs a step, yields, and after STEPS steps exits for good.
static void fiber_entry(void *arg) {
    weave_sched *s = weave_sched_current();
    weave_fiber *self = arg;
    if (self != s->current) sched_bad_arg++;  // transfer() passes the fiber itself
    int id = (int)(uintptr_t)self->owner;
    for (int step = 0; step < STEPS; step++) {
        if ((size_t)slog_n < sizeof slog / sizeof slog[0])
            slog[slog_n++] = (sched_event){ id, step, s->alive_count, count_all(s), s->zombies };
        if (step < STEPS - 1) weave_sched_yield(s);
    }
    weave_sched_exit(s);
}

static const char *fiber_name(const weave_sched *s, const weave_fiber *f, weave_fiber *const *fb) {
    if (f == &s->host) return "host";
    for (int i = 0; i < NFIBERS; i++)
        if (f == fb[i]) return fb[i]->name;
    return "?";
}

static int on_stack_of(const weave_fiber *f, uintptr_t sp) {
    return sp >= (uintptr_t)f->stack_low && sp < (uintptr_t)f;
}

static void test_scheduler(void) {
    static weave_sched S;
    weave_sched *s = &S;
    weave_sched_init(s);
    weave_sched_set_current(s);
    CHECK(weave_sched_current() == s, "weave_sched_current");
    CHECK(s->current == &s->host && s->host.is_host, "host is current after init");

    test_stack st[NFIBERS];
    weave_fiber *fb[NFIBERS];
    for (int i = 0; i < NFIBERS; i++) {
        st[i] = stack_new(64 * 1024);
        fb[i] = weave_fiber_create(s, st[i].low, st[i].base, st[i].top, fiber_entry,
                                   (void *)(uintptr_t)i, 0);
        snprintf(fb[i]->name, sizeof fb[i]->name, "%c", 'A' + i);
        // The control block sits at the top of its own stack, cache-line aligned.
        CHECK((char *)fb[i] + sizeof(weave_fiber) <= st[i].top && (uintptr_t)fb[i] % 64 == 0 &&
              st[i].top - (char *)fb[i] < (ptrdiff_t)(sizeof(weave_fiber) + 64),
              "fiber %d control block at %p, stack top %p", i, (void *)fb[i], (void *)st[i].top);
        CHECK((char *)fb[i]->sp > st[i].low && (char *)fb[i]->sp < (char *)fb[i], "fiber %d sp", i);
        CHECK(fb[i]->stack_size == (size_t)((char *)fb[i] - st[i].low), "fiber %d stack_size", i);
        CHECK(s->alive_count == (uint64_t)i + 1 && s->all_head == fb[i], "fiber %d live list", i);
    }

    // FIFO: readiness order B, A, C (not creation order); readying A twice changes nothing.
    enum { A, B, C };
    weave_sched_ready(s, fb[B]);
    weave_sched_ready(s, fb[A]);
    weave_sched_ready(s, fb[C]);
    weave_sched_ready(s, fb[A]);
    CHECK(s->ready_count == 3, "ready_count %llu", (unsigned long long)s->ready_count);
    CHECK(s->ready_head == fb[B] && fb[B]->next == fb[A] && fb[A]->next == fb[C] &&
          fb[C]->next == NULL && s->ready_tail == fb[C], "run queue is not B, A, C");

    weave_sched_run(s);

    // Back on the host once all three exited.
    int want_order[NFIBERS * STEPS] = { B, A, C, B, A, C, B, A, C };
    CHECK(slog_n == NFIBERS * STEPS, "%d steps ran, want %d", slog_n, NFIBERS * STEPS);
    for (int i = 0; i < slog_n && i < NFIBERS * STEPS; i++) {
        CHECK(slog[i].id == want_order[i] && slog[i].step == i / NFIBERS,
              "step %d ran fiber %c step %d, want %c step %d", i, 'A' + slog[i].id, slog[i].step,
              'A' + want_order[i], i / NFIBERS);
    }
    // Exits happen in order B, A, C during the last round; each one drops alive_count,
    // leaves the live list and lands on the zombie list.
    if (slog_n == NFIBERS * STEPS) {
        sched_event *b2 = &slog[6], *a2 = &slog[7], *c2 = &slog[8];
        CHECK(b2->alive == 3 && b2->live_listed == 3 && b2->zombies == NULL, "before the first exit");
        CHECK(a2->alive == 2 && a2->live_listed == 2 && a2->zombies == fb[B], "after B exited");
        CHECK(c2->alive == 1 && c2->live_listed == 1 && c2->zombies == fb[A] && fb[A]->next == fb[B],
              "after A exited");
    }
    CHECK(sched_bad_arg == 0, "an entry did not get its own fiber as argument");
    CHECK(s->current == &s->host, "host is not current after run");
    CHECK(s->alive_count == 0 && s->all_head == NULL, "alive %llu", (unsigned long long)s->alive_count);
    CHECK(s->ready_count == 0 && s->ready_head == NULL && s->ready_tail == NULL, "run queue not empty");
    weave_fiber *z = weave_sched_take_zombies(s);
    CHECK(z == fb[C] && fb[C]->next == fb[A] && fb[A]->next == fb[B] && fb[B]->next == NULL,
          "zombie list is not C, A, B");
    CHECK(s->zombies == NULL, "take_zombies left the list non-empty");

    // Exclusivity hooks: for every transfer from -> to, exit(from) unless from is the host,
    // then enter(to) unless to is the host; both before the switch, so on from's stack.
    weave_fiber *chain[] = { &s->host, fb[B], fb[A], fb[C], fb[B], fb[A], fb[C],
                             fb[B], fb[A], fb[C], &s->host };
    int transfers = (int)(sizeof chain / sizeof chain[0]) - 1;
    CHECK(s->switches == (uint64_t)transfers, "switches %llu, want %d",
          (unsigned long long)s->switches, transfers);
    int n = 0;
    for (int t = 0; t < transfers; t++) {
        weave_fiber *from = chain[t], *to = chain[t + 1];
        if (!from->is_host) {
            xevent *e = n < xlog_n && n < XMAX ? &xlog[n] : NULL;
            CHECK(e && e->kind == 'X' && e->state == (char *)from->exclusivity && e->current == from &&
                  on_stack_of(from, e->sp),
                  "transfer %d (%s -> %s): want exit(%s) on its own stack", t,
                  fiber_name(s, from, fb), fiber_name(s, to, fb), fiber_name(s, from, fb));
            n++;
        }
        if (!to->is_host) {
            xevent *e = n < xlog_n && n < XMAX ? &xlog[n] : NULL;
            CHECK(e && e->kind == 'E' && e->state == (char *)to->exclusivity && e->current == from,
                  "transfer %d (%s -> %s): want enter(%s)", t,
                  fiber_name(s, from, fb), fiber_name(s, to, fb), fiber_name(s, to, fb));
            n++;
        }
    }
    CHECK(xlog_n == n, "%d hook calls, want %d", xlog_n, n);
    for (int i = 0; i < xlog_n && i < XMAX; i++)
        CHECK(xlog[i].state != (char *)s->host.exclusivity, "hook call %d got the host's state", i);

    weave_sched_set_current(NULL);
    for (int i = 0; i < NFIBERS; i++) stack_free(&st[i]);
}

// MARK: - Test 6: an entry that returns

static void returning_entry(void *arg) {
    *(volatile int *)arg = 1;  // proves the entry ran before the abort
}

static void test_entry_returns(void) {
    volatile int *ran = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (ran == MAP_FAILED) { perror("mmap"); exit(2); }
    fflush(stdout);  // the child must not repeat buffered output
    pid_t pid = fork();
    if (pid < 0) { perror("fork"); exit(2); }
    if (pid == 0) {
        struct rlimit none = { 0, 0 };
        setrlimit(RLIMIT_CORE, &none);  // no core file (qemu writes one too)
        signal(SIGABRT, SIG_DFL);
        // Silence the child: qemu-user reports the guest's abort on stderr.
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0) dup2(devnull, STDERR_FILENO);
        test_stack st = stack_new(64 * 1024);
        void *main_sp;
        weave_context_switch(&main_sp, weave_context_make(st.top, returning_entry), (void *)ran);
        _exit(0);  // unreachable: nothing switches back
    }
    int status = 0;
    if (waitpid(pid, &status, 0) != pid) { perror("waitpid"); exit(2); }
    CHECK(*ran == 1, "the entry never ran");
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT,
          "child status %#x (exited %d, signal %d), want death by SIGABRT", status,
          WIFEXITED(status) ? WEXITSTATUS(status) : -1, WIFSIGNALED(status) ? WTERMSIG(status) : -1);
    munmap((void *)ran, 4096);
}

// MARK: - Main

int main(void) {
    static const struct { const char *name; void (*run)(void); } tests[] = {
        { "ping-pong, 1000000 round trips with arg passing", test_ping_pong },
        { "fresh stack: entry argument, sp inside and ABI-aligned", test_fresh_stack },
        { "callee-saved registers preserved across switches", test_callee_saved },
        { "FP control state per context, fresh context at defaults", test_fp_control },
        { "scheduler: FIFO run queue, exit/zombies, exclusivity hooks", test_scheduler },
        { "an entry that returns aborts", test_entry_returns },
    };
    setvbuf(stdout, NULL, _IOLBF, 0);
#if defined(__x86_64__)
    printf("CWeaveContext harness (x86_64)\n");
#else
    printf("CWeaveContext harness (aarch64)\n");
#endif
    int passed = 0, failed = 0;
    int count = (int)(sizeof tests / sizeof tests[0]);
    for (int i = 0; i < count; i++) {
        // Each test runs in its own child, so a broken switch that crashes one test is
        // reported as that test's failure and the others still run.
        fflush(stdout);
        pid_t pid = fork();
        if (pid < 0) { perror("fork"); return 2; }
        if (pid == 0) {
            test_failures = 0;
            tests[i].run();
            fflush(stdout);
            _exit(test_failures ? 1 : 0);
        }
        int status = 0;
        if (waitpid(pid, &status, 0) != pid) { perror("waitpid"); return 2; }
        int ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
        if (WIFSIGNALED(status)) printf("    crashed by signal %d\n", WTERMSIG(status));
        printf("%s %d. %s\n", ok ? "ok  " : "FAIL", i + 1, tests[i].name);
        if (ok) passed++; else failed++;
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
