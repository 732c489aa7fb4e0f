import WeaveAMQP
import WeaveCore
import WeaveProcess

/// A pool whose workers are processes on any machine that reach the same RabbitMQ broker:
/// ``apply(_:timeout:)``, ``submit(_:timeout:onSuccess:onFailure:)``, ``map(_:chunkSize:timeout:)``,
/// ``imap(_:chunkSize:timeout:maxInFlight:)`` and
/// ``imapUnordered(_:chunkSize:timeout:maxInFlight:)`` for the same registered
/// ``ProcessTask`` types as ``ProcessPool``, so moving work off one machine is one line.
///
/// ```swift
/// let pool = try DistributedPool(url: "amqp://guest:guest@broker/", queue: "primes")
/// defer { pool.close() }
/// let counts = try pool.map((1...100).map { CountPrimes(below: $0 * 1000) }, chunkSize: 10)
/// ```
///
/// Each task (or chunk) is published persistent, with publisher confirms, to the durable
/// work queue `queue` (a quorum queue: see ``Configuration/maximumDeliveries``), carrying a
/// correlation id and, as `reply-to`, this pool's reply queue: an exclusive queue with a
/// unique name of the pool's own, which the broker deletes when the pool's connection ends,
/// so a caller that goes away leaves no queue behind. Workers (``DistributedWorker``)
/// publish each result there and acknowledge the task only after that.
///
/// Delivery semantics:
/// - **At-least-once execution.** A worker that dies or loses its connection mid-task never
///   acknowledged it, so the broker delivers it again, to another worker: a task may run
///   more than once, and should be safe to repeat.
/// - **Exactly-once result.** Results are matched by correlation id and the first one wins;
///   a duplicate (a redelivered task that finished twice) is dropped, so each call gets one
///   result per task.
/// - **Poison tasks.** A task delivered ``Configuration/maximumDeliveries`` times without
///   ever being acknowledged (it kills every worker it reaches) is dead-lettered by the
///   broker and fails at its caller with ``DistributedTaskError`` (code
///   ``DistributedTaskError/Code/deliveryLimitExceeded``), naming the task; the other
///   tasks go on.
/// - **Deadline.** A timeout is both the work message's TTL (`expiration`: the broker drops
///   it unstarted past it) and how long the caller waits for the result (`TimeoutError`).
/// - **Broker restarts.** The pool's connection recovers by itself (it reconnects and
///   declares its queues again; calls wait meanwhile), and then publishes again every task
///   still awaiting its result: a result a worker published while the reply queue was
///   being re-made would otherwise be lost. Tasks may run twice; each result still arrives
///   once.
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
        /// How many times a task is delivered before the broker gives up on it (the work
        /// queue's `x-delivery-limit` plus one): at least 1. Every delivery that ends
        /// without an acknowledgement counts, whatever ended it (the worker died, its
        /// connection was lost, the broker restarted), and so does every task a dying
        /// worker held at the time: give workers that run several tasks at once room above
        /// 1. Workers must declare the queue with the same value
        /// (``DistributedWorker/run(url:queue:tasks:concurrency:pool:maximumDeliveries:recoveryInterval:)``).
        public var maximumDeliveries: Int
        /// How long the connection waits between attempts to reconnect after losing the broker.
        public var recoveryInterval: Duration

        /// Settings with a 30 s confirm timeout, the connection named by the client, 3
        /// deliveries a task and a reconnection attempt every second.
        public init(confirmTimeout: Duration = .seconds(30), connectionName: String? = nil, maximumDeliveries: Int = 3,
                    recoveryInterval: Duration = .seconds(1)) {
            self.confirmTimeout = confirmTimeout
            self.connectionName = connectionName
            self.maximumDeliveries = maximumDeliveries
            self.recoveryInterval = recoveryInterval
        }
    }

    /// The work queue tasks are published to.
    public let queue: String
    /// The pool's reply queue, where results arrive: `weave.reply.` and 128 random bits,
    /// so that it keeps its name when the connection recovers.
    public let replyQueue: String
    /// The settings the pool was made with.
    public let configuration: Configuration
    let connection: AMQPConnection
    let channel: AMQPChannel
    private let consumer: AMQPConsumer
    /// Calls awaiting their results, by correlation id; removed when the result arrives or
    /// the caller gives up, so a later reply with that id is a duplicate and is dropped.
    private var pending: [String: DistributedCall] = [:]
    private var nextID: UInt64 = 0
    private var reader: AnyCoroutine?
    private var republisher: AnyCoroutine?
    private var failure: (any Error)?
    /// The sinks of submitted calls, by correlation id, until their outcome is in.
    private var submissions: [String: any DistributedCallSink] = [:]
    /// Callbacks of finished submissions, run by ``notifier``.
    private var notifications: [() -> Void] = []
    private var notifier: AnyCoroutine?

    /// Connects to the broker at `url`, declares the durable work queue `queue`, the pool's
    /// reply queue and the dead-letter route to it, and starts reading results.
    ///
    /// Blocks the calling coroutine for the connection and declarations.
    ///
    /// - Throws: ``AMQPError`` (a bad URL, a refused login, a queue declared elsewhere with
    ///   other properties, such as a classic queue of that name or another
    ///   ``Configuration/maximumDeliveries``: 406); `WeaveError` for a
    ///   ``Configuration/maximumDeliveries`` below 1; `TimeoutError`, `CancellationError`.
    public init(url: String, queue: String, configuration: Configuration = Configuration()) throws {
        guard configuration.maximumDeliveries >= 1 else {
            throw WeaveError(.invalidArgument, "maximumDeliveries must be at least 1, not \(configuration.maximumDeliveries)")
        }
        self.queue = queue
        self.configuration = configuration
        var amqp = try AMQPConfiguration(url: url)
        if let name = configuration.connectionName { amqp.connectionName = name }
        amqp.automaticRecovery = true
        amqp.recoveryInterval = configuration.recoveryInterval
        // Named by the pool, not the broker: a server-named queue comes back from a recovery
        // under a new name, and replies addressed to the old one are lost.
        replyQueue = "weave.reply.\(Self.randomHex())\(Self.randomHex())"
        let replyQueue = self.replyQueue
        (connection, channel, consumer) = try DistributedQueue.retryingConcurrentCreation {
            let connection = try AMQPConnection.connect(amqp)
            do {
                let channel = try connection.openChannel()
                try channel.confirmSelect()
                try DistributedQueue.declare(queue, maximumDeliveries: configuration.maximumDeliveries, on: channel)
                try channel.queueDeclare(replyQueue, exclusive: true, autoDelete: true)
                try DistributedQueue.bindDeadLetters(to: replyQueue, on: channel)
                return (connection, channel, try channel.consume(queue: replyQueue, noAck: true, exclusive: true))
            } catch {
                connection.close()
                throw error
            }
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
        let connection = self.connection
        republisher = try spawn(name: "DistributedPool recovery") { [weak self] in
            var seen = connection.recoveryCount
            while true {
                do {
                    seen = try connection.waitForRecovery(after: seen)
                } catch {
                    return  // the connection ended: the reader fails the calls
                }
                guard let self else { return }
                self.publishPendingAgain()
            }
        }
    }

    deinit {
        reader?.cancel()
        republisher?.cancel()
        connection.close()
    }

    /// Whether ``close()`` was called or the connection failed.
    public var isClosed: Bool { failure != nil }

    /// Messages (tasks or chunks) still awaiting their results.
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
        republisher?.cancel()
        republisher = nil
        connection.close()
    }

    // MARK: - Running tasks

    /// Runs `task` on a worker and parks the calling coroutine until its result comes back.
    ///
    /// While the connection recovers from a lost broker, the call waits; the task is
    /// published (again) once it is back.
    ///
    /// - Parameter timeout: The task's deadline: its message's TTL in the work queue and the
    ///   longest this call waits for the result; nil waits for ever.
    /// - Throws: ``ProcessError`` (``ProcessError/Code/remoteError`` when the task threw:
    ///   ``ProcessError/remoteError(as:)`` rebuilds a `Codable` error;
    ///   ``ProcessError/Code/unregisteredTask``, ``ProcessError/Code/closed``),
    ///   ``DistributedTaskError`` when the broker dead-lettered the task (a poison task),
    ///   ``AMQPError`` when the broker refused the message or the connection failed for
    ///   good, `TimeoutError`, `CancellationError`. A task whose call gave up may still run.
    public func apply<Task: ProcessTask>(_ task: Task, timeout: Duration? = nil) throws -> Task.Output {
        let coroutine = try AnyCoroutine.requireCurrent("DistributedPool.apply")
        let call = try makeCall(CollectionOfOne(task), count: 1, deadline: timeout.map { ContinuousClock.now + $0 }, timeout: timeout)
        let waiter = DistributedCallWaiter(coroutine)
        call.sink = waiter
        try start(call)
        do {
            try confirm(CollectionOfOne(call))
        } catch {
            forget(call)
            throw error
        }
        while call.outcome == nil {
            waiter.parked = true
            do {
                try coroutine.park(.primitive(call, "result"), timeout: call.deadline.map { $0 - .now })
            } catch let error as TimeoutError where error.scope == nil && call.deadline != nil {
                waiter.parked = false
                forget(call)
                throw call.timeoutError(queue: queue)
            } catch {
                waiter.parked = false
                forget(call)
                throw error
            }
        }
        return try EncodedTask.decodeReply(call.outcome!.get(), count: 1, as: Task.Output.self, what: call.what)[0]
    }

    /// Publishes `task` and returns once the broker has confirmed it; the result arrives in
    /// the returned ``Future`` (gevent's `apply_async`, Celery's `delay`), and `onSuccess` or
    /// `onFailure` then runs in a coroutine of the pool.
    ///
    /// Blocks the calling coroutine for the publish and its confirm, not for the result. While
    /// the connection recovers from a lost broker, the task is published once it is back.
    ///
    /// - Parameter timeout: The task's deadline: its message's TTL in the work queue and the
    ///   longest the future stays pending (then it fails with `TimeoutError`); nil waits for
    ///   ever.
    /// - Returns: A future that holds the output, or fails as ``apply(_:timeout:)`` throws.
    /// - Throws: Only what stops the publish: ``ProcessError/Code/closed``, ``AMQPError``
    ///   (the broker refused the message), `TimeoutError` (no confirm in
    ///   ``Configuration/confirmTimeout``), `CancellationError`. A call cancelled while
    ///   waiting for the confirm may still run.
    public func submit<Task: ProcessTask>(
        _ task: Task, timeout: Duration? = nil,
        onSuccess: ((Task.Output) -> Void)? = nil, onFailure: ((any Error) -> Void)? = nil
    ) throws -> Future<Task.Output> {
        let hub = try AnyCoroutine.requireCurrent("DistributedPool.submit").hub
        if let timeout, timeout <= .zero { throw WeaveError(.invalidArgument, "task timeout must be positive, not \(timeout)") }
        let call = try makeCall(CollectionOfOne(task), count: 1, deadline: timeout.map { ContinuousClock.now + $0 }, timeout: timeout)
        let future = Future<Task.Output>(label: "DistributedPool task \(call.id) (\(Task.taskName))")
        let submission = DistributedSubmission(future: future, hub: hub, onSuccess: onSuccess, onFailure: onFailure)
        submission.pool = self
        call.sink = submission
        submissions[call.id] = submission
        do {
            try start(call)
            try confirm(CollectionOfOne(call))
        } catch {
            submissions[call.id] = nil
            forget(call)
            throw error
        }
        if let deadline = call.deadline, call.outcome == nil {
            let left = deadline - .now
            submission.timer = hub.addTimer(deadline: Hub.deadline(after: left > .zero ? left : .zero), .callback { [weak self, weak call] in
                guard let self, let call else { return }
                self.expire(call)
            })
        }
        return future
    }

    /// Runs every task on the workers and returns their outputs in input order; parks the
    /// calling coroutine until the last one (or a failure) is in.
    ///
    /// Chunks are published ahead of the results, a window of them at a time (as
    /// ``imap(_:chunkSize:timeout:maxInFlight:)``); the first failure in input order is
    /// thrown, and the results still out are dropped when they come.
    ///
    /// - Parameters:
    ///   - chunkSize: Tasks per message: a chunk runs on one worker, in order, and fails as a
    ///     whole when one of its tasks throws.
    ///   - timeout: The deadline of the whole map (each message's TTL, and the wait).
    /// - Throws: As ``apply(_:timeout:)``; ``WeaveError`` for a `chunkSize` below 1.
    public func map<Tasks: Sequence>(_ tasks: Tasks, chunkSize: Int = 1, timeout: Duration? = nil) throws -> [Tasks.Element.Output]
    where Tasks.Element: ProcessTask {
        let results = try DistributedMapResults(
            pool: self, tasks: tasks, ordered: true, chunkSize: chunkSize, chunkTimeout: nil,
            deadline: timeout.map { ContinuousClock.now + $0 }, overallTimeout: timeout, maxInFlight: nil)
        var outputs: [Tasks.Element.Output] = []
        outputs.reserveCapacity(tasks.underestimatedCount)
        while let output = try results.next(timeout: nil) { outputs.append(output) }
        return outputs
    }

    /// Runs the tasks lazily, yielding each output (or error) strictly in input order as
    /// its result comes in; at most `maxInFlight` chunks are published ahead of the
    /// consumer. Iterating parks the calling coroutine while the next result is not in.
    ///
    /// A failure is yielded at its own index (every index of its chunk), and the iteration
    /// goes on; see ``DistributedMapResults``.
    ///
    /// - Parameters:
    ///   - chunkSize: Tasks per message (one worker runs a chunk, in order).
    ///   - timeout: Each chunk's deadline, from its publish: its message's TTL and how long
    ///     the iteration waits for it (then `TimeoutError` at its indices).
    ///   - maxInFlight: Chunks published and not yet yielded, at most (256 by default).
    /// - Throws: ``WeaveError`` for a `chunkSize` or `maxInFlight` below 1, or outside a
    ///   coroutine. Failures to publish are yielded in line.
    public func imap<Tasks: Sequence>(
        _ tasks: Tasks, chunkSize: Int = 1, timeout: Duration? = nil, maxInFlight: Int? = nil
    ) throws -> DistributedMapResults<Tasks.Element> where Tasks.Element: ProcessTask {
        try DistributedMapResults(pool: self, tasks: tasks, ordered: true, chunkSize: chunkSize, chunkTimeout: timeout,
                                  deadline: nil, overallTimeout: nil, maxInFlight: maxInFlight)
    }

    /// Like ``imap(_:chunkSize:timeout:maxInFlight:)``, in the order the results come in
    /// (failures too).
    public func imapUnordered<Tasks: Sequence>(
        _ tasks: Tasks, chunkSize: Int = 1, timeout: Duration? = nil, maxInFlight: Int? = nil
    ) throws -> DistributedMapResults<Tasks.Element> where Tasks.Element: ProcessTask {
        try DistributedMapResults(pool: self, tasks: tasks, ordered: false, chunkSize: chunkSize, chunkTimeout: timeout,
                                  deadline: nil, overallTimeout: nil, maxInFlight: maxInFlight)
    }

    // MARK: - Calls (for DistributedMapResults)

    /// A call for `tasks`, not yet published.
    func makeCall<Task: ProcessTask>(_ tasks: some Sequence<Task>, count: Int, deadline: ContinuousClock.Instant?,
                                     timeout: Duration?) throws -> DistributedCall {
        if let failure { throw failure }
        let request = try EncodedTask.encode(tasks, count: count)
        nextID += 1
        var properties = AMQPMessageProperties.persistent
        properties.correlationID = String(nextID)
        properties.replyTo = replyQueue
        properties.type = Task.taskName
        properties.headers = [DistributedQueue.replyHeader: .string(replyQueue)]
        return DistributedCall(id: String(nextID), sequence: nextID, taskName: Task.taskName, count: count, request: request,
                               properties: properties, deadline: deadline, timeout: timeout)
    }

    /// Publishes `call` (without waiting for its confirm: see ``confirm(_:)``) and records
    /// it as awaiting its result. While the connection recovers it is only recorded: the
    /// recovery publishes it.
    func start(_ call: DistributedCall) throws {
        if let failure { throw failure }
        pending[call.id] = call
        guard !connection.isRecovering else { return }
        do {
            try send(call)
        } catch let error as AMQPError where isOutage(error) {
            // Lost with the connection, maybe: published again once it is back.
        } catch {
            pending[call.id] = nil
            throw error
        }
    }

    /// Waits for the confirms of everything published so far. A connection lost meanwhile
    /// is not an error (the recovery publishes the calls again). A nack (the broker could
    /// not take a message: a quorum queue still electing its leader just after it was
    /// declared) publishes `calls` again, a few times, after a growing pause; duplicates are
    /// answered once.
    ///
    /// - Throws: The nack once retrying did not help, `TimeoutError` when the broker does
    ///   not confirm in ``Configuration/confirmTimeout``, the connection's failure,
    ///   `CancellationError`.
    func confirm(_ calls: some Collection<DistributedCall>) throws {
        var attempt = 0
        while true {
            do {
                try channel.waitForConfirms(timeout: configuration.confirmTimeout)
                return
            } catch let error as AMQPError where isOutage(error) {
                return
            } catch let error as AMQPError where error.code == .nacked && attempt < 5 {
                attempt += 1
                try Coroutine.sleep(for: .milliseconds(50 * attempt))
                for call in calls where call.outcome == nil && pending[call.id] === call {
                    do {
                        try send(call)
                    } catch let error as AMQPError where isOutage(error) {
                        return
                    }
                }
            }
        }
    }

    /// The caller no longer waits for `call`: a result that comes is dropped.
    func forget(_ call: DistributedCall) {
        if pending[call.id] === call { pending[call.id] = nil }
    }

    /// Fails `call` with its timeout (its deadline passed).
    func expire(_ call: DistributedCall) {
        forget(call)
        call.finish(.failure(call.timeoutError(queue: queue)))
    }

    /// A submitted call has its outcome: its sink may go.
    func submissionFinished(_ call: DistributedCall) {
        submissions[call.id] = nil
    }

    /// Queues a finished submission's callback; a notifier coroutine runs them, so that a
    /// callback that blocks holds up neither the reply reader nor a timer, and exits once
    /// none are left (an idle pool holds no parked coroutine for it).
    func notify(on hub: Hub, _ callback: @escaping () -> Void) {
        notifications.append(callback)
        guard notifier == nil else { return }
        notifier = try? hub.spawn(name: "DistributedPool callbacks", stackSize: nil,
                                  spawnSite: SourceLocation(fileID: #fileID, line: #line)) {
            self.runNotifications()
        }
    }

    private func runNotifications() {
        defer { notifier = nil }
        while !notifications.isEmpty {
            let batch = notifications
            notifications.removeAll(keepingCapacity: true)
            for callback in batch { callback() }
        }
    }

    // MARK: - Internals

    private func send(_ call: DistributedCall) throws {
        var properties = call.properties
        properties.expiration = try call.expiration(queue: queue)
        try channel.publish(call.request, routingKey: queue, properties: properties, waitForConfirm: false,
                            timeout: configuration.confirmTimeout)
    }

    /// A failure of the connection's transport that automatic recovery is repairing.
    private func isOutage(_ error: AMQPError) -> Bool {
        guard !connection.isClosed else { return false }
        return error.code == .connectionLost || error.code == .heartbeatTimeout || error.code == .connectionClosed
    }

    /// After a recovery: every call still waiting is published again, oldest first. Its
    /// first copy may have been lost unconfirmed, or answered into the reply queue while it
    /// did not exist; if not, it runs twice and the second result is dropped.
    private func publishPendingAgain() {
        let calls = pending.values.sorted { $0.sequence < $1.sequence }
        for call in calls where call.outcome == nil && pending[call.id] === call {
            // Lost again: the next recovery publishes what is still pending.
            if connection.isRecovering || failure != nil { return }
            do {
                try send(call)
            } catch is TimeoutError {
                expire(call)
            } catch {
                return
            }
        }
        try? confirm(calls)
    }

    /// A reply from the reply queue: the first one for an id settles its call; one for an
    /// id nobody waits for (a duplicate, or a call that gave up) is dropped. A dead letter
    /// (the broker gave up on the task) fails its call.
    private func received(_ delivery: AMQPDelivery) {
        guard let id = delivery.properties.correlationID, let call = pending.removeValue(forKey: id) else { return }
        if delivery.exchange == DistributedQueue.deadLetterExchange {
            call.finish(.failure(deadLetterError(for: call, delivery: delivery)))
        } else {
            call.worker = delivery.properties.appID
            call.finish(.success(delivery.body))
        }
    }

    /// Why the broker dead-lettered a call's message: the `reason` of its latest `x-death` entry.
    private func deadLetterError(for call: DistributedCall, delivery: AMQPDelivery) -> any Error {
        var reason = "unknown"
        if case .array(let deaths)? = delivery.properties.headers?["x-death"], case .table(let latest)? = deaths.first {
            switch latest["reason"] {
            case .string(let text)?: reason = text
            case .bytes(let bytes)?: reason = String(decoding: bytes, as: UTF8.self)
            default: break
            }
        }
        let name = "\(call.what) on queue '\(queue)'"
        switch reason {
        case "delivery_limit":
            return DistributedTaskError(
                .deliveryLimitExceeded, taskName: call.taskName, taskID: call.id, queue: queue, taskCount: call.count,
                message: "\(name) was dead-lettered after \(configuration.maximumDeliveries) deliveries, none acknowledged: "
                    + "each worker that took it died or lost its connection (a poison task?)")
        case "expired":
            return call.timeoutError(queue: queue)
        case "rejected":
            return DistributedTaskError(.rejected, taskName: call.taskName, taskID: call.id, queue: queue, taskCount: call.count,
                                        message: "\(name) was rejected by a worker")
        default:
            return DistributedTaskError(.deadLettered, taskName: call.taskName, taskID: call.id, queue: queue, taskCount: call.count,
                                        message: "\(name) was dead-lettered by the broker (\(reason))")
        }
    }

    private func fail(_ error: any Error) {
        guard failure == nil else { return }
        failure = error
        let waiting = pending.values.sorted { $0.sequence < $1.sequence }
        pending = [:]
        for call in waiting { call.finish(.failure(error)) }
    }

    private static func randomHex() -> String {
        let text = String(UInt64.random(in: 0...UInt64.max), radix: 16)
        return String(repeating: "0", count: 16 - text.count) + text
    }
}

extension ProcessError {
    static func poolClosed(_ queue: String) -> ProcessError {
        EncodedTask.closedError("the distributed pool on queue '\(queue)' is closed")
    }
}
