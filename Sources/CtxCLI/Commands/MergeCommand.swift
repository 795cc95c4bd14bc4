import CtxHarness
import Foundation

/// `ctxbench merge DIR... --out DIR`: shard run directories of one suite joined into one run.
struct MergeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        name: "merge",
        abstract: "Join the shard runs of one suite (run --shard i/n, one per machine) into one run directory.",
        discussion: """
        The shards must come from the same suite (content hash), the same build (version, git commit,
        compiler, configuration, ISA flags) and hardware of the same fingerprint (or
        --allow-hardware-mismatch, recorded in the merged run.json), and together hold every cell of
        the grid exactly once. Otherwise the merge is refused with every problem named (cells in two
        shards, cells in none with the unfinished shards to --resume, another suite or build) and
        nothing is written. Cells, samples, ops and ladder segments are carried over unchanged; the
        merged run.json lists the shards. Failed or refused cells are results too: they are merged and
        listed. --out must be new or empty: a merge never writes over a run.
        Exit status: 0 merged and every cell ok, 1 merged with failed cells, or refused.
        """,
        arguments: [ArgumentSpec("dir", help: "Shard run directories.", repeating: true)],
        options: [
            .value("--out", "dir", help: "The merged run directory (new or empty)."),
            .flag("--allow-hardware-mismatch", help: "Merge shards run on different hardware (recorded in run.json)."),
            .value("--platform", "name", help: "The platform's name in reports (a cluster partition, say).", note: "the CPU model and host of the first shard"),
        ]
    )

    let directories: [String]
    let out: String
    let allowHardwareMismatch: Bool
    let platform: String?
    let arguments: [String]

    init(parsed: ParsedArguments) throws {
        directories = parsed.positionals
        guard !directories.isEmpty else { throw UsageError("missing the shard run directories to merge") }
        guard let out = parsed.string("--out") else { throw UsageError("missing --out DIR, where the merged run goes") }
        self.out = out
        allowHardwareMismatch = parsed.flag("--allow-hardware-mismatch")
        platform = parsed.string("--platform")
        arguments = CommandLine.arguments
    }

    func run(io: CommandIO) throws -> Int32 {
        let merge = try ShardMerge(paths: directories, allowHardwareMismatch: allowHardwareMismatch)
        try merge.write(to: out, commandLine: arguments, platformName: platform)
        io.out("merged \(directories.count) shard(s), \(merge.cells.count) cells, into \(out)\n")
        if !merge.failed.isEmpty {
            io.err("\(merge.failed.count) cell(s) did not succeed:\n"
                   + merge.failed.map { "  \($0.cellID): \($0.status.rawValue): \($0.error ?? "")\n" }.joined())
            return ExitCode.failure
        }
        return ExitCode.success
    }
}
