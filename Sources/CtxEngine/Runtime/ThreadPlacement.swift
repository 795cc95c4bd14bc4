/// Which CPU each pool thread runs on and where the run's memory goes, for a NUMA policy.
///
/// Planning is a pure function of the topology so that multi-node layouts can be tested on any
/// machine (`plan(threads:policy:topology:startCPU:)` with a synthetic `NumaTopology`).
public struct ThreadPlacement: Sendable, Equatable, Codable {
    public var policy: NumaPolicy
    /// `cpus[i]` is the CPU thread `i` is pinned to (thread 0 is the calling thread).
    public var cpus: [Int]
    /// `nodes[i]` is the NUMA node of `cpus[i]`.
    public var nodes: [Int]
    /// Where weight and cache buffers are allocated.
    public var memory: MemoryPlacement

    /// True when there are more threads than CPUs available to the policy, so some share a CPU.
    public var isOversubscribed: Bool { Set(cpus).count < cpus.count }

    public enum PlanError: Error, Equatable, CustomStringConvertible {
        case noThreads
        case noCPUs
        public var description: String {
            switch self {
            case .noThreads: "thread count must be at least 1"
            case .noCPUs: "the NUMA topology has no CPUs to place threads on"
            }
        }
    }

    /// Plans `threads` threads under `policy`.
    /// - `startCPU`: the CPU the run starts on; `isolate` keeps everything on its node.
    public static func plan(threads: Int, policy: NumaPolicy, topology: NumaTopology,
                            startCPU: Int? = nil) throws -> ThreadPlacement {
        guard threads >= 1 else { throw PlanError.noThreads }
        let nodes = topology.nodes.filter { !$0.cpus.isEmpty }
        guard !nodes.isEmpty else { throw PlanError.noCPUs }
        var cpus: [Int] = []
        var cpuNodes: [Int] = []
        switch policy {
        case .none:
            // Every allowed CPU in node order; wrap when oversubscribed.
            let all = nodes.flatMap { node in node.cpus.map { (cpu: $0, node: node.id) } }
            for t in 0..<threads {
                let slot = all[t % all.count]
                cpus.append(slot.cpu)
                cpuNodes.append(slot.node)
            }
            return ThreadPlacement(policy: policy, cpus: cpus, nodes: cpuNodes, memory: .firstTouch)
        case .distribute:
            // Thread t goes to node t % N, taking that node's CPUs in order: every node gets
            // threads/N (+1) threads and its memory controller serves its share of the reads.
            for t in 0..<threads {
                let node = nodes[t % nodes.count]
                let cpu = node.cpus[(t / nodes.count) % node.cpus.count]
                cpus.append(cpu)
                cpuNodes.append(node.id)
            }
            return ThreadPlacement(policy: policy, cpus: cpus, nodes: cpuNodes, memory: .interleaved)
        case .isolate:
            let home = startCPU.flatMap { cpu in nodes.first(where: { $0.cpus.contains(cpu) }) } ?? nodes[0]
            for t in 0..<threads {
                cpus.append(home.cpus[t % home.cpus.count])
                cpuNodes.append(home.id)
            }
            return ThreadPlacement(policy: policy, cpus: cpus, nodes: cpuNodes, memory: .node(home.id))
        }
    }
}
