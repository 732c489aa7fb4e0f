// Benchmark support: the switch micro-benchmark that Weave's `@_spi(Benchmarks)` exposes.
#ifndef WEAVE_BENCH_H
#define WEAVE_BENCH_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

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
