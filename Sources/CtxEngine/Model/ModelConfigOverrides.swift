import Foundation

/// A field of a model configuration that cannot be used, named so a suite error can point at it.
public struct ModelConfigError: Error, CustomStringConvertible, Equatable {
    public let field: String
    public let message: String
    public var description: String { "\(field): \(message)" }
}

extension ModelConfig {
    /// The field names, sorted (what overrides may set): a configuration with every optional field
    /// set, so that its encoding names them all.
    public static var fieldNames: [String] {
        var every = ModelConfig.step35Flash
        every.routedSwigluLimit = 0; every.sharedSwigluLimit = 0; every.layerPattern = []
        let object = try! JSONSerialization.jsonObject(with: JSONEncoder().encode(every)) as! [String: Any]
        return Array(object.keys).sorted()
    }

    /// This configuration with `values` replacing fields: numbers (Int or Double), strings, or
    /// NSNull for optional fields. Unknown names are errors with the closest known name suggested;
    /// the result is validated.
    public func overriding(_ values: [String: Any]) throws -> ModelConfig {
        let encoder = JSONEncoder()
        var object = try JSONSerialization.jsonObject(with: encoder.encode(self)) as! [String: Any]
        let known = Self.fieldNames
        for (key, value) in values {
            guard known.contains(key) else {
                let suggestion = closestName(to: key, in: known).map { " (did you mean '\($0)'?)" } ?? ""
                throw ModelConfigError(field: key, message: "unknown model field\(suggestion)")
            }
            object[key] = value
        }
        // Optional fields left nil are absent from the encoding; null overrides remove them.
        for (key, value) in object where value is NSNull { object.removeValue(forKey: key) }
        // A model cut to fewer (or given more) layers keeps the per-layer arrays' last layers: the
        // clamps a published model puts on its last layers stay on the cut model's last layers.
        if let layers = values["layerCount"] as? Int, layers >= 1, layers <= 4096 {
            for key in ["routedSwigluLimits", "sharedSwigluLimits"] where values[key] == nil {
                if let limits = object[key] as? [Any], limits.count != layers {
                    object[key] = Array(repeating: 0, count: max(0, layers - limits.count)) + limits.suffix(layers)
                }
            }
        }
        let data = try JSONSerialization.data(withJSONObject: object)
        let config: ModelConfig
        do {
            config = try JSONDecoder().decode(ModelConfig.self, from: data)
        } catch let DecodingError.typeMismatch(type, context), let DecodingError.valueNotFound(type, context) {
            let field = context.codingPath.map(\.stringValue).joined(separator: ".")
            let expected = type == Int.self ? "an integer" : type == String.self ? "a string" : "a number"
            throw ModelConfigError(field: field, message: "expected \(expected), got \(Self.describe(values[field]))")
        } catch let DecodingError.dataCorrupted(context) {
            let field = context.codingPath.map(\.stringValue).joined(separator: ".")
            let message = field == "family"
                ? "expected one of \(Family.allCases.map(\.rawValue).joined(separator: ", ")), got \(Self.describe(values[field]))"
                : "expected a valid value, got \(Self.describe(values[field]))"
            throw ModelConfigError(field: field, message: message)
        }
        try config.validate()
        return config
    }

    /// An override's value for a message.
    static func describe(_ value: Any?) -> String {
        switch value {
        case let s as String: return "\"\(s.count > 40 ? String(s.prefix(40)) + "…" : s)\""
        case let n as Int: return "\(n)"
        case let d as Double: return "\(d)"
        case is NSNull: return "null"
        default: return "nothing"
        }
    }

    /// The largest value of any width, count or head dimension.
    public static let largestDimension = 1 << 22

    /// Checks that the configuration can be built and run.
    public func validate() throws {
        // Bounded so that no product of shapes overflows: a dimension above 2^22 (4M) is no model's.
        func positive(_ name: String, _ value: Int) throws {
            if value < 1 || value > Self.largestDimension {
                throw ModelConfigError(field: name, message: "expected an integer 1...\(Self.largestDimension), got \(value)")
            }
        }
        for (name, value) in [("denseLayers", denseLayers), ("sharedExperts", sharedExperts), ("maxContext", maxContext),
                              ("slidingWindow", slidingWindow), ("kdaConvKernel", kdaConvKernel)]
            where value < 0 || value > Self.largestDimension {
            throw ModelConfigError(field: name, message: "expected an integer 0...\(Self.largestDimension), got \(value)")
        }
        try positive("hiddenSize", hiddenSize)
        try positive("layerCount", layerCount)
        try positive("vocabSize", vocabSize)
        try positive("attentionPeriod", attentionPeriod)
        if layerCount > denseLayers {
            try positive("experts", experts)
            try positive("expertsPerToken", expertsPerToken)
            try positive("expertIntermediate", expertIntermediate)
            if expertsPerToken > experts {
                throw ModelConfigError(field: "expertsPerToken", message: "expected at most experts (\(experts)), got \(expertsPerToken)")
            }
        }
        if denseLayers > 0 { try positive("denseIntermediate", denseIntermediate) }
        if sharedExperts > 0 { try positive("sharedIntermediate", sharedIntermediate) }
        if layerCount > 4096 { throw ModelConfigError(field: "layerCount", message: "expected at most 4096, got \(layerCount)") }
        for (name, count) in [("layerPattern", layerPattern?.count), ("routedSwigluLimits", routedSwigluLimits?.count),
                              ("sharedSwigluLimits", sharedSwigluLimits?.count)] {
            if let count, count != layerCount {
                throw ModelConfigError(field: name, message: "expected one entry per layer (\(layerCount)), got \(count)")
            }
        }
        switch family {
        case .kimiLinear:
            for (name, value) in [("kdaHeads", kdaHeads), ("kdaHeadDim", kdaHeadDim), ("kdaGateRank", kdaGateRank),
                                  ("mlaHeads", mlaHeads), ("kvLoraRank", kvLoraRank), ("qkNopeDim", qkNopeDim),
                                  ("qkRopeDim", qkRopeDim), ("vHeadDim", vHeadDim)] { try positive(name, value) }
            if kdaConvKernel < 2 {
                throw ModelConfigError(field: "kdaConvKernel", message: "expected at least 2, got \(kdaConvKernel)")
            }
        case .step35:
            for (name, value) in [("fullHeads", fullHeads), ("slidingHeads", slidingHeads), ("kvHeads", kvHeads),
                                  ("headDim", headDim), ("slidingWindow", slidingWindow)] { try positive(name, value) }
            for (name, heads) in [("fullHeads", fullHeads), ("slidingHeads", slidingHeads)] where heads % kvHeads != 0 {
                throw ModelConfigError(field: name, message: "expected a multiple of kvHeads (\(kvHeads)), got \(heads)")
            }
            for (name, dims) in [("fullRotaryDims", fullRotaryDims), ("slidingRotaryDims", slidingRotaryDims)]
                where dims < 2 || dims % 2 != 0 || dims > headDim {
                throw ModelConfigError(field: name, message: "expected an even number 2...\(headDim), got \(dims)")
            }
        }
        let parameters = tensorSpecs().reduce(0.0) { $0 + Double($1.rows) * Double($1.cols) }
        if parameters > 1e13 {
            throw ModelConfigError(field: "", message: String(format: "%.3g parameters: no model this engine could hold", parameters))
        }
    }
}

/// The candidate with the smallest edit distance, if it is close enough to be a likely typo.
public func closestName(to name: String, in candidates: [String]) -> String? {
    // A name far longer than every candidate is no typo of one (and would cost its length squared).
    guard name.count <= 2 * (candidates.map(\.count).max() ?? 0) + 8 else { return nil }
    func distance(_ a: [Character], _ b: [Character]) -> Int {
        var previous = Array(0...b.count)
        for (i, ca) in a.enumerated() {
            var current = [i + 1]
            for (j, cb) in b.enumerated() {
                current.append(min(previous[j + 1] + 1, current[j] + 1, previous[j] + (ca == cb ? 0 : 1)))
            }
            previous = current
        }
        return previous[b.count]
    }
    let lowered = Array(name.lowercased())
    let scored = candidates.map { ($0, distance(lowered, Array($0.lowercased()))) }
    // Ties go to the name first in sorted order, so the suggestion does not depend on set order.
    guard let best = scored.min(by: { $0.1 != $1.1 ? $0.1 < $1.1 : $0.0 < $1.0 }), best.1 <= max(2, name.count / 3) else { return nil }
    return best.0
}
