import Foundation
import Testing
@testable import CtxEngine

/// The three mechanisms against plain references: KDA's chunked form against its recurrence,
/// cache attention (windowed, ring, split) against exact masked softmax, MoE against brute force.
@Suite struct MechanismTests {
    // MARK: KDA

    struct KDAData {
        var q, k, v, g, beta: [Float]
        let heads: Int, dim: Int, tokens: Int

        init(heads: Int, dim: Int, tokens: Int, seed: UInt64, decay: Float) {
            self.heads = heads; self.dim = dim; self.tokens = tokens
            let n = tokens * heads * dim
            q = Reference.random(n, seed: seed)
            k = Reference.random(n, seed: seed + 1)
            v = Reference.random(n, seed: seed + 2)
            // log-decays in (-decay, 0)
            g = Reference.random(n, seed: seed + 3).map { -decay * (0.5 + 0.5 * tanh($0)) }
            beta = Reference.random(tokens * heads, seed: seed + 4).map { 1 / (1 + exp(-$0)) }
            for t in 0..<tokens { for h in 0..<heads {
                let o = (t * heads + h) * dim
                let nq = sqrt((0..<dim).reduce(Float(0)) { $0 + q[o + $1] * q[o + $1] } + 1e-6)
                let nk = sqrt((0..<dim).reduce(Float(0)) { $0 + k[o + $1] * k[o + $1] } + 1e-6)
                for i in 0..<dim { q[o + i] /= nq * Float(dim).squareRoot(); k[o + i] /= nk }
            } }
        }

        /// Runs every head, chunked or not; returns (outputs, final states).
        mutating func run(chunked: Bool, initialState: [Float]) -> ([Float], [Float]) {
            var o = [Float](repeating: 0, count: tokens * heads * dim)
            var s = initialState
            let (h, d, t) = (heads, dim, tokens)
            q.withUnsafeMutableBufferPointer { q in k.withUnsafeMutableBufferPointer { k in
            v.withUnsafeMutableBufferPointer { v in g.withUnsafeMutableBufferPointer { g in
            beta.withUnsafeMutableBufferPointer { b in o.withUnsafeMutableBufferPointer { o in
            s.withUnsafeMutableBufferPointer { s in
                let x = KDALayer.KDAInputs(q: q.baseAddress!, k: k.baseAddress!, v: v.baseAddress!, g: g.baseAddress!,
                                           beta: b.baseAddress!, o: o.baseAddress!, heads: h, dim: d)
                for head in 0..<h { KDALayer.run(x, head: head, tokens: t, state: s.baseAddress! + head * d * d, chunked: chunked) }
            } } } } } } }
            return (o, s)
        }
    }

    /// The recurrence in plain Double loops, straight from the math.
    static func kdaReference(_ x: KDAData, initialState: [Float]) -> [Double] {
        let d = x.dim
        var s = initialState.map(Double.init)
        var out = [Double](repeating: 0, count: x.tokens * x.heads * d)
        for t in 0..<x.tokens { for h in 0..<x.heads {
            let o = (t * x.heads + h) * d, so = h * d * d
            for r in 0..<d { for c in 0..<d { s[so + r * d + c] *= exp(Double(x.g[o + r])) } }
            let b = Double(x.beta[t * x.heads + h])
            for c in 0..<d {
                var sk = 0.0
                for r in 0..<d { sk += s[so + r * d + c] * Double(x.k[o + r]) }
                let delta = b * (Double(x.v[o + c]) - sk)
                for r in 0..<d { s[so + r * d + c] += Double(x.k[o + r]) * delta }
            }
            for c in 0..<d {
                var acc = 0.0
                for r in 0..<d { acc += s[so + r * d + c] * Double(x.q[o + r]) }
                out[o + c] = acc
            }
        } }
        return out
    }

    @Test(arguments: [0.05 as Float, 2, 20])
    func kdaChunkedEqualsTokenByToken(decay: Float) {
        // 2 chunks of 16 plus a 5-token tail; strong decays (20 per token) underflow exp(G) without harm.
        var data = KDAData(heads: 2, dim: 32, tokens: 37, seed: 11, decay: decay)
        let initial = Reference.random(2 * 32 * 32, seed: 99, scale: 0.05)
        let (chunkedOut, chunkedState) = data.run(chunked: true, initialState: initial)
        let (stepOut, stepState) = data.run(chunked: false, initialState: initial)
        let reference = Self.kdaReference(data, initialState: initial)
        for i in 0..<stepOut.count {
            #expect(abs(Double(stepOut[i]) - reference[i]) < 1e-4, "recurrence [\(i)]")
            #expect(abs(chunkedOut[i] - stepOut[i]) < 1e-4, "output [\(i)] decay \(decay)")
        }
        for i in 0..<stepState.count { #expect(abs(chunkedState[i] - stepState[i]) < 1e-4, "state [\(i)]") }
        #expect(chunkedOut.allSatisfy { $0.isFinite })
    }

    @Test func causalConvMatchesDirectSumAcrossCalls() throws {
        let width = 8, kernel = 4, tokens = 6
        let w = Reference.random(kernel * width, seed: 5)
        let x = Reference.random(2 * tokens * width, seed: 6)
        var state = [Float](repeating: 0, count: (kernel - 1) * width)
        var out = [Float](repeating: 0, count: 2 * tokens * width)
        // Two calls of 6 tokens, then 1 + 5: the state must carry the history.
        for (start, count) in [(0, tokens), (tokens, 1), (tokens + 1, tokens - 1)] {
            x.withUnsafeBufferPointer { xp in out.withUnsafeMutableBufferPointer { op in
                w.withUnsafeBufferPointer { wp in state.withUnsafeMutableBufferPointer { sp in
                    let input = xp.baseAddress! + start * width
                    KDALayer.causalConv(input, tokens: 0..<count, width: width, kernel: kernel,
                                        weights: wp.baseAddress!, history: sp.baseAddress!, out: op.baseAddress! + start * width)
                    KDALayer.advanceConvState(sp.baseAddress!, after: input, tokens: count, width: width, kernel: kernel)
                } }
            } }
        }
        for t in 0..<(2 * tokens) { for c in 0..<width {
            var expected: Float = 0
            for j in 0..<kernel where t - 3 + j >= 0 { expected += w[j * width + c] * x[(t - 3 + j) * width + c] }
            #expect(abs(out[t * width + c] - expected) < 1e-5)
        } }
    }

    // MARK: Cache attention

    static func attentionReference(queries: [Float], shape: CacheAttention.Shape, keys: [[Float]], values: [[Float]]) -> [Double] {
        let g = shape.qHeads / shape.kvHeads
        var out = [Double](repeating: 0, count: shape.tokens * shape.qHeads * shape.valueDim)
        for t in 0..<shape.tokens { for h in 0..<shape.qHeads {
            let kv = h / g, p = shape.firstPosition + t
            let lo = shape.window.map { max(0, p - $0 + 1) } ?? 0
            var scores: [Double] = []
            for j in lo...p {
                var s = 0.0
                let qBase = (t * shape.qHeads + h) * shape.keyDim, kBase = j * shape.keyDim
                for i in 0..<shape.keyDim {
                    let qi = Double(queries[qBase + i]), ki = Double(keys[kv][kBase + i])
                    s += qi * ki
                }
                scores.append(s)
            }
            let m = scores.max()!
            let e = scores.map { exp($0 - m) }, sum = e.reduce(0, +)
            for (n, j) in (lo...p).enumerated() {
                let weight = e[n] / sum
                for i in 0..<shape.valueDim {
                    let value = Double(values[kv][j * shape.valueDim + i])
                    out[(t * shape.qHeads + h) * shape.valueDim + i] += weight * value
                }
            }
        } }
        return out
    }

    @Test(arguments: [
        // (tokens, first position, window, ring, cache type)
        (1, 700, nil, false, DType.f32),   // decode over a long context: key splits merged
        (9, 40, nil, false, DType.f32),    // prefill at depth: causal within the batch
        (9, 40, 8, false, DType.f32),      // sliding window = full attention masked
        (9, 40, 8, true, DType.f32),       // ring cache of window + batch slots, wrapping
        (1, 700, 8, true, DType.f16),
        (5, 100, nil, false, DType.q8_0),
        (30, 40, nil, false, DType.f32),   // 60-query items: scores on the microkernel (packed)
        (30, 41, 8, false, DType.f16),     // the same with a window, tiles cut short at the edges
    ] as [(Int, Int, Int?, Bool, DType)])
    func cacheAttentionMatchesMaskedSoftmax(tokens: Int, first: Int, window: Int?, ring: Bool, type: DType) throws {
        let pool = ThreadPool(threads: 2)
        let shape = CacheAttention.Shape(tokens: tokens, qHeads: 4, kvHeads: 2, keyDim: 32, valueDim: 32,
                                         firstPosition: first, window: window)
        let total = first + tokens
        let capacity = ring ? (window! + 9) : total
        var keys: [[Float]] = [], values: [[Float]] = []
        var keyCaches: [KVCache] = [], valueCaches: [KVCache] = []
        for h in 0..<2 {
            var k = Reference.random(total * 32, seed: UInt64(10 + h)), v = Reference.random(total * 32, seed: UInt64(20 + h))
            let kc = try KVCache(type: type, width: 32, capacity: capacity, ring: ring)
            let vc = try KVCache(type: type, width: 32, capacity: capacity, ring: ring)
            for p in 0..<total {
                k.withUnsafeBufferPointer { kc.write($0.baseAddress! + p * 32, position: p) }
                v.withUnsafeBufferPointer { vc.write($0.baseAddress! + p * 32, position: p) }
            }
            // The reference sees what the cache stores (after f16/q8_0 rounding).
            if !ring {
                k.withUnsafeMutableBufferPointer { for p in 0..<total { kc.readRow(p, into: $0.baseAddress! + p * 32) } }
                v.withUnsafeMutableBufferPointer { for p in 0..<total { vc.readRow(p, into: $0.baseAddress! + p * 32) } }
            } else {
                k.withUnsafeMutableBufferPointer { for p in (total - capacity)..<total { kc.readRow(p, into: $0.baseAddress! + p * 32) } }
                v.withUnsafeMutableBufferPointer { for p in (total - capacity)..<total { vc.readRow(p, into: $0.baseAddress! + p * 32) } }
            }
            keys.append(k); values.append(v); keyCaches.append(kc); valueCaches.append(vc)
        }
        let queries = Reference.random(tokens * 4 * 32, seed: 30, scale: 0.3)
        var out = [Float](repeating: .nan, count: tokens * 4 * 32)
        queries.withUnsafeBufferPointer { q in out.withUnsafeMutableBufferPointer { o in
            CacheAttention.run(queries: q.baseAddress!, shape: shape, keys: keyCaches, values: valueCaches,
                               out: o.baseAddress!, pool: pool, scratch: AttentionScratch())
        } }
        let expected = Self.attentionReference(queries: queries, shape: shape, keys: keys, values: values)
        for i in 0..<out.count { #expect(abs(Double(out[i]) - expected[i]) < 1e-4, "[\(i)]") }
    }

    /// MLA's absorbed form: one cache whose `width`-wide rows are the keys and whose first
    /// `valueDim` values are the values, `heads` query heads on it. 5 tokens x 16 heads = 80
    /// queries: work items of 64 and 16 queries, neither a whole number of the microkernel's
    /// 6-query panels. valueDim 32 takes the blocked form, 24 the per-query one; decode (1 token
    /// at 300) splits the keys. Items of 16 to 47 queries with at least the microkernel's width
    /// (16, or 32 with AVX-512) take scores from key rows (`keyRowScoreTile`): 32 heads (Kimi's),
    /// 40 (a second, partial query block), and rows of 272 (depth blocks of 128 or 256 and a
    /// remainder).
    @Test(arguments: [(5, 70, 32, DType.f32, 16, 48), (5, 70, 24, DType.f32, 16, 48), (5, 70, 32, DType.f16, 16, 48),
                      (1, 300, 32, DType.f16, 16, 48), (1, 300, 32, DType.f16, 32, 272), (1, 300, 64, DType.f32, 40, 272)]
          as [(Int, Int, Int, DType, Int, Int)])
    func sharedLatentCacheAttentionMatchesSoftmax(tokens: Int, first: Int, valueDim: Int, type: DType, heads: Int, width: Int) throws {
        let pool = ThreadPool(threads: 2)
        let shape = CacheAttention.Shape(tokens: tokens, qHeads: heads, kvHeads: 1, keyDim: width, valueDim: valueDim,
                                         firstPosition: first, window: nil)
        let total = first + tokens
        let cache = try KVCache(type: type, width: width, capacity: total, ring: false)
        let rows = Reference.random(total * width, seed: 12)
        rows.withUnsafeBufferPointer { for p in 0..<total { cache.write($0.baseAddress! + p * width, position: p) } }
        var keys = [Float](repeating: 0, count: total * width)
        keys.withUnsafeMutableBufferPointer { for p in 0..<total { cache.readRow(p, into: $0.baseAddress! + p * width) } }
        let values = (0..<total).flatMap { p in keys[(p * width)..<(p * width + valueDim)] }
        let queries = Reference.random(tokens * heads * width, seed: 31, scale: 0.3)
        var out = [Float](repeating: .nan, count: tokens * heads * valueDim)
        queries.withUnsafeBufferPointer { q in out.withUnsafeMutableBufferPointer { o in
            CacheAttention.run(queries: q.baseAddress!, shape: shape, keys: [cache], values: [cache],
                               out: o.baseAddress!, pool: pool, scratch: AttentionScratch())
        } }
        let expected = Self.attentionReference(queries: queries, shape: shape, keys: [keys], values: [values])
        let wrong = out.indices.filter { !(abs(Double(out[$0]) - expected[$0]) < 1e-4) }
        #expect(wrong.count == 0, "outputs off, first [\(wrong.first ?? -1)] of \(out.count)")
    }

    // MARK: MoE

    /// Kimi's unclamped MoE, and Step's with SwiGLU clamps low enough that most gates and ups hit
    /// them (silu(gate) clamped above, up clamped to ±limit, routed and shared limits apart).
    @Test(arguments: [(1, false), (7, false), (7, true)])
    func moeMatchesBruteForce(tokens: Int, clamped: Bool) throws {
        let pool = ThreadPool(threads: 2)
        var config = clamped ? TinyModels.step : TinyModels.kimi
        if clamped {
            config.routedSwigluLimits = nil; config.sharedSwigluLimits = nil
            config.routedSwigluLimit = 0.02; config.sharedSwigluLimit = 0.03
        }
        let layer = config.denseLayers
        let weights = try ModelWeights(config: config, recipe: .uniform(.f32), seed: 3, layers: layer + 1, pool: pool)
        let moe = try MoELayer(weights: weights, layer: layer, maxBatch: 8)
        let ctx = EngineContext(pool: pool, layers: layer + 1)
        let h = config.hiddenSize
        let x = Reference.random(tokens * h, seed: 8, scale: clamped ? 4 : 1)
        var out = [Float](repeating: .nan, count: tokens * h)
        x.withUnsafeBufferPointer { xp in out.withUnsafeMutableBufferPointer { moe.forward(xp.baseAddress!, tokens: tokens, $0.baseAddress!, ctx: ctx) } }

        func matrix(_ name: String) -> Tensor { weights.layerTensor(layer, name) }
        func rowDot(_ t: Tensor, _ r: Int, _ v: ArraySlice<Float>) -> Double {
            let row = t.dequantizedRow(r)
            return zip(row, v).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        }
        var clampedValues = 0
        func swiglu(_ gate: Tensor, _ up: Tensor, _ down: Tensor, first: Int, firstDown: Int, width: Int, limit: Float?,
                    _ v: ArraySlice<Float>) -> [Double] {
            let act = (0..<width).map { i -> Double in
                let g = rowDot(gate, first + i, v), u = rowDot(up, first + i, v)
                var silu = g / (1 + exp(-g)), up = u
                if let limit = limit.map(Double.init) {
                    if silu > limit || abs(up) > limit { clampedValues += 1 }
                    silu = min(silu, limit)
                    up = min(max(up, -limit), limit)
                }
                return silu * up
            }
            return (0..<h).map { r in
                let row = down.dequantizedRow(firstDown + r)
                return (0..<width).reduce(0.0) { $0 + Double(row[$1]) * act[$1] }
            }
        }
        let router = matrix("ffn_gate_inp.weight"), bias = matrix("exp_probs_b.bias").dequantizedRow(0)
        let inter = config.expertIntermediate
        for t in 0..<tokens {
            let v = x[(t * h)..<((t + 1) * h)]
            let s = (0..<config.experts).map { 1 / (1 + exp(-rowDot(router, $0, v))) }
            let order = (0..<config.experts).sorted { s[$0] + Double(bias[$0]) > s[$1] + Double(bias[$1]) }
            let chosen = Array(order.prefix(config.expertsPerToken))
            let norm = chosen.reduce(0.0) { $0 + s[$1] }
            var y = swiglu(matrix("ffn_gate_shexp.weight"), matrix("ffn_up_shexp.weight"), matrix("ffn_down_shexp.weight"),
                           first: 0, firstDown: 0, width: config.sharedIntermediate, limit: config.sharedSwigluLimit, v)
            for e in chosen {
                let w = s[e] / norm * Double(config.routedScale)
                let ey = swiglu(matrix("ffn_gate_exps.weight"), matrix("ffn_up_exps.weight"), matrix("ffn_down_exps.weight"),
                                first: e * inter, firstDown: e * h, width: inter, limit: config.routedSwigluLimit, v)
                for r in 0..<h { y[r] += w * ey[r] }
            }
            for r in 0..<h { #expect(abs(Double(out[t * h + r]) - y[r]) < 2e-3 * max(1, abs(y[r])), "token \(t) [\(r)]") }
        }
        if clamped { #expect(clampedValues > 100, "the clamps were hardly exercised: \(clampedValues)") }
    }
}

/// Small configurations that keep each family's layer pattern, for debug-build tests.
enum TinyModels {
    static let kimi: ModelConfig = {
        var c = ModelConfig.kimiLinear48B
        c.name = "kimi-tiny"
        c.hiddenSize = 64; c.layerCount = 4; c.vocabSize = 128
        c.kdaHeads = 2; c.kdaHeadDim = 32; c.kdaGateRank = 16
        c.mlaHeads = 2; c.kvLoraRank = 32; c.qkNopeDim = 16; c.qkRopeDim = 32; c.vHeadDim = 16
        c.denseIntermediate = 64; c.experts = 8; c.expertsPerToken = 2
        c.expertIntermediate = 32; c.sharedIntermediate = 32
        return c
    }()

    static let step: ModelConfig = {
        var c = ModelConfig.step35Flash
        c.name = "step-tiny"
        c.hiddenSize = 64; c.layerCount = 4; c.vocabSize = 128
        c.fullHeads = 4; c.slidingHeads = 6; c.kvHeads = 2; c.headDim = 32
        c.fullRotaryDims = 16; c.slidingRotaryDims = 32; c.slidingWindow = 8
        c.denseLayers = 2; c.denseIntermediate = 64; c.experts = 8; c.expertsPerToken = 2
        c.expertIntermediate = 32; c.sharedIntermediate = 32
        return c
    }()
}
