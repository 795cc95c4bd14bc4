/// Reaching a context depth without computing it: plausible values written straight into the
/// caches and states, in the same layout and types a real prefill leaves, so reading them costs
/// the same. This is how the runner sweeps to 262K tokens on a small machine; `forward` from the
/// filled state runs exactly the code a computed context would.
///
/// Values: MLA latent rows and GQA keys are unit-RMS (as they are after their RMSNorms), k_pe and
/// values unit Gaussian (projections of normed activations); KDA states small (0.05 std: l2-normed
/// keys and decays keep S near that scale), conv states unit Gaussian.
extension Model {
    public func fillSynthetic(_ state: InferenceState, depth: Int, seed: UInt64, pool: ThreadPool) {
        precondition(depth >= 0 && depth <= state.capacity, "depth \(depth) exceeds the state's capacity \(state.capacity)")
        for (layer, layerState) in state.layers.enumerated() {
            let stream = seed ^ fnv1a("context.\(layer)")
            switch layerState {
            case let .kda(s):
                var random = SeededRandom(seed: stream)
                random.fillFast(s.s, count: s.recurrentCount, scale: 0.05)
                random.fillFast(s.convState(0), count: s.convCount, scale: 1)
            case let .mla(cache):
                Self.fillRows(cache, depth: depth, stream: stream, pool: pool)
            case let .gqa(keys, values):
                for (h, cache) in (keys + values).enumerated() {
                    Self.fillRows(cache, depth: depth, stream: stream ^ UInt64(h + 1) &* 0x9E37_79B9, pool: pool)
                }
            }
        }
        state.position = depth
    }

    /// Rows for positions ..<depth (a ring cache keeps only its last `capacity`), in parallel.
    static func fillRows(_ cache: KVCache, depth: Int, stream: UInt64, pool: ThreadPool) {
        let first = cache.isRing ? max(0, depth - cache.capacity) : 0
        pool.parallelFor(depth - first, schedule: .dynamic(chunk: 256)) { range, _ in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: cache.width) { row in
                for i in range {
                    var random = SeededRandom(seed: stream, stream: UInt64(first + i))
                    random.fillFast(row.baseAddress!, count: cache.width)
                    cache.write(row.baseAddress!, position: first + i)
                }
            }
        }
    }
}
