import Testing
@testable import CtxHarness

@Suite struct PlatformProbeTests {
    static let x86CPUInfo = """
    processor\t: 0
    vendor_id\t: AuthenticAMD
    model name\t: AMD EPYC 7B13 64-Core Processor
    flags\t\t: fpu sse4_2 avx f16c fma avx2 bmi2 avx512f avx512bw avx512_vnni
    processor\t: 1
    model name\t: AMD EPYC 7B13 64-Core Processor
    """

    static let armCPUInfo = """
    processor\t: 0
    BogoMIPS\t: 50.00
    Features\t: fp asimd evtstrm aes crc32 asimdhp asimddp sve i8mm bf16
    CPU implementer\t: 0x41
    CPU part\t: 0xd40
    """

    @Test func parsesX86ModelAndFeatures() {
        #expect(LinuxProbe.cpuModel(cpuinfo: Self.x86CPUInfo) == "AMD EPYC 7B13 64-Core Processor")
        #expect(LinuxProbe.features(cpuinfo: Self.x86CPUInfo) ==
                ["sse4.2", "avx", "avx2", "fma", "f16c", "bmi2", "avx512f", "avx512bw", "avx512vnni"])
    }

    @Test func parsesAarch64ModelAndFeatures() {
        #expect(LinuxProbe.cpuModel(cpuinfo: Self.armCPUInfo) == "ARM part 0xd40")
        #expect(LinuxProbe.features(cpuinfo: Self.armCPUInfo) == ["neon", "fp16", "dotprod", "i8mm", "bf16", "sve"])
    }

    @Test func parsesMeminfoSizesAndCPULists() {
        let meminfo = "MemTotal:       24576000 kB\nMemFree:  100 kB\nMemAvailable:   20000000 kB\n"
        #expect(LinuxProbe.meminfoBytes(meminfo, key: "MemTotal") == 24_576_000 * 1024)
        #expect(LinuxProbe.meminfoBytes(meminfo, key: "MemAvailable") == 20_000_000 * 1024)
        #expect(LinuxProbe.meminfoBytes(meminfo, key: "Missing") == nil)
        #expect(LinuxProbe.parseSize("32K") == 32 * 1024)
        #expect(LinuxProbe.parseSize("32768K\n") == 32 << 20)
        #expect(LinuxProbe.parseSize("1M") == 1 << 20)
        #expect(LinuxProbe.cpuListCount("0-3,8,10-11") == 7)
        #expect(LinuxProbe.cpuListCount("5") == 1)
    }

    @Test func probeDescribesThisMachine() {
        let info = PlatformInfo.probe()
        #expect(info.logicalCores >= 1)
        #expect(info.physicalCores >= 1 && info.physicalCores <= info.logicalCores)
        #expect(info.memoryTotalBytes > 0)
        #expect(!info.numa.nodes.isEmpty)
        #expect(info.buildConfiguration == "debug")
        #if arch(x86_64)
        // Package.swift builds x86_64 for x86-64-v3 unless CTXBENCH_MARCH overrides it.
        if ProcessInfo.processInfo.environment["CTXBENCH_MARCH"] == nil {
            #expect(info.buildISA.contains("avx2") && info.buildISA.contains("fma") && info.buildISA.contains("f16c"))
        }
        #endif
    }
}

import Foundation
