import CPlatform
#if CTXBENCH_VNNI
import CX86Intrinsics
#endif

/// A weight matrix regrouped 16 rows at a time: decode's GEMV layout on CPUs with AVX-512 VNNI for
/// the K-quants of a q4_K_M or q4_K_S file (q4_K, `Q4_KInterleaved`; q5_K, `Q5_KInterleaved`; q6_K,
/// `Q6_KInterleaved`), for q8_0, q5_0 and f16 (`Q8_0Interleaved`, `Q5_0Interleaved`,
/// `F16Interleaved`), built once when a model loads (`Tensor.interleaveForDecode`), beside the
/// stored rows that prefill reads.
///
/// Why: the row-layout K-quant dots (`KQuantDot`) spend per 256 values and row about 75
/// instructions (q4_K), a third of them shuffles that spread one row's sub-block scales over its
/// lanes; from cache they ran no faster than from DRAM (about 15 GB/s a thread on Zen 4), so
/// decode was bound by them, not by memory. With 16 rows side by side, lane r of a 512-bit vector
/// is row r: one vpdpbusd takes 4 values of 16 rows against 4 broadcast activation bytes, and a
/// sub-block's scale multiplies 16 rows' int32 sums in one vpmulld, with no shuffle.
///
/// Per group of 16 rows and block (a super-block of 256 columns; q8_0, q5_0: 32; f16: 1) there is one
/// chunk of 16 x the format's block bytes: the same bytes as the 16 rows' blocks (q8_0's levels
/// with their sign bit toggled), each field's bytes of the 16 rows side by side (the format's
/// `fields`). A group's chunks run over the columns in order and groups follow one another, so each
/// GEMV thread still reads one contiguous stream: taking 2 or 4 rows of the row layout at once (two
/// to four streams a thread) halved the f16 GEMV's DRAM speed here.
public struct InterleavedWeights: @unchecked Sendable {
    public static let rowsPerGroup = 16

    public let type: DType
    /// Chunk (0, 0).
    let data: UnsafeRawPointer
    /// Groups of 16 rows.
    public let groups: Int
    /// Super-blocks per row.
    let blocks: Int
    /// Keeps `data` alive.
    let owner: AnyObject

    var chunkBytes: Int { Self.rowsPerGroup * type.blockBytes }
    var groupBytes: Int { blocks * chunkBytes }
    public var byteCount: Int { groups * groupBytes }

    /// The format unit of `type`, where there is one.
    static func format(_ type: DType) -> (any InterleavedFormat.Type)? {
        switch type {
        case .q4_K: Q4_KInterleaved.self
        case .q5_K: Q5_KInterleaved.self
        case .q6_K: Q6_KInterleaved.self
        case .q8_0: Q8_0Interleaved.self
        case .q5_0: Q5_0Interleaved.self
        case .f16: F16Interleaved.self
        default: nil
        }
    }

    /// The unit that regroups `w`: its type's, when its rows are a positive multiple of 16.
    static func format(of w: Tensor) -> (any InterleavedFormat.Type)? {
        w.rows > 0 && w.rows % rowsPerGroup == 0 ? format(w.type) : nil
    }

    /// Whether this build decodes `w` from a regrouped copy: AVX-512 VNNI, and `w` has a unit.
    public static func takes(_ w: Tensor) -> Bool {
        #if CTXBENCH_VNNI
        return format(of: w) != nil
        #else
        return false
        #endif
    }

    /// `w` regrouped (on any build; only VNNI builds multiply with it), or nil when its type has no
    /// unit here or its rows are not a multiple of 16.
    public static func regrouping(_ w: Tensor, pool: ThreadPool? = nil) throws -> InterleavedWeights? {
        guard let format = format(of: w) else { return nil }
        let blocks = w.cols / w.type.blockValues
        let groups = w.rows / rowsPerGroup
        let buffer = try AlignedBuffer(byteCount: groups * blocks * rowsPerGroup * w.type.blockBytes)
        let layout = InterleavedWeights(type: w.type, data: UnsafeRawPointer(buffer.raw), groups: groups, blocks: blocks, owner: buffer)
        // Groups in parallel: each thread first-touches the groups it regroups.
        let body: (Range<Int>) -> Void = { range in format.regroup(w, groups: range, of: layout, into: buffer.raw) }
        if let pool { pool.parallelFor(groups) { range, _ in body(range) } } else { body(0..<groups) }
        return layout
    }

    /// Groups `range` of `w` into `out` (chunk (0, 0)), specialized per format so its fields inline
    /// (called from the format's `regroup`).
    func regroup<F: InterleavedFormat>(_: F.Type, _ w: Tensor, groups range: Range<Int>, into out: UnsafeMutableRawPointer) {
        let blockBytes = type.blockBytes, chunkBytes = chunkBytes, groupBytes = groupBytes  // not per field
        for g in range {
            for b in 0..<blocks {
                let chunk = out + (g &* groupBytes &+ b &* chunkBytes)
                for r in 0..<Self.rowsPerGroup {
                    let block = UnsafeRawPointer(w.row(g &* Self.rowsPerGroup &+ r)) + b &* blockBytes
                    F.fields(lane: r) { stored, regrouped, bytes in
                        Self.copy(bytes, from: block + stored, to: chunk + regrouped, flippingSigns: F.signFlippedBytes.contains(regrouped))
                    }
                }
            }
        }
    }

    /// 2 or 4 bytes (the fields' sizes) as one load and one store; `flippingSigns`: each byte's top
    /// bit toggled (int8 level <-> level + 128 as uint8, either way).
    @inline(__always)
    static func copy(_ bytes: Int, from: UnsafeRawPointer, to: UnsafeMutableRawPointer, flippingSigns: Bool = false) {
        if bytes == 4 {
            to.storeBytes(of: from.loadUnaligned(as: UInt32.self) ^ (flippingSigns ? 0x8080_8080 : 0), as: UInt32.self)
        } else {
            precondition(bytes == 2 && !flippingSigns, "interleaved fields are 2 or 4 bytes, levels 4")
            to.storeBytes(of: from.loadUnaligned(as: UInt16.self), as: UInt16.self)
        }
    }

    /// Groups `range` (rows 16 * range.lowerBound ..< 16 * range.upperBound): one expert of a stacked
    /// expert tensor, or one head's rows.
    func groups(_ range: Range<Int>) -> InterleavedWeights {
        precondition(range.lowerBound >= 0 && range.upperBound <= groups, "group slice out of range")
        return InterleavedWeights(type: type, data: data + range.lowerBound * groupBytes, groups: range.count, blocks: blocks,
                                  owner: owner)
    }

    /// Row r's stored block b, rebuilt from the chunk (the inverse of the regrouping; for tests).
    func block(row r: Int, _ b: Int) -> [UInt8] {
        let chunk = data + ((r / Self.rowsPerGroup) * blocks + b) * chunkBytes
        var out = [UInt8](repeating: 0, count: type.blockBytes)
        out.withUnsafeMutableBytes { o in
            let format = Self.format(type)!
            format.fields(lane: r % Self.rowsPerGroup) { stored, regrouped, bytes in
                Self.copy(bytes, from: chunk + regrouped, to: o.baseAddress! + stored, flippingSigns: format.signFlippedBytes.contains(regrouped))
            }
        }
        return out
    }

    #if CTXBENCH_VNNI
    /// y[16g ..< 16g + 16] for g in `range`, `a` the input in the format's activation type (q8_K,
    /// q8_0, f16).
    func multiply(_ a: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, groups range: Range<Int>) {
        Self.format(type)!.multiply(self, a, y, groups: range)
    }

    /// Group g's first chunk.
    func chunks(ofGroup g: Int) -> UnsafeRawPointer { data + g &* groupBytes }
    #endif
}

/// A format `InterleavedWeights` regroups: where each field of a stored block goes in a chunk.
protocol InterleavedFormat {
    /// Calls `visit(stored offset, chunk offset, bytes)` for every field of lane r's block
    /// (2 or 4 bytes each; together they cover the block once).
    static func fields(lane r: Int, _ visit: (Int, Int, Int) -> Void)
    /// The chunk bytes that hold signed levels stored + 128 (top bit toggled), so that vpdpbusd
    /// takes them as its unsigned operand (q8_0); empty where the levels are unsigned already.
    static var signFlippedBytes: Range<Int> { get }
    static func regroup(_ w: Tensor, groups range: Range<Int>, of layout: InterleavedWeights, into out: UnsafeMutableRawPointer)
    #if CTXBENCH_VNNI
    /// One group's 16 dots with the activation row `a` (as `multiply` hands it: the format's
    /// activation type, q8_K or q8_0, by default), lane r for row r, over `blocks` chunks from
    /// `chunks`.
    /// `distance`: bytes ahead to prefetch, 0 for none (`Prefetch.regroupedDistance`, read once
    /// per GEMV call: a global's lazy initialization is a call the kernels must not hold).
    static func dotGroup(_ chunks: UnsafeRawPointer, _ a: UnsafeRawPointer, blocks: Int, prefetch distance: Int) -> SIMD16<Float>
    /// y[16g ..< 16g + 16] = `dotGroup` of group g for g in `range`, from the activation in the
    /// format's activation type.
    static func multiply(_ layout: InterleavedWeights, _ a: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>,
                         groups range: Range<Int>)
    #endif
}

extension InterleavedFormat {
    static var signFlippedBytes: Range<Int> { 0..<0 }

    /// `layout.regroup` for this format: a requirement, so that a call on `any InterleavedFormat.Type`
    /// reaches a copy specialized for the format (through the opened existential, the generic
    /// copy called `fields`, `signFlippedBytes` and `blockBytes` as witnesses for every 2 bytes:
    /// 11 s to regroup Step-wide's 2.5 GiB of f16).
    static func regroup(_ w: Tensor, groups range: Range<Int>, of layout: InterleavedWeights, into out: UnsafeMutableRawPointer) {
        layout.regroup(Self.self, w, groups: range, into: out)
    }

    #if CTXBENCH_VNNI
    static func multiply(_ layout: InterleavedWeights, _ a: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>,
                         groups range: Range<Int>) {
        storeDots(layout, a, y, groups: range)
    }

    /// y[16g ..< 16g + 16] = `dotGroup` of group g with `a` as it is, for g in `range`.
    static func storeDots(_ layout: InterleavedWeights, _ a: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>,
                          groups range: Range<Int>) {
        let distance = Prefetch.regroupedDistance
        for g in range {
            let sums = dotGroup(layout.chunks(ofGroup: g), a, blocks: layout.blocks, prefetch: distance)
            UnsafeMutableRawPointer(y + g &* InterleavedWeights.rowsPerGroup).storeBytes(of: sums, as: SIMD16<Float>.self)
        }
    }
    #endif
}

#if CTXBENCH_VNNI
/// A unit of 32-value blocks taken against q8_0 activation blocks (q8_0, q5_0): per group and
/// block one chunk of 16 stored blocks' bytes, the 16 rows' f16 scales in its first 32 bytes.
protocol BlocksOf32Interleaved: InterleavedFormat {
    /// One stored block's bytes.
    static var storedBlockBytes: Int { get }
    /// Lane r: Σ level x a over the block for row r, in int32 and exact (`levels`: the activation
    /// block's 32 int8).
    static func levelDot(_ chunk: UnsafeRawPointer, _ levels: UnsafeRawPointer) -> InterleavedLanes.Lanes
}

extension BlocksOf32Interleaved {
    /// `dotGroup` of these units: per block acc = fma(Float(levelDot), d * d_a, acc), the chunks in
    /// address order. The row layouts' kernels add the same per-block products in other float
    /// lanes, so the two agree to rounding. Generic and inlined into each unit's `dotGroup`, so
    /// `levelDot` inlines too (passed as a closure to one shared loop, it stayed a call).
    @inline(__always)
    static func blockDots(_ chunks: UnsafeRawPointer, _ a: UnsafeRawPointer, blocks: Int, prefetch distance: Int) -> SIMD16<Float> {
        let chunkBytes = InterleavedWeights.rowsPerGroup &* storedBlockBytes
        var acc = SIMD16<Float>()
        for b in 0..<blocks {
            ctx_compiler_barrier()  // this block's loads after the previous block's
            let chunk = chunks + b &* chunkBytes, activation = a + b &* Q8_0Format.blockBytes
            Prefetch.ahead(chunk, bytes: chunkBytes, distance: distance)
            let sums = levelDot(chunk, activation + Q8_0Format.qsOffset)
            acc.addProduct(AVX512Lanes.float(sums), InterleavedLanes.halves(chunk) * activation.f16(at: 0))
        }
        return acc
    }
}

/// The int32 dot products the units' kernels are made of.
enum InterleavedLanes {
    typealias Lanes = SIMD16<Int32>
    typealias Raw = SIMD8<Int64>  // __m512i as Swift imports it

    /// acc + Σ of each 4 u8 levels (lane r: row r) times the 4 s8 activation bytes at `activation`
    /// (vpdpbusd with the 4 bytes broadcast).
    @inline(__always)
    static func dpbusd(_ acc: Lanes, _ levels: Lanes, _ activation: UnsafeRawPointer) -> Lanes {
        let broadcast = Lanes(repeating: activation.loadUnaligned(as: Int32.self))
        return unsafeBitCast(ctx512_dpbusd_epi32(unsafeBitCast(acc, to: Raw.self), unsafeBitCast(levels, to: Raw.self),
                                                 unsafeBitCast(broadcast, to: Raw.self)), to: Lanes.self)
    }

    /// Super-block b of a group: its chunk (of `chunkBytes`, from `chunks`) and the activation's q8_K
    /// block.
    struct Block {
        let chunk: UnsafeRawPointer
        let activation: UnsafeRawPointer
        @inline(__always) init(_ b: Int, of chunks: UnsafeRawPointer, chunkBytes: Int, activation a: UnsafeRawPointer) {
            chunk = chunks + b &* chunkBytes
            activation = a + b &* Q8_KFormat.blockBytes
        }
        /// The activation's 256 levels (int8).
        var levels: UnsafeRawPointer { activation + Q8_KFormat.qsOffset }
        /// 64 bytes of the chunk at `offset`: one byte group of the 16 rows.
        @inline(__always) func lanes(_ offset: Int) -> Lanes { chunk.loadUnaligned(fromByteOffset: offset, as: Lanes.self) }
    }

    /// Σ of the 32 int8 levels at `levels` (a q8_0 activation block's): one ymm vpdpbusd against
    /// bytes of 1, then across its 8 lanes.
    @inline(__always)
    static func sum32(_ levels: UnsafeRawPointer) -> Int32 {
        let ones = unsafeBitCast(SIMD8<Int32>(repeating: 0x0101_0101), to: SIMD4<Int64>.self)
        let partial = ctx_dpbusd_epi32(SIMD4<Int64>(), ones, levels.loadUnaligned(as: SIMD4<Int64>.self))
        return unsafeBitCast(partial, to: SIMD8<Int32>.self).wrappedSum()
    }

    /// 16 halves at `p` as floats (vcvtph2ps).
    @inline(__always)
    static func halves(_ p: UnsafeRawPointer) -> SIMD16<Float> { ctx512_cvtph_ps(p.loadUnaligned(as: SIMD4<Int64>.self)) }
}
#endif
