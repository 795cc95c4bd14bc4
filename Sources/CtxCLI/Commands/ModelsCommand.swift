import CtxEngine
import CtxHarness
import Foundation

/// `ctxbench models`: the presets and what they cost, computed from their tensor lists.
struct ModelsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        name: "models",
        abstract: "List model presets, or a GGUF file's model: layer pattern, parameters, bytes per weight type, KV and state bytes.",
        discussion: """
        Active parameters count the routed experts a token uses (top-k of all) and one embedding row.
        KV bytes per token are what each token of context adds (MLA latent rows; full-attention K and V);
        fixed state is KDA's recurrent and conv state and the full sliding windows. To measure a
        full-size slice and project the full model's speed: ctxbench engine --model NAME --layers 4.
        With --gguf, the same table for the model a GGUF file holds, from its header alone (no weight
        is read, so files far larger than memory are fine), and the bytes of its weights as stored.
        """,
        options: [
            .value("--cache-type", "type", help: "KV cache type for the byte counts.", default: "f16"),
            .value("--gguf", "file", help: "A GGUF file (kimi-linear or step35) instead of the presets."),
            .flag("--fields", help: "List the fields --set and suites can override, with each preset's values."),
            .flag("--json", help: "Print JSON."),
        ]
    )

    let cacheType: DType
    let gguf: String?
    let fields: Bool
    let json: Bool

    init(parsed: ParsedArguments) throws {
        let name = parsed.string("--cache-type")!
        guard let type = DType(name: name), KVCache.types.contains(type) else {
            throw UsageError("option '--cache-type' expects f32, f16 or q8_0, got '\(name)'")
        }
        cacheType = type
        gguf = parsed.string("--gguf")
        fields = parsed.flag("--fields")
        json = parsed.flag("--json")
        if gguf != nil && fields { throw UsageError("--gguf and --fields: --fields lists the presets' fields; give one") }
    }

    static let columns: [WeightRecipe] = [.uniform(.bf16), .uniform(.q8_0), .uniform(.q4_K), .q4_K_M, .q4_K_S]

    func run(io: CommandIO) throws -> Int32 {
        var models = ModelConfig.presets
        var stored: (model: GGUFModel, config: ModelConfig)?
        if let gguf {
            stored = try GGUFModel.open(gguf, syntheticWeights: false)
            models = [stored!.config]
        }
        if json {
            io.out(String(decoding: try JSONFormat.encode(models), as: UTF8.self) + "\n")
            return ExitCode.success
        }
        if fields {
            let objects = try ModelConfig.presets.map {
                try JSONSerialization.jsonObject(with: JSONEncoder().encode($0)) as! [String: Any]
            }
            var lines = ["| field | " + ModelConfig.presets.map(\.name).joined(separator: " | ") + " |",
                         "|---|" + String(repeating: "--:|", count: objects.count)]
            for field in ModelConfig.fieldNames {
                lines.append("| \(field) | " + objects.map { "\($0[field] ?? "null")" }.joined(separator: " | ") + " |")
            }
            io.out(lines.joined(separator: "\n") + "\n")
            return ExitCode.success
        }
        var lines = ["| model | layers (pattern) | hidden | params total | active | "
                     + Self.columns.map { "\($0) GB" }.joined(separator: " | ")
                     + " | KV bytes/token (\(cacheType.rawValue)) | fixed state | context at 262144 |",
                     "|---|---|--:|--:|--:|" + String(repeating: "--:|", count: Self.columns.count) + "--:|--:|--:|"]
        for config in models {
            let f = config.footprint(recipe: .uniform(.bf16), cacheType: cacheType)
            let sizes = Self.columns.map { String(format: "%.2f", Double(config.footprint(recipe: $0, cacheType: cacheType).weightBytes) / 1e9) }
            lines.append("| \(config.name) | \(config.layerCount) (\(Self.pattern(config))) | \(config.hiddenSize) | "
                         + "\(Self.count(f.totalParameters)) | \(Self.count(f.activeParameters)) | "
                         + sizes.joined(separator: " | ")
                         + String(format: " | %.0f | %@ | %@ |", f.kvBytesPerToken,
                                  bytes(Double(f.fixedStateBytes) + f.slidingRowBytes * Double(f.slidingWindow)),
                                  bytes(f.contextBytes(depth: 262_144))))
        }
        if let (model, config) = stored, let recipe = model.fileRecipe {
            let weights = config.footprint(recipe: recipe, cacheType: cacheType).weightBytes
            lines.append("")
            lines.append(String(format: "%@: weights as stored %.2f GB (%@); file %.2f GB", model.path, Double(weights) / 1e9,
                                recipe.description, Double(model.fileBytes) / 1e9))
        }
        io.out(lines.joined(separator: "\n") + "\n")
        return ExitCode.success
    }

    /// Layer kinds with counts, e.g. "20 kda, 7 mla; 1 dense, 26 moe".
    static func pattern(_ c: ModelConfig) -> String {
        func counts<T: Hashable & RawRepresentable>(_ kinds: [T]) -> String where T.RawValue == String {
            var order: [T] = [], n: [T: Int] = [:]
            for k in kinds { if n[k] == nil { order.append(k) }; n[k, default: 0] += 1 }
            return order.map { "\(n[$0]!) \($0.rawValue)" }.joined(separator: ", ")
        }
        return counts(c.layerMixers) + "; " + counts((0..<c.layerCount).map(c.ffn(ofLayer:)))
    }

    static func count(_ n: Int) -> String {
        n >= 1_000_000_000 ? String(format: "%.2fB", Double(n) / 1e9) : String(format: "%.1fM", Double(n) / 1e6)
    }
}
