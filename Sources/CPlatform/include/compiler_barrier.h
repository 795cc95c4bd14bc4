// Why this exists: LLVM schedules the loads of a long unrolled loop body in whatever order suits its
// registers. The regrouped K-quant GEMV kernels (CtxEngine/Kernels/Interleaved) read each 2-3 KB
// chunk once from DRAM, and on the development machine the order mattered: with the loads of a
// q4_K chunk scrambled across its four sub-block pairs, decode ran 25% slower than with them in
// address order. An empty asm statement that clobbers memory keeps loads from moving across it.
#ifndef CTXBENCH_COMPILER_BARRIER_H
#define CTXBENCH_COMPILER_BARRIER_H

static inline __attribute__((always_inline)) void ctx_compiler_barrier(void) {
    __asm__ __volatile__("" ::: "memory");
}

#endif
