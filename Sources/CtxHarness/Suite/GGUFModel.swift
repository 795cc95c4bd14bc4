import CtxEngine
import Foundation

/// A suite model that is a GGUF file (`{ gguf: "path" }`): its configuration comes from the file's
/// header, and a run uses the file's own weights, memory-mapped, or with `weights: "synthetic"` the
/// file's shape filled with synthetic weights of the suite's weight types. Only the header is read
/// to plan, so a suite naming a file far larger than memory is checked (and refused) before any
/// weight is touched.
public struct GGUFModel: Sendable, Equatable {
    /// Absolute path of the file.
    public var path: String
    public var syntheticWeights: Bool
    /// The file's weights as the engine holds them (nil with synthetic weights).
    public var fileRecipe: WeightRecipe?
    public var fileBytes: Int

    /// Reads the header of `path` (relative paths against `directory`): the configuration and,
    /// for the file's own weights, every tensor the engine needs checked by name, shape and type.
    public static func open(_ path: String, relativeTo directory: String? = nil, syntheticWeights: Bool,
                            layers: Int? = nil) throws -> (model: GGUFModel, config: ModelConfig) {
        let absolute = Self.absolute(path, relativeTo: directory)
        let file = try GGUFFile(path: absolute)
        let config = try ModelConfig.from(gguf: file)
        if let layers, !(1...config.layerCount).contains(layers) {
            throw GGUFError(absolute, "layers: expected 1...\(config.layerCount) (the file's block_count), got \(layers)")
        }
        let recipe = syntheticWeights ? nil : try ModelWeights.fileRecipe(file, config: config, layers: layers)
        return (GGUFModel(path: absolute, syntheticWeights: syntheticWeights, fileRecipe: recipe, fileBytes: file.fileSize), config)
    }

    static func absolute(_ path: String, relativeTo directory: String?) -> String {
        if path.hasPrefix("/") { return URL(fileURLWithPath: path).standardizedFileURL.path }
        let base = directory.map { URL(fileURLWithPath: $0, isDirectory: true) }
            ?? URL(fileURLWithPath: FileManager.default.currentDirectoryPath, isDirectory: true)
        return URL(fileURLWithPath: path, relativeTo: base).standardizedFileURL.path
    }

    /// The file's own weights, read in place (the session's weights when the model is not synthetic).
    public func loadWeights(config: ModelConfig, layers: Int?) throws -> ModelWeights {
        try ModelWeights(gguf: GGUFFile(path: path), config: config, layers: layers)
    }
}
