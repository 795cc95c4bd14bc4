import Foundation

/// A float32 array in NumPy's .npy format (version 1.0, little-endian, C order): what `ctxbench
/// logits` writes and the parity checks read, so anyone can compare with `numpy.load`.
///
///     "\x93NUMPY" 1 0, u16 header length, "{'descr': '<f4', 'fortran_order': False, 'shape': (R, C), }"
///     padded with spaces and a newline to a multiple of 64 bytes, then R x C float32.
public struct NumPyArray: Equatable {
    public var shape: [Int]
    public var values: [Float]

    public init(shape: [Int], values: [Float]) {
        precondition(shape.reduce(1, *) == values.count, "shape \(shape) does not hold \(values.count) values")
        self.shape = shape
        self.values = values
    }

    public var data: Data {
        let dims = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': \(dims), }"
        let unpadded = 10 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        var out = Data([0x93] + Array("NUMPY".utf8) + [1, 0])
        let length = UInt16(header.utf8.count)
        out.append(contentsOf: [UInt8(length & 0xFF), UInt8(length >> 8)])
        out.append(contentsOf: Array(header.utf8))
        values.withUnsafeBufferPointer { p in
            for v in p { withUnsafeBytes(of: v.bitPattern.littleEndian) { out.append(contentsOf: $0) } }
        }
        return out
    }

    /// Reads a float32 .npy file (C order); anything else is an error naming the file.
    public static func read(_ path: String) throws -> NumPyArray {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch { throw FileError("read", path, error) }
        func fail(_ why: String) -> FileError { FileError("read", path, reason: "not a float32 .npy array: \(why)") }
        let bytes = [UInt8](data)
        guard bytes.count >= 10, bytes[0] == 0x93, Array(bytes[1...5]) == Array("NUMPY".utf8) else { throw fail("no NUMPY magic") }
        let major = bytes[6]
        let headerStart = major == 1 ? 10 : 12
        guard bytes.count >= headerStart else { throw fail("truncated header") }
        let headerLength = major == 1 ? Int(bytes[8]) | Int(bytes[9]) << 8
            : Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
        guard bytes.count >= headerStart + headerLength,
              let header = String(bytes: bytes[headerStart..<(headerStart + headerLength)], encoding: .ascii) else { throw fail("truncated header") }
        guard header.contains("'descr': '<f4'") else { throw fail("dtype is not '<f4'") }
        guard header.contains("'fortran_order': False") else { throw fail("Fortran order") }
        guard let open = header.range(of: "'shape': ("), let close = header[open.upperBound...].firstIndex(of: ")") else { throw fail("no shape") }
        let shape = header[open.upperBound..<close].split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        let count = shape.reduce(1, *)
        let start = headerStart + headerLength
        guard bytes.count - start == count * 4 else { throw fail("\(bytes.count - start) data bytes for shape \(shape)") }
        var values = [Float](repeating: 0, count: count)
        values.withUnsafeMutableBytes { out in out.copyBytes(from: bytes[start...]) }
        for i in values.indices { values[i] = Float(bitPattern: UInt32(littleEndian: values[i].bitPattern)) }
        return NumPyArray(shape: shape, values: values)
    }
}
