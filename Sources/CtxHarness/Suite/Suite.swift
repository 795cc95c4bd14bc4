import CtxEngine
import Foundation

/// A benchmark suite: one JSON5 file in suites/, the grid of every combination of its lists.
///
///     {
///       name: "quickstart", description: "...",
///       models: [{ preset: "kimi-linear-mini" }, { preset: "kimi-linear-48b-a3b", layers: 4, set: { experts: 32 } }],
///       weightTypes: ["q8_0", "q4_K_M"],   cacheTypes: ["f16"],   threads: [2],   numa: ["none"],
///       tests: { pp: [512], tg: [32], pg: [[512, 32]],
///                depths: [0, 4096]  or  { start: 512, end: 262144, doubling: true, zero: true }  or  { start, end, step } },
///       fill: "synthetic" or ["synthetic", "computed"],  batch: 512,  microBatch: 512,  warmup: 1,
///       repetitions: 5  or  { min: 3, max: 20, ciWidth: 0.05, budgetSeconds: 60 },
///       seed: 1,  delaySeconds: 0,  profile: true,  sessions: 1,
///       engines: [{ name: "ctxbench" }, { name: "llama.cpp", bin: "DIR", args: ["-fa", "1"] }],   (SuiteEngine.swift)
///       interleave: ["fill", "engine"],   (grid dimensions measured side by side)
///     }
public struct Suite: Sendable {
    public struct ModelEntry: Sendable {
        /// The preset the entry starts from ("" for a GGUF file).
        public var preset: String
        public var config: ModelConfig
        /// The GGUF file the configuration (and, unless synthetic, the weights) come from.
        public var gguf: GGUFModel? = nil
        /// Run only the first `layers` layers of the pattern (a slice, projected to the full model).
        public var layers: Int?
        /// "kimi-linear-mini", or "kimi-linear-48b-a3b[4/27]" for a slice, "+set" when overridden.
        public var label: String
    }

    public enum Test: Sendable, Equatable, Hashable {
        case pp(Int)
        case tg(Int)
        case pg(Int, Int)

        /// llama-bench's names: pp512, tg128, pp512+tg128.
        public var label: String {
            switch self {
            case let .pp(n): "pp\(n)"
            case let .tg(n): "tg\(n)"
            case let .pg(p, g): "pp\(p)+tg\(g)"
            }
        }

        public var promptTokens: Int {
            switch self { case let .pp(n): n; case .tg: 0; case let .pg(p, _): p }
        }

        public var generatedTokens: Int {
            switch self { case .pp: 0; case let .tg(n): n; case let .pg(_, g): g }
        }

        public var tokens: Int { promptTokens + generatedTokens }
    }

    public enum Repetitions: Sendable, Equatable {
        case fixed(Int)
        /// Repeat until the 95% confidence interval of the mean rate is within ±ciWidth (relative), at
        /// least `min` and at most `max` times, and stop adding repetitions past `budgetSeconds`.
        case adaptive(min: Int, max: Int, ciWidth: Double, budgetSeconds: Double)

        public var minimum: Int { switch self { case let .fixed(n): n; case let .adaptive(m, _, _, _): m } }

        /// Repetitions session `index` of `sessions` runs: fixed counts are split as evenly as they
        /// go; nil means "by the adaptive rule" (adaptive suites have one session).
        public func share(ofSession index: Int, sessions: Int) -> Int? {
            guard case let .fixed(n) = self else { return nil }
            return n / sessions + (index < n % sessions ? 1 : 0)
        }
        public var maximum: Int { switch self { case let .fixed(n): n; case let .adaptive(_, m, _, _): m } }
    }

    public var name: String
    public var description: String
    public var models: [ModelEntry]
    /// Weight types of synthetic weights (presets, and GGUF shapes with `weights: "synthetic"`); a
    /// GGUF file's own weights have the one recipe the file holds (`recipes(ofModel:)`).
    public var weightTypes: [WeightRecipe]
    public var cacheTypes: [DType]
    public var threads: [Int]
    public var numa: [NumaPolicy]
    public var tests: [Test]
    public var depths: [Int]
    /// How depths are reached; a list makes fill a grid dimension (to compare the two).
    public var fills: [FillMode]
    /// Grid dimensions whose values are measured side by side, repetition by repetition, in one
    /// session each (so a ratio between them is not a ratio between two moments of the machine).
    public var interleave: Set<Dimension> = []

    /// `fill`: the two fills' repetitions alternate in one session. `engine`: each llama.cpp cell
    /// runs beside ctxbench's cell of the same slot, process by session (SuiteRunner.runGroup).
    public enum Dimension: String, Sendable, CaseIterable {
        case fill
        case engine
    }
    /// Tokens per forward call (llama-bench -b): a prompt longer than this is fed in several calls.
    public var batch: Int
    /// Tokens per micro-batch inside a forward call (llama-bench -ub).
    public var microBatch: Int
    public var warmup: Int
    public var repetitions: Repetitions
    public var seed: UInt64
    public var delaySeconds: Double
    /// Independent engine sessions per setup (fresh allocations, weights and fill), each running
    /// its share of the repetitions, so the samples also cover run-to-run placement effects.
    public var sessions: Int
    public var profile: Bool
    /// How MLA layers attend (`MLAForm`: auto, the default, picks absorbed or expanded per
    /// micro-batch by FLOPs; naive is the reference form).
    public var mlaForm: MLAForm = .auto
    /// The file as parsed, echoed into run metadata.
    public var source: JSONValue
    /// Who runs the cells (`SuiteEngine.swift`); ctxbench's own engine alone by default.
    public var engines: [Engine] = [.ctxbench]

    /// The weight recipes the grid runs for model `i`.
    public func recipes(ofModel i: Int) -> [WeightRecipe] {
        if let recipe = models[i].gguf?.fileRecipe { return [recipe] }
        return weightTypes
    }

    /// SHA-256 of the suite as parsed (comments, spacing and key quoting do not count): two runs
    /// with the same hash ran the same plan.
    public var contentHash: String { SHA256.hex(source.jsonText) }
}

/// A suite error: file, field path and what was expected.
public struct SuiteError: Error, CustomStringConvertible, Equatable {
    public let file: String
    public let path: String
    public let message: String
    public var description: String { path.isEmpty ? "\(file): \(message)" : "\(file): \(path): \(message)" }
}

extension Suite {
    /// A suite of one configuration (`ctxbench engine`): one model, weight and cache type, thread
    /// count and fill, a prefill and a decode test at one depth, run by the same runner as any suite.
    public static func oneConfiguration(model: ModelConfig, preset: String, gguf: GGUFModel? = nil, layers: Int?, recipe: WeightRecipe,
                                        cacheType: DType, threads: Int, numa: NumaPolicy, fill: FillMode, depth: Int, pp: Int, tg: Int,
                                        repetitions: Int, microBatch: Int, seed: UInt64, mlaForm: MLAForm) -> Suite {
        var label: String
        if let gguf {
            label = GGUFFile.stem(gguf.path) + (gguf.syntheticWeights ? "+synthetic" : "")
        } else {
            label = preset + (ModelConfig.preset(named: preset) != model ? "+set" : "")
        }
        if let layers, layers < model.layerCount { label += "[\(layers)/\(model.layerCount)]" }
        let tests = (pp > 0 ? [Test.pp(pp)] : []) + (tg > 0 ? [Test.tg(tg)] : [])
        let source = JSONValue.object([
            ("name", .string("engine")), ("model", .string(label)), ("gguf", gguf.map { .string($0.path) } ?? .null),
            ("weightType", .string(recipe.description)),
            ("cacheType", .string(cacheType.rawValue)), ("threads", .number(Double(threads))), ("numa", .string(numa.rawValue)),
            ("fill", .string(fill.rawValue)), ("depth", .number(Double(depth))), ("pp", .number(Double(pp))), ("tg", .number(Double(tg))),
            ("repetitions", .number(Double(repetitions))), ("microBatch", .number(Double(microBatch))),
            ("seed", .number(Double(seed))), ("mlaForm", .string(mlaForm.rawValue)),
        ])
        var suite = Suite(name: "engine", description: "one configuration (ctxbench engine)",
                          models: [ModelEntry(preset: preset, config: model, gguf: gguf, layers: layers, label: label)],
                          weightTypes: [recipe], cacheTypes: [cacheType], threads: [threads], numa: [numa], tests: tests,
                          depths: [depth], fills: [fill], batch: max(pp, 1), microBatch: microBatch, warmup: 1,
                          repetitions: .fixed(repetitions), seed: seed, delaySeconds: 0, sessions: 1, profile: true, source: source)
        suite.mlaForm = mlaForm
        return suite
    }

    public static let maximumDepth = 1_048_576
    /// Suites are hand-written: anything larger is not one.
    public static let maximumFileBytes = 1 << 20
    /// Bounds on a grid, checked before anything is planned.
    public static let maximumCells = 100_000
    public static let maximumDepths = 10_000

    /// A value listed twice is an error naming both places.
    static func rejectRepeats(_ r: SuiteReader, _ values: [String], path: (Int) -> String, hint: String = "") throws {
        var first: [String: Int] = [:]
        for (i, v) in values.enumerated() {
            let key = v.lowercased()
            if let earlier = first[key] {
                let p = path(i), q = path(earlier)
                let (at, before) = p == q ? ("\(p)", "") : (p, " (\(q))")
                throw r.fail(at, "\"\(clipped(v, 40))\" is listed twice\(before): each value once, or two cells would share an id\(hint)")
            }
            first[key] = i
        }
    }

    /// Reads and validates a suite file.
    public static func load(path: String) throws -> Suite {
        let text: String
        do { text = try FileError.readText(path, what: "a suite file (JSON5)", limit: maximumFileBytes) } catch let e as FileError {
            throw SuiteError(file: path, path: "", message: e.reason)
        }
        return try parse(text, file: path)
    }

    public static func parse(_ text: String, file: String) throws -> Suite {
        let root: JSONValue
        do { root = try JSON5Parser.parse(text) } catch let e as JSON5Error {
            throw SuiteError(file: file, path: "", message: "not valid JSON5: \(e)")
        }
        let r = SuiteReader(file: file)
        let top = try r.object(root, "")
        let name = try top.string("name") ?? URL(fileURLWithPath: file).deletingPathExtension().lastPathComponent
        let description = try top.string("description") ?? ""
        let directory = URL(fileURLWithPath: file).deletingLastPathComponent().path
        let models = try top.required("models", "a non-empty array of models").nonEmptyArray().enumerated().map { i, value in
            try modelEntry(r, value, path: "models[\(i)]", directory: directory)
        }
        let weightTypes = try (top.optionalReader("weightTypes")?.nonEmptyArray() ?? []).enumerated().map { i, v -> WeightRecipe in
            let s = try r.string(v, "weightTypes[\(i)]")
            guard let recipe = WeightRecipe(name: s) else {
                throw r.fail("weightTypes[\(i)]", "expected one of \(WeightRecipe.names.joined(separator: ", ")), got \"\(clipped(s, 40))\"")
            }
            return recipe
        }
        let cacheTypes = try (top.optionalReader("cacheTypes")?.nonEmptyArray() ?? []).enumerated().map { i, v -> DType in
            let s = try r.string(v, "cacheTypes[\(i)]")
            guard let t = DType(name: s), KVCache.types.contains(t) else {
                throw r.fail("cacheTypes[\(i)]", "expected f32, f16 or q8_0, got \"\(clipped(s, 40))\"")
            }
            return t
        }
        let threads = try (top.optionalReader("threads")?.nonEmptyArray() ?? []).enumerated().map { i, v in
            try r.integer(v, "threads[\(i)]", 1...4096)
        }
        // More threads than logical CPUs only on request: they would time-share cores and measure
        // the scheduler (1,000 threads hang a 2-core machine).
        let oversubscribe = try top.bool("oversubscribe") ?? false
        let cpus = ProcessInfo.processInfo.activeProcessorCount
        if !oversubscribe, let i = threads.firstIndex(where: { $0 > cpus }) {
            throw r.fail("threads[\(i)]", "\(threads[i]) threads on a machine with \(cpus) logical CPUs; "
                         + "set oversubscribe: true to run more threads than CPUs")
        }
        let numa = try top.stringOrList("numa").enumerated().map { i, s -> NumaPolicy in
            guard let p = NumaPolicy(rawValue: s) else {
                throw r.fail("numa[\(i)]", "expected none, distribute or isolate, got \"\(clipped(s, 40))\"")
            }
            return p
        }
        let testsObject = try r.object(try top.required("tests", "an object with pp, tg, pg and depths").value, "tests")
        var tests: [Test] = []
        for (i, v) in try (testsObject.optionalReader("pp")?.nonEmptyArray() ?? []).enumerated() {
            tests.append(.pp(try r.integer(v, "tests.pp[\(i)]", 1...1_048_576)))
        }
        for (i, v) in try (testsObject.optionalReader("tg")?.nonEmptyArray() ?? []).enumerated() {
            tests.append(.tg(try r.integer(v, "tests.tg[\(i)]", 1...1_048_576)))
        }
        for (i, v) in try (testsObject.optionalReader("pg")?.nonEmptyArray() ?? []).enumerated() {
            guard case let .array(pair) = v, pair.count == 2 else {
                throw r.fail("tests.pg[\(i)]", "expected a pair [prompt, generated], got \(v.kindDescription)")
            }
            tests.append(.pg(try r.integer(pair[0], "tests.pg[\(i)][0]", 1...1_048_576),
                             try r.integer(pair[1], "tests.pg[\(i)][1]", 1...1_048_576)))
        }
        if tests.isEmpty { throw r.fail("tests", "expected at least one of pp, tg or pg") }
        let depths = try depthList(r, testsObject.optional("depths") ?? .array([.number(0)]), path: "tests.depths")
        try testsObject.finish()
        // A repeated value makes two cells with one id, which resume and reports would confuse.
        try rejectRepeats(r, tests.map(\.label), path: { i in
            let kind: String
            switch tests[i] { case .pp: kind = "pp"; case .tg: kind = "tg"; case .pg: kind = "pg" }
            let position = tests[..<i].filter { $0.label.prefix(2) == tests[i].label.prefix(2) && ($0.label.contains("+") == tests[i].label.contains("+")) }.count
            return "tests.\(kind)[\(position)]"
        })
        try rejectRepeats(r, weightTypes.map(\.description), path: { "weightTypes[\($0)]" })
        try rejectRepeats(r, cacheTypes.map(\.rawValue), path: { "cacheTypes[\($0)]" })
        try rejectRepeats(r, threads.map(String.init), path: { "threads[\($0)]" })
        try rejectRepeats(r, models.map(\.label), path: { "models[\($0)]" },
                          hint: "; give one a name: { preset: ..., name: \"my-variant\" }")

        let fills = try top.stringOrList("fill").enumerated().map { i, name -> FillMode in
            guard let mode = FillMode(rawValue: name) else {
                throw r.fail(top.isList("fill") ? "fill[\(i)]" : "fill", "expected \"synthetic\" or \"computed\", got \"\(clipped(name, 40))\"")
            }
            return mode
        }
        try rejectRepeats(r, fills.map(\.rawValue), path: { "fill[\($0)]" })
        let interleave = try top.stringOrList("interleave").enumerated().map { i, name -> Dimension in
            guard let d = Dimension(rawValue: name) else {
                throw r.fail("interleave[\(i)]", "expected one of \(Dimension.allCases.map(\.rawValue).joined(separator: ", ")), got \"\(clipped(name, 40))\"")
            }
            return d
        }
        try rejectRepeats(r, numa.map(\.rawValue), path: { "numa[\($0)]" })
        // A test starts within the model's context (as llama-batched-bench's PP = n_ctx rows do; the
        // test's own tokens may run past it, as theirs do).
        for (i, m) in models.enumerated() where depths.last! > m.config.maxContext {
            throw r.fail("tests.depths", "depth \(depths.last!) exceeds \(m.label)'s context of \(m.config.maxContext) tokens (models[\(i)])")
        }
        // Bounded before anything is built: a grid this large is a mistake, not a plan.
        let cellCount = [models.count, max(1, weightTypes.count, models.contains { $0.gguf?.fileRecipe != nil } ? 1 : 0), max(1, cacheTypes.count), max(1, threads.count),
                         max(1, numa.count), max(1, fills.count), depths.count, tests.count].reduce(1.0) { $0 * Double($1) }
        if cellCount > Double(maximumCells) {
            throw r.fail("", String(format: "the grid has %.0f cells; at most %d (split it into several suites or fewer depths)", cellCount, maximumCells))
        }
        let repetitions: Repetitions
        switch top.optional("repetitions") {
        case nil: repetitions = .fixed(5)
        case let .object(members)?:
            let o = SuiteReader.ObjectReader(reader: r, path: "repetitions", members: members)
            let minimum = try o.integer("min", 1...10_000) ?? 3
            let maximum = try o.integer("max", minimum...10_000) ?? max(minimum, 20)
            let width = try o.number("ciWidth", 0.0001...1) ?? 0.05
            let budget = try o.number("budgetSeconds", 0.001...1e7) ?? 60
            try o.finish()
            repetitions = .adaptive(min: minimum, max: maximum, ciWidth: width, budgetSeconds: budget)
        case let value?:
            repetitions = .fixed(try r.integer(value, "repetitions", 1...10_000))
        }
        let sessions = try top.integer("sessions", 1...100) ?? 1
        if sessions > 1 {
            guard case let .fixed(n) = repetitions else {
                throw r.fail("sessions", "expected 1 with adaptive repetitions (sessions split a fixed count), got \(sessions)")
            }
            guard n >= sessions else {
                throw r.fail("sessions", "expected at most the number of repetitions (\(n)), got \(sessions)")
            }
        }
        var suite = Suite(
            name: name, description: description, models: models,
            weightTypes: weightTypes.isEmpty ? [.uniform(.q8_0)] : weightTypes,
            cacheTypes: cacheTypes.isEmpty ? [.f16] : cacheTypes,
            threads: threads.isEmpty ? [ProcessInfo.processInfo.activeProcessorCount] : threads,
            numa: numa.isEmpty ? [.none] : numa,
            tests: tests, depths: depths, fills: fills.isEmpty ? [.synthetic] : fills,
            batch: try top.integer("batch", 1...1_048_576) ?? 2048,
            microBatch: try top.integer("microBatch", 1...65_536) ?? 512,
            warmup: try top.integer("warmup", 0...100) ?? 1,
            repetitions: repetitions,
            seed: UInt64(try top.integer("seed", 0...Int(Int32.max)) ?? 1),
            delaySeconds: try top.number("delaySeconds", 0...3600) ?? 0,
            sessions: sessions,
            profile: try top.bool("profile") ?? true,
            source: root)
        suite.interleave = Set(interleave)
        suite.engines = try engines(r, top, directory: directory)
        if let form = try top.string("mlaForm") {
            guard let f = MLAForm(rawValue: form) else {
                throw r.fail("mlaForm", "expected \(MLAForm.allCases.map(\.rawValue).joined(separator: ", ")), got \"\(clipped(form, 40))\"")
            }
            suite.mlaForm = f
        }
        try top.finish()
        return suite
    }

    static func modelEntry(_ r: SuiteReader, _ value: JSONValue, path: String, directory: String) throws -> ModelEntry {
        let o = try r.object(value, path)
        if let file = try o.string("gguf") {
            return try ggufEntry(r, o, file: file, path: path, directory: directory)
        }
        let preset = try o.string("preset") ?? ""
        guard var config = ModelConfig.preset(named: preset) else {
            let names = ModelConfig.presets.map(\.name)
            let hint = closestName(to: preset, in: names).map { " (did you mean \"\($0)\"?)" } ?? ""
            throw r.fail(path + ".preset", "expected one of \(names.joined(separator: ", ")), got \"\(clipped(preset, 40))\"\(hint)")
        }
        let overridden = try applyOverrides(r, o, path: path, to: &config)
        let layers = try o.integer("layers", 1...config.layerCount)
        let name = try entryName(r, o, path: path)
        try o.finish()
        var label = name ?? preset + (overridden ? "+set" : "")
        if name == nil, let layers, layers < config.layerCount { label += "[\(layers)/\(config.layerCount)]" }
        return ModelEntry(preset: preset, config: config, layers: layers, label: label)
    }

    /// `{ gguf: "path", weights: "file" | "synthetic", layers, name, set }`: the configuration from
    /// the file's header (a relative path is relative to the suite file); `set` only with synthetic
    /// weights (the file's tensors have the file's shapes).
    static func ggufEntry(_ r: SuiteReader, _ o: SuiteReader.ObjectReader, file: String, path: String, directory: String) throws -> ModelEntry {
        if o.optional("preset") != nil { throw r.fail(path, "expected either preset or gguf, got both") }
        let weights = try o.string("weights") ?? "file"
        guard weights == "file" || weights == "synthetic" else {
            throw r.fail(path + ".weights", "expected \"file\" (the file's own weights) or \"synthetic\", got \"\(clipped(weights, 40))\"")
        }
        let synthetic = weights == "synthetic"
        if !synthetic, o.optional("set") != nil {
            throw r.fail(path + ".set", "applies to synthetic weights only (weights: \"synthetic\"); the file's own tensors have the file's shapes")
        }
        let layersValue = try o.integer("layers", 1...4096)
        var (model, config): (GGUFModel, ModelConfig)
        do {
            (model, config) = try GGUFModel.open(file, relativeTo: directory, syntheticWeights: synthetic, layers: layersValue)
        } catch let e as GGUFError {
            throw r.fail(path + ".gguf", e.description)
        }
        let overridden = try applyOverrides(r, o, path: path, to: &config)
        if let layersValue, layersValue > config.layerCount {
            throw r.fail(path + ".layers", "expected 1...\(config.layerCount), got \(layersValue)")
        }
        let name = try entryName(r, o, path: path)
        try o.finish()
        var label = name ?? GGUFFile.stem(model.path) + (synthetic ? "+synthetic" : "") + (overridden ? "+set" : "")
        if name == nil, let layersValue, layersValue < config.layerCount { label += "[\(layersValue)/\(config.layerCount)]" }
        return ModelEntry(preset: "", config: config, gguf: model, layers: layersValue, label: label)
    }

    /// An entry's `set: { field: value }` applied to `config`; whether there was one.
    static func applyOverrides(_ r: SuiteReader, _ o: SuiteReader.ObjectReader, path: String, to config: inout ModelConfig) throws -> Bool {
        if case let .object(members)? = o.optional("set") {
            var values: [String: Any] = [:]
            for (key, v) in members {
                switch v {
                case let .number(n): values[key] = n == n.rounded() && abs(n) < 1e15 ? Int(n) as Any : n as Any
                case let .string(s): values[key] = s
                case .null: values[key] = NSNull()
                default: throw r.fail("\(path).set.\(clipped(key, 40))", "expected a number, string or null, got \(v.kindDescription)")
                }
            }
            do { config = try config.overriding(values) } catch let e as ModelConfigError {
                throw r.fail(e.field.isEmpty ? "\(path).set" : "\(path).set.\(clipped(e.field, 40))", e.message)
            }
            return true
        } else if let v = o.optional("set") {
            throw r.fail(path + ".set", "expected an object of model fields, got \(v.kindDescription)")
        }
        return false
    }

    static func entryName(_ r: SuiteReader, _ o: SuiteReader.ObjectReader, path: String) throws -> String? {
        let name = try o.string("name")
        if let name, name.isEmpty || name.count > 80 || name.contains("/") || name.contains(where: \.isNewline) {
            throw r.fail(path + ".name", "expected a label of 1-80 characters without '/' or line breaks, got \"\(clipped(name, 40))\"")
        }
        return name
    }

    static func depthList(_ r: SuiteReader, _ value: JSONValue, path: String) throws -> [Int] {
        switch value {
        case let .array(items):
            if items.isEmpty { throw r.fail(path, "expected a non-empty list of depths") }
            if items.count > maximumDepths { throw r.fail(path, "\(items.count) depths; at most \(maximumDepths)") }
            let depths = try items.enumerated().map { i, v in try r.integer(v, "\(path)[\(i)]", 0...maximumDepth) }
            try rejectRepeats(r, depths.map(String.init), path: { "\(path)[\($0)]" })
            return depths.sorted()
        case let .object(members):
            let o = SuiteReader.ObjectReader(reader: r, path: path, members: members)
            let start = try o.integer("start", 0...maximumDepth) ?? 0
            guard let end = try o.integer("end", start...maximumDepth) else { throw r.fail(path + ".end", "missing; expected an integer (the last depth)") }
            let doubling = try o.bool("doubling") ?? false
            let step = try o.integer("step", 1...maximumDepth)
            let zero = try o.bool("zero") ?? false
            try o.finish()
            var depths: [Int] = zero ? [0] : []
            if let step, !doubling, (end - start) / step + 1 > maximumDepths {
                throw r.fail(path, "a ladder of \((end - start) / step + 1) depths; at most \(maximumDepths) (use a larger step or doubling)")
            }
            if doubling {
                if step != nil { throw r.fail(path, "expected either doubling or step, not both") }
                if start == 0 { throw r.fail(path + ".start", "a doubling ladder needs start >= 1 (add zero: true for depth 0)") }
                var d = start
                while d <= end { depths.append(d); d *= 2 }
            } else {
                guard let step else { throw r.fail(path, "expected doubling: true or a step") }
                var d = start
                while d <= end { depths.append(d); d += step }
            }
            return Array(Set(depths)).sorted()
        default:
            throw r.fail(path, "expected a list of depths or a ladder {start, end, doubling | step}, got \(value.kindDescription)")
        }
    }
}

/// Typed reads from a parsed suite that name the field path in every error.
struct SuiteReader {
    let file: String

    func fail(_ path: String, _ message: String) -> SuiteError { SuiteError(file: file, path: path, message: message) }

    func object(_ value: JSONValue, _ path: String) throws -> ObjectReader {
        guard case let .object(members) = value else {
            throw fail(path, "expected an object, got \(value.kindDescription)")
        }
        return ObjectReader(reader: self, path: path, members: members)
    }

    func string(_ value: JSONValue, _ path: String) throws -> String {
        guard case let .string(s) = value else { throw fail(path, "expected a string, got \(value.kindDescription)") }
        return s
    }

    func integer(_ value: JSONValue, _ path: String, _ range: ClosedRange<Int>) throws -> Int {
        guard case let .number(n) = value, n == n.rounded(), n.isFinite, range.contains(Int(exactly: n) ?? Int.min) else {
            throw fail(path, "expected an integer \(range.lowerBound)...\(range.upperBound), got \(value.kindDescription)")
        }
        return Int(n)
    }

    /// An object being read: every key must be consumed, or `finish` reports it as unknown.
    final class ObjectReader {
        let reader: SuiteReader
        let path: String
        let members: [(key: String, value: JSONValue)]
        private var used: Set<String> = []

        init(reader: SuiteReader, path: String, members: [(key: String, value: JSONValue)]) {
            self.reader = reader; self.path = path; self.members = members
        }

        func field(_ key: String) -> String {
            let shown = key.isEmpty ? "\"\"" : clipped(key, 40)
            return path.isEmpty ? shown : "\(path).\(shown)"
        }

        func optional(_ key: String) -> JSONValue? {
            used.insert(key)
            return members.first { $0.key == key }?.value
        }

        func required(_ key: String, _ expected: String) throws -> ValueReader {
            guard let v = optional(key) else { throw reader.fail(field(key), "missing; expected \(expected)") }
            return ValueReader(reader: reader, path: field(key), value: v)
        }

        func optionalReader(_ key: String) -> ValueReader? {
            optional(key).map { ValueReader(reader: reader, path: field(key), value: $0) }
        }

        func string(_ key: String) throws -> String? { try optional(key).map { try reader.string($0, field(key)) } }

        func integer(_ key: String, _ range: ClosedRange<Int>) throws -> Int? {
            try optional(key).map { try reader.integer($0, field(key), range) }
        }

        func number(_ key: String, _ range: ClosedRange<Double>) throws -> Double? {
            guard let v = optional(key) else { return nil }
            guard case let .number(n) = v, range.contains(n) else {
                throw reader.fail(field(key), "expected a number \(range.lowerBound)...\(range.upperBound), got \(v.kindDescription)")
            }
            return n
        }

        func bool(_ key: String) throws -> Bool? {
            guard let v = optional(key) else { return nil }
            guard case let .bool(b) = v else { throw reader.fail(field(key), "expected true or false, got \(v.kindDescription)") }
            return b
        }

        /// A string or a list of strings.
        func isList(_ key: String) -> Bool {
            if case .array? = members.first(where: { $0.key == key })?.value { return true }
            return false
        }

        func stringOrList(_ key: String) throws -> [String] {
            guard let v = optional(key) else { return [] }
            if case let .string(s) = v { return [s] }
            return try ValueReader(reader: reader, path: field(key), value: v).nonEmptyArray().enumerated().map {
                try reader.string($1, "\(field(key))[\($0)]")
            }
        }

        /// Unknown keys are errors, with the closest known key suggested.
        func finish() throws {
            for (key, _) in members where !used.contains(key) {
                let hint = closestName(to: key, in: used.sorted()).map { " (did you mean '\($0)'?)" } ?? ""
                throw reader.fail(field(key), "unknown key\(hint); known keys: \(used.sorted().joined(separator: ", "))")
            }
        }
    }

    struct ValueReader {
        let reader: SuiteReader
        let path: String
        let value: JSONValue

        func nonEmptyArray() throws -> [JSONValue] {
            guard case let .array(items) = value else { throw reader.fail(path, "expected a list, got \(value.kindDescription)") }
            if items.isEmpty { throw reader.fail(path, "expected a non-empty list") }
            return items
        }
    }
}
