// pipe-demo: the classic multiprocessing Pipe example: a child sends two records over a ProcessPipe,
// the parent answers, the child prints the answer; then end of stream once the child exits.
// Run: swift run -c release pipe-demo
import Glibc
import Weave

/// The Python original's `[123, 'sada', None]`: a Codable record instead of a Python list.
struct Record: Codable, Sendable, CustomStringConvertible {
    let number: Int
    let text: String
    let note: String?
    var description: String { "[\(number), \"\(text)\", \(note.map { "\"\($0)\"" } ?? "nil")]" }
}

/// The child's side: send two records, print what the parent sends back.
struct Talk: ProcessTask {
    let connection: ProcessPipe
    func run() throws -> Int32 {
        try connection.send(Record(number: 123, text: "sada", note: nil))
        try connection.send(Record(number: 12223, text: "s343ada321", note: nil))
        let reply = try connection.receive(String.self, timeout: .seconds(10))
        say("child  \(getpid())  received  \(reply)")
        connection.close()
        return getpid()
    }
}

/// One line, written at once (parent and child share the terminal).
func say(_ text: String) {
    var line = text + "\n"
    line.withUTF8 { _ = write(1, $0.baseAddress, $0.count) }
}

ProcessWorker.main(tasks: [Talk.self])

try Hub.run {
    let (parentConnection, childConnection) = try ProcessPipe.makePair()
    let child = try ChildProcess(Talk(connection: childConnection))
    say("parent \(getpid())  started   child \(child.pid)")
    say("parent \(getpid())  received  \(try parentConnection.receive(Record.self, timeout: .seconds(10)))")
    say("parent \(getpid())  received  \(try parentConnection.receive(Record.self, timeout: .seconds(10)))")
    try parentConnection.send("hello child!!")
    _ = try child.join(timeout: .seconds(10))
    do {
        _ = try parentConnection.receive(Record.self, timeout: .seconds(10))
    } catch let error as ProcessError where error.code == .endOfStream {
        say("parent \(getpid())  end of stream: child \(child.pid) \(child.exitStatus!)")
    }
}
