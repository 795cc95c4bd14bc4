import Foundation

/// Line charts as standalone SVG (no scripts, no external fonts: they open in a browser and render
/// on GitHub). x is a context length on a log2 axis; depth 0 sits one step left of the smallest
/// non-zero depth, labelled "0".
public struct SVGChart: Sendable {
    public struct Line: Sendable {
        public var label: String
        public var points: [(x: Int, y: Double)]
    }

    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var lines: [Line]
    /// Fixed y range 0...1 shown as percentages (shares); otherwise 0...max rate.
    public var yIsFraction = false

    static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                          "#bcbd22", "#17becf"]

    public var svg: String {
        let width = 760.0, height = 440.0
        let left = 70.0, right = 20.0, top = 40.0
        let legendHeight = Double(lines.count) * 16 + 10
        let bottom = 50.0 + legendHeight
        let plotW = width - left - right, plotH = height - top - bottom + legendHeight
        let totalHeight = height + legendHeight
        let xs = Set(lines.flatMap { $0.points.map(\.x) })
        let positive = xs.filter { $0 > 0 }
        let minExp = positive.min().map { log2(Double($0)) } ?? 0
        let maxExp = positive.max().map { log2(Double($0)) } ?? 1
        let zeroExp = minExp - 1
        func xPos(_ x: Int) -> Double {
            let e = x > 0 ? log2(Double(x)) : zeroExp
            let lo = xs.contains(0) ? zeroExp : minExp
            let span = max(maxExp - lo, 1)
            return left + (e - lo) / span * plotW
        }
        let yMax = yIsFraction ? 1.0 : Self.niceCeiling(lines.flatMap { $0.points.map(\.y) }.filter(\.isFinite).max() ?? 1)
        func yPos(_ y: Double) -> Double { top + plotH - y / yMax * plotH }

        var out = [##"<svg xmlns="http://www.w3.org/2000/svg" width="\##(Int(width))" height="\##(Int(totalHeight))" viewBox="0 0 \##(Int(width)) \##(Int(totalHeight))" font-family="Helvetica, Arial, sans-serif" font-size="12">"##]
        out.append(##"<rect width="100%" height="100%" fill="white"/>"##)
        out.append(##"<text x="\##(Int(width / 2))" y="22" text-anchor="middle" font-size="15">\##(Self.escape(title))</text>"##)
        // Grid and y ticks.
        for i in 0...5 {
            let v = yMax * Double(i) / 5, y = yPos(v)
            out.append(##"<line x1="\##(left)" y1="\##(y)" x2="\##(left + plotW)" y2="\##(y)" stroke="#e0e0e0"/>"##)
            let text = yIsFraction ? String(format: "%.0f%%", v * 100) : Self.short(v)
            out.append(##"<text x="\##(left - 6)" y="\##(y + 4)" text-anchor="end">\##(text)</text>"##)
        }
        // x ticks at every power of two present (and 0).
        for x in xs.sorted() {
            let px = xPos(x)
            out.append(##"<line x1="\##(px)" y1="\##(top)" x2="\##(px)" y2="\##(top + plotH)" stroke="#f0f0f0"/>"##)
            out.append(##"<text x="\##(px)" y="\##(top + plotH + 16)" text-anchor="middle">\##(Format.tokens(x))</text>"##)
        }
        out.append(##"<rect x="\##(left)" y="\##(top)" width="\##(plotW)" height="\##(plotH)" fill="none" stroke="#333"/>"##)
        out.append(##"<text x="\##(left + plotW / 2)" y="\##(top + plotH + 36)" text-anchor="middle">\##(Self.escape(xLabel))</text>"##)
        out.append(##"<text transform="translate(16 \##(top + plotH / 2)) rotate(-90)" text-anchor="middle">\##(Self.escape(yLabel))</text>"##)
        for (i, line) in lines.enumerated() {
            let color = Self.palette[i % Self.palette.count]
            let pts = line.points.filter { $0.y.isFinite }.sorted { $0.x < $1.x }
            let path = pts.map { String(format: "%.1f,%.1f", xPos($0.x), yPos($0.y)) }.joined(separator: " ")
            out.append(##"<polyline fill="none" stroke="\##(color)" stroke-width="2" points="\##(path)"/>"##)
            // Each point carries its value as a title: a browser shows it on hover.
            for p in pts {
                let value = yIsFraction ? String(format: "%.1f%%", p.y * 100) : String(format: "%.2f", p.y)
                let tip = Self.escape("\(line.label): \(Format.tokens(p.x)) → \(value)")
                out.append(String(format: ##"<circle cx="%.1f" cy="%.1f" r="4" fill="%@"><title>%@</title></circle>"##,
                                  xPos(p.x), yPos(p.y), color, tip))
            }
            let ly = top + plotH + 52 + Double(i) * 16
            out.append(##"<line x1="\##(left)" y1="\##(ly - 4)" x2="\##(left + 24)" y2="\##(ly - 4)" stroke="\##(color)" stroke-width="2"/>"##)
            out.append(##"<text x="\##(left + 30)" y="\##(ly)">\##(Self.escape(line.label))</text>"##)
        }
        out.append("</svg>")
        return out.joined(separator: "\n") + "\n"
    }

    /// 1, 2 or 5 times a power of ten at or above `v`.
    static func niceCeiling(_ v: Double) -> Double {
        guard v > 0 else { return 1 }
        let p = pow(10, floor(log10(v)))
        for m in [1.0, 2, 5, 10] where m * p >= v { return m * p }
        return 10 * p
    }

    static func short(_ v: Double) -> String {
        v >= 1000 ? String(format: "%.0f", v) : v >= 10 ? String(format: "%.0f", v) : String(format: "%.2g", v)
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
