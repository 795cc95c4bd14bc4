/// A command line split into options and positionals against a `CommandConfiguration`, with
/// typed accessors that throw `UsageError` naming the option and what it expected.
public struct ParsedArguments: Sendable {
    public let command: String
    public private(set) var flags: Set<String> = []
    public private(set) var values: [String: String] = [:]
    public private(set) var positionals: [String] = []
    /// Declared defaults of the options (OptionSpec.defaultValue), used when one is absent.
    private var defaults: [String: String] = [:]

    /// Parses `arguments` (without the command name). Accepts `--name value`, `--name=value`,
    /// flags, and `--` to end options. `-h`/`--help` are handled before this.
    public init(_ arguments: [String], configuration: CommandConfiguration) throws {
        command = configuration.name
        let specs = Dictionary(configuration.options.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        var index = 0
        var optionsEnded = false
        while index < arguments.count {
            let token = arguments[index]
            index += 1
            if optionsEnded || !token.hasPrefix("-") || token == "-" || Self.isNumber(token) {
                positionals.append(token)
                continue
            }
            if token == "--" {
                optionsEnded = true
                continue
            }
            var name = token
            var inlineValue: String?
            if let equals = token.firstIndex(of: "=") {
                name = String(token[..<equals])
                inlineValue = String(token[token.index(after: equals)...])
            }
            guard let spec = specs[name] else {
                let suggestion = Self.closest(to: name, in: configuration.options.map(\.name))
                throw UsageError("unknown option '\(name)' for 'ctxbench \(configuration.name)'",
                                 hint: suggestion.map { "did you mean '\($0)'?" })
            }
            if spec.valueName == nil {
                if inlineValue != nil { throw UsageError("option '\(name)' takes no value") }
                flags.insert(name)
            } else if let inlineValue {
                values[name] = inlineValue
            } else {
                guard index < arguments.count, !arguments[index].hasPrefix("--") else {
                    throw UsageError("option '\(name)' needs a value <\(spec.valueName!)>")
                }
                values[name] = arguments[index]
                index += 1
            }
        }
        for spec in configuration.options where spec.isRequired && values[spec.name] == nil && !flags.contains(spec.name) {
            throw UsageError("missing \(spec.name) <\(spec.valueName ?? "value")>")
        }
        for spec in configuration.options { if let value = spec.defaultValue { defaults[spec.name] = value } }
        let required = configuration.arguments.filter { !$0.isOptional }.count
        let repeating = configuration.arguments.contains { $0.isRepeating }
        if positionals.count < required {
            let missing = configuration.arguments[positionals.count]
            throw UsageError("missing argument <\(missing.name)> for 'ctxbench \(configuration.name)'")
        }
        if !repeating && positionals.count > configuration.arguments.count {
            throw UsageError("unexpected argument '\(positionals[configuration.arguments.count])' for 'ctxbench \(configuration.name)'")
        }
    }

    public func flag(_ name: String) -> Bool { flags.contains(name) }

    /// The option's value, or its declared default.
    public func string(_ name: String) -> String? { values[name] ?? defaults[name] }

    /// Whether the option was given on the command line (not defaulted).
    public func isGiven(_ name: String) -> Bool { values[name] != nil }

    public func int(_ name: String, in range: ClosedRange<Int>? = nil) throws -> Int? {
        guard let text = string(name) else { return nil }
        return try Self.parseInt(text, option: name, range: range)
    }

    public func double(_ name: String, in range: ClosedRange<Double>? = nil) throws -> Double? {
        guard let text = string(name) else { return nil }
        guard let value = Double(text), value.isFinite else {
            throw UsageError("option '\(name)' expects a number, got '\(text)'")
        }
        if let range, !range.contains(value) {
            throw UsageError("option '\(name)' expects a number in \(range.lowerBound)...\(range.upperBound), got '\(text)'")
        }
        return value
    }

    /// A comma-separated list of integers ("1,2,4").
    public func intList(_ name: String, in range: ClosedRange<Int>? = nil) throws -> [Int]? {
        guard let text = string(name) else { return nil }
        let parts = text.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        guard !parts.isEmpty, !parts.contains(where: \.isEmpty) else {
            throw UsageError("option '\(name)' expects a comma-separated list of integers, got '\(text)'")
        }
        return try parts.map { try Self.parseInt($0, option: name, range: range) }
    }

    /// A comma-separated list of strings ("f16,q8_0").
    public func stringList(_ name: String) throws -> [String]? {
        guard let text = string(name) else { return nil }
        let parts = text.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        guard !parts.contains(where: \.isEmpty) else {
            throw UsageError("option '\(name)' expects a comma-separated list, got '\(text)'")
        }
        return parts
    }

    public func choice<E: CaseIterable & RawRepresentable>(_ name: String, as type: E.Type) throws -> E? where E.RawValue == String {
        guard let text = string(name) else { return nil }
        guard let value = E(rawValue: text) else {
            let allowed = E.allCases.map(\.rawValue).joined(separator: ", ")
            throw UsageError("option '\(name)' expects one of \(allowed), got '\(text)'")
        }
        return value
    }

    static func parseInt(_ text: String, option: String, range: ClosedRange<Int>?) throws -> Int {
        guard let value = Int(text.trimmingCharacters(in: .whitespaces)) else {
            throw UsageError("option '\(option)' expects an integer, got '\(text)'")
        }
        if let range, !range.contains(value) {
            throw UsageError("option '\(option)' expects an integer in \(range.lowerBound)...\(range.upperBound), got '\(text)'")
        }
        return value
    }

    static func isNumber(_ token: String) -> Bool { Double(token) != nil }

    /// The candidate within edit distance 3 of `name` (and less than half its length, so that
    /// "nope" does not suggest "gate"), for "did you mean" hints.
    static func closest(to name: String, in candidates: [String]) -> String? {
        candidates
            .map { ($0, editDistance(name, $0)) }
            .filter { $0.1 <= min(3, (name.count - 1) / 2) }
            .min { $0.1 < $1.1 }?.0
    }

    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        for i in 1...a.count {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }
}
