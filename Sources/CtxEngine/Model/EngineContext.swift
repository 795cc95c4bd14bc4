/// What every layer's forward pass needs besides its weights: the thread pool, scratch memory for
/// matrix products and attention, and the op timers.
public final class EngineContext: @unchecked Sendable {
    public let pool: ThreadPool
    public let matmul: MatMulScratch
    public let attention: AttentionScratch
    /// The expanded MLA form's keys and values (`MLAForm.expanded`).
    public let mlaExpansion = MLAExpansionScratch()
    public let profiler: OpProfiler

    /// Sees every MoE layer's expert-selection scores (sigmoid router scores plus the selection
    /// bias, [tokens][experts]) as they are computed: how parity checks compare routing decisions
    /// and their margins with llama.cpp's. Nil (the default) costs nothing.
    public var routingObserver: ((_ layer: Int, _ tokens: Int, _ scores: UnsafeBufferPointer<Float>) -> Void)?

    public init(pool: ThreadPool, layers: Int, profiling: Bool = true) {
        self.pool = pool
        matmul = MatMulScratch(threads: pool.threadCount)
        attention = AttentionScratch()
        profiler = OpProfiler(layers: layers, enabled: profiling)
    }

    /// y = W x for `tokens` tokens (see `Linear`).
    @inline(__always)
    func linear(_ w: Tensor, _ x: UnsafePointer<Float>, tokens: Int, _ y: UnsafeMutablePointer<Float>) {
        Linear.apply(w, x, tokens: tokens, y, pool: pool, scratch: matmul)
    }

    /// Independent products y_j = W_j x_j for `tokens` tokens (x_j [T][cols_j], y_j [T][rows_j]):
    /// one batched GEMV region per token when the batch is small, else GEMMs, one for each run of
    /// neighbouring products that share an input and a weight type (see `GEMM.multiply(_:_:...)`).
    func linear(_ jobs: [(w: Tensor, x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>)], tokens: Int) {
        if tokens >= Linear.gemmMinimumTokens {
            var first = 0
            while first < jobs.count {
                var end = first + 1
                while end < jobs.count, jobs[end].x == jobs[first].x, jobs[end].w.type == jobs[first].w.type,
                      jobs[end].w.cols == jobs[first].w.cols { end += 1 }
                GEMM.multiply(jobs[first..<end].map { ($0.w, $0.y) }, jobs[first].x, tokens: tokens, pool: pool, scratch: matmul)
                first = end
            }
        } else {
            for t in 0..<tokens {
                GEMV.multiply(jobs.map { GEMV.Job($0.w, $0.x + t * $0.w.cols, $0.y + t * $0.w.rows) }, pool: pool, scratch: matmul)
            }
        }
    }

    @inline(__always)
    func time<R>(_ op: Op, _ layer: Int, _ body: () throws -> R) rethrows -> R {
        try profiler.time(op, layer: layer, body)
    }
}

/// A float scratch array owned by a layer, sized for the largest micro-batch, reused every call.
final class FloatBuffer: @unchecked Sendable {
    let storage: AlignedBuffer
    let count: Int
    init(_ count: Int) throws {
        self.count = count
        storage = try AlignedBuffer(byteCount: count * 4)
    }
    var p: UnsafeMutablePointer<Float> { storage.pointer(to: Float.self) }
}
