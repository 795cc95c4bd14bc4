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
    /// Bytes ahead. Swept 512...6144 on this machine (2 threads, 4096x4096): f16/bf16 do best at
    /// 1-2 KiB, q8_0/q4_K/q6_K at 2-3 KiB, and all degrade past 4 KiB; 2 KiB is within noise of
    /// the best for every type.
    @inline(__always) static var distance: Int { 2048 }

    /// Prefetches the cache lines of `bytes` bytes starting `distance` past `p`: one hint per 64
    /// bytes. Call once per loop iteration with the bytes that iteration reads.
    @inline(__always) static func ahead(_ p: UnsafeRawPointer, bytes: Int) {
        var offset = 0
        while offset < bytes {
            ctx_prefetch_read(p + (distance &+ offset))
            offset &+= 64
        }
    }
}
