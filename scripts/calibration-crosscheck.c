// An independent check of `ctxbench calibrate`: a STREAM-like read test and an FMA-chain test in
// plain C with pthreads, sharing no code with ctxbench. scripts/check-calibration compiles and runs
// it and compares its medians with ctxbench's.
//
// usage: calibration-crosscheck THREADS [BUFFER_MIB]   prints "read_gbps=X fma_gflops=Y"
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

typedef float v8f __attribute__((vector_size(32)));
// The FMA test's vectors: the widest the -march gives, as ctxbench's probe (512-bit with AVX-512).
#if defined(__AVX512F__)
#define FMA_LANES 16
#else
#define FMA_LANES 8
#endif
typedef float vfma __attribute__((vector_size(FMA_LANES * 4)));

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

typedef struct {
    int index, threads, mode;  // mode 0 touch, 1 read, 2 fma
    float *base;
    size_t count;
    float result;
    atomic_int *ready;  // threads pinned and spinning; the clock starts when all are
} job_t;

// About 40 ms per run at 3.5 GHz: long enough that a neighbour's burst of a few ms does not decide
// the median (at 4 ms per run one CI round measured 2-thread FMA at 130 instead of 200 GFLOP/s).
static const long fma_iterations = 200000000 / 8;

static void *worker(void *arg) {
    job_t *job = arg;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(job->index, &set);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set);
    atomic_fetch_add(job->ready, 1);
    while (atomic_load(job->ready) <= job->threads) {}
    size_t lo = job->count * job->index / job->threads, hi = job->count * (job->index + 1) / job->threads;
    float *p = job->base;
    if (job->mode == 0) {
        for (size_t i = lo; i < hi; i++) p[i] = (float)(i & 1023) * 0.001f;
    } else if (job->mode == 1) {
        v8f a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
        size_t i = lo;
        for (; i + 32 <= hi; i += 32) {
            v8f x0, x1, x2, x3;
            memcpy(&x0, p + i, 32); memcpy(&x1, p + i + 8, 32);
            memcpy(&x2, p + i + 16, 32); memcpy(&x3, p + i + 24, 32);
            a0 += x0; a1 += x1; a2 += x2; a3 += x3;
        }
        v8f s = (a0 + a1) + (a2 + a3);
        float t = 0;
        for (int k = 0; k < 8; k++) t += s[k];
        for (; i < hi; i++) t += p[i];
        job->result = t;
    } else {
        vfma m = {0}, c = {0}, acc[12];
        for (int k = 0; k < FMA_LANES; k++) { m[k] = 0.999999f; c[k] = 1e-7f; }
        for (int j = 0; j < 12; j++) for (int k = 0; k < FMA_LANES; k++) acc[j][k] = (float)(j + job->index);
        for (long it = 0; it < fma_iterations; it++) {
            // m and c in vector registers: gcc's Sapphire Rapids tuning (-march=native there) left
            // them on the stack, one load per FMA, and the test read 0.7x the CPU's FMA rate.
            __asm__("" : "+v"(m), "+v"(c));
#pragma GCC unroll 12
            for (int j = 0; j < 12; j++) acc[j] = acc[j] * m + c;  // contracted to vfmadd (-ffp-contract=fast)
        }
        float t = 0;
        for (int j = 0; j < 12; j++) for (int k = 0; k < FMA_LANES; k++) t += acc[j][k];
        job->result = t;
    }
    return NULL;
}

static double run(int threads, int mode, float *base, size_t count) {
    pthread_t tid[256];
    job_t jobs[256];
    atomic_int ready = 0;
    for (int t = 0; t < threads; t++) {
        jobs[t] = (job_t){.index = t, .threads = threads, .mode = mode, .base = base, .count = count, .ready = &ready};
        pthread_create(&tid[t], NULL, worker, &jobs[t]);
    }
    // Timed from the moment every worker is running, as ctxbench's pool threads are already
    // running: a thread's creation and a sleeping vCPU's wake-up are not the machine's bandwidth
    // or FMA rate. In three CI runs on 2026-12-01 the 2-thread figures here, counting them, ran
    // 21-34% under ctxbench's (a few ms of wake-up is a fifth of a 40 ms FMA run); the likely cause,
    // not a proven one.
    while (atomic_load(&ready) < threads) sched_yield();
    double start = now();
    atomic_fetch_add(&ready, 1);
    float sink = 0;
    for (int t = 0; t < threads; t++) { pthread_join(tid[t], NULL); sink += jobs[t].result; }
    double seconds = now() - start;
    if (sink == 12345.678f) printf(" ");
    return seconds;
}

static int compare(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 1;
    size_t mib = argc > 2 ? (size_t)atol(argv[2]) : 1024;
    if (threads < 1 || threads > 256) { fprintf(stderr, "threads must be 1...256\n"); return 2; }
    size_t count = mib * 1024 * 1024 / sizeof(float);
    // 2 MiB aligned and advised for transparent huge pages, as ctxbench allocates its large buffers:
    // with THP defrag set to "madvise" (Debian's default) only advised memory gets huge pages once
    // a long-running machine's memory is fragmented, and 4 KiB pages read measurably slower.
    size_t huge = 2u << 20, bytes = (count * sizeof(float) + huge - 1) / huge * huge;
    float *base = aligned_alloc(huge, bytes);
    if (!base) { fprintf(stderr, "out of memory\n"); return 1; }
    madvise(base, bytes, MADV_HUGEPAGE);
    run(threads, 0, base, count);
    double read[5], fma[5];
    for (int r = 0; r < 5; r++) read[r] = (double)count * 4 / run(threads, 1, base, count) / 1e9;
    for (int r = 0; r < 5; r++) fma[r] = (double)fma_iterations * 12 * FMA_LANES * 2 * threads / run(threads, 2, base, count) / 1e9;
    qsort(read, 5, sizeof(double), compare);
    qsort(fma, 5, sizeof(double), compare);
    printf("read_gbps=%.2f fma_gflops=%.2f\n", read[2], fma[2]);
    free(base);
    return 0;
}
