import Foundation

/// Parsers for Linux's /proc and /sys. Pure functions over text where possible, so tests can feed
/// them captured files from other machines.
enum LinuxProbe {
    /// "model name" on x86; on aarch64 (no model name) the implementer and part numbers.
    static func cpuModel(cpuinfo: String) -> String {
        let fields = firstFields(cpuinfo)
        if let name = fields["model name"] ?? fields["Model Name"], !name.isEmpty { return name }
        if let implementer = fields["CPU implementer"], let part = fields["CPU part"] {
            let vendor = ["0x41": "ARM", "0x61": "Apple", "0x51": "Qualcomm", "0x46": "Fujitsu",
                          "0x48": "HiSilicon", "0xc0": "Ampere", "0x4e": "NVIDIA"][implementer] ?? implementer
            return "\(vendor) part \(part)"
        }
        return "unknown"
    }

    /// The ISA extensions that matter for inference kernels, in a fixed order.
    static func features(cpuinfo: String) -> [String] {
        let fields = firstFields(cpuinfo)
        let flags = Set((fields["flags"] ?? fields["Features"] ?? "").split(separator: " ").map(String.init))
        // (name we print, name in /proc/cpuinfo)
        let known: [(String, String)] = [
            ("sse4.2", "sse4_2"), ("avx", "avx"), ("avx2", "avx2"), ("fma", "fma"), ("f16c", "f16c"),
            ("bmi2", "bmi2"), ("avx_vnni", "avx_vnni"), ("avx512f", "avx512f"), ("avx512bw", "avx512bw"),
            ("avx512vl", "avx512vl"), ("avx512vnni", "avx512_vnni"), ("avx512bf16", "avx512_bf16"),
            ("avx512fp16", "avx512_fp16"), ("amx_tile", "amx_tile"),
            ("neon", "asimd"), ("fp16", "asimdhp"), ("dotprod", "asimddp"), ("i8mm", "i8mm"),
            ("bf16", "bf16"), ("sve", "sve"), ("sve2", "sve2"),
        ]
        return known.filter { flags.contains($0.1) }.map(\.0)
    }

    /// Key/value pairs of the first processor block of /proc/cpuinfo (plus later keys not seen yet,
    /// since aarch64 lists "Features" per CPU but model details once).
    static func firstFields(_ cpuinfo: String) -> [String: String] {
        var fields: [String: String] = [:]
        for line in cpuinfo.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let key = line[..<colon].trimmingCharacters(in: .whitespaces)
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            if fields[key] == nil { fields[key] = value }
        }
        return fields
    }

    /// A value from /proc/meminfo ("MemTotal:  24576000 kB") in bytes.
    static func meminfoBytes(_ meminfo: String, key: String) -> UInt64? {
        for line in meminfo.split(separator: "\n") where line.hasPrefix(key + ":") {
            let parts = line.split(separator: " ", omittingEmptySubsequences: true)
            guard parts.count >= 2, let value = UInt64(parts[1]) else { return nil }
            let unit = parts.count >= 3 ? parts[2].lowercased() : ""
            return unit == "kb" ? value * 1024 : value
        }
        return nil
    }

    /// Cache sizes "32K", "1024K", "32M" as /sys prints them.
    static func parseSize(_ text: String) -> Int? {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard let last = trimmed.last else { return nil }
        let multiplier: Int
        switch last {
        case "K", "k": multiplier = 1024
        case "M", "m": multiplier = 1024 * 1024
        case "G", "g": multiplier = 1024 * 1024 * 1024
        default: return Int(trimmed)
        }
        return Int(trimmed.dropLast()).map { $0 * multiplier }
    }

    /// Counts the CPUs in a /sys list such as "0-3,8,10-11".
    static func cpuListCount(_ text: String) -> Int {
        var count = 0
        for part in text.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ",") {
            let bounds = part.split(separator: "-").compactMap { Int($0) }
            if bounds.count == 2 { count += bounds[1] - bounds[0] + 1 } else if bounds.count == 1 { count += 1 }
        }
        return count
    }

    static func caches() -> [PlatformInfo.Cache] {
        let base = "/sys/devices/system/cpu/cpu0/cache"
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: base) else { return [] }
        var caches: [PlatformInfo.Cache] = []
        for entry in entries.sorted() where entry.hasPrefix("index") {
            func read(_ name: String) -> String? {
                (try? String(contentsOfFile: "\(base)/\(entry)/\(name)", encoding: .utf8))?
                    .trimmingCharacters(in: .whitespacesAndNewlines)
            }
            guard let level = read("level").flatMap(Int.init), let size = read("size").flatMap(parseSize) else { continue }
            let shared = read("shared_cpu_list").map(cpuListCount) ?? 1
            caches.append(.init(level: level, type: read("type") ?? "Unified", sizeBytes: size,
                                sharedByCPUs: max(shared, 1)))
        }
        return caches
    }

    /// Distinct (package, core) pairs under /sys; nil if the topology files are missing.
    static func physicalCores() -> Int? {
        let base = "/sys/devices/system/cpu"
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: base) else { return nil }
        var cores = Set<String>()
        for entry in entries where entry.hasPrefix("cpu") && Int(entry.dropFirst(3)) != nil {
            func read(_ name: String) -> String? {
                (try? String(contentsOfFile: "\(base)/\(entry)/topology/\(name)", encoding: .utf8))?
                    .trimmingCharacters(in: .whitespacesAndNewlines)
            }
            guard let core = read("core_id") else { continue }
            cores.insert("\(read("physical_package_id") ?? "0"):\(core)")
        }
        return cores.isEmpty ? nil : cores.count
    }

    static func osRelease() -> String {
        let text = (try? String(contentsOfFile: "/etc/os-release", encoding: .utf8)) ?? ""
        for line in text.split(separator: "\n") where line.hasPrefix("PRETTY_NAME=") {
            return String(line.dropFirst("PRETTY_NAME=".count)).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
        }
        return "Linux"
    }
}
