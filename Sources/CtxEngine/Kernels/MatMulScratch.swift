/// Scratch memory for matrix products, grown on demand and reused, so a forward pass allocates
/// nothing after its first token. One per thread pool (regions do not nest, so one suffices).
public final class MatMulScratch: @unchecked Sendable {
    public let threads: Int
    /// GEMV: the input vector converted to the weight type's activation format.
    private(set) var activation: AlignedBuffer
    /// GEMM: the input packed into 6-token panels (see `GEMM.packInput`), or IntegerGEMM's quantized rows.
    private(set) var packedInput: AlignedBuffer
    /// GEMM: per thread, a group of weight panels (K x `GEMM.tileRows` floats each) plus as many
    /// dequantized row chunks (tileRows x 256 floats).
    private(set) var panels: [AlignedBuffer]

    public init(threads: Int) {
        self.threads = threads
        activation = try! AlignedBuffer(byteCount: 0)
        packedInput = try! AlignedBuffer(byteCount: 0)
        panels = (0..<threads).map { _ in try! AlignedBuffer(byteCount: 0) }
    }

    func activationBuffer(bytes: Int) -> UnsafeMutableRawPointer {
        if activation.byteCount < bytes { activation = try! AlignedBuffer(byteCount: bytes) }
        return activation.raw
    }

    /// The packed input storage, at least `bytes` long (IntegerGEMM's quantized input rows).
    func packedInputBytes(_ bytes: Int) -> UnsafeMutableRawPointer {
        if packedInput.byteCount < bytes { packedInput = try! AlignedBuffer(byteCount: bytes) }
        return packedInput.raw
    }

    /// The same storage as floats (GEMM's 6-token panels).
    func packedInputBuffer(floats: Int) -> UnsafeMutablePointer<Float> {
        packedInputBytes(floats * 4).bindMemory(to: Float.self, capacity: floats)
    }

    func panelBuffer(thread: Int, floats: Int) -> UnsafeMutablePointer<Float> {
        if panels[thread].byteCount < floats * 4 { panels[thread] = try! AlignedBuffer(byteCount: floats * 4) }
        return panels[thread].pointer(to: Float.self, count: floats)
    }

    /// Grows every per-thread panel before a parallel region (regions must not allocate concurrently
    /// into the shared array).
    func reservePanels(floats: Int) {
        for t in 0..<threads where panels[t].byteCount < floats * 4 {
            panels[t] = try! AlignedBuffer(byteCount: floats * 4)
        }
    }
}
