import CPlatform

/// Software prefetch for the weight streams of the dot products (GEMV's inner loops).
///
/// A GEMV thread reads its rows as one contiguous stream, and the next row starts where this one
/// ends, so "`distance` bytes past the current block" is always the right next thing to fetch.
/// The hardware prefetcher alone kept the quantized GEMVs at 70-80% of the calibrated read
/// bandwidth: each loop iteration does enough arithmetic that too few misses were outstanding.
/// Prefetching inside the loop, interleaved with the arithmetic, raised q8_0 to ~95%; one burst
/// per row before its dot was worse than none (measured with `ctxbench kernels`, 4096x4096).
enum Prefetch {
    /// Bytes ahead, swept 512...6144 on this machine (2 threads, 4096x4096, three interleaved
    /// rounds): the block formats (q8_0, q4_K, q6_K) do best at 2-3 KiB; f16 and bf16 at 1 KiB
    /// (86-96% of read) and lose 5-15 points by 2 KiB. All degrade past 4 KiB.
    @inline(__always) static var distance: Int { 2048 }
    @inline(__always) static var floatDistance: Int { 1024 }

    /// Prefetches the cache lines of `bytes` bytes starting `distance` past `p`: one hint per 64
    /// bytes. Call once per loop iteration with the bytes that iteration reads.
    @inline(__always) static func ahead(_ p: UnsafeRawPointer, bytes: Int, distance: Int = Prefetch.distance) {
        var offset = 0
        while offset < bytes {
            ctx_prefetch_read(p + (distance &+ offset))
            offset &+= 64
        }
    }
}
