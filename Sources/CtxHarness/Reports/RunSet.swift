import Foundation

/// A run directory read back for reports: its metadata and finished cells. Works the same for
/// ctxbench's own runs and imported ones.
public struct LoadedRun: Sendable {
    public var path: String
    public var metadata: RunMetadata
    public var cells: [CellResult]

    /// Runs that would share a platform label in every table get a distinguishing suffix; others
    /// keep theirs. Two hosts that report one CPU model string (a VM moved from a Zen 3 to a Zen 4
    /// host, both "AMD EPYC") differ in their CPU features: "AMD EPYC (vm), AVX-512 CPU". Builds
    /// for different ISAs on one platform (an x86-64-v3 and an AVX-512 build on one Xeon) differ in
    /// their build ISA: "Intel Xeon (host), AVX-512 build" (", AVX-512 VNNI build" with VNNI).
    /// Own runs in different directories that still share a label and hold a cell of the same id
    /// (the same slice run twice, before and after a change) get their directory's name, so their
    /// rows stay apart; runs that only complement each other (other depths, other models) keep
    /// one label and so one curve.
    static func namingPlatforms(_ runs: [LoadedRun]) -> [LoadedRun] {
        let byCPU = distinguishing(runs, by: { Set($0.platform.cpuFeatures) }, suffix: { "\(widestVectors($0.platform.cpuFeatures)) CPU" })
        return namingOverlaps(distinguishing(byCPU, by: { $0.platform.buildISA }, suffix: {
            "\(widestVectors($0.platform.buildISA))\($0.platform.buildISA.contains("avx512vnni") ? " VNNI" : "") build"
        }))
    }

    private static func namingOverlaps(_ runs: [LoadedRun]) -> [LoadedRun] {
        let own = runs.indices.filter { runs[$0].metadata.source == nil }
        var clashing = Set<Int>()
        for (n, i) in own.enumerated() {
            let ids = Set(runs[i].cells.map(\.cellID))
            for j in own[(n + 1)...] where runs[j].metadata.platformLabel == runs[i].metadata.platformLabel
                && directoryName(runs[j].path) != directoryName(runs[i].path)
                && runs[j].cells.contains(where: { ids.contains($0.cellID) }) {
                clashing.formUnion([i, j])
            }
        }
        return runs.indices.map { i in
            guard clashing.contains(i) else { return runs[i] }
            var named = runs[i]
            named.metadata.platformName = "\(runs[i].metadata.platformLabel), \(directoryName(runs[i].path))"
            return named
        }
    }

    private static func directoryName(_ path: String) -> String {
        URL(fileURLWithPath: path).standardizedFileURL.lastPathComponent
    }

    /// Own runs (not imports) whose label is shared by runs with different `key`s: label + ", " + suffix.
    private static func distinguishing<Key: Hashable>(_ runs: [LoadedRun], by key: (RunMetadata) -> Key,
                                                       suffix: (RunMetadata) -> String) -> [LoadedRun] {
        let own = runs.filter { $0.metadata.source == nil }
        let keys = Dictionary(grouping: own, by: \.metadata.platformLabel).mapValues { Set($0.map { key($0.metadata) }) }
        return runs.map { run in
            guard run.metadata.source == nil, (keys[run.metadata.platformLabel]?.count ?? 0) > 1 else { return run }
            var named = run
            named.metadata.platformName = "\(run.metadata.platformLabel), \(suffix(run.metadata))"
            return named
        }
    }

    static func widestVectors(_ isa: [String]) -> String {
        if isa.contains("avx512f") { return "AVX-512" }
        if isa.contains("avx2") { return "AVX2" }
        if isa.contains("neon") || isa.contains("dotprod") { return "NEON" }
        return "baseline"
    }

    public static func load(_ path: String) throws -> LoadedRun {
        let directory = RunDirectory(existing: path)
        guard RunDirectory.holdsRun(path) else {
            throw ImportError(path, "not a run directory (no run.json)")
        }
        let metadata: RunMetadata
        do { metadata = try directory.readMetadata() } catch { throw ImportError(directory.file(RunDirectory.metadataFile), "unreadable: \(error)") }
        var cells = directory.finishedCells()
        // Imports made before cells named their engine: llama.cpp's.
        if metadata.source != nil { for i in cells.indices where cells[i].engine == nil { cells[i].engine = Suite.Engine.Kind.llamaCpp.rawValue } }
        return LoadedRun(path: path, metadata: metadata, cells: cells)
    }

    /// The calibrated limits of this run at `threads`, if it measured any.
    public func limits(threads: Int) -> MachineLimits? { metadata.limits.first { $0.threads == threads } }
}

/// Cells that belong on one curve: every grid dimension but depth (and the test, which curves
/// split by kind): platform, model, weights, cache, threads, NUMA policy, fill, and the settings
/// that tell imported llama.cpp cells apart. A run with both fills has two series per setup.
public struct Series: Hashable, Sendable, Comparable {
    public var platform: String
    public var model: String
    public var weightType: String
    public var cacheType: String
    public var threads: Int
    /// "-" for imported runs, which have no NUMA policy of ours.
    public var numa: String = "-"
    /// How depths were reached: synthetic or computed for ctxbench's runs; "" for imports (a
    /// llama.cpp context is always computed, so saying so would tell nothing).
    public var fill: String = ""
    /// Settings from an imported cell id (".../pp512@d0/flash_attn=1,n_ubatch=256"), "" otherwise.
    public var settings: String = ""
    /// The engine of a suite's llama.cpp cells ("llama.cpp", or the engine's label); "" for
    /// ctxbench's own cells and for imports (whose backend column says llama.cpp).
    public var engine: String = ""

    public var label: String {
        var parts = [platform, model, weightType, cacheType]
        if threads > 0 { parts.append("t\(threads)") }
        if numa != "-" && numa != "none" { parts.append("numa \(numa)") }
        if !fill.isEmpty { parts.append(fill) }
        if !settings.isEmpty { parts.append(settings) }
        if !engine.isEmpty { parts.append(engine) }
        return parts.filter { !$0.isEmpty }.joined(separator: " · ")
    }

    public static func < (a: Series, b: Series) -> Bool { a.label < b.label }

    /// The series a cell of `run` belongs to.
    public static func of(_ cell: CellResult, in run: LoadedRun) -> Series {
        let imported = run.metadata.source != nil
        var settings = ""
        if imported, let at = cell.cellID.range(of: "@d") {
            let rest = cell.cellID[at.upperBound...]
            if let slash = rest.firstIndex(of: "/") { settings = String(rest[rest.index(after: slash)...]) }
            if let hash = settings.firstIndex(of: "#") { settings = String(settings[..<hash]) }
        }
        return Series(platform: run.metadata.platformLabel, model: cell.model, weightType: cell.weightType,
                      cacheType: cell.cacheType, threads: cell.threads, numa: imported ? "-" : cell.numa,
                      fill: imported ? "" : cell.fill, settings: settings,
                      engine: imported || (cell.engine ?? Suite.Engine.ctxbench.label) == Suite.Engine.ctxbench.label ? "" : cell.engine!)
    }

    /// Groups the ok cells of `runs` by series, keeping run order.
    public static func group(_ runs: [LoadedRun]) -> [(series: Series, cells: [CellResult], run: LoadedRun)] {
        var order: [Series] = []
        var groups: [Series: ([CellResult], LoadedRun)] = [:]
        for run in runs {
            for cell in run.cells where cell.status == .ok && cell.rate != nil {
                let s = Series.of(cell, in: run)
                if groups[s] == nil { order.append(s); groups[s] = ([], run) }
                groups[s]!.0.append(cell)
            }
        }
        return order.map { ($0, groups[$0]!.0, groups[$0]!.1) }
    }
}

/// Rate against context length for one series, for prefill or generation.
public struct Curve: Sendable {
    public enum Kind: String, Sendable { case prefill, generation }
    /// What x and the rate mean, for labels: "tg32 @ d", "pp512 @ d" or "S_PP(N), prefill of N from empty".
    public var meaning: String
    public var points: [(context: Int, rate: Double)]

    /// Generation: tg cells of the most common size, by depth. Prefill: pp cells of the most common
    /// size by depth; or, when every pp cell is at depth 0 with several sizes (llama-batched-bench),
    /// S_PP(N) by prompt size N.
    public static func of(_ kind: Kind, cells: [CellResult]) -> Curve? {
        switch kind {
        case .generation:
            let tg = cells.filter { $0.nPrompt == 0 && $0.nGen > 0 }
            guard let size = mostCommon(tg.map(\.nGen)) else { return nil }
            return Curve(meaning: "tg\(size) @ d", points: points(tg.filter { $0.nGen == size }) { $0.nDepth })
        case .prefill:
            let pp = cells.filter { $0.nGen == 0 && $0.nPrompt > 0 }
            if pp.count > 1 && pp.allSatisfy({ $0.nDepth == 0 }) && Set(pp.map(\.nPrompt)).count > 1 {
                return Curve(meaning: "S_PP(N): prefill of N tokens from empty", points: points(pp) { $0.nPrompt })
            }
            guard let size = mostCommon(pp.map(\.nPrompt)) else { return nil }
            return Curve(meaning: "pp\(size) @ d", points: points(pp.filter { $0.nPrompt == size }) { $0.nDepth })
        }
    }

    public func rate(at context: Int) -> Double? { points.first { $0.context == context }?.rate }

    static func points(_ cells: [CellResult], x: (CellResult) -> Int) -> [(context: Int, rate: Double)] {
        var byX: [Int: Double] = [:]
        for c in cells { if let r = c.rate?.mean, byX[x(c)] == nil { byX[x(c)] = r } }
        return byX.keys.sorted().map { ($0, byX[$0]!) }
    }

    static func mostCommon(_ xs: [Int]) -> Int? {
        let counts = Dictionary(grouping: xs, by: { $0 }).mapValues(\.count)
        return counts.max { a, b in a.value != b.value ? a.value < b.value : a.key > b.key }?.key
    }
}
