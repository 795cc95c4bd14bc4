/// Projects the time of a full-depth model from a slice that ran its first N layers at full size.
///
/// Each layer's time is split by the op timers into its mixer part (KDA / MLA / GQA ops), its FFN
/// part (dense FFN or routing + experts) and its shared part (norms, residual adds). A full-model
/// layer is costed as mean(mixer time of slice layers with the same mixer kind) + mean(FFN time of
/// slice layers with the same FFN kind) + mean(shared time); model-level ops (embedding, final
/// norm, LM head) count once. Time the timers did not see (fork/join gaps between ops) is scaled
/// in proportion. The result is a projection, and is always labelled as one.
public struct SliceProjection: Sendable, Equatable {
    /// Projected wall time of the full model for the same work, in nanoseconds.
    public var projectedNanoseconds: Double
    /// The slice's measured wall time.
    public var measuredNanoseconds: Double
    public var sliceLayers: Int
    public var fullLayers: Int

    public enum Failure: Error, CustomStringConvertible, Equatable {
        case missingKind(String)
        case nothingTimed
        public var description: String {
            switch self {
            case let .missingKind(kind):
                "the slice has no \(kind) layer to project from; run more layers of the pattern"
            case .nothingTimed:
                "no op timers recorded (profiling is off); a projection needs them"
            }
        }
    }

    /// `profiler` holds the ops of one measured stretch of work that took `wallNanoseconds`.
    public static func project(config: ModelConfig, sliceLayers: Int, profiler: OpProfiler,
                               wallNanoseconds: Double) throws -> SliceProjection {
        var mixerTimes: [ModelConfig.LayerMixer: [Double]] = [:]
        var ffnTimes: [ModelConfig.LayerFFN: [Double]] = [:]
        var shared: [Double] = []
        for layer in 0..<sliceLayers {
            mixerTimes[config.mixer(ofLayer: layer), default: []].append(Double(profiler.nanoseconds(slot: layer, part: .mixer)))
            ffnTimes[config.ffn(ofLayer: layer), default: []].append(Double(profiler.nanoseconds(slot: layer, part: .ffn)))
            shared.append(Double(profiler.nanoseconds(slot: layer, part: .shared)))
        }
        let modelLevel = Double(Op.allCases.reduce(0) { $0 + profiler.entry($1, slot: profiler.modelSlot).nanoseconds })
        let timed = modelLevel + mixerTimes.values.joined().reduce(0, +) + ffnTimes.values.joined().reduce(0, +)
            + shared.reduce(0, +)
        guard timed > 0 else { throw Failure.nothingTimed }
        func mean(_ xs: [Double]) -> Double { xs.reduce(0, +) / Double(xs.count) }
        var projected = modelLevel
        for layer in 0..<config.layerCount {
            guard let m = mixerTimes[config.mixer(ofLayer: layer)] else {
                throw Failure.missingKind(config.mixer(ofLayer: layer).rawValue)
            }
            guard let f = ffnTimes[config.ffn(ofLayer: layer)] else {
                throw Failure.missingKind(config.ffn(ofLayer: layer).rawValue + " FFN")
            }
            projected += mean(m) + mean(f) + mean(shared)
        }
        return SliceProjection(projectedNanoseconds: wallNanoseconds * projected / timed,
                               measuredNanoseconds: wallNanoseconds, sliceLayers: sliceLayers,
                               fullLayers: config.layerCount)
    }
}
