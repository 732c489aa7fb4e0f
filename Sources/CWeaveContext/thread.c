// The calling thread's kernel id and name.
#define _GNU_SOURCE  // pthread_setname_np
#include "weave_thread.h"

#include <pthread.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int32_t weave_thread_id(void) { return (int32_t)syscall(SYS_gettid); }

void weave_set_thread_name(const char *name) {
    char short_name[16];
    strncpy(short_name, name, sizeof short_name - 1);
    short_name[sizeof short_name - 1] = 0;
    (void)pthread_setname_np(pthread_self(), short_name);
}
