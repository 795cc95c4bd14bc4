import Testing
@testable import CtxEngine

/// Placement is planned on synthetic multi-node topologies: this machine has one node.
@Suite struct ThreadPlacementTests {
    /// Two sockets, four CPUs each, numbered the way Linux often does (node 1 owns 4...7).
    let twoNodes = NumaTopology(available: true, nodes: [
        NumaNode(id: 0, cpus: [0, 1, 2, 3]),
        NumaNode(id: 1, cpus: [4, 5, 6, 7]),
    ])
    /// Four nodes with interleaved CPU numbering and one uneven node.
    let fourNodes = NumaTopology(available: true, nodes: [
        NumaNode(id: 0, cpus: [0, 4]),
        NumaNode(id: 1, cpus: [1, 5]),
        NumaNode(id: 2, cpus: [2, 6]),
        NumaNode(id: 3, cpus: [3]),
    ])

    @Test func distributeAlternatesNodesAndInterleavesMemory() throws {
        let plan = try ThreadPlacement.plan(threads: 4, policy: .distribute, topology: twoNodes)
        #expect(plan.cpus == [0, 4, 1, 5])
        #expect(plan.nodes == [0, 1, 0, 1])
        #expect(plan.memory == .interleaved)
        #expect(!plan.isOversubscribed)
    }

    @Test func distributeOnFourNodesBalancesThreadsPerNode() throws {
        let plan = try ThreadPlacement.plan(threads: 7, policy: .distribute, topology: fourNodes)
        #expect(plan.nodes == [0, 1, 2, 3, 0, 1, 2])
        #expect(plan.cpus == [0, 1, 2, 3, 4, 5, 6])
        #expect(Set(plan.cpus).count == 7)
    }

    @Test func isolateStaysOnTheStartNode() throws {
        let plan = try ThreadPlacement.plan(threads: 3, policy: .isolate, topology: twoNodes, startCPU: 6)
        #expect(plan.cpus == [4, 5, 6])
        #expect(Set(plan.nodes) == [1])
        #expect(plan.memory == .node(1))
    }

    @Test func isolateWithoutAKnownStartCPUUsesTheFirstNode() throws {
        let plan = try ThreadPlacement.plan(threads: 2, policy: .isolate, topology: twoNodes, startCPU: nil)
        #expect(plan.cpus == [0, 1])
        #expect(plan.memory == .node(0))
    }

    @Test func isolateOversubscribesOneNodeRatherThanLeavingIt() throws {
        let plan = try ThreadPlacement.plan(threads: 6, policy: .isolate, topology: twoNodes, startCPU: 0)
        #expect(plan.cpus == [0, 1, 2, 3, 0, 1])
        #expect(plan.isOversubscribed)
    }

    @Test func noneUsesCPUsInOrderWithFirstTouchMemory() throws {
        let plan = try ThreadPlacement.plan(threads: 5, policy: .none, topology: twoNodes)
        #expect(plan.cpus == [0, 1, 2, 3, 4])
        #expect(plan.nodes == [0, 0, 0, 0, 1])
        #expect(plan.memory == .firstTouch)
    }

    @Test(arguments: NumaPolicy.allCases)
    func everyPolicyWorksOnOneNode(policy: NumaPolicy) throws {
        let one = NumaTopology(available: false, nodes: [NumaNode(id: 0, cpus: [0, 1])])
        let plan = try ThreadPlacement.plan(threads: 2, policy: policy, topology: one, startCPU: 1)
        #expect(plan.cpus == [0, 1])
        #expect(plan.nodes == [0, 0])
    }

    @Test func rejectsZeroThreadsAndEmptyTopologies() {
        #expect(throws: ThreadPlacement.PlanError.noThreads) {
            try ThreadPlacement.plan(threads: 0, policy: .none, topology: twoNodes)
        }
        #expect(throws: ThreadPlacement.PlanError.noCPUs) {
            try ThreadPlacement.plan(threads: 1, policy: .none, topology: NumaTopology(available: true, nodes: []))
        }
    }

    @Test func thisMachineHasAtLeastOneNodeWithCPUs() {
        let topology = NumaTopology.current()
        #expect(!topology.nodes.isEmpty)
        #expect(!topology.allCPUs.isEmpty)
    }
}
