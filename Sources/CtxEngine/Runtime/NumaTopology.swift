#if canImport(CNuma)
import CNuma
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One NUMA node: its CPUs and memory.
public struct NumaNode: Sendable, Equatable, Codable {
    public var id: Int
    public var cpus: [Int]
    public var memoryBytes: UInt64
    public var freeBytes: UInt64

    public init(id: Int, cpus: [Int], memoryBytes: UInt64 = 0, freeBytes: UInt64 = 0) {
        self.id = id
        self.cpus = cpus
        self.memoryBytes = memoryBytes
        self.freeBytes = freeBytes
    }
}

/// The machine's NUMA layout as libnuma reports it, or a single pseudo-node with every online CPU
/// where libnuma is absent (macOS) or the kernel has no NUMA support (`available == false`).
public struct NumaTopology: Sendable, Equatable, Codable {
    /// True when libnuma is linked and `numa_available()` succeeded.
    public var available: Bool
    public var nodes: [NumaNode]

    public init(available: Bool, nodes: [NumaNode]) {
        self.available = available
        self.nodes = nodes
    }

    /// All CPUs this process may run on, in node order.
    public var allCPUs: [Int] { nodes.flatMap(\.cpus) }

    /// The node that owns `cpu`, or nil.
    public func node(ofCPU cpu: Int) -> Int? {
        nodes.first(where: { $0.cpus.contains(cpu) })?.id
    }

    /// Reads the topology of this machine.
    public static func current() -> NumaTopology {
        #if canImport(CNuma)
        if numa_available() >= 0 {
            var nodes: [NumaNode] = []
            let maxNode = Int(numa_max_node())
            let maxCPU = Int(numa_num_configured_cpus())
            let allowed = numa_get_run_node_mask()  // nodes this process may use
            let affinity = numa_allocate_cpumask()   // CPUs this thread may use (taskset, cgroups)
            defer {
                if let allowed { numa_bitmask_free(allowed) }
                if let affinity { numa_bitmask_free(affinity) }
            }
            let haveAffinity = affinity.map { numa_sched_getaffinity(0, $0) >= 0 } ?? false
            for node in 0...maxNode {
                if let allowed, numa_bitmask_isbitset(allowed, UInt32(node)) == 0 { continue }
                guard let mask = numa_allocate_cpumask() else { continue }
                defer { numa_bitmask_free(mask) }
                guard numa_node_to_cpus(Int32(node), mask) == 0 else { continue }
                var cpus: [Int] = []
                for cpu in 0..<maxCPU where numa_bitmask_isbitset(mask, UInt32(cpu)) != 0 {
                    if haveAffinity, let affinity, numa_bitmask_isbitset(affinity, UInt32(cpu)) == 0 { continue }
                    cpus.append(cpu)
                }
                if cpus.isEmpty { continue }  // memory-only node (CXL, HBM): no threads to place
                var free: Int64 = 0
                let size = numa_node_size64(Int32(node), &free)
                nodes.append(NumaNode(id: node, cpus: cpus,
                                      memoryBytes: UInt64(max(size, 0)), freeBytes: UInt64(max(free, 0))))
            }
            if !nodes.isEmpty { return NumaTopology(available: true, nodes: nodes) }
        }
        #endif
        let count = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        return NumaTopology(available: false, nodes: [NumaNode(id: 0, cpus: Array(0..<count))])
    }

}
