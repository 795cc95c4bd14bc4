import CtxEngine
import Foundation

/// A quick measurement of the machine's limits taken beside every cell's repetitions: one read pass
/// over 128 MiB (4x a 32 MiB L3) and a short burst of FMA chains, about 5 ms together on the run's
/// own pool. A shared VM's speed changes within seconds (measured here: FMA peak halved and DRAM
/// bandwidth moved 25-40 GB/s between runs minutes apart), so a calibration taken at the start of
/// a run cannot normalize a cell measured later; probes taken just before and after it can. The
/// FMA burst, which touches no memory, is also taken between repetitions (`measureFMA`): with one
/// 1 ms burst before and one after, three runs of one prefill within three minutes had their peak
/// as 319, 122 and 268 GFLOP/s (each the median of its two bursts), and the second read 124% of it.
public final class LimitProbe {
    let buffer: AlignedBuffer
    let floats: Int
    let pool: ThreadPool
    let fmaIterations: Int

    public init(pool: ThreadPool, placement: MemoryPlacement, bytes: Int = 128 << 20, fmaFLOPs: Int = 200_000_000) throws {
        self.pool = pool
        floats = bytes / 4
        buffer = try AlignedBuffer(byteCount: floats * 4, placement: placement)
        let base = buffer.pointer(to: Float.self, count: floats)
        pool.parallelFor(floats) { range, _ in
            for i in range { base[i] = Float(i & 1023) * 0.001 }
        }
        // About 2e8 FLOPs in all by default: a millisecond at 200 GFLOP/s.
        fmaIterations = max(1000, fmaFLOPs / (MemoryKernels.fmaFlopsPerIteration * pool.threadCount))
    }

    /// (DRAM read GB/s, FMA GFLOP/s) right now.
    public func measure() -> (readGBps: Double, fmaGFLOPs: Double) {
        (measureRead(), measureFMA())
    }

    /// DRAM read GB/s right now: one pass over the buffer, which evicts the caches a test ran from.
    public func measureRead() -> Double {
        let base = buffer.pointer(to: Float.self, count: floats)
        let start = monotonicNanoseconds()
        pool.parallelFor(floats) { range, _ in blackHole(MemoryKernels.sum(base + range.lowerBound, range.count)) }
        return Double(floats * 4) / Double(max(1, monotonicNanoseconds() - start))
    }

    /// FMA GFLOP/s right now: register-only chains, touching no memory, so it can run between a
    /// test's repetitions without changing what they find in the caches.
    public func measureFMA() -> Double {
        let iterations = fmaIterations
        let start = monotonicNanoseconds()
        pool.run { t in blackHole(MemoryKernels.fmaChains(iterations: iterations, seed: Float(t + 1))) }
        let fmaNs = max(1, monotonicNanoseconds() - start)
        return Double(MemoryKernels.fmaFlopsPerIteration * iterations * pool.threadCount) / Double(fmaNs)
    }
}
