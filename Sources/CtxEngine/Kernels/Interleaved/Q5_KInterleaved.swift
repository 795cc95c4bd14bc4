/// q5_K in `InterleavedWeights`: q4_K's chunk (`Q4_KInterleaved`) with the fifth bits between the
/// scales and the low bits; per group of 16 rows and super-block, 16 x 176 bytes.
///
///     offset 0     f16  d[16], then dmin[16] at 32, the scale words at 64, as q4_K's
///     offset 256   u8   qh[8][64]      vector k: bytes 4r..<4r+4 are row r's qh bytes 4k..<4k+4
///                                      (bit j: the fifth bit of value 4k... of sub-block j)
///     offset 768   u8   qs[32][64]     as q4_K's at 256
enum Q5_KInterleaved: InterleavedFormat {
    static let qhOffset = 256
    static let qsOffset = 768

    @inline(__always)
    static func fields(lane r: Int, _ visit: (Int, Int, Int) -> Void) {
        visit(0, Q4_KInterleaved.dOffset &+ 2 &* r, 2)
        visit(2, Q4_KInterleaved.dminOffset &+ 2 &* r, 2)
        for i in 0..<3 { visit(Q5_KFormat.scalesOffset &+ 4 &* i, Q4_KInterleaved.scaleWordsOffset &+ 64 &* i &+ 4 &* r, 4) }
        for k in 0..<8 { visit(Q5_KFormat.qhOffset &+ 4 &* k, qhOffset &+ 64 &* k &+ 4 &* r, 4) }
        for v in 0..<32 { visit(Q5_KFormat.qsOffset &+ 4 &* v, qsOffset &+ 64 &* v &+ 4 &* r, 4) }
    }

    #if CTXBENCH_VNNI
    /// `Q4_KInterleaved.dot` with the fifth bits. Not inlined: scripts/check-kernel-calls reads it.
    @inline(never)
    static func dotGroup(_ chunks: UnsafeRawPointer, _ a: UnsafeRawPointer, blocks: Int, prefetch distance: Int) -> SIMD16<Float> {
        Q4_KInterleaved.dot(chunks, a, blocks: blocks, blockBytes: Q5_KFormat.blockBytes, qsOffset: qsOffset,
                            fifthBitsOffset: qhOffset, prefetch: distance)
    }
    #endif
}
