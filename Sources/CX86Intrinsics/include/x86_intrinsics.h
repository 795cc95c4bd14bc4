// Why this exists: the integer dot products of the quantized formats need AVX2 instructions that
// Swift's portable SIMD cannot express (vpmaddubsw, vpmaddwd, vpsignb). Measured: the best
// portable-SIMD q8_0 dot costs 5.1 ns per block on Zen 3 (shift-bound), these wrappers 2.2 ns.
// Each function wraps exactly one intrinsic; the algorithms stay in Swift (CtxEngine/Kernels).
// The header is empty unless the build enables AVX2 and F16C; Swift then uses its portable path
// (Package.swift defines CTXBENCH_AVX2 for Swift when these exist).
#ifndef CTXBENCH_X86_INTRINSICS_H
#define CTXBENCH_X86_INTRINSICS_H

#if defined(__AVX2__) && defined(__F16C__)
#include <immintrin.h>
#include <stdint.h>

// u8 x s8 -> adjacent pairs summed into 16 saturated int16 lanes.
static inline __attribute__((always_inline)) __m256i ctx_maddubs_epi16(__m256i u8, __m256i s8) {
    return _mm256_maddubs_epi16(u8, s8);
}
// int16 x int16 -> adjacent pairs summed into 8 int32 lanes.
static inline __attribute__((always_inline)) __m256i ctx_madd_epi16(__m256i a, __m256i b) {
    return _mm256_madd_epi16(a, b);
}
// Adjacent int16 pairs of a and b summed, wrapping, within each 128-bit lane: [a's 4 sums, b's 4
// sums] per lane (vphaddw).
static inline __attribute__((always_inline)) __m256i ctx_hadd_epi16(__m256i a, __m256i b) {
    return _mm256_hadd_epi16(a, b);
}
// a with the sign of b applied per byte (zero where b is zero).
static inline __attribute__((always_inline)) __m256i ctx_sign_epi8(__m256i a, __m256i b) {
    return _mm256_sign_epi8(a, b);
}
// |a| per byte.
static inline __attribute__((always_inline)) __m256i ctx_abs_epi8(__m256i a) {
    return _mm256_abs_epi8(a);
}
// 8 int32 -> 8 float. (Swift's SIMD8<Float>(SIMD8<Int32>) is sometimes left as an outlined generic
// call inside large loops; this always inlines to vcvtdq2ps.)
static inline __attribute__((always_inline)) __m256 ctx_cvtepi32_ps(__m256i a) {
    return _mm256_cvtepi32_ps(a);
}
// 8 IEEE halves -> 8 float (vcvtph2ps), for the same reason.
static inline __attribute__((always_inline)) __m256 ctx_cvtph_ps(__m128i a) {
    return _mm256_cvtph_ps(a);
}
// 8 uint16 -> 8 uint32, zero-extended (vpmovzxwd). Swift's SIMD8<UInt32>(truncatingIfNeeded:) on
// SIMD8<UInt16> stayed an outlined generic call in the bf16 dot once its loop held four of them
// (3.4x slower GEMV; the release binary showed it, swiftc -emit-assembly of the module did not).
static inline __attribute__((always_inline)) __m256i ctx_cvtepu16_epi32(__m128i a) {
    return _mm256_cvtepu16_epi32(a);
}
// The 8 bytes of a 64-bit word -> 8 int32, zero-extended (vmovq + vpmovzxbd). Swift's
// SIMD8<Int32>(truncatingIfNeeded:) on SIMD8<UInt8> was left an outlined call in the q4_K dot.
static inline __attribute__((always_inline)) __m256i ctx_cvtepu8_epi32_u64(uint64_t a) {
    return _mm256_cvtepu8_epi32(_mm_cvtsi64_si128((long long)a));
}
// 16 int8 -> 16 int16, sign-extended (vpmovsxbw).
static inline __attribute__((always_inline)) __m256i ctx_cvtepi8_epi16(__m128i a) {
    return _mm256_cvtepi8_epi16(a);
}
// 0xFF in each byte where a and b are equal, 0 elsewhere (vpcmpeqb). Swift's SIMD32 `.==` and
// `replacing(with:where:)` became a lane-by-lane loop in q5_0's dot (1000x slower GEMV).
static inline __attribute__((always_inline)) __m256i ctx_cmpeq_epi8(__m256i a, __m256i b) {
    return _mm256_cmpeq_epi8(a, b);
}
// Bytes of a picked by the indices in control, within each 128-bit lane (vpshufb).
static inline __attribute__((always_inline)) __m256i ctx_shuffle_epi8(__m256i a, __m256i control) {
    return _mm256_shuffle_epi8(a, control);
}
// 8 float -> 8 int32, truncating toward zero (vcvttps2dq).
static inline __attribute__((always_inline)) __m256i ctx_cvttps_epi32(__m256 a) {
    return _mm256_cvttps_epi32(a);
}
// int32 -> int16 with signed saturation, a's and b's lanes interleaved per 128-bit lane (vpackssdw).
static inline __attribute__((always_inline)) __m256i ctx_packs_epi32(__m256i a, __m256i b) {
    return _mm256_packs_epi32(a, b);
}
// int16 -> int8 with signed saturation, interleaved per 128-bit lane (vpacksswb).
static inline __attribute__((always_inline)) __m256i ctx_packs_epi16(__m256i a, __m256i b) {
    return _mm256_packs_epi16(a, b);
}
// int32 lanes of a picked by the lane indices in index, across the register (vpermd).
static inline __attribute__((always_inline)) __m256i ctx_permutevar8x32_epi32(__m256i a, __m256i index) {
    return _mm256_permutevar8x32_epi32(a, index);
}
// Lane-wise max / min (vmaxps / vminps; the second operand where either is NaN). Swift's
// replacing(with:where:) chains for these stayed outlined calls in the q8_0 quantizer.
static inline __attribute__((always_inline)) __m256 ctx_max_ps(__m256 a, __m256 b) {
    return _mm256_max_ps(a, b);
}
static inline __attribute__((always_inline)) __m256 ctx_min_ps(__m256 a, __m256 b) {
    return _mm256_min_ps(a, b);
}
// All-ones lanes where a == b (ordered, so never where either is NaN; vcmpps eq_oq).
static inline __attribute__((always_inline)) __m256 ctx_equal_ps(__m256 a, __m256 b) {
    return _mm256_cmp_ps(a, b, _CMP_EQ_OQ);
}
// The sign bits of the 8 lanes as an 8-bit mask (vmovmskps).
static inline __attribute__((always_inline)) int ctx_movemask_ps(__m256 a) {
    return _mm256_movemask_ps(a);
}
// Each lane rounded to the nearest integer, ties to even, whatever MXCSR says (vroundps $8).
static inline __attribute__((always_inline)) __m256 ctx_round_even_ps(__m256 a) {
    return _mm256_round_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}
// All-ones lanes where a is not NaN, zero where it is (vcmpps ordered).
static inline __attribute__((always_inline)) __m256 ctx_ordered_ps(__m256 a) {
    return _mm256_cmp_ps(a, a, _CMP_ORD_Q);
}
// The 8x8 float transpose's steps (GEMM's weight packing): vunpcklps, vunpckhps, vshufps with
// the low or high pair of each source, vperm2f128 with the low or high 128 bits of each source.
static inline __attribute__((always_inline)) __m256 ctx_unpacklo_ps(__m256 a, __m256 b) {
    return _mm256_unpacklo_ps(a, b);
}
static inline __attribute__((always_inline)) __m256 ctx_unpackhi_ps(__m256 a, __m256 b) {
    return _mm256_unpackhi_ps(a, b);
}
static inline __attribute__((always_inline)) __m256 ctx_shuffle_low_pairs_ps(__m256 a, __m256 b) {
    return _mm256_shuffle_ps(a, b, 0x44);
}
static inline __attribute__((always_inline)) __m256 ctx_shuffle_high_pairs_ps(__m256 a, __m256 b) {
    return _mm256_shuffle_ps(a, b, 0xEE);
}
static inline __attribute__((always_inline)) __m256 ctx_low_halves_ps(__m256 a, __m256 b) {
    return _mm256_permute2f128_ps(a, b, 0x20);
}
static inline __attribute__((always_inline)) __m256 ctx_high_halves_ps(__m256 a, __m256 b) {
    return _mm256_permute2f128_ps(a, b, 0x31);
}
// One IEEE half to float via vcvtph2ps on a zero-extended register (no false dependency).
static inline __attribute__((always_inline)) float ctx_half_to_float(uint16_t h) {
    return _cvtsh_ss(h);
}
// No instruction: the vector is declared read and rewritten here, in a register. The integer
// GEMM's microkernel passes its four tokens' sums through this after each sub-block, so LLVM
// finishes each sub-block before the next (it would otherwise unpack a whole super-block up front,
// run token by token and spill the unpacked vectors). By value: a pointer to a Swift local would
// give the caller a stack protector.
static inline __attribute__((always_inline)) __m256i ctx_in_register(__m256i a) {
    __asm__ __volatile__("" : "+x"(a));
    return a;
}

// 512-bit forms for the integer GEMM's microkernels, when the build enables AVX-512 BW and VL
// (Package.swift then defines CTXBENCH_AVX512 for Swift). Swift imports __m512i as SIMD8<Int64>.
#if defined(__AVX512BW__) && defined(__AVX512VL__)
// u8 x s8 -> adjacent pairs summed into 32 saturated int16 lanes (vpmaddubsw zmm).
static inline __attribute__((always_inline)) __m512i ctx512_maddubs_epi16(__m512i u8, __m512i s8) {
    return _mm512_maddubs_epi16(u8, s8);
}
// int16 x int16 -> adjacent pairs summed into 16 int32 lanes (vpmaddwd zmm).
static inline __attribute__((always_inline)) __m512i ctx512_madd_epi16(__m512i a, __m512i b) {
    return _mm512_madd_epi16(a, b);
}
// [low | high]: two 256-bit vectors as one 512-bit vector (vinserti64x4).
static inline __attribute__((always_inline)) __m512i ctx512_combine(__m256i low, __m256i high) {
    return _mm512_inserti64x4(_mm512_castsi256_si512(low), high, 1);
}
// 16 int32 -> 16 float (vcvtdq2ps zmm).
static inline __attribute__((always_inline)) __m512 ctx512_cvtepi32_ps(__m512i a) {
    return _mm512_cvtepi32_ps(a);
}
// ctx_in_register for a 512-bit vector ("v": any of zmm0-31).
static inline __attribute__((always_inline)) __m512i ctx512_in_register(__m512i a) {
    __asm__ __volatile__("" : "+v"(a));
    return a;
}
#endif

// VNNI, when the build enables AVX-512 VNNI and VL (Package.swift then defines CTXBENCH_VNNI).
#if defined(__AVX512VNNI__) && defined(__AVX512VL__)
// acc + Σ of each group of 4 u8 x s8 products, per int32 lane, without saturation (vpdpbusd ymm).
static inline __attribute__((always_inline)) __m256i ctx_dpbusd_epi32(__m256i acc, __m256i u8, __m256i s8) {
    return _mm256_dpbusd_epi32(acc, u8, s8);
}
// The same on 16 int32 lanes (vpdpbusd zmm).
static inline __attribute__((always_inline)) __m512i ctx512_dpbusd_epi32(__m512i acc, __m512i u8, __m512i s8) {
    return _mm512_dpbusd_epi32(acc, u8, s8);
}
// 16 IEEE halves -> 16 float (vcvtph2ps zmm).
static inline __attribute__((always_inline)) __m512 ctx512_cvtph_ps(__m256i a) {
    return _mm512_cvtph_ps(a);
}
#endif
#endif

#endif
