import Foundation

extension Suite {
    /// Who runs a suite's cells: ctxbench's own engine, or llama.cpp (the user's `llama-bench`
    /// build, any backend) on the same models. A suite lists them in `engines`; every cell runs on
    /// each engine that can run it, and the engine is part of the cell's identity.
    ///
    ///     engines: [{ name: "ctxbench" },
    ///               { name: "llama.cpp", bin: "/opt/llama.cpp/build/bin", args: ["-fa", "1", "-ngl", "99"],
    ///                 label: "llama.cpp-metal", timeoutSeconds: 3600 }]
    public struct Engine: Sendable, Equatable {
        public enum Kind: String, Sendable, CaseIterable {
            case ctxbench
            case llamaCpp = "llama.cpp"
        }
        /// The llama.cpp program that measures: llama-bench (every test at every depth, `-d`
        /// refilling the depth before each repetition), or llama-batched-bench (the published
        /// tables' S_PP(N) and S_TG(N): one prefill of N tokens from empty, then the generation).
        public enum Tool: String, Sendable, CaseIterable {
            case llamaBench = "llama-bench"
            case batchedBench = "llama-batched-bench"
        }
        public var kind: Kind
        public var tool: Tool = .llamaBench
        /// The engine's name in cell ids and reports: the kind, or the entry's `label` (two
        /// llama.cpp entries, for two builds or two sets of flags, need labels of their own).
        public var label: String
        /// llama.cpp: the folder holding llama-bench (nil: scripts/setup-llama-cpp's build, then PATH).
        public var bin: String?
        /// llama.cpp: passed through to every llama-bench invocation (`-ngl 99`, `-fa 1`, `--rpc HOST:PORT`).
        public var args: [String]
        /// llama.cpp: a process running longer is stopped and its cell recorded as failed.
        public var timeoutSeconds: Double

        public static let ctxbench = Engine(kind: .ctxbench, label: "ctxbench", bin: nil, args: [], timeoutSeconds: 0)

        /// Whether this engine measures `test` at `depth`: llama-batched-bench times a prefill from
        /// an empty context (a pp test at depth 0: S_PP) and the generation after a prefill of the
        /// depth (a tg test: S_TG), not a prefill into a filled context, nor pp+tg.
        public func measures(_ test: Test, depth: Int) -> Bool {
            guard tool == .batchedBench else { return true }
            switch test {
            case .pp: return depth == 0
            case .tg: return true
            case .pg: return false
            }
        }
    }

    /// Whether `engine` can run model `model`, and if not, why: llama.cpp runs a GGUF file's own
    /// weights, whole (no synthetic weights, no layer slice).
    public func engine(_ engine: Engine, cannotRun model: Int) -> String? {
        guard engine.kind == .llamaCpp else { return nil }
        let entry = models[model]
        guard let gguf = entry.gguf else { return "\(entry.label) is a preset; llama.cpp runs GGUF files ({ gguf: \"path\" })" }
        if gguf.syntheticWeights { return "\(entry.label) has synthetic weights; llama.cpp runs the file's own" }
        if let layers = entry.layers, layers < entry.config.layerCount { return "\(entry.label) is a layer slice; llama.cpp runs whole models" }
        return nil
    }

    static func engines(_ r: SuiteReader, _ top: SuiteReader.ObjectReader, directory: String) throws -> [Engine] {
        guard let list = top.optionalReader("engines") else { return [.ctxbench] }
        let engines = try list.nonEmptyArray().enumerated().map { i, value -> Engine in
            let path = "engines[\(i)]"
            let o = try r.object(value, path)
            let name = try o.string("name") ?? ""
            guard let kind = Engine.Kind(rawValue: name) else {
                throw r.fail(path + ".name", "expected \"ctxbench\" or \"llama.cpp\", got \"\(clipped(name, 40))\"")
            }
            var engine = Engine(kind: kind, label: try o.string("label") ?? name, bin: nil, args: [], timeoutSeconds: 3600)
            if kind == .llamaCpp {
                if let bin = try o.string("bin") {
                    engine.bin = bin.hasPrefix("/") ? bin : URL(fileURLWithPath: directory).appendingPathComponent(bin).standardized.path
                }
                engine.args = try (o.optionalReader("args").map { try $0.list() } ?? []).enumerated().map { j, v in
                    try r.string(v, "\(path).args[\(j)]")
                }
                engine.timeoutSeconds = try o.number("timeoutSeconds", 1...604_800) ?? 3600
                if let tool = try o.string("tool") {
                    guard let t = Engine.Tool(rawValue: tool) else {
                        throw r.fail(path + ".tool", "expected \"llama-bench\" or \"llama-batched-bench\", got \"\(clipped(tool, 40))\"")
                    }
                    engine.tool = t
                }
                // Options the suite sets itself: given twice, llama-bench would run another grid.
                let owned = ["-m", "--model", "-o", "--output", "-r", "--repetitions", "-p", "-n", "-pg", "-d", "--n-depth", "-t", "--threads",
                             "-ctk", "-ctv", "--cache-type-k", "--cache-type-v", "--numa", "-b", "-ub", "--batch-size", "--ubatch-size"]
                if let j = engine.args.firstIndex(where: owned.contains) {
                    throw r.fail("\(path).args[\(j)]", "\(engine.args[j]) is set by the suite (models, tests, threads, cacheTypes, numa, "
                                 + "repetitions, batch, microBatch); pass only other llama-bench options here")
                }
            } else if let key = ["bin", "args", "timeoutSeconds", "tool"].first(where: { o.optional($0) != nil }) {
                throw r.fail("\(path).\(key)", "only llama.cpp engines take bin, args, timeoutSeconds and tool")
            }
            guard !engine.label.isEmpty, engine.label.allSatisfy({ $0.isLetter || $0.isNumber || "._-".contains($0) }) else {
                throw r.fail(path + ".label", "expected letters, digits, '.', '_' or '-', got \"\(clipped(engine.label, 40))\"")
            }
            try o.finish()
            return engine
        }
        if engines.filter({ $0.kind == .ctxbench }).count > 1 {
            throw r.fail("engines", "ctxbench is listed twice; its engine has no options to tell two entries apart")
        }
        try rejectRepeats(r, engines.map(\.label), path: { "engines[\($0)]" }, hint: "; give one a label: { name: \"llama.cpp\", label: \"llama.cpp-fa\" }")
        return engines
    }
}

extension SuiteReader.ValueReader {
    /// A list, possibly empty.
    func list() throws -> [JSONValue] {
        guard case let .array(items) = value else { throw reader.fail(path, "expected a list, got \(value.kindDescription)") }
        return items
    }
}
