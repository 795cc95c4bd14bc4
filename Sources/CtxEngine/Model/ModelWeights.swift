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

    /// The tensor named `name` ("blk.3.attn_q", "output").
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

    /// KDA decay parameters as Mamba-style models initialise them: A = exp(A_log) uniform in 1...16;
    /// dt_bias = softplus⁻¹(dt) with dt log-uniform in 0.001...0.1, so the per-token log-decay
    /// g = -A * softplus(... + dt_bias) starts between about -1.6 and -0.001.
    static func fillDecay(_ values: UnsafeMutablePointer<Float>, spec: TensorSpec, random: inout SeededRandom) {
        for i in 0..<spec.cols {
            let u = (random.nextSignedUnit() + 1) / 2
            if spec.name.hasSuffix("a_log") {
                values[i] = log(1 + 15 * u)
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
