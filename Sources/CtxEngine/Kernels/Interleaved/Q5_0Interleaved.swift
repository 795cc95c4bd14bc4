import CPlatform

/// q5_0 in `InterleavedWeights`: per group of 16 rows and block of 32 columns, one chunk of
/// 16 x 22 bytes.
///
///     offset 0    f16  d[16]        row r's block scale at 2r
///     offset 32   u32  qh[16]       row r's fifth bits at 32 + 4r (bit j: value j)
///     offset 96   u8   qs[4][64]    vector v: bytes 4r..<4r+4 are row r's qs bytes 4v..<4v+4
///                                   (values 4v... in the low nibbles, 16 + 4v... in the high)
///
/// Kimi-Linear's Q4_K files hold the KDA gate projections (4096 x 128) and MLA's k_b in q5_0: rows of
/// 128 columns, where the row layout's dot pays a horizontal sum for every 4 blocks.
enum Q5_0Interleaved: InterleavedFormat {
    static let dOffset = 0
    static let qhOffset = 32
    static let qsOffset = 96

    @inline(__always)
    static func fields(lane r: Int, _ visit: (Int, Int, Int) -> Void) {
        visit(0, dOffset &+ 2 &* r, 2)
        visit(Q5_0Format.qhOffset, qhOffset &+ 4 &* r, 4)
        for v in 0..<4 { visit(Q5_0Format.qsOffset &+ 4 &* v, qsOffset &+ 64 &* v &+ 4 &* r, 4) }
    }

    #if CTXBENCH_VNNI
    /// The int32 sum starts at -16 * Σ a (the levels are the unsigned 0...31), then per vector 2
    /// vpdpbusd, on the low nibbles and on the high ones, each with its fifth bits: bits
    /// 4v..<4v+4 of qh (16 + 4v... for the high nibbles) spread to bit 4 of the lane's bytes by one
    /// multiply (x * 0x00204081 puts bit i of a 4-bit x at bit 8i, and no other product term lands
    /// on those bits).
    @inline(never)
    static func dotGroup(_ chunks: UnsafeRawPointer, _ a: UnsafeRawPointer, blocks: Int, prefetch distance: Int) -> SIMD16<Float> {
        blockDots(chunks, a, blocks: blocks, prefetch: distance)
    }
    #endif
}

#if CTXBENCH_VNNI
extension Q5_0Interleaved: BlocksOf32Interleaved {
    static var storedBlockBytes: Int { Q5_0Format.blockBytes }

    @inline(__always)
    static func levelDot(_ chunk: UnsafeRawPointer, _ levels: UnsafeRawPointer) -> InterleavedLanes.Lanes {
        typealias Lanes = InterleavedLanes.Lanes
        let nibbles = Lanes(repeating: 0x0F0F_0F0F), fourBits = Lanes(repeating: 0xF)
        let spread = Lanes(repeating: 0x0020_4081), byteBits = Lanes(repeating: 0x0101_0101)
        let qh = chunk.loadUnaligned(fromByteOffset: qhOffset, as: Lanes.self)
        @inline(__always) func fifthBits(_ first: Int32) -> Lanes { ((((qh &>> first) & fourBits) &* spread) & byteBits) &<< 4 }
        var low = Lanes(repeating: -16 &* InterleavedLanes.sum32(levels)), high = Lanes()
        for v in 0..<4 {
            let q = chunk.loadUnaligned(fromByteOffset: qsOffset &+ 64 &* v, as: Lanes.self)
            low = InterleavedLanes.dpbusd(low, (q & nibbles) | fifthBits(Int32(4 &* v)), levels + 4 &* v)
            high = InterleavedLanes.dpbusd(high, ((q &>> 4) & nibbles) | fifthBits(Int32(16 &+ 4 &* v)), levels + (16 &+ 4 &* v))
        }
        return low &+ high
    }
}
#endif

