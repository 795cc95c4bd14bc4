import CtxEngine
import Foundation
import Testing
@testable import CtxHarness

/// Corrupted and hostile GGUF files, made from a valid fixture: truncations in every section, bad
/// offsets, counts, lengths and types, and files that parse but do not describe a model the engine
/// can run. Each must give one clear error naming the file (and the key or tensor concerned), never
/// a crash, a hang or a raw system error.
@Suite struct HostileGGUFTests {
    /// Where each part of a GGUF file starts, found by walking the format independently of the reader.
    struct Layout {
        struct Entry { var start: Int; var keyStart: Int; var typeAt: Int; var valueAt: Int; var key: String; var type: UInt32 }
        struct TensorInfo { var start: Int; var name: String; var dimsAt: Int; var dimCount: Int; var typeAt: Int; var offsetAt: Int }
        var entries: [Entry] = [], tensors: [TensorInfo] = []
        var infosStart = 0, infosEnd = 0, dataStart = 0

        init(_ b: [UInt8]) {
            var p = 24
            func u32() -> UInt32 { defer { p += 4 }; return (0..<4).reduce(0) { $0 | UInt32(b[p + $1]) << (8 * $1) } }
            func u64() -> UInt64 { defer { p += 8 }; return (0..<8).reduce(0) { $0 | UInt64(b[p + $1]) << (8 * $1) } }
            func string() -> String { let n = Int(u64()); defer { p += n }; return String(decoding: b[p..<(p + n)], as: UTF8.self) }
            let sizes: [UInt32: Int] = [0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8]
            func skip(_ type: UInt32) {
                if let n = sizes[type] { p += n } else if type == 8 { _ = string() } else {
                    let element = u32(), count = Int(u64())
                    for _ in 0..<count { skip(element) }
                }
            }
            p = 8
            let tensorCount = Int(u64()), kvCount = Int(u64())
            for _ in 0..<kvCount {
                let start = p
                let key = string()
                let typeAt = p
                let type = u32()
                entries.append(Entry(start: start, keyStart: start + 8, typeAt: typeAt, valueAt: p, key: key, type: type))
                skip(type)
            }
            infosStart = p
            for _ in 0..<tensorCount {
                let start = p
                let name = string()
                let dimsAt = p
                let n = Int(u32())
                let dimsStart = p
                p += 8 * n
                tensors.append(TensorInfo(start: start, name: name, dimsAt: dimsAt, dimCount: n, typeAt: dimsStart + 8 * n,
                                          offsetAt: dimsStart + 8 * n + 4))
                p += 12
            }
            infosEnd = p
            dataStart = (p + 31) / 32 * 32
        }

        func entry(_ key: String) -> Entry { entries.first { $0.key.hasSuffix(key) }! }
        func tensor(_ name: String) -> TensorInfo { tensors.first { $0.name == name }! }
    }

    static let valid: [UInt8] = Array(try! Data(contentsOf: ParityTests.directory.appendingPathComponent("step-tiny-f32.gguf")))

    static func put<T: FixedWidthInteger>(_ v: T, at offset: Int, in b: inout [UInt8]) {
        withUnsafeBytes(of: v.littleEndian) { for (i, byte) in $0.enumerated() { b[offset + i] = byte } }
    }

    /// (name, bytes, a phrase the error must contain)
    static func cases() -> [(String, [UInt8], String)] {
        let v = valid, l = Layout(v)
        var out: [(String, [UInt8], String)] = []
        func mutate(_ name: String, _ expect: String, _ change: (inout [UInt8]) -> Void) {
            var b = v
            change(&b)
            out.append((name, b, expect))
        }
        // A truncated file is named as such, whichever check sees it first: a count or offset the
        // remaining bytes cannot hold, or a read that runs off the end.
        func truncate(_ name: String, at n: Int) {
            out.append((name, Array(v[..<n]), "too short|ends inside|past the end|truncated|more than the file can hold"))
        }

        let firstString = l.entries.first { $0.type == 8 }!, firstArray = l.entries.first { $0.type == 9 }!
        let t0 = l.tensors[0], last = l.tensors.last!
        // Truncations at every section.
        truncate("empty file", at: 0)
        truncate("magic only", at: 4)
        truncate("inside the counts", at: 20)
        truncate("after the header", at: 24)
        truncate("inside a key's length", at: l.entries[1].start + 3)
        truncate("inside a key", at: l.entries[1].keyStart + 2)
        truncate("inside a value type", at: l.entries[1].typeAt + 2)
        truncate("inside a string value", at: firstString.valueAt + 10)
        truncate("inside an array", at: firstArray.valueAt + 14)
        truncate("at the end of the metadata", at: l.infosStart)
        truncate("inside a tensor name", at: t0.start + 10)
        truncate("inside a tensor's dimensions", at: t0.dimsAt + 6)
        truncate("inside a tensor's offset", at: last.offsetAt + 3)
        truncate("in the alignment padding", at: l.infosEnd + (l.dataStart > l.infosEnd ? 1 : 0))
        truncate("inside the first tensor's data", at: l.dataStart + 100)
        truncate("one byte short of the last tensor's data", at: Self.dataEnd - 1)
        // Bad header fields.
        mutate("wrong magic", "no GGUF magic") { $0[0] = UInt8(ascii: "X") }
        mutate("version 1", "version 1") { put(UInt32(1), at: 4, in: &$0) }
        mutate("version 99", "version 99") { put(UInt32(99), at: 4, in: &$0) }
        mutate("absurd tensor count", "more than the file can hold") { put(UInt64(1) << 60, at: 8, in: &$0) }
        mutate("absurd metadata count", "more than the file can hold") { put(UInt64.max, at: 16, in: &$0) }
        // Bad metadata.
        mutate("huge key length", "past the end") { put(UInt64(1) << 62, at: l.entries[1].start, in: &$0) }
        mutate("huge string length", "past the end") { put(UInt64.max - 3, at: firstString.valueAt, in: &$0) }
        mutate("unknown value type", "unknown value type 99") { put(UInt32(99), at: l.entries[1].typeAt, in: &$0) }
        mutate("unknown array element type", "unknown element type 77") { put(UInt32(77), at: firstArray.valueAt, in: &$0) }
        mutate("huge array count", "more than the file can hold") { put(UInt64(1) << 61, at: firstArray.valueAt + 4, in: &$0) }
        mutate("key not UTF-8", "not UTF-8") { $0[l.entries[1].keyStart] = 0xFF }
        mutate("duplicate key", "appears twice") {
            // The first two keys of one length: the second takes the first's name.
            let pairs = l.entries.indices.flatMap { i in l.entries.indices.filter { $0 > i }.map { (i, $0) } }
            let (i, j) = pairs.first { l.entries[$0.0].key.utf8.count == l.entries[$0.1].key.utf8.count }!
            for (k, c) in l.entries[i].key.utf8.enumerated() { $0[l.entries[j].keyStart + k] = c }
        }
        mutate("alignment not a power of two", "alignment") {
            // general.alignment is absent in the fixture: turn the first u32 entry into it is not
            // possible without moving bytes, so rename a key of the same length when there is one.
            let target = "general.alignment"
            if let e = l.entries.first(where: { $0.type == 4 && $0.typeAt - $0.keyStart == target.utf8.count }) {
                for (i, c) in target.utf8.enumerated() { $0[e.keyStart + i] = c }
                put(UInt32(3), at: e.valueAt, in: &$0)
            }
        }
        // Bad tensor infos.
        mutate("zero dimensions", "dimensions; expected 1 to 4") { put(UInt32(0), at: t0.dimsAt, in: &$0) }
        mutate("nine dimensions", "dimensions; expected 1 to 4") { put(UInt32(9), at: t0.dimsAt, in: &$0) }
        mutate("zero-length dimension", "dimension 0 is 0") { put(UInt64(0), at: t0.dimsAt + 4, in: &$0) }
        mutate("absurd dimension", "dimension") { put(UInt64(1) << 50, at: t0.dimsAt + 4, in: &$0) }
        mutate("unknown tensor type", "type") { put(UInt32(250), at: t0.typeAt, in: &$0) }
        mutate("a type the engine lacks (q2_K)", "q2_K") {
            // q2_K blocks are 256 values: pick a tensor whose rows are whole blocks.
            let t = l.tensors.first { Self.dim0(v, $0) % 256 == 0 } ?? t0
            put(UInt32(10), at: t.typeAt, in: &$0)
        }
        mutate("offset past the end", "past the end of the file") { put(UInt64(1) << 40, at: last.offsetAt, in: &$0) }
        mutate("offset not aligned", "not a multiple of the alignment") { put(UInt64(4), at: last.offsetAt, in: &$0) }
        mutate("data running past the end", "run past the end") { put(UInt64(v.count - l.dataStart - 64), at: last.offsetAt, in: &$0) }
        mutate("duplicate tensor name", "appears twice") {
            // Two tensors with names of one length (blk.1.attn_q.weight, blk.2.attn_q.weight): one takes the other's.
            let a = l.tensor("blk.1.attn_q.weight"), b = l.tensor("blk.2.attn_q.weight")
            for (i, c) in a.name.utf8.enumerated() { $0[b.start + 8 + i] = c }
        }
        // Files that parse, but are not a model the engine runs.
        mutate("unknown architecture", "not one this engine runs") {
            let e = l.entry("general.architecture")
            for (i, c) in "llama3".utf8.enumerated() { $0[e.valueAt + 8 + i] = c }
        }
        mutate("missing tensor", "is missing") {
            let t = l.tensor("blk.1.attn_q.weight")
            $0[t.start + 8 + 4] = UInt8(ascii: "X")  // blk.X.attn_q.weight
        }
        mutate("shape disagreeing with the metadata", "metadata implies") {
            let t = l.tensor("blk.0.ffn_down.weight")
            put(UInt64(Self.dim0(v, t) / 2), at: t.dimsAt + 4, in: &$0)
            put(UInt64(Self.dim1(v, t) * 2), at: t.dimsAt + 12, in: &$0)
        }
        mutate("metadata value of the wrong type", "expected an integer") {
            let e = l.entry(".block_count")
            put(UInt32(6), at: e.typeAt, in: &$0)  // now a float32
        }
        return out
    }

    /// The end of the last tensor's data in the valid file (padding may follow it).
    static let dataEnd: Int = {
        let file = try! GGUFFile(path: ParityTests.directory.appendingPathComponent("step-tiny-f32.gguf").path)
        return file.tensors.map { file.dataOffset + $0.offset + $0.byteCount! }.max()!
    }()

    static func dim0(_ b: [UInt8], _ t: Layout.TensorInfo) -> Int { (0..<8).reduce(0) { $0 | Int(b[t.dimsAt + 4 + $1]) << (8 * $1) } }
    static func dim1(_ b: [UInt8], _ t: Layout.TensorInfo) -> Int { (0..<8).reduce(0) { $0 | Int(b[t.dimsAt + 12 + $1]) << (8 * $1) } }

    @Test func theValidFileLoads() throws {
        let path = ParityTests.directory.appendingPathComponent("step-tiny-f32.gguf").path
        let file = try GGUFFile(path: path)
        _ = try ModelWeights(gguf: file, config: ModelConfig.from(gguf: file))
        #expect(Layout(Self.valid).tensors.count == file.tensors.count)
    }

    @Test func everyHostileFileGivesOneClearError() throws {
        let cases = Self.cases()
        #expect(cases.count >= 30)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ctxbench-hostile-gguf-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        for (i, (name, bytes, expected)) in cases.enumerated() {
            let path = dir.appendingPathComponent("case-\(i).gguf").path
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            do {
                let file = try GGUFFile(path: path)
                let config = try ModelConfig.from(gguf: file)
                _ = try ModelWeights(gguf: file, config: config)
                Issue.record("\(name): loaded without an error")
            } catch let error as GGUFError {
                let text = error.description
                #expect(text.contains("case-\(i).gguf"), "\(name): the error does not name the file: \(text)")
                #expect(expected.split(separator: "|").contains { text.contains($0) }, "\(name): expected '\(expected)' in: \(text)")
                #expect(!text.contains("\n"), "\(name): more than one line: \(text)")
            } catch {
                Issue.record("\(name): not a GGUFError: \(error)")
            }
        }
    }
}
