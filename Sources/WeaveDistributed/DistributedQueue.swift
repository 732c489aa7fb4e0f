import WeaveAMQP
import WeaveCore

/// How a work queue and its dead letters are laid out on the broker; declared the same way
/// by ``DistributedPool`` and ``DistributedWorker`` (a queue declared with other arguments
/// is refused with 406 PRECONDITION_FAILED).
///
/// Poison tasks. A task that kills every worker it reaches must stop being delivered, and
/// its caller must hear why. Only the broker sees every return of a message (a worker
/// killed before it even read the delivery returns it too), so the broker counts: the work
/// queue is a quorum queue with `x-delivery-limit`, which dead-letters a message returned
/// more than that many times. A classic queue offers only the `redelivered` flag; counting
/// in a header would mean republishing the message with the count raised and acknowledging
/// the original, which is not atomic (a worker dying in between loses the count or doubles
/// the task), moves the task to the back of the queue and restarts its TTL. Quorum queues
/// are also replicated and durable, which the broker-restart guarantees need anyway.
///
/// Dead letters go to one durable headers exchange, ``deadLetterExchange``. Each task
/// carries its caller's reply queue in the ``replyHeader`` header, and each pool binds its
/// reply queue to that exchange matching that header: a dead letter lands straight in the
/// caller's reply queue, with its correlation id and task name, and no process has to be
/// alive to forward it. A caller that went away took its queue and binding with it, and its
/// dead letters are dropped.
enum DistributedQueue {
    /// The headers exchange every work queue dead-letters to.
    static let deadLetterExchange = "weave.distributed.dead-letters"
    /// The header naming the caller's reply queue (no `x-` prefix: the headers exchange
    /// ignores those when matching).
    static let replyHeader = "weave-reply-to"

    /// Declares the durable quorum work queue `name` that dead-letters a task after
    /// `maximumDeliveries` deliveries.
    static func declare(_ name: String, maximumDeliveries: Int, on channel: AMQPChannel) throws {
        // The limit counts returns: a message returned more than `x-delivery-limit` times
        // is dead-lettered, so N deliveries allow N - 1 returns.
        try channel.queueDeclare(name, durable: true, arguments: [
            "x-queue-type": .string("quorum"),
            "x-delivery-limit": .int64(Int64(maximumDeliveries - 1)),
            "x-dead-letter-exchange": .string(deadLetterExchange),
        ])
    }

    /// Runs `body` (connect, declare) again when the broker ended its connection with 541
    /// INTERNAL_ERROR: RabbitMQ 3.10 does that to one of two connections declaring the same
    /// new quorum queue at once (a pool and a worker starting together); the queue exists by
    /// the next try. `body` closes its connection when it throws.
    static func retryingConcurrentCreation<T>(_ body: () throws -> T) throws -> T {
        var attempt = 0
        while true {
            do {
                return try body()
            } catch let error as AMQPError where error.code == .connectionClosed && error.replyCode == 541 && attempt < 5 {
                attempt += 1
                try Coroutine.sleep(for: .milliseconds(50 * attempt))
            }
        }
    }

    /// Declares the dead-letter exchange and routes the dead letters of tasks that name
    /// `replyQueue` to it.
    static func bindDeadLetters(to replyQueue: String, on channel: AMQPChannel) throws {
        try channel.exchangeDeclare(deadLetterExchange, type: .headers, durable: true)
        try channel.queueBind(replyQueue, exchange: deadLetterExchange, arguments: [
            "x-match": .string("all"),
            replyHeader: .string(replyQueue),
        ])
    }
}
