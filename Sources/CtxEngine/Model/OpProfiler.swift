/// Per-op timers for the forward pass: wall time and calls per (layer, op), aggregated on demand
/// per op, per op family and per layer kind.
///
/// Names are stable (they are CSV keys) and grouped into families that make the three mechanisms
/// visible: `routing` and `experts` (sparse MoE), `mla`, `kda`, `attention` (the part that grows
/// with depth), and the rest. A timer is two monotonic clock reads (~20 ns each) around an op that
/// runs for microseconds; `enabled = false` skips the reads.
public enum Op: Int, CaseIterable, Sendable {
    case embedding, norm, lmHead
    case routerMatmul, routerScoring, routerTopK, moeDispatch, expertFFN, sharedExpert, denseFFN
    case mlaQProjection, mlaLatentDown, mlaCacheWrite, mlaAbsorb, mlaKVUp, mlaAttention, mlaValueUp, mlaOutput
    case gqaProjection, gqaNormRope, gqaCacheWrite, gqaAttention, gqaGate, gqaOutput
    case kdaProjection, kdaConv, kdaQKNorm, kdaGateProjection, kdaGate, kdaRecurrence, kdaOutputNorm, kdaOutputGate, kdaOutput
    case residual

    public var name: String {
        switch self {
        case .embedding: "embedding"
        case .norm: "norm"
        case .lmHead: "lm_head"
        case .routerMatmul: "moe.router_matmul"
        case .routerScoring: "moe.scoring"
        case .routerTopK: "moe.topk"
        case .moeDispatch: "moe.dispatch"
        case .expertFFN: "moe.experts"
        case .sharedExpert: "moe.shared_expert"
        case .denseFFN: "ffn.dense"
        case .mlaQProjection: "mla.q_proj"
        case .mlaLatentDown: "mla.latent_down"
        case .mlaCacheWrite: "mla.cache_write"
        case .mlaAbsorb: "mla.absorb"
        case .mlaKVUp: "mla.kv_up"
        case .mlaAttention: "mla.attention"
        case .mlaValueUp: "mla.value_up"
        case .mlaOutput: "mla.out_proj"
        case .gqaProjection: "gqa.qkv_proj"
        case .gqaNormRope: "gqa.qk_norm_rope"
        case .gqaCacheWrite: "gqa.cache_write"
        case .gqaAttention: "gqa.attention"
        case .gqaGate: "gqa.gate"
        case .gqaOutput: "gqa.out_proj"
        case .kdaProjection: "kda.proj"
        case .kdaConv: "kda.conv"
        case .kdaQKNorm: "kda.qk_norm"
        case .kdaGateProjection: "kda.gate_proj"
        case .kdaGate: "kda.gate"
        case .kdaRecurrence: "kda.recurrence"
        case .kdaOutputNorm: "kda.out_norm"
        case .kdaOutputGate: "kda.out_gate"
        case .kdaOutput: "kda.out_proj"
        case .residual: "residual"
        }
    }

    public enum Family: String, CaseIterable, Sendable {
        /// Router matmul, scoring, top-k, dispatch.
        case routing
        /// Routed and shared expert FFNs, dense FFNs.
        case experts
        /// MLA projections (q, latent down, absorption, value up, output; the naive form's per-key
        /// K/V up-projections) and cache writes.
        case mla
        /// Attention over a cache (MLA and GQA): the cost that grows with depth.
        case attention
        /// GQA projections, q/k norms, RoPE, cache writes, output gate.
        case gqa
        /// KDA projections, conv, q/k L2 norms, gate projections and activations, recurrence,
        /// output norm and gate, output projection.
        case kda
        /// Embedding, norms, residual adds, LM head.
        case other
    }

    public var family: Family {
        switch self {
        case .routerMatmul, .routerScoring, .routerTopK, .moeDispatch: .routing
        case .expertFFN, .sharedExpert, .denseFFN: .experts
        case .mlaAttention, .gqaAttention: .attention
        case .mlaQProjection, .mlaLatentDown, .mlaCacheWrite, .mlaAbsorb, .mlaKVUp, .mlaValueUp, .mlaOutput: .mla
        case .gqaProjection, .gqaNormRope, .gqaCacheWrite, .gqaGate, .gqaOutput: .gqa
        case .kdaProjection, .kdaConv, .kdaQKNorm, .kdaGateProjection, .kdaGate, .kdaRecurrence, .kdaOutputNorm,
             .kdaOutputGate, .kdaOutput: .kda
        case .embedding, .norm, .lmHead, .residual: .other
        }
    }

    /// Whether the op belongs to a layer's token mixer (attention/KDA) or to its FFN; used to
    /// attribute time to layer kinds when projecting a slice to the full model.
    public var part: LayerPart {
        switch family {
        case .routing, .experts: .ffn
        case .mla, .attention, .gqa, .kda: .mixer
        case .other: .shared
        }
    }

    public enum LayerPart: Sendable { case mixer, ffn, shared }
}

/// Accumulated time and calls per (slot, op). Slot = layer index; slot `layers` holds model-level
/// ops (embedding, final norm, LM head).
public final class OpProfiler: @unchecked Sendable {
    public var enabled: Bool
    public let slots: Int
    private var nanoseconds: [UInt64]
    private var calls: [UInt64]

    public init(layers: Int, enabled: Bool = true) {
        self.enabled = enabled
        slots = layers + 1
        nanoseconds = Array(repeating: 0, count: slots * Op.allCases.count)
        calls = Array(repeating: 0, count: slots * Op.allCases.count)
    }

    public var modelSlot: Int { slots - 1 }

    @inline(__always)
    public func time<R>(_ op: Op, layer: Int, _ body: () throws -> R) rethrows -> R {
        guard enabled else { return try body() }
        let start = monotonicNanoseconds()
        let result = try body()
        record(op, layer: layer, nanoseconds: monotonicNanoseconds() &- start)
        return result
    }

    /// Adds one call of `nanoseconds` to an op, as `time` does after measuring (imports, tests).
    @inline(__always)
    public func record(_ op: Op, layer: Int, nanoseconds ns: UInt64) {
        let index = layer * Op.allCases.count + op.rawValue
        nanoseconds[index] &+= ns
        calls[index] &+= 1
    }

    public func reset() {
        for i in nanoseconds.indices { nanoseconds[i] = 0; calls[i] = 0 }
    }

    /// Adds `other`'s counts (same layer count) to this profiler's.
    public func absorb(_ other: OpProfiler) {
        precondition(other.slots == slots, "profilers of different layer counts")
        for i in nanoseconds.indices {
            nanoseconds[i] &+= other.nanoseconds[i]
            calls[i] &+= other.calls[i]
        }
    }

    public struct Entry: Sendable, Equatable {
        public var nanoseconds: UInt64
        public var calls: UInt64
    }

    public func entry(_ op: Op, slot: Int) -> Entry {
        let i = slot * Op.allCases.count + op.rawValue
        return Entry(nanoseconds: nanoseconds[i], calls: calls[i])
    }

    /// Totals per op over all slots, in `Op.allCases` order, ops never called left out.
    public func totalsByOp() -> [(op: Op, entry: Entry)] {
        Op.allCases.compactMap { op in
            var e = Entry(nanoseconds: 0, calls: 0)
            for s in 0..<slots {
                let x = entry(op, slot: s)
                e.nanoseconds += x.nanoseconds
                e.calls += x.calls
            }
            return e.calls > 0 ? (op, e) : nil
        }
    }

    /// Sum of op time in `slot` for ops of `part`.
    public func nanoseconds(slot: Int, part: Op.LayerPart) -> UInt64 {
        Op.allCases.filter { $0.part == part }.reduce(0) { $0 + entry($1, slot: slot).nanoseconds }
    }

    public var totalNanoseconds: UInt64 { nanoseconds.reduce(0, +) }
}
