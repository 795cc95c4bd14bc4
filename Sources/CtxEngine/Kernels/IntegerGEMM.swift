/// Prefill's product for weights with integer dot products (`IntegerGEMMFormat`: the K-quants on
/// AVX2): Y (tokens, rows) = X (tokens, cols) · Wᵀ, computed as llama.cpp computes it: each token's
/// row quantized to q8_K once per call, every weight block used in its stored layout (no f32 panel),
/// and each output equal bit for bit to the GEMV's `dot` of that token.
///
/// Why: vpmaddubsw multiplies 32 byte pairs per instruction, and Zen 3 issues two of those (and two
/// vpmaddwd) per cycle, against two 8-lane FMAs; per 32 values and token the kernel needs one of
/// each plus a vpaddd, so it can pass the f32 FMA peak, where the dequantize-then-FMA GEMM stays
/// below it and pays an f32 panel per call.
///
/// Blocking: rows are taken in panels of up to `maximumRowsPerPanel` (16 q4_K rows of 2304 values are 21 KB, in
/// L1/L2) shared out dynamically; within a panel, tokens go four at a time (their q8_K rows, 4 x
/// 2.6 KB, stay in L1 while the panel's rows pass over them), so each weight block is unpacked
/// once per four tokens and read from cache, not DRAM, by every tile after the first. With AVX-512
/// (`CTXBENCH_AVX512`, 32 vector registers) tokens go eight at a time first (`dot8`), then four.
public enum IntegerGEMM {
    static let tokensPerTile = 4
    static let maximumRowsPerPanel = 16

    public static func multiply<F: IntegerGEMMFormat>(_ format: F.Type, _ w: Tensor, _ x: UnsafePointer<Float>, tokens: Int,
                                                      _ y: UnsafeMutablePointer<Float>, pool: ThreadPool, scratch: MatMulScratch) {
        let k = w.cols
        let activation = F.activationType
        // Rows of the quantized input start on cache lines.
        let stride = (activation.rowBytes(k) + 63) / 64 * 64
        let quantized = scratch.packedInputBytes(tokens * stride)
        pool.parallelFor(tokens) { range, _ in
            for t in range { activation.format.quantize(x + t * k, quantized + t * stride, count: k) }
        }
        let a = UnsafeRawPointer(quantized)
        let ldy = w.rows
        // Smaller panels where the matrix would give each thread fewer than four.
        let rowsPerPanel = max(4, min(maximumRowsPerPanel, w.rows / (4 * pool.threadCount)))
        let panels = (w.rows + rowsPerPanel - 1) / rowsPerPanel
        pool.parallelFor(panels, schedule: .dynamic(chunk: 1)) { range, _ in
            for panel in range {
                let rows = panel * rowsPerPanel..<min(w.rows, (panel + 1) * rowsPerPanel)
                var t0 = 0
                #if CTXBENCH_AVX512
                while t0 + 8 <= tokens {
                    let tile = a + t0 * stride
                    for r in rows {
                        let v = F.dot8(w.row(r), tile, stride: stride, count: k)
                        let out = y + t0 * ldy + r
                        for t in 0..<8 { out[t * ldy] = v[t] }
                    }
                    t0 += 8
                }
                #endif
                while t0 + tokensPerTile <= tokens {
                    let tile = a + t0 * stride
                    for r in rows {
                        let v = F.dot4(w.row(r), tile, stride: stride, count: k)
                        let out = y + t0 * ldy + r
                        out[0] = v[0]; out[ldy] = v[1]; out[2 * ldy] = v[2]; out[3 * ldy] = v[3]
                    }
                    t0 += tokensPerTile
                }
                for t in t0..<tokens {
                    for r in rows { y[t * ldy + r] = F.dot(w.row(r), a + t * stride, count: k) }
                }
            }
        }
    }
}
