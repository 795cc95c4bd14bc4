import Foundation

/// A run directory read back for reports: its metadata and finished cells. Works the same for
/// ctxbench's own runs and imported ones.
public struct LoadedRun: Sendable {
    public var path: String
    public var metadata: RunMetadata
    public var cells: [CellResult]

    public static func load(_ path: String) throws -> LoadedRun {
        let directory = RunDirectory(existing: path)
        guard RunDirectory.holdsRun(path) else {
            throw ImportError(path, "not a run directory (no run.json)")
        }
        let metadata: RunMetadata
        do { metadata = try directory.readMetadata() } catch { throw ImportError(directory.file(RunDirectory.metadataFile), "unreadable: \(error)") }
        return LoadedRun(path: path, metadata: metadata, cells: directory.finishedCells())
    }

    /// The calibrated limits of this run at `threads`, if it measured any.
    public func limits(threads: Int) -> MachineLimits? { metadata.limits.first { $0.threads == threads } }
}

/// Cells that belong on one curve: the same platform, model, weights, cache, threads and fill.
public struct Series: Hashable, Sendable, Comparable {
    public var platform: String
    public var model: String
    public var weightType: String
    public var cacheType: String
    public var threads: Int

    public var label: String {
        "\(platform) · \(model) · \(weightType) · \(cacheType)" + (threads > 0 ? " · t\(threads)" : "")
    }

    public static func < (a: Series, b: Series) -> Bool { a.label < b.label }

    /// Groups the ok cells of `runs` by series, keeping run order.
    public static func group(_ runs: [LoadedRun]) -> [(series: Series, cells: [CellResult], run: LoadedRun)] {
        var order: [Series] = []
        var groups: [Series: ([CellResult], LoadedRun)] = [:]
        for run in runs {
            for cell in run.cells where cell.status == .ok && cell.rate != nil {
                let s = Series(platform: run.metadata.platformLabel, model: cell.model, weightType: cell.weightType,
                               cacheType: cell.cacheType, threads: cell.threads)
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
