#define _GNU_SOURCE
#include "build_features.h"
#include "current_cpu.h"

#if defined(__linux__)
#include <sched.h>
int ctx_current_cpu(void) { return sched_getcpu(); }
#else
int ctx_current_cpu(void) { return -1; }
#endif
