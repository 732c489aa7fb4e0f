// The process layer's C: spawning children without fork, and the process-control shims
// that Swift's Glibc module does not import. What Swift's `import CWeaveProcess` sees.
#ifndef WEAVE_CWEAVEPROCESS_H
#define WEAVE_CWEAVEPROCESS_H

#include "weave_process.h"
#include "weave_spawn.h"

#endif
