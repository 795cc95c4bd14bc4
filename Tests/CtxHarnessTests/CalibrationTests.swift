import Foundation
import Testing
@testable import CtxEngine
@testable import CtxHarness

@Suite struct CalibrationTests {
    /// The reference the SIMD read kernel must match: a plain sequential sum in Double.
    static func referenceSum(_ values: [Float]) -> Double { values.reduce(0) { $0 + Double($1) } }

    @Test(arguments: [0, 1, 31, 32, 33, 1000, 4099])
    func simdSumMatchesPlainSum(count: Int) {
        let values = (0..<count).map { Float(($0 * 37) % 101) * 0.5 - 20 }
        let ours = values.withUnsafeBufferPointer { MemoryKernels.sum($0.baseAddress!, count) }
        #expect(abs(Double(ours) - Self.referenceSum(values)) <= 1e-3 * max(1, abs(Self.referenceSum(values))))
    }

    @Test func fmaChainsComputeTheRecurrenceTheyCount() {
        // Reference: each of 12 chains x the vector's lanes (8, or 16 in an AVX-512 build) runs
        // a <- a * m + c, starting at seed + chain.
        let iterations = 1000, seed: Float = 2
        var expected: Float = 0
        for chain in 0..<12 {
            var a = seed + Float(chain)
            for _ in 0..<iterations { a = (1e-7 * seed).addingProduct(a, 0.999_999) }
            expected += Float(MemoryKernels.FMAVector.scalarCount) * a
        }
        let ours = MemoryKernels.fmaChains(iterations: iterations, seed: seed)
        #expect(abs(ours - expected) / expected < 1e-4)
    }

    @Test func smallCalibrationProducesPositiveLimitsAndRoundTrips() throws {
        var calibrator = Calibrator()
        calibrator.dramBufferBytes = 4 << 20
        calibrator.cacheBufferBytesPerThread = 16 << 10
        calibrator.repetitions = 2
        calibrator.fmaIterations = 10_000
        let platform = PlatformInfo.probe()
        let calibration = try calibrator.calibrate(threadCounts: [1, 2], platform: platform)
        #expect(calibration.limits.map(\.threads) == [1, 2])
        for limits in calibration.limits {
            for spread in [limits.dramReadGBps, limits.copyGBps, limits.cacheReadGBps, limits.fmaGFLOPs] {
                #expect(spread.samples.count == 2)
                #expect(spread.min > 0 && spread.min <= spread.median && spread.median <= spread.max)
            }
        }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("ctxbench-cal-\(UUID()).json").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try CalibrationStore.save(calibration, to: path)
        let loaded = try CalibrationStore.load(from: path)
        #expect(loaded.limits(threads: 2)?.dramReadGBps.samples == calibration.limits(threads: 2)?.dramReadGBps.samples)
        #expect(loaded.platform.hardwareKey == platform.hardwareKey)
    }

    @Test func spreadMedianOfEvenAndOddCounts() {
        #expect(Spread([3, 1, 2]).median == 2)
        #expect(Spread([4, 1, 3, 2]).median == 2.5)
        #expect(Spread([5]).min == 5 && Spread([5]).max == 5)
    }
}
