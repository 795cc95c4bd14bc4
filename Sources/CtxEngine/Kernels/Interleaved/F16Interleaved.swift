/// f16 in `InterleavedWeights`: per group of 16 rows and column, one chunk of 16 halves, row r's
/// value at 2r. A group is its 16 rows' columns in order, 32 bytes each.
///
/// The row layout's dot (`SixteenBitFloatDot`) widens 8 weights and 8 activation values per FMA
/// and ends each row with a horizontal sum: at 1 thread it ran from L3 at 36-44 GB/s, little above
/// the thread's DRAM stream, and at 2 threads at 70-76% of the read probe. Here one vcvtph2ps
/// widens a column of 16 rows and one FMA takes its activation value as a broadcast memory
/// operand: two instructions per 32 bytes, no horizontal sum.
enum F16Interleaved: InterleavedFormat {
    @inline(__always)
    static func fields(lane r: Int, _ visit: (Int, Int, Int) -> Void) { visit(0, 2 &* r, 2) }

    #if CTXBENCH_VNNI
    /// The activation (f16, as llama.cpp rounds it for f16 weights) widened to f32 once per call,
    /// so that `dotGroup` broadcasts each value straight from memory.
    static func multiply(_ layout: InterleavedWeights, _ a: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, groups range: Range<Int>) {
        let columns = layout.blocks
        withUnsafeTemporaryAllocation(of: Float.self, capacity: columns) { wide in
            let x = wide.baseAddress!
            F16Format.dequantize(a, x, count: columns)
            storeDots(layout, UnsafeRawPointer(x), y, groups: range)
        }
    }

    /// Each 4 columns' 128 bytes are prefetched `distance` bytes ahead where the host
    /// wants it (on Zen 4, 1-4 KiB ahead lost 8-13% of Step-wide f16 decode at 2 threads).
    /// Column c goes to accumulator c % 4 (the FMA latency), acc = fma(w_c, x_c, acc), over the
    /// columns in order (a tail past the last 4 into the first); then (acc0 + acc1) + (acc2 +
    /// acc3). `a`: the activation as f32. Products of two halves are exact in f32, so this differs
    /// from the row layout's dot only in the order of the sums.
    @inline(never)
    static func dotGroup(_ chunks: UnsafeRawPointer, _ a: UnsafeRawPointer, blocks columns: Int, prefetch distance: Int) -> SIMD16<Float> {
        let x = a.assumingMemoryBound(to: Float.self)
        var acc0 = SIMD16<Float>(), acc1 = SIMD16<Float>(), acc2 = SIMD16<Float>(), acc3 = SIMD16<Float>()
        var c = 0
        while c &+ 4 <= columns {
            let column = chunks + c &* 32
            Prefetch.ahead(column, bytes: 128, distance: distance)
            acc0.addProduct(InterleavedLanes.halves(column), SIMD16(repeating: x[c]))
            acc1.addProduct(InterleavedLanes.halves(column + 32), SIMD16(repeating: x[c &+ 1]))
            acc2.addProduct(InterleavedLanes.halves(column + 64), SIMD16(repeating: x[c &+ 2]))
            acc3.addProduct(InterleavedLanes.halves(column + 96), SIMD16(repeating: x[c &+ 3]))
            c &+= 4
        }
        while c < columns {
            acc0.addProduct(InterleavedLanes.halves(chunks + c &* 32), SIMD16(repeating: x[c]))
            c &+= 1
        }
        return (acc0 + acc1) + (acc2 + acc3)
    }
    #endif
}
