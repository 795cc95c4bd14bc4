#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Nanoseconds from a monotonic clock. One `clock_gettime` (a vDSO call, ~20 ns): cheap enough for
/// per-op timers, unlike `Date` or `ContinuousClock.now` boxing.
@inline(__always)
public func monotonicNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
}

/// Keeps the optimizer from deleting a computation whose result is otherwise unused
/// (benchmarks sum a buffer and must really read it).
@inline(never)
public func blackHole<T>(_ value: T) {
    withExtendedLifetime(value) {}
}
