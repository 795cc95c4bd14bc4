/// The value types a tensor can hold: ggml's names, and ggml's per-type trait table as `format`.
public enum DType: String, CaseIterable, Codable, Sendable {
    case f32, f16, bf16
    case q8_0 = "q8_0"
    case q4_0 = "q4_0"
    case q5_0 = "q5_0"
    case q4_K = "q4_K"
    case q5_K = "q5_K"
    case q6_K = "q6_K"
    /// Activation-only: what a K-quant weight row is dotted with.
    case q8_K = "q8_K"

    /// The registry. Adding a format means its own file plus one line here.
    public var format: any QuantFormat.Type {
        switch self {
        case .f32: F32Format.self
        case .f16: F16Format.self
        case .bf16: BF16Format.self
        case .q8_0: Q8_0Format.self
        case .q4_0: Q4_0Format.self
        case .q5_0: Q5_0Format.self
        case .q4_K: Q4_KFormat.self
        case .q5_K: Q5_KFormat.self
        case .q6_K: Q6_KFormat.self
        case .q8_K: Q8_KFormat.self
        }
    }

    /// The format as a weight type, or nil for activation-only types (q8_K).
    public var weightFormat: (any WeightFormat.Type)? { format as? any WeightFormat.Type }

    /// Types weights can be stored in.
    public static var weightTypes: [DType] { allCases.filter { $0.weightFormat != nil } }

    public var blockValues: Int { format.blockValues }
    public var blockBytes: Int { format.blockBytes }
    /// The activation type the weight dot product pairs with (nil for q8_K).
    public var activationType: DType? { weightFormat?.activationType }
    /// Average storage cost per value, in bits (q4_K: 4.5, q8_0: 8.5).
    public var bitsPerValue: Double { Double(blockBytes * 8) / Double(blockValues) }

    /// Bytes for a row of `count` values (which must be a multiple of `blockValues`).
    public func rowBytes(_ count: Int) -> Int { count / blockValues * blockBytes }

    /// True for ggml's block-quantized types.
    public var isQuantized: Bool { blockValues > 1 }

    /// Parses a name case-insensitively ("Q4_K", "q8_0", "F16").
    public init?(name: String) {
        guard let match = DType.allCases.first(where: { $0.rawValue.lowercased() == name.lowercased() }) else { return nil }
        self = match
    }
}

/// A row whose length does not fit the format's block size.
public struct BlockSizeError: Error, CustomStringConvertible, Equatable {
    public let type: DType
    public let count: Int
    public var description: String {
        "\(type.rawValue) rows need a length that is a multiple of \(type.blockValues), got \(count)"
    }
}

extension DType {
    /// Throws unless `count` values make whole blocks of this type.
    public func checkRowLength(_ count: Int) throws {
        if count % blockValues != 0 { throw BlockSizeError(type: self, count: count) }
    }
}
