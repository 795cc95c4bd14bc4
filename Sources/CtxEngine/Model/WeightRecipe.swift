/// Which storage type each tensor gets: one type for every matrix, or a llama.cpp-style mix.
///
/// Whatever the recipe, norms, the router (and its bias), conv kernels and the KDA decay
/// parameters stay f32, as in GGUF files. A matrix whose row length does not fit the chosen type's
/// block falls back the way llama.cpp does when it cannot use a K-quant (rows of 128: KDA's low-rank
/// gate up-projections, MLA's transposed k_b): q4_K to q5_0, q6_K to q8_0, q5_K to q8_0 (llama.cpp:
/// q5_1, a type this engine lacks); 32-value types that do not fit to f16.
///
/// `q4_K_M` follows llama.cpp's Q4_K_M: q4_K everywhere except the LM head (q6_K) and, on the
/// "more bits" layers (the first and last eighth, and every third layer in between), the value
/// projections (attn_v, attn_v_b) and FFN down projections (dense, shared and routed) in q6_K.
/// `q4_K_S` follows Q4_K_S: q4_K except the LM head (q6_K), the value projections of the first four
/// layers and the FFN down projections of the first eighth of the layers (q5_K). (llama.cpp counts
/// value tensors in file order; one per layer here.) Files quantized by llama.cpp carry their own
/// types and are read as they are.
public enum WeightRecipe: Sendable, Equatable, Hashable, CustomStringConvertible {
    case uniform(DType)
    case q4_K_M
    case q4_K_S
    /// The types a GGUF file stores, tensor by tensor (what llama.cpp's quantizer chose).
    case file([String: DType])

    public init?(name: String) {
        switch name.lowercased() {
        case "q4_k_m": self = .q4_K_M
        case "q4_k_s": self = .q4_K_S
        default:
            guard let type = DType(name: name), type.weightFormat != nil else { return nil }
            self = .uniform(type)
        }
    }

    public var description: String {
        switch self {
        case let .uniform(type): type.rawValue
        case .q4_K_M: "q4_K_M"
        case .q4_K_S: "q4_K_S"
        case let .file(types): Self.describe(types)
        }
    }

    /// A file's mix named by its most common matrix type and the others ("q4_K+q6_K+q5_0").
    static func describe(_ types: [String: DType]) -> String {
        var counts: [DType: Int] = [:]
        for (name, type) in types where !name.hasSuffix("norm.weight") && type != .f32 { counts[type, default: 0] += 1 }
        if counts.isEmpty { return "f32" }
        let ordered = counts.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key.rawValue < $1.key.rawValue }
        return ordered.map(\.key.rawValue).joined(separator: "+")
    }

    public static var names: [String] { DType.weightTypes.map(\.rawValue) + ["q4_K_M", "q4_K_S"] }

    /// The storage type of `spec` in a model of `layerCount` layers.
    public func type(for spec: TensorSpec, layerCount: Int) -> DType {
        if case let .file(types) = self { return types[spec.name] ?? .f32 }
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
        case .file:
            preconditionFailure("handled above")
        case .q4_K_S:
            switch spec.role {
            case .output:
                wanted = .q6_K
            case .attentionValue:
                wanted = (spec.layer ?? 0) < 4 ? .q5_K : .q4_K
            case .ffnDown, .expertDown:
                wanted = (spec.layer ?? 0) < layerCount / 8 ? .q5_K : .q4_K
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
        // llama.cpp's tensor_type_fallback: q4_K -> q5_0, q6_K -> q8_0; q5_K -> q5_1, which this
        // engine does not have, so q8_0 stands in for it.
        if type.blockValues == 256, cols % 32 == 0 { return type == .q4_K ? .q5_0 : .q8_0 }
        return .f16
    }
}
