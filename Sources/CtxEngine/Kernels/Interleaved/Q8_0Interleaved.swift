import CPlatform

/// q8_0 in `InterleavedWeights`: per group of 16 rows and block of 32 columns, one chunk of
/// 16 x 34 bytes.
///
///     offset 0    f16  d[16]        row r's block scale at 2r
///     offset 32   u8   qs[8][64]    vector v: bytes 4r..<4r+4 are row r's levels 4v..<4v+4 plus
///                                   128 (the sign bit toggled), unsigned for vpdpbusd
///
/// The row layout's dot (`Q8_0Format.dotAVX2`) spends about 9 instructions per row and block
/// (sign juggling for vpmaddubsw, a horizontal step, a scale per row), so at one thread it ran
/// from cache no faster than the thread's DRAM stream; here a block of 16 rows is 8 vpdpbusd.
enum Q8_0Interleaved: InterleavedFormat {
    static let dOffset = 0
    static let qsOffset = 32
    static let signFlippedBytes = qsOffset ..< 16 &* Q8_0Format.blockBytes

    @inline(__always)
    static func fields(lane r: Int, _ visit: (Int, Int, Int) -> Void) {
        visit(0, dOffset &+ 2 &* r, 2)
        for v in 0..<8 { visit(Q8_0Format.qsOffset &+ 4 &* v, qsOffset &+ 64 &* v &+ 4 &* r, 4) }
    }

    #if CTXBENCH_VNNI
    /// The int32 sum starts at -128 * Σ a (the levels are q + 128; `InterleavedLanes.sum32`), then
    /// 8 vpdpbusd in two chains. |sum| <= 32 * 255 * 128: no overflow. In address order, with
    /// software prefetch where the host wants it (`blockDots`, as `Q4_KInterleaved.dotGroup`).
    @inline(never)
    static func dotGroup(_ chunks: UnsafeRawPointer, _ a: UnsafeRawPointer, blocks: Int, prefetch distance: Int) -> SIMD16<Float> {
        blockDots(chunks, a, blocks: blocks, prefetch: distance)
    }
    #endif
}

#if CTXBENCH_VNNI
extension Q8_0Interleaved: BlocksOf32Interleaved {
    static var storedBlockBytes: Int { Q8_0Format.blockBytes }

    @inline(__always)
    static func levelDot(_ chunk: UnsafeRawPointer, _ levels: UnsafeRawPointer) -> InterleavedLanes.Lanes {
        typealias Lanes = InterleavedLanes.Lanes
        var even = Lanes(repeating: -128 &* InterleavedLanes.sum32(levels)), odd = Lanes()
        for v in stride(from: 0, to: 8, by: 2) {
            even = InterleavedLanes.dpbusd(even, chunk.loadUnaligned(fromByteOffset: qsOffset &+ 64 &* v, as: Lanes.self), levels + 4 &* v)
            odd = InterleavedLanes.dpbusd(odd, chunk.loadUnaligned(fromByteOffset: qsOffset &+ 64 &* v &+ 64, as: Lanes.self),
                                          levels + (4 &* v &+ 4))
        }
        return even &+ odd
    }
}
#endif

