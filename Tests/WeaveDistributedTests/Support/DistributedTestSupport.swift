import Glibc
import Weave
import WeaveAMQP
import WeaveDistributed

/// The test suite's worker program (target `WeaveTestWorker`), built next to the test
/// bundle; with `WEAVE_BROKER_URL` set it is a ``DistributedWorker``.
let testWorkerPath: String = {
    var buffer = [CChar](repeating: 0, count: 4096)
    let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
    precondition(count > 0, "readlink /proc/self/exe failed")
    let bundle = String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    return bundle.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/") + "/WeaveTestWorker"
}()

/// Starts the test worker program as a distributed worker on `queue` (killed with this
/// process at the latest), running tasks on a local pool of `processes` when above 0.
func startWorkerProcess(url: String, queue: String, concurrency: Int = 1, processes: Int = 0) throws -> RunningProcess {
    try Command.spawn(
        testWorkerPath,
        environment: Command.inheritedEnvironment(adding: [
            DistributedWorker.Environment.url: url,
            DistributedWorker.Environment.queue: queue,
            DistributedWorker.Environment.concurrency: String(concurrency),
            DistributedWorker.Environment.processes: String(processes),
            "SWIFT_BACKTRACE": "enable=no",
        ]),
        standardInput: .discard, standardOutput: .discard, standardError: .inherit,
        parentDeathSignal: SIGKILL)
}

/// Waits (at most 30 s) until `queue` has `consumers` consumers; returns its state then.
@discardableResult
func waitForConsumers(_ consumers: Int, on queue: String, channel: AMQPChannel) throws -> AMQPQueueState {
    for _ in 0..<600 {
        let state = try channel.queueDeclare(queue, passive: true)
        if state.consumerCount == consumers { return state }
        try Coroutine.sleep(for: .milliseconds(50))
    }
    throw TestTimeout(what: "\(consumers) consumers on \(queue)")
}

struct TestTimeout: Error, CustomStringConvertible {
    let what: String
    var description: String { "timed out waiting for \(what)" }
}

/// A name no other test uses.
func uniqueName(_ prefix: String) -> String {
    "\(prefix)-\(UInt32.random(in: 0...UInt32.max))"
}

/// A connection and channel of the test's own, to look at queues.
func controlChannel(_ url: String) throws -> (AMQPConnection, AMQPChannel) {
    let connection = try AMQPConnection.connect(url: url)
    do {
        return (connection, try connection.openChannel())
    } catch {
        connection.close()
        throw error
    }
}

/// Starts the test worker program as a distributed worker with the given deliveries limit
/// and reconnection interval (see ``startWorkerProcess(url:queue:concurrency:processes:)``).
func startWorkerProcess(url: String, queue: String, maximumDeliveries: Int, recoveryMilliseconds: Int = 1000) throws -> RunningProcess {
    try Command.spawn(
        testWorkerPath,
        environment: Command.inheritedEnvironment(adding: [
            DistributedWorker.Environment.url: url,
            DistributedWorker.Environment.queue: queue,
            DistributedWorker.Environment.maximumDeliveries: String(maximumDeliveries),
            DistributedWorker.Environment.recoveryInterval: String(recoveryMilliseconds),
            "SWIFT_BACKTRACE": "enable=no",
        ]),
        standardInput: .discard, standardOutput: .discard, standardError: .discard,
        parentDeathSignal: SIGKILL)
}

/// Keeps `count` worker processes running: each that exits (a poison task killed it) is
/// replaced at once. ``stop()`` kills them.
final class WorkerSupervisor {
    private(set) var deaths = 0
    private(set) var current: [RunningProcess?]
    private var loops: [AnyCoroutine] = []
    private var stopped = false

    init(count: Int, start: @escaping () throws -> RunningProcess) throws {
        current = Array(repeating: nil, count: count)
        for slot in 0..<count {
            let loop = try spawn { [unowned self] in
                while !self.stopped {
                    let process = try start()
                    self.current[slot] = process
                    _ = try process.wait()
                    self.current[slot] = nil
                    if !self.stopped { self.deaths += 1 }
                }
            }
            loops.append(loop)
        }
    }

    var pids: [Int32] { current.compactMap { $0?.pid } }

    func stop() {
        stopped = true
        for loop in loops { loop.cancel() }
        for process in current { try? process?.kill() }
        for process in current { _ = try? process?.wait(timeout: .seconds(10)) }
    }
}

/// The lines of a `Poison` task's log, as (index, pid) pairs.
func poisonLog(_ path: String) -> [(index: Int, pid: Int32)] {
    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [] }
    return text.split(separator: "\n").compactMap { line in
        let fields = line.split(separator: " ")
        guard fields.count == 2, let index = Int(fields[0]), let pid = Int32(fields[1]) else { return nil }
        return (index, pid)
    }
}

/// Client connections open to `port` now, from any process (only this test's processes
/// talk to a broker of its own): ESTABLISHED rows of /proc/net/tcp whose remote port is `port`.
func establishedConnections(toPort port: Int) -> Int {
    guard let table = try? String(contentsOfFile: "/proc/net/tcp", encoding: .utf8) else { return -1 }
    let hex = String(port, radix: 16, uppercase: true)
    let hexPort = ":" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
    return table.split(separator: "\n").dropFirst().filter { line in
        let fields = line.split(separator: " ")
        return fields.count > 3 && fields[2].hasSuffix(hexPort) && fields[3] == "01"
    }.count
}

/// Whether `queue` exists on the broker (a passive declare from a channel of its own; an
/// exclusive queue of another connection answers 405, which also means it exists).
func queueExists(_ queue: String, on connection: AMQPConnection) throws -> Bool {
    let channel = try connection.openChannel()
    do {
        try channel.queueDeclare(queue, passive: true)
        try channel.close()
        return true
    } catch let error as AMQPError where error.replyCode == AMQPError.ReplyCode.notFound {
        return false
    } catch let error as AMQPError where error.replyCode == AMQPError.ReplyCode.resourceLocked {
        return true
    }
}
