import Glibc
import Weave

// Task types shared by the test suite and its worker executable (`WeaveTestWorker`),
// which registers them with `Weave.main(tasks:)`.

public let allTestTasks: [any ProcessTask.Type] = [
    Square.self, EchoBytes.self, Throwing.self, Hang.self, Crash.self, WriteGarbage.self,
    WorkerPID.self, SetGreeting.self, ReadGreeting.self, CountPrimes.self, NapThenSquare.self,
    SlowWorkerPID.self,
]

public struct Square: ProcessTask {
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
public struct Hang: ProcessTask {
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

public struct WorkerPID: ProcessTask {
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

/// A cooperative sleep on the worker's hub, then a square.
public struct NapThenSquare: ProcessTask {
    public let value: Int
    public let milliseconds: Int
    public init(_ value: Int, milliseconds: Int) {
        self.value = value
        self.milliseconds = milliseconds
    }
    public func run() throws -> Int {
        try AnyCoroutine.sleep(for: .milliseconds(milliseconds))
        return value * value
    }
}

/// Blocks its worker for a while, then says which worker it was.
public struct SlowWorkerPID: ProcessTask {
    public init() {}
    public func run() throws -> Int32 {
        usleep(30_000)
        return getpid()
    }
}
