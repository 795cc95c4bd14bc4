import CtxEngine
import CtxHarness
import Foundation

/// `ctxbench calibrate`: the machine's own limits, against which every later rate is a fraction.
struct CalibrateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        name: "calibrate",
        abstract: "Measure DRAM read, copy and cache bandwidth and FP32 FMA peak with the engine's thread pool.",
        discussion: """
        Each measurement is repeated and printed as min / median / max. The result is saved so that
        later runs report efficiency as a fraction of these limits.
        """,
        options: [
            .value("--threads", "list", help: "Thread counts to measure, comma-separated.", note: "1 and all logical CPUs"),
            .choice("--numa", NumaPolicy.self, help: "Thread and memory placement.", default: .none),
            .value("--repetitions", "n", help: "Repetitions of each measurement.", default: "5"),
            .value("--buffer-mib", "n", help: "DRAM test buffer in MiB (at least 512).", default: "1024"),
            .value("--out", "path", help: "Where to save the calibration.", note: "results/calibration/<host>.json"),
            .flag("--no-save", help: "Do not save the calibration."),
            .flag("--json", help: "Print JSON instead of a table."),
        ]
    )

    struct Options {
        var threads: [Int]
        var numa: NumaPolicy
        var repetitions: Int
        var bufferMiB: Int
        var out: String?
        var save: Bool
        var json: Bool
    }

    let options: Options

    init(parsed: ParsedArguments) throws {
        let cpus = ProcessInfo.processInfo.activeProcessorCount
        let threads = try parsed.intList("--threads", in: 1...4096) ?? (cpus > 1 ? [1, cpus] : [1])
        options = Options(
            threads: threads,
            numa: try parsed.choice("--numa", as: NumaPolicy.self)!,
            repetitions: try parsed.int("--repetitions", in: 1...1000)!,
            bufferMiB: try parsed.int("--buffer-mib", in: 512...1_048_576)!,
            out: parsed.string("--out"),
            save: !parsed.flag("--no-save"),
            json: parsed.flag("--json")
        )
    }

    func validate() throws {
        if options.out != nil && !options.save {
            throw UsageError("'--out' and '--no-save' contradict each other")
        }
    }

    func run(io: CommandIO) throws -> Int32 {
        let platform = PlatformInfo.probe()
        var calibrator = Calibrator()
        calibrator.repetitions = options.repetitions
        calibrator.dramBufferBytes = options.bufferMiB << 20
        calibrator.numaPolicy = options.numa
        if let l2 = platform.caches.first(where: { $0.level == 2 && $0.type != "Instruction" }) {
            // Half of one core's L2: resident, with room for the stack and the pool's own lines.
            calibrator.cacheBufferBytesPerThread = max(16 << 10, l2.sizeBytes / max(l2.sharedByCPUs, 1) / 2)
        }
        let calibration = try calibrator.calibrate(threadCounts: options.threads, platform: platform) { line in
            if !options.json { io.err(line + "\n") }
        }
        if options.save {
            let path = options.out ?? CalibrationStore.defaultPath(host: platform.hostname)
            try CalibrationStore.save(calibration, to: path)
            if !options.json { io.err("saved \(path)\n") }
        }
        if options.json {
            io.out(String(decoding: try JSONFormat.encode(calibration), as: UTF8.self) + "\n")
        } else {
            io.out(Self.table(calibration))
        }
        return ExitCode.success
    }

    static func table(_ calibration: Calibration) -> String {
        func spread(_ s: Spread) -> String { String(format: "%.1f / %.1f / %.1f", s.min, s.median, s.max) }
        var lines = [
            "calibration: \(calibration.platform.cpuModel), NUMA \(calibration.numaPolicy.rawValue), " +
            "DRAM buffer \(calibration.dramBufferBytes >> 20) MiB, cache buffer \(calibration.cacheBufferBytesPerThread >> 10) KiB/thread, " +
            "\(calibration.repetitions) repetitions (min / median / max)",
            "",
            "| threads | DRAM read GB/s | copy GB/s (r+w) | cache read GB/s | FMA GFLOP/s | fork/join us |",
            "|--:|--:|--:|--:|--:|--:|",
        ]
        for limits in calibration.limits {
            lines.append("| \(limits.threads) | \(spread(limits.dramReadGBps)) | \(spread(limits.copyGBps)) | " +
                         "\(spread(limits.cacheReadGBps)) | \(spread(limits.fmaGFLOPs)) | " +
                         String(format: "%.2f", limits.forkJoinMicroseconds) + " |")
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
