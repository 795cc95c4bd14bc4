import Foundation

/// Where a runner's results go: a run directory (files written as they are produced: `ctxbench
/// run`) or memory (`ctxbench engine`, which prints them). One measurement path either way.
public protocol ResultSink: AnyObject {
    /// Cells a resumed run already finished, and what its run.json said (when it started, the
    /// llama.cpp builds that ran its cells).
    func previousCells() -> [CellResult]
    func previousMetadata() -> RunMetadata?
    /// Prepares the logs; samples of cells not in `finished` are set aside.
    func prepare(keepingSamplesOf finished: Set<String>) throws
    func writeMetadata(_ metadata: RunMetadata) throws
    func appendSample(_ sample: RunDirectory.SampleLine) throws
    func appendCell(_ result: CellResult) throws
    func writeTables(cells: [CellResult], title: String) throws
    func close()
}

extension RunDirectory: ResultSink {
    public func previousCells() -> [CellResult] { finishedCells() }
    public func previousMetadata() -> RunMetadata? { try? readMetadata() }
    public func prepare(keepingSamplesOf finished: Set<String>) throws { try openLogs(keepingSamplesOf: finished) }
}

/// Results kept in memory.
public final class MemorySink: ResultSink, @unchecked Sendable {
    public private(set) var cells: [CellResult] = []
    public private(set) var samples: [RunDirectory.SampleLine] = []
    public private(set) var metadata: RunMetadata?

    public init() {}

    public func previousCells() -> [CellResult] { [] }
    public func previousMetadata() -> RunMetadata? { nil }
    public func prepare(keepingSamplesOf finished: Set<String>) throws {}
    public func writeMetadata(_ metadata: RunMetadata) throws { self.metadata = metadata }
    public func appendSample(_ sample: RunDirectory.SampleLine) throws { samples.append(sample) }
    public func appendCell(_ result: CellResult) throws { cells.append(result) }
    public func writeTables(cells: [CellResult], title: String) throws {}
    public func close() {}
}
