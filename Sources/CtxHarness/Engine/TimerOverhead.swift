import CtxEngine
import Foundation

/// What the per-op timers cost: decode with them on and off, alternating, in one session.
public enum TimerOverhead {
    public struct Result: Sendable {
        public var onNanoseconds: Double
        public var offNanoseconds: Double
        public var change: Double { onNanoseconds / offNanoseconds - 1 }
    }

    /// Medians of `rounds` alternating rounds (ABBA) of `tokens` decode steps from `depth`.
    public static func measure(_ session: EngineSession, depth: Int, tokens: Int, rounds: Int = 10) -> Result {
        var on: [Double] = [], off: [Double] = []
        for round in 0..<rounds {
            for enabled in (round % 2 == 0 ? [true, false] : [false, true]) {
                session.context.profiler.enabled = enabled
                session.restore(depth: depth)
                let ns = Double(session.decode(tokens).reduce(0, +))
                if enabled { on.append(ns) } else { off.append(ns) }
            }
        }
        session.context.profiler.enabled = true
        return Result(onNanoseconds: SampleStatistics.median(on), offNanoseconds: SampleStatistics.median(off))
    }
}
