import Foundation

/// Two runs cell by cell: the samples of every cell both ran, the change of the median and a
/// Mann-Whitney U test on the raw samples. Shared by `compare` (a table) and `gate` (a verdict).
public struct Comparison: Sendable {
    public enum Metric: String, CaseIterable, Sendable {
        /// Tokens per second per repetition (larger is better).
        case rate = "rate"
        /// Median per-token decode latency in ms per repetition (smaller is better; tg and pg only).
        case decodeLatency = "decode-latency"
    }

    public enum Normalization: String, CaseIterable, Sendable {
        case none
        /// A cell's samples divided by the limits probed beside them (`LimitProbe`), or else by the
        /// run's calibration: FMA peak for cells with a prompt, DRAM read bandwidth for generation,
        /// so two runs on a faster and a slower moment (or machine) compare as fractions of what
        /// the hardware gave them.
        case efficiency
    }

    public struct Row: Sendable {
        public var cellID: String
        public var test: String
        public var base: [Double]
        public var candidate: [Double]
        public var baseMedian: Double
        public var candidateMedian: Double
        /// candidate / base of the medians, oriented so that > 1 is better.
        public var ratio: Double
        /// True for rates, false for latencies.
        public var higherIsBetter: Bool
        public var p: Double?
        /// Smallest change (fraction) these samples could show as significant at alpha with 80% power.
        public var detectable: Double
    }

    public var rows: [Row]
    public var baseOnly: Int
    public var candidateOnly: Int
    /// Cells the baseline has a result for that the candidate cannot be compared on, with why:
    /// missing, failed (its status and error), or without a finite sample.
    public var candidateProblems: [(cellID: String, reason: String)]
    /// Cells the candidate ran that the baseline has no usable result for (failed there).
    public var baseProblems: [(cellID: String, reason: String)]

    public struct Failure: Error, CustomStringConvertible {
        public let message: String
        /// True when the baseline is what cannot be used (else the candidate).
        public let inBaseline: Bool
        public var description: String { message }
    }

    public init(base: LoadedRun, candidate: LoadedRun, metric: Metric = .rate, normalize: Normalization = .none,
                alpha: Double = 0.05) throws {
        let baseCells = Dictionary(base.cells.map { ($0.cellID, $0) }, uniquingKeysWith: { a, _ in a })
        let candidateCells = Dictionary(candidate.cells.map { ($0.cellID, $0) }, uniquingKeysWith: { a, _ in a })
        var rows: [Row] = []
        var candidateProblems: [(String, String)] = [], baseProblems: [(String, String)] = []
        func finiteSamples(_ cell: CellResult, _ run: LoadedRun) throws -> [Double]? {
            do { return try Self.samples(cell, run: run, metric: metric, normalize: normalize)?.filter(\.isFinite) } catch let e as Failure {
                throw Failure(message: e.message, inBaseline: run.path == base.path)
            }
        }
        for cell in base.cells {
            guard let other = candidateCells[cell.cellID] else {
                if cell.status == .ok { candidateProblems.append((cell.cellID, "missing from the candidate")) }
                continue
            }
            if other.status != .ok {
                candidateProblems.append((cell.cellID, "\(other.status.rawValue) in the candidate" + (other.error.map { ": \($0)" } ?? "")))
                continue
            }
            if cell.status != .ok {
                baseProblems.append((cell.cellID, "\(cell.status.rawValue) in the baseline" + (cell.error.map { ": \($0)" } ?? "")))
                continue
            }
            // nil: the metric does not apply to this cell (decode latency of a prefill test).
            guard let a = try finiteSamples(cell, base) else { continue }
            guard let b = try finiteSamples(other, candidate) else { continue }
            if b.isEmpty { candidateProblems.append((cell.cellID, "no finite sample in the candidate")); continue }
            if a.isEmpty { baseProblems.append((cell.cellID, "no finite sample in the baseline")); continue }
            let ma = SampleStatistics.median(a), mb = SampleStatistics.median(b)
            let ratio = metric == .rate ? mb / ma : ma / mb
            rows.append(Row(cellID: cell.cellID, test: cell.test, base: a, candidate: b, baseMedian: ma, candidateMedian: mb,
                            ratio: ratio, higherIsBetter: metric == .rate, p: a.count > 1 || b.count > 1 ? MannWhitney.test(a, b)?.p : nil,
                            detectable: Self.detectableChange(a, b, alpha: alpha)))
        }
        self.rows = rows
        self.candidateProblems = candidateProblems
        self.baseProblems = baseProblems
        baseOnly = baseCells.keys.filter { candidateCells[$0] == nil }.count
        candidateOnly = candidateCells.keys.filter { baseCells[$0] == nil }.count
    }

    static func samples(_ cell: CellResult, run: LoadedRun, metric: Metric, normalize: Normalization) throws -> [Double]? {
        var values: [Double]
        switch metric {
        case .rate: values = cell.samplesTs
        case .decodeLatency:
            // Mean time per decode step of each repetition; tg cells only (pp and pg mix in prefill).
            guard cell.nGen > 0, cell.nPrompt == 0 else { return nil }
            values = cell.samplesNs.map { $0 / Double(cell.nGen) / 1e6 }
        }
        guard normalize == .efficiency else { return values }
        // The cell's samples against the limits probed beside them; else against the run's calibration.
        let probes = cell.nPrompt > 0 ? cell.probeFMAGFLOPs : cell.probeReadGBps
        let limit: Double
        if let probes, !probes.isEmpty {
            limit = SampleStatistics.median(probes)
        } else if let limits = run.limits(threads: cell.threads) {
            limit = cell.nPrompt > 0 ? limits.fmaGFLOPs.median : limits.dramReadGBps.median
        } else {
            throw Failure(message: "\(run.path): no calibrated limits at \(cell.threads) threads, so it cannot be normalized by efficiency (run without --no-calibrate)",
                          inBaseline: false)
        }
        return metric == .rate ? values.map { $0 / limit } : values.map { $0 * limit }
    }

    /// (z(1 - alpha/2) + z(0.8)) x the standard error of the relative difference of medians, from
    /// robust spreads (1.4826 MAD / median, or the CV when the MAD is 0), widened by sqrt(pi/3)
    /// (the rank test needs pi/3 times a t-test's samples on normal data). Infinite when the
    /// samples are too few for the test ever to reach alpha.
    static func detectableChange(_ a: [Double], _ b: [Double], alpha: Double) -> Double {
        if MannWhitney.smallestP(a.count, b.count) > alpha { return .infinity }
        func relativeSpread(_ xs: [Double]) -> Double {
            let s = SampleStatistics(xs)
            return s.mad > 0 ? 1.4826 * s.mad / s.median : s.coefficientOfVariation
        }
        let se = (pow(relativeSpread(a), 2) / Double(a.count) + pow(relativeSpread(b), 2) / Double(b.count)).squareRoot()
        return (normalQuantile(1 - alpha / 2) + normalQuantile(0.8)) * se * (Double.pi / 3).squareRoot()
    }

    /// Inverse of the standard normal CDF (Acklam's rational approximation, |error| < 1.2e-9).
    static func normalQuantile(_ p: Double) -> Double {
        let a = [-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02, 1.383577518672690e+02,
                 -3.066479806614716e+01, 2.506628277459239e+00]
        let b = [-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02, 6.680131188771972e+01,
                 -1.328068155288572e+01]
        let c = [-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00, -2.549732539343734e+00,
                 4.374664141464968e+00, 2.938163982698783e+00]
        let d = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00]
        let low = 0.02425
        if p < low {
            let q = (-2 * log(p)).squareRoot()
            return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
        }
        if p > 1 - low { return -normalQuantile(1 - p) }
        let q = p - 0.5, r = q * q
        return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q
            / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)
    }

    public var geometricMeanRatio: Double? {
        let logs = rows.map { log($0.ratio) }.filter(\.isFinite)
        guard !logs.isEmpty else { return nil }
        return exp(logs.reduce(0, +) / Double(logs.count))
    }

    /// `compare`'s table: base, candidate, ratio and significance per cell, then the geometric mean.
    public func table(alpha: Double, metric: Metric) -> ReportTable {
        let unit = metric == .rate ? "t/s" : "ms/token"
        var t = ReportTable(name: "compare", title: "Comparison",
                            header: ["cell", "base median \(unit)", "candidate median \(unit)", "ratio (>1 better)", "change",
                                     "p (Mann-Whitney)", "significant"], numeric: [1, 2, 3, 4, 5])
        for r in rows {
            t.rows.append([r.cellID, Format.number(r.baseMedian, 2), Format.number(r.candidateMedian, 2), Format.number(r.ratio, 4),
                           Format.percent(r.ratio - 1), r.p.map { Format.number($0, 4) } ?? "-",
                           r.p.map { $0 < alpha ? "yes" : "no" } ?? "n/a (one sample)"])
        }
        if let g = geometricMeanRatio {
            t.rows.append(["geometric mean", "", "", Format.number(g, 4), Format.percent(g - 1), "", ""])
        }
        if baseOnly + candidateOnly > 0 {
            t.notes.append("\(baseOnly) cell(s) only in the base and \(candidateOnly) only in the candidate are not compared.")
        }
        let few = rows.filter { min($0.base.count, $0.candidate.count) < 9 }.count
        if few > 0 { t.notes.append("\(few) cell(s) have fewer than 9 samples on a side: the test has little power there.") }
        return t
    }
}
