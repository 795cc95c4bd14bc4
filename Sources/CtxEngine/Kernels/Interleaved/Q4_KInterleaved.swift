import CPlatform

/// q4_K in `InterleavedWeights`: per group of 16 rows and super-block, one chunk of 16 x 144 bytes.
///
///     offset 0     f16  d[16]          row r's super-block scale at 2r
///     offset 32    f16  dmin[16]
///     offset 64    u32  words[3][16]   row r's 12 packed scale and min bytes as three little-endian
///                                      words, word i at 64 + 64i + 4r (unpacked with the row
///                                      layout's whole-word masks, one row per lane)
///     offset 256   u8   qs[32][64]     vector v (pair p = v / 8, sub-blocks 2p and 2p + 1): bytes
///                                      4r..<4r+4 are row r's q4_K bytes 4v..<4v+4 (values
///                                      4(v % 8)... of sub-block 2p in the low nibbles, 2p + 1 high)
enum Q4_KInterleaved: InterleavedFormat {
    static let dOffset = 0
    static let dminOffset = 32
    static let scaleWordsOffset = 64
    static let qsOffset = 256

    @inline(__always)
    static func fields(lane r: Int, _ visit: (Int, Int, Int) -> Void) {
        visit(0, dOffset &+ 2 &* r, 2)
        visit(2, dminOffset &+ 2 &* r, 2)
        for i in 0..<3 { visit(Q4_KFormat.scalesOffset &+ 4 &* i, scaleWordsOffset &+ 64 &* i &+ 4 &* r, 4) }
        for v in 0..<32 { visit(Q4_KFormat.qsOffset &+ 4 &* v, qsOffset &+ 64 &* v &+ 4 &* r, 4) }
    }

    #if CTXBENCH_VNNI
    /// Per super-block, in int32 and exact: per sub-block pair, 8 vpdpbusd on the low nibbles
    /// (sub-block 2p) and 8 on the high nibbles masked in place (16 x the level, so that sum is
    /// shifted down by 4, exactly), each times its sub-block's scale (vpmulld); the min term
    /// Σ_j min_j * (Σ a over sub-block j, from q8_K's bsums). Then acc = fma(Float(sum), d * d_a,
    /// acc) and acc = fma(Float(mins), -(dmin * d_a), acc): per row the row layout's arithmetic
    /// except that its sum per block is rounded to float once (the row kernel adds two partial
    /// sums in float lanes), so the two agree to rounding.
    ///
    /// The chunk is read in address order, pair after pair (`ctx_compiler_barrier`), each pair's
    /// quarter of the chunk prefetched `distance` bytes ahead where the host wants it
    /// (Intel's cores, not AMD's). On Zen 4, Kimi-wide q4_K_M decode at 2 threads, medians of 6
    /// interleaved rounds: 101 tokens/s in this order and without prefetch, 70-72 prefetching 2-8
    /// KiB ahead, 67 with LLVM's load order (the pairs' loads mixed), 79 on the row layout. Not
    /// inlined: scripts/check-kernel-calls reads its symbol.
    @inline(never)
    static func dotGroup(_ chunks: UnsafeRawPointer, _ a: UnsafeRawPointer, blocks: Int, prefetch distance: Int) -> SIMD16<Float> {
        dot(chunks, a, blocks: blocks, blockBytes: Q4_KFormat.blockBytes, qsOffset: qsOffset, fifthBitsOffset: nil, prefetch: distance)
    }

    /// `dotGroup`'s body, shared with q5_K (`Q5_KInterleaved`): with `fifthBitsOffset` (its 8 qh
    /// vectors, vector k holding the fifth bits of values 4k..<4k+4 of every sub-block, bit j for
    /// sub-block j) each level gets its fifth bit at bit 4, and the high nibbles are shifted down
    /// instead of masked in place (a level of 0...31 times 16 would not fit a byte). Each format's
    /// entry point passes constants, so q4_K's copy has no fifth-bit code.
    @inline(__always)
    static func dot(_ chunks: UnsafeRawPointer, _ a: UnsafeRawPointer, blocks: Int, blockBytes: Int, qsOffset: Int,
                    fifthBitsOffset: Int?, prefetch distance: Int) -> SIMD16<Float> {
        typealias Lanes = InterleavedLanes.Lanes
        let chunkBytes = InterleavedWeights.rowsPerGroup &* blockBytes
        let lowNibbles = Lanes(repeating: 0x0F0F_0F0F)
        let highNibbles = Lanes(repeating: Int32(bitPattern: 0xF0F0_F0F0))
        var acc = SIMD16<Float>()
        let quarter = chunkBytes / 4  // 576 bytes for q4_K, 704 for q5_K
        for b in 0..<blocks {  // a loop here, not a closure: LLVM left one a call
            let block = InterleavedLanes.Block(b, of: chunks, chunkBytes: chunkBytes, activation: a)
            // Scales and mins of the 16 rows, byte j of a lane for sub-block j (j < 4) or j + 4:
            // `Q4_KFormat.unpackScalesAndMins` on every lane.
            let w0 = block.lanes(scaleWordsOffset), w1 = block.lanes(scaleWordsOffset + 64), w2 = block.lanes(scaleWordsOffset + 128)
            let sixBits = Lanes(repeating: 0x3F3F_3F3F), fourBits = Lanes(repeating: 0x0F0F_0F0F)
            let twoBits = Lanes(repeating: 0x0303_0303)
            let scalesLow = w0 & sixBits
            let scalesHigh = (w2 & fourBits) | (((w0 &>> 6) & twoBits) &<< 4)
            let minsLow = w1 & sixBits
            let minsHigh = ((w2 &>> 4) & fourBits) | (((w1 &>> 6) & twoBits) &<< 4)
            @inline(__always) func byte(_ low: Lanes, _ high: Lanes, _ j: Int) -> Lanes {
                ((j < 4 ? low : high) &>> Int32(8 &* (j & 3))) & Lanes(repeating: 0xFF)
            }
            var sum = Lanes()
            @inline(__always) func pair(_ p: Int) {
                ctx_compiler_barrier()  // this pair's loads after the previous pair's: the chunk in address order
                Prefetch.ahead(block.chunk + p &* quarter, bytes: quarter, distance: distance)
                var even = Lanes(), odd = Lanes()
                @inline(__always) func group(_ k: Int) {
                    let v = block.lanes(qsOffset &+ (8 &* p &+ k) &* 64)
                    var low = v & lowNibbles, high = v & highNibbles
                    if let fifthBitsOffset {
                        // Bit j of each qh byte to bit 4 (32-bit shifts: no other bit lands there).
                        let qh = block.lanes(fifthBitsOffset &+ k &* 64)
                        @inline(__always) func fifth(_ j: Int) -> Lanes {
                            (j <= 4 ? qh &<< Int32(4 &- j) : qh &>> Int32(j &- 4)) & Lanes(repeating: 0x1010_1010)
                        }
                        low |= fifth(2 &* p)
                        high = ((v &>> 4) & lowNibbles) | fifth(2 &* p &+ 1)
                    }
                    even = InterleavedLanes.dpbusd(even, low, block.levels + (64 &* p &+ 4 &* k))
                    odd = InterleavedLanes.dpbusd(odd, high, block.levels + (64 &* p &+ 32 &+ 4 &* k))
                }
                group(0); group(1); group(2); group(3); group(4); group(5); group(6); group(7)
                // q4_K's high nibbles were masked in place: 16 x the level, exactly.
                let oddSum = fifthBitsOffset == nil ? odd &>> 4 : odd
                sum &+= even &* byte(scalesLow, scalesHigh, 2 &* p) &+ oddSum &* byte(scalesLow, scalesHigh, 2 &* p &+ 1)
            }
            pair(0); pair(1); pair(2); pair(3)
            var mins = Lanes()
            for j in 0..<8 {
                let activationSum = Q8_KFormat.bsum(block.activation, 2 &* j) &+ Q8_KFormat.bsum(block.activation, 2 &* j &+ 1)
                mins &+= byte(minsLow, minsHigh, j) &* Lanes(repeating: activationSum)
            }
            let da = Q8_KFormat.scale(block.activation)
            acc.addProduct(AVX512Lanes.float(sum), InterleavedLanes.halves(block.chunk + dOffset) * da)
            acc.addProduct(AVX512Lanes.float(mins), -(InterleavedLanes.halves(block.chunk + dminOffset) * da))
        }
        return acc
    }
    #endif
}
