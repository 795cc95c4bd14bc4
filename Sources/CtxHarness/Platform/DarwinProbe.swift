#if canImport(Darwin)
import Darwin

/// sysctl readers for macOS, where /proc and /sys do not exist.
enum DarwinProbe {
    static func string(_ name: String) -> String? {
        var size = 0
        guard sysctlbyname(name, nil, &size, nil, 0) == 0, size > 0 else { return nil }
        var buffer = [CChar](repeating: 0, count: size)
        guard sysctlbyname(name, &buffer, &size, nil, 0) == 0 else { return nil }
        return String(cString: buffer)
    }

    static func int(_ name: String) -> Int? {
        var value: Int64 = 0
        var size = MemoryLayout<Int64>.size
        guard sysctlbyname(name, &value, &size, nil, 0) == 0 else { return nil }
        return Int(value)
    }

    static func features() -> [String] {
        let known: [(String, String)] = [
            ("neon", "hw.optional.neon"), ("fp16", "hw.optional.arm.FEAT_FP16"),
            ("dotprod", "hw.optional.arm.FEAT_DotProd"), ("i8mm", "hw.optional.arm.FEAT_I8MM"),
            ("bf16", "hw.optional.arm.FEAT_BF16"),
            ("avx", "hw.optional.avx1_0"), ("avx2", "hw.optional.avx2_0"), ("fma", "hw.optional.fma"),
            ("f16c", "hw.optional.f16c"), ("avx512f", "hw.optional.avx512f"),
        ]
        return known.filter { (int($0.1) ?? 0) != 0 }.map(\.0)
    }

    static func caches() -> [PlatformInfo.Cache] {
        var caches: [PlatformInfo.Cache] = []
        if let size = int("hw.l1dcachesize") { caches.append(.init(level: 1, type: "Data", sizeBytes: size, sharedByCPUs: 1)) }
        if let size = int("hw.l2cachesize") { caches.append(.init(level: 2, type: "Unified", sizeBytes: size, sharedByCPUs: 1)) }
        if let size = int("hw.l3cachesize") { caches.append(.init(level: 3, type: "Unified", sizeBytes: size, sharedByCPUs: 1)) }
        return caches
    }
}
#endif
