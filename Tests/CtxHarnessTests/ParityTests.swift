import CtxEngine
import Foundation
import Testing
@testable import CtxHarness

/// The engine against llama.cpp on the committed fixtures (Tests/CtxHarnessTests/Parity, written by
/// scripts/make-parity-fixtures): random-weight GGUF files of both architectures and llama.cpp's
/// logits and MoE selection scores for fixed token sequences. The rules are the README's:
/// f32 files: max |difference| <= 1e-3 of the logits' range and the same argmax at every position;
/// quantized files: mean KL divergence <= 1e-3 nats per position. The token sequences were chosen so
/// that every routing decision clears the numerical noise in llama.cpp's run; a different decision
/// is reported as a routing flip, not as a logit error.
@Suite(.serialized) struct ParityTests {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Parity")

    struct Manifest: Decodable {
        struct Sequence: Decodable {
            let name: String, prefill: Int, decode: Int, tokens: String, logits: String, routing: String
            let routing_layers: [Int]
            let min_routing_margin: Double
        }
        let model: String, family: String, shape: String, quantization: String, top_k: Int
        let sequences: [Sequence]
        var isF32: Bool { quantization == "F32" }
    }

    static func manifests() throws -> [Manifest] {
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".json") }.sorted()
        return try names.map { try JSONDecoder().decode(Manifest.self, from: Data(contentsOf: directory.appendingPathComponent($0))) }
    }

    /// The figures the rules are stated in, for one sequence.
    struct Comparison {
        var maxDifferenceOverRange = 0.0, sameArgmax = 0, positions = 0, meanKL = 0.0
        var flips: [(layer: Int, position: Int)] = []

        func passes(f32: Bool) -> Bool {
            guard flips.isEmpty else { return false }
            return f32 ? maxDifferenceOverRange <= 1e-3 && sameArgmax == positions : meanKL <= 1e-3
        }
        var summary: String {
            "max |diff|/range \(maxDifferenceOverRange), argmax \(sameArgmax)/\(positions), mean KL \(meanKL), "
                + "routing flips \(flips.prefix(5).map { "layer \($0.layer) position \($0.position)" })"
        }
    }

    static func compare(_ dump: LogitsDump, reference: NumPyArray, referenceRouting: NumPyArray, layers: [Int], topK: Int) -> Comparison {
        let positions = reference.shape[0], vocab = reference.shape[1]
        var c = Comparison(positions: positions)
        let ref = reference.values, ours = dump.logits.values
        let range = Double(ref.max()! - ref.min()!)
        var kl = 0.0
        for p in 0..<positions {
            let r = ref[(p * vocab)..<((p + 1) * vocab)].map(Double.init), o = ours[(p * vocab)..<((p + 1) * vocab)].map(Double.init)
            c.maxDifferenceOverRange = max(c.maxDifferenceOverRange, zip(r, o).map { abs($0 - $1) }.max()! / range)
            if r.indices.max(by: { r[$0] < r[$1] }) == o.indices.max(by: { o[$0] < o[$1] }) { c.sameArgmax += 1 }
            let lr = logSoftmax(r), lo = logSoftmax(o)
            kl += zip(lr, lo).reduce(0) { $0 + exp($1.0) * ($1.0 - $1.1) }
        }
        c.meanKL = kl / Double(positions)
        // Routing: our records are (layer, tokens, scores) in computation order; gather per layer.
        let experts = dump.routing.experts
        var byLayer: [Int: [Float]] = [:]
        for record in dump.routing.records { byLayer[record.layer, default: []] += record.scores }
        for (i, layer) in layers.enumerated() {
            let theirs = Array(referenceRouting.values[(i * positions * experts)..<((i + 1) * positions * experts)])
            let mine = byLayer[layer] ?? []
            for p in 0..<positions {
                let a = p * experts < mine.count ? selected(mine, p * experts, experts, topK) : []
                if a != selected(theirs, p * experts, experts, topK) { c.flips.append((layer, p)) }
            }
        }
        return c
    }

    static func selected(_ scores: [Float], _ start: Int, _ count: Int, _ k: Int) -> [Int] {
        (0..<count).sorted { scores[start + $0] > scores[start + $1] }.prefix(k).sorted()
    }

    static func logSoftmax(_ x: [Double]) -> [Double] {
        let m = x.max()!
        let lse = m + log(x.reduce(0) { $0 + exp($1 - m) })
        return x.map { $0 - lse }
    }

    static func run(_ manifest: Manifest, _ sequence: Manifest.Sequence, weights: ModelWeights) throws -> Comparison {
        let tokenText = try String(contentsOf: directory.appendingPathComponent(sequence.tokens), encoding: .utf8)
        let tokens = tokenText.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ",").map { Int32($0)! }
        let dump = try LogitsDump.run(weights: weights, tokens: tokens, prefill: sequence.prefill, threads: 2)
        let reference = try NumPyArray.read(directory.appendingPathComponent(sequence.logits).path)
        let routing = try NumPyArray.read(directory.appendingPathComponent(sequence.routing).path)
        #expect(reference.shape == [tokens.count, weights.config.vocabSize])
        return compare(dump, reference: reference, referenceRouting: routing, layers: sequence.routing_layers, topK: manifest.top_k)
    }

    static func weights(_ manifest: Manifest, adjust: (inout ModelConfig) -> Void = { _ in }) throws -> ModelWeights {
        let file = try GGUFFile(path: directory.appendingPathComponent(manifest.model).path)
        var config = try ModelConfig.from(gguf: file)
        adjust(&config)
        return try ModelWeights(gguf: file, config: config)
    }

    @Test func fixturesCoverBothFamiliesF32AndQuantized() throws {
        let m = try Self.manifests()
        for family in ["kimi-linear", "step35"] {
            #expect(m.contains { $0.family == family && $0.isF32 }, "\(family) f32")
            #expect(m.contains { $0.family == family && !$0.isF32 }, "\(family) quantized")
        }
        for manifest in m {
            #expect(manifest.sequences.contains { $0.prefill >= 64 && $0.decode >= 16 })
            #expect(manifest.sequences.contains { $0.prefill >= 1024 && $0.decode >= 1 })
        }
    }

    @Test(arguments: try manifests().map(\.model))
    func engineComputesLlamaCppsLogits(model: String) throws {
        let manifest = try #require(try Self.manifests().first { $0.model == model })
        let weights = try Self.weights(manifest)
        for sequence in manifest.sequences {
            let c = try Self.run(manifest, sequence, weights: weights)
            #expect(c.flips.isEmpty, "\(model) \(sequence.name): routing flips (margin in llama.cpp's run \(sequence.min_routing_margin)): \(c.summary)")
            #expect(c.passes(f32: manifest.isF32), "\(model) \(sequence.name): \(c.summary)")
        }
    }

    /// The comparison is sharp enough to see one detail of each family's math changed: Step's
    /// per-layer SwiGLU clamp left out, and Kimi's routed-expert scale off by 2%.
    @Test(arguments: ["step35", "kimi-linear"])
    func aChangedDetailFailsParity(family: String) throws {
        let manifest = try #require(try Self.manifests().first { $0.family == family && $0.isF32 })
        let weights = try Self.weights(manifest) { config in
            if family == "step35" { config.routedSwigluLimits = nil; config.routedSwigluLimit = nil }
            else { config.routedScale *= 1.02 }
        }
        let sequence = try #require(manifest.sequences.first { $0.prefill == 64 })
        let c = try Self.run(manifest, sequence, weights: weights)
        #expect(!c.passes(f32: true), "\(family): a changed model still passes: \(c.summary)")
    }
}
