import Foundation
import Testing
@testable import CtxHarness

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Bad, hostile and unusual inputs: each gives one clear error naming the file, the line or field
/// and what was expected, within a bounded time; none crashes.
@Suite struct HostileInputTests {
    static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Corpus")

    /// Records of a corpus file: the text after "--- " on the record line, then the body (every
    /// line up to the next record, each with its newline; "<<no final newline>>" drops the last).
    static func records(_ name: String) throws -> [(head: String, body: String)] {
        let data = try Data(contentsOf: corpus.appendingPathComponent(name))
        var lines = String(decoding: data, as: UTF8.self).components(separatedBy: "\n")
        if lines.last == "" { lines.removeLast() }
        var out: [(String, String)] = []
        var head: String? = nil, body: [String] = []
        func flush() {
            guard let head else { return }
            if body.last == "<<no final newline>>" { out.append((head, body.dropLast().joined(separator: "\n"))) }
            else { out.append((head, body.map { $0 + "\n" }.joined())) }
        }
        for line in lines {
            if line.hasPrefix("--- ") {
                flush()
                head = String(line.dropFirst(4))
                body = []
            } else if head != nil {
                body.append(line)
            }
        }
        flush()
        return out
    }

    /// Runs `body` and records an issue if it took longer than `seconds` (a hang shows as a timeout
    /// of the whole test run; a slow parse as this).
    static func bounded<T>(_ what: String, seconds: Double = 2, _ body: () throws -> T) rethrows -> T {
        let start = Date()
        let result = try body()
        let elapsed = Date().timeIntervalSince(start)
        #expect(elapsed < seconds, "\(what) took \(elapsed) s")
        return result
    }

    @Test func malformedSuitesGiveTheirExactError() throws {
        let cases = try Self.records("suites.txt")
        #expect(cases.count >= 200)
        for (head, record) in cases {
            let expected = String(head.dropFirst("expect: ".count))
            let body = String(record.dropLast())  // the record's own newline; positions count without it
            do {
                _ = try Self.bounded(expected) { try Suite.parse(body, file: "case.json5") }
                Issue.record("accepted: \(body)")
            } catch let e as SuiteError {
                #expect(e.description == "case.json5: " + expected, "for: \(body)")
            }
        }
    }

    @Test func hostileSuiteTextIsRefusedQuickly() throws {
        func refused(_ text: String, _ message: String) {
            do {
                _ = try Self.bounded(String(message)) { try Suite.parse(text, file: "h.json5") }
                Issue.record("accepted a hostile suite (\(message))")
            } catch let e as SuiteError {
                #expect(e.description.contains(message), "\(e.description.prefix(300))")
                #expect(e.description.count < 600, "a \(e.description.count)-character message")
            } catch {
                Issue.record("\(error)")
            }
        }
        refused(String(repeating: "[", count: 40_000) + String(repeating: "]", count: 40_000), "nest deeper than 64 levels")
        refused(String(repeating: "{a:", count: 40_000), "nest deeper than 64 levels")
        let huge = String(repeating: "k", count: 10 << 20)
        refused("{ models: [{ preset: \"kimi-linear-mini\" }], tests: { pp: [1] }, \(huge): 1 }", "characters): unknown key")
        refused("{ models: [{ preset: \"\(huge)\" }], tests: { pp: [1] } }", "characters)")
        refused("{ a: \"x\u{0}y\" }", "raw control character U+0000")
        // Every prefix of a valid suite is an error, never a crash.
        let valid = """
        { name: "t", models: [{ preset: "kimi-linear-mini", set: { experts: 8 } }], weightTypes: ["q8_0", "q4_K_M"],
          tests: { pp: [64], tg: [8], pg: [[32, 4]], depths: { start: 512, end: 4096, doubling: true, zero: true } },
          repetitions: { min: 2, max: 4, ciWidth: 0.1 }, threads: [1], fill: ["synthetic", "computed"] /* end */ }
        """
        _ = try Suite.parse(valid, file: "v.json5")
        let scalars = Array(valid.unicodeScalars)
        for n in 0..<(scalars.count - 1) {
            let prefix = String(String.UnicodeScalarView(scalars[0..<n]))
            #expect(throws: SuiteError.self) { try Suite.parse(prefix, file: "p.json5") }
        }
    }

    @Test func suiteFilesThatAreNotSuites() throws {
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("ctxbench-hostile-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }
        let fifo = work.appendingPathComponent("fifo").path
        #expect(mkfifo(fifo, 0o644) == 0)
        let big = work.appendingPathComponent("big.json5")
        try Data(count: Suite.maximumFileBytes + 1).write(to: big)
        let binary = work.appendingPathComponent("binary.json5")
        try Data([0xFF, 0xFE, 0x00, 0x7B]).write(to: binary)
        let cases: [(String, String)] = [
            (work.path, "it is a directory, expected a suite file (JSON5)"),
            (fifo, "it is a FIFO, expected a suite file (JSON5)"),
            ("/dev/null", "it is a device, expected a suite file (JSON5)"),
            (big.path, "it is \(Suite.maximumFileBytes + 1) bytes; a suite file (JSON5) is at most \(Suite.maximumFileBytes) bytes"),
            (binary.path, "not UTF-8 text, expected a suite file (JSON5)"),
            (work.appendingPathComponent("absent.json5").path, "No such file or directory"),
        ]
        for (path, message) in cases {
            do {
                _ = try Self.bounded(path) { try Suite.load(path: path) }
                Issue.record("loaded \(path)")
            } catch let e as SuiteError {
                #expect(e.description == "\(path): \(message)")
            }
        }
    }

    @Test func malformedImportsGiveTheirExactErrorOrFaithfulCells() throws {
        let cases = try Self.records("imports.txt")
        #expect(cases.count >= 100)
        for (head, body) in cases {
            let words = head.split(separator: " ", maxSplits: 2).map(String.init)
            let tool = words[0], kind = words[1], expected = words.count > 2 ? words[2] : ""
            func parse() throws -> [ImportedMeasurement] {
                tool == "llama-bench" ? try LlamaBenchImport.parse(body, file: "case.txt")
                    : try BatchedBenchImport.parse(body, file: "case.txt")
            }
            do {
                let measurements = try Self.bounded(head) { try parse() }
                let run = ImportedRun.make(measurements, source: tool, file: "case.txt", platformName: "p", commandLine: [])
                let statuses = run.flatMap(\.cells).map(\.status.rawValue).joined(separator: " ")
                #expect(kind == "cells" && statuses == expected, "\(head) got cells \(statuses)")
                #expect(Set(run.flatMap(\.cells).map(\.cellID)).count == run.flatMap(\.cells).count, "duplicate cell ids: \(head)")
            } catch let e as ImportError {
                #expect(kind == "error" && e.description == "case.txt: " + expected, "\(head) GOT \(e.description)")
            }
        }
    }
}
