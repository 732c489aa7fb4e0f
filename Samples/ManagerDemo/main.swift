// manager-demo: the classic multiprocessing Manager example (five children each write their pid into
// a shared dictionary and append it to a shared list that starts as 0...4), then its Lock
// example: ten children print under one ProcessLock, and a child that dies holding the
// lock does not block the others.
// Run: swift run -c release manager-demo
import Glibc
import Weave

/// The Python original's `f(d, l)`: `d[pid] = pid`, `l.append(pid)`, print the list.
struct RecordPID: ProcessTask {
    let dictionary: ManagedDictionary<Int32, Int32>
    let list: ManagedList<Int32>
    func run() throws -> Int32 {
        try dictionary.set(getpid(), for: getpid())
        try list.append(getpid())
        say("child  \(getpid())  list now \(try list.snapshot())")
        return getpid()
    }
}

/// The Python original's `f(l, i)`: print under the lock (two lines that must stay together).
struct Greet: ProcessTask {
    let lock: ProcessLock
    let number: Int
    func run() throws -> Bool {
        try lock.withLock(timeout: .seconds(10)) {
            say("child  \(getpid())  hehehe \(number < 10 ? " " : "")\(number)  (holding the lock)")
            try Coroutine.sleep(for: .milliseconds(5))
            say("child  \(getpid())  hehehe \(number < 10 ? " " : "")\(number)  (releasing it)")
        }
        return true
    }
}

/// Takes the lock and dies with it.
struct DieHolding: ProcessTask {
    let lock: ProcessLock
    func run() throws -> Bool {
        try lock.acquire(timeout: .seconds(10))
        say("child  \(getpid())  took the lock and is about to be killed")
        raise(SIGKILL)
        return false
    }
}

func say(_ text: String) {
    var line = text + "\n"
    line.withUTF8 { _ = write(1, $0.baseAddress, $0.count) }
}

ProcessWorker.main(tasks: [RecordPID.self, Greet.self, DieHolding.self])

try Hub.run {
    let dictionary = ManagedDictionary<Int32, Int32>()
    let list = ManagedList<Int32>()
    for value in 0..<5 { try list.append(Int32(value)) }
    let children = try (0..<5).map { _ in try ChildProcess(RecordPID(dictionary: dictionary, list: list)) }
    for child in children { _ = try child.join(timeout: .seconds(10)) }
    let entries = try dictionary.snapshot().sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }
    say("parent \(getpid())  dict  [\(entries.joined(separator: ", "))]")
    say("parent \(getpid())  list  \(try list.snapshot())")
    say("")

    let lock = ProcessLock()
    let dying = try ChildProcess(DieHolding(lock: lock))
    do {
        _ = try dying.join(timeout: .seconds(10))
    } catch let error as ProcessError {
        say("parent \(getpid())  \(error.message)")
    }
    let greeters = try (0..<10).map { try ChildProcess(Greet(lock: lock, number: $0)) }
    for greeter in greeters { _ = try greeter.join(timeout: .seconds(30)) }
    say("parent \(getpid())  lock released after \(lock.ownerDeaths) owner death(s); locked now: \(lock.isLocked)")
}
