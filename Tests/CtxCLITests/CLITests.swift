import Foundation
import Synchronization
import Testing
@testable import CtxCLI

/// Captures what a command writes.
final class CapturedIO: Sendable {
    private let outText = Mutex("")
    private let errText = Mutex("")
    var out: String { outText.withLock { $0 } }
    var err: String { errText.withLock { $0 } }
    var io: CommandIO {
        CommandIO(out: { text in self.outText.withLock { $0 += text } },
                  err: { text in self.errText.withLock { $0 += text } })
    }
}

func runCLI(_ arguments: [String]) -> (code: Int32, out: String, err: String) {
    let captured = CapturedIO()
    let code = CLI.main(arguments, io: captured.io)
    return (code, captured.out, captured.err)
}

@Suite struct UsageErrorTests {
    @Test(arguments: [
        (["frobnicate"], "error: unknown command 'frobnicate'. See 'ctxbench --help'."),
        (["calibrat"], "error: unknown command 'calibrat'. did you mean 'calibrate'? See 'ctxbench --help'."),
        (["help", "nope"], "error: unknown command 'nope'. See 'ctxbench --help'."),
        (["calibrate", "--thread", "2"], "error: unknown option '--thread' for 'ctxbench calibrate'. did you mean '--threads'? See 'ctxbench calibrate --help'."),
        (["calibrate", "--threads"], "error: option '--threads' needs a value <list>. See 'ctxbench calibrate --help'."),
        (["calibrate", "--threads", "two"], "error: option '--threads' expects an integer, got 'two'. See 'ctxbench calibrate --help'."),
        (["calibrate", "--threads", "1,,2"], "error: option '--threads' expects a comma-separated list of integers, got '1,,2'. See 'ctxbench calibrate --help'."),
        (["calibrate", "--threads", "0"], "error: option '--threads' expects an integer in 1...4096, got '0'. See 'ctxbench calibrate --help'."),
        (["calibrate", "--buffer-mib", "64"], "error: option '--buffer-mib' expects an integer in 512...1048576, got '64'. See 'ctxbench calibrate --help'."),
        (["calibrate", "--numa", "spread"], "error: option '--numa' expects one of none, distribute, isolate, got 'spread'. See 'ctxbench calibrate --help'."),
        (["calibrate", "--out", "x.json", "--no-save"], "error: '--out' and '--no-save' contradict each other. See 'ctxbench calibrate --help'."),
        (["platform", "extra"], "error: unexpected argument 'extra' for 'ctxbench platform'. See 'ctxbench platform --help'."),
        (["platform", "--json=yes"], "error: option '--json' takes no value. See 'ctxbench platform --help'."),
        (["gate", "--baseline", "a", "--candidate", "b", "--max-regression", "lots"], "error: option '--max-regression' expects a percentage such as 5% (or 0.05), got 'lots'. See 'ctxbench gate --help'."),
        (["gate", "--interleave", "--baseline-bin", "a", "ci"], "error: --interleave needs --baseline-bin and --candidate-bin (two ctxbench executables). See 'ctxbench gate --help'."),
        (["gate", "--baseline", "a", "--candidate", "b", "--rounds", "3"], "error: option '--rounds' needs --interleave. See 'ctxbench gate --help'."),
        (["gate", "--interleave", "--metric", "decode-latency", "--baseline-bin", "a", "--candidate-bin", "b", "ci"], "error: option '--metric' with --interleave expects rate or instructions, got 'decode-latency'. See 'ctxbench gate --help'."),
        (["gate", "--candidate", "b"], "error: gate needs --baseline DIR and --candidate DIR (run directories), or --interleave with two builds and a suite. See 'ctxbench gate --help'."),
        (["compare", "a"], "error: missing argument <candidate> for 'ctxbench compare'. See 'ctxbench compare --help'."),
        (["compare", "a", "b", "--normalize", "speed"], "error: option '--normalize' expects one of none, efficiency, got 'speed'. See 'ctxbench compare --help'."),
        (["import", "llama-perf", "x"], "error: unknown format 'llama-perf': expected llama-bench or batched-bench. See 'ctxbench import --help'."),
        (["report"], "error: missing argument <dir> for 'ctxbench report'. See 'ctxbench report --help'."),
        (["run", "--resume", "/nonexistent/ctxbench-run"], "error: --resume: '/nonexistent/ctxbench-run' is not a ctxbench run directory (no run.json). See 'ctxbench run --help'."),
        (["run", "--no-calibrate", "--fresh-calibration"], "error: '--fresh-calibration' and '--no-calibrate' contradict each other. See 'ctxbench run --help'."),
    ])
    func badCommandLinesExit64WithOneLine(arguments: [String], expected: String) {
        let result = runCLI(arguments)
        #expect(result.code == 64)
        #expect(result.out.isEmpty)
        #expect(result.err == expected + "\n")
    }
}

@Suite struct HelpTests {
    static let goldenDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden")

    /// Compares with Golden/<name>.txt. Run with CTXBENCH_UPDATE_GOLDEN=1 to rewrite the files after
    /// an intended change, then review the diff.
    func expectGolden(_ text: String, _ name: String) throws {
        let url = Self.goldenDirectory.appendingPathComponent(name + ".txt")
        if ProcessInfo.processInfo.environment["CTXBENCH_UPDATE_GOLDEN"] == "1" {
            try text.write(to: url, atomically: true, encoding: .utf8)
        }
        let golden = try String(contentsOf: url, encoding: .utf8)
        #expect(text == golden, "help for \(name) changed; see Golden/\(name).txt")
    }

    @Test func rootHelp() throws {
        let result = runCLI(["--help"])
        #expect(result.code == 0)
        try expectGolden(result.out, "root")
        #expect(runCLI([]).out == result.out)
        #expect(runCLI(["help"]).out == result.out)
    }

    @Test func everyCommandHasHelpInAllThreeSpellings() throws {
        for command in CLI.commands {
            let name = command.configuration.name
            let long = runCLI([name, "--help"])
            #expect(long.code == 0)
            #expect(runCLI([name, "-h"]).out == long.out)
            #expect(runCLI(["help", name]).out == long.out)
            try expectGolden(long.out, name)
        }
    }

    @Test func rootHelpListsExactlyTheCommandsThatExist() {
        let help = runCLI(["--help"]).out
        let listed = help.split(separator: "\n", omittingEmptySubsequences: false)
            .drop(while: { $0 != "COMMANDS:" }).dropFirst()
            .prefix(while: { !$0.isEmpty })
            .filter { $0.hasPrefix("  ") && !$0.hasPrefix("   ") }
            .map { String($0.split(separator: " ").first!) }
        #expect(listed == CLI.commands.map { $0.configuration.name } + ["help"])
    }

    @Test func version() {
        let result = runCLI(["--version"])
        #expect(result.code == 0)
        #expect(result.out == "ctxbench \(CLI.version)\n")
    }
}

@Suite struct PlatformCommandTests {
    @Test func jsonIsAPlatformFingerprint() throws {
        let result = runCLI(["platform", "--json"])
        #expect(result.code == 0)
        let object = try JSONSerialization.jsonObject(with: Data(result.out.utf8)) as? [String: Any]
        for key in ["cpuModel", "logicalCores", "physicalCores", "cpuFeatures", "caches", "numa",
                    "memoryTotalBytes", "operatingSystem", "kernel", "swiftCompiler", "buildConfiguration", "buildISA"] {
            #expect(object?[key] != nil, "missing \(key)")
        }
    }

    @Test func textNamesEveryPart() {
        let text = runCLI(["platform"]).out
        for label in ["cpu ", "cores", "cpu features", "caches", "numa", "memory", "os ", "swift", "build", "git commit"] {
            #expect(text.contains(label), "missing \(label)")
        }
    }
}
