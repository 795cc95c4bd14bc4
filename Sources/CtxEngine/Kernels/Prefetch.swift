import CPlatform
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Software prefetch for the weight streams of the dot products (GEMV's inner loops).
///
/// A GEMV thread reads its rows as one contiguous stream, and the next row starts where this one
/// ends, so "`distance` bytes past the current block" is always the right next thing to fetch.
/// The hardware prefetcher alone kept the quantized GEMVs at 70-80% of the calibrated read
/// bandwidth: each loop iteration does enough arithmetic that too few misses were outstanding.
/// Prefetching inside the loop, interleaved with the arithmetic, raised q8_0 to ~95%; one burst
/// per row before its dot was worse than none (measured with `ctxbench kernels`, 4096x4096).
public enum Prefetch {
    /// Bytes ahead, swept 512...6144 on this machine (2 threads, 4096x4096, three interleaved
    /// rounds): the block formats (q8_0, q4_K, q6_K) do best at 2-3 KiB; f16 and bf16 at 1 KiB
    /// (86-96% of read) and lose 5-15 points by 2 KiB. All degrade past 4 KiB.
    @inline(__always) static var distance: Int { 2048 }
    @inline(__always) static var floatDistance: Int { 1024 }

    /// Bytes ahead for the regrouped decode GEMVs (`InterleavedWeights`), 0 for none. Read once
    /// per GEMV call (`storeDots`) and passed down, so the kernels hold it in a register. The two
    /// hosts this was measured on want opposite things:
    /// - AMD Zen 4: none. Its hardware prefetcher alone did best on the one stream a thread reads;
    ///   2-8 KiB ahead took Kimi-wide Q4_K_M decode at 2 threads from 101 to 70-72 tokens/s.
    /// - Intel Xeon (Sapphire Rapids class): 4 KiB. Without software prefetch the q4_K GEMV read
    ///   72-75% of the read kernel's bandwidth over the same bytes, with 4-12 KiB ahead 97-104%
    ///   (`ctxbench kernels --types q4_K --shapes 4096x4096`, 1 and 2 threads).
    /// Other vendors keep AMD's choice. `CTXBENCH_REGROUPED_PREFETCH=<bytes>` overrides it, for
    /// tuning on another host (the CLI checks the value: `regroupedDistanceOverride`).
    public static let regroupedDistance: Int = regroupedDistanceOverride ?? (ctx_cpu_is_intel() != 0 ? 4096 : 0)

    /// The environment's `CTXBENCH_REGROUPED_PREFETCH`, when it is a byte count in 0...65536.
    public static var regroupedDistanceOverride: Int? {
        guard let text = getenv(regroupedDistanceVariable), let bytes = Int(String(cString: text)), (0...65536).contains(bytes) else {
            return nil
        }
        return bytes
    }
    public static let regroupedDistanceVariable = "CTXBENCH_REGROUPED_PREFETCH"

    /// Prefetches the cache lines of `bytes` bytes starting `distance` past `p`: one hint per 64
    /// bytes. Call once per loop iteration with the bytes that iteration reads. A `distance` of 0
    /// means no prefetch (`regroupedDistance` on hosts that want none); constant distances fold
    /// the test away.
    @inline(__always) static func ahead(_ p: UnsafeRawPointer, bytes: Int, distance: Int = Prefetch.distance) {
        guard distance > 0 else { return }
        var offset = 0
        while offset < bytes {
            ctx_prefetch_read(p + (distance &+ offset))
            offset &+= 64
        }
    }
}
