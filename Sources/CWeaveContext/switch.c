// The exclusivity swap's out-of-line parts: finding the thread's access list, and the trap.
#define _GNU_SOURCE  // dl_iterate_phdr
#include "transfer.h"

#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void weave_report_suspended_in_access(const weave_fiber *f) {
    char line[160];
    int n = snprintf(line, sizeof line,
                     "Weave: coroutine '%s' suspended inside an exclusive access "
                     "(an inout or modify held across a blocking call loses updates)\n",
                     f->named ? f->name : "<unnamed>");
    if (n > 0) (void)!write(STDERR_FILENO, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
    abort();
}

// From the Swift runtime (Exclusivity.h): a tracked read, and the 3-word access record.
extern void swift_beginAccess(void *pointer, void *buffer, uintptr_t flags, void *pc);
extern void swift_endAccess(void *buffer);
#define WEAVE_SWIFT_ACCESS_TRACKED_READ ((uintptr_t)0x20)

struct tls_block { void *data; size_t size; };

static int find_swift_core_tls(struct dl_phdr_info *info, size_t size, void *out) {
    (void)size;
    if (!info->dlpi_name || !strstr(info->dlpi_name, "libswiftCore.so")) return 0;
    struct tls_block *block = out;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        if (info->dlpi_phdr[i].p_type == PT_TLS) {
            block->data = info->dlpi_tls_data;
            block->size = info->dlpi_phdr[i].p_memsz;
        }
    }
    return 1;
}

void *const *weave_probe_exclusivity_head(void) {
    uintptr_t first_access[3], second_access[3];
    int first_target = 0, second_target = 0;
    struct tls_block block = { NULL, 0 };
    // The first access also makes sure this thread's block exists.
    swift_beginAccess(&first_target, first_access, WEAVE_SWIFT_ACCESS_TRACKED_READ, NULL);
    dl_iterate_phdr(find_swift_core_tls, &block);
    void **found = NULL;
    int matches = 0;
    if (block.data) {
        void **words = block.data;
        for (size_t i = 0; i < block.size / sizeof(void *); i++) {
            if (words[i] == (void *)first_access) { found = &words[i]; matches++; }
        }
    }
    int ok = matches == 1;
    if (ok) {
        swift_beginAccess(&second_target, second_access, WEAVE_SWIFT_ACCESS_TRACKED_READ, NULL);
        ok = *found == (void *)second_access;
        swift_endAccess(second_access);
        ok = ok && *found == (void *)first_access;
    } else {
        swift_beginAccess(&second_target, second_access, WEAVE_SWIFT_ACCESS_TRACKED_READ, NULL);
        swift_endAccess(second_access);
    }
    swift_endAccess(first_access);
    // Back to empty. (A thread that starts a hub with an access open gets NULL: the list
    // is then never empty while the hub runs, and every switch calls the runtime.)
    ok = ok && *found == NULL;
    return ok ? (void *const *)found : NULL;
}
