// Why this exists: Swift has no prefetch instruction. GEMV streams each thread's rows from DRAM,
// and the hardware prefetcher alone left the q8_0 GEMV at ~76% of the read bandwidth; software
// prefetch a few KiB ahead brought it to ~95% (`ctxbench kernels`). __builtin_prefetch is
// prefetcht0 on x86_64 and prfm pldl1keep on aarch64.
#ifndef CTXBENCH_PREFETCH_H
#define CTXBENCH_PREFETCH_H

static inline __attribute__((always_inline)) void ctx_prefetch_read(const void *p) {
    __builtin_prefetch(p, 0, 3);
}

// Into L2 only (prefetcht1 on x86_64, prfm pldl2keep on aarch64): data needed a few thousand
// cycles later, which should not push the data in use out of L1.
static inline __attribute__((always_inline)) void ctx_prefetch_read_l2(const void *p) {
    __builtin_prefetch(p, 0, 2);
}

#endif
