import Glibc
import Weave

// Task types shared by the test suite and its worker executable (`WeaveTestWorker`),
// which registers them with `ProcessWorker.main(tasks:)`.

public let allTestTasks: [any ProcessTask.Type] = [
    Square.self, EchoBytes.self, Throwing.self, Hang.self, Crash.self, WriteGarbage.self,
    WorkerPID.self, SetGreeting.self, ReadGreeting.self, CountPrimes.self, NapThenSquare.self,
    SlowWorkerPID.self, Poison.self, ShutdownChannelThenAbort.self, WritePartialFrame.self, NapThenMaybeFail.self,
    PipeDoubler.self, PipeGreeter.self, PipeWriteRaw.self, QueueProducer.self, RecordPID.self,
    LockedAppend.self, LockThenDie.self, QueueTake.self, PipeFlood.self, CancelledGet.self, WaitForFile.self,
] + spawnTestTasks + bitwiseTestTasks + remoteErrorTestTasks + codingTestTasks

public struct Square: ProcessTask, Sendable {
    public let value: Int
    public init(_ value: Int) { self.value = value }
    public func run() throws -> Int { value * value }
}

/// Returns `count` bytes (a result as large as the test wants).
public struct EchoBytes: ProcessTask {
    public let count: Int
    public init(count: Int) { self.count = count }
    public func run() throws -> [UInt8] { [UInt8](repeating: 7, count: count) }
}

public struct TestFailure: Error, CustomStringConvertible {
    public let reason: String
    public var description: String { "test failure: \(reason)" }
}

public struct Throwing: ProcessTask {
    public let reason: String
    public init(_ reason: String) { self.reason = reason }
    public func run() throws -> Int { throw TestFailure(reason: reason) }
}

/// Blocks its worker (a real hang: not a cooperative sleep).
public struct Hang: ProcessTask, Sendable {
    public let seconds: UInt32
    public init(seconds: UInt32) { self.seconds = seconds }
    public func run() throws -> Int {
        sleep(seconds)
        return 0
    }
}

public struct Crash: ProcessTask {
    public let signal: Int32
    public init(signal: Int32) { self.signal = signal }
    public func run() throws -> Int {
        kill(getpid(), signal)
        sleep(10)
        return 0
    }
}

/// Writes bytes that are not a frame onto the worker's channel.
public struct WriteGarbage: ProcessTask {
    public init() {}
    public func run() throws -> Int {
        let garbage: [UInt8] = [5, 0, 0, 0, 0xEE, 1, 2, 3, 4]
        _ = garbage.withUnsafeBytes { write(3, $0.baseAddress, $0.count) }
        sleep(10)
        return 0
    }
}

public struct WorkerPID: ProcessTask, Sendable {
    public init() {}
    public func run() throws -> Int32 { getpid() }
}

nonisolated(unsafe) var greeting = "unset"

/// An initializer: sets per-worker state.
public struct SetGreeting: ProcessTask {
    public let text: String
    public init(_ text: String) { self.text = text }
    public func run() throws -> Bool {
        greeting = text
        return true
    }
}

public struct ReadGreeting: ProcessTask {
    public init() {}
    public func run() throws -> String { greeting }
}

public struct CountPrimes: ProcessTask {
    public let below: Int
    public init(below: Int) { self.below = below }
    public func run() throws -> Int {
        guard below > 2 else { return 0 }
        var count = 0
        for candidate in 2..<below {
            var isPrime = true
            var divisor = 2
            while divisor * divisor <= candidate {
                if candidate % divisor == 0 { isPrime = false; break }
                divisor += 1
            }
            if isPrime { count += 1 }
        }
        return count
    }
}

/// Holds its worker until `path` exists (checked every millisecond, for at most 30 s): true
/// when it appeared. Lets a test wait on something only the parent's hub can do.
public struct WaitForFile: ProcessTask {
    public let path: String
    public init(path: String) { self.path = path }
    public func run() throws -> Bool {
        for _ in 0..<30_000 {
            if access(path, F_OK) == 0 { return true }
            usleep(1_000)
        }
        return false
    }
}

/// A cooperative sleep on the worker's hub, then a square.
public struct NapThenSquare: ProcessTask {
    public let value: Int
    public let milliseconds: Int
    public init(_ value: Int, milliseconds: Int) {
        self.value = value
        self.milliseconds = milliseconds
    }
    public func run() throws -> Int {
        try Coroutine.sleep(for: .milliseconds(milliseconds))
        return value * value
    }
}

/// Blocks its worker for a while, then says which worker it was.
public struct SlowWorkerPID: ProcessTask {
    /// A file each task appends its worker's pid to; a task then waits (up to 10 s) until
    /// `workers` distinct pids are in it. So a batch finishes quickly only if the pool
    /// shared it among all its workers, however slowly they started.
    public let rendezvous: String
    public let workers: Int
    public init(rendezvous: String, workers: Int) {
        self.rendezvous = rendezvous
        self.workers = workers
    }
    public func run() throws -> Int32 {
        let line = "\(getpid())\n"
        let fd = open(rendezvous, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        _ = line.withCString { write(fd, $0, strlen($0)) }
        close(fd)
        for _ in 0..<1000 {
            if distinctLines(of: rendezvous) >= workers { break }
            usleep(10_000)
        }
        return getpid()
    }

    private func distinctLines(of path: String) -> Int {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return 0 }
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: 4096)
        let count = read(fd, &bytes, bytes.count)
        guard count > 0 else { return 0 }
        return Set(bytes[..<count].split(separator: UInt8(ascii: "\n")).map { Array($0) }).count
    }
}

/// Records each execution as one line "index pid" appended to `log` (a side channel that
/// survives the worker), returns `index + 1`, and kills its own worker when `index` is one
/// of `poison`.
public struct Poison: ProcessTask {
    public let index: Int
    public let poison: [Int]
    public let log: String
    public init(index: Int, poison: [Int], log: String) {
        self.index = index
        self.poison = poison
        self.log = log
    }
    public func run() throws -> Int {
        let fd = open(log, O_WRONLY | O_APPEND | O_CREAT, 0o600)
        guard fd >= 0 else { throw TestFailure(reason: "cannot open \(log)") }
        let line = Array("\(index) \(getpid())\n".utf8)
        _ = line.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        if poison.contains(index) {
            kill(getpid(), SIGKILL)
            sleep(10)
        }
        return index + 1
    }
}

/// Shuts down the reading side of the worker's channel (the parent's next write to it
/// fails with EPIPE, as a write to a dying worker does), creates `marker`, waits, aborts.
public struct ShutdownChannelThenAbort: ProcessTask {
    public let milliseconds: UInt32
    public let marker: String
    public init(milliseconds: UInt32, marker: String) {
        self.milliseconds = milliseconds
        self.marker = marker
    }
    public func run() throws -> Int {
        shutdown(3, Int32(SHUT_RD))
        close(open(marker, O_WRONLY | O_CREAT, 0o600))
        usleep(milliseconds * 1000)
        kill(getpid(), SIGABRT)
        sleep(10)
        return 0
    }
}

/// Writes the start of a frame (a length prefix announcing 100 bytes, then 2 of them) onto
/// the worker's channel and then blocks: alive, silent mid-frame.
public struct WritePartialFrame: ProcessTask {
    public init() {}
    public func run() throws -> Int {
        let partial: [UInt8] = [100, 0, 0, 0, 0x02, 0x01]
        _ = partial.withUnsafeBytes { write(3, $0.baseAddress, $0.count) }
        sleep(60)
        return 0
    }
}

/// A cooperative nap, then `value` squared, or a thrown error when `fails`.
public struct NapThenMaybeFail: ProcessTask {
    public let value: Int
    public let milliseconds: Int
    public let fails: Bool
    public init(_ value: Int, milliseconds: Int, fails: Bool = false) {
        self.value = value
        self.milliseconds = milliseconds
        self.fails = fails
    }
    public func run() throws -> Int {
        try Coroutine.sleep(for: .milliseconds(milliseconds))
        if fails { throw TestFailure(reason: "task \(value) fails") }
        return value * value
    }
}

// MARK: - Child processes, pipes, queues, managed state

/// Receives `count` integers on its pipe and sends each one doubled back.
public struct PipeDoubler: ProcessTask {
    public let pipe: ProcessPipe
    public let count: Int
    public init(pipe: ProcessPipe, count: Int) {
        self.pipe = pipe
        self.count = count
    }
    public func run() throws -> Int {
        for _ in 0..<count {
            let value = try pipe.receive(Int.self, timeout: .seconds(30))
            try pipe.send(value * 2)
        }
        return count
    }
}

/// Sends a greeting and a raw message, then ends (its end closes when the child exits).
public struct PipeGreeter: ProcessTask {
    public let pipe: ProcessPipe
    public init(pipe: ProcessPipe) { self.pipe = pipe }
    public func run() throws -> Int32 {
        try pipe.send("hello from \(getpid())")
        try pipe.send(bytes: [1, 2, 3])
        return getpid()
    }
}

/// Writes `bytes` straight onto the inherited pipe descriptor, bypassing the framing:
/// slot 0 is fd 4 in a child (fd 3 is the worker channel).
public struct PipeWriteRaw: ProcessTask {
    public let pipe: ProcessPipe
    public let bytes: [UInt8]
    public init(pipe: ProcessPipe, bytes: [UInt8]) {
        self.pipe = pipe
        self.bytes = bytes
    }
    public func run() throws -> Int {
        bytes.withUnsafeBytes { write(4, $0.baseAddress, $0.count) }
    }
}

/// Puts `start ..< start + count` on the queue.
public struct QueueProducer: ProcessTask {
    public let queue: ProcessQueue<Int>
    public let start: Int
    public let count: Int
    public init(queue: ProcessQueue<Int>, start: Int, count: Int) {
        self.queue = queue
        self.start = start
        self.count = count
    }
    public func run() throws -> Int {
        for value in start..<(start + count) { try queue.put(value) }
        return count
    }
}

/// Writes its pid into the managed dictionary under `name` and appends it to the list.
public struct RecordPID: ProcessTask {
    public let name: String
    public let pids: ManagedDictionary<String, Int32>
    public let list: ManagedList<Int32>
    public init(name: String, pids: ManagedDictionary<String, Int32>, list: ManagedList<Int32>) {
        self.name = name
        self.pids = pids
        self.list = list
    }
    public func run() throws -> Int32 {
        try pids.set(getpid(), for: name)
        try list.append(getpid())
        return getpid()
    }
}

/// Appends "<pid> begin" and "<pid> end", with a nap between, under the lock, `rounds` times.
public struct LockedAppend: ProcessTask {
    public let lock: ProcessLock
    public let list: ManagedList<String>
    public let rounds: Int
    public init(lock: ProcessLock, list: ManagedList<String>, rounds: Int) {
        self.lock = lock
        self.list = list
        self.rounds = rounds
    }
    public func run() throws -> Int {
        for _ in 0..<rounds {
            try lock.withLock(timeout: .seconds(30)) {
                try list.append("\(getpid()) begin")
                try Coroutine.sleep(for: .milliseconds(2))
                try list.append("\(getpid()) end")
            }
        }
        return rounds
    }
}

/// Takes the lock and dies holding it.
public struct LockThenDie: ProcessTask {
    public let lock: ProcessLock
    public init(lock: ProcessLock) { self.lock = lock }
    public func run() throws -> Int {
        try lock.acquire(timeout: .seconds(30))
        kill(getpid(), SIGKILL)
        sleep(10)
        return 0
    }
}

/// Takes `count` items from the queue, each within `milliseconds`.
public struct QueueTake: ProcessTask {
    public let queue: ProcessQueue<Int>
    public let count: Int
    public let milliseconds: Int
    public init(queue: ProcessQueue<Int>, count: Int, milliseconds: Int) {
        self.queue = queue
        self.count = count
        self.milliseconds = milliseconds
    }
    public func run() throws -> [Int] {
        try (0..<count).map { _ in try queue.get(timeout: .milliseconds(milliseconds)) }
    }
}

/// Sends `count` messages of `size` bytes, each starting with its index.
public struct PipeFlood: ProcessTask {
    public let pipe: ProcessPipe
    public let count: Int
    public let size: Int
    public init(pipe: ProcessPipe, count: Int, size: Int) {
        self.pipe = pipe
        self.count = count
        self.size = size
    }
    public func run() throws -> Int {
        for index in 0..<count {
            var bytes = [UInt8](repeating: UInt8(truncatingIfNeeded: index), count: size)
            bytes[0] = UInt8(truncatingIfNeeded: index >> 8)
            try pipe.send(bytes: bytes, timeout: .seconds(30))
        }
        return count
    }
}

/// Parks a get, cancels it, then takes one item with a fresh get: an item must not vanish
/// into the cancelled one.
public struct CancelledGet: ProcessTask {
    public let queue: ProcessQueue<Int>
    public init(queue: ProcessQueue<Int>) { self.queue = queue }
    public func run() throws -> Int {
        let waiter = try spawn { try queue.get() }
        try Coroutine.sleep(for: .milliseconds(50))
        waiter.cancel()
        if let early = try? waiter.join() { return early }  // answered before the cancel
        _ = try queue.count()  // same link, after the cancel: the parent has seen it
        return try queue.get(timeout: .seconds(30))
    }
}
