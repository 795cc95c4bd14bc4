/// A row-major matrix of `rows` x `cols` values of one `DType`, in a 64-byte-aligned buffer placed
/// by the run's NUMA policy. Quantized rows are sequences of GGUF blocks, packed back to back as in
/// a GGUF file (row r starts at r * rowBytes). A vector is a tensor with one row.
public final class Tensor: @unchecked Sendable {
    public let type: DType
    public let rows: Int
    public let cols: Int
    /// Bytes per row: cols / blockValues * blockBytes.
    public let rowBytes: Int
    /// What keeps this tensor's memory alive: its own buffer, a parent's (a row slice), or a
    /// memory-mapped GGUF file (weights read in place).
    public let storage: AnyObject
    /// Address of row 0.
    public let data: UnsafeMutableRawPointer
    /// The same rows regrouped for decode's GEMV (`InterleavedWeights`), once `interleaveForDecode`
    /// has built them; GEMV then reads these and prefill the rows above.
    public private(set) var decodeLayout: InterleavedWeights?

    public init(type: DType, rows: Int, cols: Int, placement: MemoryPlacement = .firstTouch) throws {
        precondition(rows >= 0 && cols >= 0, "negative tensor shape")
        try type.checkRowLength(cols)
        self.type = type
        self.rows = rows
        self.cols = cols
        self.rowBytes = type.rowBytes(cols)
        let buffer = try AlignedBuffer(byteCount: rows * rowBytes, placement: placement)
        self.storage = buffer
        self.data = buffer.raw
    }

    /// A tensor over memory another object owns (a GGUF file's mapping): no copy.
    public init(type: DType, rows: Int, cols: Int, data: UnsafeRawPointer, owner: AnyObject) throws {
        try type.checkRowLength(cols)
        self.type = type
        self.rows = rows
        self.cols = cols
        self.rowBytes = type.rowBytes(cols)
        self.storage = owner
        self.data = UnsafeMutableRawPointer(mutating: data)
    }

    private init(slicing parent: Tensor, rows range: Range<Int>) {
        type = parent.type
        rows = range.count
        cols = parent.cols
        rowBytes = parent.rowBytes
        storage = parent.storage
        data = parent.data + range.lowerBound * parent.rowBytes
        let group = InterleavedWeights.rowsPerGroup
        if let layout = parent.decodeLayout, range.lowerBound % group == 0, range.upperBound % group == 0 {
            decodeLayout = layout.groups(range.lowerBound / group ..< range.upperBound / group)
        }
    }

    /// Builds `decodeLayout` where the build has a kernel for one (AVX-512 VNNI) and the tensor
    /// fits it (q4_K, q5_K, q6_K, q8_0, q5_0 or f16, rows a multiple of 16); returns the bytes added, 0 where it
    /// builds none.
    /// Slices taken afterwards share it.
    @discardableResult
    public func interleaveForDecode(pool: ThreadPool? = nil) throws -> Int {
        #if CTXBENCH_VNNI
        guard decodeLayout == nil, let layout = try InterleavedWeights.regrouping(self, pool: pool) else { return 0 }
        decodeLayout = layout
        return layout.byteCount
        #else
        return 0
        #endif
    }

    /// Rows `range` of this tensor as a tensor of its own, sharing storage: one expert of a stacked
    /// expert tensor, or one head's rows of a per-head projection.
    public func rows(_ range: Range<Int>) -> Tensor {
        precondition(range.lowerBound >= 0 && range.upperBound <= rows, "row slice out of range")
        return Tensor(slicing: self, rows: range)
    }

    public var byteCount: Int { rows * rowBytes }

    @inline(__always)
    public func row(_ r: Int) -> UnsafeMutableRawPointer { data + r &* rowBytes }

    /// Quantizes `values` (rows * cols floats, row-major) into a new tensor of `type`.
    public static func quantizing(_ values: UnsafePointer<Float>, rows: Int, cols: Int, as type: DType,
                                  placement: MemoryPlacement = .firstTouch) throws -> Tensor {
        let tensor = try Tensor(type: type, rows: rows, cols: cols, placement: placement)
        for r in 0..<rows {
            type.format.quantize(values + r * cols, tensor.row(r), count: cols)
        }
        return tensor
    }

    public static func quantizing(_ values: [Float], rows: Int, cols: Int, as type: DType) throws -> Tensor {
        precondition(values.count == rows * cols, "value count does not match the shape")
        return try values.withUnsafeBufferPointer { try quantizing($0.baseAddress!, rows: rows, cols: cols, as: type) }
    }

    /// Row r expanded to floats.
    public func dequantizedRow(_ r: Int) -> [Float] {
        [Float](unsafeUninitializedCapacity: cols) { buffer, count in
            type.format.dequantize(row(r), buffer.baseAddress!, count: cols)
            count = cols
        }
    }
}
