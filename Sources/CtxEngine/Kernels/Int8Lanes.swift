/// Building blocks for the integer dot products, in portable SIMD that LLVM lowers to 256-bit
/// shifts, multiplies and adds (x86-64-v3: vpsllw/vpsraw/vpmullw/vpaddw/vpsrad/vpaddd; aarch64: NEON).
///
/// Why this shape: converting `SIMD32<Int8>` to `SIMD32<Int16>` compiles to a scalar loop, but
/// loading 32 bytes as `SIMD16<Int16>` and separating the even and odd bytes with shifts stays in
/// vector registers. Products of two int8 values summed in pairs fit in int16 (2 * 127 * 128 < 32767),
/// and pairs of int16 are summed into int32 with shifts again, so no lane conversion is ever needed.
enum Int8Lanes {
    typealias I16 = SIMD16<Int16>
    typealias I32 = SIMD8<Int32>

    /// 32 int8 at `p` as (even bytes, odd bytes), each sign-extended to 16 lanes of int16.
    @inline(__always)
    static func evenOdd(_ p: UnsafeRawPointer) -> (even: I16, odd: I16) {
        let v = p.loadUnaligned(as: I16.self)
        return ((v &<< 8) &>> 8, v &>> 8)
    }

    /// Sums adjacent int16 lanes into int32: lane i = v[2i] + v[2i+1].
    @inline(__always)
    static func pairSums(_ v: I16) -> I32 {
        let w = unsafeBitCast(v, to: I32.self)
        return ((w &<< 16) &>> 16) &+ (w &>> 16)
    }

    /// Σ of 32 int8 products, left as 8 int32 partial sums (lane i covers bytes 4i..<4i+4).
    @inline(__always)
    static func dot32(_ w: (even: I16, odd: I16), _ a: (even: I16, odd: I16)) -> I32 {
        pairSums(w.even &* a.even &+ w.odd &* a.odd)
    }
}
