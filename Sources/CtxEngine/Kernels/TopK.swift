/// The k largest of n scores (MoE routing: k = 8 of 256 or 288). Insertion into a k-long sorted
/// list: O(n k) compares, no allocation, and for k << n faster than sorting. Ties keep the lower
/// index first, so routing is deterministic.
public enum TopK {
    /// Writes the indices of the k largest `scores` into `indices`, largest first.
    public static func select(_ scores: UnsafePointer<Float>, _ n: Int, k: Int, into indices: UnsafeMutablePointer<Int32>) {
        precondition(k >= 1 && k <= n, "top-k needs 1 <= k <= n")
        withUnsafeTemporaryAllocation(of: Float.self, capacity: k) { best in
            var filled = 0
            for i in 0..<n {
                let v = scores[i].isNaN ? -Float.infinity : scores[i]
                if filled == k && !(v > best[k - 1]) { continue }
                var pos = filled == k ? k - 1 : filled
                if filled < k { filled += 1 }
                while pos > 0 && v > best[pos - 1] {
                    best[pos] = best[pos - 1]
                    indices[pos] = indices[pos - 1]
                    pos -= 1
                }
                best[pos] = v
                indices[pos] = Int32(i)
            }
        }
    }
}
