/// Where threads run and memory lives, named like llama-bench's `--numa`.
///
/// - `none`: no memory policy (the kernel's first-touch placement); threads pinned to the allowed
///   CPUs in order, so repeated runs use the same cores.
/// - `distribute`: threads spread round-robin over the NUMA nodes; weights interleaved page by page
///   over all nodes, so every node's memory controller serves reads.
/// - `isolate`: threads and memory on one node (the node of the CPU the run starts on).
///
/// On a one-node machine all three are valid and differ only in the allocation call they use.
public enum NumaPolicy: String, CaseIterable, Sendable, Codable {
    case none
    case distribute
    case isolate
}

/// How a buffer's pages are placed. Derived from the run's `NumaPolicy` by `ThreadPlacement`.
public enum MemoryPlacement: Sendable, Equatable, Codable {
    /// First touch decides (plain aligned allocation).
    case firstTouch
    /// Pages interleaved over all nodes.
    case interleaved
    /// Pages bound to one node.
    case node(Int)
}
