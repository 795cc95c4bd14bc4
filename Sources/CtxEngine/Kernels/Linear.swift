/// y = W x for a batch of tokens, choosing the kernel by batch size.
///
/// Shapes: x [tokens][W.cols], y [tokens][W.rows]. Below `gemmMinimumTokens` a GEMV per token
/// is faster than GEMM, whose per-call dequantization of W costs as much as a GEMV (MoE experts
/// routinely see 1-3 tokens of a micro-batch).
public enum Linear {
    public static let gemmMinimumTokens = 4

    public static func apply(_ w: Tensor, _ x: UnsafePointer<Float>, tokens: Int, _ y: UnsafeMutablePointer<Float>,
                             pool: ThreadPool, scratch: MatMulScratch) {
        if tokens >= gemmMinimumTokens {
            GEMM.multiply(w, x, tokens: tokens, y, pool: pool, scratch: scratch)
        } else {
            for t in 0..<tokens {
                GEMV.multiply(w, x + t * w.cols, y + t * w.rows, pool: pool, scratch: scratch)
            }
        }
    }
}
