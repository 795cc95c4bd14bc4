/// A named option of a command. `valueName == nil` makes it a flag. Its default is declared here
/// once: `defaultValue` is what parsing returns when the option is absent (and help shows);
/// `defaultDescription` alone (without a value) describes a default the command computes, such
/// as "all logical CPUs". A `required` option must be given (help shows it without brackets).
public struct OptionSpec: Sendable {
    public let name: String
    public let valueName: String?
    public let help: String
    public let defaultDescription: String?
    public let defaultValue: String?
    public let isRequired: Bool

    public static func flag(_ name: String, help: String) -> OptionSpec {
        OptionSpec(name: name, valueName: nil, help: help, defaultDescription: nil, defaultValue: nil, isRequired: false)
    }

    /// `default`: the value used when the option is absent; `note`: a computed default, described.
    public static func value(_ name: String, _ valueName: String, help: String, default: String? = nil, note: String? = nil,
                             required: Bool = false) -> OptionSpec {
        OptionSpec(name: name, valueName: valueName, help: help, defaultDescription: `default` ?? note, defaultValue: `default`,
                   isRequired: required)
    }

    /// A value that must be one of a closed set: help lists the choices.
    public static func choice<E: CaseIterable & RawRepresentable>(_ name: String, _ type: E.Type, help: String,
                                                                   default: E) -> OptionSpec where E.RawValue == String {
        let values = E.allCases.map(\.rawValue).joined(separator: "|")
        return OptionSpec(name: name, valueName: values, help: help, defaultDescription: `default`.rawValue,
                          defaultValue: `default`.rawValue, isRequired: false)
    }
}

/// A positional argument.
public struct ArgumentSpec: Sendable {
    public let name: String
    public let help: String
    public let isOptional: Bool
    public let isRepeating: Bool

    public init(_ name: String, help: String, optional: Bool = false, repeating: Bool = false) {
        self.name = name
        self.help = help
        self.isOptional = optional
        self.isRepeating = repeating
    }
}

/// What a subcommand is called and accepts; help text and parsing both come from this.
public struct CommandConfiguration: Sendable {
    public let name: String
    public let abstract: String
    public let discussion: String?
    public let arguments: [ArgumentSpec]
    public let options: [OptionSpec]

    public init(name: String, abstract: String, discussion: String? = nil,
                arguments: [ArgumentSpec] = [], options: [OptionSpec] = []) {
        self.name = name
        self.abstract = abstract
        self.discussion = discussion
        self.arguments = arguments
        self.options = options
    }
}

/// Where a command writes. Tests capture both streams; the executable uses stdout and stderr.
public struct CommandIO: Sendable {
    public var out: @Sendable (String) -> Void
    public var err: @Sendable (String) -> Void
    /// True when stderr is a terminal (progress is shown by default only then).
    public var stderrIsTerminal: Bool

    public init(out: @escaping @Sendable (String) -> Void, err: @escaping @Sendable (String) -> Void,
                stderrIsTerminal: Bool = false) {
        self.out = out
        self.err = err
        self.stderrIsTerminal = stderrIsTerminal
    }
}

/// One subcommand: a static configuration, an options struct filled from the parsed command line,
/// `validate()` for checks across options, and `run()` returning the process exit code.
public protocol ParsableCommand {
    static var configuration: CommandConfiguration { get }
    init(parsed: ParsedArguments) throws
    func validate() throws
    func run(io: CommandIO) throws -> Int32
}

extension ParsableCommand {
    public func validate() throws {}
}

/// Process exit codes. 64 is EX_USAGE from sysexits.h; `gate` adds its own outcomes.
public enum ExitCode {
    public static let success: Int32 = 0
    public static let failure: Int32 = 1
    public static let usage: Int32 = 64
}

/// A bad command line: one line naming the problem, and a hint.
public struct UsageError: Error, Equatable, CustomStringConvertible {
    public let message: String
    public let hint: String?

    public init(_ message: String, hint: String? = nil) {
        self.message = message
        self.hint = hint
    }

    public var description: String { message }
}
