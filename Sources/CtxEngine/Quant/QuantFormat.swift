/// A storage format for a row of values, GGUF/ggml-compatible byte for byte.
///
/// Rows are sequences of blocks of `blockValues` values, `blockBytes` bytes each (f32/f16/bf16
/// are "blocks" of one value). A quantized row's length must be a multiple of its block.
/// Every format lives in its own file; `DType.format` is the registry that maps a type to it.
public protocol QuantFormat {
    static var type: DType { get }
    /// Values per block (1 for plain floats, 32 for q8_0/q4_0, 256 for the K-quants).
    static var blockValues: Int { get }
    /// Bytes per block.
    static var blockBytes: Int { get }
    /// Converts `count` floats into `count / blockValues` blocks at `out`.
    static func quantize(_ x: UnsafePointer<Float>, _ out: UnsafeMutableRawPointer, count: Int)
    /// Expands `count` values at `q` back to floats.
    static func dequantize(_ q: UnsafeRawPointer, _ out: UnsafeMutablePointer<Float>, count: Int)
    /// Writes `count` synthetic values with standard deviation ≈ `std` and mean ≈ 0 (benchmark
    /// weights). Quantized formats write random blocks directly, which is ~100x faster than
    /// generating floats and quantizing them; the default generates floats 256 at a time.
    static func synthesize(_ out: UnsafeMutableRawPointer, count: Int, std: Float, random: inout SeededRandom)
}

extension QuantFormat {
    public static func synthesize(_ out: UnsafeMutableRawPointer, count: Int, std: Float,
                                  random: inout SeededRandom) {
        precondition(256 % blockValues == 0, "the float path works in chunks of 256 values")
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 256) { chunk in
            var done = 0
            while done < count {
                let n = min(256, count - done)
                random.fillFast(chunk.baseAddress!, count: n, scale: std)
                quantize(chunk.baseAddress!, out + done / blockValues * blockBytes, count: n)
                done += n
            }
        }
    }
}

/// A format weights can be stored in: it has a dot product against the activation format it pairs
/// with (f32 for f32, f16 for f16, bf16 for bf16, q8_0 for q8_0/q4_0/q5_0, q8_K for the K-quants).
public protocol WeightFormat: QuantFormat {
    /// The type llama.cpp's CPU backend converts an activation to before a product with weights of
    /// this type (ggml's vec_dot_type). Every product rounds its input to it (`roundActivation`), so
    /// the engine computes llama.cpp's function, prefill included.
    static var activationType: DType { get }
    /// Σ w[i] * a[i] over `count` values: `w` in this format, `a` in `activationType`.
    static func dot(_ w: UnsafeRawPointer, _ a: UnsafeRawPointer, count: Int) -> Float

    /// GEMV's fast path, for formats whose rows are faster to dot against the activation in a
    /// layout of their own: bytes of that layout for a row of `count` values, or 0 (the default)
    /// when `dot` on the `activationType` blocks is the fast path. GEMV builds the layout once per
    /// call (it is shared by every row) and then calls `dotPrepared` per row.
    static func preparedActivationBytes(count: Int) -> Int
    /// Builds blocks `blocks` of the prepared layout from `activation` (`count` values in
    /// `activationType`); disjoint block ranges may be built in parallel.
    static func prepareActivation(_ activation: UnsafeRawPointer, _ out: UnsafeMutableRawPointer, count: Int, blocks: Range<Int>)
    /// Σ w[i] * a[i], `a` prepared by `prepareActivation`; equals `dot` on the same values.
    static func dotPrepared(_ w: UnsafeRawPointer, _ prepared: UnsafeRawPointer, count: Int) -> Float
}

extension WeightFormat {
    /// `x` as a product with this format's weights sees it: converted to `activationType` and back (q8_0
    /// or q8_K quantization, f16 or bf16 rounding), or copied when that is f32. `count` is a
    /// multiple of the vec_dot type's block (the weight rows' length always is).
    public static func roundActivation(_ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, count: Int) {
        let type = activationType
        guard type != .f32 else { out.update(from: x, count: count); return }
        let chunk = max(256, type.blockValues)
        withUnsafeTemporaryAllocation(byteCount: type.rowBytes(chunk), alignment: 64) { temp in
            var done = 0
            while done < count {
                let n = min(chunk, count - done)
                type.format.quantize(x + done, temp.baseAddress!, count: n)
                type.format.dequantize(temp.baseAddress!, out + done, count: n)
                done += n
            }
        }
    }

    public static func preparedActivationBytes(count: Int) -> Int { 0 }
    public static func prepareActivation(_ activation: UnsafeRawPointer, _ out: UnsafeMutableRawPointer, count: Int, blocks: Range<Int>) {
        preconditionFailure("\(type) has no prepared activation layout")
    }
    public static func dotPrepared(_ w: UnsafeRawPointer, _ prepared: UnsafeRawPointer, count: Int) -> Float {
        preconditionFailure("\(type) has no prepared activation layout")
    }
}

/// A weight format whose prefill products run on integer dot products (`IntegerGEMM`): the
/// activations are quantized to `activationType` once per product and each weight block is
/// unpacked once for four tokens. Conforming where the build has such a kernel (AVX2: q4_K, q5_K,
/// q6_K);
/// elsewhere GEMM dequantizes the weights to f32 panels.
public protocol IntegerGEMMFormat: WeightFormat {
    /// dot(w, a + t * stride) for t = 0..<4, each equal to `dot` bit for bit.
    static func dot4(_ w: UnsafeRawPointer, _ a: UnsafeRawPointer, stride: Int, count: Int) -> SIMD4<Float>
    #if CTXBENCH_AVX512
    /// dot(w, a + t * stride) for t = 0..<8, each equal to `dot` bit for bit.
    static func dot8(_ w: UnsafeRawPointer, _ a: UnsafeRawPointer, stride: Int, count: Int) -> SIMD8<Float>
    #endif
}

/// A weight format with two implementations of its dot product: AVX2 (through CX86Intrinsics, when
/// the build enables it) and portable SIMD (every ISA). `dot` picks one here, once for all formats;
/// the tests check both against the same references.
public protocol TwoPathDotFormat: WeightFormat {
    static func dotPortable(_ w: UnsafeRawPointer, _ a: UnsafeRawPointer, count: Int) -> Float
    #if CTXBENCH_AVX2
    static func dotAVX2(_ w: UnsafeRawPointer, _ a: UnsafeRawPointer, count: Int) -> Float
    #endif
}

extension TwoPathDotFormat {
    @inline(__always)
    public static func dot(_ w: UnsafeRawPointer, _ a: UnsafeRawPointer, count: Int) -> Float {
        #if CTXBENCH_AVX2
        return dotAVX2(w, a, count: count)
        #else
        return dotPortable(w, a, count: count)
        #endif
    }
}

/// An activation format with two quantizers: the reference, value by value, and AVX2 (when the build
/// enables it), which writes the same bytes. Every GEMV quantizes its input, so `quantize` picks the
/// AVX2 one here, once for all such formats; the tests compare the two byte for byte.
public protocol TwoPathQuantizer: QuantFormat {
    static func quantizeReference(_ x: UnsafePointer<Float>, _ out: UnsafeMutableRawPointer, count: Int)
    #if CTXBENCH_AVX2
    static func quantizeAVX2(_ x: UnsafePointer<Float>, _ out: UnsafeMutableRawPointer, count: Int)
    #endif
}

extension TwoPathQuantizer {
    public static func quantize(_ x: UnsafePointer<Float>, _ out: UnsafeMutableRawPointer, count: Int) {
        #if CTXBENCH_AVX2
        quantizeAVX2(x, out, count: count)
        #else
        quantizeReference(x, out, count: count)
        #endif
    }
}

/// Raw little-endian field access. Blocks are packed with no padding (a q8_0 block is 34 bytes), so
/// fields are generally unaligned.
extension UnsafeRawPointer {
    @inline(__always) func f16(at offset: Int) -> Float {
        halfToFloat(loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }
}

extension UnsafeMutableRawPointer {
    @inline(__always) func storeF16(_ value: Float, at offset: Int) {
        storeBytes(of: Float16(value), toByteOffset: offset, as: Float16.self)
    }
}

/// Float to Int8 with saturation; NaN becomes 0 (Swift's Int8(_:) traps on both).
@inline(__always)
func saturatingInt8(_ v: Float) -> Int8 {
    guard v == v else { return 0 }
    return Int8(min(max(v, -128), 127))
}

/// Round half away from zero (C roundf), then saturate to Int8.
@inline(__always)
func roundToInt8(_ v: Float) -> Int8 { saturatingInt8(v.rounded()) }

extension UnsafeMutableRawPointer {
    @inline(__always) func f16(at offset: Int) -> Float { UnsafeRawPointer(self).f16(at: offset) }
}

/// The value of largest magnitude among x[0..<count] (the first of equals; 0 when all are 0): the
/// extreme that ggml's q4_0, q5_0 and q8_K quantizers map to their most negative level.
@inline(__always)
func signedExtreme(_ x: UnsafePointer<Float>, count: Int) -> Float {
    var amax: Float = 0, extreme: Float = 0
    for j in 0..<count where amax < abs(x[j]) {
        amax = abs(x[j])
        extreme = x[j]
    }
    return extreme
}
