import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A file operation that failed, as one line: what was being done, the path, and why in the
/// system's words ("No space left on device"), never a raw NSError dump.
public struct FileError: Error, CustomStringConvertible, Equatable {
    public let action: String
    public let path: String
    public let reason: String
    public var description: String { "cannot \(action) \(path): \(reason)" }

    public init(_ action: String, _ path: String, reason: String) {
        self.action = action
        self.path = path
        self.reason = reason
    }

    public init(_ action: String, _ path: String, _ error: Error) {
        self.init(action, path, reason: Self.reason(error))
    }

    /// The system's reason for `error`: the POSIX error behind a Foundation error where there is one.
    public static func reason(_ error: Error) -> String {
        if let e = error as? FileError { return e.reason }
        let ns = error as NSError
        if ns.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(ns.code))) }
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? Error { return reason(underlying) }
        if ns.domain == NSCocoaErrorDomain {
            switch ns.code {
            case NSFileNoSuchFileError, NSFileReadNoSuchFileError: return String(cString: strerror(ENOENT))
            case NSFileReadNoPermissionError, NSFileWriteNoPermissionError: return String(cString: strerror(EACCES))
            case NSFileWriteOutOfSpaceError: return String(cString: strerror(ENOSPC))
            case NSFileWriteVolumeReadOnlyError: return String(cString: strerror(EROFS))
            case NSFileReadInapplicableStringEncodingError, NSFileReadCorruptFileError: return "not UTF-8 text"
            case NSFileReadTooLargeError: return "too large to read"
            default: break
            }
        }
        return ns.localizedDescription
    }

    /// What kind of file is at `path`: nil when nothing is there.
    public enum Kind: Equatable { case regular(size: Int), directory, other(String) }

    public static func kind(of path: String) -> Kind? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        switch info.st_mode & S_IFMT {
        case S_IFREG: return .regular(size: Int(info.st_size))
        case S_IFDIR: return .directory
        case S_IFIFO: return .other("a FIFO")
        case S_IFSOCK: return .other("a socket")
        case S_IFCHR, S_IFBLK: return .other("a device")
        default: return .other("not a regular file")
        }
    }

    /// The text of a regular file of at most `limit` bytes, as UTF-8; a clear error otherwise
    /// (a directory, a FIFO that would block the read, a huge file, unreadable or not text).
    public static func readText(_ path: String, what: String, limit: Int = 64 << 20) throws -> String {
        switch kind(of: path) {
        case nil:
            throw FileError("read", path, reason: String(cString: strerror(ENOENT)))
        case .directory:
            throw FileError("read", path, reason: "it is a directory, expected \(what)")
        case let .other(kind):
            throw FileError("read", path, reason: "it is \(kind), expected \(what)")
        case let .regular(size):
            if size > limit {
                throw FileError("read", path, reason: "it is \(size) bytes; \(what) is at most \(limit) bytes")
            }
        }
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch { throw FileError("read", path, error) }
        guard let text = String(data: data, encoding: .utf8) else {
            throw FileError("read", path, reason: "not UTF-8 text, expected \(what)")
        }
        return text
    }
}

/// `text` cut to `limit` characters for an error message ("abc… (10485760 characters)").
func clipped(_ text: String, _ limit: Int = 60) -> String {
    guard text.count > limit else { return text }
    return String(text.prefix(limit)) + "… (\(text.count) characters)"
}
