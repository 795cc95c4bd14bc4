// The measured region as a C function of its own, so that an instruction counter can find it by
// name: `valgrind --tool=callgrind --collect-atstart=no --toggle-collect=ctx_measured_region`
// counts the instructions executed inside it and in everything it calls, and nothing of start-up,
// weight generation, context fill or warmup. (Cachegrind gained start/stop client requests only in
// Valgrind 3.22; callgrind's toggle by function name works with Debian 12's 3.19.)
#ifndef CTXBENCH_MEASURED_REGION_H
#define CTXBENCH_MEASURED_REGION_H

/// Calls body(context). Never inlined and never a tail call, so the function is entered before
/// body runs and left after it returns.
void ctx_measured_region(void (*body)(void *), void *context);

#endif
