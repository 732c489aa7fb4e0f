// A context switch with glibc's swapcontext (which saves and restores the signal mask with a
// system call each time): the cost Weave's assembly switch avoids.
//
//   gcc -O2 -o ucontext-switch ucontext_switch.c && ./ucontext-switch [ROUNDS]
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <ucontext.h>

static ucontext_t main_context, fiber_context;
static long rounds;

static void fiber(void) {
    for (;;) swapcontext(&fiber_context, &main_context);
}

int main(int argc, char **argv) {
    rounds = argc > 1 ? atol(argv[1]) : 1000000;
    if (rounds < 1) { fprintf(stderr, "ucontext-switch: ROUNDS must be positive\n"); return 2; }
    static char stack[64 * 1024];
    getcontext(&fiber_context);
    fiber_context.uc_stack.ss_sp = stack;
    fiber_context.uc_stack.ss_size = sizeof stack;
    fiber_context.uc_link = NULL;
    makecontext(&fiber_context, fiber, 0);
    struct timespec start, end;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (long index = 0; index < rounds; index++) swapcontext(&main_context, &fiber_context);
    clock_gettime(CLOCK_MONOTONIC, &end);
    double nanoseconds = (double)(end.tv_sec - start.tv_sec) * 1e9 + (double)(end.tv_nsec - start.tv_nsec);
    // Each round is two switches: into the fiber and back.
    printf("{\"bench\":\"switch\",\"impl\":\"c-ucontext\",\"rounds\":%ld,\"ns_per_switch\":%.1f}\n", rounds, nanoseconds / (2.0 * (double)rounds));
    return 0;
}
