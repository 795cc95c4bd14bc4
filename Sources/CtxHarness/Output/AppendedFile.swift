import Foundation

/// Appends to a log that grows as results are produced (a run's set-aside lines, a gate's
/// rounds.jsonl): created when missing, written at its end, flushed to disk before returning, and
/// every failure thrown as a `FileError` naming the file, so no caller can lose a line unnoticed.
public enum AppendedFile {
    public static func append(_ data: Data, to path: String) throws {
        if !FileManager.default.fileExists(atPath: path), !FileManager.default.createFile(atPath: path, contents: nil) {
            throw FileError("create", path, reason: "the file cannot be created in its directory")
        }
        guard let handle = FileHandle(forWritingAtPath: path) else {
            throw FileError("open", path, reason: FileError.kind(of: path) == .directory ? "a directory is in the way of the file" : "cannot open for appending")
        }
        defer { try? handle.close() }
        do {
            try handle.seekToEnd()
            try handle.write(contentsOf: data)
            try handle.synchronize()
        } catch { throw FileError("write", path, error) }
    }

    public static func append(_ text: String, to path: String) throws {
        try append(Data(text.utf8), to: path)
    }
}
