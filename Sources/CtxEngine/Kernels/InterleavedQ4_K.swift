#if CTXBENCH_VNNI
import CX86Intrinsics
#endif

/// A q4_K matrix regrouped 16 rows at a time: decode's GEMV layout on CPUs with AVX-512 VNNI, built
/// once when a model loads (`Tensor.interleaveForDecode`), beside the stored rows that prefill reads.
///
/// Why: the row-layout q4_K dot (`KQuantDot`) spends per 256 values and row about 75 instructions,
/// a third of them shuffles that spread one row's sub-block scales over its lanes; from cache it
/// ran no faster than from DRAM (about 15 GB/s a thread on Zen 4), so decode was bound by it, not by
/// memory. With 16 rows side by side, lane r of a 512-bit vector is row r: one vpdpbusd takes 4
/// values of 16 rows against 4 broadcast activation bytes, and a sub-block's scale multiplies 16
/// rows' sums in one vpmulld, with no shuffle at all.
///
/// Per group of 16 rows and super-block (256 columns), one chunk of 16 x 144 = 2304 bytes, the
/// same bytes as the 16 rows' q4_K blocks, regrouped:
///
///     offset 0     f16  d[16]          row r's super-block scale at 2r
///     offset 32    f16  dmin[16]
///     offset 64    u32  words[3][16]   row r's 12 packed scale and min bytes as three little-endian
///                                      words, word i at 64 + 64i + 4r (unpacked with the row
///                                      layout's whole-word masks, one row per lane)
///     offset 256   u8   qs[4][8][64]   pair p (sub-blocks 2p and 2p + 1), group k: bytes 4r..<4r+4
///                                      are row r's q4_K bytes 32p + 4k ..< 32p + 4k + 4 (values
///                                      4k..<4k+4 of sub-block 2p in the low nibbles, 2p + 1 high)
///
/// A group's chunks run over the columns in order and groups follow one another, so each GEMV
/// thread still reads one contiguous stream: taking 2 or 4 rows of the row layout at once (two to
/// four streams a thread) halved the f16 GEMV's DRAM speed on this machine.
public struct InterleavedQ4_K: @unchecked Sendable {
    public static let rowsPerGroup = 16
    static let chunkBytes = 16 * Q4_KFormat.blockBytes
    static let dOffset = 0
    static let dminOffset = 32
    static let scaleWordsOffset = 64
    static let qsOffset = 256

    /// Chunk (0, 0).
    let data: UnsafeRawPointer
    /// Groups of 16 rows.
    public let groups: Int
    /// Super-blocks per row.
    let blocks: Int
    /// Keeps `data` alive.
    let owner: AnyObject

    var groupBytes: Int { blocks * Self.chunkBytes }
    public var byteCount: Int { groups * groupBytes }

    /// Whether this build decodes `w` from a regrouped copy: AVX-512 VNNI, q4_K, rows a multiple of 16.
    public static func takes(_ w: Tensor) -> Bool {
        #if CTXBENCH_VNNI
        return w.type == .q4_K && w.rows % rowsPerGroup == 0 && w.rows > 0
        #else
        return false
        #endif
    }

    /// `w` regrouped, or nil when `w` is not q4_K or its rows are not a multiple of 16.
    public static func regrouping(_ w: Tensor, pool: ThreadPool? = nil) throws -> InterleavedQ4_K? {
        guard w.type == .q4_K, w.rows % rowsPerGroup == 0, w.rows > 0 else { return nil }
        let blocks = w.cols / Q4_KFormat.blockValues
        let groups = w.rows / rowsPerGroup
        let buffer = try AlignedBuffer(byteCount: groups * blocks * chunkBytes)
        let layout = InterleavedQ4_K(data: UnsafeRawPointer(buffer.raw), groups: groups, blocks: blocks, owner: buffer)
        // Groups in parallel: each thread first-touches the groups it regroups.
        let body: (Range<Int>) -> Void = { range in
            for g in range { layout.regroup(w, group: g, into: buffer.raw + g * layout.groupBytes) }
        }
        if let pool { pool.parallelFor(groups) { range, _ in body(range) } } else { body(0..<groups) }
        return layout
    }

    /// Group g's chunks from rows 16g..<16g+16 of `w`.
    func regroup(_ w: Tensor, group g: Int, into out: UnsafeMutableRawPointer) {
        for b in 0..<blocks {
            let chunk = out + b * Self.chunkBytes
            for r in 0..<Self.rowsPerGroup {
                let block = UnsafeRawPointer(w.row(g &* Self.rowsPerGroup &+ r)) + b &* Q4_KFormat.blockBytes
                @inline(__always) func copy<T>(_: T.Type, from: Int, to: Int) {
                    chunk.storeBytes(of: block.loadUnaligned(fromByteOffset: from, as: T.self), toByteOffset: to, as: T.self)
                }
                copy(UInt16.self, from: 0, to: Self.dOffset &+ 2 &* r)
                copy(UInt16.self, from: 2, to: Self.dminOffset &+ 2 &* r)
                for i in 0..<3 {
                    copy(UInt32.self, from: Q4_KFormat.scalesOffset &+ 4 &* i, to: Self.scaleWordsOffset &+ 64 &* i &+ 4 &* r)
                }
                for v in 0..<32 {  // the 32 four-byte groups of qs; group v of pair p = v / 8 is at 32p + 4k = 4v
                    copy(UInt32.self, from: Q4_KFormat.qsOffset &+ 4 &* v, to: Self.qsOffset &+ v &* 64 &+ 4 &* r)
                }
            }
        }
    }

    /// Groups `range` (rows 16 * range.lowerBound ..< 16 * range.upperBound): one expert of a stacked
    /// expert tensor.
    func groups(_ range: Range<Int>) -> InterleavedQ4_K {
        precondition(range.lowerBound >= 0 && range.upperBound <= groups, "group slice out of range")
        return InterleavedQ4_K(data: data + range.lowerBound * groupBytes, groups: range.count, blocks: blocks, owner: owner)
    }

    /// Row r's q4_K block b, rebuilt from the chunk (the inverse of `regroup`; for tests).
    func block(row r: Int, _ b: Int) -> [UInt8] {
        let chunk = data + ((r / Self.rowsPerGroup) * blocks + b) * Self.chunkBytes
        let lane = r % Self.rowsPerGroup
        var out = [UInt8](repeating: 0, count: Q4_KFormat.blockBytes)
        out.withUnsafeMutableBytes { o in
            func copy(_ count: Int, from: Int, to: Int) { (o.baseAddress! + to).copyMemory(from: chunk + from, byteCount: count) }
            copy(2, from: Self.dOffset + 2 * lane, to: 0)
            copy(2, from: Self.dminOffset + 2 * lane, to: 2)
            for i in 0..<3 { copy(4, from: Self.scaleWordsOffset + 64 * i + 4 * lane, to: Q4_KFormat.scalesOffset + 4 * i) }
            for p in 0..<4 {
                for k in 0..<8 { copy(4, from: Self.qsOffset + (8 * p + k) * 64 + 4 * lane, to: Q4_KFormat.qsOffset + 32 * p + 4 * k) }
            }
        }
        return out
    }

    #if CTXBENCH_VNNI
    /// y[16g ..< 16g + 16] for g in `range`, `a` the input as q8_K (the row layout's activation).
    func multiply(_ a: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, groups range: Range<Int>) {
        for g in range {
            let sums = Self.dotGroup(data + g * groupBytes, a, blocks: blocks)
            UnsafeMutableRawPointer(y + g * Self.rowsPerGroup).storeBytes(of: sums, as: SIMD16<Float>.self)
        }
    }

    /// One group's 16 dots with the q8_K row `a`, lane r for row r. Per super-block, in int32 and
    /// exact: per sub-block pair, 8 vpdpbusd on the low nibbles (sub-block 2p) and 8 on the high
    /// nibbles masked in place (16 x the level, so that sum is shifted down by 4, exactly), each
    /// times its sub-block's scale (vpmulld); the min term Σ_j min_j * (Σ a over sub-block j, from
    /// q8_K's bsums). Then acc = fma(Float(sum), d * d_a, acc) and acc = fma(Float(mins),
    /// -(dmin * d_a), acc): per row the row layout's arithmetic except that its sum per block is
    /// rounded to float once (the row kernel adds two partial sums in float lanes), so the two
    /// agree to rounding. No software prefetch, unlike the row layout's dots: this loop takes a
    /// chunk in about 100 cycles, and the hardware prefetcher alone kept it at 90-106% of the read
    /// kernel's bandwidth where prefetching 3-9 KiB ahead held it to 52-93% (medians of 4 rounds,
    /// `ctxbench kernels`, q4_K 1024x2304 and 4096x2304, 1 and 2 threads).
    /// Not inlined: scripts/check-kernel-calls reads its symbol.
    @inline(never)
    static func dotGroup(_ chunks: UnsafeRawPointer, _ a: UnsafeRawPointer, blocks: Int) -> SIMD16<Float> {
        typealias Lanes = SIMD16<Int32>
        typealias Raw = SIMD8<Int64>  // __m512i as Swift imports it
        let lowNibbles = Lanes(repeating: 0x0F0F_0F0F)
        let highNibbles = Lanes(repeating: Int32(bitPattern: 0xF0F0_F0F0))
        var acc = SIMD16<Float>()
        for b in 0..<blocks {
            let chunk = chunks + b &* chunkBytes
            let ab = a + b &* Q8_KFormat.blockBytes
            let qa = ab + Q8_KFormat.qsOffset
            @inline(__always) func lanes(_ offset: Int) -> Lanes { chunk.loadUnaligned(fromByteOffset: offset, as: Lanes.self) }
            // Scales and mins of the 16 rows, byte j of a lane for sub-block j (j < 4) or j + 4:
            // `Q4_KFormat.unpackScalesAndMins` on every lane.
            let w0 = lanes(scaleWordsOffset), w1 = lanes(scaleWordsOffset + 64), w2 = lanes(scaleWordsOffset + 128)
            let sixBits = Lanes(repeating: 0x3F3F_3F3F), fourBits = Lanes(repeating: 0x0F0F_0F0F)
            let twoBits = Lanes(repeating: 0x0303_0303)
            let scalesLow = w0 & sixBits
            let scalesHigh = (w2 & fourBits) | (((w0 &>> 6) & twoBits) &<< 4)
            let minsLow = w1 & sixBits
            let minsHigh = ((w2 &>> 4) & fourBits) | (((w1 &>> 6) & twoBits) &<< 4)
            @inline(__always) func byte(_ low: Lanes, _ high: Lanes, _ j: Int) -> Lanes {
                ((j < 4 ? low : high) &>> Int32(8 &* (j & 3))) & Lanes(repeating: 0xFF)
            }
            @inline(__always) func dpbusd(_ acc: Lanes, _ levels: Lanes, _ activation: UnsafeRawPointer) -> Lanes {
                let broadcast = Lanes(repeating: activation.loadUnaligned(as: Int32.self))
                return unsafeBitCast(ctx512_dpbusd_epi32(unsafeBitCast(acc, to: Raw.self), unsafeBitCast(levels, to: Raw.self),
                                                         unsafeBitCast(broadcast, to: Raw.self)), to: Lanes.self)
            }
            var sum = Lanes()
            @inline(__always) func pair(_ p: Int) {
                var even = Lanes(), odd = Lanes()
                @inline(__always) func group(_ k: Int) {
                    let v = lanes(qsOffset &+ (8 &* p &+ k) &* 64)
                    even = dpbusd(even, v & lowNibbles, qa + (64 &* p &+ 4 &* k))
                    odd = dpbusd(odd, v & highNibbles, qa + (64 &* p &+ 32 &+ 4 &* k))
                }
                group(0); group(1); group(2); group(3); group(4); group(5); group(6); group(7)
                sum &+= even &* byte(scalesLow, scalesHigh, 2 &* p) &+ (odd &>> 4) &* byte(scalesLow, scalesHigh, 2 &* p &+ 1)
            }
            pair(0); pair(1); pair(2); pair(3)
            var mins = Lanes()
            for j in 0..<8 {
                let activationSum = Q8_KFormat.bsum(ab, 2 &* j) &+ Q8_KFormat.bsum(ab, 2 &* j &+ 1)
                mins &+= byte(minsLow, minsHigh, j) &* Lanes(repeating: activationSum)
            }
            let da = Q8_KFormat.scale(ab)
            let d = ctx512_cvtph_ps(chunk.loadUnaligned(fromByteOffset: dOffset, as: SIMD4<Int64>.self))
            let dmin = ctx512_cvtph_ps(chunk.loadUnaligned(fromByteOffset: dminOffset, as: SIMD4<Int64>.self))
            acc.addProduct(AVX512Lanes.float(sum), d * da)
            acc.addProduct(AVX512Lanes.float(mins), -(dmin * da))
        }
        return acc
    }
    #endif
}
