/// A cache of per-token rows (`width` values each) in f32, f16 or q8_0: the MLA latent cache
/// (576 = 512 latent + 64 rope-part per token, shared by all heads) or one of a GQA layer's K or V
/// caches (kvHeads x headDim per token).
///
/// A linear cache holds positions 0..<capacity at slot = position. A ring cache (sliding-window
/// layers) holds the most recent `capacity` positions at slot = position % capacity; its capacity is
/// the window plus the largest micro-batch, so every key a query of the batch can see is still
/// present after the whole batch is written.
public final class KVCache: @unchecked Sendable {
    public let type: DType
    public let width: Int
    public let capacity: Int
    public let isRing: Bool
    public let rowBytes: Int
    let storage: AlignedBuffer

    public static let types: [DType] = [.f32, .f16, .q8_0]

    public init(type: DType, width: Int, capacity: Int, ring: Bool, placement: MemoryPlacement = .firstTouch) throws {
        precondition(KVCache.types.contains(type), "cache type must be f32, f16 or q8_0")
        try type.checkRowLength(width)
        self.type = type
        self.width = width
        self.capacity = capacity
        self.isRing = ring
        rowBytes = type.rowBytes(width)
        storage = try AlignedBuffer(byteCount: capacity * rowBytes, placement: placement)
    }

    public var byteCount: Int { storage.byteCount }

    @inline(__always)
    public func slot(_ position: Int) -> Int {
        if isRing { return position % capacity }
        precondition(position < capacity, "cache of \(capacity) tokens is full")
        return position
    }

    @inline(__always)
    func rowPointer(_ position: Int) -> UnsafeMutableRawPointer { storage.raw + slot(position) * rowBytes }

    /// Stores `width` floats as the row of `position`.
    public func write(_ values: UnsafePointer<Float>, position: Int) {
        type.format.quantize(values, rowPointer(position), count: width)
    }

    /// Positions p..<p+n are contiguous in memory (no ring wrap in between) up to this position.
    @inline(__always)
    func contiguousEnd(from position: Int, limit: Int) -> Int {
        guard isRing else { return limit }
        return min(limit, position - position % capacity + capacity)
    }

    /// Rows of positions `range` (contiguous slots) as floats, `width` apart: the cache memory itself
    /// for f32, else dequantized into `scratch` (which must hold range.count * width floats).
    @inline(__always)
    func floatRows(_ range: Range<Int>, scratch: UnsafeMutablePointer<Float>) -> UnsafePointer<Float> {
        let base = rowPointer(range.lowerBound)
        if type == .f32 { return UnsafePointer(base.assumingMemoryBound(to: Float.self)) }
        type.format.dequantize(base, scratch, count: range.count * width)
        return UnsafePointer(scratch)
    }

    /// One row as floats into `out`.
    public func readRow(_ position: Int, into out: UnsafeMutablePointer<Float>) {
        type.format.dequantize(rowPointer(position), out, count: width)
    }

    /// Copies the rows of positions `range` from `other` (same shape): snapshot and restore.
    public func copyRows(_ range: Range<Int>, from other: KVCache) {
        precondition(other.type == type && other.width == width && other.capacity == capacity)
        for p in range { rowPointer(p).copyMemory(from: other.rowPointer(p), byteCount: rowBytes) }
    }
}
