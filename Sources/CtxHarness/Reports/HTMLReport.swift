import Foundation

/// The report as one self-contained HTML page: no network, no scripts; styles inline, charts as
/// inline SVG whose points show their values on hover (SVG titles), every table of the Markdown
/// report, and each run's platform fingerprint.
enum HTMLReport {
    static func page(_ report: Report) -> String {
        var body: [String] = ["<h1>ctxbench report</h1>"]
        body.append(section("runs", "Runs", "<ul>" + report.sources.map { "<li>\(escape($0))</li>" }.joined() + "</ul>"))
        for table in report.tables where table.name == "platforms" { body.append(section(table.name, table.title, html(table))) }
        if !report.charts.isEmpty {
            let figures = report.charts.map { chart in
                "<figure id=\"chart-\(escape(chart.name.replacingOccurrences(of: ".svg", with: "")))\">\(inlineSVG(chart.svg))</figure>"
            }
            body.append(section("charts", "Charts", "<p class=\"hint\">Hover a point for its value.</p>" + figures.joined()))
        }
        for table in report.tables where table.name != "platforms" { body.append(section(table.name, table.title, html(table))) }
        body.append(section("fingerprints", "Platform fingerprints", report.fingerprints.map(fingerprint).joined()))
        return """
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <title>ctxbench report</title>
        <style>
        body { font-family: Helvetica, Arial, sans-serif; margin: 24px; color: #222; max-width: 1400px; }
        h1 { font-size: 24px; } h2 { font-size: 18px; margin-top: 32px; border-bottom: 1px solid #ccc; }
        table { border-collapse: collapse; margin: 8px 0; font-size: 13px; }
        th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: left; }
        th { background: #f2f2f2; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
        tr:hover td { background: #fff7d6; }
        figure { display: inline-block; margin: 8px; } p.note, p.hint { font-size: 13px; color: #444; max-width: 1100px; }
        code { background: #f4f4f4; padding: 0 3px; }
        </style>
        </head>
        <body>
        \(body.joined(separator: "\n"))
        </body>
        </html>

        """
    }

    static func section(_ id: String, _ title: String, _ content: String) -> String {
        "<section id=\"\(escape(id))\"><h2>\(escape(title))</h2>\n\(content)\n</section>"
    }

    static func html(_ table: ReportTable) -> String {
        var out = ["<table class=\"\(escape(table.name))\">", "<thead><tr>" + table.header.map { "<th>\(escape($0))</th>" }.joined() + "</tr></thead>", "<tbody>"]
        for row in table.rows {
            out.append("<tr>" + row.enumerated().map { i, cell in
                table.numeric.contains(i) ? "<td class=\"num\">\(escape(cell))</td>" : "<td>\(escape(cell))</td>"
            }.joined() + "</tr>")
        }
        out.append("</tbody></table>")
        out += table.notes.map { "<p class=\"note\">\(codeSpans(escape($0)))</p>" }
        return out.joined(separator: "\n")
    }

    static func fingerprint(_ run: (label: String, platform: PlatformInfo, source: String?, backend: String?)) -> String {
        let p = run.platform
        var rows: [(String, String)] = [("platform", run.label)]
        if let source = run.source {
            rows += [("source", source), ("backend", run.backend ?? "-"), ("CPU", p.cpuModel), ("build", p.gitCommit ?? "-")]
        } else {
            let caches = p.caches.map { "L\($0.level) \($0.type) \(Format.bytes(Double($0.sizeBytes)))" + ($0.sharedByCPUs > 1 ? " per \($0.sharedByCPUs) CPUs" : "") }
            rows += [("CPU", "\(p.cpuModel) (\(p.architecture))"), ("cores", "\(p.logicalCores) logical, \(p.physicalCores) physical"),
                     ("ISA", p.cpuFeatures.joined(separator: " ")), ("caches", caches.joined(separator: ", ")),
                     ("NUMA nodes", String(p.numa.nodes.count)), ("memory", Format.bytes(Double(p.memoryTotalBytes))),
                     ("OS", "\(p.operatingSystem), kernel \(p.kernel)"),
                     ("build", "Swift \(p.swiftCompiler), \(p.buildConfiguration), ISA \(p.buildISA.joined(separator: " ")), commit \(p.gitCommit ?? "unknown")"),
                     ("host", p.hostname)]
        }
        return "<table class=\"fingerprint\">" + rows.map { "<tr><th>\(escape($0.0))</th><td>\(escape($0.1))</td></tr>" }.joined() + "</table>"
    }

    /// An SVG document without its XML prolog, to sit inside the page.
    static func inlineSVG(_ svg: String) -> String {
        svg.hasPrefix("<?xml") ? String(svg.drop { $0 != "\n" }) : svg
    }

    /// `x` in a note becomes <code>x</code>.
    static func codeSpans(_ text: String) -> String {
        var out = "", open = false
        for ch in text {
            if ch == "`" { out += open ? "</code>" : "<code>"; open.toggle() } else { out.append(ch) }
        }
        if open { out += "</code>" }
        return out
    }

    static func escape(_ s: String) -> String { SVGChart.escape(s) }
}
