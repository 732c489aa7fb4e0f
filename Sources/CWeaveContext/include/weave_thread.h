// The calling thread's kernel id and name, as reports and tools (`top -H`, gdb) show them.
#ifndef WEAVE_THREAD_H
#define WEAVE_THREAD_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// The calling thread's kernel id, to tell hubs apart in reports.
int32_t weave_thread_id(void);

/// Names the calling thread (first 15 bytes), as tools like `top -H` and gdb show it.
void weave_set_thread_name(const char *name);

#ifdef __cplusplus
}
#endif

#endif
