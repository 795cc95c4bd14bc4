import Foundation
import Synchronization
import Testing
@testable import CtxEngine

/// One Int slot per thread. Each thread writes only its own slot; the pool's join makes the
/// writes visible to the caller.
final class Slots: @unchecked Sendable {
    let values: UnsafeMutablePointer<Int>
    let count: Int
    init(_ count: Int, initial: Int = 0) {
        self.count = count
        values = .allocate(capacity: count)
        values.initialize(repeating: initial, count: count)
    }
    deinit { values.deallocate() }
    subscript(i: Int) -> Int {
        get { values[i] }
        set { values[i] = newValue }
    }
    var array: [Int] { (0..<count).map { values[$0] } }
}

@Suite struct ThreadPoolTests {
    @Test(arguments: [1, 2, 3, 5])
    func runCallsEveryThreadIndexOnce(threads: Int) {
        let pool = ThreadPool(threads: threads)
        let counts = Slots(threads)
        for _ in 0..<100 {
            pool.run { t in counts[t] += 1 }
        }
        #expect(counts.array == Array(repeating: 100, count: threads))
    }

    @Test(arguments: [ThreadPool.Schedule.static, .dynamic(chunk: 1), .dynamic(chunk: 7), .dynamic(chunk: 1000)])
    func parallelForCoversEveryIterationExactlyOnce(schedule: ThreadPool.Schedule) {
        let pool = ThreadPool(threads: 3)
        for count in [0, 1, 2, 3, 10, 997] {
            let hits = UnsafeMutablePointer<Int>.allocate(capacity: max(count, 1))
            hits.initialize(repeating: 0, count: max(count, 1))
            defer { hits.deallocate() }
            pool.parallelFor(count, schedule: schedule) { range, _ in
                for i in range { hits[i] += 1 }  // disjoint ranges: no two threads touch one index
            }
            #expect((0..<count).allSatisfy { hits[$0] == 1 }, "count \(count)")
        }
    }

    @Test func staticScheduleGivesThreadsContiguousBalancedSlices() {
        let pool = ThreadPool(threads: 4)
        let lower = Slots(4, initial: -1), upper = Slots(4, initial: -1)
        pool.parallelFor(10) { range, t in
            lower[t] = range.lowerBound
            upper[t] = range.upperBound
        }
        #expect(lower.array == [0, 2, 5, 7])
        #expect(upper.array == [2, 5, 7, 10])
    }

    @Test func workersThatFellAsleepWakeForTheNextRegion() {
        // Spin for 0 ns: every worker blocks on the condition variable between regions.
        let pool = ThreadPool(threads: 3, spinNanoseconds: 0)
        let total = Atomic<Int>(0)
        for round in 0..<50 {
            if round % 10 == 0 { usleep(2_000) }  // let the workers reach the blocking path
            pool.run { t in total.wrappingAdd(t + 1, ordering: .relaxed) }
        }
        #expect(total.load(ordering: .relaxed) == 50 * (1 + 2 + 3))
    }

    @Test func resultsWrittenByWorkersAreVisibleAfterTheRegion() {
        let pool = ThreadPool(threads: 2)
        let out = UnsafeMutablePointer<Int>.allocate(capacity: 2)
        defer { out.deallocate() }
        for round in 0..<1_000 {
            pool.run { t in out[t] = round * 10 + t }
            #expect(out[0] == round * 10 && out[1] == round * 10 + 1)
        }
    }

    @Test func pinnedWorkersRunOnTheirPlannedCPU() throws {
        let topology = NumaTopology.current()
        guard topology.available else { return }  // pinning needs libnuma (Linux)
        let threads = min(2, topology.allCPUs.count)
        let placement = try ThreadPlacement.plan(threads: threads, policy: .none, topology: topology)
        let pool = ThreadPool(threads: threads, placement: placement)
        let seen = Slots(threads, initial: -1)
        pool.run { t in seen[t] = CPUAffinity.currentCPU() ?? -1 }
        #expect(seen.array == placement.cpus)
    }

    @Test(arguments: [MemoryPlacement.firstTouch, .interleaved, .node(0)])
    func alignedBuffersAreCacheLineAligned(placement: MemoryPlacement) throws {
        for size in [0, 1, 100, 1 << 20] {
            let buffer = try AlignedBuffer(byteCount: size, placement: placement)
            #expect(Int(bitPattern: buffer.raw) % AlignedBuffer.alignment == 0)
            buffer.raw.initializeMemory(as: UInt8.self, repeating: 7, count: size)
        }
    }
}
