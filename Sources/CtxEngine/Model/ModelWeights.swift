#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The synthetic weights of a model: every tensor of `ModelConfig.tensorSpecs` allocated in its
/// recipe type and filled deterministically from a seed.
///
/// Values are written block by block straight into the storage type (no f32 copy of a matrix
/// exists at any time), one random stream per (seed, tensor, row), rows shared out over the pool
/// so generation is parallel and pages are first touched by the threads that will read them.
public final class ModelWeights: @unchecked Sendable {
    public let config: ModelConfig
    public let recipe: WeightRecipe
    public let seed: UInt64
    /// Layers present (a slice runs the first `layers` of the full model's pattern).
    public let layers: Int
    private var tensors: [String: Tensor] = [:]
    public let specs: [TensorSpec]
    /// For weights read from a GGUF file: the seconds it took, and the tensors that had to be
    /// converted (the engine keeps norms, gates' biases and KDA's A, dt and conv kernels in f32; every
    /// matrix is used in place, in the file's mapping).
    public private(set) var loadSeconds: Double = 0
    public private(set) var convertedTensors: [String] = []

    public init(config: ModelConfig, recipe: WeightRecipe, seed: UInt64, layers: Int? = nil, pool: ThreadPool,
                placement: MemoryPlacement = .firstTouch) throws {
        self.config = config
        self.recipe = recipe
        self.seed = seed
        self.layers = layers ?? config.layerCount
        specs = config.tensorSpecs(layers: self.layers)
        for spec in specs {
            let type = recipe.type(for: spec, layerCount: config.layerCount)
            let tensor = try Tensor(type: type, rows: spec.rows, cols: spec.cols, placement: placement)
            Self.fill(tensor, spec: spec, seed: seed, pool: pool)
            tensors[spec.name] = tensor
        }
    }

    /// The weights of a GGUF file whose configuration `config` is (`ModelConfig.from(gguf:)`), read
    /// in place: every tensor the configuration needs is found by name and checked against the
    /// shape the metadata implies and against the types the engine computes with
    /// (`fileTypes(of:config:layers:)`, which reads only the header).
    public init(gguf file: GGUFFile, config: ModelConfig, layers: Int? = nil) throws {
        let start = monotonicNanoseconds()
        self.config = config
        self.layers = layers ?? config.layerCount
        seed = 0
        specs = config.tensorSpecs(layers: self.layers)
        var types: [String: DType] = [:]
        for (spec, info, type) in try Self.locate(file, config: config, specs: specs) {
            guard let info else {
                // An optional tensor the file leaves out (llama.cpp: TENSOR_NOT_REQUIRED) reads as zeros.
                let zeros = try Tensor(type: .f32, rows: spec.rows, cols: spec.cols)
                zeros.data.initializeMemory(as: UInt8.self, repeating: 0, count: zeros.byteCount)
                tensors[spec.name] = zeros
                types[spec.name] = .f32
                continue
            }
            let data = file.data(info)
            if spec.alwaysF32 && type != .f32 {
                // Kept in f32 by the engine: convert this small tensor into memory of its own.
                let tensor = try Tensor(type: .f32, rows: spec.rows, cols: spec.cols)
                type.format.dequantize(data, tensor.data.assumingMemoryBound(to: Float.self), count: spec.rows * spec.cols)
                tensors[spec.name] = tensor
                convertedTensors.append(spec.name)
            } else {
                tensors[spec.name] = try Tensor(type: type, rows: spec.rows, cols: spec.cols, data: data, owner: file)
            }
            types[spec.name] = tensors[spec.name]!.type
        }
        recipe = .file(types)
        loadSeconds = Double(monotonicNanoseconds() - start) / 1e9
    }

    /// The recipe a GGUF file's weights amount to (each tensor's type as the engine will hold it),
    /// checked from the header alone: names, shapes and types, so that a plan can be made for a
    /// file far larger than memory without reading a weight.
    public static func fileRecipe(_ file: GGUFFile, config: ModelConfig, layers: Int? = nil) throws -> WeightRecipe {
        var types: [String: DType] = [:]
        for (spec, info, type) in try locate(file, config: config, specs: config.tensorSpecs(layers: layers ?? config.layerCount)) {
            types[spec.name] = info == nil || spec.alwaysF32 ? .f32 : type
        }
        return .file(types)
    }

    /// Each spec's tensor info in the file (nil: an optional tensor the file omits) and stored type.
    static func locate(_ file: GGUFFile, config: ModelConfig, specs: [TensorSpec]) throws -> [(TensorSpec, GGUFTensorInfo?, DType)] {
        try specs.map { spec in
            guard let info = file.tensor(spec.name) else {
                if config.family.architecture.mayOmit(spec) { return (spec, nil, .f32) }
                throw GGUFError(file.path, "tensor '\(spec.name)' is missing (the \(config.family.rawValue) configuration needs it)")
            }
            let vector = [.norm, .routerBias, .decay].contains(spec.role)
            let fits = vector ? info.elementCount == spec.rows * spec.cols : (info.rows == spec.rows && info.cols == spec.cols)
            guard fits else {
                throw GGUFError(file.path, "tensor '\(spec.name)' has dimensions \(info.dims) (ggml order), but the metadata implies "
                                + "\(spec.rows) rows of \(spec.cols) values")
            }
            guard let type = info.type?.dtype, type.weightFormat != nil else {
                throw GGUFError(file.path, "tensor '\(spec.name)' has type \(info.typeName), which this engine cannot compute with")
            }
            return (spec, info, type)
        }
    }

    /// What `regroupForDecode` did.
    public struct DecodeRegrouping: Sendable {
        /// Bytes the regrouped copies take (0: none made).
        public var bytes = 0
        /// Bytes the copies would have taken where the budget refused them (0: none refused).
        public var refusedBytes = 0
    }

    /// Gives every q4_K, q5_K, q6_K, q8_0, q5_0 and f16 matrix with a 16-row multiple (not the embedding table,
    /// which is looked up, not multiplied) a copy regrouped 16 rows at a time for decode's GEMV
    /// (`InterleavedWeights`; AVX-512 VNNI builds only: elsewhere nothing qualifies). Prefill keeps
    /// reading the stored rows, in place in a GGUF file's mapping, so the copies add their size to
    /// the memory the model takes: when that exceeds `budgetBytes` nothing is regrouped and decode
    /// reads the rows.
    public func regroupForDecode(pool: ThreadPool, budgetBytes: Int) throws -> DecodeRegrouping {
        let candidates = specs.filter { $0.role != .embedding }.map { tensor($0.name) }.filter { InterleavedWeights.takes($0) }
        var result = DecodeRegrouping()
        let needed = candidates.reduce(0) { $0 + $1.byteCount }
        guard needed <= budgetBytes else {
            result.refusedBytes = needed
            return result
        }
        for t in candidates { result.bytes += try t.interleaveForDecode(pool: pool) }
        return result
    }

    /// The tensor named `name` ("blk.3.attn_q.weight", "output.weight").
    public func tensor(_ name: String) -> Tensor {
        guard let t = tensors[name] else { preconditionFailure("no tensor \(name) in \(config.name)") }
        return t
    }

    public func layerTensor(_ layer: Int, _ name: String) -> Tensor { tensor("blk.\(layer).\(name)") }

    public var totalBytes: Int { tensors.values.reduce(0) { $0 + $1.byteCount } }

    static func fill(_ tensor: Tensor, spec: TensorSpec, seed: UInt64, pool: ThreadPool) {
        let stream = fnv1a(spec.name)
        let format = tensor.type.format
        pool.parallelFor(tensor.rows, schedule: .dynamic(chunk: 16)) { range, _ in
            for r in range {
                var random = SeededRandom(seed: seed ^ stream, stream: UInt64(r))
                let row = tensor.row(r)
                switch spec.role {
                case .norm:
                    let values = row.assumingMemoryBound(to: Float.self)
                    for i in 0..<tensor.cols { values[i] = spec.scale }
                case .decay:
                    fillDecay(row.assumingMemoryBound(to: Float.self), spec: spec, random: &random)
                default:
                    format.synthesize(row, count: tensor.cols, std: spec.scale, random: &random)
                }
            }
        }
    }

    /// KDA decay parameters as Mamba-style models initialise them: exp(A_log) uniform in 1...16,
    /// stored as GGUF files store it, A = -exp(A_log) (one value per row: one head);
    /// dt_bias = softplus⁻¹(dt) with dt log-uniform in 0.001...0.1, so the per-token log-decay
    /// g = A * softplus(... + dt_bias) starts between about -1.6 and -0.001.
    static func fillDecay(_ values: UnsafeMutablePointer<Float>, spec: TensorSpec, random: inout SeededRandom) {
        for i in 0..<spec.cols {
            let u = (random.nextSignedUnit() + 1) / 2
            if spec.name.hasSuffix("ssm_a") {
                values[i] = -(1 + 15 * u)
            } else {
                let dt = exp(log(Float(0.001)) + u * (log(Float(0.1)) - log(Float(0.001))))
                values[i] = dt + log(-expm1(-dt))
            }
        }
    }
}

/// FNV-1a of a string: a stable per-tensor stream id (Swift's hashValue is randomized per process).
func fnv1a(_ text: String) -> UInt64 {
    var hash: UInt64 = 0xCBF2_9CE4_8422_2325
    for byte in text.utf8 { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
    return hash
}
