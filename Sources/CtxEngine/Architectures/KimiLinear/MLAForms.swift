/// How an MLA layer attends (`MLALayer`). The absorbed and the naive form compute the same
/// function and differ in cost: per micro-batch of T queries over n visible keys, per head,
///
///   absorbed: W_kb and W_vb applied per query (2 x 512 x (128 + 128) FLOPs per query), scores
///             and values over the 576-wide latent rows (2 x (576 + 512) per query and key);
///   expanded: W_kb and W_vb applied per key (the same per key), scores and values over per-head
///             rows (2 x (192 + 128) per query and key).
///
/// Decode (T = 1) is far cheaper absorbed; a 512-token micro-batch at any depth needs about half
/// the FLOPs expanded. `auto` picks by these counts, and the FLOP accounting
/// (`ModelConfig.flops`) counts the form that ran. The expansion's memory grows with the context
/// (at Kimi-Linear's widths about 4 KB per visible key and head group, 1 KB for one head), so
/// `auto` expands only while one head's expansion fits `MLAExpansionScratch.defaultBudgetBytes`
/// (256 MiB: 64K keys), and absorbs beyond.
public enum MLAForm: String, Codable, Sendable, CaseIterable {
    /// Per micro-batch, `absorbed` or `expanded`, whichever needs fewer FLOPs (absorbed past 64K
    /// keys at Kimi-Linear's widths, where the expansion outgrows its memory budget).
    case auto
    /// Queries absorbed into the latent space; every head reads the shared 576-wide latent cache.
    case absorbed
    /// The naive form's math as matrix products: the visible keys' latents expanded into every
    /// head's keys and values once per micro-batch (two GEMMs), then attention per head.
    case expanded
    /// The textbook naive form, a dot product per query and key: the reference, not a fast path.
    case naive

    /// A form that runs: `auto` resolved for one micro-batch (`ModelConfig.mlaForm`).
    public enum Resolved: Sendable {
        case absorbed, expanded, naive
    }
}

extension ModelConfig {
    /// FLOPs (multiply and add counted separately) of one MLA layer's attention for a micro-batch
    /// of `queries` tokens starting at `position` (query i sees position + i + 1 keys), absorbed or
    /// expanded: the W_kb / W_vb products (per query or per key) plus scores and value sums.
    public func mlaAttentionFlops(queries: Int, position: Int, expanded: Bool) -> Double {
        let t = Double(queries), heads = Double(mlaHeads)
        let visibleKeys = t * Double(position) + t * (t + 1) / 2
        let projection = 2 * Double(kvLoraRank) * Double(qkNopeDim + vHeadDim)  // W_kb and W_vb, per head and row
        if expanded {
            return Double(position + queries) * heads * projection
                + visibleKeys * heads * 2 * Double(qkNopeDim + qkRopeDim + vHeadDim)
        }
        return t * heads * projection + visibleKeys * heads * 2 * Double(2 * kvLoraRank + qkRopeDim)
    }

    /// Bytes the expanded form allocates over a context of up to `capacity` keys when `form` may
    /// expand: the shared scratch (`MLAExpansionScratch`: a head group's expansion within the
    /// budget, one head at least; `auto` expands no context whose one head exceeds the budget) and
    /// each MLA layer's f32 copy of W_kb (heads x 128 x 512). 0 for the absorbed and naive forms and
    /// for models without MLA layers. An upper bound: the scratch grows only as far as a run goes.
    public func mlaExpansionBytes(capacity: Int, form: MLAForm, layers: Int? = nil) -> Double {
        let mlaLayers = (0..<(layers ?? layerCount)).filter { mixer(ofLayer: $0) == .mla }.count
        guard mlaLayers > 0, form == .auto || form == .expanded else { return 0 }
        let widths = MLAExpansionScratch.Widths(self), budget = MLAExpansionScratch.defaultBudgetBytes
        let keys = form == .auto ? min(capacity, widths.autoKeyLimit) : capacity
        let group = widths.headsPerGroup(heads: mlaHeads, keys: keys, budget: budget)
        let scratch = widths.allocatedBytes(keys: keys, group: group)
        return Double(scratch) + Double(mlaLayers * mlaHeads * qkNopeDim * kvLoraRank * 4)
    }

    /// The form that runs for `form` on a micro-batch of `queries` tokens at `position`: `auto`
    /// becomes `expanded` when that needs fewer FLOPs and one head's expansion fits the default
    /// budget, else `absorbed`; other forms run as asked.
    public func mlaForm(_ form: MLAForm, queries: Int, position: Int) -> MLAForm.Resolved {
        switch form {
        case .absorbed: return .absorbed
        case .expanded: return .expanded
        case .naive: return .naive
        case .auto: break
        }
        guard position + queries <= MLAExpansionScratch.Widths(self).autoKeyLimit else { return .absorbed }
        let expanded = mlaAttentionFlops(queries: queries, position: position, expanded: true)
        return expanded < mlaAttentionFlops(queries: queries, position: position, expanded: false) ? .expanded : .absorbed
    }
}
