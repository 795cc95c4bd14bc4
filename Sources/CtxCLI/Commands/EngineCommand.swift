import CtxEngine
import CtxHarness
import Foundation

/// `ctxbench engine`: one model configuration, prefill and decode at one depth, with the per-op
/// breakdown and (for a layer slice) the projection to the full model. The suite runner sweeps
/// grids of these; this command is for looking at one cell closely.
struct EngineCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        name: "engine",
        abstract: "Run one model configuration: pp and tg at a depth, per-op times, slice projection.",
        discussion: """
        --gguf FILE runs a GGUF file (architectures kimi-linear and step35): its own weights, memory-mapped,
        or with --weights synthetic its shape with synthetic weights of --type. The load time and any
        tensor converted on load are printed.
        --set overrides model fields (see `ctxbench models --fields`), e.g. --set layerCount=4,experts=32.
        --layers N runs the first N layers of the full model's pattern at full size and projects the
        full model's time from per-layer-kind op times (printed as a projection). --calibrate measures
        DRAM read bandwidth and FMA peak, around each test, so rates are also shown as fractions of
        them. The configuration runs through the suite runner, as a suite of one setup (warmup 1).
        """,
        options: [
            .value("--model", "name", help: "Model preset.", default: "kimi-linear-mini"),
            .value("--gguf", "file", help: "A GGUF model file instead of a preset."),
            .choice("--weights", WeightSource.self, help: "With --gguf: the file's weights or synthetic ones.", default: .file),
            .value("--set", "k=v,...", help: "Override model fields."),
            .value("--layers", "n", help: "Run a slice: the first n layers of the pattern."),
            .value("--type", "recipe", help: "Weight type or mix (\(WeightRecipe.names.joined(separator: ", "))).", default: "q8_0"),
            .value("--cache-type", "type", help: "KV cache type (f32, f16, q8_0).", default: "f16"),
            .value("--threads", "n", help: "Threads.", note: "all logical CPUs"),
            .choice("--numa", NumaPolicy.self, help: "Thread and memory placement.", default: .none),
            .value("--depth", "n", help: "Context depth before the tests.", default: "0"),
            .choice("--fill", FillMode.self, help: "How the depth is reached.", default: .synthetic),
            .value("--pp", "n", help: "Prefill test size (0: none).", default: "512"),
            .value("--tg", "n", help: "Decode test size (0: none).", default: "16"),
            .value("--repetitions", "n", help: "Repetitions per test.", default: "3"),
            .value("--micro-batch", "n", help: "Tokens per forward micro-batch.", default: "512"),
            .choice("--mla-form", MLAForm.self, help: "MLA attention form (auto: per micro-batch, the one needing fewer FLOPs).", default: .auto),
            .value("--seed", "n", help: "Weight and token seed.", default: "1"),
            .flag("--calibrate", help: "Measure DRAM read and FMA peak first and report fractions of them."),
            .flag("--timer-overhead", help: "Also measure decode with op timers on and off, alternating."),
        ]
    )

    enum WeightSource: String, CaseIterable { case file, synthetic }

    struct Options {
        var preset: String
        var gguf: GGUFModel?
        var setup: EngineSession.Setup
        var depth: Int
        var fill: FillMode
        var pp: Int
        var tg: Int
        var repetitions: Int
        var calibrate: Bool
        var timerOverhead: Bool
    }

    let options: Options

    init(parsed: ParsedArguments) throws {
        let name = parsed.string("--model")!
        var config: ModelConfig
        var gguf: GGUFModel?
        let layersRequested = try parsed.int("--layers", in: 1...4096)
        let synthetic = try parsed.choice("--weights", as: WeightSource.self)! == .synthetic
        if let path = parsed.string("--gguf") {
            if parsed.isGiven("--model") { throw UsageError("--gguf and --model name two models; give one") }
            do {
                (gguf, config) = try GGUFModel.open(path, syntheticWeights: synthetic, layers: layersRequested)
            } catch let e as GGUFError {
                throw UsageError("option '--gguf': \(e)")
            }
            if !synthetic {
                if parsed.isGiven("--set") { throw UsageError("--set applies to synthetic weights (--weights synthetic); the file's tensors have the file's shapes") }
                if parsed.isGiven("--type") { throw UsageError("--type applies to synthetic weights (--weights synthetic); the file's tensors have their own types") }
            }
        } else {
            if parsed.isGiven("--weights") { throw UsageError("--weights applies to a --gguf file") }
            guard let preset = ModelConfig.preset(named: name) else {
                throw UsageError("option '--model' expects a preset (\(ModelConfig.presets.map(\.name).joined(separator: ", "))), got '\(name)'")
            }
            config = preset
        }
        if let overrides = try parsed.stringList("--set") {
            config = try Self.override(config, overrides)
        }
        let recipeName = parsed.string("--type")!
        guard let typeRecipe = WeightRecipe(name: recipeName) else {
            throw UsageError("option '--type' expects one of \(WeightRecipe.names.joined(separator: ", ")), got '\(recipeName)'")
        }
        let recipe = gguf?.fileRecipe ?? typeRecipe
        let cacheName = parsed.string("--cache-type")!
        guard let cache = DType(name: cacheName), KVCache.types.contains(cache) else {
            throw UsageError("option '--cache-type' expects f32, f16 or q8_0, got '\(cacheName)'")
        }
        if let layersRequested, layersRequested > config.layerCount {
            throw UsageError("option '--layers' expects 1...\(config.layerCount), got \(layersRequested)")
        }
        let layers = layersRequested
        let setup = EngineSession.Setup(
            config: config, layers: layers, recipe: recipe, cacheType: cache,
            threads: try parsed.int("--threads", in: 1...4096) ?? ProcessInfo.processInfo.activeProcessorCount,
            numa: try parsed.choice("--numa", as: NumaPolicy.self)!,
            seed: UInt64(try parsed.int("--seed", in: 0...Int.max)!),
            microBatch: try parsed.int("--micro-batch", in: 1...65536)!,
            mlaForm: try parsed.choice("--mla-form", as: MLAForm.self)!, gguf: gguf)
        options = Options(preset: name, gguf: gguf, setup: setup, depth: try parsed.int("--depth", in: 0...16_777_216)!,
                          fill: try parsed.choice("--fill", as: FillMode.self)!,
                          pp: try parsed.int("--pp", in: 0...1_048_576)!, tg: try parsed.int("--tg", in: 0...1_048_576)!,
                          repetitions: try parsed.int("--repetitions", in: 1...1000)!,
                          calibrate: parsed.flag("--calibrate"), timerOverhead: parsed.flag("--timer-overhead"))
    }

    /// "key=value" strings applied to a configuration; values parse as numbers where they can.
    static func override(_ config: ModelConfig, _ assignments: [String]) throws -> ModelConfig {
        var values: [String: Any] = [:]
        for assignment in assignments {
            let parts = assignment.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { throw UsageError("option '--set' expects key=value, got '\(assignment)'") }
            if parts[1] == "null" { values[parts[0]] = NSNull() }
            else if let i = Int(parts[1]) { values[parts[0]] = i }
            else if let d = Double(parts[1]) { values[parts[0]] = d }
            else { values[parts[0]] = parts[1] }
        }
        do { return try config.overriding(values) } catch let error as ModelConfigError {
            throw UsageError("option '--set': \(error)")
        }
    }

    /// Runs the configuration as a suite of one setup through the suite runner (the same warmup,
    /// repetitions, probes, statistics and efficiency as `ctxbench run`), then prints the cells.
    func run(io: CommandIO) throws -> Int32 {
        let s = options.setup
        let suite = Suite.oneConfiguration(
            model: s.config, preset: options.preset, gguf: options.gguf, layers: s.layers, recipe: s.recipe, cacheType: s.cacheType,
            threads: s.threads, numa: s.numa, fill: options.fill, depth: options.depth, pp: options.pp, tg: options.tg,
            repetitions: options.repetitions, microBatch: s.microBatch, seed: s.seed, mlaForm: s.mlaForm)
        guard !suite.tests.isEmpty else { throw UsageError("nothing to run: --pp and --tg are both 0") }
        var runnerOptions = SuiteRunner.Options()
        runnerOptions.quiet = true
        runnerOptions.calibrate = options.calibrate
        runnerOptions.freshCalibration = options.calibrate
        runnerOptions.commandLine = CommandLine.arguments
        let sink = MemorySink()
        if options.calibrate { io.err("calibrating (\(s.threads) threads); limits are also probed around each test...\n") }
        _ = try SuiteRunner(plan: SuitePlan(suite: suite), suiteFile: "(ctxbench engine)", sink: sink, options: runnerOptions,
                            log: io.err).run(resuming: false)
        let layers = s.layers ?? s.config.layerCount
        let footprint = s.config.footprint(recipe: s.recipe, cacheType: s.cacheType, layers: layers)
        let state = footprint.allocatedStateBytes(capacity: options.depth + max(options.pp, options.tg) + 1, microBatch: s.microBatch)
        let fill = sink.cells.compactMap(\.fillSeconds).first ?? 0
        var lines = [
            String(format: "model %@, %d of %d layers, weights %@ (%@), cache %@, %d threads", s.config.name, layers,
                   s.config.layerCount, s.recipe.description, bytes(Double(footprint.weightBytes)), s.cacheType.rawValue, s.threads),
            String(format: "depth %d (%@, %.2f s), caches and states %@", options.depth, options.fill.rawValue, fill,
                   bytes(state.cache + state.rings + state.fixed)),
        ]
        if let gguf = options.gguf, let cell = sink.cells.first {
            lines.append(String(format: "weights from %@ (%@): mapped and checked in %.3f s, used in place; %d small tensors converted to f32 on load",
                                gguf.path, bytes(Double(gguf.fileBytes)), cell.weightsSeconds ?? 0, cell.weightsConverted ?? 0))
        }
        if let regrouped = sink.cells.compactMap(\.decodeRegroupedBytes).first {
            lines.append("decode reads the quantized and f16 matrices from copies regrouped 16 rows at a time (\(bytes(Double(regrouped))), "
                         + "made on load, within the load time above, read with "
                         + (Prefetch.regroupedDistance > 0 ? "software prefetch \(Prefetch.regroupedDistance) bytes ahead" : "no software prefetch")
                         + "); prefill reads the stored rows")
        }
        lines += [
            "",
            "| test | reps | mean ms | t/s | sd t/s | GFLOP/s | GB/s (weights + cache) | % FMA peak | % DRAM read | status |",
            "|---|--:|--:|--:|--:|--:|--:|--:|--:|---|",
        ]
        func figure(_ v: Double?, _ format: String, _ scale: Double = 1) -> String { v.map { String(format: format, $0 * scale) } ?? "-" }
        for cell in sink.cells {
            lines.append("| \(cell.test) | \(cell.samplesNs.count) | \(figure(cell.meanNs, "%.2f", 1e-6)) | \(figure(cell.rate?.mean, "%.2f")) | "
                         + "\(figure(cell.rate?.standardDeviation, "%.2f")) | \(figure(cell.achievedGFLOPs, "%.1f")) | "
                         + "\(figure(cell.achievedGBps, "%.1f")) | \(figure(cell.peakFraction, "%.0f%%", 100)) | "
                         + "\(figure(cell.bandwidthFraction, "%.0f%%", 100)) | \(cell.status.rawValue)\(cell.error.map { ": \($0)" } ?? "") |")
        }
        if options.calibrate, let cell = sink.cells.first, let read = cell.probeReadGBps, let fma = cell.probeFMAGFLOPs {
            lines.append(String(format: "Limits probed around each test, the FMA peak also between repetitions (first test: DRAM read %.1f GB/s, FMA peak %.1f GFLOP/s); "
                                + "each fraction is against its own test's probes.", SampleStatistics.median(read), SampleStatistics.median(fma)))
        }
        for cell in sink.cells where !cell.ops.isEmpty {
            let wall = cell.samplesNs.reduce(0, +)
            lines += ["", "per-op, \(cell.test) (all repetitions):"] + Self.opTable(cell.ops, wall: wall)
            if let projected = cell.projectedTs {
                lines.append(String(format: "PROJECTED full model (%d layers) from this %d-layer slice: %.2f tok/s",
                                    s.config.layerCount, layers, projected))
            }
        }
        if options.timerOverhead && options.tg > 0 {
            let session = try EngineSession(s, capacity: options.depth + options.tg + 1, topology: PlatformInfo.probe().numa)
            try session.reach(depth: options.depth, fill: options.fill)
            let r = TimerOverhead.measure(session, depth: options.depth, tokens: options.tg)
            lines += ["", String(format: "timer overhead (decode, median of 10 alternating rounds): on %.3f ms, off %.3f ms, %+.2f%%",
                                 r.onNanoseconds / 1e6, r.offNanoseconds / 1e6, 100 * r.change)]
        }
        io.out(lines.joined(separator: "\n") + "\n")
        return sink.cells.allSatisfy { $0.status == .ok } ? ExitCode.success : ExitCode.failure
    }

    static func opTable(_ ops: [OpRow], wall: Double) -> [String] {
        var lines = ["| op | family | total ms | calls | share of wall |", "|---|---|--:|--:|--:|"]
        for op in ops.sorted(by: { $0.totalNs > $1.totalNs }) {
            lines.append(String(format: "| %@ | %@ | %.3f | %d | %.1f%% |", op.op, op.family, op.totalNs / 1e6, op.calls, 100 * op.share))
        }
        let timed = ops.reduce(0) { $0 + $1.totalNs }
        lines.append(String(format: "| (untimed: between ops) | | %.3f | | %.1f%% |", (wall - timed) / 1e6, 100 * (wall - timed) / wall))
        return lines
    }
}

func bytes(_ n: Double) -> String {
    n >= 1_073_741_824 ? String(format: "%.2f GiB", n / 1_073_741_824) : String(format: "%.1f MiB", n / 1_048_576)
}
