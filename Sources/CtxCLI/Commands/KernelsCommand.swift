import CtxEngine
import CtxHarness
import Foundation

/// `ctxbench kernels`: GEMV and GEMM microbenchmarks per weight type, as fractions of limits
/// calibrated in the same run.
struct KernelsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        name: "kernels",
        abstract: "Benchmark GEMV and GEMM per weight type against this machine's calibrated limits.",
        discussion: """
        A shape RxC is a GEMV (one token: R rows, C columns); TxRxC is a GEMM (T tokens). GEMV cycles
        over enough copies of the matrix to exceed 4x the last-level cache, so it reads from DRAM, and
        each GEMV sample alternates with the calibration read kernel over the same bytes: "% of read"
        compares the two. DRAM read bandwidth and FMA peak are calibrated first, at the same thread
        count; GEMM's "% FMA peak" is against that.
        """,
        options: [
            .value("--types", "list", help: "Weight types, comma-separated.", default: DType.weightTypes.map(\.rawValue).joined(separator: ",")),
            .value("--shapes", "list", help: "Shapes, comma-separated.", default: "4096x4096,512x2048x2048"),
            .value("--threads", "n", help: "Threads.", note: "all logical CPUs"),
            .value("--seconds", "s", help: "Minimum measuring time per case.", default: "0.5"),
            .flag("--cache-resident", help: "GEMV on one matrix, from cache: the kernel's compute speed, not DRAM's."),
            .flag("--json", help: "Print JSON instead of a table."),
        ]
    )

    struct Options {
        var types: [DType]
        var shapes: [KernelShape]
        var threads: Int
        var seconds: Double
        var cacheResident: Bool
        var json: Bool
    }

    let options: Options

    init(parsed: ParsedArguments) throws {
        let typeNames = try parsed.stringList("--types")!
        let types = try typeNames.map { name -> DType in
            guard let type = DType(name: name), type.weightFormat != nil else {
                let valid = DType.weightTypes.map(\.rawValue).joined(separator: ", ")
                throw UsageError("option '--types' expects weight types (\(valid)), got '\(name)'")
            }
            return type
        }
        let shapeTexts = try parsed.stringList("--shapes")!
        let shapes = try shapeTexts.map { text -> KernelShape in
            guard let shape = KernelShape(parsing: text) else {
                throw UsageError("option '--shapes' expects RxC or TxRxC with positive integers, got '\(text)'")
            }
            return shape
        }
        options = Options(types: types, shapes: shapes,
                          threads: try parsed.int("--threads", in: 1...4096) ?? ProcessInfo.processInfo.activeProcessorCount,
                          seconds: try parsed.double("--seconds", in: 0.01...600)!,
                          cacheResident: parsed.flag("--cache-resident"), json: parsed.flag("--json"))
    }

    func validate() throws {
        for shape in options.shapes {
            for type in options.types where shape.cols % type.blockValues != 0 {
                throw UsageError("shape \(shape) has \(shape.cols) columns, not a multiple of \(type.rawValue)'s block of \(type.blockValues)")
            }
        }
    }

    func run(io: CommandIO) throws -> Int32 {
        let platform = PlatformInfo.probe()
        let placement = try ThreadPlacement.plan(threads: options.threads, policy: .none, topology: platform.numa,
                                                 startCPU: CPUAffinity.currentCPU())
        let pool = ThreadPool(threads: options.threads, placement: placement)
        let llc = platform.caches.filter { $0.type != "Instruction" }.map(\.sizeBytes).max() ?? (32 << 20)
        var benchmark = KernelBenchmark(types: options.types, shapes: options.shapes, threads: options.threads,
                                        lastLevelCacheBytes: llc)
        benchmark.minimumSeconds = options.seconds
        benchmark.cacheResident = options.cacheResident
        let results = try benchmark.run(pool: pool) { line in
            if !options.json { io.err(line + "\n") }
        }
        if options.json {
            struct Report: Encodable { let platform: PlatformInfo; let results: [KernelResult] }
            io.out(String(decoding: try JSONFormat.encode(Report(platform: platform, results: results)), as: UTF8.self) + "\n")
        } else {
            io.out(Self.table(results, threads: options.threads))
        }
        return ExitCode.success
    }

    static func table(_ results: [KernelResult], threads: Int) -> String {
        var lines = [
            "\(threads) threads. Each kernel against its own limit, probed next to it: GEMV against the read kernel over the",
            "same bytes, GEMM against an FMA burst after every sample.",
            "",
            "| kernel | type | shape | time | weight GB/s | GFLOP/s | read GB/s (same bytes) | % of read | FMA GFLOP/s (beside) | % FMA peak |",
            "|---|---|---|--:|--:|--:|--:|--:|--:|--:|",
        ]
        func figure(_ v: Double?, _ format: String) -> String { v.map { String(format: format, $0) } ?? "-" }
        for r in results {
            let time = r.medianNanoseconds >= 1e6 ? String(format: "%.2f ms", r.medianNanoseconds / 1e6)
                                                   : String(format: "%.1f us", r.medianNanoseconds / 1e3)
            lines.append("| \(r.kernel) | \(r.type.rawValue) | \(r.shape.description) | \(time) | "
                         + String(format: "%.1f | %.1f | ", r.weightGBps, r.gflops)
                         + "\(figure(r.referenceReadGBps, "%.1f")) | \(figure(r.fractionOfReadBandwidth.map { $0 * 100 }, "%.0f%%")) | "
                         + "\(figure(r.referenceFMAGFLOPs, "%.1f")) | \(figure(r.fractionOfFMAPeak.map { $0 * 100 }, "%.0f%%")) |")
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
