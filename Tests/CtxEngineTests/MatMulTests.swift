import Testing
@testable import CtxEngine

@Suite struct MatMulTests {
    /// y[t][r] = Σ_k round(x[t])[k] * dequant(W)[r][k], in Double, where round converts a token's
    /// row to the weight type's activation type (llama.cpp's vec_dot type) and back, as llama.cpp's
    /// CPU products do.
    static func reference(_ w: Tensor, _ x: [Float], tokens: Int) -> [Double] {
        let rows = (0..<w.rows).map { w.dequantizedRow($0) }
        let activation = w.type.activationType!
        let rounded = (0..<tokens).flatMap { t -> [Float] in
            let row = Array(x[(t * w.cols)..<((t + 1) * w.cols)])
            return activation == .f32 ? row : Reference.dequantize(Reference.quantize(row, activation), activation, count: w.cols)
        }
        var y = [Double](repeating: 0, count: tokens * w.rows)
        for t in 0..<tokens { for r in 0..<w.rows {
            var s = 0.0
            for k in 0..<w.cols { s += Double(rounded[t * w.cols + k]) * Double(rows[r][k]) }
            y[t * w.rows + r] = s
        } }
        return y
    }

    @Test(arguments: DType.weightTypes)
    func gemmMatchesReferenceOnEdgeShapes(type: DType) throws {
        let pool = ThreadPool(threads: 2)
        let scratch = MatMulScratch(threads: 2)
        let cols = type.isQuantized ? 512 : 300  // 300: K not a multiple of the 256 K-block
        // (103, 161): 18 token panels (two blocks of 16, the last partial), 11 weight panels taken
        // two at a time (GEMM.panelsPerGroup with 2 threads), the last panel holding one row.
        // Formats with an integer GEMM: the f32-panel path it replaces is checked too.
        var paths = type.weightFormat is any IntegerGEMMFormat.Type ? [false, true] : [false]
        #if CTXBENCH_VNNI
        if type.weightFormat is any VNNIWeightFormat.Type { paths = [false, true] }  // VNNIGEMM and f32 panels
        #endif
        for (tokens, rows) in [(1, 1), (7, 19), (13, 33), (103, 161)] {
            let w = try Tensor.quantizing(Reference.random(rows * cols, seed: 3, scale: 0.2), rows: rows, cols: cols, as: type)
            let x = Reference.random(tokens * cols, seed: 4)
            let expected = Self.reference(w, x, tokens: tokens)
            for floatPanels in paths {
                var y = [Float](repeating: .nan, count: tokens * rows)
                x.withUnsafeBufferPointer { xp in y.withUnsafeMutableBufferPointer { yp in
                    GEMM.multiply(w, xp.baseAddress!, tokens: tokens, yp.baseAddress!, pool: pool, scratch: scratch,
                                  floatPanels: floatPanels)
                } }
                for i in 0..<y.count {
                    #expect(abs(Double(y[i]) - expected[i]) < 1e-3 * max(1, abs(expected[i])),
                            "\(type) \(tokens)x\(rows) [\(i)] floatPanels \(floatPanels)")
                }
            }
        }
    }

    /// Products of one input with several weights in one call (gate and up, q/k/v) equal one call
    /// each, bit for bit: 64, 19 and 96 rows (full and partial weight panels, groups of the three
    /// shared out in one region), at 103 tokens and at 300 (over `regroupedPanelMaximumTokens`).
    /// The f16 weights have decode copies in the batched call and none in the single ones, so on
    /// AVX-512 VNNI builds the panels widened from the copy are checked against packed stored rows.
    @Test(arguments: [DType.f16, .f32, .q8_0, .q4_K])
    func gemmOfSeveralProductsEqualsOneEach(type: DType) throws {
        let pool = ThreadPool(threads: 2)
        let scratch = MatMulScratch(threads: 2)
        let cols = 512
        let weights = try [64, 19, 96].enumerated().map { i, rows in
            try Tensor.quantizing(Reference.random(rows * cols, seed: UInt64(60 + i), scale: 0.2), rows: rows, cols: cols, as: type)
        }
        let storedRows = try weights.map { try Tensor(type: $0.type, rows: $0.rows, cols: $0.cols, data: $0.data, owner: $0) }
        for w in weights { try w.interleaveForDecode(pool: pool) }
        for tokens in [103, 300] {
            let x = Reference.random(tokens * cols, seed: 61)
            var batched = weights.map { [Float](repeating: .nan, count: tokens * $0.rows) }
            var single = batched
            x.withUnsafeBufferPointer { xp in
                let outputs = weights.map { UnsafeMutablePointer<Float>.allocate(capacity: tokens * $0.rows) }
                defer { for p in outputs { p.deallocate() } }
                // NaN before each pass, so an output one pass does not write cannot match the other's.
                for i in weights.indices { outputs[i].initialize(repeating: .nan, count: tokens * weights[i].rows) }
                GEMM.multiply(weights.indices.map { (weights[$0], outputs[$0]) }, xp.baseAddress!, tokens: tokens,
                              pool: pool, scratch: scratch)
                for i in weights.indices { batched[i] = Array(UnsafeBufferPointer(start: outputs[i], count: tokens * weights[i].rows)) }
                for i in weights.indices {
                    outputs[i].update(repeating: .nan, count: tokens * weights[i].rows)
                    GEMM.multiply(storedRows[i], xp.baseAddress!, tokens: tokens, outputs[i], pool: pool, scratch: scratch)
                    single[i] = Array(UnsafeBufferPointer(start: outputs[i], count: tokens * weights[i].rows))
                }
            }
            for i in weights.indices {
                let mismatch = batched[i].indices.first { batched[i][$0] != single[i][$0] }
                #expect(mismatch == nil, "\(type) \(tokens) tokens, product \(i): first difference at \(mismatch ?? -1)")
            }
            #expect(batched.allSatisfy { $0.allSatisfy { $0.isFinite } })
        }
    }

    /// GEMM.multiplyRows (KDA's chunk products) against plain sums, with strided operands: 16 rows
    /// (two panels and a partial one), 128 rows (a partial last panel of 2), and a width that is no
    /// multiple of the microkernel's tile (the row-by-row path); with and without accumulating.
    @Test(arguments: [(16, 32, 64), (128, 16, 32), (5, 7, 24)])
    func multiplyRowsMatchesPlainSums(m: Int, kc: Int, dim: Int) {
        let lda = kc + 3, ldb = dim + 5, ldo = dim + 7
        let a = Reference.random(m * lda, seed: 21), b = Reference.random(kc * ldb, seed: 22)
        let start = Reference.random(m * ldo, seed: 23)
        for accumulate in [false, true] {
            var out = start
            var scratch = [Float](repeating: .nan, count: GEMM.tileTokens * (kc + dim))
            a.withUnsafeBufferPointer { ap in b.withUnsafeBufferPointer { bp in
                out.withUnsafeMutableBufferPointer { op in scratch.withUnsafeMutableBufferPointer { sp in
                    GEMM.multiplyRows(ap.baseAddress!, lda: lda, rows: m, kc: kc, bp.baseAddress!, ldb: ldb, dim: dim,
                                      op.baseAddress!, ldo: ldo, accumulate: accumulate, scratch: sp.baseAddress!)
                } }
            } }
            for i in 0..<m { for j in 0..<ldo {
                guard j < dim else {
                    #expect(out[i * ldo + j] == start[i * ldo + j], "past dim: row \(i) col \(j) written")
                    continue
                }
                var expected = accumulate ? Double(start[i * ldo + j]) : 0
                for p in 0..<kc { expected += Double(a[i * lda + p]) * Double(b[p * ldb + j]) }
                #expect(abs(Double(out[i * ldo + j]) - expected) < 1e-4 * max(1, abs(expected)),
                        "\(m)x\(kc)x\(dim) accumulate \(accumulate) [\(i), \(j)]")
            } }
        }
    }

    @Test(arguments: DType.weightTypes)
    func gemvMatchesPerRowDots(type: DType) throws {
        let pool = ThreadPool(threads: 2)
        let scratch = MatMulScratch(threads: 2)
        // 352 and 32 columns: 11 and 1 blocks of 32, tails for the 8-block loops (q8_0, q4_0's pairs).
        for cols in type.blockValues == 32 ? [512, 352, 32] : [512] {
            try gemvMatchesPerRowDots(type: type, cols: cols, pool: pool, scratch: scratch)
        }
    }

    func gemvMatchesPerRowDots(type: DType, cols: Int, pool: ThreadPool, scratch: MatMulScratch) throws {
        let rows = 37
        let w = try Tensor.quantizing(Reference.random(rows * cols, seed: 5, scale: 0.2), rows: rows, cols: cols, as: type)
        let x = Reference.random(cols, seed: 6)
        var y = [Float](repeating: .nan, count: rows)
        x.withUnsafeBufferPointer { xp in y.withUnsafeMutableBufferPointer { yp in
            GEMV.multiply(w, xp.baseAddress!, yp.baseAddress!, pool: pool, scratch: scratch)
        } }
        // The activation as llama.cpp's vec_dot sees it: converted to the weights' activation type.
        let activation = Reference.quantize(x, type.activationType!)
        for r in 0..<rows {
            let rowBytes = Array(UnsafeRawBufferPointer(start: w.row(r), count: w.rowBytes))
            let expected = Reference.dot(rowBytes, type, activation, type.activationType!, count: cols)
            #expect(abs(Double(y[r]) - expected) < 1e-4 * max(1, abs(expected)), "\(type) row \(r)")
        }
        // And GEMV agrees with GEMM within the activation quantization error.
        var z = [Float](repeating: .nan, count: rows)
        x.withUnsafeBufferPointer { xp in z.withUnsafeMutableBufferPointer { zp in
            GEMM.multiply(w, xp.baseAddress!, tokens: 1, zp.baseAddress!, pool: pool, scratch: scratch)
        } }
        let scale = Reference.rms(z)
        for r in 0..<rows { #expect(abs(y[r] - z[r]) < 0.05 * Float(scale) + 1e-4, "\(type) row \(r)") }
    }

    /// The 16-row regrouping of q4_K, q5_K, q6_K, q8_0, q5_0 and f16 (decode's layout on VNNI
    /// builds) holds every row's blocks byte for byte, and a row slice at a group boundary shares it.
    @Test(arguments: [DType.q4_K, .q5_K, .q6_K, .q8_0, .q5_0, .f16])
    func interleavedWeightsHoldEveryRowsBlocks(type: DType) throws {
        let rows = 48, cols = 512
        let w = try Tensor.quantizing(Reference.random(rows * cols, seed: 9, scale: 0.2), rows: rows, cols: cols, as: type)
        let layout = try #require(try InterleavedWeights.regrouping(w))
        #expect(layout.groups == 3 && layout.byteCount == w.byteCount)
        for r in 0..<rows {
            for b in 0..<(cols / type.blockValues) {
                let stored = Array(UnsafeRawBufferPointer(start: w.row(r) + b * type.blockBytes, count: type.blockBytes))
                #expect(layout.block(row: r, b) == stored, "row \(r) block \(b)")
            }
        }
        let tail = layout.groups(1..<3)
        #expect(tail.block(row: 0, 1) == layout.block(row: 16, 1))
        // Rows not a multiple of 16, or a type without a unit: no regrouping.
        #expect(try InterleavedWeights.regrouping(w.rows(0..<40)) == nil)
        #expect(try InterleavedWeights.regrouping(try Tensor(type: .bf16, rows: 16, cols: 256)) == nil)
    }

    #if CTXBENCH_VNNI
    /// Decode's GEMV on regrouped q4_K, q5_K, q6_K, q8_0, q5_0 and f16 (`Q4_KInterleaved.dotGroup`
    /// and the others, through `GEMV.multiply` on 2 threads) equals a scalar model bit for bit: per row
    /// and block, the exact int32 sum read from the stored rows, q4_K's and q5_K's
    /// Σ_j scale_j * (levels_j · a_j) and Σ_j min_j * (Σ a_j), then acc = fma(Float(sum), d * d_a,
    /// acc), acc = fma(Float(mins), -(dmin * d_a), acc); q6_K's Σ_j scale_j * ((levels_j - 32) ·
    /// a_j), q8_0's q · a and q5_0's (level - 16) · a (against q8_0 activations), then
    /// acc = fma(Float(sum), d * d_a, acc);
    /// f16's column c into accumulator c % 4, acc = fma(w, a, acc) (a rounded to f16), then
    /// (acc0 + acc1) + (acc2 + acc3). 80 rows (5 groups, split unevenly over the threads),
    /// 3 super-blocks (24 blocks of 32, 768 f16 columns); also an expert-like slice, and the row
    /// layout's GEMV to rounding.
    @Test(arguments: [DType.q4_K, .q5_K, .q6_K, .q8_0, .q5_0, .f16])
    func interleavedGEMVEqualsItsScalarModel(type: DType) throws {
        let rows = 80, cols = 768
        let pool = ThreadPool(threads: 2)
        let scratch = MatMulScratch(threads: 2)
        let w = try Tensor.quantizing(Reference.random(rows * cols, seed: 10, scale: 0.2), rows: rows, cols: cols, as: type)
        let x = Reference.random(cols, seed: 11, scale: 3)
        var rowLayout = [Float](repeating: .nan, count: rows)
        x.withUnsafeBufferPointer { xp in rowLayout.withUnsafeMutableBufferPointer { yp in
            GEMV.multiply(w, xp.baseAddress!, yp.baseAddress!, pool: pool, scratch: scratch)
        } }
        #expect(try w.interleaveForDecode(pool: pool) == w.byteCount)
        #expect(w.decodeLayout != nil && w.rows(16..<48).decodeLayout != nil && w.rows(8..<24).decodeLayout == nil)
        let activationType = type.weightFormat!.activationType
        var a = [UInt8](repeating: 0, count: activationType.rowBytes(cols))
        x.withUnsafeBufferPointer { xp in a.withUnsafeMutableBytes { activationType.format.quantize(xp.baseAddress!, $0.baseAddress!, count: cols) } }
        func model(_ r: Int) -> Float {
            a.withUnsafeBytes { ap in
                var acc: Float = 0
                if type == .f16 {
                    var partial = [Float](repeating: 0, count: 4)
                    for c in 0..<cols { partial[c % 4] = partial[c % 4].addingProduct(UnsafeRawPointer(w.row(r)).f16(at: 2 * c), ap.baseAddress!.f16(at: 2 * c)) }
                    return (partial[0] + partial[1]) + (partial[2] + partial[3])
                }
                if type == .q8_0 || type == .q5_0 {
                    for b in 0..<(cols / 32) {
                        let block = UnsafeRawPointer(w.row(r)) + b * type.blockBytes, ab = ap.baseAddress! + b * 34
                        var sum: Int32 = 0
                        for i in 0..<32 {
                            let level: Int32
                            if type == .q8_0 {
                                level = Int32(block.load(fromByteOffset: 2 + i, as: Int8.self))
                            } else {
                                let qh = block.loadUnaligned(fromByteOffset: 2, as: UInt32.self), byte = block.load(fromByteOffset: 6 + i % 16, as: UInt8.self)
                                level = Int32(i < 16 ? byte & 0x0F : byte >> 4) | Int32((qh >> i) & 1) << 4 - 16
                            }
                            sum += level * Int32(ab.load(fromByteOffset: 2 + i, as: Int8.self))
                        }
                        acc = acc.addingProduct(Float(sum), block.f16(at: 0) * ab.f16(at: 0))
                    }
                    return acc
                }
                for b in 0..<(cols / 256) {
                    let block = UnsafeRawPointer(w.row(r)) + b * type.blockBytes
                    let ab = ap.baseAddress! + b * Q8_KFormat.blockBytes
                    let qa = (ab + Q8_KFormat.qsOffset).assumingMemoryBound(to: Int8.self)
                    let da = Q8_KFormat.scale(ab)
                    if type != .q6_K {
                        let scales = (block + Q4_KFormat.scalesOffset).assumingMemoryBound(to: UInt8.self)
                        let qs = (block + (type == .q5_K ? Q5_KFormat.qsOffset : Q4_KFormat.qsOffset)).assumingMemoryBound(to: UInt8.self)
                        var sum: Int32 = 0, mins: Int32 = 0
                        for j in 0..<8 {
                            let (scale, min) = Q4_KFormat.scaleMin(scales, j)
                            var dot: Int32 = 0
                            for l in 0..<32 {
                                let byte = qs[j / 2 * 32 + l]
                                let fifth = type == .q5_K ? (block.load(fromByteOffset: Q5_KFormat.qhOffset + l, as: UInt8.self) >> j) & 1 : 0
                                dot += Int32((j % 2 == 0 ? byte & 0x0F : byte >> 4) | fifth << 4) * Int32(qa[32 * j + l])
                            }
                            sum += scale * dot
                            mins += min * (Q8_KFormat.bsum(ab, 2 * j) + Q8_KFormat.bsum(ab, 2 * j + 1))
                        }
                        acc = acc.addingProduct(Float(sum), block.f16(at: 0) * da)
                        acc = acc.addingProduct(Float(mins), -(block.f16(at: 2) * da))
                    } else {
                        let ql = block.assumingMemoryBound(to: UInt8.self)
                        let qh = (block + Q6_KFormat.qhOffset).assumingMemoryBound(to: UInt8.self)
                        let scales = (block + Q6_KFormat.scalesOffset).assumingMemoryBound(to: Int8.self)
                        var sum: Int32 = 0
                        for j in 0..<16 {
                            var dot: Int32 = 0
                            for i in 16 * j ..< 16 * j + 16 { dot += (Q6_KFormat.level(ql, qh, i) - 32) * Int32(qa[i]) }
                            sum += Int32(scales[j]) * dot
                        }
                        acc = acc.addingProduct(Float(sum), block.f16(at: Q6_KFormat.dOffset) * da)
                    }
                }
                return acc
            }
        }
        var y = [Float](repeating: .nan, count: rows)
        x.withUnsafeBufferPointer { xp in y.withUnsafeMutableBufferPointer { yp in
            GEMV.multiply(w, xp.baseAddress!, yp.baseAddress!, pool: pool, scratch: scratch)
        } }
        for r in 0..<rows {
            #expect(y[r].bitPattern == model(r).bitPattern, "\(type) row \(r): \(y[r]) vs \(model(r))")
            #expect(abs(y[r] - rowLayout[r]) <= 1e-5 * max(1, abs(rowLayout[r])), "\(type) row \(r) against the row layout")
        }
        var slice = [Float](repeating: .nan, count: 32)
        x.withUnsafeBufferPointer { xp in slice.withUnsafeMutableBufferPointer { yp in
            GEMV.multiply(w.rows(32..<64), xp.baseAddress!, yp.baseAddress!, pool: pool, scratch: scratch)
        } }
        #expect(slice == Array(y[32..<64]))
    }

    /// VNNIGEMM's every output equals its scalar model bit for bit: over the sub-blocks in order,
    /// acc = fma(Float(S_j), step_j * d_a, acc), S_j the exact integer dot of the weight sub-block's
    /// signed values (levels - bias) with the token's levels (quantized as the GEMV quantizes
    /// them), then for q4_K and q5_K acc = fma(offset_j, d_a * Σ a, acc). 19 tokens: two tiles of 8
    /// and a padded one; 45 rows: a panel of 32 and one of a full group and a group of 5; 11 blocks
    /// of 32 or 2 of 256.
    @Test(arguments: [DType.q8_0, .q4_0, .q5_0, .q4_K, .q5_K, .q6_K])
    func vnniGEMMEqualsItsScalarModel(type: DType) throws {
        let format = try #require(type.weightFormat as? any VNNIWeightFormat.Type)
        let pool = ThreadPool(threads: 2)
        let scratch = MatMulScratch(threads: 2)
        let (tokens, rows, cols) = (19, 45, type.blockValues == 32 ? 352 : 512)
        let values = format.vnniSubBlockValues, bias = format.vnniLevelBias
        let w = try Tensor.quantizing(Reference.random(rows * cols, seed: 9, scale: 0.2), rows: rows, cols: cols, as: type)
        let x = Reference.random(tokens * cols, seed: 10)
        var y = [Float](repeating: .nan, count: tokens * rows)
        x.withUnsafeBufferPointer { xp in y.withUnsafeMutableBufferPointer { yp in
            VNNIGEMM.multiply(format, w, xp.baseAddress!, tokens: tokens, yp.baseAddress!, pool: pool, scratch: scratch)
        } }
        let activationType = try #require(type.activationType)
        var activation = [UInt8](repeating: 0, count: activationType.rowBytes(cols))
        var differing = 0
        for t in 0..<tokens {
            x.withUnsafeBufferPointer { xp in
                let row = xp.baseAddress! + t * cols
                if activationType == .q8_0 {
                    Q8_0Format.quantizeReference(row, &activation, count: cols)
                } else {
                    Q8_KFormat.quantizeReference(row, &activation, count: cols)
                }
            }
            for r in 0..<rows {
                var acc: Float = 0
                activation.withUnsafeBytes { a in
                    for j in 0..<(cols / values) {
                        // The activation sub-block: its levels and scale (q8_K: its block's).
                        let first = j * values
                        let (levelsAt, da): (UnsafeRawPointer, Float) = activationType == .q8_0
                            ? (a.baseAddress! + first / 32 * Q8_0Format.blockBytes + 2, a.baseAddress!.f16(at: first / 32 * Q8_0Format.blockBytes))
                            : (a.baseAddress! + first / 256 * Q8_KFormat.blockBytes + 4 + first % 256,
                               a.baseAddress!.load(fromByteOffset: first / 256 * Q8_KFormat.blockBytes, as: Float.self))
                        let qa = (0..<values).map { Int32(levelsAt.load(fromByteOffset: $0, as: Int8.self)) }
                        let block = w.row(r) + first / type.blockValues * type.blockBytes, inBlock = first % type.blockValues
                        let part = format.vnniStep(block, inBlock / values)
                        let levels = format.vnniLevels(block, inBlock / 32)
                        let qw = withUnsafeBytes(of: levels) { Array($0)[(inBlock % 32)..<(inBlock % 32 + values)].map { Int32($0) - bias } }
                        let s = zip(qw, qa).reduce(Int32(0)) { $0 + $1.0 * $1.1 }
                        acc.addProduct(Float(s), part.step * da)
                        if format.hasOffsets { acc.addProduct(part.offset, da * Float(qa.reduce(0, +))) }
                    }
                }
                if y[t * rows + r] != acc { differing += 1 }
            }
        }
        #expect(differing == 0, "\(type): \(differing) of \(y.count) outputs differ from the scalar model")
    }

    /// VNNIGEMM takes every format it has a layout for from that format's minimum tokens (the
    /// K-quants' fewer go to IntegerGEMM), and no other format.
    @Test func vnniGEMMTakesItsFormats() throws {
        let pool = ThreadPool(threads: 1)
        let scratch = MatMulScratch(threads: 1)
        let minimum: [DType: Int] = [.q8_0: 1, .q4_0: 1, .q5_0: 1, .q4_K: 32, .q5_K: 32, .q6_K: 64]
        for type in [DType.q8_0, .q4_0, .q5_0, .q4_K, .q5_K, .q6_K, .f16] {
            let w = try Tensor.quantizing(Reference.random(8 * 256, seed: 12), rows: 8, cols: 256, as: type)
            for tokens in [4, 31, 32, 63, 64] {
                let x = Reference.random(tokens * 256, seed: 13)
                var y = [Float](repeating: 0, count: tokens * 8)
                let taken = x.withUnsafeBufferPointer { xp in y.withUnsafeMutableBufferPointer { yp in
                    VNNIGEMM.multiplyIfSupported(w, xp.baseAddress!, tokens: tokens, yp.baseAddress!, pool: pool, scratch: scratch)
                } }
                #expect(taken == (minimum[type].map { tokens >= $0 } ?? false), "\(type), \(tokens) tokens")
            }
        }
    }

    /// The levels, steps and offsets VNNIGEMM packs give the format's own dequantization.
    @Test(arguments: [DType.q8_0, .q4_0, .q5_0, .q4_K, .q5_K, .q6_K])
    func vnniLevelsAndStepsDequantizeAsTheFormat(type: DType) throws {
        let format = try #require(type.weightFormat as? any VNNIWeightFormat.Type)
        let values = format.vnniSubBlockValues, bias = Float(format.vnniLevelBias)
        let w = try Tensor.quantizing(Reference.random(3 * 512, seed: 11, scale: 0.2), rows: 3, cols: 512, as: type)
        for r in 0..<3 {
            let expected = w.dequantizedRow(r)
            for i in 0..<512 {
                let block = w.row(r) + i / type.blockValues * type.blockBytes, inBlock = i % type.blockValues
                let levels = format.vnniLevels(block, inBlock / 32)
                let level = withUnsafeBytes(of: levels) { Float($0[inBlock % 32]) - bias }
                let (step, offset) = format.vnniStep(block, inBlock / values)
                #expect(abs(step * level + offset - expected[i]) <= 1e-6, "\(type) row \(r) [\(i)]")
            }
        }
    }
    #endif

    /// The integer GEMM computes each output exactly as the GEMV's dot computes it for that token
    /// (the same integer sums and float operations), so a prefill and a decode step of the same
    /// token give bit-identical projections (called directly: VNNI builds send q4_K and q5_K prefill
    /// to VNNIGEMM instead). 15 tokens: tiles of four (of eight and four with
    /// AVX-512) and a tail of three;
    /// 37 rows: panels of 4 (37 / (4 x 2 threads)) and a last partial one.
    @Test(arguments: [DType.q4_K, .q5_K, .q6_K])
    func integerGEMMEqualsPerTokenGEMV(type: DType) throws {
        #if CTXBENCH_AVX2
        #expect(type.weightFormat is any IntegerGEMMFormat.Type)
        #endif
        let pool = ThreadPool(threads: 2)
        let scratch = MatMulScratch(threads: 2)
        let (tokens, rows, cols) = (15, 37, 768)
        let w = try Tensor.quantizing(Reference.random(rows * cols, seed: 7, scale: 0.2), rows: rows, cols: cols, as: type)
        let x = Reference.random(tokens * cols, seed: 8)
        var gemm = [Float](repeating: .nan, count: tokens * rows)
        var gemv = gemm
        x.withUnsafeBufferPointer { xp in
            gemm.withUnsafeMutableBufferPointer { yp in
                #if CTXBENCH_AVX2
                let format = type.weightFormat as! any IntegerGEMMFormat.Type
                IntegerGEMM.multiply(format, w, xp.baseAddress!, tokens: tokens, yp.baseAddress!, pool: pool, scratch: scratch)
                #else
                GEMM.multiply(w, xp.baseAddress!, tokens: tokens, yp.baseAddress!, pool: pool, scratch: scratch)
                #endif
            }
            gemv.withUnsafeMutableBufferPointer { yp in
                for t in 0..<tokens {
                    GEMV.multiply(w, xp.baseAddress! + t * cols, yp.baseAddress! + t * rows, pool: pool, scratch: scratch)
                }
            }
        }
        let differing = gemm.indices.filter { gemm[$0] != gemv[$0] }
        #expect(differing.isEmpty, "\(type): \(differing.count) of \(gemm.count) outputs differ, first at \(differing.first ?? -1)")
        #expect(gemm.allSatisfy { $0.isFinite })
    }

    @Test func batchedGEMVEqualsOneCallPerJob() throws {
        // Mixed types and shapes, two jobs sharing an input, one job with a different input.
        let pool = ThreadPool(threads: 2)
        let scratch = MatMulScratch(threads: 2)
        let shapes: [(DType, Int, Int)] = [(.q8_0, 37, 256), (.q4_K, 5, 256), (.f16, 64, 256), (.q6_K, 300, 512),
                                           (.q4_0, 9, 256), (.q4_0, 11, 512)]
        let tensors = try shapes.enumerated().map { i, s in
            try Tensor.quantizing(Reference.random(s.1 * s.2, seed: UInt64(40 + i), scale: 0.1), rows: s.1, cols: s.2, as: s.0)
        }
        // The f16 matrix regrouped on VNNI builds: pieces then round to groups of 16 rows.
        try tensors[2].interleaveForDecode()
        let x256 = Reference.random(256, seed: 50), x512 = Reference.random(512, seed: 51)
        var batched = tensors.map { [Float](repeating: .nan, count: $0.rows) }
        var single = batched, pieces = batched
        x256.withUnsafeBufferPointer { a in x512.withUnsafeBufferPointer { b in
            func input(_ t: Tensor) -> UnsafePointer<Float> { t.cols == 256 ? a.baseAddress! : b.baseAddress! }
            var outputs = batched.map { _ in UnsafeMutablePointer<Float>.allocate(capacity: 512) }
            let jobs = tensors.indices.map { GEMV.Job(tensors[$0], input(tensors[$0]), outputs[$0]) }
            // In pieces of about 1 KB (32 of them, threads taking them as they come free): every
            // row once, however the pieces fall across rows and jobs.
            for i in tensors.indices { outputs[i].update(repeating: .nan, count: 512) }
            GEMV.multiply(jobs, pool: pool, scratch: scratch, minimumPieceBytes: 1024)
            for i in tensors.indices { pieces[i] = Array(UnsafeBufferPointer(start: outputs[i], count: tensors[i].rows)) }
            GEMV.multiply(jobs, pool: pool, scratch: scratch)
            for i in tensors.indices { batched[i] = Array(UnsafeBufferPointer(start: outputs[i], count: tensors[i].rows)) }
            for i in tensors.indices {
                GEMV.multiply(tensors[i], input(tensors[i]), outputs[i], pool: pool, scratch: scratch)
                single[i] = Array(UnsafeBufferPointer(start: outputs[i], count: tensors[i].rows))
            }
            for p in outputs { p.deallocate() }
            outputs = []
        } }
        #expect(batched == single)
        #expect(pieces == single)
        #expect(batched.allSatisfy { $0.allSatisfy { $0.isFinite } })
    }
}
