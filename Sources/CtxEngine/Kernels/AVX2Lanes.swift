/// The lane order, within a group of 8 blocks, of `AVX2Lanes.blockSums16` and
/// `AVX2Lanes.halves8(evensThenOdds:)`: lanes 0...7 hold blocks 0, 2, 4, 6, 1, 3, 5, 7. Outside the
/// AVX2 condition because prepared activation layouts are written in this order on any ISA.
enum EvensThenOdds {
    @inline(__always) static func block(atLane j: Int) -> Int { j < 4 ? 2 &* j : 2 &* (j &- 4) &+ 1 }
    @inline(__always) static func lane(ofBlock k: Int) -> Int { (k &>> 1) | ((k & 1) &<< 2) }
}

#if CTXBENCH_AVX2
import CX86Intrinsics

/// AVX2 building blocks for the integer dot products, composed in Swift from one-intrinsic C
/// wrappers (CX86Intrinsics). `V` is __m256i as Swift imports it.
enum AVX2Lanes {
    typealias V = SIMD4<Int64>

    @inline(__always) static func load(_ p: UnsafeRawPointer) -> V { p.loadUnaligned(as: V.self) }

    @inline(__always) static func bytes(_ b: UInt8) -> V { unsafeBitCast(SIMD32<UInt8>(repeating: b), to: V.self) }

    @inline(__always) static func int16(_ v: Int16) -> V { unsafeBitCast(SIMD16<Int16>(repeating: v), to: V.self) }

    /// Logical shift of each 16-bit lane (byte-wise shifts do not exist; callers mask afterwards).
    @inline(__always) static func shiftRight16(_ v: V, _ n: UInt16) -> V {
        unsafeBitCast(unsafeBitCast(v, to: SIMD16<UInt16>.self) &>> n, to: V.self)
    }

    @inline(__always) static func shiftLeft16(_ v: V, _ n: UInt16) -> V {
        unsafeBitCast(unsafeBitCast(v, to: SIMD16<UInt16>.self) &<< n, to: V.self)
    }

    @inline(__always) static func int32(_ v: V) -> SIMD8<Int32> { unsafeBitCast(v, to: SIMD8<Int32>.self) }

    /// 8 int32 lanes as floats (vcvtdq2ps).
    @inline(__always) static func float(_ v: SIMD8<Int32>) -> SIMD8<Float> { ctx_cvtepi32_ps(unsafeBitCast(v, to: V.self)) }

    /// Σ of 32 signed-byte products as 8 int32 lanes: |x| * sign(y, x) makes the first operand
    /// unsigned for vpmaddubsw (|x| <= 127 and y != -128, so no int16 pair saturates).
    @inline(__always) static func dotSigned(_ x: V, _ y: V) -> SIMD8<Int32> {
        pairSums16(maddubs(ctx_abs_epi8(x), ctx_sign_epi8(y, x)))
    }

    /// vpmaddubsw: unsigned bytes of `u` times signed bytes of `s`, adjacent products summed into
    /// 16 int16 lanes (saturating; callers keep |u * s| pairs below 32768).
    @inline(__always) static func maddubs(_ u: V, _ s: V) -> V { ctx_maddubs_epi16(u, s) }

    /// 16 int16 lanes added (vpaddw), wrapping.
    @inline(__always) static func add16(_ a: V, _ b: V) -> V {
        unsafeBitCast(unsafeBitCast(a, to: SIMD16<Int16>.self) &+ unsafeBitCast(b, to: SIMD16<Int16>.self), to: V.self)
    }

    /// The 8 bytes of `word` (byte 0 first) zero-extended to 8 int32 lanes (vpmovzxbd).
    @inline(__always) static func int32FromBytes(_ word: UInt64) -> SIMD8<Int32> {
        unsafeBitCast(ctx_cvtepu8_epi32_u64(word), to: SIMD8<Int32>.self)
    }

    /// Bit i of `bits` spread to byte i: 0xFF where it is set, 0 elsewhere. Each byte of the
    /// broadcast word is copied to 8 bytes (vpshufb), every byte but its own bit set (vpor), and
    /// compared with 0xFF (vpcmpeqb): ggml's bytes_from_bits_32.
    @inline(__always) static func bytesFromBits(_ bits: UInt32) -> V {
        let control = V(0, 0x0101_0101_0101_0101, 0x0202_0202_0202_0202, 0x0303_0303_0303_0303)
        let spread = shuffleBytes(unsafeBitCast(SIMD8<UInt32>(repeating: bits), to: V.self), control)
        let others = V(repeating: 0x7FBF_DFEF_F7FB_FDFE)
        return ctx_cmpeq_epi8(spread | others, V(repeating: -1))
    }

    /// The 16 int8 at `p` sign-extended to 16 int16 lanes (vpmovsxbw).
    @inline(__always) static func int16FromInt8(_ p: UnsafeRawPointer) -> V {
        ctx_cvtepi8_epi16(p.loadUnaligned(as: SIMD2<Int64>.self))
    }

    /// A vpshufb control that fills the low 128-bit lane with copies of int16 lane `low` and the
    /// high lane with copies of int16 lane `high` (indices within the lane, 0..<8).
    @inline(__always) static func wordSplatControl(_ low: Int, _ high: Int) -> V {
        var c = SIMD32<UInt8>()
        for i in 0..<8 {
            c[2 &* i] = UInt8(2 &* low); c[2 &* i &+ 1] = UInt8(2 &* low &+ 1)
            c[16 &+ 2 &* i] = UInt8(2 &* high); c[17 &+ 2 &* i] = UInt8(2 &* high &+ 1)
        }
        return unsafeBitCast(c, to: V.self)
    }

    /// A vpshufb control that turns a vector holding 8 bytes (in both 128-bit lanes) into 16 int16
    /// lanes: byte `low` zero-extended across the low lane, byte `high` across the high lane.
    @inline(__always) static func byteSplatControl(_ low: Int, _ high: Int) -> V {
        var c = SIMD32<UInt8>(repeating: 0x80)   // 0x80: a zero byte
        for i in 0..<8 { c[2 &* i] = UInt8(low); c[16 &+ 2 &* i] = UInt8(high) }
        return unsafeBitCast(c, to: V.self)
    }

    /// The 8 bytes of `bytes` in both 128-bit lanes (for `byteSplatControl`).
    @inline(__always) static func bothLanes(_ bytes: UInt64) -> V {
        let x = SIMD2<Int64>(Int64(bitPattern: bytes), 0)
        return V(lowHalf: x, highHalf: x)
    }

    /// No instruction: the four sums are materialized in registers at this point
    /// (`ctx_in_register`, an empty volatile asm each), so no work that feeds them moves past it
    /// and they are not reassociated across it.
    @inline(__always) static func inRegisters(_ s: inout (SIMD8<Int32>, SIMD8<Int32>, SIMD8<Int32>, SIMD8<Int32>)) {
        @inline(__always) func pin(_ v: SIMD8<Int32>) -> SIMD8<Int32> { int32(ctx_in_register(unsafeBitCast(v, to: V.self))) }
        s = (pin(s.0), pin(s.1), pin(s.2), pin(s.3))
    }

    @inline(__always) static func shuffleBytes(_ v: V, _ control: V) -> V { ctx_shuffle_epi8(v, control) }

    /// int16 products of a and b, adjacent pairs summed into 8 int32 lanes (vpmaddwd).
    @inline(__always) static func madd(_ a: V, _ b: V) -> SIMD8<Int32> { int32(ctx_madd_epi16(a, b)) }

    /// Eight blocks' sums from the 16-int16 partial sums of four block pairs (pair k holds block
    /// 2k in its low 128 bits and block 2k + 1 in its high 128 bits, 8 lanes each): two rounds of
    /// vphaddw and one vpmaddwd leave block sums as 8 int32 lanes in the order 0, 2, 4, 6, 1, 3,
    /// 5, 7 (`EvensThenOdds`). Three instructions instead of a vpmaddwd, a vcvtdq2ps and a scale
    /// broadcast per pair. The int16 rounds wrap: callers keep each lane's sum of 4 partials
    /// below 32768 in magnitude.
    @inline(__always) static func blockSums16(_ p0: V, _ p1: V, _ p2: V, _ p3: V) -> SIMD8<Int32> {
        pairSums16(ctx_hadd_epi16(ctx_hadd_epi16(p0, p1), ctx_hadd_epi16(p2, p3)))
    }

    /// Adjacent int16 lanes summed into 8 int32 lanes (vpmaddwd with ones).
    @inline(__always) static func pairSums16(_ v: V) -> SIMD8<Int32> { madd(v, int16(1)) }

    /// Σ of unsigned-byte x signed-byte products, each int16 pair sum multiplied by `scale16`.
    @inline(__always) static func dotUnsigned(_ u: V, _ s: V, scale16: V) -> SIMD8<Int32> {
        madd(maddubs(u, s), scale16)
    }

    /// The f16 fields at `base`, `base + stride`, ... (8 blocks) as floats, for block formats that
    /// start with their f16 scale (stride >= 16). The 16 bytes loaded at `base + j * (stride - 2)`
    /// hold field j in word j, so one word blend per block (vpblendw with a memory operand) gathers
    /// the eight, then one vcvtph2ps. Eight vpinsrw cost about a third of the q8_0 GEMV.
    /// The last load ends exactly where field 7 ends: nothing past the eighth block is read.
    /// `evensThenOdds` puts the fields in lane order 0, 2, 4, 6, 1, 3, 5, 7 (block k's word loaded
    /// from `base + k * stride - 2 * j` for its lane j), the order `blockSums16` leaves its sums in.
    @inline(__always) static func halves8(_ base: UnsafeRawPointer, stride: Int, evensThenOdds: Bool = false) -> SIMD8<Float> {
        var h = base.loadUnaligned(as: SIMD8<UInt16>.self)
        for j in 1..<8 {
            let block = evensThenOdds ? EvensThenOdds.block(atLane: j) : j
            let words = base.loadUnaligned(fromByteOffset: block &* stride &- 2 &* j, as: SIMD8<UInt16>.self)
            var lane = SIMDMask<SIMD8<Int16>>()
            lane[j] = true
            h.replace(with: words, where: lane)
        }
        return ctx_cvtph_ps(unsafeBitCast(h, to: SIMD2<Int64>.self))
    }

    /// dst row i (8 floats at dst + i * dstStride) = column i of the 8 x 8 block whose row j is at
    /// src + j * srcStride: unpacks, pair shuffles and 128-bit lane swaps, 24 shuffles for 64
    /// values (GEMM's weight packing; scalar stores at a 64-byte stride cost 64 stores).
    @inline(__always) static func transpose8x8(_ src: UnsafePointer<Float>, srcStride: Int,
                                               _ dst: UnsafeMutablePointer<Float>, dstStride: Int) {
        typealias F = SIMD8<Float>
        let s = UnsafeRawPointer(src), d = UnsafeMutableRawPointer(dst)
        @inline(__always) func row(_ j: Int) -> F { s.loadUnaligned(fromByteOffset: j &* srcStride &* 4, as: F.self) }
        let r0 = row(0), r1 = row(1), r2 = row(2), r3 = row(3), r4 = row(4), r5 = row(5), r6 = row(6), r7 = row(7)
        let t0 = ctx_unpacklo_ps(r0, r1), t1 = ctx_unpackhi_ps(r0, r1), t2 = ctx_unpacklo_ps(r2, r3), t3 = ctx_unpackhi_ps(r2, r3)
        let t4 = ctx_unpacklo_ps(r4, r5), t5 = ctx_unpackhi_ps(r4, r5), t6 = ctx_unpacklo_ps(r6, r7), t7 = ctx_unpackhi_ps(r6, r7)
        let u0 = ctx_shuffle_low_pairs_ps(t0, t2), u1 = ctx_shuffle_high_pairs_ps(t0, t2)
        let u2 = ctx_shuffle_low_pairs_ps(t1, t3), u3 = ctx_shuffle_high_pairs_ps(t1, t3)
        let u4 = ctx_shuffle_low_pairs_ps(t4, t6), u5 = ctx_shuffle_high_pairs_ps(t4, t6)
        let u6 = ctx_shuffle_low_pairs_ps(t5, t7), u7 = ctx_shuffle_high_pairs_ps(t5, t7)
        @inline(__always) func put(_ v: F, _ i: Int) { d.storeBytes(of: v, toByteOffset: i &* dstStride &* 4, as: F.self) }
        put(ctx_low_halves_ps(u0, u4), 0); put(ctx_low_halves_ps(u1, u5), 1)
        put(ctx_low_halves_ps(u2, u6), 2); put(ctx_low_halves_ps(u3, u7), 3)
        put(ctx_high_halves_ps(u0, u4), 4); put(ctx_high_halves_ps(u1, u5), 5)
        put(ctx_high_halves_ps(u2, u6), 6); put(ctx_high_halves_ps(u3, u7), 7)
    }

    /// |v| lane by lane: the sign bit cleared (vandps); NaN stays NaN.
    @inline(__always) static func magnitude(_ v: SIMD8<Float>) -> SIMD8<Float> {
        unsafeBitCast(unsafeBitCast(v, to: SIMD8<UInt32>.self) & 0x7FFF_FFFF, to: SIMD8<Float>.self)
    }

    /// The two consecutive f16 fields at `p` as floats: one 32-bit load into a fresh register
    /// (vmovd zeroes the rest, so no false dependency) and one vcvtph2ps.
    @inline(__always) static func halves2(_ p: UnsafeRawPointer) -> (Float, Float) {
        let v = ctx_cvtph_ps(SIMD2<Int64>(Int64(p.loadUnaligned(as: UInt32.self)), 0))
        return (v[0], v[1])
    }

    /// An f16 field as a float, converted in integer registers (`halfToFloat`). Not vcvtph2ps: LLVM
    /// loads a lone f16 with vpinsrw into an arbitrary live register, in these loops the
    /// accumulator, which chains every block onto the previous block's FMA (measured 3.0 ns per
    /// q8_0 block that way, against 1.6 ns).
    @inline(__always) static func half(_ p: UnsafeRawPointer, _ offset: Int) -> Float {
        halfToFloat(p.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }
}
#endif
