// Why this exists: Swift has no way to ask which ISA extensions the compiler was told to use.
// This C target is compiled with the same -march as the Swift modules (see Package.swift), so the
// predefined macros below are exactly what the build enabled. The platform fingerprint records them.
#ifndef CTXBENCH_BUILD_FEATURES_H
#define CTXBENCH_BUILD_FEATURES_H

enum {
    CTX_BUILD_SSE42   = 1 << 0,
    CTX_BUILD_AVX     = 1 << 1,
    CTX_BUILD_AVX2    = 1 << 2,
    CTX_BUILD_FMA     = 1 << 3,
    CTX_BUILD_F16C    = 1 << 4,
    CTX_BUILD_AVX512F = 1 << 5,
    CTX_BUILD_AVX512BW = 1 << 6,
    CTX_BUILD_AVX512VNNI = 1 << 7,
    CTX_BUILD_NEON    = 1 << 8,
    CTX_BUILD_DOTPROD = 1 << 9,
    CTX_BUILD_FP16    = 1 << 10,
    CTX_BUILD_SVE     = 1 << 11,
};

static inline unsigned ctx_build_isa_features(void) {
    unsigned f = 0;
#if defined(__SSE4_2__)
    f |= CTX_BUILD_SSE42;
#endif
#if defined(__AVX__)
    f |= CTX_BUILD_AVX;
#endif
#if defined(__AVX2__)
    f |= CTX_BUILD_AVX2;
#endif
#if defined(__FMA__)
    f |= CTX_BUILD_FMA;
#endif
#if defined(__F16C__)
    f |= CTX_BUILD_F16C;
#endif
#if defined(__AVX512F__)
    f |= CTX_BUILD_AVX512F;
#endif
#if defined(__AVX512BW__)
    f |= CTX_BUILD_AVX512BW;
#endif
#if defined(__AVX512VNNI__)
    f |= CTX_BUILD_AVX512VNNI;
#endif
#if defined(__ARM_NEON)
    f |= CTX_BUILD_NEON;
#endif
#if defined(__ARM_FEATURE_DOTPROD)
    f |= CTX_BUILD_DOTPROD;
#endif
#if defined(__ARM_FEATURE_FP16_VECTOR_ARITHMETIC)
    f |= CTX_BUILD_FP16;
#endif
#if defined(__ARM_FEATURE_SVE)
    f |= CTX_BUILD_SVE;
#endif
    return f;
}

#endif
