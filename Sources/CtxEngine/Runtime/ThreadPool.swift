import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The persistent thread pool every compute kernel runs on.
///
/// Why not Dispatch: `DispatchQueue.concurrentPerform` costs 20-40 us per parallel region here, and a
/// forward pass of a 27-layer model has hundreds of regions per token. This pool keeps its workers
/// alive and spinning between regions, so a fork/join costs a few microseconds (`measureForkJoin`).
///
/// Model: `threadCount` threads take part in each region; thread 0 is the caller, threads
/// 1..<threadCount are workers. A region is `run { thread in ... }`; the call returns when every thread
/// has finished its part. Regions must not nest.
///
/// Waiting: a worker spins on the region counter for `spinNanoseconds` after finishing, then blocks
/// on a condition variable, so an idle pool (the runner writing files, a delay between cells)
/// costs no CPU, while back-to-back regions inside a forward pass never pay a wake-up.
public final class ThreadPool: @unchecked Sendable {
    /// How `parallelFor` divides its iterations.
    public enum Schedule: Sendable, Equatable {
        /// Thread t takes the t-th contiguous slice: no coordination, best when iterations cost the same.
        case `static`
        /// Threads take `chunk` iterations at a time from a shared counter: balances uneven work
        /// (attention over causal rows, experts with different token counts).
        case dynamic(chunk: Int)
    }

    public let threadCount: Int
    public let placement: ThreadPlacement?
    /// How long an idle worker spins before blocking.
    public let spinNanoseconds: UInt64

    // Each hot atomic sits on its own 64-byte line so the caller's writes to one do not
    // invalidate the line the workers are polling. (Swift lays out class fields in order.)
    private let generation = Atomic<UInt64>(0)          // bumped once per region (the fork signal)
    private let padding0: (Int, Int, Int, Int, Int, Int, Int) = (0, 0, 0, 0, 0, 0, 0)
    private let pending = Atomic<Int>(0)                // workers still inside the current region
    private let padding1: (Int, Int, Int, Int, Int, Int, Int) = (0, 0, 0, 0, 0, 0, 0)
    private let nextChunk = Atomic<Int>(0)              // dynamic-schedule cursor
    private let padding2: (Int, Int, Int, Int, Int, Int, Int) = (0, 0, 0, 0, 0, 0, 0)
    private let sleepers = Atomic<Int>(0)               // workers blocked on the condition
    private let stopping = Atomic<Bool>(false)

    private var job: ((Int) -> Void)?
    private var inRegion = false
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let condition: UnsafeMutablePointer<pthread_cond_t>
    private var workers: [pthread_t] = []
    private let callerAffinity: [Int]?

    /// Creates a pool of `threads` threads (the caller plus `threads - 1` workers).
    /// With a `placement`, thread i is pinned to `placement.cpus[i]`, including the caller for the
    /// pool's lifetime (its previous affinity is restored when the pool goes away).
    public init(threads: Int, placement: ThreadPlacement? = nil, spinNanoseconds: UInt64 = 200_000) {
        precondition(threads >= 1, "a thread pool needs at least one thread")
        precondition(placement == nil || placement!.cpus.count == threads, "placement must cover every thread")
        self.threadCount = threads
        self.placement = placement
        self.spinNanoseconds = spinNanoseconds
        mutex = .allocate(capacity: 1)
        condition = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(condition, nil)
        if let placement {
            callerAffinity = CPUAffinity.current()
            CPUAffinity.pinCurrentThread(to: [placement.cpus[0]])
        } else {
            callerAffinity = nil
        }
        for index in 1..<max(threads, 1) {
            let start = WorkerStart(pool: Unmanaged.passUnretained(self), index: index,
                                    cpu: placement?.cpus[index])
            let context = Unmanaged.passRetained(start).toOpaque()
            #if canImport(Darwin)
            var thread: pthread_t?
            let rc = pthread_create(&thread, nil, { raw in
                Unmanaged<WorkerStart>.fromOpaque(raw).takeRetainedValue().enter()
                return nil
            }, context)
            precondition(rc == 0 && thread != nil, "pthread_create failed: \(rc)")
            workers.append(thread!)
            #else
            var thread = pthread_t()
            let rc = pthread_create(&thread, nil, { raw in
                Unmanaged<WorkerStart>.fromOpaque(raw!).takeRetainedValue().enter()
                return nil
            }, context)
            precondition(rc == 0, "pthread_create failed: \(rc)")
            workers.append(thread)
            #endif
        }
    }

    deinit {
        stopping.store(true, ordering: .sequentiallyConsistent)
        generation.wrappingAdd(1, ordering: .sequentiallyConsistent)
        pthread_mutex_lock(mutex)
        pthread_cond_broadcast(condition)
        pthread_mutex_unlock(mutex)
        for thread in workers { pthread_join(thread, nil) }
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
        condition.deallocate()
        if let callerAffinity { CPUAffinity.pinCurrentThread(to: callerAffinity) }
    }

    /// Runs `body(thread)` on every thread `0..<threadCount` and returns when all are done.
    public func run(_ body: (Int) -> Void) {
        if threadCount == 1 {
            body(0)
            return
        }
        precondition(!inRegion, "ThreadPool regions must not nest")
        inRegion = true
        withoutActuallyEscaping(body) { body in
            job = body
            pending.store(threadCount - 1, ordering: .relaxed)
            // Fork: the seq-cst add publishes `job` and `pending` (release) and orders against the
            // `sleepers` load below (a worker increments `sleepers` before re-checking `generation`),
            // so either the worker sees the new generation or we see it asleep and wake it.
            generation.wrappingAdd(1, ordering: .sequentiallyConsistent)
            if sleepers.load(ordering: .sequentiallyConsistent) > 0 {
                pthread_mutex_lock(mutex)
                pthread_cond_broadcast(condition)
                pthread_mutex_unlock(mutex)
            }
            body(0)
            // Join: spin; yield the CPU if the stragglers take long (oversubscribed machines).
            var spins = 0
            while pending.load(ordering: .acquiring) != 0 {
                spins &+= 1
                if spins > 20_000 { sched_yield() }
            }
            job = nil
        }
        inRegion = false
    }

    /// Runs `body(range, thread)` over `0..<count`, split by `schedule`. Empty slices are skipped.
    public func parallelFor(_ count: Int, schedule: Schedule = .static, _ body: (Range<Int>, Int) -> Void) {
        guard count > 0 else { return }
        if threadCount == 1 || count == 1 {
            body(0..<count, 0)
            return
        }
        switch schedule {
        case .static:
            let threads = threadCount
            run { thread in
                let lower = count * thread / threads
                let upper = count * (thread + 1) / threads
                if lower < upper { body(lower..<upper, thread) }
            }
        case let .dynamic(chunk):
            let step = max(1, chunk)
            nextChunk.store(0, ordering: .relaxed)
            run { thread in
                while true {
                    let lower = nextChunk.wrappingAdd(step, ordering: .relaxed).oldValue
                    if lower >= count { break }
                    body(lower..<min(lower + step, count), thread)
                }
            }
        }
    }

    /// Median wall time of an empty region (fork + join), in nanoseconds, over `iterations` regions.
    public func measureForkJoin(iterations: Int = 2_000) -> Double {
        var samples = [UInt64](repeating: 0, count: max(iterations, 1))
        run { _ in }  // wake sleeping workers before timing
        for i in samples.indices {
            let start = monotonicNanoseconds()
            run { _ in }
            samples[i] = monotonicNanoseconds() - start
        }
        samples.sort()
        return Double(samples[samples.count / 2])
    }

    // MARK: - Worker side

    fileprivate func workerLoop(index: Int) {
        var seen: UInt64 = 0
        while true {
            var current = generation.load(ordering: .acquiring)
            if current == seen {
                let start = monotonicNanoseconds()
                var spins = 0
                while current == seen {
                    spins &+= 1
                    if spins & 1023 == 0, monotonicNanoseconds() &- start > spinNanoseconds {
                        current = sleep(until: seen)
                        break
                    }
                    current = generation.load(ordering: .acquiring)
                }
            }
            seen = current
            if stopping.load(ordering: .acquiring) { return }
            job!(index)
            pending.wrappingSubtract(1, ordering: .releasing)
        }
    }

    /// Blocks until `generation` moves past `seen`; returns the new value.
    private func sleep(until seen: UInt64) -> UInt64 {
        pthread_mutex_lock(mutex)
        sleepers.wrappingAdd(1, ordering: .sequentiallyConsistent)
        var current = generation.load(ordering: .sequentiallyConsistent)
        while current == seen {
            pthread_cond_wait(condition, mutex)
            current = generation.load(ordering: .sequentiallyConsistent)
        }
        sleepers.wrappingSubtract(1, ordering: .sequentiallyConsistent)
        pthread_mutex_unlock(mutex)
        return current
    }
}

/// What a new worker thread needs: its pool (unretained: the pool's deinit joins the workers),
/// its index and the CPU to pin to.
private final class WorkerStart {
    let pool: Unmanaged<ThreadPool>
    let index: Int
    let cpu: Int?

    init(pool: Unmanaged<ThreadPool>, index: Int, cpu: Int?) {
        self.pool = pool
        self.index = index
        self.cpu = cpu
    }

    func enter() {
        if let cpu { CPUAffinity.pinCurrentThread(to: [cpu]) }
        pool.takeUnretainedValue().workerLoop(index: index)
    }
}
