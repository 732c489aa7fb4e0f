// Reading a fiber's identity from the watchdog thread, safe against an unmapped stack.
#define _GNU_SOURCE  // process_vm_readv
#include "CWeaveContext.h"

#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

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
