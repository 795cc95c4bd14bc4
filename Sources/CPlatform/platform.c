#define _GNU_SOURCE
#include "build_features.h"
#include "current_cpu.h"

#if defined(__linux__)
#include <sched.h>
int ctx_current_cpu(void) { return sched_getcpu(); }
#else
int ctx_current_cpu(void) { return -1; }
#endif

#include "cpu_vendor.h"
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <string.h>
int ctx_cpu_is_intel(void) {
    unsigned eax, ebx, ecx, edx;
    if (!__get_cpuid(0, &eax, &ebx, &ecx, &edx)) return 0;
    char vendor[12];
    memcpy(vendor, &ebx, 4); memcpy(vendor + 4, &edx, 4); memcpy(vendor + 8, &ecx, 4);
    return memcmp(vendor, "GenuineIntel", 12) == 0;
}
#else
int ctx_cpu_is_intel(void) { return 0; }
#endif

#include "measured_region.h"
__attribute__((noinline)) void ctx_measured_region(void (*body)(void *), void *context) {
    body(context);
    // An empty asm after the call keeps the compiler from turning it into a tail jump, which would
    // leave this frame before body runs and defeat callgrind's toggle.
    __asm__ volatile("" ::: "memory");
}
