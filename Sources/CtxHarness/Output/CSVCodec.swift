import CCSV
import Foundation

/// CSV through libcsv: writing quotes every field (as llama-bench's CSV does), reading handles
/// quoted separators, doubled quotes and embedded newlines, and rejects malformed quoting.
public enum CSVCodec {
    public struct ParseError: Error, CustomStringConvertible {
        public let message: String
        public var description: String { message }
    }

    /// One CSV line (with a trailing newline) from `fields`.
    public static func line(_ fields: [String]) -> String {
        var out = ""
        for (index, field) in fields.enumerated() {
            if index > 0 { out += "," }
            var bytes = Array(field.utf8)
            let needed = bytes.withUnsafeMutableBytes { src in csv_write(nil, 0, src.baseAddress, src.count) }
            var dest = [UInt8](repeating: 0, count: needed)
            _ = dest.withUnsafeMutableBytes { d in
                bytes.withUnsafeMutableBytes { s in csv_write(d.baseAddress, d.count, s.baseAddress, s.count) }
            }
            out += String(decoding: dest, as: UTF8.self)
        }
        return out + "\n"
    }

    /// A whole table: header row, then rows.
    public static func table(header: [String], rows: [[String]]) -> String {
        ([header] + rows).map(line).joined()
    }

    /// Parses CSV text into rows of fields. Empty lines are skipped.
    public static func parse(_ text: String) throws -> [[String]] {
        final class Collector {
            var rows: [[String]] = []
            var current: [String] = []
        }
        var parser = csv_parser()
        guard csv_init(&parser, UInt8(CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL)) == 0 else {
            throw ParseError(message: "libcsv could not initialize")
        }
        defer { csv_free(&parser) }
        let collector = Collector()
        let context = Unmanaged.passUnretained(collector).toOpaque()
        let onField: @convention(c) (UnsafeMutableRawPointer?, Int, UnsafeMutableRawPointer?) -> Void = { data, length, ctx in
            let collector = Unmanaged<Collector>.fromOpaque(ctx!).takeUnretainedValue()
            let field = data.map { String(decoding: UnsafeRawBufferPointer(start: $0, count: length), as: UTF8.self) } ?? ""
            collector.current.append(field)
        }
        let onRow: @convention(c) (Int32, UnsafeMutableRawPointer?) -> Void = { _, ctx in
            let collector = Unmanaged<Collector>.fromOpaque(ctx!).takeUnretainedValue()
            collector.rows.append(collector.current)
            collector.current = []
        }
        var bytes = Array(text.utf8)
        let consumed = bytes.withUnsafeMutableBytes { buffer in
            csv_parse(&parser, buffer.baseAddress, buffer.count, onField, onRow, context)
        }
        if consumed != bytes.count || csv_fini(&parser, onField, onRow, context) != 0 {
            let reason = String(cString: csv_strerror(csv_error(&parser)))
            let line = 1 + bytes.prefix(consumed).reduce(0) { $0 + ($1 == 10 ? 1 : 0) }
            throw ParseError(message: "line \(line): malformed CSV (\(reason))")
        }
        return collector.rows
    }
}
