import CPlatform
import CtxEngine
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The signal that asked the run to stop (SIGINT or SIGTERM), 0 while none has: the runner
/// finishes the sample in progress, writes everything and stops. A second signal exits at once.
nonisolated(unsafe) private var interruptSignal: sig_atomic_t = 0

/// Runs a suite's plan: one engine session per setup, the depth ladder within it, warmup and
/// repetitions per cell, every sample appended as it is produced, tables rewritten after every cell.
public final class SuiteRunner {
    public struct Options: Sendable {
        public var progress: Bool = false
        public var quiet: Bool = false
        public var calibrate: Bool = true
        /// Measure the limits in this run even when a saved calibration exists (for gating with
        /// efficiency normalization: each run's rates against the limits measured beside them).
        public var freshCalibration: Bool = false
        /// Test-only: make every repetition this fraction slower with extra arithmetic inside the
        /// timed region (CTXBENCH_TEST_SLOWDOWN=0.15), to check that `gate` catches a slower build.
        /// Recorded in run.json; never set by a suite.
        public var testSlowdown: Double = 0
        /// Test-only: add this fraction of extra work to every repetition, as a fixed number of
        /// arithmetic iterations proportional to the repetition's FLOPs (CTXBENCH_TEST_EXTRA_WORK=0.05):
        /// deterministic, unlike `testSlowdown`, so an instruction-count gate can be checked with it.
        public var testExtraWork: Double = 0
        public var commandLine: [String] = []
        /// The calibration measured when the host has no saved one, and the size of the probes
        /// taken beside every cell (`LimitProbe`); tests shrink them.
        public var calibrator: Calibrator = .quick
        public var probeBytes = 128 << 20
        public var probeFMAFLOPs = 200_000_000
        public init() {}
    }

    public enum Outcome: Equatable, Sendable {
        case complete(failedCells: Int)
        case interrupted
    }

    let plan: SuitePlan
    let suiteFile: String
    let sink: ResultSink
    let options: Options
    let log: @Sendable (String) -> Void
    var results: [CellResult] = []
    var limits: [Int: MachineLimits] = [:]
    /// llama.cpp builds that ran cells (run.json's `llamaCpp`).
    var llamaBuilds: [LlamaCppBuild] = []
    let platform = PlatformInfo.probe()

    public init(plan: SuitePlan, suiteFile: String, sink: ResultSink, options: Options,
                log: @escaping @Sendable (String) -> Void) {
        self.plan = plan
        self.suiteFile = suiteFile
        self.sink = sink
        self.options = options
        self.log = log
    }

    /// Catches SIGINT and SIGTERM (and unblocks them: a parent such as a test harness or CI runner
    /// may have started us with them blocked, and then Ctrl-C would never arrive). The first stops
    /// the run at the end of the sample in progress; a second exits at once (128 + signal), leaving
    /// what the logs already hold for --resume.
    public static func installInterruptHandler() {
        let handler: @convention(c) (Int32) -> Void = { sig in
            if interruptSignal != 0 { _exit(128 + sig) }
            interruptSignal = sig
        }
        var set = sigset_t()
        sigemptyset(&set)
        for sig in [SIGINT, SIGTERM] {
            signal(sig, handler)
            sigaddset(&set, sig)
        }
        sigprocmask(SIG_UNBLOCK, &set, nil)
    }

    var interrupted: Bool { interruptSignal != 0 }
    /// Whether SIGINT or SIGTERM arrived since `installInterruptHandler` (for drivers of child runs).
    public static var interruptRequested: Bool { interruptSignal != 0 }

    /// The exit status of an interrupted run: 130 for SIGINT, 143 for SIGTERM.
    public static var interruptExitStatus: Int32 { 128 + (interruptSignal == 0 ? SIGINT : interruptSignal) }

    public func run(resuming: Bool) throws -> Outcome {
        let suite = plan.suite
        // Resume: cells already recorded stay (the caller checked that the plan is the one the run
        // started with); everything else (re-)runs.
        results = resuming ? sink.previousCells() : []
        let finished = Set(results.map(\.cellID))
        try sink.prepare(keepingSamplesOf: finished)
        defer { sink.close() }
        if options.calibrate { try calibrate() }
        var metadata = RunMetadata(
            suiteName: suite.name, suiteFile: suiteFile, suite: suite.source.jsonText, platform: platform,
            limits: limits.values.sorted { $0.threads < $1.threads }, gitCommit: platform.gitCommit,
            commandLine: options.commandLine, shard: plan.shard.map { "\($0.index)/\($0.count)" },
            startedAt: Self.timestamp(), finishedAt: nil, status: "running", cellsPlanned: plan.cells.count)
        metadata.suiteHash = suite.contentHash
        if options.testExtraWork > 0 {
            metadata.testExtraWork = options.testExtraWork
            log(String(format: "warning: CTXBENCH_TEST_EXTRA_WORK: every repetition does %.0f%% extra work on purpose\n",
                       100 * options.testExtraWork))
        }
        if options.testSlowdown > 0 {
            metadata.testSlowdown = options.testSlowdown
            log(String(format: "warning: CTXBENCH_TEST_SLOWDOWN: every repetition made %.0f%% slower on purpose\n",
                       100 * options.testSlowdown))
        }
        if resuming, let previous = sink.previousMetadata() {
            metadata.startedAt = previous.startedAt
            // The llama.cpp builds it recorded before (cells they ran stay).
            if let builds = previous.llamaCpp {
                for build in builds { noteBuild(build) }
                metadata.llamaCpp = builds
            }
        }
        try sink.writeMetadata(metadata)

        let todo = plan.cells.filter { !finished.contains($0.id(in: suite)) }
        let todoIndices = Set(todo.map(\.index))
        let etaModel = ETA(plan: plan, cells: todo, limits: limits)
        var done = 0
        var stopped = false
        for group in plan.groups {
            let cells = group.flatMap { plan.cells(of: $0) }.filter { todoIndices.contains($0.index) }
            if cells.isEmpty { continue }
            if interrupted { stopped = true; break }
            if group.count == 1, suite.engines[group[0].engine].kind == .llamaCpp {
                stopped = try runLlamaBench(cells, eta: etaModel, done: &done, total: todo.count)
            } else {
                stopped = try runGroup(group, cells: cells, eta: etaModel, done: &done, total: todo.count)
            }
            if stopped { break }
        }
        metadata.finishedAt = Self.timestamp()
        metadata.status = stopped ? "interrupted" : "complete"
        if !llamaBuilds.isEmpty { metadata.llamaCpp = llamaBuilds }
        try sink.writeMetadata(metadata)
        try sink.writeTables(cells: results, title: "\(suite.name) (\(platform.hostname))")
        if stopped { return .interrupted }
        return .complete(failedCells: results.filter { $0.status != .ok }.count)
    }

    /// Runs the cells of one group of setups (one setup, or several that differ only in an
    /// interleaved dimension, measured side by side). Returns true when interrupted.
    ///
    /// With `interleave: ["engine"]` a group also holds llama.cpp setups: at every (depth, test)
    /// slot of every session, the llama.cpp cell runs its process of that session (llama-bench with
    /// the session's share of the repetitions) right before or after ctxbench's repetitions of the
    /// same slot, llama.cpp first in odd sessions (ABBA), so the two engines' samples alternate
    /// within minutes instead of hours apart.
    func runGroup(_ group: [Cell.Setup], cells: [Cell], eta: ETA, done: inout Int, total: Int) throws -> Bool {
        let suite = plan.suite
        if let reason = memoryRefusal(group) {
            for cell in cells { try record(failure(cell, .refused, reason)); done += 1 }
            return false
        }
        let isLlama: (Cell) -> Bool = { suite.engines[$0.engine].kind == .llamaCpp }
        var closed = Set<Int>()  // cells already recorded (failed in an earlier session)
        var llamaDirectory = ""
        var llamaPartials: [Int: LlamaPartial] = [:]
        if cells.contains(where: isLlama) {
            let theirs = cells.filter(isLlama)
            if let directory = try llamaOutputDirectory(theirs, done: &done) { llamaDirectory = directory } else { closed.formUnion(theirs.map(\.index)) }
        }
        /// The llama.cpp cells of a slot: their processes of this session, with the limits probed
        /// around each like ctxbench's repetitions; recorded after the last session, or at their
        /// first failure. True when interrupted.
        func runLlama(_ members: [Cell], session sessionIndex: Int, probe: LimitProbe?) throws -> Bool {
            func probeLimits(_ partial: inout LlamaPartial) {
                guard let limits = probe?.measure() else { return }
                partial.probeRead.append(limits.readGBps)
                partial.probeFMA.append(limits.fmaGFLOPs)
            }
            for cell in members {
                var partial = llamaPartials[cell.index] ?? LlamaPartial()
                for k in llamaProcesses(cell).indices where k % suite.sessions == sessionIndex {
                    probeLimits(&partial)
                    if try runLlamaProcess(cell, k, into: &partial, directory: llamaDirectory, eta: eta, done: done, total: total) { return true }
                    if partial.problem == nil { probeLimits(&partial) }
                }
                llamaPartials[cell.index] = partial
                if partial.problem != nil || sessionIndex == suite.sessions - 1 {
                    try finishLlama(cell, partial)
                    closed.insert(cell.index)
                    done += 1
                }
            }
            return false
        }
        // Slots: the (depth, test) points every member runs, in plan order (depth ascending, so the
        // ladder extends a filled context instead of refilling it).
        struct Slot: Hashable { var depth: Int; var test: Suite.Test }
        var slots: [Slot] = []
        var bySlot: [Slot: [Cell]] = [:]
        for cell in cells.sorted(by: { ($0.depth, $0.index) < ($1.depth, $1.index) }) {
            let slot = Slot(depth: cell.depth, test: cell.test)
            if bySlot[slot] == nil { slots.append(slot) }
            bySlot[slot, default: []].append(cell)
        }
        // Each session builds the setups afresh (weights, caches, states, depth ladder) and runs its
        // share of every cell's repetitions: with `sessions` > 1 the samples also span what changes
        // between allocations (measured here: one session in ten decoded 10% slower throughout).
        var partials: [Int: Partial] = [:]
        for sessionIndex in 0..<suite.sessions {
            var sessions: [Cell.Setup: EngineSession] = [:]
            for setup in group where suite.engines[setup.engine].kind == .ctxbench
                && cells.contains(where: { $0.setup == setup && !closed.contains($0.index) }) {
                let entry = suite.models[setup.model]
                do {
                    let s = EngineSession.Setup(config: entry.config, layers: entry.layers, recipe: setup.recipe,
                                                cacheType: setup.cacheType, threads: setup.threads, numa: setup.numa,
                                                seed: suite.seed, microBatch: suite.microBatch, mlaForm: suite.mlaForm,
                                                profiling: suite.profile, gguf: entry.gguf)
                    let session = try EngineSession(s, capacity: plan.capacity(of: setup), topology: platform.numa)
                    sessions[setup] = session
                    if session.decodeRegrouping.refusedBytes > 0 {
                        log(String(format: "note: %@: decode reads the stored rows; copies regrouped for it would take %.1f GiB, "
                                   + "over half the memory available\n", suite.models[setup.model].label,
                                   Double(session.decodeRegrouping.refusedBytes) / 1_073_741_824))
                    }
                } catch {
                    for cell in cells where cell.setup == setup && !closed.contains(cell.index) {
                        try record(failure(cell, .refused, "setup failed: \(error)"))
                        closed.insert(cell.index)
                        done += 1
                    }
                }
            }
            // Limits measured around every cell (a few ms each), when the run calibrates. The members
            // of a group share threads and placement, so one probe serves them all.
            let first = sessions.values.first
            let probe = options.calibrate ? first.flatMap {
                try? LimitProbe(pool: $0.pool, placement: $0.placement.memory, bytes: options.probeBytes, fmaFLOPs: options.probeFMAFLOPs)
            } : nil
            var reached: [Cell.Setup: Set<Int>] = [:]
            for slot in slots {
                if interrupted { return true }
                var members = bySlot[slot]!.filter { !closed.contains($0.index) && (isLlama($0) || sessions[$0.setup] != nil) }
                if members.isEmpty { continue }
                if suite.delaySeconds > 0, done > 0 || sessionIndex > 0 { Thread.sleep(forTimeInterval: suite.delaySeconds) }
                let llamaMembers = members.filter(isLlama)
                members.removeAll(where: isLlama)
                let llamaFirst = sessionIndex % 2 == 1
                if llamaFirst, try runLlama(llamaMembers, session: sessionIndex, probe: probe) { return true }
                own: do {
                    for cell in members where reached[cell.setup]?.contains(cell.depth) != true {
                        let session = sessions[cell.setup]!
                        progress(cell, done: done, total: total, eta: eta, note: "filling to depth \(cell.depth)")
                        do {
                            let seconds = Double(try session.reach(depth: cell.depth, fill: cell.fill)) / 1e9
                            if sessionIndex == 0 { partials[cell.index, default: Partial(session)].fillSeconds = seconds }
                        } catch {
                            try record(failure(cell, .failed, "could not reach depth \(cell.depth): \(error)"))
                            closed.insert(cell.index)
                            done += 1
                            continue
                        }
                        reached[cell.setup, default: []].insert(cell.depth)
                    }
                    members.removeAll { closed.contains($0.index) }
                    if members.isEmpty { break own }
                    for cell in members where partials[cell.index] == nil { partials[cell.index] = Partial(sessions[cell.setup]!) }
                    let share = suite.repetitions.share(ofSession: sessionIndex, sessions: suite.sessions)
                    guard let finite = measure(members, sessions: sessions, probe: probe, partials: &partials, repetitions: share,
                                               eta: eta, done: done, total: total) else {
                        return true  // interrupted: not recorded, the cells re-run on resume
                    }
                    for cell in members {
                        if finite[cell.index] != true {
                            try record(failure(cell, .nan, "non-finite logits after the test (NaN or Inf in the forward pass)"))
                            closed.insert(cell.index)
                            done += 1
                        } else if sessionIndex == suite.sessions - 1 {
                            try record(finish(cell, partials[cell.index]!))
                            done += 1
                        }
                    }
                }
                if !llamaFirst, try runLlama(llamaMembers, session: sessionIndex, probe: probe) { return true }
            }
        }
        return false
    }

    /// Why a group of setups is not run, when it would not fit in the memory available now (weights,
    /// caches at full capacity, states, by the cost model); nil when it fits or memory is unknown.
    /// A llama.cpp setup that offloads (to a GPU or over RPC) does not count: host memory is not
    /// its limit.
    func memoryRefusal(_ setups: [Cell.Setup]) -> String? {
        let offloads = ["-ngl", "--n-gpu-layers", "--rpc", "-dev", "--device"]
        let group = setups.filter { setup in
            let engine = plan.suite.engines[setup.engine]
            return engine.kind == .ctxbench || !engine.args.contains(where: offloads.contains)
        }
        let memory = group.map(plan.memory(of:))
        let needed = memory.reduce(0) { $0 + $1.total }
        let available = Double(platform.memoryAvailableBytes)
        guard available > 0 && needed > 0.9 * available else { return nil }
        func gib(_ keyPath: KeyPath<SuitePlan.Memory, Double>) -> Double { memory.reduce(0) { $0 + $1[keyPath: keyPath] } / 1_073_741_824 }
        let onHost = group.contains { plan.suite.engines[$0.engine].kind == .llamaCpp }
            ? " (llama.cpp on the host; offload with -ngl or --rpc to run it)" : ""
        return String(format: "needs %.2f GiB (weights %.2f, cache %.2f, state %.2f%@) of %.2f GiB available%@",
                      needed / 1_073_741_824, gib(\.weights), gib(\.cache), gib(\.state),
                      group.count > 1 ? ", for \(group.count) interleaved setups" : "", available / 1_073_741_824, onHost)
    }

    /// A cell's samples so far, across sessions.
    struct Partial {
        var samples: [Double] = []
        var tokenNs: [Double] = []
        /// Op times of every timed repetition, all sessions.
        var profiler: OpProfiler
        var fillSeconds = 0.0
        var probeRead: [Double] = []
        var probeFMA: [Double] = []
        var weightsSeconds: Double
        var weightsConverted: Int?
        var decodeRegroupedBytes: Int?

        init(_ session: EngineSession) {
            profiler = OpProfiler(layers: session.model.layerCount)
            weightsSeconds = session.weightSeconds
            weightsConverted = session.setup.gguf == nil ? nil : session.convertedTensors.count
            decodeRegroupedBytes = session.decodeRegrouping.bytes > 0 ? session.decodeRegrouping.bytes : nil
        }
    }

    /// Warmup, then this session's repetitions of the cells of one slot (`repetitions`: a fixed
    /// count, or nil for the adaptive rule), appended to their partials and to samples.jsonl as
    /// they are produced. Several cells (an interleaved group) alternate repetition by repetition
    /// in ABBA order, so a drift of the machine hits them alike. Returns, per cell index, whether
    /// its last logits were finite; nil when interrupted.
    func measure(_ cells: [Cell], sessions: [Cell.Setup: EngineSession], probe: LimitProbe?, partials: inout [Int: Partial],
                 repetitions: Int?, eta: ETA, done: Int, total: Int) -> [Int: Bool]? {
        let suite = plan.suite
        // Limits probed before the warmup and after the last repetition: close enough in time to
        // follow the machine's drift. The FMA peak is also probed between rounds of repetitions (a
        // register-only burst, `LimitProbe.measureFMA`), as one burst at each end left a prefill's
        // fraction to two samples of a rate that moves within seconds; the read pass is not, as
        // reading 128 MiB would evict the caches the test runs from (measured: decode of the mini
        // models 15% slower).
        func probeLimits() {
            guard let limits = probe?.measure() else { return }
            for cell in cells {
                partials[cell.index]!.probeRead.append(limits.readGBps)
                partials[cell.index]!.probeFMA.append(limits.fmaGFLOPs)
            }
        }
        probeLimits()
        for w in 0..<suite.warmup {
            for cell in cells {
                progress(cell, done: done, total: total, eta: eta, note: "warmup \(w + 1)/\(suite.warmup)")
                let session = sessions[cell.setup]!
                session.restore(depth: cell.depth)
                _ = runOnce(cell, session: session)
                if interrupted { return nil }
            }
        }
        for cell in cells { sessions[cell.setup]!.context.profiler.reset() }
        let start = monotonicNanoseconds()
        let limit = repetitions ?? suite.repetitions.maximum
        var count = 0
        while count < limit {
            for cell in count % 2 == 0 ? cells : cells.reversed() {
                let session = sessions[cell.setup]!
                let repetition = partials[cell.index]!.samples.count
                progress(cell, done: done, total: total, eta: eta,
                         note: "repetition \(repetition + 1)/\(suite.sessions > 1 ? suite.repetitions.maximum : limit)")
                session.restore(depth: cell.depth)
                let (ns, perToken) = insideMeasuredRegion { runOnce(cell, session: session) }
                partials[cell.index]!.samples.append(ns)
                partials[cell.index]!.tokenNs += perToken
                do {
                    try sink.appendSample(.init(cellID: cell.id(in: suite), repetition: repetition, ns: ns, tokens: cell.test.tokens,
                                                     tokenNs: perToken.isEmpty ? nil : perToken))
                } catch {
                    log("warning: could not append a sample: \(error)\n")
                }
                if interrupted { return nil }
            }
            count += 1
            if repetitions == nil, case let .adaptive(minimum, _, width, budget) = suite.repetitions, count >= minimum {
                let settled = cells.allSatisfy { cell in
                    let stats = SampleStatistics(partials[cell.index]!.samples.map { Double(cell.test.tokens) * 1e9 / $0 })
                    return stats.confidenceHalfWidth95 <= width * stats.mean
                }
                if settled || Double(monotonicNanoseconds() - start) / 1e9 > budget { break }
            }
            if count < limit, let fma = probe?.measureFMA() {
                for cell in cells { partials[cell.index]!.probeFMA.append(fma) }
            }
        }
        for cell in cells { partials[cell.index]!.profiler.absorb(sessions[cell.setup]!.context.profiler) }
        probeLimits()
        return Dictionary(uniqueKeysWithValues: cells.map { ($0.index, sessions[$0.setup]!.lastLogitsAreFinite()) })
    }

    /// The cell's result from all its samples: statistics, latencies, efficiency, ops, projection.
    func finish(_ cell: Cell, _ partial: Partial) -> CellResult {
        let suite = plan.suite
        let id = cell.id(in: suite)
        var result = skeleton(cell)
        result.fillSeconds = partial.fillSeconds
        result.weightsSeconds = partial.weightsSeconds
        result.weightsConverted = partial.weightsConverted
        result.decodeRegroupedBytes = partial.decodeRegroupedBytes
        let samples = partial.samples
        let rates = samples.map { Double(cell.test.tokens) * 1e9 / $0 }
        result.samplesNs = samples
        result.samplesTs = rates
        result.rate = SampleStatistics(rates)
        if !partial.probeRead.isEmpty {
            result.probeReadGBps = partial.probeRead
            result.probeFMAGFLOPs = partial.probeFMA
        }
        if !partial.tokenNs.isEmpty {
            result.decodeP50Ms = SampleStatistics.percentile(partial.tokenNs, 50) / 1e6
            result.decodeP99Ms = SampleStatistics.percentile(partial.tokenNs, 99) / 1e6
        }
        efficiency(cell, &result, meanNs: samples.reduce(0, +) / Double(samples.count))
        let profiler = partial.profiler
        let wall = samples.reduce(0, +)
        if suite.profile {
            result.ops = profiler.totalsByOp().map { op, entry in
                OpRow(cellID: id, op: op.name, family: op.family.rawValue, totalNs: Double(entry.nanoseconds),
                      calls: Int(entry.calls), share: Double(entry.nanoseconds) / wall,
                      nsPerToken: Double(entry.nanoseconds) / Double(cell.test.tokens * samples.count))
            }
            let entry = suite.models[cell.model]
            if let layers = entry.layers, layers < entry.config.layerCount,
               let p = try? SliceProjection.project(config: entry.config, sliceLayers: layers, profiler: profiler,
                                                     wallNanoseconds: wall) {
                result.projectedTs = Double(cell.test.tokens * samples.count) * 1e9 / p.projectedNanoseconds
            }
        }
        result.finishedAt = Self.timestamp()
        return result
    }

    /// One repetition: wall ns, and per-token decode latencies for tg / pg.
    func runOnce(_ cell: Cell, session: EngineSession) -> (Double, [Double]) {
        let test = cell.test, batch = plan.suite.batch
        let start = monotonicNanoseconds()
        var remaining = test.promptTokens
        while remaining > 0 {
            let n = min(batch, remaining)
            _ = session.prefill(n)
            remaining -= n
        }
        let perToken = test.generatedTokens > 0 ? session.decode(test.generatedTokens).map { Double($0) } : []
        if options.testSlowdown > 0 { Self.burn(nanoseconds: Double(monotonicNanoseconds() - start) * options.testSlowdown) }
        if options.testExtraWork > 0 {
            let f = flops(cell)
            Self.burn(iterations: Int(options.testExtraWork * (f.prompt / Self.promptFlopsPerBurnIteration + f.generation / Self.generationFlopsPerBurnIteration)))
        }
        return (Double(monotonicNanoseconds() - start), perToken)
    }

    /// The FLOPs of one repetition of the cell by the cost model: its prompt and its generation.
    func flops(_ cell: Cell) -> (prompt: Double, generation: Double) {
        let entry = plan.suite.models[cell.model]
        let calls = (cell.test.promptTokens + plan.suite.batch - 1) / plan.suite.batch  // runOnce: one forward call per batch
        return (entry.config.flops(tokens: cell.test.promptTokens, depth: cell.depth, recipe: cell.recipe, layers: entry.layers,
                                   forwardCalls: calls, mlaForm: plan.suite.mlaForm),
                entry.config.flops(tokens: cell.test.generatedTokens, depth: cell.depth + cell.test.promptTokens,
                                   recipe: cell.recipe, layers: entry.layers, mlaForm: plan.suite.mlaForm))
    }

    /// Runs `body` inside `ctx_measured_region` (CPlatform), the function an instruction counter
    /// toggles on: only measured repetitions go through it, never set-up, fill or warmup.
    func insideMeasuredRegion<T>(_ body: () -> T) -> T {
        var result: T? = nil
        withoutActuallyEscaping({ result = body() }) { escapable in
            let frame = MeasuredRegionFrame(escapable)
            withExtendedLifetime(frame) {
                ctx_measured_region({ Unmanaged<MeasuredRegionFrame>.fromOpaque($0!).takeUnretainedValue().body() },
                                    Unmanaged.passUnretained(frame).toOpaque())
            }
        }
        return result!
    }

    /// FLOPs of the engine per iteration of the burn loop with the same instruction count, read off
    /// callgrind's counts of suites/ci-instructions.json5 (the mini presets' pp4 and tg2 at depth
    /// 256) on the x86-64-v3 release build (prefill does more FLOPs per instruction than decode):
    /// `testExtraWork` = f then adds about f of the repetition's instructions there (3.8-4.5% for
    /// 0.05). scripts/gate-reliability prints the change it makes.
    static let promptFlopsPerBurnIteration = 5.7
    static let generationFlopsPerBurnIteration = 18.0

    /// The test-only extra work: a fixed count of dependent multiply-adds.
    static func burn(iterations: Int) {
        var x = 1.0
        for _ in 0..<iterations { x = x * 1.0000001 + 1e-9 }
        if x.isNaN { print(x) }  // keeps the loop from being optimized away
    }

    /// The test-only slowdown: arithmetic (not a sleep, so it competes for the core like real work)
    /// until `nanoseconds` have passed.
    static func burn(nanoseconds: Double) {
        let end = monotonicNanoseconds() + UInt64(max(0, nanoseconds))
        var x = 1.0
        while monotonicNanoseconds() < end {
            for _ in 0..<1000 { x = x * 1.0000001 + 1e-9 }
        }
        if x.isNaN { print(x) }  // keeps the loop from being optimized away
    }

    func efficiency(_ cell: Cell, _ result: inout CellResult, meanNs: Double) {
        let entry = plan.suite.models[cell.model]
        let f = entry.config.footprint(recipe: cell.recipe, cacheType: cell.cacheType, layers: entry.layers)
        let micro = plan.suite.microBatch
        var bytes = 0.0
        // Prefill: each micro-batch reads the weights its tokens touch and the cache once.
        var p = 0
        while p < cell.test.promptTokens {
            let n = min(micro, cell.test.promptTokens - p)
            bytes += f.weightBytesRead(tokens: n) + f.contextBytes(depth: cell.depth + p)
            p += n
        }
        // Decode: each token reads the active weights and the whole cache and state.
        for g in 0..<cell.test.generatedTokens {
            bytes += f.weightBytesRead(tokens: 1) + f.contextBytes(depth: cell.depth + cell.test.promptTokens + g)
        }
        let cost = flops(cell)
        let flops = cost.prompt + cost.generation
        result.bytesPerToken = bytes / Double(cell.test.tokens)
        result.achievedGBps = bytes / meanNs
        result.flopsPerRepetition = flops
        result.achievedGFLOPs = flops / meanNs
        // Against the limits probed around the cell's repetitions (a shared machine's limits move
        // within minutes), else the run's calibration at these threads.
        if let read = result.probeReadGBps, let fma = result.probeFMAGFLOPs, !read.isEmpty, !fma.isEmpty {
            result.bandwidthFraction = result.achievedGBps! / SampleStatistics.median(read)
            result.peakFraction = result.achievedGFLOPs! / SampleStatistics.median(fma)
        } else if let l = limits[cell.threads] {
            result.bandwidthFraction = result.achievedGBps! / l.dramReadGBps.median
            result.peakFraction = result.achievedGFLOPs! / l.fmaGFLOPs.median
        }
    }

    func skeleton(_ cell: Cell) -> CellResult {
        let suite = plan.suite
        let entry = suite.models[cell.model]
        return CellResult(cellID: cell.id(in: suite), cellIndex: cell.index, status: .ok, error: nil, model: entry.label,
                          preset: entry.preset, layers: entry.layers ?? entry.config.layerCount,
                          layersTotal: entry.config.layerCount, weightType: cell.recipe.description,
                          cacheType: cell.cacheType.rawValue, threads: cell.threads, numa: cell.numa.rawValue,
                          fill: cell.fill.rawValue, test: cell.testLabel, nPrompt: cell.test.promptTokens,
                          nGen: cell.test.generatedTokens, nDepth: cell.depth, warmup: suite.engines[cell.engine].kind == .llamaCpp ? min(suite.warmup, 1) : suite.warmup, samplesNs: [],
                          samplesTs: [], finishedAt: Self.timestamp(), engine: suite.engines[cell.engine].label, ops: [])
    }

    func failure(_ cell: Cell, _ status: CellResult.Status, _ message: String) -> CellResult {
        var r = skeleton(cell)
        r.status = status
        r.error = message
        return r
    }

    func record(_ result: CellResult) throws {
        results.append(result)
        try sink.appendCell(result)
        try sink.writeTables(cells: results, title: "\(plan.suite.name) (\(platform.hostname))")
        if result.status != .ok, !options.quiet { log("cell \(result.cellID): \(result.status.rawValue): \(result.error ?? "")\n") }
    }

    /// Limits for every thread count of the plan: from the saved calibration of this host when it
    /// has them, else measured now (quickly: 3 repetitions, 512 MiB).
    func calibrate() throws {
        let saved = try? CalibrationStore.load(from: CalibrationStore.defaultPath(host: platform.hostname))
        for threads in Set(plan.cells.map(\.threads)).sorted() {
            if !options.freshCalibration, let l = saved?.limits(threads: threads),
               saved?.platform.hardwareKey == platform.hardwareKey {
                limits[threads] = l
                continue
            }
            if !options.quiet { log("calibrating DRAM read and FMA peak at \(threads) thread\(threads == 1 ? "" : "s")...\n") }
            let placement = try ThreadPlacement.plan(threads: threads, policy: .none, topology: platform.numa)
            limits[threads] = try options.calibrator.measure(pool: ThreadPool(threads: threads, placement: placement),
                                                       memory: placement.memory) { _ in }
        }
    }

    func progress(_ cell: Cell, done: Int, total: Int, eta: ETA, note: String) {
        guard options.progress, !options.quiet else { return }
        let remaining = eta.remainingSeconds(after: done)
        log(String(format: "[%d/%d] %@ %@: %@, ETA %@ (estimate)\n", done + 1, total, plan.suite.models[cell.model].label,
                   "\(cell.recipe) \(cell.cacheType.rawValue) t\(cell.threads) \(cell.testLabel)", note, ETA.format(remaining)))
    }

    static func timestamp() -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        return f.string(from: Date())
    }
}

/// Remaining-time estimate: the plan's per-cell estimates, rescaled by how the finished cells
/// compared with their own estimates.
struct ETA {
    let estimates: [Double]
    let started = monotonicNanoseconds()

    init(plan: SuitePlan, cells: [Cell], limits: [Int: MachineLimits]) {
        estimates = cells.map { cell in
            let l = limits[cell.threads]
            return plan.estimatedSeconds(cell, gflops: l?.fmaGFLOPs.median ?? 50, gbps: l?.dramReadGBps.median ?? 10)
        }
    }

    func remainingSeconds(after done: Int) -> Double {
        let elapsed = Double(monotonicNanoseconds() - started) / 1e9
        let spentEstimate = estimates.prefix(done).reduce(0, +)
        let scale = done > 0 && spentEstimate > 0 ? elapsed / spentEstimate : 1
        return estimates.dropFirst(done).reduce(0, +) * scale
    }

    static func format(_ seconds: Double) -> String {
        guard seconds.isFinite else { return "?" }
        let s = Int(seconds.rounded())
        return s >= 3600 ? "\(s / 3600)h\(s % 3600 / 60)m" : s >= 60 ? "\(s / 60)m\(s % 60)s" : "\(s)s"
    }
}

/// The closure `insideMeasuredRegion` hands through C's void pointer.
private final class MeasuredRegionFrame {
    let body: () -> Void
    init(_ body: @escaping () -> Void) { self.body = body }
}
