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
}

/// The q8_K dots of the K-quants: the GEMV's one-token `dot` and the integer GEMM's four-token
/// `dot4`, over any `KQuantSuperBlockLanes`. Per 32 values and token: one vpmaddubsw, one vpmaddwd
/// with the part's scales and one vpaddd; per block and token one `accumulate`. Both are inlined
/// into each format's entry point with its lanes type, so every format gets its own copy.
enum KQuantDot {
    /// Σ over `count` values (a multiple of 256) of weight row `w` times the q8_K row `a`;
    /// `lanes` builds a block's lanes from its address. Prefetches the weight stream ahead (GEMV
    /// rows come from DRAM).
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
    /// `dot(w, a + t * stride)` bit for bit: the same integer sums and the same float operations per
    /// token. Each part is unpacked once for the four tokens (the integer GEMM's microkernel).
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
}
#endif
