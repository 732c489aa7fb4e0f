import WeaveAMQP
import WeaveCore
import WeaveProcess

/// A pool whose workers are processes on any machine that reach the same RabbitMQ broker:
/// ``apply(_:timeout:)`` and ``map(_:chunkSize:timeout:)`` for the same registered
/// ``ProcessTask`` types as ``ProcessPool``, so moving work off one machine is one line.
///
/// ```swift
/// let pool = try DistributedPool(url: "amqp://guest:guest@broker/", queue: "primes")
/// defer { pool.close() }
/// let counts = try pool.map((1...100).map { CountPrimes(below: $0 * 1000) }, chunkSize: 10)
/// ```
///
/// Each task (or chunk) is published persistent, with publisher confirms, to the durable
/// work queue `queue`, carrying a correlation id and, as `reply-to`, this pool's reply queue:
/// a server-named, exclusive, auto-delete queue that the broker deletes when the pool's
/// connection ends, so a caller that goes away leaves no queue behind. Workers
/// (``DistributedWorker``) publish each result there and acknowledge the task only after
/// that.
///
/// Delivery semantics:
/// - **At-least-once execution.** A worker that dies or loses its connection mid-task never
///   acknowledged it, so the broker delivers it again, to another worker: a task may run
///   more than once, and should be safe to repeat.
/// - **Exactly-once result.** Results are matched by correlation id and the first one wins;
///   a duplicate (a redelivered task that finished twice) is dropped, so each call gets one
///   result per task.
/// - **Deadline.** A timeout is both the work message's TTL (`expiration`: the broker drops
///   it unstarted past it) and how long the caller waits for the result.
///
/// A task's error comes back as in ``ProcessPool``: a ``ProcessError`` with
/// ``ProcessError/Code/remoteError`` carrying a ``RemoteError``.
///
/// The pool belongs to the hub it was created on; use it from that hub's coroutines.
public final class DistributedPool {
    /// Settings of a ``DistributedPool``.
    public struct Configuration: Sendable {
        /// The longest a publish waits for the broker's confirm (flow control included).
        public var confirmTimeout: Duration
        /// A name the broker shows for the pool's connection.
        public var connectionName: String?

        /// Settings with a 30 s confirm timeout and the connection named by the client.
        public init(confirmTimeout: Duration = .seconds(30), connectionName: String? = nil) {
            self.confirmTimeout = confirmTimeout
            self.connectionName = connectionName
        }
    }

    /// The work queue tasks are published to.
    public let queue: String
    /// The pool's reply queue (server-named), where results arrive.
    public let replyQueue: String
    /// The settings the pool was made with.
    public let configuration: Configuration
    let connection: AMQPConnection
    let channel: AMQPChannel
    private let consumer: AMQPConsumer
    /// Results awaited, by correlation id; removed when the result arrives or the caller
    /// gives up, so a later reply with that id is a duplicate and is dropped.
    private var pending: [String: Future<AMQPDelivery>] = [:]
    private var nextID: UInt64 = 0
    private var reader: AnyCoroutine?
    private var failure: (any Error)?

    /// Connects to the broker at `url`, declares the durable work queue `queue` and the
    /// pool's reply queue, and starts reading results.
    ///
    /// Blocks the calling coroutine for the connection and declarations.
    ///
    /// - Throws: ``AMQPError`` (a bad URL, a refused login, a queue declared elsewhere with
    ///   other properties: 406); `TimeoutError`, `CancellationError`.
    public init(url: String, queue: String, configuration: Configuration = Configuration()) throws {
        self.queue = queue
        self.configuration = configuration
        var amqp = try AMQPConfiguration(url: url)
        if let name = configuration.connectionName { amqp.connectionName = name }
        connection = try AMQPConnection.connect(amqp)
        do {
            channel = try connection.openChannel()
            try channel.confirmSelect()
            try channel.queueDeclare(queue, durable: true)
            replyQueue = try channel.queueDeclare("", exclusive: true, autoDelete: true).name
            consumer = try channel.consume(queue: replyQueue, noAck: true, exclusive: true)
        } catch {
            connection.close()
            throw error
        }
        let consumer = self.consumer
        reader = try spawn(name: "DistributedPool replies") { [weak self] in
            do {
                while let delivery = try consumer.next() {
                    guard let self else { return }
                    self.received(delivery)
                }
                self?.fail(ProcessError.poolClosed(queue))
            } catch {
                self?.fail(error)
            }
        }
    }

    deinit {
        reader?.cancel()
        connection.close()
    }

    /// Whether ``close()`` was called or the connection failed.
    public var isClosed: Bool { failure != nil }

    /// Results still awaited.
    public var outstandingCount: Int { pending.count }

    /// Closes the connection; the broker deletes the reply queue with it. Calls waiting for
    /// results throw ``ProcessError/Code/closed``; tasks already published stay in the work
    /// queue and run, and their results are dropped. Closing twice does nothing.
    ///
    /// Blocks the calling coroutine for the broker's reply to the close (a few seconds at most).
    public func close() {
        guard failure == nil else { return }
        fail(ProcessError.poolClosed(queue))
        reader?.cancel()
        reader = nil
        connection.close()
    }

    // MARK: - Running tasks

    /// Runs `task` on a worker and parks the calling coroutine until its result comes back.
    ///
    /// - Parameter timeout: The task's deadline: its message's TTL in the work queue and the
    ///   longest this call waits for the result; nil waits for ever.
    /// - Throws: ``ProcessError`` (``ProcessError/Code/remoteError`` when the task threw:
    ///   ``ProcessError/remoteError(as:)`` rebuilds a `Codable` error;
    ///   ``ProcessError/Code/unregisteredTask``, ``ProcessError/Code/closed``), ``AMQPError``
    ///   when the broker refused the message or the connection failed, `TimeoutError`,
    ///   `CancellationError`. A task whose call gave up may still run.
    public func apply<Task: ProcessTask>(_ task: Task, timeout: Duration? = nil) throws -> Task.Output {
        let deadline = timeout.map { ContinuousClock.now + $0 }
        let (id, future) = try publish(CollectionOfOne(task), count: 1, deadline: deadline, waitForConfirm: true)
        return try result(id: id, future: future, count: 1, as: Task.Output.self, name: Task.taskName, deadline: deadline)[0]
    }

    /// Runs every task on the workers and returns their outputs in input order; parks the
    /// calling coroutine until the last one (or a failure) is in.
    ///
    /// Every chunk is published first (with confirms), then the results are collected; the
    /// first failure in input order is thrown, and the results still out are dropped when
    /// they come.
    ///
    /// - Parameters:
    ///   - chunkSize: Tasks per message: a chunk runs on one worker, in order, and fails as a
    ///     whole when one of its tasks throws.
    ///   - timeout: The deadline of the whole map (each message's TTL, and the wait).
    /// - Throws: As ``apply(_:timeout:)``; ``WeaveError`` for a `chunkSize` below 1.
    public func map<Tasks: Sequence>(_ tasks: Tasks, chunkSize: Int = 1, timeout: Duration? = nil) throws -> [Tasks.Element.Output]
    where Tasks.Element: ProcessTask {
        guard chunkSize >= 1 else { throw WeaveError(.invalidArgument, "chunkSize must be at least 1, not \(chunkSize)") }
        let deadline = timeout.map { ContinuousClock.now + $0 }
        let all = Array(tasks)
        var sent: [(id: String, future: Future<AMQPDelivery>, count: Int)] = []
        sent.reserveCapacity((all.count + chunkSize - 1) / chunkSize)
        defer {
            // Whatever is still out when this call ends (a failure, a timeout): its results
            // are dropped when they come.
            for chunk in sent { pending[chunk.id] = nil }
        }
        var start = 0
        while start < all.count {
            let chunk = all[start..<min(start + chunkSize, all.count)]
            let (id, future) = try publish(chunk, count: chunk.count, deadline: deadline, waitForConfirm: false)
            sent.append((id, future, chunk.count))
            start += chunkSize
        }
        if !sent.isEmpty { try channel.waitForConfirms(timeout: configuration.confirmTimeout) }
        var outputs: [Tasks.Element.Output] = []
        outputs.reserveCapacity(all.count)
        for chunk in sent {
            outputs += try result(id: chunk.id, future: chunk.future, count: chunk.count, as: Tasks.Element.Output.self,
                                  name: Tasks.Element.taskName, deadline: deadline)
        }
        return outputs
    }

    // MARK: - Internals

    private func publish<Task: ProcessTask>(
        _ tasks: some Sequence<Task>, count: Int, deadline: ContinuousClock.Instant?, waitForConfirm: Bool
    ) throws -> (String, Future<AMQPDelivery>) {
        if let failure { throw failure }
        let body = try EncodedTask.encode(tasks, count: count)
        nextID += 1
        let id = String(nextID)
        var properties = AMQPMessageProperties.persistent
        properties.correlationID = id
        properties.replyTo = replyQueue
        properties.type = Task.taskName
        if let deadline {
            let left = deadline - .now
            guard left > .zero else { throw TimeoutError(operation: "DistributedPool \(Task.taskName)", timeout: .zero) }
            // Whole milliseconds, at least 1 (0 would mean "deliver now or drop").
            let milliseconds = max(1, left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000)
            properties.expiration = String(milliseconds)
        }
        let future = Future<AMQPDelivery>(label: "DistributedPool result \(id) (\(Task.taskName))")
        pending[id] = future
        do {
            try channel.publish(body, routingKey: queue, properties: properties, waitForConfirm: waitForConfirm,
                                timeout: configuration.confirmTimeout)
        } catch {
            pending[id] = nil
            throw error
        }
        return (id, future)
    }

    private func result<Output: Decodable>(
        id: String, future: Future<AMQPDelivery>, count: Int, as type: Output.Type, name: String, deadline: ContinuousClock.Instant?
    ) throws -> [Output] {
        let delivery: AMQPDelivery
        do {
            delivery = try future.get(timeout: deadline.map { $0 - .now })
        } catch {
            pending[id] = nil
            throw error
        }
        let worker = delivery.properties.appID.map { " on worker \($0)" } ?? ""
        return try EncodedTask.decodeReply(delivery.body, count: count, as: type, what: "task \(id) (\(name))\(worker)")
    }

    /// A reply from the reply queue: the first one for an id settles its call; one for an
    /// id nobody waits for (a duplicate, or a call that gave up) is dropped.
    private func received(_ delivery: AMQPDelivery) {
        guard let id = delivery.properties.correlationID, let future = pending.removeValue(forKey: id) else { return }
        try? future.set(delivery)
    }

    private func fail(_ error: any Error) {
        guard failure == nil else { return }
        failure = error
        let waiting = pending
        pending = [:]
        for future in waiting.values { try? future.fail(error) }
    }
}

extension ProcessError {
    static func poolClosed(_ queue: String) -> ProcessError {
        EncodedTask.closedError("the distributed pool on queue '\(queue)' is closed")
    }
}
