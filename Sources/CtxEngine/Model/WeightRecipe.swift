/// Which storage type each tensor gets: one type for every matrix, or a llama.cpp-style mix.
///
/// Whatever the recipe, norms, the router (and its bias), conv kernels and the KDA decay
/// parameters stay f32, as in GGUF files. A matrix whose row length does not fit the chosen type's
/// block falls back the way llama.cpp does when it cannot use a K-quant: K-quants fall back to q8_0
/// (rows of 128: KDA's low-rank gate up-projections, MLA's transposed k_b), q8_0/q4_0 to f16.
///
/// `q4_K_M` follows llama.cpp's Q4_K_M: q4_K everywhere except the LM head (q6_K) and, on the
/// "more bits" layers (the first and last eighth, and every third layer in between), the value
/// projections (attn_v, kda_v, attn_v_b) and FFN down projections (dense, shared and routed) in q6_K.
public enum WeightRecipe: Sendable, Equatable, Hashable, CustomStringConvertible {
    case uniform(DType)
    case q4_K_M

    public init?(name: String) {
        if name.lowercased() == "q4_k_m" { self = .q4_K_M; return }
        guard let type = DType(name: name), type.weightFormat != nil else { return nil }
        self = .uniform(type)
    }

    public var description: String {
        switch self {
        case let .uniform(type): type.rawValue
        case .q4_K_M: "q4_K_M"
        }
    }

    public static var names: [String] { DType.weightTypes.map(\.rawValue) + ["q4_K_M"] }

    /// The storage type of `spec` in a model of `layerCount` layers.
    public func type(for spec: TensorSpec, layerCount: Int) -> DType {
        if spec.alwaysF32 { return .f32 }
        let wanted: DType
        switch self {
        case let .uniform(type):
            wanted = type
        case .q4_K_M:
            switch spec.role {
            case .output:
                wanted = .q6_K
            case .attentionValue, .ffnDown, .expertDown:
                wanted = spec.layer.map { Self.usesMoreBits(layer: $0, of: layerCount) } == true ? .q6_K : .q4_K
            default:
                wanted = .q4_K
            }
        }
        return Self.fitting(wanted, cols: spec.cols)
    }

    /// llama.cpp's use_more_bits(i, n).
    static func usesMoreBits(layer i: Int, of n: Int) -> Bool {
        i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2
    }

    /// `type`, or the fallback when rows of `cols` values are not whole blocks of it.
    static func fitting(_ type: DType, cols: Int) -> DType {
        if cols % type.blockValues == 0 { return type }
        if type.blockValues == 256, cols % 32 == 0 { return .q8_0 }
        return .f16
    }
}
