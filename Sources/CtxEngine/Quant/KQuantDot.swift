#if CTXBENCH_AVX2
/// One K-quant super-block's weight side in AVX2 registers, as the q8_K dots take it: 256 values
/// in eight parts of 32, each part with its scales as int16 lanes (the vpmaddwd multiplier), and
/// the block's float step. q4_K and q5_K (`Q4_KFormat.SuperBlockLanes`) and q6_K
/// (`Q6_KFormat.SuperBlockLanes`) conform; `KQuantDot` is the one loop over them.
protocol KQuantSuperBlockLanes {
    /// Part p (0..<8) for activations 32p..<32p+32: its levels as unsigned bytes and their scales
    /// in 16 int16 lanes. Callers pass p as a constant (unrolled loops), so shifts and shuffle
    /// controls fold to constants.
    func part(_ p: Int) -> (values: AVX2Lanes.V, scale: AVX2Lanes.V)
    /// acc += the block's contribution for the token whose q8_K block is at `ab`, given `sum`,
    /// the int32 lanes of Σ_p scale_p * (values_p · activations_p).
    func accumulate(_ sum: SIMD8<Int32>, activation ab: UnsafeRawPointer, into acc: inout SIMD8<Float>)
    #if CTXBENCH_AVX512
    /// Parts 2q and 2q + 1 (q < 4) side by side in 512-bit vectors, for activations 64q..<64q+64.
    func pair(_ q: Int) -> (values: AVX512Lanes.V, scale: AVX512Lanes.V)
    /// `accumulate` on 16 lanes: `sum` holds the even parts' int32 lanes in its low half and the
    /// odd parts' in its high half; correction terms (mins, q6_K's offset) go into the low half.
    func accumulate(_ sum: SIMD16<Int32>, activation ab: UnsafeRawPointer, into acc: inout SIMD16<Float>)
    #endif
}

#if CTXBENCH_AVX512
extension KQuantSuperBlockLanes {
    /// The two parts unpacked on ymm and joined (two vinserti64x4, shared by the tile's tokens).
    @inline(__always)
    func pair(_ q: Int) -> (values: AVX512Lanes.V, scale: AVX512Lanes.V) {
        let low = part(2 &* q), high = part(2 &* q &+ 1)
        return (AVX512Lanes.combine(low.values, high.values), AVX512Lanes.combine(low.scale, high.scale))
    }
}
#endif

/// The q8_K dots of the K-quants: the GEMV's one-token `dot` and the integer GEMM's four-token
/// `dot4` (and, with AVX-512, eight-token `dot8`), over any `KQuantSuperBlockLanes`. Each is inlined
/// into each format's entry point with its lanes type, so every format gets its own copy, and every
/// token's result is the same bit for bit whichever entry computed it: the same integer sums and the
/// same float operations per token. A prefill and a decode step of a token give the same projection.
enum KQuantDot {
    #if CTXBENCH_AVX512
    /// Σ over `count` values (a multiple of 256) of weight row `w` times the q8_K row `a`.
    @inline(__always)
    static func dot<Lanes: KQuantSuperBlockLanes>(_ w: UnsafeRawPointer, _ a: UnsafeRawPointer, count: Int, blockBytes: Int,
                                                   lanes: (UnsafeRawPointer) -> Lanes) -> Float {
        dotTile(w, a, stride: 0, count: count, blockBytes: blockBytes, lanes: lanes, tokens: 1)[0]
    }

    /// `dot` of one weight row with the four q8_K rows at `a + t * stride`.
    @inline(__always)
    static func dot4<Lanes: KQuantSuperBlockLanes>(_ w: UnsafeRawPointer, _ a: UnsafeRawPointer, stride: Int, count: Int,
                                                    blockBytes: Int, lanes: (UnsafeRawPointer) -> Lanes) -> SIMD4<Float> {
        let v = dotTile(w, a, stride: stride, count: count, blockBytes: blockBytes, lanes: lanes, tokens: 4)
        return SIMD4(v[0], v[1], v[2], v[3])
    }

    /// `dot` of one weight row with the eight q8_K rows at `a + t * stride`.
    @inline(__always)
    static func dot8<Lanes: KQuantSuperBlockLanes>(_ w: UnsafeRawPointer, _ a: UnsafeRawPointer, stride: Int, count: Int,
                                                    blockBytes: Int, lanes: (UnsafeRawPointer) -> Lanes) -> SIMD8<Float> {
        dotTile(w, a, stride: stride, count: count, blockBytes: blockBytes, lanes: lanes, tokens: 8)
    }

    /// The 512-bit kernel for `tokens` (1, 4 or 8, a constant at every call) q8_K rows: per block,
    /// each pair of parts (64 values) is unpacked once for all the tokens and goes through one
    /// vpmaddubsw and one vpmaddwd per token; each token's 16 int32 lanes become floats on 16 lanes
    /// (`accumulate`), so no lane reduction runs per block. Eight tokens: 8 sums, 8 accumulators and
    /// the pair's two vectors in 18 of the 32 zmm registers, so each unpack serves twice the tokens
    /// the 16-register AVX2 kernel can hold. Results past `tokens` are zero.
    @inline(__always)
    static func dotTile<Lanes: KQuantSuperBlockLanes>(_ w: UnsafeRawPointer, _ a: UnsafeRawPointer, stride: Int, count: Int,
                                                       blockBytes: Int, lanes: (UnsafeRawPointer) -> Lanes,
                                                       tokens: Int) -> SIMD8<Float> {
        typealias Sums = (SIMD16<Int32>, SIMD16<Int32>, SIMD16<Int32>, SIMD16<Int32>,
                          SIMD16<Int32>, SIMD16<Int32>, SIMD16<Int32>, SIMD16<Int32>)
        var acc = (SIMD16<Float>(), SIMD16<Float>(), SIMD16<Float>(), SIMD16<Float>(),
                   SIMD16<Float>(), SIMD16<Float>(), SIMD16<Float>(), SIMD16<Float>())
        for b in 0..<(count / 256) {
            let wb = w + b &* blockBytes
            let ab = a + b &* Q8_KFormat.blockBytes
            if tokens == 1 { Prefetch.ahead(wb, bytes: blockBytes) }  // the GEMV streams rows from DRAM
            let block = lanes(wb)
            let qa = ab + Q8_KFormat.qsOffset
            var sum: Sums = (.zero, .zero, .zero, .zero, .zero, .zero, .zero, .zero)
            // One pair at a time for all tokens; the sums pinned after each (`inRegisters`), or LLVM
            // unpacks the whole block up front and spills (as in the AVX2 kernel below).
            @inline(__always) func pair(_ q: Int) {
                let v = block.pair(q)
                @inline(__always) func dot(_ t: Int) -> SIMD16<Int32> {
                    AVX512Lanes.dotUnsigned(v.values, AVX512Lanes.load(qa + (t &* stride &+ q &* 64)), scale16: v.scale)
                }
                sum.0 &+= dot(0)
                if tokens >= 4 { sum.1 &+= dot(1); sum.2 &+= dot(2); sum.3 &+= dot(3) }
                if tokens == 8 { sum.4 &+= dot(4); sum.5 &+= dot(5); sum.6 &+= dot(6); sum.7 &+= dot(7) }
                AVX512Lanes.inRegisters(&sum, count: tokens)
            }
            pair(0); pair(1); pair(2); pair(3)
            block.accumulate(sum.0, activation: ab, into: &acc.0)
            if tokens >= 4 {
                block.accumulate(sum.1, activation: ab + stride, into: &acc.1)
                block.accumulate(sum.2, activation: ab + 2 &* stride, into: &acc.2)
                block.accumulate(sum.3, activation: ab + 3 &* stride, into: &acc.3)
            }
            if tokens == 8 {
                block.accumulate(sum.4, activation: ab + 4 &* stride, into: &acc.4)
                block.accumulate(sum.5, activation: ab + 5 &* stride, into: &acc.5)
                block.accumulate(sum.6, activation: ab + 6 &* stride, into: &acc.6)
                block.accumulate(sum.7, activation: ab + 7 &* stride, into: &acc.7)
            }
        }
        @inline(__always) func total(_ v: SIMD16<Float>) -> Float { (v.lowHalf + v.highHalf).sum() }
        return SIMD8(total(acc.0), total(acc.1), total(acc.2), total(acc.3),
                     total(acc.4), total(acc.5), total(acc.6), total(acc.7))
    }
    #else
    /// Σ over `count` values (a multiple of 256) of weight row `w` times the q8_K row `a`;
    /// `lanes` builds a block's lanes from its address. Per 32 values: one vpmaddubsw, one vpmaddwd
    /// with the part's scales and one vpaddd; per block one `accumulate`. Prefetches the weight
    /// stream ahead (GEMV rows come from DRAM).
    @inline(__always)
    static func dot<Lanes: KQuantSuperBlockLanes>(_ w: UnsafeRawPointer, _ a: UnsafeRawPointer, count: Int, blockBytes: Int,
                                                   lanes: (UnsafeRawPointer) -> Lanes) -> Float {
        var acc = SIMD8<Float>()
        for b in 0..<(count / 256) {
            let wb = w + b &* blockBytes
            let ab = a + b &* Q8_KFormat.blockBytes
            Prefetch.ahead(wb, bytes: blockBytes)
            let block = lanes(wb)
            let qa = ab + Q8_KFormat.qsOffset
            var sum = SIMD8<Int32>()
            // Unrolled by hand: with p a constant, each part's shifts and scale control are constants.
            @inline(__always) func part(_ p: Int) {
                let v = block.part(p)
                sum &+= AVX2Lanes.dotUnsigned(v.values, AVX2Lanes.load(qa + p &* 32), scale16: v.scale)
            }
            part(0); part(1); part(2); part(3); part(4); part(5); part(6); part(7)
            block.accumulate(sum, activation: ab, into: &acc)
        }
        return acc.sum()
    }

    /// `dot` of one weight row with four q8_K rows (at `a + t * stride`), each result equal to
    /// `dot(w, a + t * stride)` bit for bit. Each part is unpacked once for the four tokens (the
    /// integer GEMM's microkernel).
    @inline(__always)
    static func dot4<Lanes: KQuantSuperBlockLanes>(_ w: UnsafeRawPointer, _ a: UnsafeRawPointer, stride: Int, count: Int,
                                                    blockBytes: Int, lanes: (UnsafeRawPointer) -> Lanes) -> SIMD4<Float> {
        var acc = (SIMD8<Float>(), SIMD8<Float>(), SIMD8<Float>(), SIMD8<Float>())
        for b in 0..<(count / 256) {
            let wb = w + b &* blockBytes
            let ab = a + b &* Q8_KFormat.blockBytes
            let block = lanes(wb)
            let qa = ab + Q8_KFormat.qsOffset
            var sum = (SIMD8<Int32>(), SIMD8<Int32>(), SIMD8<Int32>(), SIMD8<Int32>())
            // One part (32 values and their scales) at a time for the four tokens: 4 sums, 4
            // accumulators and the part's two vectors stay in the 16 ymm registers. Without
            // `inRegisters` LLVM unpacks the whole super-block up front, runs token by token and
            // spills the unpacked vectors (a fifth of the loop's instructions were spills).
            @inline(__always) func part(_ p: Int) {
                let v = block.part(p)
                @inline(__always) func dot(_ t: Int) -> SIMD8<Int32> {
                    AVX2Lanes.dotUnsigned(v.values, AVX2Lanes.load(qa + (t &* stride &+ p &* 32)), scale16: v.scale)
                }
                sum.0 &+= dot(0); sum.1 &+= dot(1); sum.2 &+= dot(2); sum.3 &+= dot(3)
                AVX2Lanes.inRegisters(&sum)
            }
            part(0); part(1); part(2); part(3); part(4); part(5); part(6); part(7)
            block.accumulate(sum.0, activation: ab, into: &acc.0)
            block.accumulate(sum.1, activation: ab + stride, into: &acc.1)
            block.accumulate(sum.2, activation: ab + 2 &* stride, into: &acc.2)
            block.accumulate(sum.3, activation: ab + 3 &* stride, into: &acc.3)
        }
        return SIMD4(acc.0.sum(), acc.1.sum(), acc.2.sum(), acc.3.sum())
    }
    #endif
}
#endif
