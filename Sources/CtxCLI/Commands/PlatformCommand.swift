import CtxEngine
import CtxHarness
import Foundation

/// `ctxbench platform`: the fingerprint every result file embeds.
struct PlatformCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        name: "platform",
        abstract: "Show the platform fingerprint: CPU, ISA, caches, NUMA, memory, OS and build.",
        options: [.flag("--json", help: "Print JSON instead of text.")]
    )

    struct Options {
        var json: Bool
    }

    let options: Options

    init(parsed: ParsedArguments) throws {
        options = Options(json: parsed.flag("--json"))
    }

    func run(io: CommandIO) throws -> Int32 {
        let info = PlatformInfo.probe()
        if options.json {
            io.out(String(decoding: try JSONFormat.encode(info), as: UTF8.self) + "\n")
        } else {
            io.out(Self.describe(info))
        }
        return ExitCode.success
    }

    static func describe(_ info: PlatformInfo) -> String {
        func gib(_ bytes: UInt64) -> String { String(format: "%.1f GiB", Double(bytes) / 1_073_741_824) }
        func size(_ bytes: Int) -> String {
            bytes >= 1 << 20 ? "\(bytes >> 20) MiB" : "\(bytes >> 10) KiB"
        }
        var lines: [String] = []
        func add(_ key: String, _ value: String) {
            lines.append(key.padding(toLength: 20, withPad: " ", startingAt: 0) + value)
        }
        add("host", info.hostname)
        add("cpu", "\(info.cpuModel) (\(info.architecture))")
        add("cores", "\(info.logicalCores) logical, \(info.physicalCores) physical")
        add("cpu features", info.cpuFeatures.isEmpty ? "none detected" : info.cpuFeatures.joined(separator: " "))
        let caches = info.caches.map { cache in
            let kind = cache.type == "Data" ? "d" : cache.type == "Instruction" ? "i" : ""
            return "L\(cache.level)\(kind) \(size(cache.sizeBytes))" + (cache.sharedByCPUs > 1 ? " (shared by \(cache.sharedByCPUs))" : "")
        }
        add("caches", caches.isEmpty ? "unknown" : caches.joined(separator: ", "))
        if info.numa.available {
            add("numa", "\(info.numa.nodes.count) node(s)")
            for node in info.numa.nodes {
                add("  node \(node.id)", "cpus \(node.cpus.map(String.init).joined(separator: ",")); \(gib(node.memoryBytes)) (\(gib(node.freeBytes)) free)")
            }
        } else {
            add("numa", "unavailable (libnuma missing or no kernel support); one pseudo-node with cpus \(info.numa.allCPUs.count)")
        }
        add("memory", "\(gib(info.memoryTotalBytes)) total, " + (info.memoryAvailableBytes > 0 ? "\(gib(info.memoryAvailableBytes)) available" : "available unknown"))
        add("os", "\(info.operatingSystem), kernel \(info.kernel)")
        add("swift", info.swiftCompiler)
        add("build", "\(info.buildConfiguration), isa: \(info.buildISA.isEmpty ? "baseline" : info.buildISA.joined(separator: " "))")
        add("git commit", info.gitCommit ?? "unknown")
        add("hardware key", info.hardwareKey)
        return lines.joined(separator: "\n") + "\n"
    }
}
