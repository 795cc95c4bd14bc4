import CtxEngine
import CtxHarness
import Foundation

/// Entry point: finds the subcommand, handles help and version, parses, validates, runs, and maps
/// every failure to an exit code with one clear line on stderr.
public enum CLI {
    public static let version = BuildInfo.version

    /// Every subcommand, in the order help lists them. Only commands that exist are listed.
    public static var commands: [any ParsableCommand.Type] { [
        RunCommand.self,
        ValidateCommand.self,
        ReportCommand.self,
        CompareCommand.self,
        GateCommand.self,
        ImportCommand.self,
        MergeCommand.self,
        PlatformCommand.self,
        CalibrateCommand.self,
        KernelsCommand.self,
        ModelsCommand.self,
        EngineCommand.self,
        LogitsCommand.self,
    ] }

    public static func command(named name: String) -> (any ParsableCommand.Type)? {
        commands.first { $0.configuration.name == name }
    }

    /// Runs a command line (without the program name) and returns the exit code.
    public static func main(_ arguments: [String], io: CommandIO) -> Int32 {
        guard let first = arguments.first else {
            io.out(HelpFormatter.rootHelp(commands: commands))
            return ExitCode.success
        }
        switch first {
        case "-h", "--help":
            io.out(HelpFormatter.rootHelp(commands: commands))
            return ExitCode.success
        case "--version":
            io.out("ctxbench \(version)\n")
            return ExitCode.success
        case "help":
            guard arguments.count > 1 else {
                io.out(HelpFormatter.rootHelp(commands: commands))
                return ExitCode.success
            }
            guard let command = command(named: arguments[1]) else {
                return usageFailure(unknownCommand(arguments[1]), io: io)
            }
            io.out(HelpFormatter.help(for: command.configuration))
            return ExitCode.success
        default:
            break
        }
        guard let type = command(named: first) else {
            return usageFailure(unknownCommand(first), io: io)
        }
        let rest = Array(arguments.dropFirst())
        if rest.contains("-h") || rest.contains("--help") {
            io.out(HelpFormatter.help(for: type.configuration))
            return ExitCode.success
        }
        do {
            try checkTuningEnvironment()
            let parsed = try ParsedArguments(rest, configuration: type.configuration)
            let command = try type.init(parsed: parsed)
            try command.validate()
            return try command.run(io: io)
        } catch let error as UsageError {
            return usageFailure(error, io: io, command: type.configuration.name)
        } catch {
            io.err("error: \(describe(error))\n")
            return ExitCode.failure
        }
    }

    /// Environment variables the engine reads where it cannot report a bad value itself.
    static func checkTuningEnvironment() throws {
        let name = Prefetch.regroupedDistanceVariable
        if let text = ProcessInfo.processInfo.environment[name], Prefetch.regroupedDistanceOverride == nil {
            throw UsageError("\(name) must be a byte count from 0 to 65536 (0: no software prefetch in the regrouped decode GEMVs), got '\(text)'")
        }
    }

    /// One line for an error: ctxbench's own errors say what they are; a system error is reduced
    /// to the system's reason, never a raw NSError dump.
    static func describe(_ error: Error) -> String {
        let ns = error as NSError
        if ns.domain == NSCocoaErrorDomain || ns.domain == NSPOSIXErrorDomain { return FileError.reason(error) }
        return "\(error)"
    }

    static func unknownCommand(_ name: String) -> UsageError {
        let names = commands.map { $0.configuration.name } + ["help"]
        return UsageError("unknown command '\(name)'",
                          hint: ParsedArguments.closest(to: name, in: names).map { "did you mean '\($0)'?" })
    }

    static func usageFailure(_ error: UsageError, io: CommandIO, command: String? = nil) -> Int32 {
        let see = command.map { "See 'ctxbench \($0) --help'." } ?? "See 'ctxbench --help'."
        io.err("error: \(error.message). " + (error.hint.map { $0 + " " } ?? "") + see + "\n")
        return ExitCode.usage
    }
}
