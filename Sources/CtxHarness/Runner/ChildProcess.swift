import CtxEngine
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Another program run to completion: its exit status, whether it was stopped by a signal or a
/// timeout, and the tail of what it wrote to stderr (kept whole in `stderrFile`). Starting a
/// program that does not exist is an outcome like any other, not a thrown error, so a driver can
/// record it as a failed cell and go on.
public struct ChildProcess: Sendable {
    public var status: Int32
    /// Ended by a signal (`status` holds the signal number).
    public var signaled: Bool
    public var timedOut: Bool
    public var stderrTail: String

    public var succeeded: Bool { !signaled && !timedOut && status == 0 }

    /// What went wrong, in one line, or nil on success.
    public var failure: String? {
        if succeeded { return nil }
        let what = timedOut ? "timed out" : signaled ? "killed by signal \(status)" : "exited with status \(status)"
        return stderrTail.isEmpty ? what : "\(what): \(stderrTail)"
    }

    /// Runs `executable` with `arguments`, stdout to `stdoutFile` (or discarded), stderr to
    /// `stderrFile`; sends SIGTERM after `timeoutSeconds` (then SIGKILL 10 s later), or as soon as
    /// `stopWhen` (polled every 0.2 s) says so, as when the run is interrupted.
    public static func run(_ executable: String, _ arguments: [String], environment: [String: String]? = nil,
                           stdoutFile: String? = nil, stderrFile: String, timeoutSeconds: Double,
                           stopWhen: (@Sendable () -> Bool)? = nil) -> ChildProcess {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment { process.environment = environment }
        process.standardOutput = FileHandle.nullDevice
        guard FileManager.default.createFile(atPath: stderrFile, contents: nil),
              let errorHandle = FileHandle(forWritingAtPath: stderrFile) else {
            return ChildProcess(status: 1, signaled: false, timedOut: false, stderrTail: "cannot create \(stderrFile)")
        }
        defer { try? errorHandle.close() }
        process.standardError = errorHandle
        var outputHandle: FileHandle? = nil
        if let stdoutFile {
            guard FileManager.default.createFile(atPath: stdoutFile, contents: nil),
                  let handle = FileHandle(forWritingAtPath: stdoutFile) else {
                return ChildProcess(status: 1, signaled: false, timedOut: false, stderrTail: "cannot create \(stdoutFile)")
            }
            outputHandle = handle
            process.standardOutput = handle
        }
        defer { try? outputHandle?.close() }
        // A child started from a pinned thread (an engine session alive beside it) would inherit one CPU.
        do { try CPUAffinity.withUnpinnedThread { try process.run() } } catch {
            return ChildProcess(status: 127, signaled: false, timedOut: false,
                                stderrTail: "cannot start \(executable): \((error as NSError).localizedDescription)")
        }
        let pid = process.processIdentifier
        let state = ChildState()
        let timer = DispatchWorkItem {
            guard state.markTimedOut() else { return }
            kill(pid, SIGTERM)
            DispatchQueue.global().asyncAfter(deadline: .now() + 10) { if !state.reaped { kill(pid, SIGKILL) } }
        }
        DispatchQueue.global().asyncAfter(deadline: .now() + timeoutSeconds, execute: timer)
        // Created only when used: a dispatch source released without ever being resumed traps.
        var poll: DispatchSourceTimer? = nil
        if let stopWhen {
            let source = DispatchSource.makeTimerSource(queue: .global())
            source.schedule(deadline: .now() + 0.2, repeating: 0.2)
            source.setEventHandler { if stopWhen(), state.markStopped() { kill(pid, SIGTERM) } }
            source.resume()
            poll = source
        }
        process.waitUntilExit()
        state.markReaped()
        timer.cancel()
        poll?.cancel()
        let signaled = process.terminationReason == .uncaughtSignal
        return ChildProcess(status: process.terminationStatus, signaled: signaled, timedOut: state.timedOut,
                            stderrTail: tail(of: stderrFile))
    }

    /// The last non-empty lines of a file (up to 3, 400 characters), joined with " | "; when some
    /// lines say "error" or are a failed ggml assertion, the last of those (a tool's usage text
    /// after its error says nothing). Lines gdb writes while ggml's abort handler prints a
    /// backtrace ("30<tab>../sysdeps/unix/sysv/linux/wait4.c: No such file or directory.") are
    /// dropped: they would otherwise be all the tail shows of a failed GGML_ASSERT.
    static func tail(of path: String) -> String {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return "" }
        let lines = text.split(separator: "\n").filter { !isDebuggerSourceLine($0) }
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        let errors = lines.filter { $0.range(of: "error", options: .caseInsensitive) != nil || $0.contains("GGML_ASSERT") }
        return String((errors.isEmpty ? lines : errors).suffix(3).joined(separator: " | ").suffix(400))
    }

    /// gdb's note that it has no source for a frame: a line number, a tab, "FILE: No such file or directory.".
    static func isDebuggerSourceLine(_ line: Substring) -> Bool {
        guard let tab = line.firstIndex(of: "\t"), tab > line.startIndex,
              line[..<tab].allSatisfy(\.isNumber) else { return false }
        return line.hasSuffix(": No such file or directory.")
    }
}

/// Shared by the waiting thread and the timeout timer: a pid is signalled only while its process
/// has not been reaped (after that the number may belong to another process).
private final class ChildState: @unchecked Sendable {
    private let lock = NSLock()
    private var timedOutValue = false, reapedValue = false
    /// True when the timer may signal (the child is still unreaped).
    func markTimedOut() -> Bool { lock.lock(); defer { lock.unlock() }; if reapedValue { return false }; timedOutValue = true; return true }
    func markReaped() { lock.lock(); reapedValue = true; lock.unlock() }
    private var stoppedValue = false
    /// True once, while the child is unreaped: the stop signal is sent one time.
    func markStopped() -> Bool { lock.lock(); defer { lock.unlock() }; if reapedValue || stoppedValue { return false }; stoppedValue = true; return true }
    var timedOut: Bool { lock.lock(); defer { lock.unlock() }; return timedOutValue }
    var reaped: Bool { lock.lock(); defer { lock.unlock() }; return reapedValue }
}
