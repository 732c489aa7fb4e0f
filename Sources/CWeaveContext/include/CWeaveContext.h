// The lowest layer of Weave: a stack-switching primitive written in assembly, the
// per-coroutine control block (`weave_fiber`) and the hub's run queue. This umbrella
// header is what Swift's `import CWeaveContext` sees; each idea has a header of its own.
//
// Why C and not Swift: the switch path must hold no Swift references and begin no
// dynamic exclusivity accesses (an access open across a switch is what the exclusivity swap
// and the suspended-access trap guard against). Keeping the run queue and the switch in
// C guarantees that, whatever the optimiser does to the Swift code around it.
#ifndef WEAVE_CONTEXT_H
#define WEAVE_CONTEXT_H

#include "weave_switch.h"
#include "weave_fiber.h"
#include "weave_scheduler.h"
#include "weave_fiber_lifecycle.h"
#include "weave_run_queue.h"
#include "weave_wait_queue.h"
#include "weave_crosshub_ring.h"
#include "weave_monitor.h"
#include "weave_thread.h"
#include "weave_overflow.h"
#include "weave_bench.h"

#endif
