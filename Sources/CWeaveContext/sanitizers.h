// Which sanitizer this target is built with, and the fiber API each one must be told about.
// (Private to the target: only the switch, the scheduler and fiber creation need it.)
//
// Sanitizers must be told about stack switches (ASan: fake stacks and stack bounds; TSan:
// one fiber per coroutine); without sanitizers all of this compiles away.
#ifndef WEAVE_SANITIZERS_H
#define WEAVE_SANITIZERS_H

#include <stddef.h>

#if defined(__has_feature)
#  if __has_feature(address_sanitizer)
#    define WEAVE_ASAN 1
#  endif
#  if __has_feature(thread_sanitizer)
#    define WEAVE_TSAN 1
#  endif
#endif
#if defined(__SANITIZE_ADDRESS__) && !defined(WEAVE_ASAN)
#  define WEAVE_ASAN 1
#endif
#if WEAVE_ASAN
void __sanitizer_start_switch_fiber(void **fake_stack_save, const void *bottom, size_t size);
void __sanitizer_finish_switch_fiber(void *fake_stack_save, const void **bottom_old, size_t *size_old);
#endif
#if WEAVE_TSAN
void *__tsan_get_current_fiber(void);
void *__tsan_create_fiber(unsigned flags);
void __tsan_destroy_fiber(void *fiber);
void __tsan_switch_to_fiber(void *fiber, unsigned flags);
#endif

#endif
