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
        --set overrides model fields (see `ctxbench models --fields`), e.g. --set layerCount=4,experts=32.
        --layers N runs the first N layers of the full model's pattern at full size and projects the
        full model's time from per-layer-kind op times (printed as a projection). --calibrate measures
        DRAM read bandwidth and FMA peak first, so rates are also shown as fractions of them.
        """,
        options: [
            .value("--model", "name", help: "Model preset.", default: "kimi-linear-mini"),
            .value("--set", "k=v,...", help: "Override model fields."),
            .value("--layers", "n", help: "Run a slice: the first n layers of the pattern."),
            .value("--type", "recipe", help: "Weight type or mix (\(WeightRecipe.names.joined(separator: ", "))).", default: "q8_0"),
            .value("--cache-type", "type", help: "KV cache type (f32, f16, q8_0).", default: "f16"),
            .value("--threads", "n", help: "Threads.", default: "all logical CPUs"),
            .choice("--numa", NumaPolicy.self, help: "Thread and memory placement.", default: .none),
            .value("--depth", "n", help: "Context depth before the tests.", default: "0"),
            .choice("--fill", FillMode.self, help: "How the depth is reached.", default: .synthetic),
            .value("--pp", "n", help: "Prefill test size (0: none).", default: "512"),
            .value("--tg", "n", help: "Decode test size (0: none).", default: "16"),
            .value("--repetitions", "n", help: "Repetitions per test.", default: "3"),
            .value("--micro-batch", "n", help: "Tokens per forward micro-batch.", default: "512"),
            .choice("--mla-form", MLAForm.self, help: "MLA attention form.", default: .absorbed),
            .value("--seed", "n", help: "Weight and token seed.", default: "1"),
            .flag("--calibrate", help: "Measure DRAM read and FMA peak first and report fractions of them."),
            .flag("--timer-overhead", help: "Also measure decode with op timers on and off, alternating."),
        ]
    )

    struct Options {
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
        let name = parsed.string("--model") ?? "kimi-linear-mini"
        guard var config = ModelConfig.preset(named: name) else {
            throw UsageError("option '--model' expects a preset (\(ModelConfig.presets.map(\.name).joined(separator: ", "))), got '\(name)'")
        }
        if let overrides = try parsed.stringList("--set") {
            config = try Self.override(config, overrides)
        }
        let recipeName = parsed.string("--type") ?? "q8_0"
        guard let recipe = WeightRecipe(name: recipeName) else {
            throw UsageError("option '--type' expects one of \(WeightRecipe.names.joined(separator: ", ")), got '\(recipeName)'")
        }
        let cacheName = parsed.string("--cache-type") ?? "f16"
        guard let cache = DType(name: cacheName), KVCache.types.contains(cache) else {
            throw UsageError("option '--cache-type' expects f32, f16 or q8_0, got '\(cacheName)'")
        }
        let layers = try parsed.int("--layers", in: 1...config.layerCount)
        let setup = EngineSession.Setup(
            config: config, layers: layers, recipe: recipe, cacheType: cache,
            threads: try parsed.int("--threads", in: 1...4096) ?? ProcessInfo.processInfo.activeProcessorCount,
            numa: try parsed.choice("--numa", as: NumaPolicy.self) ?? .none,
            seed: UInt64(try parsed.int("--seed", in: 0...Int.max) ?? 1),
            microBatch: try parsed.int("--micro-batch", in: 1...65536) ?? 512,
            mlaForm: try parsed.choice("--mla-form", as: MLAForm.self) ?? .absorbed)
        options = Options(setup: setup, depth: try parsed.int("--depth", in: 0...16_777_216) ?? 0,
                          fill: try parsed.choice("--fill", as: FillMode.self) ?? .synthetic,
                          pp: try parsed.int("--pp", in: 0...1_048_576) ?? 512, tg: try parsed.int("--tg", in: 0...1_048_576) ?? 16,
                          repetitions: try parsed.int("--repetitions", in: 1...1000) ?? 3,
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

    func run(io: CommandIO) throws -> Int32 {
        let s = options.setup
        let platform = PlatformInfo.probe()
        var limits: MachineLimits?
        if options.calibrate {
            io.err("calibrating (\(s.threads) threads)...\n")
            let placement = try ThreadPlacement.plan(threads: s.threads, policy: s.numa, topology: platform.numa)
            var calibrator = Calibrator()
            calibrator.repetitions = 3
            calibrator.dramBufferBytes = 512 << 20
            limits = try calibrator.measure(pool: ThreadPool(threads: s.threads, placement: placement),
                                            memory: placement.memory) { _ in }
        }
        let capacity = options.depth + max(options.pp, options.tg) + 1
        let session = try EngineSession(s, capacity: capacity, topology: platform.numa)
        let layers = session.model.layerCount
        let footprint = s.config.footprint(recipe: s.recipe, cacheType: s.cacheType, layers: layers)
        let fillNs = try session.reach(depth: options.depth, fill: options.fill)
        var lines = [
            String(format: "model %@, %d of %d layers, weights %@ (%@, generated in %.1f s), cache %@, %d threads",
                   s.config.name, layers, s.config.layerCount, s.recipe.description,
                   bytes(Double(session.model.weights.totalBytes)), session.weightSeconds, s.cacheType.rawValue, s.threads),
            String(format: "depth %d (%@, %.2f s), state %@", options.depth, options.fill.rawValue, Double(fillNs) / 1e9,
                   bytes(Double(session.state.byteCount))),
        ]
        if let limits {
            lines.append(String(format: "limits (this run): DRAM read %.1f GB/s, FMA peak %.1f GFLOP/s",
                                limits.dramReadGBps.median, limits.fmaGFLOPs.median))
        }
        lines += ["", "| test | reps | mean ms | tok/s | sd tok/s | GFLOP/s | weight GB/s | % FMA peak | % DRAM read |",
                  "|---|--:|--:|--:|--:|--:|--:|--:|--:|"]
        var breakdowns: [(String, OpProfiler, Double)] = []
        func row(_ name: String, tokens: Int, samples: [Double], flops: Double, weightBytes: Double) {
            let rates = samples.map { Double(tokens) * 1e9 / $0 }
            let mean = samples.reduce(0, +) / Double(samples.count)
            let rate = rates.reduce(0, +) / Double(rates.count)
            let sd = rates.count > 1 ? (rates.map { ($0 - rate) * ($0 - rate) }.reduce(0, +) / Double(rates.count - 1)).squareRoot() : 0
            let gflops = flops / mean, gbps = weightBytes / mean
            let fma = limits.map { String(format: "%.0f%%", 100 * gflops / $0.fmaGFLOPs.median) } ?? "-"
            let dram = limits.map { String(format: "%.0f%%", 100 * gbps / $0.dramReadGBps.median) } ?? "-"
            lines.append(String(format: "| %@ | %d | %.2f | %.2f | %.2f | %.1f | %.1f | %@ | %@ |", name, samples.count,
                                mean / 1e6, rate, sd, gflops, gbps, fma, dram))
        }
        let suffix = options.depth > 0 ? " @ d\(options.depth)" : ""
        if options.pp > 0 {
            _ = session.prefill(min(options.pp, 16)); session.restore(depth: options.depth)  // warm up
            session.context.profiler.reset()
            var samples: [Double] = []
            for _ in 0..<options.repetitions {
                session.restore(depth: options.depth)
                samples.append(Double(session.prefill(options.pp)))
            }
            row("pp\(options.pp)\(suffix)", tokens: options.pp, samples: samples,
                flops: s.config.flops(tokens: options.pp, depth: options.depth, recipe: s.recipe, layers: layers),
                weightBytes: Double(footprint.weightBytes))
            breakdowns.append(("pp\(options.pp)\(suffix)", snapshot(session.context.profiler, layers: layers), samples.reduce(0, +)))
        }
        if options.tg > 0 {
            session.restore(depth: options.depth); _ = session.decode(2)
            session.context.profiler.reset()
            var samples: [Double] = []
            for _ in 0..<options.repetitions {
                session.restore(depth: options.depth)
                samples.append(Double(session.decode(options.tg).reduce(0, +)))
            }
            row("tg\(options.tg)\(suffix)", tokens: options.tg, samples: samples,
                flops: s.config.flops(tokens: options.tg, depth: options.depth, recipe: s.recipe, layers: layers),
                weightBytes: Double(footprint.activeWeightBytes * options.tg))
            breakdowns.append(("tg\(options.tg)\(suffix)", snapshot(session.context.profiler, layers: layers), samples.reduce(0, +)))
        }
        if !session.lastLogitsAreFinite() { lines += ["", "WARNING: non-finite logits"] }
        for (name, profiler, wall) in breakdowns {
            lines += ["", "per-op, \(name) (all repetitions):"] + Self.opTable(profiler, wall: wall, tokens: 1)
            if layers < s.config.layerCount {
                do {
                    let projection = try SliceProjection.project(config: s.config, sliceLayers: layers, profiler: profiler,
                                                                 wallNanoseconds: wall)
                    let perRep = projection.projectedNanoseconds / Double(options.repetitions)
                    let tokens = name.hasPrefix("pp") ? options.pp : options.tg
                    lines.append(String(format: "PROJECTED full model (%d layers) from this %d-layer slice: %.2f ms per repetition, %.2f tok/s",
                                        s.config.layerCount, layers, perRep / 1e6, Double(tokens) * 1e9 / perRep))
                } catch {
                    lines.append("no projection: \(error)")
                }
            }
        }
        if options.timerOverhead && options.tg > 0 {
            lines += ["", Self.timerOverhead(session, depth: options.depth, tokens: options.tg)]
        }
        io.out(lines.joined(separator: "\n") + "\n")
        return ExitCode.success
    }

    /// A copy of the profiler's counts (the session's profiler is reset per test).
    func snapshot(_ profiler: OpProfiler, layers: Int) -> OpProfiler {
        let copy = OpProfiler(layers: layers)
        copy.absorb(profiler)
        return copy
    }

    static func opTable(_ profiler: OpProfiler, wall: Double, tokens: Int) -> [String] {
        var lines = ["| op | family | total ms | calls | share of wall |", "|---|---|--:|--:|--:|"]
        let totals = profiler.totalsByOp().sorted { $0.entry.nanoseconds > $1.entry.nanoseconds }
        for (op, entry) in totals {
            lines.append(String(format: "| %@ | %@ | %.3f | %llu | %.1f%% |", op.name, op.family.rawValue,
                                Double(entry.nanoseconds) / 1e6, entry.calls, 100 * Double(entry.nanoseconds) / wall))
        }
        let timed = Double(profiler.totalNanoseconds)
        lines.append(String(format: "| (untimed: between ops) | | %.3f | | %.1f%% |", (wall - timed) / 1e6, 100 * (wall - timed) / wall))
        return lines
    }

    /// Decode with timers on and off, alternating, 10 rounds: the timers' cost as a fraction.
    static func timerOverhead(_ session: EngineSession, depth: Int, tokens: Int) -> String {
        var on: [Double] = [], off: [Double] = []
        for round in 0..<10 {
            for enabled in (round % 2 == 0 ? [true, false] : [false, true]) {
                session.context.profiler.enabled = enabled
                session.restore(depth: depth)
                let ns = Double(session.decode(tokens).reduce(0, +))
                if enabled { on.append(ns) } else { off.append(ns) }
            }
        }
        session.context.profiler.enabled = true
        func median(_ xs: [Double]) -> Double { let s = xs.sorted(); return (s[(s.count - 1) / 2] + s[s.count / 2]) / 2 }
        let change = (median(on) / median(off) - 1) * 100
        return String(format: "timer overhead (decode, median of 10 alternating rounds): on %.3f ms, off %.3f ms, %+.2f%%",
                      median(on) / 1e6, median(off) / 1e6, change)
    }
}

func bytes(_ n: Double) -> String {
    n >= 1_073_741_824 ? String(format: "%.2f GiB", n / 1_073_741_824) : String(format: "%.1f MiB", n / 1_048_576)
}
