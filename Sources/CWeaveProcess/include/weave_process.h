// Small process-control shims that Swift's Glibc module does not import.
#ifndef WEAVE_PROCESS_H
#define WEAVE_PROCESS_H

#include <signal.h>
#include <sys/prctl.h>

/// Asks the kernel to send `signal` to this process when its parent thread exits.
static inline int weave_set_parent_death_signal(int signal) {
    return prctl(PR_SET_PDEATHSIG, (unsigned long)signal, 0UL, 0UL, 0UL);
}

#endif
