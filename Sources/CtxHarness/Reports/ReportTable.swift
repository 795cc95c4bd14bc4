import Foundation

/// One table of a report, rendered as Markdown (with notes under it) or CSV (through libcsv).
public struct ReportTable: Sendable {
    public var name: String
    public var title: String
    public var header: [String]
    /// Columns whose cells are numbers (right-aligned in Markdown).
    public var numeric: Set<Int> = []
    public var rows: [[String]] = []
    public var notes: [String] = []

    public init(name: String, title: String, header: [String], numeric: Set<Int> = []) {
        self.name = name
        self.title = title
        self.header = header
        self.numeric = numeric
    }

    public var markdown: String {
        var lines = ["## \(title)", ""]
        lines.append("| " + header.joined(separator: " | ") + " |")
        lines.append("|" + header.indices.map { numeric.contains($0) ? "--:|" : "---|" }.joined())
        for row in rows { lines.append("| " + row.map { $0.replacingOccurrences(of: "|", with: "\\|") }.joined(separator: " | ") + " |") }
        if !notes.isEmpty { lines.append(""); lines += notes }
        return lines.joined(separator: "\n") + "\n"
    }

    public var csv: String { CSVCodec.table(header: header, rows: rows) }
}

enum Format {
    /// Rates as llama-bench prints them.
    static func rate(_ v: Double?) -> String {
        guard let v, v.isFinite else { return "-" }
        return String(format: "%.2f", v)
    }

    static func percent(_ v: Double?, signed: Bool = true) -> String {
        guard let v, v.isFinite else { return "-" }
        return String(format: signed ? "%+.1f%%" : "%.1f%%", 100 * v)
    }

    static func number(_ v: Double?, _ digits: Int = 3) -> String {
        guard let v, v.isFinite else { return "-" }
        return String(format: "%.\(digits)f", v)
    }

    /// Bytes as KiB, MiB or GiB.
    static func bytes(_ n: Double) -> String {
        n >= 1_073_741_824 ? String(format: "%.1f GiB", n / 1_073_741_824)
            : n >= 1_048_576 ? String(format: "%.1f MiB", n / 1_048_576) : String(format: "%.0f KiB", n / 1024)
    }

    /// 16384 -> "16K", 262144 -> "256K" (powers of two in K as llama.cpp users write them), else the integer.
    static func tokens(_ n: Int) -> String {
        if n >= 1024 && n % 1024 == 0 { return "\(n / 1024)K" }
        return "\(n)"
    }
}
