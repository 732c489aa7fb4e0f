// The switch micro-benchmark (for Benchmarks/, through Weave's SPI), on the scheduler's own switch.
#define _GNU_SOURCE  // MAP_ANONYMOUS
#include "transfer.h"

#include <sys/mman.h>
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
