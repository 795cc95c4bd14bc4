import Foundation

/// Where calibrations are kept between runs: `results/calibration/<host>.json` (git-ignored:
/// they describe one machine). Later runs read it to express rates as fractions of these limits.
public enum CalibrationStore {
    public static func defaultPath(host: String) -> String {
        let safe = host.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" ? $0 : "_" }
        return "results/calibration/\(String(safe)).json"
    }

    public static func save(_ calibration: Calibration, to path: String) throws {
        try AtomicFile.writeJSON(calibration, to: path)
    }

    public static func load(from path: String) throws -> Calibration {
        try JSONFormat.decode(Calibration.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
    }
}
