// swift-tools-version:6.0
// ctxbench: a benchmarking and profiling harness for long-context LLM inference.
//
// Layers, one module each:
//   CNuma, CCSV        system-library shims (libnuma, libcsv)
//   CPlatform          small C shims: compile-time ISA macros, sched_getcpu, the named measured region
//   CX86Intrinsics     one-line wrappers of AVX2 intrinsics Swift cannot express (vpmaddubsw...)
//   CtxEngine          compute: thread pool, NUMA placement, aligned memory (kernels and models go here)
//   CtxHarness         measurement around the engine: platform fingerprint, calibration, result files
//   CtxCLI             the command-line interface (a library so its help text is golden-tested)
//   ctxbench           the executable: a one-line main that hands argv to CtxCLI
import PackageDescription
import Foundation

// ISA flags. Swift's SIMD multiply-add becomes one libm `fmaf` call per lane without FMA enabled
// (measured 20-130x slower), so x86_64 builds default to x86-64-v3 (AVX2, FMA, F16C, BMI2).
// The same -march goes to Swift (through the Clang importer) and to C, because inlining a C helper
// compiled for AVX2 into Swift compiled without it crashes the compiler.
// Override for other CPUs:  CTXBENCH_MARCH=native | znver4 | x86-64-v2 | armv8.2-a+dotprod | none
let environment = ProcessInfo.processInfo.environment
let march: String? = {
    if let requested = environment["CTXBENCH_MARCH"], !requested.isEmpty {
        return requested == "none" ? nil : requested
    }
    #if arch(x86_64)
    return "x86-64-v3"
    #else
    return nil  // aarch64: the baseline already has NEON; ask for dotprod etc. with CTXBENCH_MARCH
    #endif
}()
// With -march=native: the flags of this CPU (Linux's /proc/cpuinfo), read once for both checks below.
let nativeCPUFlags: Set<Substring> = {
    guard march == "native", let cpuinfo = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
          let line = cpuinfo.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return [] }
    return Set(line.split(separator: " "))
}()
// Whether that -march gives AVX2 and F16C: then CX86Intrinsics has its wrappers and the engine uses
// them (CTXBENCH_AVX2); otherwise the engine's portable SIMD path is compiled.
let hasAVX2: Bool = {
    #if arch(x86_64)
    guard let march else { return false }
    if march == "native" { return nativeCPUFlags.contains("avx2") && nativeCPUFlags.contains("f16c") }
    let withAVX2 = ["x86-64-v3", "x86-64-v4", "haswell", "broadwell", "skylake", "skylake-avx512", "cascadelake",
                    "cooperlake", "cannonlake", "icelake-client", "icelake-server", "tigerlake", "rocketlake",
                    "alderlake", "raptorlake", "meteorlake", "sapphirerapids", "emeraldrapids", "graniterapids",
                    "znver1", "znver2", "znver3", "znver4", "znver5"]
    return withAVX2.contains(march)
    #else
    return false
    #endif
}()
// Whether that -march also gives AVX-512 BW and VL (x86-64-v4, native on such a CPU): then the
// integer GEMM's microkernels take two 32-value parts per 512-bit instruction (CTXBENCH_AVX512).
// Not the default: x86-64-v3 binaries run on every x86_64 CPU of the last ten years.
let hasAVX512: Bool = {
    #if arch(x86_64)
    guard hasAVX2, let march else { return false }
    if march == "native" { return nativeCPUFlags.contains("avx512bw") && nativeCPUFlags.contains("avx512vl") }
    let withAVX512 = ["x86-64-v4", "skylake-avx512", "cascadelake", "cooperlake", "cannonlake", "icelake-client",
                      "icelake-server", "tigerlake", "rocketlake", "sapphirerapids", "emeraldrapids", "graniterapids",
                      "znver4", "znver5"]
    return withAVX512.contains(march)
    #else
    return false
    #endif
}()
// Whether that -march also gives AVX-512 VNNI (vpdpbusd; native on Zen 4 or Ice Lake and later, or
// those -march names): then q8_0 prefill runs on integer dot products (CTXBENCH_VNNI). Not part of
// x86-64-v4.
let hasVNNI: Bool = {
    #if arch(x86_64)
    guard hasAVX512, let march else { return false }
    if march == "native" { return nativeCPUFlags.contains("avx512_vnni") }
    let withVNNI = ["cascadelake", "cooperlake", "icelake-client", "icelake-server", "tigerlake", "rocketlake",
                    "sapphirerapids", "emeraldrapids", "graniterapids", "znver4", "znver5"]
    return withVNNI.contains(march)
    #else
    return false
    #endif
}()
let isaSwiftFlags: [SwiftSetting] = (march.map { [.unsafeFlags(["-Xcc", "-march=\($0)"])] } ?? [])
    + (hasAVX2 ? [.define("CTXBENCH_AVX2")] : [])
    + (hasAVX512 ? [.define("CTXBENCH_AVX512")] : [])
    + (hasVNNI ? [.define("CTXBENCH_VNNI")] : [])
let isaCFlags: [CSetting] = march.map { [.unsafeFlags(["-march=\($0)"])] } ?? []

let package = Package(
    name: "ctxbench",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "ctxbench", targets: ["ctxbench"]),
    ],
    targets: [
        // libnuma is Linux-only; on macOS the engine compiles without it and reports NUMA as unavailable.
        .systemLibrary(
            name: "CNuma",
            pkgConfig: "numa",
            providers: [.apt(["libnuma-dev"])]
        ),
        // Debian's libcsv-dev ships no .pc file: the module map links `csv` directly.
        .systemLibrary(
            name: "CCSV",
            providers: [.apt(["libcsv-dev"]), .brew(["libcsv"])]
        ),
        .target(
            name: "CPlatform",
            cSettings: isaCFlags
        ),
        .target(
            name: "CX86Intrinsics",
            cSettings: isaCFlags
        ),
        .target(
            name: "CtxEngine",
            dependencies: [
                .target(name: "CNuma", condition: .when(platforms: [.linux])),
                "CPlatform",
                "CX86Intrinsics",
            ],
            swiftSettings: isaSwiftFlags
        ),
        .target(
            name: "CtxHarness",
            dependencies: ["CtxEngine", "CCSV", "CPlatform"],
            swiftSettings: isaSwiftFlags
        ),
        .target(
            name: "CtxCLI",
            dependencies: ["CtxHarness", "CtxEngine"],
            swiftSettings: isaSwiftFlags
        ),
        .executableTarget(
            name: "ctxbench",
            dependencies: ["CtxCLI"],
            swiftSettings: isaSwiftFlags
        ),
        .testTarget(
            name: "CtxEngineTests",
            dependencies: ["CtxEngine"],
            swiftSettings: isaSwiftFlags
        ),
        .testTarget(
            name: "CtxHarnessTests",
            dependencies: ["CtxHarness", "CtxEngine"],
            exclude: ["LlamaCppOutputs", "Corpus", "Parity"],
            swiftSettings: isaSwiftFlags
        ),
        .testTarget(
            name: "CtxCLITests",
            // The executable too: the resume test runs and kills real ctxbench processes.
            dependencies: ["CtxCLI", "CtxHarness", "ctxbench"],
            exclude: ["Golden"],
            swiftSettings: isaSwiftFlags
        ),
    ]
)
