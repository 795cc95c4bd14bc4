import CtxEngine
import CtxHarness
import Foundation

/// `ctxbench logits`: the engine's logits for a token sequence on a GGUF model, for checking the
/// engine against another implementation (llama.cpp) on one's own model.
struct LogitsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        name: "logits",
        abstract: "Write the engine's logits for a token sequence on a GGUF model (a NumPy array).",
        discussion: """
        The first --prefill tokens run as one prefill (micro-batched as the engine always runs), the
        rest one decode step at a time. Every position's logits are written as a float32 NumPy array
        [positions, vocabulary]. --routing-out also writes every MoE layer's expert-selection scores
        (records of int32 layer, tokens, experts, then float32 scores), the format of
        scripts/llama-logits.c, so routing decisions and their margins can be compared too. The KV
        cache is f32 unless --cache-type says otherwise. scripts/check-parity compares with llama.cpp.
        """,
        options: [
            .value("--gguf", "file", help: "The model (architectures kimi-linear, step35).", required: true),
            .value("--tokens", "ids", help: "Token ids, comma-separated."),
            .value("--tokens-file", "file", help: "A file of token ids (separated by commas or white space)."),
            .value("--prefill", "n", help: "Tokens in the first forward call.", note: "all"),
            .value("--out", "file.npy", help: "Where to write the logits (must not exist unless --force).", required: true),
            .value("--routing-out", "file", help: "Also write the MoE selection scores here."),
            .value("--threads", "n", help: "Threads.", note: "all logical CPUs"),
            .value("--cache-type", "type", help: "KV cache type (f32, f16, q8_0).", default: "f32"),
            .value("--micro-batch", "n", help: "Tokens per forward micro-batch.", default: "512"),
            .flag("--force", help: "Replace existing output files."),
        ]
    )

    let gguf: String
    let tokens: [Int32]
    let prefill: Int
    let out: String
    let routingOut: String?
    let threads: Int
    let cacheType: DType
    let microBatch: Int

    init(parsed: ParsedArguments) throws {
        gguf = parsed.string("--gguf")!
        switch (parsed.string("--tokens"), parsed.string("--tokens-file")) {
        case let (text?, nil):
            tokens = try Self.parseTokens(text, source: "option '--tokens'")
        case let (nil, path?):
            let text: String
            do { text = try FileError.readText(path, what: "a file of token ids", limit: 64 << 20) } catch let e as FileError {
                throw UsageError("option '--tokens-file': \(e)")
            }
            tokens = try Self.parseTokens(text, source: path)
        case (nil, nil): throw UsageError("give the tokens: --tokens 1,2,3 or --tokens-file FILE")
        case (.some, .some): throw UsageError("--tokens and --tokens-file both give tokens; give one")
        }
        guard !tokens.isEmpty else { throw UsageError("no token ids given") }
        prefill = try parsed.int("--prefill", in: 1...tokens.count) ?? tokens.count
        out = parsed.string("--out")!
        routingOut = parsed.string("--routing-out")
        threads = try parsed.int("--threads", in: 1...4096) ?? ProcessInfo.processInfo.activeProcessorCount
        let cacheName = parsed.string("--cache-type")!
        guard let cache = DType(name: cacheName), KVCache.types.contains(cache) else {
            throw UsageError("option '--cache-type' expects f32, f16 or q8_0, got '\(cacheName)'")
        }
        cacheType = cache
        microBatch = try parsed.int("--micro-batch", in: 1...65536)!
        if !parsed.flag("--force") {
            for path in [out] + (routingOut.map { [$0] } ?? []) where FileManager.default.fileExists(atPath: path) {
                throw UsageError("\(path) exists; choose another file or pass --force to replace it")
            }
        }
    }

    /// "1,2, 3\n4" -> [1, 2, 3, 4]; anything else names the first bad entry.
    static func parseTokens(_ text: String, source: String) throws -> [Int32] {
        let separators = CharacterSet(charactersIn: ",").union(.whitespacesAndNewlines)
        var result: [Int32] = []
        for (i, item) in text.components(separatedBy: separators).filter({ !$0.isEmpty }).enumerated() {
            guard let id = Int32(item), id >= 0 else {
                throw UsageError("\(source): token \(i + 1) is '\(item.prefix(20))', expected a non-negative integer id")
            }
            result.append(id)
        }
        return result
    }

    func run(io: CommandIO) throws -> Int32 {
        let dump: LogitsDump
        do {
            dump = try LogitsDump.run(gguf: gguf, tokens: tokens, prefill: prefill, threads: threads, cacheType: cacheType,
                                      microBatch: microBatch)
        } catch let e as GGUFError {
            throw UsageError("option '--gguf': \(e)")
        } catch let e as LogitsError {
            throw UsageError(e.description)
        }
        try AtomicFile.write(dump.logits.data, to: out)
        if let routingOut { try AtomicFile.write(dump.routing.data, to: routingOut) }
        io.err(String(format: "%d positions x %d logits (%d prefill, %d decode steps) in %.2f s -> %@\n", dump.logits.shape[0],
                      dump.logits.shape[1], prefill, tokens.count - prefill, dump.seconds, out))
        return ExitCode.success
    }
}
