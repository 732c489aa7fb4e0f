import Glibc
import WeaveAMQP
import WeaveCore
import WeaveProcess

/// The worker side of ``DistributedPool``: serves tasks from a broker's work queue.
///
/// A worker takes up to `concurrency` tasks at a time from the queue (the channel's
/// prefetch, so the broker hands the rest to other workers: fair dispatch), runs each in a
/// coroutine of its own in this process, publishes the result to the task's `reply-to`
/// queue with its correlation id (with a publisher confirm), and only then acknowledges the
/// task. A worker killed (or cut off) mid-task never acknowledged it: the broker delivers
/// it again to another worker (at-least-once execution; the pool keeps the first result).
///
/// Tasks run on a local ``ProcessPool`` when one is given (the machine's cores; a task
/// that kills its pool worker comes back to the caller as a `ProcessError` by name, not
/// redelivered), else in the worker's own process, each in a coroutine on its hub (a task
/// that blocks the thread then holds up the others).
///
/// A task that kills the worker process itself (not a pool worker) is delivered again, to
/// this worker's successor or another; after ``DistributedPool/Configuration/maximumDeliveries``
/// deliveries the broker dead-letters it and its caller gets a ``DistributedTaskError``.
///
/// The worker's connection recovers from a lost broker by itself: it reconnects, declares
/// the queue again and resumes consuming. Tasks running meanwhile publish their results
/// once it is back; their deliveries can no longer be acknowledged, so the broker delivers
/// them again (the caller keeps the first result).
///
/// A program becomes a worker with ``main(tasks:)`` (environment variables), or by
/// calling ``run(url:queue:tasks:concurrency:pool:maximumDeliveries:recoveryInterval:)``
/// from a coroutine.
public enum DistributedWorker {
    /// The environment variables that make ``main(tasks:)`` run a worker.
    public enum Environment {
        /// The broker's URL (`amqp://user:password@host:port/vhost`); its presence selects
        /// worker mode.
        public static let url = "WEAVE_BROKER_URL"
        /// The work queue's name.
        public static let queue = "WEAVE_BROKER_QUEUE"
        /// Tasks run at once (default 1).
        public static let concurrency = "WEAVE_BROKER_CONCURRENCY"
        /// When set to a number above 0, tasks run on a local ``ProcessPool`` of that many
        /// worker processes (this executable again); otherwise in this process.
        public static let processes = "WEAVE_BROKER_PROCESSES"
        /// Deliveries a task gets before it is dead-lettered (default 3); the same as the
        /// pools' ``DistributedPool/Configuration/maximumDeliveries``.
        public static let maximumDeliveries = "WEAVE_BROKER_MAX_DELIVERIES"
        /// Milliseconds between attempts to reconnect to a lost broker (default 1000).
        public static let recoveryInterval = "WEAVE_BROKER_RECOVERY_INTERVAL_MS"
    }

    /// Turns this launch into a distributed worker when ``Environment/url`` is set: serves
    /// `tasks` from the queue named by ``Environment/queue`` on a hub of its own, and exits
    /// when the connection ends (status 0 after a normal close, 70 on a failure, 64 for a
    /// variable that is not a positive number). Without
    /// the variable it returns at once. Call it first thing in `main`, after
    /// `ProcessWorker.main(tasks:)`.
    public static func main(tasks: [any ProcessTask.Type]) {
        guard let url = getenv(Environment.url).map({ String(cString: $0) }) else { return }
        let queue = getenv(Environment.queue).map { String(cString: $0) } ?? ""
        let concurrency = getenv(Environment.concurrency).flatMap { Int(String(cString: $0)) } ?? 1
        let processes = getenv(Environment.processes).flatMap { Int(String(cString: $0)) } ?? 0
        let maximumDeliveries = getenv(Environment.maximumDeliveries).flatMap { Int(String(cString: $0)) } ?? 3
        let recoveryMilliseconds = getenv(Environment.recoveryInterval).flatMap { Int(String(cString: $0)) } ?? 1000
        guard maximumDeliveries >= 1, recoveryMilliseconds >= 1, concurrency >= 1, concurrency <= 65535 else {
            let message = "weave distributed worker: \(Environment.maximumDeliveries), \(Environment.recoveryInterval) and "
                + "\(Environment.concurrency) must be positive numbers (the last at most 65535)\n"
            message.withCString { _ = write(2, $0, strlen($0)) }
            exit(64)  // EX_USAGE
        }
        do {
            try Hub.run {
                let pool = processes > 0 ? try ProcessPool(configuration: .init(workers: processes)) : nil
                defer { pool?.terminate() }
                try run(url: url, queue: queue, tasks: tasks, concurrency: concurrency, pool: pool,
                        maximumDeliveries: maximumDeliveries, recoveryInterval: .milliseconds(recoveryMilliseconds))
            }
            exit(0)
        } catch {
            var message = "weave distributed worker \(getpid()): \(error)\n"
            message.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
            exit(70)  // EX_SOFTWARE
        }
    }

    /// Serves tasks from the durable work queue `queue` at `url` until the connection ends
    /// for good or the calling coroutine is cancelled; a lost broker is waited for and
    /// reconnected to.
    ///
    /// Blocks the calling coroutine for as long as it serves. Tasks it had started when it
    /// stops are not acknowledged, so the broker delivers them again.
    ///
    /// - Parameters:
    ///   - tasks: The task types it runs (registered as ``ProcessWorker/main(tasks:)`` does).
    ///   - concurrency: The most tasks it runs at once: its prefetch count.
    ///   - pool: Where tasks run: a ``ProcessPool`` of this program's, or nil to run them
    ///     in this process. The pool is the caller's: it stays open.
    ///   - maximumDeliveries: Deliveries a task gets before the broker dead-letters it; the
    ///     queue is declared with it, so it must be the pools' value
    ///     (``DistributedPool/Configuration/maximumDeliveries``).
    ///   - recoveryInterval: How long to wait between attempts to reconnect.
    /// - Throws: ``AMQPError`` when it cannot connect, the queue exists with other
    ///   arguments (406), or the connection fails for good; `CancellationError` when cancelled.
    public static func run(url: String, queue: String, tasks: [any ProcessTask.Type], concurrency: Int = 1, pool: ProcessPool? = nil,
                           maximumDeliveries: Int = 3, recoveryInterval: Duration = .seconds(1)) throws {
        precondition(concurrency >= 1 && concurrency <= 65535, "concurrency is 1 to 65535")
        precondition(maximumDeliveries >= 1, "maximumDeliveries is at least 1")
        EncodedTask.register(tasks)
        var configuration = try AMQPConfiguration(url: url)
        configuration.automaticRecovery = true
        configuration.recoveryInterval = recoveryInterval
        let (connection, channel, consumer) = try DistributedQueue.retryingConcurrentCreation {
            let connection = try AMQPConnection.connect(configuration)
            do {
                let channel = try connection.openChannel()
                try channel.confirmSelect()
                try DistributedQueue.declare(queue, maximumDeliveries: maximumDeliveries, on: channel)
                try channel.qos(prefetchCount: concurrency)
                return (connection, channel, try channel.consume(queue: queue))
            } catch {
                connection.close()
                throw error
            }
        }
        defer { connection.close() }
        let identity = "\(hostName()):\(getpid())"
        // A failure or cancellation cancels the tasks running; none of them is acknowledged.
        try withCoroutineGroup { group in
            while let delivery = try consumer.next() {
                try group.spawn { try serve(delivery, on: channel, pool: pool, identity: identity) }
            }
        }
    }

    /// Runs one task and answers it; acknowledges it once the answer is confirmed.
    private static func serve(_ delivery: AMQPDelivery, on channel: AMQPChannel, pool: ProcessPool?, identity: String) throws {
        guard let replyTo = delivery.properties.replyTo, let id = delivery.properties.correlationID else {
            // Nobody to answer: not a pool's task. Drop it (or dead-letter it).
            try? delivery.reject(requeue: false)
            return
        }
        // A pool that failed throws here, unacknowledged: the task goes to another worker.
        let reply = try pool.map { try $0.runEncoded(delivery.body) } ?? EncodedTask.run(delivery.body)
        var properties = AMQPMessageProperties()
        properties.correlationID = id
        properties.appID = identity
        do {
            // Not mandatory: a caller that went away took its reply queue along, and the
            // result is dropped; the task still counts as done.
            try channel.publish(reply, routingKey: replyTo, properties: properties)
            try delivery.ack()
        } catch {
            // Unacknowledged: the broker delivers the task again once this channel closes.
        }
    }

    private static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count) == 0 else { return "?" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
