/// q8_0 activations rearranged for the nibble formats' GEMV (q4_0): built once per GEMV from the
/// q8_0 blocks and read by every row, so its cost is paid once per call, not once per row.
///
/// For a row of B = count / 32 blocks (B8 = B rounded up to 8, P = B rounded up to 2, halved):
///
///     offset 0        f32  scale[B8]   block j's d, as the q8_0 block stores it (f16 -> f32)
///     offset 4*B8     f32  sum[B8]     d * Σ q over block j (the nibble formats' -8 offset term)
///     offset 8*B8     i8   pairs[P][64]
///
/// Within each group of 8 blocks, scale and sum are stored in `EvensThenOdds` order (slot
/// `slot(of:)`: blocks 0, 2, 4, 6, 1, 3, 5, 7), the order in which the kernel's `blockSums16`
/// reduction leaves eight blocks' integer sums, so one vector multiply applies all eight scales.
///
/// Pair p holds blocks 2p and 2p+1 as [q_2p[0..<16], q_2p+1[0..<16], q_2p[16..<32], q_2p+1[16..<32]]:
/// a q4_0 pair loaded as [block 2p's 16 nibble bytes | block 2p+1's] splits with one mask into the
/// low nibbles (values 0..<16 of each block) and with a shift and mask into the high ones (values
/// 16..<32), which then line up with the first and second 32 bytes of the pair. Padding (scales and
/// sums past B, the missing second block of an odd B) is zero, so it contributes nothing.
/// Offsets are multiples of 32 bytes, so the vector loads of scales, sums and pairs are aligned.
enum Q8_0PairedActivation {
    static func roundedBlocks(count: Int) -> Int { (count / 32 + 7) / 8 * 8 }

    static func byteCount(count: Int) -> Int {
        8 * roundedBlocks(count: count) + (count / 32 + 1) / 2 * 64
    }

    @inline(__always) static func scales(_ p: UnsafeRawPointer) -> UnsafePointer<Float> {
        p.assumingMemoryBound(to: Float.self)
    }

    @inline(__always) static func sums(_ p: UnsafeRawPointer, count: Int) -> UnsafePointer<Float> {
        (p + 4 * roundedBlocks(count: count)).assumingMemoryBound(to: Float.self)
    }

    @inline(__always) static func pairs(_ p: UnsafeRawPointer, count: Int) -> UnsafeRawPointer {
        p + 8 * roundedBlocks(count: count)
    }

    /// Where block b's scale and sum are stored.
    @inline(__always) static func slot(of b: Int) -> Int { (b & ~7) | EvensThenOdds.lane(ofBlock: b & 7) }

    /// Writes blocks `blocks` (and, from the range that holds the last block, the zero padding).
    static func build(_ q8: UnsafeRawPointer, _ out: UnsafeMutableRawPointer, count: Int, blocks: Range<Int>) {
        let total = count / 32, rounded = roundedBlocks(count: count)
        let scale = out.assumingMemoryBound(to: Float.self)
        let sum = (out + 4 * rounded).assumingMemoryBound(to: Float.self)
        let pairs = (out + 8 * rounded).assumingMemoryBound(to: Int8.self)
        for b in blocks {
            let block = q8 + b * Q8_0Format.blockBytes
            let qs = (block + Q8_0Format.qsOffset).assumingMemoryBound(to: Int8.self)
            let d = block.f16(at: 0)
            var s: Int32 = 0
            let dst = pairs + (b / 2) * 64 + (b % 2) * 16
            for j in 0..<16 {
                dst[j] = qs[j]
                dst[j + 32] = qs[j + 16]
                s &+= Int32(qs[j]) &+ Int32(qs[j + 16])
            }
            scale[slot(of: b)] = d
            sum[slot(of: b)] = d * Float(s)
        }
        if blocks.upperBound == total {
            for b in total..<rounded { scale[slot(of: b)] = 0; sum[slot(of: b)] = 0 }
            if total % 2 == 1 {
                let dst = pairs + (total / 2) * 64 + 16
                for j in 0..<16 { dst[j] = 0; dst[j + 32] = 0 }
            }
        }
    }
}
