/// Help screens in swift-argument-parser's layout (OVERVIEW, USAGE, ARGUMENTS, OPTIONS).
public enum HelpFormatter {
    static let helpOption = OptionSpec.flag("--help", help: "Show help information.")

    public static func help(for configuration: CommandConfiguration) -> String {
        var lines: [String] = ["OVERVIEW: \(configuration.abstract)", ""]
        if let discussion = configuration.discussion {
            lines += [discussion, ""]
        }
        lines += ["USAGE: \(usage(for: configuration))", ""]
        if !configuration.arguments.isEmpty {
            lines.append("ARGUMENTS:")
            for argument in configuration.arguments {
                lines.append(row("<\(argument.name)>" + (argument.isRepeating ? " ..." : ""), argument.help))
            }
            lines.append("")
        }
        lines.append("OPTIONS:")
        for option in configuration.options + [helpOption] {
            var text = option.help
            if option.isRequired { text += " (required)" }
            if let value = option.defaultDescription { text += " (default: \(value))" }
            let label = option.name == "--help" ? "-h, --help" : optionLabel(option)
            lines.append(row(label, text))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    public static func usage(for configuration: CommandConfiguration) -> String {
        var parts = ["ctxbench", configuration.name]
        for argument in configuration.arguments {
            var text = "<\(argument.name)>"
            if argument.isRepeating { text += " ..." }
            parts.append(argument.isOptional ? "[\(text)]" : text)
        }
        parts += configuration.options.map { $0.isRequired ? optionLabel($0) : "[\(optionLabel($0))]" }
        return parts.joined(separator: " ")
    }

    public static func rootHelp(commands: [any ParsableCommand.Type]) -> String {
        var lines = [
            "OVERVIEW: ctxbench \(CLI.version): benchmark and profile long-context LLM inference on CPUs.",
            "",
            "USAGE: ctxbench <command> [<options>]",
            "",
            "COMMANDS:",
        ]
        for command in commands {
            lines.append(row(command.configuration.name, command.configuration.abstract))
        }
        lines.append(row("help", "Show help for a command."))
        lines += [
            "",
            "OPTIONS:",
            row("--version", "Show the version."),
            row("-h, --help", "Show help information."),
            "",
            "  See 'ctxbench help <command>' for detailed help.",
        ]
        return lines.joined(separator: "\n") + "\n"
    }

    static func optionLabel(_ option: OptionSpec) -> String {
        option.valueName.map { "\(option.name) <\($0)>" } ?? option.name
    }

    /// Two columns: a label padded to 24, wrapped help text.
    static func row(_ label: String, _ text: String) -> String {
        let indent = String(repeating: " ", count: 26)
        let words = text.split(separator: " ")
        var lines: [String] = []
        var current = ""
        for word in words {
            if !current.isEmpty && current.count + 1 + word.count > 54 {
                lines.append(current)
                current = String(word)
            } else {
                current += current.isEmpty ? String(word) : " " + word
            }
        }
        if !current.isEmpty { lines.append(current) }
        let head = "  " + label
        var result: String
        if head.count <= 24 {
            result = head + String(repeating: " ", count: 26 - head.count) + (lines.first ?? "")
        } else {
            result = head + "\n" + indent + (lines.first ?? "")
        }
        for line in lines.dropFirst() { result += "\n" + indent + line }
        return result
    }
}
