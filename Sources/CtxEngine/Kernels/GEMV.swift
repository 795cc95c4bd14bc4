/// Matrix-vector product for one token: y (rows,) = W (rows, cols) · x (cols,).
///
/// Memory-bound: every weight byte is read once, so speed is DRAM bandwidth times the format's
/// bytes per value. The rows are cut into pieces of contiguous bytes that the pool's threads take
/// as they come free, each piece one stream. x is first converted to the weight type's activation format (q8_0 or q8_K
/// for the integer dot products, f16 or bf16 for those weights), once per call, and, for formats with
/// a prepared layout (`WeightFormat.preparedActivationBytes`: q4_0 on AVX2), rearranged into it,
/// also once per call. A q4_K, q5_K, q6_K, q8_0, q5_0 or f16 matrix regrouped for decode (`Tensor.decodeLayout`,
/// AVX-512 VNNI builds) is read in groups of 16 rows instead (`InterleavedWeights`).
public enum GEMV {
    public static func multiply(_ w: Tensor, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                                pool: ThreadPool, scratch: MatMulScratch) {
        multiply([Job(w, x, y)], pool: pool, scratch: scratch)
    }

    /// One product of a batch: y = w · x.
    public struct Job {
        public var w: Tensor
        public var x: UnsafePointer<Float>
        public var y: UnsafeMutablePointer<Float>
        public init(_ w: Tensor, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) {
            self.w = w; self.x = x; self.y = y
        }
    }

    /// Several GEMVs in one parallel region: the products of a decode step that do not depend on
    /// each other (KDA's six input projections of one x; the chosen experts' projections).
    /// Each distinct (x, activation type) is quantized once; the jobs' rows are laid end to end and
    /// cut into pieces of contiguous bytes, so small matrices share threads evenly
    /// instead of each paying a fork/join and leaving threads idle at its tail.
    public static func multiply(_ jobs: [Job], pool: ThreadPool, scratch: MatMulScratch) {
        multiply(jobs, pool: pool, scratch: scratch, minimumPieceBytes: minimumPieceBytes)
    }

    /// The same with pieces of at least `minimumPieceBytes` (tests cut small matrices into many).
    static func multiply(_ jobs: [Job], pool: ThreadPool, scratch: MatMulScratch, minimumPieceBytes: Int) {
        guard !jobs.isEmpty else { return }
        // Distinct activations: (x, type, count) -> offset in the activation scratch.
        var keys: [(x: UnsafePointer<Float>, type: DType, count: Int, offset: Int)] = []
        var activationOf = [Int](repeating: 0, count: jobs.count)
        var bytes = 0
        for (j, job) in jobs.enumerated() {
            guard let format = job.w.type.weightFormat else { preconditionFailure("\(job.w.type) is not a weight type") }
            let type = format.activationType
            if let k = keys.firstIndex(where: { $0.x == job.x && $0.type == type && $0.count == job.w.cols }) {
                activationOf[j] = k
            } else {
                activationOf[j] = keys.count
                keys.append((job.x, type, job.w.cols, bytes))
                if type != .f32 { bytes += (type.rowBytes(job.w.cols) + 63) / 64 * 64 }
            }
        }
        // Prepared layouts: one per (activation, weight type) that has one.
        var prepared: [(key: Int, format: any WeightFormat.Type, offset: Int)] = []
        var preparedOf = [Int?](repeating: nil, count: jobs.count)
        for (j, job) in jobs.enumerated() {
            let format = job.w.type.weightFormat!
            let size = format.preparedActivationBytes(count: job.w.cols)
            guard size > 0 else { continue }
            if let p = prepared.firstIndex(where: { $0.key == activationOf[j] && $0.format.type == format.type }) {
                preparedOf[j] = p
            } else {
                preparedOf[j] = prepared.count
                prepared.append((activationOf[j], format, bytes))
                bytes += (size + 63) / 64 * 64
            }
        }
        let buffer = scratch.activationBuffer(bytes: bytes)
        let quantized = keys.indices.filter { keys[$0].type != .f32 }
        // Quantizes blocks `blocks` of activation k, then builds the same blocks of its prepared layouts.
        func convert(_ k: Int, blocks: Range<Int>) {
            let key = keys[k], values = key.type.blockValues
            key.type.format.quantize(key.x + blocks.lowerBound * values,
                                     buffer + key.offset + blocks.lowerBound * key.type.blockBytes,
                                     count: blocks.count * values)
            for p in prepared where p.key == k {
                p.format.prepareActivation(buffer + key.offset, buffer + p.offset, count: key.count, blocks: blocks)
            }
        }
        if quantized.count == 1, let k = quantized.first {
            // One activation (the common case): converted block-parallel.
            pool.parallelFor(keys[k].count / keys[k].type.blockValues) { range, _ in convert(k, blocks: range) }
        } else if quantized.count > 1 {
            pool.parallelFor(quantized.count) { range, _ in
                for k in quantized[range] { convert(k, blocks: 0..<(keys[k].count / keys[k].type.blockValues)) }
            }
        }
        let activations = keys.map { $0.type == .f32 ? UnsafeRawPointer($0.x) : UnsafeRawPointer(buffer + $0.offset) }
        let preparedActivations = prepared.map { UnsafeRawPointer(buffer + $0.offset) }
        // Byte prefix over jobs; a piece [lo, hi) of the bytes is rounded to rows.
        var starts = [0]
        for job in jobs { starts.append(starts.last! + job.w.byteCount) }
        let total = starts.last!
        let threads = pool.threadCount
        /// The units (rows, or groups of 16 rows of a regrouped matrix) whose first byte is in [lo, hi).
        func multiplyBytes(_ lo: Int, _ hi: Int) {
            for (j, job) in jobs.enumerated() where starts[j + 1] > lo && starts[j] < hi {
                let layout = job.w.decodeLayout
                let unitBytes = job.w.rowBytes * (layout == nil ? 1 : InterleavedWeights.rowsPerGroup)
                guard unitBytes > 0 else { continue }
                let first = max(0, (lo - starts[j] + unitBytes - 1) / unitBytes)
                let last = min(layout?.groups ?? job.w.rows, (hi - starts[j] + unitBytes - 1) / unitBytes)
                guard first < last else { continue }
                #if CTXBENCH_VNNI
                if let layout {
                    layout.multiply(activations[activationOf[j]], job.y, groups: first..<last)
                    continue
                }
                #endif
                if let p = preparedOf[j] {
                    rows(job.w, preparedActivations[p], prepared: true, job.y, first..<last)
                } else {
                    rows(job.w, activations[activationOf[j]], prepared: false, job.y, first..<last)
                }
            }
        }
        // Pieces of at least 256 KB (a long stream each), up to 16 a thread, taken by whichever
        // thread is free: on this shared VM one vCPU is often slower than the other for a while,
        // and with one piece a thread the step waited for it (Step-wide Q4_K_S tg32 at 2 threads,
        // 8 interleaved rounds: 49.2 -> 52.9 tokens/s; Q4_K_M 48.6 -> 50.2).
        let pieces = min(maximumPiecesPerThread * threads, max(threads, total / minimumPieceBytes))
        pool.parallelFor(pieces, schedule: .dynamic(chunk: 1)) { range, _ in
            for c in range { multiplyBytes(total * c / pieces, total * (c + 1) / pieces) }
        }
    }

    static let minimumPieceBytes = 256 << 10
    static let maximumPiecesPerThread = 16

    /// y[r] for r in `range`; `a` is the activation in `activationType`, or its prepared layout.
    static func rows(_ w: Tensor, _ a: UnsafeRawPointer, prepared: Bool, _ y: UnsafeMutablePointer<Float>, _ range: Range<Int>) {
        func body<F: WeightFormat>(_ format: F.Type) {
            let cols = w.cols
            if prepared {
                for r in range { y[r] = F.dotPrepared(w.row(r), a, count: cols) }
            } else {
                for r in range { y[r] = F.dot(w.row(r), a, count: cols) }
            }
        }
        body(w.type.weightFormat!)
    }
}
