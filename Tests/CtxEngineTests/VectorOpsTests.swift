import Foundation
import Testing
@testable import CtxEngine

@Suite struct VectorOpsTests {
    func apply(_ x: [Float], _ op: (UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void) -> [Float] {
        var y = [Float](repeating: .nan, count: x.count)
        x.withUnsafeBufferPointer { xp in y.withUnsafeMutableBufferPointer { op(xp.baseAddress!, $0.baseAddress!, x.count) } }
        return y
    }

    let inputs: [Float] = stride(from: -90, through: 90, by: 0.37).map { Float($0) } + [0, -0, 1e-30, -1e-30, 88.3, -87]

    @Test func expPolynomialMatchesLibm() {
        let y = apply(inputs, VectorOps.exp)
        for (x, e) in zip(inputs, y) {
            let reference = Foundation.exp(Double(x))
            // Above 88.38 e^x overflows Float; the clamp returns the largest representable range instead.
            if x > -87 && x < 88.37 { #expect(abs(Double(e) - reference) <= 3e-7 * reference, "exp(\(x))") }
            #expect(e.isFinite && e >= 0)
        }
    }

    @Test func sigmoidSiluSoftplusMatchLibm() {
        let s = apply(inputs, VectorOps.sigmoid), si = apply(inputs, VectorOps.silu), sp = apply(inputs, VectorOps.softplus)
        for i in inputs.indices {
            let x = Double(inputs[i])
            let sigmoid = 1 / (1 + Foundation.exp(-x))
            #expect(abs(Double(s[i]) - sigmoid) < 1e-6)
            #expect(abs(Double(si[i]) - x * sigmoid) < 1e-5 * max(1, abs(x)))
            let softplus = max(x, 0) + Foundation.log1p(Foundation.exp(-abs(x)))
            #expect(abs(Double(sp[i]) - softplus) < 2e-6 * max(1, softplus), "softplus(\(x)) = \(sp[i])")
        }
    }

    @Test func normsMatchReference() {
        for n in [1, 5, 64, 130] {
            let x = Reference.random(n, seed: UInt64(n)), w = Reference.random(n, seed: 99)
            var y = [Float](repeating: 0, count: n), z = [Float](repeating: 0, count: n)
            VectorOps.rmsNorm(x, weight: w, eps: 1e-5, &y, n)
            VectorOps.l2Normalize(x, eps: 1e-6, &z, n)
            let ms = x.reduce(0.0) { $0 + Double($1) * Double($1) }
            for i in 0..<n {
                #expect(abs(Double(y[i]) - Double(x[i]) * Double(w[i]) / (ms / Double(n) + 1e-5).squareRoot()) < 1e-5)
                #expect(abs(Double(z[i]) - Double(x[i]) / (ms + 1e-6).squareRoot()) < 1e-6)
            }
        }
    }

    @Test func softmaxAndOnlineSoftmaxAgree() {
        let n = 1000, dim = 5
        let scores = Reference.random(n, seed: 1, scale: 4)
        let values = Reference.random(n * dim, seed: 2)
        // Reference: full softmax in Double, then the weighted sum.
        let m = Double(scores.max()!)
        let e = scores.map { Foundation.exp(Double($0) - m) }
        let total = e.reduce(0, +)
        var expected = [Double](repeating: 0, count: dim)
        for j in 0..<n { for d in 0..<dim { expected[d] += e[j] / total * Double(values[j * dim + d]) } }
        var full = scores
        VectorOps.softmax(&full, n)
        #expect(abs(full.reduce(0, +) - 1) < 1e-5)
        for j in 0..<n { #expect(abs(Double(full[j]) - e[j] / total) < 1e-6) }
        // Streaming: two "threads" over halves, blocks of 77, merged.
        func partial(_ range: Range<Int>) -> (SoftmaxPartial, [Float]) {
            var state = SoftmaxPartial()
            var o = [Float](repeating: 0, count: dim)
            var start = range.lowerBound
            while start < range.upperBound {
                let end = min(start + 77, range.upperBound)
                var block = Array(scores[start..<end])
                let rescale = OnlineSoftmax.absorb(&block, block.count, into: &state)
                for d in 0..<dim { o[d] *= rescale }
                for (k, p) in block.enumerated() { for d in 0..<dim { o[d] += p * values[(start + k) * dim + d] } }
                start = end
            }
            return (state, o)
        }
        var (a, oa) = partial(0..<431)
        let (b, ob) = partial(431..<n)
        OnlineSoftmax.merge(&a, &oa, b, ob, dim: dim)
        OnlineSoftmax.finish(a, &oa, dim: dim)
        for d in 0..<dim { #expect(abs(Double(oa[d]) - expected[d]) < 1e-5) }
    }

    @Test func ropeRotatesPairsAndLeavesTheRestAlone() {
        let headDim = 8, rotary = 4, heads = 2, position = 3
        let rope = RoPE(rotaryDims: rotary, theta: 10_000)
        var x = Reference.random(heads * headDim, seed: 5)
        let original = x
        rope.apply(&x, heads: heads, headDim: headDim, position: position)
        for h in 0..<heads {
            for i in 0..<(rotary / 2) {
                let angle = Double(position) * Foundation.pow(10_000, -2 * Double(i) / Double(rotary))
                let a = Double(original[h * headDim + i]), b = Double(original[h * headDim + i + rotary / 2])
                #expect(abs(Double(x[h * headDim + i]) - (a * cos(angle) - b * sin(angle))) < 1e-5)
                #expect(abs(Double(x[h * headDim + i + rotary / 2]) - (b * cos(angle) + a * sin(angle))) < 1e-5)
            }
            for i in rotary..<headDim { #expect(x[h * headDim + i] == original[h * headDim + i]) }
        }
    }

    @Test func topKMatchesSortingWithLowerIndexOnTies() {
        for (n, k) in [(256, 8), (288, 8), (10, 10), (5, 1)] {
            var scores = Reference.random(n, seed: UInt64(n))
            scores[n / 2] = scores[0]  // a tie
            var indices = [Int32](repeating: -1, count: k)
            TopK.select(scores, n, k: k, into: &indices)
            let expected = scores.indices.sorted { scores[$0] > scores[$1] || (scores[$0] == scores[$1] && $0 < $1) }.prefix(k)
            #expect(indices.map(Int.init) == Array(expected))
        }
    }

    @Test func swigluClampsWhenAsked() {
        let gate: [Float] = [-2, 0, 3, 50, 1, 2, 3, 4, 9], up: [Float] = [1, 1, 1, 1, -20, 20, 0.5, 1, 1]
        var out = [Float](repeating: 0, count: gate.count)
        VectorOps.swiglu(gate: gate, up: up, limit: 7, &out, gate.count)
        for i in gate.indices {
            let g = Double(gate[i]), silu = g / (1 + Foundation.exp(-g))
            let expected = min(silu, 7) * min(max(Double(up[i]), -7), 7)
            #expect(abs(Double(out[i]) - expected) < 1e-4 * max(1, abs(expected)))
        }
    }
}
