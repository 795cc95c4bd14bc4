import Foundation
import Testing
@testable import CtxEngine

/// Plain references, written independently of the optimized kernels.
enum Reference {
    static func random(_ n: Int, seed: UInt64, scale: Float = 1) -> [Float] {
        var r = SeededRandom(seed: seed)
        return (0..<n).map { _ in r.nextGaussianish() * scale }
    }

    static func quantize(_ x: [Float], _ type: DType) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: type.rowBytes(x.count))
        x.withUnsafeBufferPointer { xp in out.withUnsafeMutableBytes { type.format.quantize(xp.baseAddress!, $0.baseAddress!, count: x.count) } }
        return out
    }

    static func dequantize(_ q: [UInt8], _ type: DType, count: Int) -> [Float] {
        var out = [Float](repeating: 0, count: count)
        q.withUnsafeBytes { qp in out.withUnsafeMutableBufferPointer { type.format.dequantize(qp.baseAddress!, $0.baseAddress!, count: count) } }
        return out
    }

    /// Σ dequant(w) * dequant(a) in Double: what any dot product over these bytes must compute.
    static func dot(_ w: [UInt8], _ type: DType, _ a: [UInt8], _ aType: DType, count: Int, absolute: Bool = false) -> Double {
        let wf = dequantize(w, type, count: count), af = dequantize(a, aType, count: count)
        if absolute { return zip(wf, af).reduce(0.0) { $0 + abs(Double($1.0) * Double($1.1)) } }
        return zip(wf, af).reduce(0) { $0 + Double($1.0) * Double($1.1) }
    }

    static func rms(_ x: [Float]) -> Double { (x.reduce(0) { $0 + Double($1) * Double($1) } / Double(max(x.count, 1))).squareRoot() }
}

@Suite struct QuantFormatTests {
    /// The word-wise unpacking of q4_K's 12 scale bytes equals the byte-wise reference for every
    /// sub-block, on random bytes (all 6-bit patterns and the 2-bit high parts get exercised).
    @Test func q4_KScaleUnpackingMatchesScaleMin() {
        var random = SeededRandom(seed: 12)
        for _ in 0..<2000 {
            var bytes = [UInt8](repeating: 0, count: 12)
            bytes.withUnsafeMutableBytes { random.fillBytes($0.baseAddress!, count: 12) }
            let u = bytes.withUnsafeBytes { Q4_KFormat.unpackScalesAndMins($0.baseAddress!) }
            bytes.withUnsafeBufferPointer { p in
                for j in 0..<8 {
                    let (scale, min) = Q4_KFormat.scaleMin(p.baseAddress!, j)
                    let shift = UInt64(j * 8)
                    #expect(Int32(u.scales >> shift & 0xFF) == scale)
                    #expect(Int32(u.mins >> shift & 0xFF) == min)
                }
            }
        }
    }

    @Test func blockSizesMatchGGUF() {
        let expected: [DType: (Int, Int)] = [.f32: (1, 4), .f16: (1, 2), .bf16: (1, 2), .q8_0: (32, 34), .q4_0: (32, 18), .q5_0: (32, 22),
                                             .q4_K: (256, 144), .q5_K: (256, 176), .q6_K: (256, 210), .q8_K: (256, 292)]
        for type in DType.allCases {
            #expect(type.blockValues == expected[type]!.0 && type.blockBytes == expected[type]!.1, "\(type)")
        }
        // Field offsets add up to the block size.
        #expect(Q8_0Format.qsOffset + 32 == Q8_0Format.blockBytes)
        #expect(Q4_0Format.qsOffset + 16 == Q4_0Format.blockBytes)
        #expect(Q4_KFormat.scalesOffset == 4 && Q4_KFormat.qsOffset == 4 + 12 && Q4_KFormat.qsOffset + 128 == 144)
        #expect(Q5_KFormat.scalesOffset == 4 && Q5_KFormat.qhOffset == 16 && Q5_KFormat.qsOffset == 48 && Q5_KFormat.qsOffset + 128 == 176)
        #expect(Q6_KFormat.qhOffset == 128 && Q6_KFormat.scalesOffset == 128 + 64 && Q6_KFormat.dOffset == 192 + 16)
        #expect(Q6_KFormat.dOffset + 2 == 210)
        #expect(Q8_KFormat.qsOffset == 4 && Q8_KFormat.bsumsOffset == 260 && Q8_KFormat.bsumsOffset + 32 == 292)
        #expect(DType.weightTypes == [.f32, .f16, .bf16, .q8_0, .q4_0, .q5_0, .q4_K, .q5_K, .q6_K])
        #expect(DType.q4_K.activationType == .q8_K && DType.q4_0.activationType == .q8_0 && DType.f16.activationType == .f16 && DType.bf16.activationType == .bf16 && DType.f32.activationType == .f32)
    }

    @Test func halfConversionIsExactForAll65536Inputs() {
        for bits in 0...UInt16.max {
            let ours = halfToFloat(bits), swift = Float(Float16(bitPattern: bits))
            #expect(ours.bitPattern == swift.bitPattern || (ours.isNaN && swift.isNaN))
            if !(ours.bitPattern == swift.bitPattern || (ours.isNaN && swift.isNaN)) { return }
        }
    }

    // GGUF-layout tests: hand-written block bytes decode to known values.

    @Test func floatLayouts() {
        #expect(Reference.dequantize([0x00, 0x00, 0x80, 0x3F], .f32, count: 1) == [1.0])
        #expect(Reference.dequantize([0x00, 0xC0, 0x00, 0x3C], .f16, count: 2) == [-2.0, 1.0])
        #expect(Reference.dequantize([0x80, 0x3F, 0x40, 0xC0], .bf16, count: 2) == [1.0, -3.0])
        // Round to nearest even on the dropped 16 bits: 1 + 2^-8 ties to 1, 1 + 3*2^-8 rounds up.
        #expect(BF16Format.encode(Float(bitPattern: 0x3F80_8000)) == 0x3F80)
        #expect(BF16Format.encode(Float(bitPattern: 0x3F81_8000)) == 0x3F82)
    }

    @Test func q8_0Layout() {
        var block: [UInt8] = [0x00, 0x38]  // d = 0.5
        block += (0..<32).map { UInt8(bitPattern: Int8($0 - 16)) }
        let values = Reference.dequantize(block, .q8_0, count: 32)
        #expect(values == (0..<32).map { Float($0 - 16) * 0.5 })
    }

    @Test func q4_0Layout() {
        var block: [UInt8] = [0x00, 0x3C]  // d = 1
        block += (0..<16).map { UInt8($0) | UInt8(15 - $0) << 4 }  // low nibble j, high nibble 15 - j
        let values = Reference.dequantize(block, .q4_0, count: 32)
        let low: [Float] = (0..<16).map { Float($0 - 8) }
        let high: [Float] = (0..<16).map { Float(7 - $0) }
        #expect(Array(values[0..<16]) == low)
        #expect(Array(values[16..<32]) == high)
    }

    /// ggml's dequantize_row_q5_0: value j = d * ((qs[j] & 15 | bit j of qh << 4) - 16), value
    /// j + 16 from the high nibble and bit j + 16.
    @Test func q5_0Layout() {
        var block: [UInt8] = [0x00, 0x38]                    // d = 0.5
        block += [0b0000_0101, 0, 0b0000_0001, 0b1000_0000]  // qh: bits 0, 2, 16, 31
        block += (0..<16).map { UInt8($0) | UInt8(15 - $0) << 4 }
        let values = Reference.dequantize(block, .q5_0, count: 32)
        #expect(values[0] == 0.5 * Float(0 + 16 - 16))       // nibble 0, fifth bit set
        #expect(values[1] == 0.5 * Float(1 - 16))
        #expect(values[2] == 0.5 * Float(2 + 16 - 16))
        #expect(values[16] == 0.5 * Float(15 + 16 - 16))     // high nibble of qs[0] = 15, bit 16
        #expect(values[17] == 0.5 * Float(14 - 16))
        #expect(values[31] == 0.5 * Float(0 + 16 - 16))      // high nibble of qs[15] = 0, bit 31
    }

    @Test func q4_KLayout() {
        var block = [UInt8](repeating: 0, count: 144)
        block[0] = 0x00; block[1] = 0x3C  // d = 1
        block[2] = 0x00; block[3] = 0x38  // dmin = 0.5
        // Sub-block 0: scale 3, min 2. Sub-block 4: scale 0x15 = 21 (low nibble 5 in byte 8, high bits
        // 01 in byte 0 bits 6-7), min 0x23 = 35 (high nibble 3 in byte 8, high bits 10 in byte 4 bits 6-7).
        block[4 + 0] = 3 | (1 << 6)
        block[4 + 4] = 2 | (2 << 6)
        block[4 + 8] = 5 | (3 << 4)
        // qs: byte 0 of group 0 = 0x7A: value 0 (sub-block 0) = 10, value 32 (sub-block 1) = 7.
        // group 2 (bytes 64..95) low nibbles are sub-block 4: byte 64 = 0x0C -> value 128 = 12.
        block[16] = 0x7A
        block[16 + 64] = 0x0C
        let values = Reference.dequantize(block, .q4_K, count: 256)
        #expect(values[0] == 1 * 3 * 10 - 0.5 * 2)
        #expect(values[1] == -0.5 * 2)                   // q = 0
        #expect(values[32] == 0)                         // sub-block 1: scale 0, min 0
        #expect(values[128] == 1 * 21 * 12 - 0.5 * 35)
        #expect(values[129] == -0.5 * 35)
    }

    /// ggml's dequantize_row_q5_K: value l of sub-block j = d*scale_j*(nibble + 16*bit) - dmin*min_j,
    /// the nibble from qs as q4_K's, the fifth bit from qh[l] bit j.
    @Test func q5_KLayout() {
        var block = [UInt8](repeating: 0, count: 176)
        block[0] = 0x00; block[1] = 0x3C  // d = 1
        block[2] = 0x00; block[3] = 0x38  // dmin = 0.5
        block[4 + 0] = 3                  // sub-block 0: scale 3, min 2
        block[4 + 4] = 2
        block[4 + 1] = 1                  // sub-block 1: scale 1, min 0
        // Value 0 (sub-block 0): low nibble 10, qh[0] bit 0 set -> 26. Value 32 (sub-block 1): high
        // nibble 7, qh[0] bit 1 clear -> 7. Value 33: high nibble 0, qh[1] bit 1 set -> 16.
        block[48] = 0x7A
        block[16] = 0b01
        block[17] = 0b10
        let values = Reference.dequantize(block, .q5_K, count: 256)
        #expect(values[0] == 1 * 3 * 26 - 0.5 * 2)
        #expect(values[1] == 1 * 3 * 0 - 0.5 * 2)
        #expect(values[32] == 7)
        #expect(values[33] == 16)
        #expect(values[64] == 0)  // sub-block 2: scale 0, min 0
    }

    @Test func q6_KLayout() {
        var block = [UInt8](repeating: 0, count: 210)
        block[208] = 0x00; block[209] = 0x3C  // d = 1
        for j in 0..<16 { block[192 + j] = UInt8(bitPattern: Int8(j + 1)) }  // scales 1...16
        // Value 0: ql[0] low nibble 5, qh[0] bits 0-1 = 2 -> 5 | 32 = 37 -> 37 - 32 = 5, scale 1.
        // Value 64: ql[0] high nibble 9, qh[0] bits 4-5 = 3 -> 9 | 48 = 57 -> 25, scale sc[4] = 5.
        // Value 96: ql[32] high nibble 1, qh[0] bits 6-7 = 0 -> 1 - 32 = -31, scale sc[6] = 7.
        block[0] = 5 | (9 << 4)
        block[32] = 1 << 4
        block[128] = 2 | (3 << 4)
        let values = Reference.dequantize(block, .q6_K, count: 256)
        #expect(values[0] == 5)
        #expect(values[64] == 25 * 5)
        #expect(values[96] == -31 * 7)
        #expect(values[1] == -32)  // everything else: level 0 -> -32 times its scale (1 here)
    }

    /// Round-trip RMSE as a fraction of the data's RMS, per format, with fixed budgets.
    @Test(arguments: [(DType.f16, 0.001), (.bf16, 0.005), (.q8_0, 0.01), (.q4_0, 0.13), (.q5_0, 0.065), (.q4_K, 0.10), (.q5_K, 0.05), (.q6_K, 0.03), (.q8_K, 0.01)])
    func roundTripErrorWithinBudget(type: DType, budget: Double) {
        let x = Reference.random(4096, seed: 7, scale: 0.5)
        let y = Reference.dequantize(Reference.quantize(x, type), type, count: x.count)
        let error = Reference.rms(zip(x, y).map { $0 - $1 }) / Reference.rms(x)
        #expect(error < budget, "\(type) relative RMSE \(error)")
    }

    /// The optimized dot products equal Σ dequant(w) * dequant(a) over the same bytes, and stay
    /// within a quantization budget of the f32 dot product.
    @Test(arguments: [(DType.f32, 1e-6), (.f16, 0.002), (.bf16, 0.01), (.q8_0, 0.01), (.q4_0, 0.1), (.q5_0, 0.05), (.q4_K, 0.08), (.q5_K, 0.05), (.q6_K, 0.03)])
    func dotMatchesReference(type: DType, budget: Double) throws {
        let n = 2048
        for seed: UInt64 in [1, 2, 3] {
            let w = Reference.random(n, seed: seed, scale: 0.1)
            let x = Reference.random(n, seed: seed + 100)
            let format = try #require(type.weightFormat)
            let wq = Reference.quantize(w, type)
            let aq = Reference.quantize(x, format.activationType)
            let expected = Reference.dot(wq, type, aq, format.activationType, count: n)
            let ours = wq.withUnsafeBytes { wp in aq.withUnsafeBytes { ap in format.dot(wp.baseAddress!, ap.baseAddress!, count: n) } }
            let magnitude = zip(w, x).reduce(0.0) { $0 + abs(Double($1.0) * Double($1.1)) }
            #expect(abs(Double(ours) - expected) <= 1e-5 * magnitude, "\(type): \(ours) vs \(expected)")
            let exact = zip(w, x).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            #expect(abs(Double(ours) - exact) <= budget * magnitude, "\(type): \(ours) vs exact \(exact)")
        }
    }

    @Test(arguments: [DType.q8_0, .q4_0, .q5_0, .q4_K, .q5_K, .q6_K])
    func portableAndDispatchedDotsAgree(type: DType) throws {
        let n = 1024
        let wq = Reference.quantize(Reference.random(n, seed: 11, scale: 0.3), type)
        let format = try #require(type.weightFormat)
        let aq = Reference.quantize(Reference.random(n, seed: 12), format.activationType)
        let expected = Reference.dot(wq, type, aq, format.activationType, count: n)
        let twoPath = try #require(format as? any TwoPathDotFormat.Type)
        let portable = wq.withUnsafeBytes { wp in aq.withUnsafeBytes { ap in
            twoPath.dotPortable(wp.baseAddress!, ap.baseAddress!, count: n)
        } }
        #expect(abs(Double(portable) - expected) <= 1e-4 * max(1, abs(expected)))
    }

    /// GEMV's prepared-activation kernel (q4_0 against `Q8_0PairedActivation`) equals the
    /// reference dot on the same bytes, for every block count around the 8-block loop and the pair
    /// tail, and at the extremes (nibbles all 15 or all 0 against activations of ±127).
    @Test(arguments: DType.weightTypes)
    func preparedDotsMatchReference(type: DType) throws {
        let format = try #require(type.weightFormat)
        guard format.preparedActivationBytes(count: 32 * type.blockValues) > 0 else { return }
        for blocks in [1, 2, 3, 7, 8, 9, 10, 15, 16, 17, 24, 33] {
            let n = blocks * type.blockValues
            var cases: [([Float], [Float])] = [(Reference.random(n, seed: UInt64(blocks), scale: 0.1), Reference.random(n, seed: 99))]
            cases.append(((0..<n).map { $0 % 32 == 0 ? -1 : 0.99 }, [Float](repeating: 1, count: n)))   // nibbles 0 and 15
            cases.append(((0..<n).map { $0 % 32 == 0 ? 1 : -0.99 }, (0..<n).map { $0 % 2 == 0 ? 5 : -5 }))
            cases.append(([Float](repeating: 0, count: n), Reference.random(n, seed: 7)))
            for (w, x) in cases {
                let wq = Reference.quantize(w, type)
                let aq = Reference.quantize(x, format.activationType)
                var prepared = [UInt8](repeating: 0xAB, count: format.preparedActivationBytes(count: n) + 64)
                aq.withUnsafeBytes { ap in prepared.withUnsafeMutableBytes { pp in
                    let out = UnsafeMutableRawPointer(mutating: pp.baseAddress!.alignedUp(toMultipleOf: 64))
                    // Two halves, as GEMV's block-parallel conversion may build them.
                    let half = (n / format.activationType.blockValues) / 2
                    format.prepareActivation(ap.baseAddress!, out, count: n, blocks: 0..<half)
                    format.prepareActivation(ap.baseAddress!, out, count: n, blocks: half..<(n / format.activationType.blockValues))
                } }
                let ours = wq.withUnsafeBytes { wp in prepared.withUnsafeBytes { pp in
                    format.dotPrepared(wp.baseAddress!, pp.baseAddress!.alignedUp(toMultipleOf: 64), count: n)
                } }
                let expected = Reference.dot(wq, type, aq, format.activationType, count: n)
                let magnitude = Reference.dot(wq, type, aq, format.activationType, count: n, absolute: true)
                #expect(abs(Double(ours) - expected) <= 1e-5 * max(1, magnitude), "\(type) \(blocks) blocks: \(ours) vs \(expected)")
            }
        }
    }

    /// The activation quantizers GEMV uses (q8_0 and q8_K, vectorized on AVX2) write the same bytes
    /// as the reference quantizers: random rows, exact ties (x / d = k + 0.5), NaN and infinities,
    /// denormals (1 / d overflows to inf), zeros, a mix of huge and tiny values, and (q8_K, whose
    /// scale takes the sign of the first value of largest magnitude) both signs of the largest
    /// magnitude in either order, first found late in the block.
    @Test(arguments: [DType.q8_0, .q8_K])
    func activationQuantizerMatchesReference(type: DType) throws {
        let quantizer = try #require(type.format as? any TwoPathQuantizer.Type)
        let n = 256 * 3, block = type.blockValues
        var cases: [[Float]] = [Reference.random(n, seed: 21), Reference.random(n, seed: 22, scale: 1e-3)]
        cases.append((0..<n).map { i -> Float in i % block == 0 ? 127 : Float(i % 32) - 16.5 })   // ties at .5
        cases.append((0..<n).map { i -> Float in i % block == 0 ? -127 : -(Float(i % 32) + 0.5) })
        cases.append((0..<n).map { i -> Float in [Float.nan, .infinity, -.infinity, 1, -2][i % 5] })
        cases.append((0..<n).map { i -> Float in i % 7 == 0 ? .nan : Float(i % 32) })
        cases.append((0..<n).map { i -> Float in
            let denormal = Float(bitPattern: UInt32(1 + i % 5))
            return i % 2 == 0 ? denormal : -denormal
        })
        cases.append([Float](repeating: 0, count: n))
        cases.append((0..<n).map { i -> Float in i % 3 == 0 ? 3e38 : -1e-30 })
        cases.append((0..<n).map { i -> Float in i % block == block - 1 ? -9 : (i % block == block - 3 ? 9 : 0.25) })
        cases.append((0..<n).map { i -> Float in i % block == 200 % block ? 9 : (i % block == 201 % block ? -9 : -0.5) })
        for (index, x) in cases.enumerated() {
            var ours = [UInt8](repeating: 0xAA, count: type.rowBytes(n))
            var reference = [UInt8](repeating: 0x55, count: ours.count)
            x.withUnsafeBufferPointer { xp in
                ours.withUnsafeMutableBytes { quantizer.quantize(xp.baseAddress!, $0.baseAddress!, count: n) }
                reference.withUnsafeMutableBytes { quantizer.quantizeReference(xp.baseAddress!, $0.baseAddress!, count: n) }
            }
            let firstDifference = ours.indices.first { ours[$0] != reference[$0] }
            #expect(firstDifference == nil, "\(type) case \(index): first difference at byte \(firstDifference ?? -1)")
        }
    }

    @Test(arguments: DType.allCases)
    func adversarialInputsStayFinite(type: DType) {
        let n = 512
        let cases: [[Float]] = [
            [Float](repeating: 0, count: n),
            (0..<n).map { $0 % 3 == 0 ? 3e4 : -1e-3 },                       // huge against tiny (f16-safe)
            (0..<n).map { _ in Float(bitPattern: 0x0000_0100) },              // denormals
            (0..<n).map { $0 == 17 ? 1 : 0 },                                 // one spike per row
        ]
        for (index, x) in cases.enumerated() {
            let y = Reference.dequantize(Reference.quantize(x, type), type, count: n)
            let finite = y.allSatisfy { $0.isFinite }
            #expect(finite, "\(type) case \(index)")
            if index == 0 { #expect(y.allSatisfy { $0 == 0 }) }
            if index == 3 && type != .f32 { #expect(abs(y[17] - 1) < 0.1, "\(type) spike \(y[17])") }
        }
    }

    @Test func rowLengthsMustFillBlocks() throws {
        #expect(throws: BlockSizeError.self) { try Tensor(type: .q4_K, rows: 1, cols: 128) }
        #expect(throws: BlockSizeError.self) { try Tensor(type: .q8_0, rows: 2, cols: 33) }
        _ = try Tensor(type: .f16, rows: 1, cols: 37)  // float types take any length
    }

    @Test(arguments: [DType.f32, .f16, .bf16])
    func floatDotsHandleTails(type: DType) throws {
        for n in [1, 7, 15, 17, 24, 37, 47, 72, 100] {  // main loop of 32, tail of 8, scalar tail
            let w = Reference.random(n, seed: UInt64(n)), x = Reference.random(n, seed: UInt64(n) + 9)
            let wq = Reference.quantize(w, type), aq = Reference.quantize(x, type.activationType!)
            let ours = wq.withUnsafeBytes { wp in aq.withUnsafeBytes { ap in type.weightFormat!.dot(wp.baseAddress!, ap.baseAddress!, count: n) } }
            let expected = Reference.dot(wq, type, aq, type.activationType!, count: n)
            #expect(abs(Double(ours) - expected) < 1e-4 * max(1, abs(expected)), "\(type) n=\(n)")
        }
    }
}
