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
