#if canImport(CNuma)
import CNuma
#endif
import CPlatform
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Pinning the calling thread to CPUs, through libnuma where it exists.
/// macOS has no thread-to-core pinning API: there these calls do nothing and report `false`.
public enum CPUAffinity {
    /// The CPU the calling thread is running on now, if the OS can tell.
    public static func currentCPU() -> Int? {
        let cpu = ctx_current_cpu()
        return cpu >= 0 ? Int(cpu) : nil
    }

    /// The calling thread's allowed CPU set, to restore later.
    public static func current() -> [Int]? {
        #if canImport(CNuma)
        guard numa_available() >= 0, let mask = numa_allocate_cpumask() else { return nil }
        defer { numa_bitmask_free(mask) }
        guard numa_sched_getaffinity(0, mask) >= 0 else { return nil }
        let limit = Int(numa_num_possible_cpus())
        return (0..<limit).filter { numa_bitmask_isbitset(mask, UInt32($0)) != 0 }
        #else
        return nil
        #endif
    }

    /// The CPUs the process's threads were allowed before anything here pinned one: captured by the
    /// first pin (a thread not pinned yet), or at first use.
    static let unpinned: [Int]? = current()

    /// Runs `body` with the calling thread's affinity widened back to `unpinned`, then restores it.
    /// For starting other programs: a child inherits the affinity of the thread that starts it, and
    /// a thread of a live engine pool is pinned to one CPU (measured: llama-bench started from the
    /// runner's pinned thread ran its 2 threads on that one core, at half its speed).
    public static func withUnpinnedThread<T>(_ body: () throws -> T) rethrows -> T {
        guard let wide = unpinned, let mine = current(), mine != wide else { return try body() }
        pinCurrentThread(to: wide)
        defer { pinCurrentThread(to: mine) }
        return try body()
    }

    /// Restricts the calling thread to `cpus`. Returns false where pinning is unavailable or refused.
    @discardableResult
    public static func pinCurrentThread(to cpus: [Int]) -> Bool {
        _ = unpinned
        #if canImport(CNuma)
        guard !cpus.isEmpty, numa_available() >= 0, let mask = numa_allocate_cpumask() else { return false }
        defer { numa_bitmask_free(mask) }
        for cpu in cpus { numa_bitmask_setbit(mask, UInt32(cpu)) }
        return numa_sched_setaffinity(0, mask) == 0
        #else
        return false
        #endif
    }
}
