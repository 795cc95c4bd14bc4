import Foundation

/// Instructions executed in the measured region of each repetition, counted by Valgrind's
/// callgrind: collection is off at start and toggled on inside `ctx_measured_region` (CPlatform),
/// through which the runner calls every measured repetition and nothing else, and a profile part
/// is dumped each time the region is left. Part i is then exactly repetition i's instructions, in
/// the order samples.jsonl records them. Counts depend on the binary and its inputs, not on the
/// host's load: the gate's metric for a shared CI machine.
///
/// Only single-threaded cells give repeatable counts: Valgrind runs one thread at a time, and a
/// worker spinning while it waits for work would be counted (and is 40x slower under Valgrind).
public enum InstructionCounter {
    public static let regionFunction = "ctx_measured_region"

    /// The valgrind executable, or nil when it is not installed.
    public static func valgrind() -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return path.split(separator: ":").map { "\($0)/valgrind" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// The command line that runs `executable arguments` under callgrind, its parts written to
    /// `outputPrefix`.N. Children are followed, so `executable` may be a wrapper script that execs
    /// ctxbench (as scripts/gate-reliability's slowed builds are), except the git the platform
    /// fingerprint runs.
    public static func arguments(outputPrefix: String, executable: String, arguments: [String]) -> [String] {
        ["--tool=callgrind", "--collect-atstart=no", "--toggle-collect=\(regionFunction)", "--dump-after=\(regionFunction)",
         "--trace-children=yes", "--trace-children-skip=*/env,*/git", "--callgrind-out-file=\(outputPrefix)", executable] + arguments
    }

    /// Why a build could not be counted, when valgrind met an instruction it cannot decode (its
    /// "vex amd64->IR: unhandled instruction bytes" line): valgrind decodes up to AVX2, so an
    /// AVX-512 build (CTXBENCH_MARCH=x86-64-v4 or native on such a CPU) dies of SIGILL under it.
    public static func undecodedInstruction(valgrindLog log: String) -> String? {
        guard let line = log.split(separator: "\n").first(where: { $0.contains("unhandled instruction bytes") }) else { return nil }
        return "valgrind cannot decode an instruction of this build (\(line.trimmingCharacters(in: .whitespaces))): "
            + "it decodes up to AVX2; count instructions with a build for x86-64-v3 (the default), not an AVX-512 one"
    }

    public struct Failure: Error, CustomStringConvertible {
        public let message: String
        public var description: String { message }
    }

    /// The instruction counts of the dumped parts `outputPrefix`.1, .2, ... in order.
    public static func counts(outputPrefix: String) throws -> [Double] {
        var counts: [Double] = []
        var part = 1
        while FileManager.default.fileExists(atPath: "\(outputPrefix).\(part)") {
            let path = "\(outputPrefix).\(part)"
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw Failure(message: "\(path): unreadable callgrind profile")
            }
            // "summary: N" (callgrind's format: the total of the events, here Ir alone).
            guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("summary:") }),
                  let value = Double(line.dropFirst("summary:".count).trimmingCharacters(in: .whitespaces)) else {
                throw Failure(message: "\(path): no 'summary:' line with an instruction count")
            }
            counts.append(value)
            part += 1
        }
        return counts
    }
}
