// process-info: the classic multiprocessing info() example. Prints the module, parent pid and pid of
// this program, then runs itself again as a child through Command and shows the child's
// pid and parent pid, checking that the child's parent is this process.
// Run: swift run -c release process-info
import Glibc
import Weave

/// The Python original's `info(title)`: who am I, and who is my parent.
func info(_ title: String) {
    print(title)
    print("module name:", #fileID.prefix { $0 != "/" })
    print("parent process:", CurrentProcess.parentID)
    print("process id:", CurrentProcess.id)
}

/// This program's own executable, to re-run it as the child.
func ownExecutable() -> String {
    var path = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
    let length = readlink("/proc/self/exe", &path, path.count - 1)
    guard length > 0 else { return CommandLine.arguments[0] }
    return String(decoding: path[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

let arguments = CommandLine.arguments.dropFirst()
if arguments.first == "--child" {
    // The Python original's f(name), run in the child process.
    info("function f")
    print("hello", arguments.dropFirst().first ?? "bob")
} else {
    do {
        try Hub.run {
            info("main line")
            print()
            let child = try Command.run(ownExecutable(), arguments: ["--child", "bob"], timeout: .seconds(30))
            print(child.outputString, terminator: "")
            guard child.isSuccess else {
                throw SampleFailure("the child \(child.status): \(child.errorString)")
            }
            let parentLine = child.outputString.split(separator: "\n").first { $0.hasPrefix("parent process:") }
            let childParent = parentLine.flatMap { Int32($0.split(separator: " ").last ?? "") }
            print()
            print("the child's parent process is this process (\(CurrentProcess.id)):", childParent == CurrentProcess.id)
        }
    } catch {
        var line = "process-info: \(error)\n"
        line.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
        exit(1)
    }
}

struct SampleFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
