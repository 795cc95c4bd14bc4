import CtxEngine
import Foundation

/// A kernel microbenchmark case: GEMV (one token, rows x cols) or GEMM (tokens x rows x cols).
public struct KernelShape: Sendable, Equatable, Codable, CustomStringConvertible {
    public var tokens: Int  // 1 means GEMV
    public var rows: Int
    public var cols: Int

    public var isGEMV: Bool { tokens == 1 }
    public var description: String { isGEMV ? "\(rows)x\(cols)" : "\(tokens)x\(rows)x\(cols)" }

    public init(tokens: Int, rows: Int, cols: Int) {
        self.tokens = tokens
        self.rows = rows
        self.cols = cols
    }

    /// "4096x4096" (GEMV rows x cols) or "512x2048x2048" (GEMM tokens x rows x cols).
    public init?(parsing text: String) {
        let parts = text.lowercased().split(separator: "x").map { Int($0) }
        guard parts.allSatisfy({ ($0 ?? 0) > 0 }) else { return nil }
        switch parts.count {
        case 2: self.init(tokens: 1, rows: parts[0]!, cols: parts[1]!)
        case 3: self.init(tokens: parts[0]!, rows: parts[1]!, cols: parts[2]!)
        default: return nil
        }
    }
}

/// One measured kernel case.
public struct KernelResult: Codable, Sendable {
    public var kernel: String        // "gemv", "gemv-rows" (see `gemv`), "gemv-cached", "gemm", "gemm-f32" or "gemm-rows" (see `gemm`)
    public var type: DType
    public var shape: KernelShape
    public var threads: Int
    /// Distinct weight matrices cycled through (GEMV: enough to exceed 4x the last-level cache).
    public var matrices: Int
    public var samples: Int
    public var medianNanoseconds: Double
    /// Weight bytes read per call / median time.
    public var weightGBps: Double
    /// 2 * tokens * rows * cols / median time.
    public var gflops: Double
    /// The limit each kernel is held to, probed next to it: GEMV, the calibration read kernel's
    /// bandwidth over the same matrices; GEMM, an FMA-chain burst on the same pool. Each sample of
    /// the kernel is followed by one of its probe, so the fraction does not move with a shared
    /// machine's drift between moments of a run (measured here: a GEMM fraction against an FMA
    /// peak taken minutes earlier moved by 15 points). nil where the limit does not bound the kernel.
    public var referenceReadGBps: Double?
    public var referenceFMAGFLOPs: Double?
    /// weightGBps / referenceReadGBps (GEMV).
    public var fractionOfReadBandwidth: Double?
    /// gflops / referenceFMAGFLOPs (GEMM).
    public var fractionOfFMAPeak: Double?
}

/// Runs `ctxbench kernels`: GEMV from DRAM and GEMM per weight type and shape.
public struct KernelBenchmark {
    public var types: [DType]
    public var shapes: [KernelShape]
    public var threads: Int
    public var lastLevelCacheBytes: Int
    public var minimumSeconds: Double = 0.5
    public var seed: UInt64 = 1
    /// Use one matrix instead of cycling: GEMV from cache, to see the kernel's compute speed.
    public var cacheResident = false

    public init(types: [DType], shapes: [KernelShape], threads: Int, lastLevelCacheBytes: Int) {
        self.types = types
        self.shapes = shapes
        self.threads = threads
        self.lastLevelCacheBytes = lastLevelCacheBytes
    }

    public func run(pool: ThreadPool, progress: (String) -> Void = { _ in }) throws -> [KernelResult] {
        let scratch = MatMulScratch(threads: pool.threadCount)
        var results: [KernelResult] = []
        for shape in shapes {
            for type in types {
                try type.checkRowLength(shape.cols)
                let measured = shape.isGEMV
                    ? try gemv(type, shape, pool: pool, scratch: scratch)
                    : try gemm(type, shape, pool: pool, scratch: scratch)
                for result in measured {
                    progress(String(format: "%@ %@ %@: %.1f us, %.1f GB/s, %.1f GFLOP/s", result.kernel, type.rawValue,
                                    shape.description, result.medianNanoseconds / 1000, result.weightGBps, result.gflops))
                }
                results.append(contentsOf: measured)
            }
        }
        return results
    }

    /// One quantized matrix with deterministic content, quantized row-parallel on the pool.
    func makeMatrix(_ type: DType, rows: Int, cols: Int, pool: ThreadPool) throws -> Tensor {
        let tensor = try Tensor(type: type, rows: rows, cols: cols)
        pool.parallelFor(rows, schedule: .dynamic(chunk: 16)) { range, _ in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: cols) { row in
                for r in range {
                    var random = SeededRandom(seed: seed, stream: UInt64(r))
                    random.fill(row.baseAddress!, count: cols, scale: 0.02)
                    type.format.quantize(row.baseAddress!, tensor.row(r), count: cols)
                }
            }
        }
        return tensor
    }

    /// A copy of `source` in new memory (first-touched by the pool), to cycle through for DRAM tests.
    func copy(_ source: Tensor, pool: ThreadPool) throws -> Tensor {
        let tensor = try Tensor(type: source.type, rows: source.rows, cols: source.cols)
        pool.parallelFor(source.rows) { range, _ in
            tensor.row(range.lowerBound).copyMemory(from: source.row(range.lowerBound), byteCount: range.count * source.rowBytes)
        }
        return tensor
    }

    /// GEMV samples. Where the engine's decode reads a layout of its own (`Tensor.decodeLayout`:
    /// the quantized and f16 matrices regrouped 16 rows at a time on AVX-512 VNNI builds), "gemv" measures that and
    /// "gemv-rows" the stored rows it replaces, measured first, on the same matrices.
    func gemv(_ type: DType, _ shape: KernelShape, pool: ThreadPool, scratch: MatMulScratch) throws -> [KernelResult] {
        let first = try makeMatrix(type, rows: shape.rows, cols: shape.cols, pool: pool)
        let bytes = first.byteCount
        // Cycle through enough matrices that the set is 4x the last-level cache: every call reads
        // from DRAM, as a decode step reading a model's weights does.
        let count = cacheResident ? 1 : max(2, (4 * lastLevelCacheBytes + bytes - 1) / bytes)
        var matrices = [first]
        for _ in 1..<count { matrices.append(try copy(first, pool: pool)) }
        guard InterleavedWeights.takes(first) else {
            return [try gemv(type, shape, matrices: matrices, suffix: "", pool: pool, scratch: scratch)]
        }
        let stored = try gemv(type, shape, matrices: matrices, suffix: "-rows", pool: pool, scratch: scratch)
        for m in matrices { try m.interleaveForDecode(pool: pool) }
        return [stored, try gemv(type, shape, matrices: matrices, suffix: "", pool: pool, scratch: scratch)]
    }

    /// GEMV samples over `matrices` as they are; the kernel is named "gemv" (or "gemv-cached") + `suffix`.
    func gemv(_ type: DType, _ shape: KernelShape, matrices: [Tensor], suffix: String, pool: ThreadPool,
              scratch: MatMulScratch) throws -> KernelResult {
        let count = matrices.count, bytes = matrices[0].byteCount
        var x = [Float](repeating: 0, count: shape.cols)
        var random = SeededRandom(seed: seed, stream: 1 << 40)
        x.withUnsafeMutableBufferPointer { random.fill($0.baseAddress!, count: shape.cols) }
        var y = [Float](repeating: 0, count: shape.rows)
        var samples: [Double] = []
        var readSamples: [Double] = []
        x.withUnsafeBufferPointer { xp in
            y.withUnsafeMutableBufferPointer { yp in
                for m in matrices { GEMV.multiply(m, xp.baseAddress!, yp.baseAddress!, pool: pool, scratch: scratch) }
                let start = monotonicNanoseconds()
                var i = 0
                while samples.count < 20 || Double(monotonicNanoseconds() - start) < minimumSeconds * 1e9 {
                    let t0 = monotonicNanoseconds()
                    GEMV.multiply(matrices[i % count], xp.baseAddress!, yp.baseAddress!, pool: pool, scratch: scratch)
                    samples.append(Double(monotonicNanoseconds() - t0))
                    // The same bytes through the calibration read kernel, on the matrix used next
                    // but one (so it comes from the same level of the memory hierarchy).
                    let other = matrices[(i + count / 2) % count]
                    let floats = bytes / 4
                    let base = UnsafePointer(other.data.assumingMemoryBound(to: Float.self))
                    let t1 = monotonicNanoseconds()
                    pool.parallelFor(floats) { range, _ in blackHole(MemoryKernels.sum(base + range.lowerBound, range.count)) }
                    readSamples.append(Double(monotonicNanoseconds() - t1))
                    i += 1
                }
            }
        }
        let readGBps = Double(bytes / 4 * 4) / Spread(readSamples).median
        return result((cacheResident ? "gemv-cached" : "gemv") + suffix, type, shape, matrices: count, samples: samples,
                      weightBytes: bytes, referenceReadGBps: readGBps, referenceFMAGFLOPs: nil)
    }

    /// GEMM samples, each followed by an FMA burst on the same pool. For formats with an integer
    /// GEMM (`IntegerGEMMFormat`), the f32-panel path it replaces is measured too, its samples
    /// alternating with the integer path's ("gemm-f32"), so the two are compared at the same moments.
    /// Likewise for f16 on AVX-512 VNNI builds, whose small GEMMs widen weight panels from the decode
    /// copy (`Tensor.decodeLayout`): "gemm" has one, "gemm-rows" packs the stored rows.
    func gemm(_ type: DType, _ shape: KernelShape, pool: ThreadPool, scratch: MatMulScratch) throws -> [KernelResult] {
        let w = try makeMatrix(type, rows: shape.rows, cols: shape.cols, pool: pool)
        var x = [Float](repeating: 0, count: shape.tokens * shape.cols)
        var random = SeededRandom(seed: seed, stream: 1 << 41)
        x.withUnsafeMutableBufferPointer { random.fill($0.baseAddress!, count: $0.count) }
        var y = [Float](repeating: 0, count: shape.tokens * shape.rows)
        var paths: [(kernel: String, w: Tensor, floatPanels: Bool)] = [("gemm", w, false)]
        if type.weightFormat is any IntegerGEMMFormat.Type { paths.append(("gemm-f32", w, true)) }
        if type == .f16, InterleavedWeights.takes(w) {
            paths.append(("gemm-rows", try Tensor(type: w.type, rows: w.rows, cols: w.cols, data: w.data, owner: w), false))
            try w.interleaveForDecode(pool: pool)
        }
        var samples = paths.map { _ in [Double]() }
        var fmaSamples: [Double] = []
        // An FMA burst of about a millisecond at this machine's peak after every GEMM sample.
        let iterations = max(1000, 200_000_000 / (MemoryKernels.fmaFlopsPerIteration * pool.threadCount))
        let burstFlops = Double(MemoryKernels.fmaFlopsPerIteration * iterations * pool.threadCount)
        x.withUnsafeBufferPointer { xp in
            y.withUnsafeMutableBufferPointer { yp in
                for path in paths {
                    GEMM.multiply(path.w, xp.baseAddress!, tokens: shape.tokens, yp.baseAddress!, pool: pool, scratch: scratch,
                                  floatPanels: path.floatPanels)
                }
                let start = monotonicNanoseconds()
                while samples[0].count < 5 || Double(monotonicNanoseconds() - start) < minimumSeconds * 1e9 {
                    for (i, path) in paths.enumerated() {
                        let t0 = monotonicNanoseconds()
                        GEMM.multiply(path.w, xp.baseAddress!, tokens: shape.tokens, yp.baseAddress!, pool: pool, scratch: scratch,
                                      floatPanels: path.floatPanels)
                        samples[i].append(Double(monotonicNanoseconds() - t0))
                        let t1 = monotonicNanoseconds()
                        pool.run { t in blackHole(MemoryKernels.fmaChains(iterations: iterations, seed: Float(t + 1))) }
                        fmaSamples.append(Double(monotonicNanoseconds() - t1))
                    }
                }
            }
        }
        let fma = burstFlops / Spread(fmaSamples).median
        return paths.enumerated().map { i, path in
            result(path.kernel, type, shape, matrices: 1, samples: samples[i], weightBytes: w.byteCount,
                   referenceReadGBps: nil, referenceFMAGFLOPs: fma)
        }
    }

    func result(_ kernel: String, _ type: DType, _ shape: KernelShape, matrices: Int, samples: [Double],
                weightBytes: Int, referenceReadGBps: Double?, referenceFMAGFLOPs: Double?) -> KernelResult {
        let median = Spread(samples).median
        let gbps = Double(weightBytes) / median
        let gflops = 2 * Double(shape.tokens) * Double(shape.rows) * Double(shape.cols) / median
        return KernelResult(kernel: kernel, type: type, shape: shape, threads: threads, matrices: matrices,
                            samples: samples.count, medianNanoseconds: median, weightGBps: gbps, gflops: gflops,
                            referenceReadGBps: referenceReadGBps, referenceFMAGFLOPs: referenceFMAGFLOPs,
                            fractionOfReadBandwidth: referenceReadGBps.map { gbps / $0 },
                            fractionOfFMAPeak: referenceFMAGFLOPs.map { gflops / $0 })
    }
}
