import WeaveAMQP
import WeaveCore

/// Told when a call it waits for has its outcome (on the pool's hub, from the reply reader
/// or a timer).
protocol DistributedCallSink: AnyObject {
    func callFinished(_ call: DistributedCall)
}

/// One message out: a task or a chunk of tasks awaiting its reply. It keeps its request so
/// that the pool can publish it again after the connection recovers (the reply queue was
/// gone meanwhile, and a reply published then is lost).
final class DistributedCall: WaitTarget {
    let id: String
    /// The id as a number: the order calls were made in.
    let sequence: UInt64
    let taskName: String
    let count: Int
    let request: [UInt8]
    /// Correlation id, reply-to, task name, reply header; the TTL is set at each publish.
    let properties: AMQPMessageProperties
    let deadline: ContinuousClock.Instant?
    let timeout: Duration?
    /// The reply's body (decoded by whoever waits, as its type), or why there is none.
    private(set) var outcome: Result<[UInt8], any Error>?
    /// The worker that answered (its `app-id`), for error messages.
    var worker: String?
    /// Who is told of the outcome; held weakly so an abandoned iteration can go.
    weak var sink: (any DistributedCallSink)?

    init(id: String, sequence: UInt64, taskName: String, count: Int, request: [UInt8], properties: AMQPMessageProperties,
         deadline: ContinuousClock.Instant?, timeout: Duration?) {
        self.id = id
        self.sequence = sequence
        self.taskName = taskName
        self.count = count
        self.request = request
        self.properties = properties
        self.deadline = deadline
        self.timeout = timeout
    }

    var waitDescription: String { "DistributedPool call \(id) (\(taskName))" }

    /// Settles the call once; later outcomes (a duplicate reply) are ignored.
    func finish(_ result: Result<[UInt8], any Error>) {
        guard outcome == nil else { return }
        outcome = result
        sink?.callFinished(self)
    }

    /// What ``EncodedTask`` puts in its errors: the task and where it ran.
    var what: String { "task \(id) (\(taskName))" + (worker.map { " on worker \($0)" } ?? "") }

    /// The message's TTL for a publish now: whole milliseconds left, at least 1 (0 means
    /// "deliver now or drop"); nil without a deadline; throws once the deadline has passed.
    func expiration(queue: String) throws -> String? {
        guard let deadline else { return nil }
        let left = deadline - .now
        guard left > .zero else { throw timeoutError(queue: queue) }
        return String(max(1, left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000))
    }

    func timeoutError(queue: String) -> TimeoutError {
        TimeoutError(operation: "DistributedPool \(what) on queue '\(queue)'", timeout: timeout ?? .zero)
    }
}

/// The sink of one coroutine waiting for one call (``DistributedPool/apply(_:timeout:)``).
final class DistributedCallWaiter: DistributedCallSink {
    let coroutine: AnyCoroutine
    var parked = false

    init(_ coroutine: AnyCoroutine) { self.coroutine = coroutine }

    func callFinished(_ call: DistributedCall) {
        guard parked else { return }
        parked = false
        coroutine.hub.makeReady(coroutine)
    }
}
