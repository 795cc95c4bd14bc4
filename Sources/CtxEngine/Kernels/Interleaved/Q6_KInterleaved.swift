import CPlatform

/// q6_K in `InterleavedWeights`: per group of 16 rows and super-block, one chunk of 16 x 210 bytes.
///
///     offset 0      f16  d[16]          row r's super-block scale at 2r
///     offset 32     i8   scales[4][64]  row r's 16 scales as four words, word i (scales 4i...) at
///                                       32 + 64i + 4r
///     offset 288    u8   [16][3][64]    step t = 8h + k (half h, k < 8): the qh vector 8h + k, then
///                                       the ql vectors 16h + k and 16h + 8 + k, where in vector v
///                                       bytes 4r..<4r+4 are row r's bytes 4v..<4v+4 of ql (or qh)
///
/// Step t holds values 4k..<4k+4 of half h's four parts of 32 (`Q6_KFormat`'s order): part i's low
/// 4 bits in the low (i = 0, 1) or high (i = 2, 3) nibbles of the first (even i) or second ql
/// vector, its high 2 bits at bits 2i, 2i + 1 of the qh bytes. The steps are in the kernel's order,
/// so it reads each chunk front to back: with ql and qh in two regions of their own (read
/// alternately) the kernel, 2.2x the row layout's speed from cache, ran at 0.4x of it from DRAM.
enum Q6_KInterleaved: InterleavedFormat {
    static let dOffset = 0
    static let scaleWordsOffset = 32
    static let stepsOffset = 288
    static let stepBytes = 192

    @inline(__always)
    static func fields(lane r: Int, _ visit: (Int, Int, Int) -> Void) {
        visit(Q6_KFormat.dOffset, dOffset &+ 2 &* r, 2)
        for i in 0..<4 { visit(Q6_KFormat.scalesOffset &+ 4 &* i, scaleWordsOffset &+ 64 &* i &+ 4 &* r, 4) }
        for u in 0..<16 { visit(Q6_KFormat.qhOffset &+ 4 &* u, stepsOffset &+ stepBytes &* u &+ 4 &* r, 4) }
        for v in 0..<32 {
            // ql vector v = 16h + 8c + k goes to step 8h + k, after its qh vector.
            let step = 8 &* (v &>> 4) &+ (v & 7)
            visit(4 &* v, stepsOffset &+ stepBytes &* step &+ 64 &* (1 &+ (v &>> 3) & 1) &+ 4 &* r, 4)
        }
    }

    #if CTXBENCH_VNNI
    /// Per super-block, in int32 and exact: per 16-value sub-block j, a sum that starts at
    /// -32 * Σ a over the sub-block (q8_K's bsum j: the levels are q + 32) and takes 4 vpdpbusd of
    /// levels rebuilt from ql and qh (a shift and a mask each, and a select), times scale_j
    /// (vpmulld); then acc = fma(Float(sum), d * d_a, acc). |sum| < 16 * 128 * 16 * 32 * 127: no
    /// overflow. The row layout's kernel rounds the same integers to float in two partial sums, so
    /// the two agree to rounding. Read in address order, a quarter of the chunk at a time, with
    /// software prefetch where the host wants it (see `Q4_KInterleaved.dotGroup`).
    @inline(never)
    static func dotGroup(_ chunks: UnsafeRawPointer, _ a: UnsafeRawPointer, blocks: Int, prefetch distance: Int) -> SIMD16<Float> {
        typealias Lanes = InterleavedLanes.Lanes
        let lowBits = Lanes(repeating: 0x0F0F_0F0F), highBits = Lanes(repeating: 0x3030_3030)
        let chunkBytes = InterleavedWeights.rowsPerGroup &* Q6_KFormat.blockBytes
        var acc = SIMD16<Float>()
        let quarterBytes = chunkBytes / 4
        for b in 0..<blocks {  // a loop here, not a closure: LLVM left one a call
            let block = InterleavedLanes.Block(b, of: chunks, chunkBytes: chunkBytes, activation: a)
            let scaleWords = (block.lanes(scaleWordsOffset), block.lanes(scaleWordsOffset + 64), block.lanes(scaleWordsOffset + 128),
                              block.lanes(scaleWordsOffset + 192))
            // Sub-block j's scale on every lane, sign-extended from byte j % 4 of word j / 4.
            @inline(__always) func scale(_ j: Int) -> Lanes {
                let word = j < 4 ? scaleWords.0 : j < 8 ? scaleWords.1 : j < 12 ? scaleWords.2 : scaleWords.3
                return (word &<< Int32(24 &- 8 &* (j & 3))) &>> 24
            }
            var sum = Lanes()
            // Half h, values 16s..<16s+16 of its four parts: sub-blocks 8h + 2i + s.
            @inline(__always) func quarter(_ h: Int, _ s: Int) {
                ctx_compiler_barrier()  // in address order, as `Q4_KInterleaved.dotGroup`
                Prefetch.ahead(block.chunk + (2 &* h &+ s) &* quarterBytes, bytes: quarterBytes, distance: distance)
                @inline(__always) func start(_ i: Int) -> Lanes {
                    Lanes(repeating: -32 &* Q8_KFormat.bsum(block.activation, 8 &* h &+ 2 &* i &+ s))
                }
                var s0 = start(0), s1 = start(1), s2 = start(2), s3 = start(3)
                @inline(__always) func group(_ k: Int) {
                    let step = stepsOffset &+ (8 &* h &+ k) &* stepBytes
                    let qh = block.lanes(step), ql0 = block.lanes(step &+ 64), ql1 = block.lanes(step &+ 128)
                    let base = block.levels + (128 &* h &+ 4 &* k)
                    s0 = InterleavedLanes.dpbusd(s0, (ql0 & lowBits) | ((qh &<< 4) & highBits), base)
                    s1 = InterleavedLanes.dpbusd(s1, (ql1 & lowBits) | ((qh &<< 2) & highBits), base + 32)
                    s2 = InterleavedLanes.dpbusd(s2, ((ql0 &>> 4) & lowBits) | (qh & highBits), base + 64)
                    s3 = InterleavedLanes.dpbusd(s3, ((ql1 &>> 4) & lowBits) | ((qh &>> 2) & highBits), base + 96)
                }
                group(4 &* s); group(4 &* s &+ 1); group(4 &* s &+ 2); group(4 &* s &+ 3)
                let j = 8 &* h &+ s
                sum &+= s0 &* scale(j) &+ s1 &* scale(j &+ 2) &+ s2 &* scale(j &+ 4) &+ s3 &* scale(j &+ 6)
            }
            quarter(0, 0); quarter(0, 1); quarter(1, 0); quarter(1, 1)
            acc.addProduct(AVX512Lanes.float(sum), InterleavedLanes.halves(block.chunk + dOffset) * Q8_KFormat.scale(block.activation))
        }
        return acc
    }
    #endif
}
