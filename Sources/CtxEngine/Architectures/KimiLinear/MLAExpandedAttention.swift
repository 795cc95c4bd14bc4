/// MLA's naive form run as matrix products (`MLAForm.expanded`): per micro-batch, the latents of
/// all n visible keys are expanded into each head's keys and values by two GEMMs, then every head
/// attends over its own rows (`CacheAttention`, one KV head per query head).
///
///   latents  [n][512], k_pe [n][64]        read from the latent cache once per call
///   K_h      [n][128 + 64] = [W_kb_h c ; k_pe]     V_h [n][128] = W_vb_h c
///   o_h      = softmax(q_h · K_hᵀ / sqrt(192)) · V_h
///
/// Heads go in groups sized so the expansion (latents, one GEMM product and the group's key and
/// value rows, all f32) stays within `MLAExpansionScratch.budgetBytes`: at Kimi-Linear's widths
/// all 32 heads of a 4608-key context take 275 MB, so they go 16 at a time under 256 MiB.
extension MLALayer {
    func expandedAttention(tokens: Int, cache: KVCache, position: Int, ctx: EngineContext) {
        let n = position + tokens
        let scratch = ctx.mlaExpansion
        let widths = MLAExpansionScratch.Widths(config)
        let group = scratch.headsPerGroup(heads: heads, keys: n, widths: widths)
        scratch.reserve(keys: n, group: group, widths: widths)
        let latents = scratch.latents, ropeParts = scratch.ropeParts, product = scratch.product
        let keyUp = keyUpByHead
        ctx.time(.mlaKVUp, layer) {
            let width = rowWidth, rank = rank, rope = rope
            ctx.pool.parallelFor(n) { range, _ in
                withUnsafeTemporaryAllocation(of: Float.self, capacity: width) { row in
                    for j in range {
                        cache.readRow(j, into: row.baseAddress!)
                        (latents + j * rank).update(from: row.baseAddress!, count: rank)
                        (ropeParts + j * rope).update(from: row.baseAddress! + rank, count: rope)
                    }
                }
            }
        }
        let scale = 1 / Float(qkDim).squareRoot()
        for h0 in stride(from: 0, to: heads, by: group) {
            ctx.time(.mlaKVUp, layer) {
                let nope = nope, rope = rope, vDim = vDim
                // Keys: the group's W_kb rows ([group x 128][512]) over every latent, then each head's
                // 128 values and the shared k_pe into its key rows.
                ctx.linear(keyUp.rows(h0 * nope..<(h0 + group) * nope), latents, tokens: n, product)
                ctx.pool.parallelFor(n) { range, _ in
                    for j in range {
                        for g in 0..<group {
                            let row = scratch.keys[g].floatRow(j)
                            row.update(from: product + (j * group + g) * nope, count: nope)
                            (row + nope).update(from: ropeParts + j * rope, count: rope)
                        }
                    }
                }
                ctx.linear(wvb.rows(h0 * vDim..<(h0 + group) * vDim), latents, tokens: n, product)
                ctx.pool.parallelFor(n) { range, _ in
                    for j in range {
                        for g in 0..<group {
                            scratch.values[g].floatRow(j).update(from: product + (j * group + g) * vDim, count: vDim)
                        }
                    }
                }
            }
            ctx.time(.mlaAttention, layer) {
                // queries [T][group][192], pre-scaled; out [T][group][128] in `latent`.
                for t in 0..<tokens {
                    for g in 0..<group {
                        VectorOps.scale(q.p + (t * heads + h0 + g) * qkDim, scale, queries.p + (t * group + g) * qkDim, qkDim)
                    }
                }
                let shape = CacheAttention.Shape(tokens: tokens, qHeads: group, kvHeads: group, keyDim: qkDim, valueDim: vDim,
                                                 firstPosition: position, window: nil)
                CacheAttention.run(queries: queries.p, shape: shape, keys: Array(scratch.keys[0..<group]),
                                   values: Array(scratch.values[0..<group]), out: latent.p, pool: ctx.pool, scratch: ctx.attention)
                for t in 0..<tokens {
                    (attended.p + (t * heads + h0) * vDim).update(from: latent.p + t * group * vDim, count: group * vDim)
                }
            }
        }
    }

    /// W_kb per head as the expanded form applies it: [heads x 128][512] f32, head h's rows
    /// h*128..<(h+1)*128, from the stored transposes ([heads x 512][128], llama.cpp's attn_k_b).
    static func keyUpWeights(_ wkb: Tensor, heads: Int, rank: Int, nope: Int) -> Tensor {
        let out: Tensor
        do { out = try Tensor(type: .f32, rows: heads * nope, cols: rank) } catch {
            preconditionFailure("MLA expanded form: no memory for W_kb per head (\(heads * nope * rank * 4) bytes): \(error)")
        }
        let dst = out.data.assumingMemoryBound(to: Float.self)
        withUnsafeTemporaryAllocation(of: Float.self, capacity: nope) { row in
            for h in 0..<heads {
                for j in 0..<rank {
                    wkb.type.format.dequantize(wkb.row(h * rank + j), row.baseAddress!, count: nope)
                    for i in 0..<nope { dst[(h * nope + i) * rank + j] = row[i] }
                }
            }
        }
        return out
    }
}

/// The expanded MLA form's memory, shared by every MLA layer of a run (`EngineContext`): the
/// visible keys' latents and rope parts as f32, one GEMM product, and a head group's key and value
/// rows as f32 caches (`CacheAttention` reads them like any KV cache). Grown as the context grows.
public final class MLAExpansionScratch: @unchecked Sendable {
    /// What the expansion may hold; heads go in smaller groups beyond it (one head at a time at
    /// least: `MLAForm.auto` does not expand a context whose one head exceeds the default).
    public var budgetBytes = defaultBudgetBytes
    public static let defaultBudgetBytes = 256 << 20
    private var latentBuffer = try! AlignedBuffer(byteCount: 0)
    private var ropeBuffer = try! AlignedBuffer(byteCount: 0)
    private var productBuffer = try! AlignedBuffer(byteCount: 0)
    private(set) var keys: [KVCache] = []
    private(set) var values: [KVCache] = []

    public init() {}

    var latents: UnsafeMutablePointer<Float> { latentBuffer.pointer(to: Float.self) }
    var ropeParts: UnsafeMutablePointer<Float> { ropeBuffer.pointer(to: Float.self) }
    var product: UnsafeMutablePointer<Float> { productBuffer.pointer(to: Float.self) }

    /// Floats per key of the expansion, from the model's MLA dimensions: latent (512) and rope part
    /// (64), and per head its key row (128 + 64), value row (128) and GEMM product (128).
    struct Widths {
        let rank: Int, rope: Int, key: Int, value: Int, product: Int

        init(_ c: ModelConfig) {
            rank = c.kvLoraRank; rope = c.qkRopeDim; key = c.qkNopeDim + c.qkRopeDim; value = c.vHeadDim
            product = max(c.qkNopeDim, c.vHeadDim)
        }

        /// Bytes of the expansion of `n` keys for `group` heads.
        func bytes(keys n: Int, group: Int) -> Int { 4 * n * (rank + rope + group * (product + key + value)) }

        /// The largest divisor of `heads` whose expansion of `n` keys fits `budget` bytes, or 1.
        func headsPerGroup(heads: Int, keys n: Int, budget: Int) -> Int {
            (1...heads).filter { heads % $0 == 0 }.last { bytes(keys: n, group: $0) <= budget } ?? 1
        }

        /// Bytes `reserve` allocates for them: the same, with the per-head caches' rows rounded up
        /// to whole chunks of `cacheChunk` keys.
        func allocatedBytes(keys n: Int, group: Int) -> Int {
            4 * n * (rank + rope + group * product) + 4 * cacheRows(keys: n) * group * (key + value)
        }

        /// The most keys `MLAForm.auto` expands: one head's expansion within the default budget.
        var autoKeyLimit: Int { defaultBudgetBytes / bytes(keys: 1, group: 1) }
    }

    /// Caches hold whole chunks of 1024 keys, so a context growing token by token reallocates rarely.
    static let cacheChunk = 1024

    /// Rows of a per-head cache holding `n` keys: `n` rounded up to whole `cacheChunk`s.
    static func cacheRows(keys n: Int) -> Int { (n + cacheChunk - 1) / cacheChunk * cacheChunk }

    /// Bytes held now (the engine's real allocation, against `ModelConfig.mlaExpansionBytes`).
    public var allocatedBytes: Int {
        latentBuffer.byteCount + ropeBuffer.byteCount + productBuffer.byteCount
            + keys.reduce(0) { $0 + $1.byteCount } + values.reduce(0) { $0 + $1.byteCount }
    }

    /// The largest divisor of `heads` whose expansion of `keys` keys fits the budget, or 1.
    func headsPerGroup(heads: Int, keys n: Int, widths: Widths) -> Int {
        widths.headsPerGroup(heads: heads, keys: n, budget: budgetBytes)
    }

    func reserve(keys n: Int, group: Int, widths: Widths) {
        func grow(_ buffer: inout AlignedBuffer, floats: Int) {
            guard buffer.byteCount < floats * 4 else { return }
            do { buffer = try AlignedBuffer(byteCount: floats * 4) } catch {
                preconditionFailure("MLA expanded form: no memory for \(floats * 4) bytes of scratch: \(error)")
            }
        }
        grow(&latentBuffer, floats: n * widths.rank)
        grow(&ropeBuffer, floats: n * widths.rope)
        grow(&productBuffer, floats: n * group * widths.product)
        let capacity = Self.cacheRows(keys: n)
        func make(width: Int) -> [KVCache] {
            do { return try (0..<group).map { _ in try KVCache(type: .f32, width: width, capacity: capacity, ring: false) } } catch {
                preconditionFailure("MLA expanded form: no memory for \(group) caches of \(capacity) x \(width): \(error)")
            }
        }
        func fits(_ existing: [KVCache], width: Int) -> Bool {
            existing.count >= group && existing.allSatisfy { $0.width == width && $0.capacity >= n }
        }
        guard !fits(keys, width: widths.key) || !fits(values, width: widths.value) else { return }
        keys = []; values = []  // the old caches go before the new ones are allocated
        keys = make(width: widths.key)
        values = make(width: widths.value)
    }
}

extension KVCache {
    /// Row `position` of an f32 cache, to write in place.
    @inline(__always)
    func floatRow(_ position: Int) -> UnsafeMutablePointer<Float> {
        precondition(type == .f32)
        return rowPointer(position).assumingMemoryBound(to: Float.self)
    }
}
