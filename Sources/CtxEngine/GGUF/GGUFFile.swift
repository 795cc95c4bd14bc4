#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A GGUF file (v2 and v3, the format llama.cpp writes), memory-mapped read-only: its metadata and
/// tensor infos parsed and checked, its tensor data left in the mapping (a weight is copied only
/// when the engine needs another layout). Reading the header touches only the header's pages, so
/// the shape of a model far larger than memory can be planned without reading a weight.
///
/// Layout (little-endian): "GGUF", version u32, tensor count u64, metadata count u64; metadata
/// entries (key string, value type u32, value); tensor infos (name string, n_dims u32, dims u64
/// innermost first, ggml type u32, offset u64 from the data section); padding to the alignment
/// (general.alignment, default 32); the data section. A string is a u64 length and UTF-8 bytes.
///
/// Every read is bounds-checked against the file: a truncated, corrupt or hostile file (offsets past
/// the end, absurd counts, huge strings, dimensions that overflow) is one `GGUFError` naming the
/// file and what is wrong, never a crash.
public final class GGUFFile: @unchecked Sendable {
    public let path: String
    public let version: UInt32
    /// Metadata in file order.
    public let metadata: [(key: String, value: GGUFValue)]
    public let tensors: [GGUFTensorInfo]
    public let alignment: Int
    /// File offset of the data section.
    public let dataOffset: Int
    public let fileSize: Int
    private let base: UnsafeRawPointer
    private let index: [String: Int]
    private let metadataIndex: [String: Int]

    /// Limits no real file comes near; past them a count or size is corrupt.
    static let maximumTensors = 1 << 20
    static let maximumMetadata = 1 << 20
    static let maximumArrayNesting = 8

    public init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw GGUFError(path, "cannot open: \(String(cString: strerror(errno)))") }
        defer { _ = close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw GGUFError(path, "cannot stat: \(String(cString: strerror(errno)))") }
        guard (info.st_mode & S_IFMT) == S_IFREG else { throw GGUFError(path, "not a regular file") }
        fileSize = Int(info.st_size)
        guard fileSize >= 24 else { throw GGUFError(path, "\(fileSize) bytes: too short for a GGUF header (24 bytes)") }
        guard let mapped = mmap(nil, fileSize, PROT_READ, MAP_PRIVATE, fd, 0), mapped != MAP_FAILED else {
            throw GGUFError(path, "cannot map: \(String(cString: strerror(errno)))")
        }
        base = UnsafeRawPointer(mapped)
        do {
            var r = Reader(base: base, size: fileSize, file: path)
            guard r.bytes(4) == Array("GGUF".utf8) else { throw GGUFError(path, "not a GGUF file (no GGUF magic)") }
            version = try r.u32("the version")
            guard version == 2 || version == 3 else { throw GGUFError(path, "GGUF version \(version); this reader knows versions 2 and 3") }
            let tensorCount = try r.count("the tensor count", limit: Self.maximumTensors, minimumBytes: 24)
            let kvCount = try r.count("the metadata count", limit: Self.maximumMetadata, minimumBytes: 12)
            var metadata: [(String, GGUFValue)] = []
            var metadataIndex: [String: Int] = [:]
            for i in 0..<kvCount {
                let key = try r.string("metadata key \(i)")
                if metadataIndex[key] != nil { throw GGUFError(path, "metadata key '\(key)' appears twice") }
                let type = try r.u32("the type of '\(key)'")
                metadata.append((key, try r.value(type: type, key: key, depth: 0)))
                metadataIndex[key] = i
            }
            self.metadata = metadata
            self.metadataIndex = metadataIndex
            var alignment = 32
            if let i = metadataIndex["general.alignment"] {
                guard let a = metadata[i].1.integer, a > 0, a <= 1 << 20, a & (a - 1) == 0 else {
                    throw GGUFError(path, "general.alignment must be a power of two up to 1 MiB, got \(metadata[i].1)")
                }
                alignment = a
            }
            self.alignment = alignment
            var infos: [(String, [Int], UInt32, Int)] = []
            var index: [String: Int] = [:]
            for i in 0..<tensorCount {
                let name = try r.string("the name of tensor \(i)")
                if index[name] != nil { throw GGUFError(path, "tensor '\(name)' appears twice") }
                let dimCount = try r.u32("the dimension count of '\(name)'")
                guard (1...4).contains(dimCount) else { throw GGUFError(path, "tensor '\(name)': \(dimCount) dimensions; expected 1 to 4") }
                var dims: [Int] = []
                for d in 0..<Int(dimCount) {
                    let n = try r.u64("dimension \(d) of '\(name)'")
                    guard n >= 1, n <= 1 << 40 else { throw GGUFError(path, "tensor '\(name)': dimension \(d) is \(n)") }
                    dims.append(Int(n))
                }
                let type = try r.u32("the type of '\(name)'")
                let offset = try r.u64("the offset of '\(name)'")
                guard offset <= UInt64(fileSize) else { throw GGUFError(path, "tensor '\(name)': offset \(offset) is past the end of the file (\(fileSize) bytes)") }
                infos.append((name, dims, type, Int(offset)))
                index[name] = i
            }
            dataOffset = (r.position + alignment - 1) / alignment * alignment
            guard dataOffset <= fileSize else { throw GGUFError(path, "the file ends before its data section (truncated)") }
            var tensors: [GGUFTensorInfo] = []
            for (name, dims, type, offset) in infos {
                let info = try GGUFTensorInfo(name: name, dims: dims, rawType: type, offset: offset, file: path)
                guard offset % alignment == 0 else { throw GGUFError(path, "tensor '\(name)': offset \(offset) is not a multiple of the alignment \(alignment)") }
                if let bytes = info.byteCount {
                    guard dataOffset + offset + bytes <= fileSize else {
                        throw GGUFError(path, "tensor '\(name)': \(bytes) bytes at offset \(offset) run past the end of the file (truncated?)")
                    }
                }
                tensors.append(info)
            }
            self.tensors = tensors
            self.index = index
        } catch {
            munmap(UnsafeMutableRawPointer(mutating: base), fileSize)
            throw error
        }
    }

    deinit { munmap(UnsafeMutableRawPointer(mutating: base), fileSize) }

    public func tensor(_ name: String) -> GGUFTensorInfo? { index[name].map { tensors[$0] } }

    public subscript(key: String) -> GGUFValue? { metadataIndex[key].map { metadata[$0].value } }

    /// The bytes of a tensor (whose type has a known size), in the mapping.
    public func data(_ info: GGUFTensorInfo) -> UnsafeRawPointer { base + dataOffset + info.offset }

    /// The file name without ".gguf": the name of the model a file holds.
    public static func stem(_ path: String) -> String {
        let name = path.split(separator: "/").last.map(String.init) ?? path
        return name.lowercased().hasSuffix(".gguf") ? String(name.dropLast(5)) : name
    }

    /// The architecture the file declares (general.architecture).
    public var architecture: String? { self["general.architecture"]?.string }
}

/// One tensor's description. `dims` are ggml's, innermost first: a matrix of `rows` rows of `cols`
/// values is [cols, rows], a stack of experts [cols, rows, experts].
public struct GGUFTensorInfo: Sendable, Equatable {
    public let name: String
    public let dims: [Int]
    public let rawType: UInt32
    public let offset: Int
    /// The ggml type, if this reader knows it.
    public let type: GGMLType?

    public var elementCount: Int { dims.reduce(1, *) }
    /// Row length (ne0) and rows of every other dimension.
    public var cols: Int { dims[0] }
    public var rows: Int { dims.dropFirst().reduce(1, *) }
    /// Bytes in the file; nil for a type of unknown size.
    public var byteCount: Int? {
        guard let type else { return nil }
        return rows * (cols / type.blockValues) * type.blockBytes
    }
    public var typeName: String { type?.name ?? "ggml type \(rawType)" }

    init(name: String, dims: [Int], rawType: UInt32, offset: Int, file: String) throws {
        self.name = name
        self.dims = dims
        self.rawType = rawType
        self.offset = offset
        type = GGMLType(rawValue: rawType)
        var total = 1.0
        for d in dims { total *= Double(d) }
        guard total <= Double(1 << 50) else { throw GGUFError(file, "tensor '\(name)': \(dims) is \(total) values") }
        if let type, dims[0] % type.blockValues != 0 {
            throw GGUFError(file, "tensor '\(name)': rows of \(dims[0]) values are not whole \(type.name) blocks of \(type.blockValues)")
        }
    }
}

/// ggml's tensor types by their GGUF ids, with block sizes: every type llama.cpp writes, so that a
/// file can be read (and its type named) even where the engine cannot compute with it.
public enum GGMLType: UInt32, CaseIterable, Sendable {
    case f32 = 0, f16 = 1, q4_0 = 2, q4_1 = 3, q5_0 = 6, q5_1 = 7, q8_0 = 8, q8_1 = 9
    case q2_K = 10, q3_K = 11, q4_K = 12, q5_K = 13, q6_K = 14, q8_K = 15
    case iq2_xxs = 16, iq2_xs = 17, iq3_xxs = 18, iq1_s = 19, iq4_nl = 20, iq3_s = 21, iq2_s = 22, iq4_xs = 23
    case i8 = 24, i16 = 25, i32 = 26, i64 = 27, f64 = 28, iq1_m = 29, bf16 = 30
    case tq1_0 = 34, tq2_0 = 35, mxfp4 = 39

    public var name: String { "\(self)".replacingOccurrences(of: "_k", with: "_K") }

    /// (values per block, bytes per block), as ggml's type traits.
    var block: (values: Int, bytes: Int) {
        switch self {
        case .f32, .i32: (1, 4)
        case .f16, .bf16, .i16: (1, 2)
        case .i8: (1, 1)
        case .i64, .f64: (1, 8)
        case .q4_0: (32, 18)
        case .q4_1: (32, 20)
        case .q5_0: (32, 22)
        case .q5_1: (32, 24)
        case .q8_0: (32, 34)
        case .q8_1: (32, 36)
        case .q2_K: (256, 84)
        case .q3_K: (256, 110)
        case .q4_K: (256, 144)
        case .q5_K: (256, 176)
        case .q6_K: (256, 210)
        case .q8_K: (256, 292)
        case .iq2_xxs: (256, 66)
        case .iq2_xs: (256, 74)
        case .iq3_xxs: (256, 98)
        case .iq1_s: (256, 50)
        case .iq4_nl: (32, 18)
        case .iq3_s: (256, 110)
        case .iq2_s: (256, 82)
        case .iq4_xs: (256, 136)
        case .iq1_m: (256, 56)
        case .tq1_0: (256, 54)
        case .tq2_0: (256, 66)
        case .mxfp4: (32, 17)
        }
    }
    public var blockValues: Int { block.values }
    public var blockBytes: Int { block.bytes }

    /// The engine's type for this ggml type, when the engine computes with it.
    public var dtype: DType? {
        switch self {
        case .f32: .f32
        case .f16: .f16
        case .bf16: .bf16
        case .q8_0: .q8_0
        case .q4_0: .q4_0
        case .q5_0: .q5_0
        case .q4_K: .q4_K
        case .q5_K: .q5_K
        case .q6_K: .q6_K
        default: nil
        }
    }
}

/// A metadata value.
public indirect enum GGUFValue: Sendable, Equatable, CustomStringConvertible {
    case uint(UInt64), int(Int64), float(Double), bool(Bool), string(String)
    case array([GGUFValue])

    public var integer: Int? {
        switch self {
        case let .uint(v): v <= UInt64(Int.max) ? Int(v) : nil
        case let .int(v): Int(v)
        case let .float(v): v == v.rounded() && abs(v) < 1e18 ? Int(v) : nil
        case let .bool(b): b ? 1 : 0
        default: nil
        }
    }
    public var number: Double? {
        switch self {
        case let .uint(v): Double(v)
        case let .int(v): Double(v)
        case let .float(v): v
        default: nil
        }
    }
    public var string: String? { if case let .string(s) = self { s } else { nil } }
    public var array: [GGUFValue]? { if case let .array(a) = self { a } else { nil } }

    public var description: String {
        switch self {
        case let .uint(v): "\(v)"
        case let .int(v): "\(v)"
        case let .float(v): "\(v)"
        case let .bool(b): "\(b)"
        case let .string(s): "\"\(s.count > 40 ? String(s.prefix(40)) + "…" : s)\""
        case let .array(a): "an array of \(a.count)"
        }
    }
}

/// A GGUF file that cannot be used, and why.
public struct GGUFError: Error, CustomStringConvertible, Equatable {
    public let file: String
    public let message: String
    public init(_ file: String, _ message: String) { self.file = file; self.message = message }
    public var description: String { "\(file): \(message)" }
}

/// Bounds-checked little-endian reads from the mapped header.
private struct Reader {
    let base: UnsafeRawPointer
    let size: Int
    let file: String
    var position = 0

    var remaining: Int { size - position }

    mutating func need(_ n: Int, _ what: String) throws {
        guard n >= 0, n <= remaining else {
            throw GGUFError(file, "the file ends inside \(what) (at byte \(position) of \(size): truncated or corrupt)")
        }
    }

    mutating func bytes(_ n: Int) -> [UInt8] {
        guard n <= remaining else { return [] }
        defer { position += n }
        return Array(UnsafeRawBufferPointer(start: base + position, count: n))
    }

    mutating func load<T: FixedWidthInteger>(_ type: T.Type, _ what: String) throws -> T {
        try need(MemoryLayout<T>.size, what)
        defer { position += MemoryLayout<T>.size }
        return T(littleEndian: base.loadUnaligned(fromByteOffset: position, as: T.self))
    }

    mutating func u32(_ what: String) throws -> UInt32 { try load(UInt32.self, what) }
    mutating func u64(_ what: String) throws -> UInt64 { try load(UInt64.self, what) }

    /// A count of items each at least `minimumBytes` long: bounded by the bytes left and `limit`.
    mutating func count(_ what: String, limit: Int, minimumBytes: Int) throws -> Int {
        let n = try u64(what)
        guard n <= UInt64(limit), Int(n) * minimumBytes <= remaining else {
            throw GGUFError(file, "\(what) is \(n), more than the file can hold")
        }
        return Int(n)
    }

    mutating func string(_ what: String) throws -> String {
        let n = try u64("the length of \(what)")
        guard n <= UInt64(remaining) else {
            throw GGUFError(file, "\(what): a string of \(n) bytes, past the end of the file")
        }
        let buffer = UnsafeRawBufferPointer(start: base + position, count: Int(n))
        position += Int(n)
        guard let s = String(validating: buffer, as: UTF8.self) else { throw GGUFError(file, "\(what) is not UTF-8") }
        return s
    }

    mutating func value(type: UInt32, key: String, depth: Int) throws -> GGUFValue {
        let what = "the value of '\(key)'"
        switch type {
        case 0: return .uint(UInt64(try load(UInt8.self, what)))
        case 1: return .int(Int64(try load(Int8.self, what)))
        case 2: return .uint(UInt64(try load(UInt16.self, what)))
        case 3: return .int(Int64(try load(Int16.self, what)))
        case 4: return .uint(UInt64(try load(UInt32.self, what)))
        case 5: return .int(Int64(try load(Int32.self, what)))
        case 6: return .float(Double(Float(bitPattern: try load(UInt32.self, what))))
        case 7:
            let b = try load(UInt8.self, what)
            guard b <= 1 else { throw GGUFError(file, "\(what): a bool of \(b)") }
            return .bool(b == 1)
        case 8: return .string(try string(what))
        case 9:
            guard depth < GGUFFile.maximumArrayNesting else { throw GGUFError(file, "\(what): arrays nested deeper than \(GGUFFile.maximumArrayNesting)") }
            let elementType = try u32("the element type of '\(key)'")
            let minimum: Int
            switch elementType {
            case 0, 1, 7: minimum = 1
            case 2, 3: minimum = 2
            case 4, 5, 6: minimum = 4
            case 8, 10, 11, 12: minimum = 8
            case 9: minimum = 12
            default: throw GGUFError(file, "\(what): unknown element type \(elementType)")
            }
            let n = try count("the length of '\(key)'", limit: 1 << 32, minimumBytes: minimum)
            var items: [GGUFValue] = []
            items.reserveCapacity(n)
            for _ in 0..<n { items.append(try value(type: elementType, key: key, depth: depth + 1)) }
            return .array(items)
        case 10: return .uint(try load(UInt64.self, what))
        case 11: return .int(try load(Int64.self, what))
        case 12: return .float(Double(bitPattern: try load(UInt64.self, what)))
        default: throw GGUFError(file, "\(what): unknown value type \(type)")
        }
    }
}
