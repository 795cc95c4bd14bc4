import CtxEngine
import CPlatform
import Foundation

/// The platform fingerprint: what the machine is and how ctxbench was built. Every result file
/// embeds one, and `gate` refuses to compare runs whose `hardwareKey` differs.
public struct PlatformInfo: Codable, Sendable, Equatable {
    public struct Cache: Codable, Sendable, Equatable {
        /// 1, 2, 3...
        public var level: Int
        /// "Data", "Instruction" or "Unified".
        public var type: String
        public var sizeBytes: Int
        /// How many logical CPUs share one instance (1 for private caches).
        public var sharedByCPUs: Int
    }

    public var hostname: String
    public var cpuModel: String
    public var architecture: String
    public var logicalCores: Int
    public var physicalCores: Int
    /// ISA extensions the CPU reports (avx2, fma, f16c, avx512f, neon, dotprod, ...).
    public var cpuFeatures: [String]
    public var caches: [Cache]
    public var numa: NumaTopology
    public var memoryTotalBytes: UInt64
    public var memoryAvailableBytes: UInt64
    public var operatingSystem: String
    public var kernel: String
    /// The Swift compiler that built this binary ("6.3"), from `#if compiler(...)`.
    public var swiftCompiler: String
    /// "release" or "debug".
    public var buildConfiguration: String
    /// ISA extensions the build enabled (what the compiler may use), read from C predefined macros.
    public var buildISA: [String]
    /// The ctxbench git commit ("abc1234", "+dirty" when the tree had changes), if known.
    public var gitCommit: String?

    /// What must match for two runs to be comparable as "the same hardware": CPU, core count,
    /// memory size (GiB) and NUMA node count. Not hostname, OS or build.
    public var hardwareKey: String {
        let gib = (Double(memoryTotalBytes) / 1_073_741_824).rounded()
        return "\(cpuModel) | \(architecture) | \(logicalCores) cpus | \(Int(gib)) GiB | \(numa.nodes.count) numa"
    }
}

extension PlatformInfo {
    /// A platform ctxbench did not probe (an imported run): every field unknown.
    public static let unknown = PlatformInfo(
        hostname: "unknown", cpuModel: "unknown", architecture: "unknown", logicalCores: 0, physicalCores: 0,
        cpuFeatures: [], caches: [], numa: NumaTopology(available: false, nodes: []), memoryTotalBytes: 0,
        memoryAvailableBytes: 0, operatingSystem: "unknown", kernel: "unknown", swiftCompiler: "unknown",
        buildConfiguration: "unknown", buildISA: [], gitCommit: nil)

    /// Probes this machine. Costs a few milliseconds (reads /proc and /sys, runs `git` once).
    public static func probe() -> PlatformInfo {
        let numa = NumaTopology.current()
        let logical = ProcessInfo.processInfo.activeProcessorCount
        #if os(Linux)
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let meminfo = (try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8)) ?? ""
        let model = LinuxProbe.cpuModel(cpuinfo: cpuinfo)
        let features = LinuxProbe.features(cpuinfo: cpuinfo)
        let caches = LinuxProbe.caches()
        let physical = LinuxProbe.physicalCores() ?? logical
        let total = LinuxProbe.meminfoBytes(meminfo, key: "MemTotal") ?? ProcessInfo.processInfo.physicalMemory
        let available = LinuxProbe.meminfoBytes(meminfo, key: "MemAvailable") ?? 0
        let os = LinuxProbe.osRelease()
        #else
        let model = DarwinProbe.string("machdep.cpu.brand_string") ?? "unknown"
        let features = DarwinProbe.features()
        let caches = DarwinProbe.caches()
        let physical = DarwinProbe.int("hw.physicalcpu") ?? logical
        let total = ProcessInfo.processInfo.physicalMemory
        let available: UInt64 = 0  // macOS: would need host_statistics64; reported as unknown (0)
        let os = "macOS " + ProcessInfo.processInfo.operatingSystemVersionString
        #endif
        var name = utsname()
        uname(&name)
        let release = withUnsafeBytes(of: &name.release) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
        let machine = withUnsafeBytes(of: &name.machine) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
        return PlatformInfo(
            hostname: ProcessInfo.processInfo.hostName,
            cpuModel: model,
            architecture: machine,
            logicalCores: logical,
            physicalCores: physical,
            cpuFeatures: features,
            caches: caches,
            numa: numa,
            memoryTotalBytes: total,
            memoryAvailableBytes: available,
            operatingSystem: os,
            kernel: release,
            swiftCompiler: BuildInfo.swiftCompiler,
            buildConfiguration: BuildInfo.configuration,
            buildISA: BuildInfo.isaFeatures,
            gitCommit: BuildInfo.gitCommit()
        )
    }

    /// Bytes of memory available now (MemAvailable on Linux); 0 when unknown.
    public static func availableMemoryBytes() -> UInt64 {
        #if os(Linux)
        let meminfo = (try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8)) ?? ""
        return LinuxProbe.meminfoBytes(meminfo, key: "MemAvailable") ?? 0
        #else
        return 0
        #endif
    }
}

/// Facts fixed when this binary was compiled.
public enum BuildInfo {
    public static let version = "0.1.0"

    public static var configuration: String {
        #if DEBUG
        "debug"
        #else
        "release"
        #endif
    }

    public static var swiftCompiler: String {
        #if compiler(>=7.0)
        ">=7.0"
        #elseif compiler(>=6.4)
        "6.4"
        #elseif compiler(>=6.3)
        "6.3"
        #elseif compiler(>=6.2)
        "6.2"
        #elseif compiler(>=6.1)
        "6.1"
        #else
        "6.0"
        #endif
    }

    /// ISA extensions enabled at compile time (the -march in Package.swift, or CTXBENCH_MARCH).
    public static var isaFeatures: [String] {
        let mask = Int(ctx_build_isa_features())
        let names: [(mask: Int, name: String)] = [
            (Int(CTX_BUILD_SSE42), "sse4.2"), (Int(CTX_BUILD_AVX), "avx"), (Int(CTX_BUILD_AVX2), "avx2"),
            (Int(CTX_BUILD_FMA), "fma"), (Int(CTX_BUILD_F16C), "f16c"), (Int(CTX_BUILD_AVX512F), "avx512f"),
            (Int(CTX_BUILD_AVX512BW), "avx512bw"), (Int(CTX_BUILD_AVX512VNNI), "avx512vnni"),
            (Int(CTX_BUILD_NEON), "neon"), (Int(CTX_BUILD_DOTPROD), "dotprod"), (Int(CTX_BUILD_FP16), "fp16"),
            (Int(CTX_BUILD_SVE), "sve"),
        ]
        return names.filter { mask & $0.mask != 0 }.map(\.name)
    }

    /// The git commit of the ctxbench checkout this binary was built from: `CTXBENCH_GIT_COMMIT` if
    /// set (scripts/ctxbench sets it), otherwise `git` run in the package directory found above the
    /// executable. nil when neither works (a copied binary, no git).
    public static func gitCommit() -> String? {
        if let fromEnvironment = ProcessInfo.processInfo.environment["CTXBENCH_GIT_COMMIT"],
           !fromEnvironment.isEmpty {
            return fromEnvironment
        }
        guard let root = packageRoot() else { return nil }
        guard let head = runGit(["-C", root, "rev-parse", "--short=12", "HEAD"]), !head.isEmpty else { return nil }
        let status = runGit(["-C", root, "status", "--porcelain", "--untracked-files=no"]) ?? ""
        return status.isEmpty ? head : head + "+dirty"
    }

    private static func packageRoot() -> String? {
        var url = URL(fileURLWithPath: CommandLine.arguments.first ?? "").resolvingSymlinksInPath()
        for _ in 0..<6 {
            url.deleteLastPathComponent()
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) {
                return url.path
            }
        }
        return nil
    }

    private static func runGit(_ arguments: [String]) -> String? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["git"] + arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { return nil }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { return nil }
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
