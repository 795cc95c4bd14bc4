#define _GNU_SOURCE
#include "build_features.h"
#include "current_cpu.h"

#if defined(__linux__)
#include <sched.h>
int ctx_current_cpu(void) { return sched_getcpu(); }
#else
int ctx_current_cpu(void) { return -1; }
#endif

#include "measured_region.h"
__attribute__((noinline)) void ctx_measured_region(void (*body)(void *), void *context) {
    body(context);
    // An empty asm after the call keeps the compiler from turning it into a tail jump, which would
    // leave this frame before body runs and defeat callgrind's toggle.
    __asm__ volatile("" ::: "memory");
}
