/// KDA's per-sequence state: the recurrent state S [heads][K][V] and the short-conv state, the
/// last kernel-1 raw (pre-conv) inputs of q, k and v, each [kernel-1][heads*headDim], oldest first.
/// Both are fixed-size whatever the context length: KDA's cost does not grow with depth.
public final class KDAState: @unchecked Sendable {
    public let heads: Int
    public let headDim: Int
    public let convRows: Int
    let recurrent: AlignedBuffer
    let conv: AlignedBuffer

    init(heads: Int, headDim: Int, convKernel: Int, placement: MemoryPlacement) throws {
        self.heads = heads
        self.headDim = headDim
        convRows = convKernel - 1
        recurrent = try AlignedBuffer(byteCount: heads * headDim * headDim * 4, placement: placement)
        conv = try AlignedBuffer(byteCount: 3 * convRows * heads * headDim * 4, placement: placement)
        reset()
    }

    public var recurrentCount: Int { heads * headDim * headDim }
    public var convCount: Int { 3 * convRows * heads * headDim }
    public var s: UnsafeMutablePointer<Float> { recurrent.pointer(to: Float.self) }
    /// Conv state of stream 0 (q), 1 (k) or 2 (v): [convRows][heads*headDim].
    func convState(_ stream: Int) -> UnsafeMutablePointer<Float> {
        conv.pointer(to: Float.self) + stream * convRows * heads * headDim
    }

    public func reset() {
        s.initialize(repeating: 0, count: recurrentCount)
        conv.pointer(to: Float.self).initialize(repeating: 0, count: convCount)
    }

    func copy(from other: KDAState) {
        s.update(from: other.s, count: recurrentCount)
        conv.pointer(to: Float.self).update(from: other.conv.pointer(to: Float.self), count: convCount)
    }
}

/// The per-sequence memory of one layer: what a context of `position` tokens leaves behind.
public enum LayerState: @unchecked Sendable {
    case kda(KDAState)
    /// The latent cache: per token [c_kv (kvLoraRank) ; k_pe (qkRopeDim)].
    case mla(KVCache)
    /// Per KV head a K cache and a V cache (headDim wide), ring caches on sliding-window layers.
    case gqa(keys: [KVCache], values: [KVCache])
}

/// Everything a sequence carries between forward calls: its length and every layer's state.
public final class InferenceState: @unchecked Sendable {
    public let layers: [LayerState]
    public let capacity: Int
    public let cacheType: DType
    /// Tokens in the context so far (the position of the next token).
    public internal(set) var position = 0

    /// States for `model`, able to hold `capacity` tokens of context. Linear caches are allocated
    /// for the full capacity up front (pages are touched only as tokens are written).
    public init(model: Model, capacity: Int, cacheType: DType, placement: MemoryPlacement = .firstTouch) throws {
        let c = model.config
        self.capacity = capacity
        self.cacheType = cacheType
        layers = try (0..<model.layerCount).map { i -> LayerState in
            switch c.mixer(ofLayer: i) {
            case .kda:
                return .kda(try KDAState(heads: c.kdaHeads, headDim: c.kdaHeadDim, convKernel: c.kdaConvKernel,
                                         placement: placement))
            case .mla:
                return .mla(try KVCache(type: cacheType, width: c.kvLoraRank + c.qkRopeDim, capacity: capacity,
                                        ring: false, placement: placement))
            case .gqaFull, .gqaSliding:
                let sliding = c.mixer(ofLayer: i) == .gqaSliding
                let slots = sliding ? min(capacity, c.slidingWindow + model.maxBatch) : capacity
                func caches() throws -> [KVCache] {
                    try (0..<c.kvHeads).map { _ in
                        try KVCache(type: cacheType, width: c.headDim, capacity: slots, ring: sliding, placement: placement)
                    }
                }
                return .gqa(keys: try caches(), values: try caches())
            }
        }
    }

    /// Bytes of all caches and states.
    public var byteCount: Int {
        layers.reduce(0) { total, layer in
            switch layer {
            case let .kda(s): total + (s.recurrentCount + s.convCount) * 4
            case let .mla(cache): total + cache.byteCount
            case let .gqa(k, v): total + (k + v).reduce(0) { $0 + $1.byteCount }
            }
        }
    }

    /// Forgets the context: position 0, KDA states zeroed (cache rows are simply overwritten).
    public func reset() {
        position = 0
        for case let .kda(s) in layers { s.reset() }
    }
}

/// What it takes to return a state to an earlier position: the fixed-size parts (KDA states and
/// sliding-window rings) copied; linear caches need no copy, because rows past the position are
/// simply overwritten by the next tokens. Repetitions at depth D all start from one snapshot.
public final class StateSnapshot: @unchecked Sendable {
    let position: Int
    let kda: [Int: KDAState]
    let rings: [Int: [KVCache]]

    init(position: Int, kda: [Int: KDAState], rings: [Int: [KVCache]]) {
        self.position = position
        self.kda = kda
        self.rings = rings
    }
}

extension InferenceState {
    public func snapshot() throws -> StateSnapshot {
        var kda: [Int: KDAState] = [:], rings: [Int: [KVCache]] = [:]
        for (i, layer) in layers.enumerated() {
            switch layer {
            case let .kda(s):
                let copy = try KDAState(heads: s.heads, headDim: s.headDim, convKernel: s.convRows + 1, placement: .firstTouch)
                copy.copy(from: s)
                kda[i] = copy
            case let .gqa(keys, values):
                // Linear caches need no copy (rows past the position are overwritten); rings do.
                guard keys.first?.isRing == true else { continue }
                rings[i] = try (keys + values).map { cache in
                    let copy = try KVCache(type: cache.type, width: cache.width, capacity: cache.capacity, ring: true)
                    copy.copyRows(0..<cache.capacity, from: cache)
                    return copy
                }
            case .mla:
                continue  // a linear cache: nothing to copy
            }
        }
        return StateSnapshot(position: position, kda: kda, rings: rings)
    }

    public func restore(_ snapshot: StateSnapshot) {
        for (i, layer) in layers.enumerated() {
            switch layer {
            case let .kda(s): s.copy(from: snapshot.kda[i]!)
            case let .gqa(keys, values):
                guard let saved = snapshot.rings[i] else { continue }  // linear caches
                for (cache, copy) in zip(keys + values, saved) { cache.copyRows(0..<cache.capacity, from: copy) }
            case .mla: continue
            }
        }
        position = snapshot.position
    }
}
