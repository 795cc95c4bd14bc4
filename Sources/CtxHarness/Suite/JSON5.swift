import Foundation

/// A parsed JSON5 value. Objects keep their keys in file order (suite errors and the echoed
/// suite read in the author's order).
public indirect enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([(key: String, value: JSONValue)])

    public static func == (a: JSONValue, b: JSONValue) -> Bool {
        switch (a, b) {
        case (.null, .null): true
        case let (.bool(x), .bool(y)): x == y
        case let (.number(x), .number(y)): x == y || (x.isNaN && y.isNaN)
        case let (.string(x), .string(y)): x == y
        case let (.array(x), .array(y)): x == y
        case let (.object(x), .object(y)): x.count == y.count && zip(x, y).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        default: false
        }
    }

    /// What a message calls this kind of value ("a string", "an array").
    public var kindDescription: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case let .number(n): n == n.rounded() && abs(n) < 1e15 ? "the number \(Int(n))" : "the number \(n)"
        case let .string(s): "the string \"\(clipped(s, 60))\""
        case .array: "an array"
        case .object: "an object"
        }
    }

    /// Plain JSON text (compact), for echoing a suite into run metadata.
    public var jsonText: String {
        switch self {
        case .null: return "null"
        case let .bool(b): return b ? "true" : "false"
        case let .number(n):
            if !n.isFinite { return "null" }
            return n == n.rounded() && abs(n) < 1e15 ? String(Int64(n)) : String(n)
        case let .string(s):
            let data = try! JSONSerialization.data(withJSONObject: [s], options: [.fragmentsAllowed])
            let text = String(decoding: data, as: UTF8.self)
            return String(text.dropFirst().dropLast())
        case let .array(items): return "[" + items.map(\.jsonText).joined(separator: ",") + "]"
        case let .object(members):
            return "{" + members.map { JSONValue.string($0.key).jsonText + ":" + $0.value.jsonText }.joined(separator: ",") + "}"
        }
    }
}

/// A JSON5 syntax error at a line and column (1-based).
public struct JSON5Error: Error, CustomStringConvertible, Equatable {
    public let line: Int
    public let column: Int
    public let message: String
    public var description: String { "line \(line), column \(column): \(message)" }
}

/// A JSON5 parser (json5.org): comments, unquoted identifier keys, single-quoted strings,
/// trailing commas, hexadecimal numbers, leading/trailing decimal points, +/-, Infinity and NaN,
/// escaped line breaks in strings. Written here because the project takes no package dependencies.
public struct JSON5Parser {
    private let scalars: [Unicode.Scalar]
    private var index = 0
    private var depth = 0
    /// Objects and arrays nest at most this deep (a suite needs 4; a deeper file is not a suite,
    /// and recursion without a bound would overflow the stack).
    public static let maximumNesting = 64

    public static func parse(_ text: String) throws -> JSONValue {
        var parser = JSON5Parser(scalars: Array(text.unicodeScalars))
        try parser.skipWhitespaceAndComments()
        let value = try parser.parseValue()
        try parser.skipWhitespaceAndComments()
        if parser.index < parser.scalars.count { throw parser.error("unexpected \(show(parser.scalars[parser.index])) after the value") }
        return value
    }

    private init(scalars: [Unicode.Scalar]) { self.scalars = scalars }

    private func error(_ message: String, at position: Int? = nil) -> JSON5Error {
        let end = min(position ?? index, scalars.count)
        var line = 1, column = 1
        for s in scalars[0..<end] {
            if s == "\n" { line += 1; column = 1 } else { column += 1 }
        }
        return JSON5Error(line: line, column: column, message: message)
    }

    private var current: Unicode.Scalar? { index < scalars.count ? scalars[index] : nil }

    private mutating func skipWhitespaceAndComments() throws {
        while let c = current {
            if c.properties.isWhitespace || c == "\u{FEFF}" {
                index += 1
            } else if c == "/", index + 1 < scalars.count, scalars[index + 1] == "/" {
                while let d = current, d != "\n" { _ = d; index += 1 }
            } else if c == "/", index + 1 < scalars.count, scalars[index + 1] == "*" {
                let open = index
                index += 2
                while index + 1 < scalars.count, !(scalars[index] == "*" && scalars[index + 1] == "/") { index += 1 }
                if index + 1 >= scalars.count {
                    index = scalars.count
                    throw error("unterminated /* comment", at: open)
                }
                index += 2
            } else {
                return
            }
        }
    }

    private mutating func parseValue() throws -> JSONValue {
        guard let c = current else { throw error("unexpected end of input: expected a value") }
        switch c {
        case "{", "[":
            depth += 1
            defer { depth -= 1 }
            if depth > Self.maximumNesting { throw error("objects and arrays nest deeper than \(Self.maximumNesting) levels") }
            return c == "{" ? try parseObject() : try parseArray()
        case "\"", "'": return .string(try parseString())
        case "t", "f", "n", "I", "N": 
            if let word = readIdentifier() {
                switch word {
                case "true": return .bool(true)
                case "false": return .bool(false)
                case "null": return .null
                case "Infinity": return .number(.infinity)
                case "NaN": return .number(.nan)
                default: throw error("unexpected word '\(clipped(word, 40))': expected a value (strings need quotes)", at: index - word.unicodeScalars.count)
                }
            }
            throw error("unexpected '\(c)'")
        default:
            if c == "-" || c == "+" || c == "." || ("0"..."9").contains(c) { return .number(try parseNumber()) }
            if c.properties.isAlphabetic {
                let start = index
                let word = readIdentifier() ?? String(c)
                throw error("unexpected word '\(clipped(word, 40))': expected a value (strings need quotes)", at: start)
            }
            throw error("unexpected \(Self.show(c)): expected a value")
        }
    }

    private mutating func readIdentifier() -> String? {
        let start = index
        while let c = current, c.properties.isAlphabetic || ("0"..."9").contains(c) || c == "_" || c == "$" { index += 1 }
        return index > start ? String(String.UnicodeScalarView(scalars[start..<index])) : nil
    }

    private mutating func parseObject() throws -> JSONValue {
        let open = index
        index += 1
        var members: [(key: String, value: JSONValue)] = []
        while true {
            try skipWhitespaceAndComments()
            guard let c = current else { throw error("unterminated object (opened at \(error("", at: open).line):\(error("", at: open).column))") }
            if c == "}" { index += 1; return .object(members) }
            let keyStart = index
            let key: String
            if c == "\"" || c == "'" {
                key = try parseString()
            } else if let word = readIdentifier() {
                key = word
            } else {
                throw error("expected a key or '}', got \(Self.show(c))")
            }
            if members.contains(where: { $0.key == key }) { throw error("duplicate key '\(key)'", at: keyStart) }
            try skipWhitespaceAndComments()
            guard current == ":" else { throw error("expected ':' after key '\(key)'") }
            index += 1
            try skipWhitespaceAndComments()
            members.append((key, try parseValue()))
            try skipWhitespaceAndComments()
            if current == "," { index += 1; continue }
            if current == "}" { index += 1; return .object(members) }
            throw error(current == nil ? "unterminated object" : "expected ',' or '}' after the value of '\(clipped(key, 40))'")
        }
    }

    private mutating func parseArray() throws -> JSONValue {
        index += 1
        var items: [JSONValue] = []
        while true {
            try skipWhitespaceAndComments()
            guard let c = current else { throw error("unterminated array") }
            if c == "]" { index += 1; return .array(items) }
            items.append(try parseValue())
            try skipWhitespaceAndComments()
            if current == "," { index += 1; continue }
            if current == "]" { index += 1; return .array(items) }
            throw error(current == nil ? "unterminated array" : "expected ',' or ']' in the array")
        }
    }

    /// A character for a message: 'x', or U+0000 for an invisible one.
    static func show(_ c: Unicode.Scalar) -> String {
        c.value < 0x20 || c.value == 0x7F || (0x80..<0xA0).contains(c.value)
            ? String(format: "U+%04X", c.value) : "'\(c)'"
    }

    private static func isLineTerminator(_ c: Unicode.Scalar) -> Bool {
        c == "\n" || c == "\r" || c == "\u{2028}" || c == "\u{2029}"
    }

    /// JSON5 strings: single or double quotes; escapes \' \" \\ \b \f \n \r \t \v \0 \xHH \uHHHH (a
    /// surrogate pair as two), a backslash before a line terminator (LF, CR, CRLF, U+2028, U+2029)
    /// continues the line; other escaped characters stand for themselves, except digits. Raw
    /// newlines and carriage returns end nothing: they are errors, and so are raw control
    /// characters other than tab (a NUL in a suite file means it is not text).
    private mutating func parseString() throws -> String {
        let quote = scalars[index]
        let start = index
        index += 1
        var out = String.UnicodeScalarView()
        while true {
            guard let c = current else { throw error("unterminated string", at: start) }
            index += 1
            if c == quote { return String(out) }
            if c == "\n" || c == "\r" { throw error("line break inside a string (escape it with a backslash)") }
            if c.value < 0x20 && c != "\t" { throw error("raw control character \(Self.show(c)) inside a string (write it as an escape)") }
            guard c == "\\" else { out.append(c); continue }
            guard let e = current else { throw error("unterminated string", at: start) }
            index += 1
            switch e {
            case "n": out.append("\n")
            case "t": out.append("\t")
            case "r": out.append("\r")
            case "b": out.append("\u{8}")
            case "f": out.append("\u{C}")
            case "v": out.append("\u{B}")
            case "0":
                if let d = current, ("0"..."9").contains(d) { throw error("\\0 followed by a digit is not a JSON5 escape") }
                out.append("\0")
            case "1"..."9": throw error("\\\(e) is not a JSON5 escape")
            case "\r":
                if current == "\n" { index += 1 }  // CRLF continuation
            case "\n", "\u{2028}", "\u{2029}": break  // line continuation
            case "x":
                out.append(try hexScalar(digits: 2))
            case "u":
                let unit = try hexUnit()
                if (0xD800..<0xDC00).contains(unit) {
                    // A high surrogate: must pair with an escaped low surrogate.
                    guard index + 1 < scalars.count, scalars[index] == "\\", scalars[index + 1] == "u" else {
                        throw error("unpaired surrogate \\u\(String(unit, radix: 16, uppercase: true)) in a string")
                    }
                    index += 2
                    let low = try hexUnit()
                    guard (0xDC00..<0xE000).contains(low) else {
                        throw error("unpaired surrogate \\u\(String(unit, radix: 16, uppercase: true)) in a string")
                    }
                    out.append(Unicode.Scalar(0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00))!)
                } else if (0xDC00..<0xE000).contains(unit) {
                    throw error("unpaired surrogate \\u\(String(unit, radix: 16, uppercase: true)) in a string")
                } else {
                    out.append(Unicode.Scalar(unit)!)
                }
            default: out.append(e)
            }
        }
    }

    /// Four hex digits of a \u escape.
    private mutating func hexUnit() throws -> UInt32 {
        guard index + 4 <= scalars.count, scalars[index..<(index + 4)].allSatisfy(\.properties.isASCIIHexDigit),
              let v = UInt32(String(String.UnicodeScalarView(scalars[index..<(index + 4)])), radix: 16) else {
            throw error("bad \\u escape: expected four hexadecimal digits")
        }
        index += 4
        return v
    }

    private mutating func hexScalar(digits: Int) throws -> Unicode.Scalar {
        guard index + digits <= scalars.count, scalars[index..<(index + digits)].allSatisfy(\.properties.isASCIIHexDigit),
              let v = UInt32(String(String.UnicodeScalarView(scalars[index..<(index + digits)])), radix: 16),
              let scalar = Unicode.Scalar(v) else {
            throw error("bad \\x escape: expected two hexadecimal digits")
        }
        index += digits
        return scalar
    }

    private mutating func parseNumber() throws -> Double {
        let start = index
        var sign = 1.0
        if current == "-" || current == "+" { sign = current == "-" ? -1 : 1; index += 1 }
        if current == "I" || current == "N" {
            let word = readIdentifier()
            if word == "Infinity" { return sign * .infinity }
            if word == "NaN" { return .nan }
            throw error("bad number", at: start)
        }
        if current == "0", index + 1 < scalars.count, scalars[index + 1] == "x" || scalars[index + 1] == "X" {
            index += 2
            let digits = index
            while let c = current, c.properties.isASCIIHexDigit { index += 1 }
            guard index > digits, let v = UInt64(String(String.UnicodeScalarView(scalars[digits..<index])), radix: 16) else {
                throw error("bad hexadecimal number", at: start)
            }
            return sign * Double(v)
        }
        let body = index
        while let c = current, ("0"..."9").contains(c) || c == "." || c == "e" || c == "E"
                || ((c == "+" || c == "-") && index > body && (scalars[index - 1] == "e" || scalars[index - 1] == "E")) {
            index += 1
        }
        var text = String(String.UnicodeScalarView(scalars[body..<index]))
        if !text.contains(where: \.isNumber) {
            throw error("bad number '\(clipped(String(String.UnicodeScalarView(scalars[start..<index])), 30))'", at: start)
        }
        if text.count > 1, text.hasPrefix("0"), let second = text.dropFirst().first, second.isNumber {
            throw error("bad number '\(clipped(text, 30))': leading zeros are not allowed", at: start)
        }
        if text.hasPrefix(".") { text = "0" + text }
        if text.hasSuffix(".") { text += "0" }
        guard !text.isEmpty, let v = Double(text) else { throw error("bad number '\(clipped(text, 30))'", at: start) }
        return sign * v
    }
}
