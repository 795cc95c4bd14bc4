// Why this exists: sched_getcpu() is declared only under _GNU_SOURCE, which Swift's Glibc module
// does not define. `isolate` placement needs the CPU the run starts on.
#ifndef CTXBENCH_CURRENT_CPU_H
#define CTXBENCH_CURRENT_CPU_H

int ctx_current_cpu(void);  // -1 where the OS cannot tell (macOS)

#endif
