import CtxCLI
import Foundation

let io = CommandIO(
    out: { text in FileHandle.standardOutput.write(Data(text.utf8)) },
    err: { text in FileHandle.standardError.write(Data(text.utf8)) },
    stderrIsTerminal: isatty(STDERR_FILENO) != 0
)
exit(CLI.main(Array(CommandLine.arguments.dropFirst()), io: io))
