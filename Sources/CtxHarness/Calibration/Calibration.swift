import CtxEngine
import Foundation

/// min / median / max over repetitions of one calibration measurement.
public struct Spread: Codable, Sendable, Equatable {
    public var min: Double
    public var median: Double
    public var max: Double
    public var samples: [Double]

    public init(_ samples: [Double]) {
        let sorted = samples.sorted()
        self.samples = samples
        self.min = sorted.first ?? .nan
        self.max = sorted.last ?? .nan
        if sorted.isEmpty {
            median = .nan
        } else if sorted.count % 2 == 1 {
            median = sorted[sorted.count / 2]
        } else {
            median = (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
        }
    }
}

/// The machine's measured limits at one thread count. Efficiency figures elsewhere are fractions
/// of these medians.
public struct MachineLimits: Codable, Sendable, Equatable {
    public var threads: Int
    /// Read-only streaming over a buffer far larger than the last-level cache, GB/s (1e9 bytes/s).
    public var dramReadGBps: Spread
    /// memcpy between two large buffers, counting bytes read plus bytes written (as STREAM does), GB/s.
    public var copyGBps: Spread
    /// Read-only streaming over a per-thread buffer that stays in L2, GB/s.
    public var cacheReadGBps: Spread
    /// Independent FP32 fused multiply-add chains of the build's widest vectors (`MemoryKernels.FMAVector`),
    /// GFLOP/s (2 FLOPs per lane per FMA).
    public var fmaGFLOPs: Spread
    /// Median cost of an empty parallel region on the pool (fork + join), microseconds.
    public var forkJoinMicroseconds: Double
}

/// A full calibration: limits per thread count, with the platform they were measured on.
public struct Calibration: Codable, Sendable, Equatable {
    public static let schemaVersion = 1
    public var schemaVersion: Int = Calibration.schemaVersion
    public var date: Date
    public var platform: PlatformInfo
    public var numaPolicy: NumaPolicy
    public var dramBufferBytes: Int
    public var cacheBufferBytesPerThread: Int
    public var repetitions: Int
    public var limits: [MachineLimits]

    /// The limits measured at `threads`, if any.
    public func limits(threads: Int) -> MachineLimits? { limits.first { $0.threads == threads } }
}

/// Measures DRAM read, copy and cache bandwidth and FMA peak with the engine's own thread pool.
public struct Calibrator: Sendable {
    public var dramBufferBytes: Int = 1 << 30          // 1 GiB: >= 512 MiB, far above any L3
    public var cacheBufferBytesPerThread: Int = 128 << 10  // half of a typical 256 KiB-1 MiB L2
    public var repetitions: Int = 5
    public var fmaIterations: Int = 20_000_000 / 8
    public var numaPolicy: NumaPolicy = .none

    public init() {}

    /// The quick calibration a run makes when it has no saved one: 3 repetitions over 512 MiB.
    public static var quick: Calibrator {
        var c = Calibrator()
        c.repetitions = 3
        c.dramBufferBytes = 512 << 20
        return c
    }

    /// Measures at each thread count and returns the calibration. `progress` receives one line
    /// per finished measurement.
    public func calibrate(threadCounts: [Int], platform: PlatformInfo,
                          progress: (String) -> Void = { _ in }) throws -> Calibration {
        let topology = platform.numa
        var results: [MachineLimits] = []
        for threads in threadCounts {
            let placement = try ThreadPlacement.plan(threads: threads, policy: numaPolicy, topology: topology,
                                                     startCPU: CPUAffinity.currentCPU())
            let pool = ThreadPool(threads: threads, placement: placement)
            let limits = try measure(pool: pool, memory: placement.memory, progress: progress)
            results.append(limits)
        }
        return Calibration(date: Date(), platform: platform, numaPolicy: numaPolicy,
                           dramBufferBytes: dramBufferBytes, cacheBufferBytesPerThread: cacheBufferBytesPerThread,
                           repetitions: repetitions, limits: results)
    }

    public func measure(pool: ThreadPool, memory: MemoryPlacement, progress: (String) -> Void) throws -> MachineLimits {
        let threads = pool.threadCount
        let floats = dramBufferBytes / MemoryLayout<Float>.stride
        let big = try AlignedBuffer(byteCount: floats * 4, placement: memory)
        let base = big.pointer(to: Float.self, count: floats)
        // First touch from the pool: each thread writes the slice it will read, so pages land on
        // the reading thread's node and the kernel cannot map reads to the shared zero page.
        pool.parallelFor(floats) { range, _ in
            for i in range { base[i] = Float(i & 1023) * 0.001 }
        }

        let read = Spread((0..<repetitions).map { _ in
            let ns = timed { pool.parallelFor(floats) { range, _ in blackHole(MemoryKernels.sum(base + range.lowerBound, range.count)) } }
            return Double(floats * 4) / Double(ns)
        })
        progress(String(format: "threads %d  DRAM read   %7.2f GB/s (median)", threads, read.median))

        // Copy: first half -> second half, each thread its own slice.
        let half = floats / 2
        let copy = Spread((0..<repetitions).map { _ in
            let ns = timed {
                pool.parallelFor(half) { range, _ in
                    (base + half + range.lowerBound).update(from: base + range.lowerBound, count: range.count)
                }
            }
            return Double(half * 4 * 2) / Double(ns)
        })
        progress(String(format: "threads %d  copy        %7.2f GB/s (median, read + write)", threads, copy.median))

        let cacheFloats = cacheBufferBytesPerThread / 4
        let cacheBuffer = try AlignedBuffer(byteCount: cacheFloats * 4 * threads, placement: memory)
        let cacheBase = cacheBuffer.pointer(to: Float.self, count: cacheFloats * threads)
        pool.run { t in
            let mine = cacheBase + t * cacheFloats
            for i in 0..<cacheFloats { mine[i] = Float(i & 255) * 0.01 }
        }
        let sweeps = max(1, (256 << 20) / cacheBufferBytesPerThread)  // 256 MiB of reads per thread
        let cache = Spread((0..<repetitions).map { _ in
            let ns = timed {
                pool.run { t in
                    let mine = cacheBase + t * cacheFloats
                    var total: Float = 0
                    // A different length each sweep, so the optimizer cannot treat the sums as one.
                    for sweep in 0..<sweeps { total += MemoryKernels.sum(mine, cacheFloats - (sweep & 7)) }
                    blackHole(total)
                }
            }
            return Double(cacheFloats * 4 * sweeps * threads) / Double(ns)
        })
        progress(String(format: "threads %d  cache read  %7.2f GB/s (median, %d KiB per thread)",
                        threads, cache.median, cacheBufferBytesPerThread >> 10))

        let iterations = fmaIterations
        let fma = Spread((0..<repetitions).map { _ in
            let ns = timed { pool.run { t in blackHole(MemoryKernels.fmaChains(iterations: iterations, seed: Float(t + 1))) } }
            return Double(MemoryKernels.fmaFlopsPerIteration * iterations * threads) / Double(ns)
        })
        progress(String(format: "threads %d  FMA peak    %7.2f GFLOP/s (median)", threads, fma.median))

        let forkJoin = pool.measureForkJoin() / 1000
        return MachineLimits(threads: threads, dramReadGBps: read, copyGBps: copy, cacheReadGBps: cache,
                             fmaGFLOPs: fma, forkJoinMicroseconds: forkJoin)
    }

    private func timed(_ body: () -> Void) -> UInt64 {
        let start = monotonicNanoseconds()
        body()
        return max(monotonicNanoseconds() - start, 1)
    }
}
