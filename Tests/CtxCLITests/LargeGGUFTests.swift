import CtxEngine
import CtxHarness
import Foundation
import Testing
@testable import CtxCLI

/// Writes GGUF headers (metadata and tensor infos) the way llama.cpp's converters do, for files whose
/// data is never read: the file is extended to its full size as a sparse file.
struct GGUFHeaderWriter {
    enum Value { case u32(UInt32), f32(Float), bool(Bool), string(String), u32s([UInt32]), f32s([Float]), bools([Bool]) }
    var metadata: [(String, Value)] = []
    var tensors: [(name: String, dims: [Int], type: GGMLType)] = []

    var bytes: (header: [UInt8], dataBytes: Int) {
        var b: [UInt8] = []
        func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { b += $0 } }
        func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { b += $0 } }
        func string(_ s: String) { u64(UInt64(s.utf8.count)); b += Array(s.utf8) }
        b += Array("GGUF".utf8)
        u32(3)
        u64(UInt64(tensors.count))
        u64(UInt64(metadata.count))
        for (key, value) in metadata {
            string(key)
            switch value {
            case let .u32(v): u32(4); u32(v)
            case let .f32(v): u32(6); u32(v.bitPattern)
            case let .bool(v): u32(7); b.append(v ? 1 : 0)
            case let .string(v): u32(8); string(v)
            case let .u32s(v): u32(9); u32(4); u64(UInt64(v.count)); v.forEach(u32)
            case let .f32s(v): u32(9); u32(6); u64(UInt64(v.count)); v.forEach { u32($0.bitPattern) }
            case let .bools(v): u32(9); u32(7); u64(UInt64(v.count)); v.forEach { b.append($0 ? 1 : 0) }
            }
        }
        var offset = 0
        for t in tensors {
            string(t.name)
            u32(UInt32(t.dims.count))
            t.dims.forEach { u64(UInt64($0)) }
            u32(t.type.rawValue)
            u64(UInt64(offset))
            let bytes = t.dims.dropFirst().reduce(1, *) * (t.dims[0] / t.type.blockValues) * t.type.blockBytes
            offset += (bytes + 31) / 32 * 32
        }
        while b.count % 32 != 0 { b.append(0) }
        return (b, offset)
    }

    /// Writes the header and extends the file to its full size without writing the data.
    func write(to path: String) throws -> Int {
        let (header, dataBytes) = bytes
        try Data(header).write(to: URL(fileURLWithPath: path))
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.truncate(atOffset: UInt64(header.count + dataBytes))
        try handle.close()
        return header.count + dataBytes
    }

    /// A step35 file of `c`'s shape, as convert_hf_to_gguf writes Step-3.5-Flash: matrices in `type`,
    /// norms and the router in f32.
    static func step35(_ c: ModelConfig, type: GGMLType) -> GGUFHeaderWriter {
        var w = GGUFHeaderWriter()
        let a = "step35", n = c.layerCount
        w.metadata = [
            ("general.architecture", .string(a)), ("\(a).block_count", .u32(UInt32(n))),
            ("\(a).context_length", .u32(UInt32(c.maxContext))), ("\(a).embedding_length", .u32(UInt32(c.hiddenSize))),
            ("\(a).feed_forward_length", .u32(UInt32(c.denseIntermediate))), ("\(a).vocab_size", .u32(UInt32(c.vocabSize))),
            ("\(a).attention.layer_norm_rms_epsilon", .f32(c.normEps)),
            ("\(a).attention.head_count", .u32s((0..<n).map { UInt32(c.gqaHeads(c.mixer(ofLayer: $0))) })),
            ("\(a).attention.head_count_kv", .u32s(Array(repeating: UInt32(c.kvHeads), count: n))),
            ("\(a).attention.key_length", .u32(UInt32(c.headDim))), ("\(a).attention.value_length", .u32(UInt32(c.headDim))),
            ("\(a).attention.sliding_window", .u32(UInt32(c.slidingWindow))),
            ("\(a).attention.sliding_window_pattern", .bools((0..<n).map { c.mixer(ofLayer: $0) == .gqaSliding })),
            ("\(a).rope.dimension_count", .u32(UInt32(2 * c.fullRotaryDims))), ("\(a).rope.dimension_count_swa", .u32(UInt32(c.slidingRotaryDims))),
            ("\(a).rope.freq_base", .f32(c.fullRopeTheta)), ("\(a).rope.freq_base_swa", .f32(c.slidingRopeTheta)),
            ("\(a).leading_dense_block_count", .u32(UInt32(c.denseLayers))), ("\(a).expert_count", .u32(UInt32(c.experts))),
            ("\(a).expert_used_count", .u32(UInt32(c.expertsPerToken))),
            ("\(a).expert_feed_forward_length", .u32(UInt32(c.expertIntermediate))),
            ("\(a).expert_weights_scale", .f32(c.routedScale)), ("\(a).expert_gating_func", .u32(2)),
            ("\(a).expert_weights_norm", .bool(c.normalizeExpertWeights)),
            ("\(a).swiglu_clamp_exp", .f32s((0..<n).map { c.routedLimit(layer: $0) ?? 0 })),
            ("\(a).swiglu_clamp_shexp", .f32s((0..<n).map { c.sharedLimit(layer: $0) ?? 0 })),
        ]
        for spec in c.tensorSpecs() {
            let vector = [.norm, .routerBias, .decay, .router].contains(spec.role)
            let dims = spec.experts > 1 ? [spec.cols, spec.rows / spec.experts, spec.experts]
                : spec.rows == 1 ? [spec.cols] : [spec.cols, spec.rows]
            w.tensors.append((spec.name, dims, vector ? .f32 : type))
        }
        return w
    }
}

@Suite struct LargeGGUFTests {
    static func temporaryDirectory() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ctxbench-large-gguf-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    /// Step-3.5-Flash at full size in q4_K: a 110 GB file of which only the header exists on disk.
    @Test func aFileFarLargerThanMemoryIsPlannedFromItsHeaderAndRefused() throws {
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("Step-3.5-Flash-Q4_K.gguf").path
        let size = try GGUFHeaderWriter.step35(.step35Flash, type: .q4_K).write(to: path)
        #expect(size > 100_000_000_000)

        // The file's configuration is the published model's.
        var config = try ModelConfig.from(gguf: GGUFFile(path: path))
        config.name = ModelConfig.step35Flash.name
        #expect(config.layerMixers == ModelConfig.step35Flash.layerMixers)
        config.layerPattern = nil  // the file spells the pattern out; the preset derives it
        #expect(config == ModelConfig.step35Flash)

        // models --gguf: the presets' table for this file, and its weights as stored.
        let models = runCLI(["models", "--gguf", path])
        #expect(models.code == 0, "\(models.err)")
        let row = try #require(models.out.split(separator: "\n").first { $0.hasPrefix("| Step-3.5-Flash-Q4_K |") })
        #expect(row.contains("45 (12 gqa-full, 33 gqa-sliding; 3 dense, 42 moe)") || row.contains("45 ("), "\(row)")
        #expect(models.out.contains("weights as stored 1"), "\(models.out)")

        // validate: a suite naming the file says it will not fit, before reading any weight.
        let suite = dir.appendingPathComponent("big.json5")
        try #"{ models: [{ gguf: "Step-3.5-Flash-Q4_K.gguf" }], tests: { pp: [512] } }"#.write(to: suite, atomically: true, encoding: .utf8)
        let validate = runCLI(["validate", suite.path])
        let text = validate.out + validate.err
        #expect(text.contains("Step-3.5-Flash-Q4_K"), "\(text)")
        let setup = try #require(text.split(separator: "\n").first { $0.hasPrefix("| Step-3.5-Flash-Q4_K ") }, "\(text)")
        #expect(setup.contains("| NO: refused"), "\(setup)")
        #expect(setup.contains("103.34 GiB"), "the weights as the file stores them: \(setup)")

        // On llama.cpp (on the host), refused before llama-bench starts (its bin does not exist: a
        // start would fail otherwise); with -ngl the host is not the limit, and it is tried.
        let engines = dir.appendingPathComponent("engines.json5")
        try #"{ models: [{ gguf: "Step-3.5-Flash-Q4_K.gguf" }], tests: { pp: [512] }, threads: [1], "#
            .appending(#"engines: [{ name: "llama.cpp", bin: "/nonexistent" }, { name: "llama.cpp", label: "gpu", bin: "/nonexistent", args: ["-ngl", "99"] }] }"#)
            .write(to: engines, atomically: true, encoding: .utf8)
        let plan = SuitePlan(suite: try Suite.load(path: engines.path))
        var options = SuiteRunner.Options()
        options.calibrate = false
        options.quiet = true
        let (run, _) = try RunDirectory.create(path: dir.appendingPathComponent("run").path, force: false)
        _ = try SuiteRunner(plan: plan, suiteFile: engines.path, sink: run, options: options, log: { _ in }).run(resuming: false)
        let cells = RunDirectory(existing: run.path).finishedCells()
        #expect(cells.count == 2)
        #expect(cells[0].status == .refused && cells[0].error?.contains("llama.cpp on the host") == true, "\(cells[0].error ?? "")")
        #expect(cells[1].status == .failed && cells[1].error?.contains("cannot start /nonexistent/llama-bench") == true)
    }
}
