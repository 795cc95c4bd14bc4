import Foundation
import Testing
@testable import CtxEngine

/// Layers against references written from the models' published math (docs/architectures.md),
/// in Double, token by token, sharing no code with the engine's kernels.
@Suite struct LayerReferenceTests {
    static func dot(_ a: [Float], _ b: [Double]) -> Double { zip(a, b).reduce(0) { $0 + Double($1.0) * $1.1 } }

    /// y = W x for a stored matrix (rows x cols) and x of cols values.
    static func apply(_ w: Tensor, _ x: [Double]) -> [Double] {
        (0..<w.rows).map { dot(w.dequantizedRow($0), x) }
    }

    static func sigmoid(_ x: Double) -> Double { 1 / (1 + exp(-x)) }
    static func silu(_ x: Double) -> Double { x * sigmoid(x) }
    static func softplus(_ x: Double) -> Double { x > 20 ? x : log1p(exp(x)) }

    /// Kimi Delta Attention for a sequence of normed inputs, token by token:
    ///   q, k, v = silu(conv4(W x)); g = A softplus(Wfb Wfa x + dt_bias), A = -exp(A_log); beta = sigmoid(Wb x)
    ///   q, k = l2norm (x / sqrt(Σx² + eps), eps the RMS-norm epsilon, as llama.cpp); q /= sqrt(K)
    ///   S = Diag(exp g) S; S += beta k (v - Sᵀk)ᵀ; o = Sᵀq
    ///   o = RMSNorm(o) w_onorm sigmoid(Wgb Wga x); y = Wo concat(o)
    static func kdaReference(_ w: ModelWeights, layer: Int, inputs: [[Double]]) -> [[Double]] {
        let c = w.config, heads = c.kdaHeads, d = c.kdaHeadDim, width = heads * d, kernel = c.kdaConvKernel
        func t(_ name: String) -> Tensor { w.layerTensor(layer, name) }
        // A = -exp(A_log) per head, as GGUF files store it.
        let a = (0..<heads).map { t("ssm_a").dequantizedRow($0)[0] }, dtBias = t("ssm_dt.bias").dequantizedRow(0)
        let onorm = t("ssm_norm.weight").dequantizedRow(0)
        let conv = ["ssm_conv1d_q.weight", "ssm_conv1d_k.weight", "ssm_conv1d_v.weight"].map { name in (0..<width).map { t(name).dequantizedRow($0) } }
        var raw: [[[Double]]] = [[], [], []]  // per stream, per token
        var S = [[[Double]]](repeating: [[Double]](repeating: [Double](repeating: 0, count: d), count: d), count: heads)
        var outputs: [[Double]] = []
        for x in inputs {
            let projected = [apply(t("attn_q.weight"), x), apply(t("attn_k.weight"), x), apply(t("attn_v.weight"), x)]
            var qkv: [[Double]] = []
            for s in 0..<3 {
                raw[s].append(projected[s])
                let n = raw[s].count
                qkv.append((0..<width).map { ch in
                    var sum = 0.0
                    for j in 0..<kernel {
                        let token = n - kernel + j  // kernel taps over the last `kernel` inputs, oldest first
                        if token >= 0 { sum += Double(conv[s][ch][j]) * raw[s][token][ch] }
                    }
                    return silu(sum)
                })
            }
            let forget = apply(t("ssm_f_b.weight"), apply(t("ssm_f_a.weight"), x))
            let outGate = apply(t("ssm_g_b.weight"), apply(t("ssm_g_a.weight"), x)).map(sigmoid)
            let beta = apply(t("ssm_beta.weight"), x).map(sigmoid)
            var o = [Double](repeating: 0, count: width)
            for h in 0..<heads {
                func l2(_ v: ArraySlice<Double>) -> [Double] {
                    let norm = (v.reduce(0) { $0 + $1 * $1 } + Double(c.normEps)).squareRoot()
                    return v.map { $0 / norm }
                }
                let q = l2(qkv[0][(h * d)..<((h + 1) * d)]).map { $0 / Double(d).squareRoot() }
                let k = l2(qkv[1][(h * d)..<((h + 1) * d)])
                let v = Array(qkv[2][(h * d)..<((h + 1) * d)])
                for r in 0..<d {
                    let g = Double(a[h]) * softplus(forget[h * d + r] + Double(dtBias[h * d + r]))
                    for col in 0..<d { S[h][r][col] *= exp(g) }
                }
                let sk = (0..<d).map { col in (0..<d).reduce(0.0) { $0 + S[h][$1][col] * k[$1] } }
                for r in 0..<d { for col in 0..<d { S[h][r][col] += beta[h] * k[r] * (v[col] - sk[col]) } }
                var head = (0..<d).map { col in (0..<d).reduce(0.0) { $0 + S[h][$1][col] * q[$1] } }
                let rms = (head.reduce(0) { $0 + $1 * $1 } / Double(d) + Double(c.normEps)).squareRoot()
                head = head.enumerated().map { $1 / rms * Double(onorm[$0]) * outGate[h * d + $0] }
                for col in 0..<d { o[h * d + col] = head[col] }
            }
            outputs.append(apply(t("attn_output.weight"), o))
        }
        return outputs
    }

    /// KDALayer.forward, whole batches (chunked recurrence for 16 tokens and more) and one token
    /// at a time, against the reference: gates, conv, L2 norms, output norm and gate included.
    @Test(arguments: [[20], [3, 17], [1, 1, 1]])
    func kdaLayerMatchesTheReference(batches: [Int]) throws {
        let pool = ThreadPool(threads: 2)
        let config = TinyModels.kimi  // layer 0 is KDA (a one-layer slice of the pattern)
        let weights = try ModelWeights(config: config, recipe: .uniform(.f32), seed: 11, layers: 1, pool: pool)
        let tokens = batches.reduce(0, +)
        let layer = try KDALayer(weights: weights, layer: 0, maxBatch: 32)
        let state = try KDAState(heads: config.kdaHeads, headDim: config.kdaHeadDim, convKernel: config.kdaConvKernel, placement: .firstTouch)
        let ctx = EngineContext(pool: pool, layers: 1)
        let h = config.hiddenSize
        let x = Reference.random(tokens * h, seed: 4)
        var out = [Float](repeating: .nan, count: tokens * h)
        var start = 0
        for n in batches {
            x.withUnsafeBufferPointer { xp in
                out.withUnsafeMutableBufferPointer { op in
                    layer.forward(xp.baseAddress! + start * h, tokens: n, op.baseAddress! + start * h, state: state, ctx: ctx)
                }
            }
            start += n
        }
        let inputs = (0..<tokens).map { t in x[(t * h)..<((t + 1) * h)].map(Double.init) }
        let expected = Self.kdaReference(weights, layer: 0, inputs: inputs)
        var worst = 0.0
        for t in 0..<tokens {
            for r in 0..<h { worst = max(worst, abs(Double(out[t * h + r]) - expected[t][r]) / max(1e-2, abs(expected[t][r]))) }
        }
        #expect(worst < 2e-3, "largest relative difference \(worst)")
    }

    /// RoPE from the convention's definition (Hugging Face's NeoX style): over the first
    /// rotaryDims of a head, x * cos + rotate_half(x) * sin, with cos and sin = cat(f, f) for
    /// f_i = position * theta^(-2i/rotaryDims) and rotate_half(x) = cat(-x2, x1); the rest passes.
    @Test(arguments: [(128, 128, Float(10_000)), (128, 64, Float(5_000_000)), (32, 16, Float(10_000))])
    func ropeMatchesRotateHalf(headDim: Int, rotaryDims: Int, theta: Float) {
        let heads = 3
        let rope = RoPE(rotaryDims: rotaryDims, theta: theta)
        for position in [0, 1, 7, 4095, 262_143] {
            var x = Reference.random(heads * headDim, seed: UInt64(position + 1))
            let original = x.map(Double.init)
            rope.apply(&x, heads: heads, headDim: headDim, position: position)
            let half = rotaryDims / 2
            let f = (0..<half).map { Double(position) * pow(Double(theta), -2 * Double($0) / Double(rotaryDims)) }
            let cosines = (f + f).map(cos), sines = (f + f).map(sin)
            for h in 0..<heads {
                let head = Array(original[(h * headDim)..<((h + 1) * headDim)])
                let x1 = head[0..<half], x2 = head[half..<rotaryDims]
                let rotated = x2.map { -$0 } + Array(x1)
                for i in 0..<headDim {
                    let expected = i < rotaryDims ? head[i] * cosines[i] + rotated[i] * sines[i] : head[i]
                    let tolerance = 2e-5 * (1 + Double(position) * 1e-3)
                    #expect(abs(Double(x[h * headDim + i]) - expected) < tolerance, "pos \(position) head \(h) dim \(i)")
                }
            }
        }
    }
}
