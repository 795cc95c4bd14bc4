/// Matrix-vector product for one token: y (rows,) = W (rows, cols) · x (cols,).
///
/// Memory-bound: every weight byte is read once, so speed is DRAM bandwidth times the format's
/// bytes per value. Rows are split statically over the pool, so each thread streams one contiguous
/// range of the matrix. x is first converted to the weight type's activation format (q8_0 or q8_K
/// for the integer dot products), once per call.
public enum GEMV {
    public static func multiply(_ w: Tensor, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                                pool: ThreadPool, scratch: MatMulScratch) {
        guard let format = w.type.weightFormat else { preconditionFailure("\(w.type) is not a weight type") }
        let activation = prepareActivation(format.activationType, x, count: w.cols, scratch: scratch, pool: pool)
        rows(format, w, activation, y, pool: pool)
    }

    /// x in the activation format `type` (x itself for f32), quantized block-parallel on the pool:
    /// done on one thread it was ~4% of a q4_K GEMV with the other threads idle.
    static func prepareActivation(_ type: DType, _ x: UnsafePointer<Float>, count: Int, scratch: MatMulScratch,
                                  pool: ThreadPool) -> UnsafeRawPointer {
        if type == .f32 { return UnsafeRawPointer(x) }
        let buffer = scratch.activationBuffer(bytes: type.rowBytes(count))
        let values = type.blockValues, bytes = type.blockBytes
        pool.parallelFor(count / values) { range, _ in
            type.format.quantize(x + range.lowerBound * values, buffer + range.lowerBound * bytes,
                                 count: range.count * values)
        }
        return UnsafeRawPointer(buffer)
    }

    static func rows<F: WeightFormat>(_ format: F.Type, _ w: Tensor, _ a: UnsafeRawPointer,
                                      _ y: UnsafeMutablePointer<Float>, pool: ThreadPool) {
        let cols = w.cols
        pool.parallelFor(w.rows) { range, _ in
            for r in range { y[r] = F.dot(w.row(r), a, count: cols) }
        }
    }
}
