/// A model family the engine runs, as one unit: its presets, how a GGUF file of it becomes a
/// `ModelConfig` (exactly as llama.cpp's loader reads that architecture), its layer pattern and the
/// tensors of its token mixers. Its layers (KDA, MLA, GQA) live in the family's folder beside it.
/// Adding a family is a folder like `KimiLinear/` and one line in `ModelConfig.Family`.
public protocol ModelArchitecture {
    /// What the family's GGUF files declare in general.architecture ("kimi-linear", "step35").
    static var ggufName: String { get }
    /// The family's presets: the published model and a small model of the same pattern.
    static var presets: [ModelConfig] { get }
    /// The configuration a GGUF file of this family describes, from its metadata and tensor shapes.
    static func config(from file: GGUFFile) throws -> ModelConfig
    /// The token mixer of layer `i` of a configuration without an explicit per-layer pattern.
    static func mixer(_ config: ModelConfig, layer i: Int) -> ModelConfig.LayerMixer
    /// The tensors of layer `i`'s token mixer (norms and FFN are shared by every family).
    static func mixerTensorSpecs(_ config: ModelConfig, layer i: Int) -> [TensorSpec]
    /// Whether a GGUF file may leave this tensor out (llama.cpp's TENSOR_NOT_REQUIRED); a missing
    /// optional tensor reads as zeros.
    static func mayOmit(_ spec: TensorSpec) -> Bool
}

extension ModelArchitecture {
    public static func mayOmit(_ spec: TensorSpec) -> Bool { false }
}

extension ModelConfig.Family {
    /// The registry: each family's unit.
    public var architecture: any ModelArchitecture.Type {
        switch self {
        case .kimiLinear: KimiLinear.self
        case .step35: Step35.self
        }
    }

    /// The family a GGUF file declares, if the engine runs it.
    public init?(ggufName: String) {
        guard let family = Self.allCases.first(where: { $0.architecture.ggufName == ggufName }) else { return nil }
        self = family
    }
}

extension ModelConfig {
    /// The configuration a GGUF file describes, read by its family's unit.
    public static func from(gguf file: GGUFFile) throws -> ModelConfig {
        guard let name = file.architecture else { throw GGUFError(file.path, "no general.architecture in the metadata") }
        guard let family = Family(ggufName: name) else {
            let known = Family.allCases.map { $0.architecture.ggufName }.joined(separator: ", ")
            throw GGUFError(file.path, "architecture '\(name)' is not one this engine runs (\(known))")
        }
        let architecture: any ModelArchitecture.Type = family.architecture
        return try architecture.config(from: file)
    }
}

/// Typed reads of a GGUF file's metadata under its architecture's prefix ("kimi-linear.block_count"),
/// each failing with the file, the key and what was expected.
struct GGUFMetadata {
    let file: GGUFFile
    let prefix: String

    func fail(_ key: String, _ message: String) -> GGUFError { GGUFError(file.path, "metadata '\(key)': \(message)") }

    func value(_ key: String) -> GGUFValue? { file["\(prefix).\(key)"] ?? file[key] }

    func integer(_ key: String, _ range: ClosedRange<Int> = 0...(1 << 30)) throws -> Int {
        guard let v = value(key) else { throw fail("\(prefix).\(key)", "missing") }
        guard let n = v.integer, range.contains(n) else { throw fail("\(prefix).\(key)", "expected an integer \(range.lowerBound)...\(range.upperBound), got \(v)") }
        return n
    }

    func optionalInteger(_ key: String, _ range: ClosedRange<Int> = 0...(1 << 30)) throws -> Int? {
        value(key) == nil ? nil : try integer(key, range)
    }

    func number(_ key: String) throws -> Double? {
        guard let v = value(key) else { return nil }
        guard let n = v.number, n.isFinite else { throw fail("\(prefix).\(key)", "expected a number, got \(v)") }
        return n
    }

    func bool(_ key: String) throws -> Bool? {
        guard let v = value(key) else { return nil }
        if case let .bool(b) = v { return b }
        guard let n = v.integer else { throw fail("\(prefix).\(key)", "expected a bool, got \(v)") }
        return n != 0
    }

    /// A per-layer value: an array of `layers` entries, or one value for every layer.
    func perLayerIntegers(_ key: String, layers: Int, _ range: ClosedRange<Int> = 0...(1 << 30)) throws -> [Int]? {
        guard let v = value(key) else { return nil }
        if let items = v.array {
            guard items.count >= layers else { throw fail("\(prefix).\(key)", "\(items.count) entries for \(layers) layers") }
            return try items.prefix(layers).map { item in
                guard let n = item.integer, range.contains(n) else { throw fail("\(prefix).\(key)", "expected integers \(range.lowerBound)...\(range.upperBound), got \(item)") }
                return n
            }
        }
        return [Int](repeating: try integer(key, range), count: layers)
    }

    func perLayerNumbers(_ key: String, layers: Int) throws -> [Double]? {
        guard let v = value(key) else { return nil }
        if let items = v.array {
            guard items.count >= layers else { throw fail("\(prefix).\(key)", "\(items.count) entries for \(layers) layers") }
            return try items.prefix(layers).map { item in
                guard let n = item.number, n.isFinite else { throw fail("\(prefix).\(key)", "expected numbers, got \(item)") }
                return n
            }
        }
        guard let n = v.number else { throw fail("\(prefix).\(key)", "expected a number or an array of numbers, got \(v)") }
        return [Double](repeating: n, count: layers)
    }

    /// A tensor's (rows, cols) in the engine's terms: cols = ne0, rows = the product of the rest.
    func shape(_ name: String) throws -> (rows: Int, cols: Int) {
        guard let t = file.tensor(name) else { throw GGUFError(file.path, "tensor '\(name)' is missing") }
        return (t.rows, t.cols)
    }

    /// `base` (a family's published preset) with what every family's header holds: the file name
    /// without ".gguf" as the model's name, layer count, width, vocabulary, context length and norm epsilon.
    func common(_ base: ModelConfig) throws -> ModelConfig {
        var c = base
        c.name = GGUFFile.stem(file.path)
        c.layerCount = try integer("block_count", 1...4096)
        c.hiddenSize = try integer("embedding_length", 1...ModelConfig.largestDimension)
        c.vocabSize = try vocabulary()
        c.maxContext = try integer("context_length", 1...(1 << 26))
        c.normEps = Float(try number("attention.layer_norm_rms_epsilon") ?? 1e-5)
        return c
    }

    /// The vocabulary: the output (or embedding) tensor's rows.
    func vocabulary() throws -> Int {
        if let n = try optionalInteger("vocab_size", 1...(1 << 24)) { return n }
        return try shape("token_embd.weight").rows
    }
}
