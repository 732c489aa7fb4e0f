import WeaveCore

// Exchanges, queues and bindings. Each call blocks the calling coroutine until the broker's
// reply (at most `timeout`, or the configuration's operationTimeout), and throws AMQPError
// with code channelClosed (and the broker's reply code) when the broker refuses it, the
// channel's or connection's failure when it has ended, TimeoutError or CancellationError
// (which close the channel).
extension AMQPChannel {
    /// Declares an exchange (`exchange.declare`), or with `passive` checks that it exists.
    ///
    /// Blocks until the broker's reply. Throws ``AMQPError/Code/channelClosed`` with 406
    /// `PRECONDITION_FAILED` when the exchange exists with other properties, 404 `NOT_FOUND`
    /// for a passive declare of a missing one; see the other failures above.
    public func exchangeDeclare(
        _ name: String, type: AMQPExchangeType = .direct, passive: Bool = false, durable: Bool = false,
        autoDelete: Bool = false, internal isInternal: Bool = false, arguments: AMQPFieldTable = [:], timeout: Duration? = nil
    ) throws {
        _ = try call(.exchangeDeclare, timeout: timeout, "exchange.declare '\(name)'") {
            $0.writeShort(0)
            $0.writeShortString(name)
            $0.writeShortString(type.rawValue)
            $0.writeBits(passive, durable, autoDelete, isInternal, false)
            $0.writeTable(arguments)
        }
        if !passive && connection.recordsTopology {
            connection.topology.record(AMQPTopology.Exchange(name: name, type: type, durable: durable, autoDelete: autoDelete,
                                                             isInternal: isInternal, arguments: arguments))
        }
    }

    /// Deletes an exchange (`exchange.delete`); with `ifUnused`, only when nothing is bound to it.
    ///
    /// Blocks until the broker's reply; throws as ``exchangeDeclare(_:type:passive:durable:autoDelete:internal:arguments:timeout:)``.
    public func exchangeDelete(_ name: String, ifUnused: Bool = false, timeout: Duration? = nil) throws {
        _ = try call(.exchangeDelete, timeout: timeout, "exchange.delete '\(name)'") {
            $0.writeShort(0)
            $0.writeShortString(name)
            $0.writeBits(ifUnused, false)
        }
        if connection.recordsTopology { connection.topology.forgetExchange(name) }
    }

    /// Binds exchange `destination` to exchange `source` (`exchange.bind`, a RabbitMQ extension).
    ///
    /// Blocks until the broker's reply; 404 for a missing exchange.
    public func exchangeBind(destination: String, source: String, routingKey: String = "",
                             arguments: AMQPFieldTable = [:], timeout: Duration? = nil) throws {
        try changeBinding(.exchangeBind, "exchange.bind '\(destination)' to '\(source)'",
                          AMQPTopology.Binding(toExchange: true, destination: destination, source: source,
                                               routingKey: routingKey, arguments: arguments),
                          bind: true, timeout: timeout)
    }

    /// Removes a binding made by ``exchangeBind(destination:source:routingKey:arguments:timeout:)``.
    ///
    /// Blocks until the broker's reply.
    public func exchangeUnbind(destination: String, source: String, routingKey: String = "",
                               arguments: AMQPFieldTable = [:], timeout: Duration? = nil) throws {
        try changeBinding(.exchangeUnbind, "exchange.unbind '\(destination)' from '\(source)'",
                          AMQPTopology.Binding(toExchange: true, destination: destination, source: source,
                                               routingKey: routingKey, arguments: arguments),
                          bind: false, timeout: timeout)
    }

    /// Declares a queue (`queue.declare`), or with `passive` checks that it exists, and
    /// returns its name and counts.
    ///
    /// An empty `name` has the broker make one up (`amq.gen-…`), as for an RPC reply queue.
    /// `arguments` sets the broker's extensions: `x-dead-letter-exchange`,
    /// `x-dead-letter-routing-key`, `x-message-ttl` (ms), `x-expires`, `x-max-length`,
    /// `x-queue-type` (`classic`, `quorum`, `stream`).
    ///
    /// Blocks until the broker's reply. Throws ``AMQPError/Code/channelClosed`` with 406
    /// `PRECONDITION_FAILED` when the queue exists with other properties or arguments, 405
    /// `RESOURCE_LOCKED` for another connection's exclusive queue, 404 for a passive declare
    /// of a missing queue; see the other failures above.
    @discardableResult
    public func queueDeclare(
        _ name: String = "", passive: Bool = false, durable: Bool = false, exclusive: Bool = false,
        autoDelete: Bool = false, arguments: AMQPFieldTable = [:], timeout: Duration? = nil
    ) throws -> AMQPQueueState {
        let reply = try call(.queueDeclare, timeout: timeout, "queue.declare '\(name)'") {
            $0.writeShort(0)
            $0.writeShortString(name)
            $0.writeBits(passive, durable, exclusive, autoDelete, false)
            $0.writeTable(arguments)
        }
        guard case .queueDeclareOk(let state) = reply.method else { throw unexpected(reply, "queue.declare") }
        if !passive && connection.recordsTopology {
            connection.topology.record(AMQPTopology.Queue(declaredName: name, name: state.name, durable: durable, exclusive: exclusive,
                                                          autoDelete: autoDelete, arguments: arguments))
        }
        return state
    }

    /// Binds `queue` to `exchange` with `routingKey` (`queue.bind`).
    ///
    /// Blocks until the broker's reply; 404 for a missing queue or exchange.
    public func queueBind(_ queue: String, exchange: String, routingKey: String = "",
                          arguments: AMQPFieldTable = [:], timeout: Duration? = nil) throws {
        try changeBinding(.queueBind, "queue.bind '\(queue)' to '\(exchange)'",
                          AMQPTopology.Binding(toExchange: false, destination: queue, source: exchange,
                                               routingKey: routingKey, arguments: arguments),
                          bind: true, timeout: timeout)
    }

    /// Removes a binding (`queue.unbind`).
    ///
    /// Blocks until the broker's reply.
    public func queueUnbind(_ queue: String, exchange: String, routingKey: String = "",
                            arguments: AMQPFieldTable = [:], timeout: Duration? = nil) throws {
        try changeBinding(.queueUnbind, "queue.unbind '\(queue)' from '\(exchange)'",
                          AMQPTopology.Binding(toExchange: false, destination: queue, source: exchange,
                                               routingKey: routingKey, arguments: arguments),
                          bind: false, timeout: timeout)
    }

    /// The four binding methods share their fields (destination, source, key, arguments; all
    /// but `queue.unbind` with a no-wait bit) and their bookkeeping for recovery.
    private func changeBinding(_ method: AMQPMethodID, _ what: @autoclosure () -> String, _ binding: AMQPTopology.Binding,
                               bind: Bool, timeout: Duration?) throws {
        let hasNoWait = method != .queueUnbind
        _ = try call(method, timeout: timeout, what()) {
            $0.writeShort(0)
            $0.writeShortString(binding.destination)
            $0.writeShortString(binding.source)
            $0.writeShortString(binding.routingKey)
            if hasNoWait { $0.writeBits(false) }
            $0.writeTable(binding.arguments)
        }
        guard connection.recordsTopology else { return }
        if bind { connection.topology.record(binding) } else { connection.topology.forget(binding) }
    }

    /// Removes every ready message from `queue` (`queue.purge`) and returns how many.
    ///
    /// Blocks until the broker's reply; 404 for a missing queue.
    @discardableResult
    public func queuePurge(_ queue: String, timeout: Duration? = nil) throws -> Int {
        let reply = try call(.queuePurge, timeout: timeout, "queue.purge '\(queue)'") {
            $0.writeShort(0)
            $0.writeShortString(queue)
            $0.writeBits(false)
        }
        guard case .queuePurgeOk(let count) = reply.method else { throw unexpected(reply, "queue.purge") }
        return Int(count)
    }

    /// Deletes `queue` (`queue.delete`) and returns how many messages it held; with
    /// `ifUnused` only when it has no consumers, with `ifEmpty` only when it is empty.
    ///
    /// Blocks until the broker's reply; 406 when `ifUnused`/`ifEmpty` does not hold.
    @discardableResult
    public func queueDelete(_ queue: String, ifUnused: Bool = false, ifEmpty: Bool = false, timeout: Duration? = nil) throws -> Int {
        let reply = try call(.queueDelete, timeout: timeout, "queue.delete '\(queue)'") {
            $0.writeShort(0)
            $0.writeShortString(queue)
            $0.writeBits(ifUnused, ifEmpty, false)
        }
        guard case .queueDeleteOk(let count) = reply.method else { throw unexpected(reply, "queue.delete") }
        if connection.recordsTopology { connection.topology.forgetQueue(queue) }
        return Int(count)
    }

    /// A reply of the wrong method: the broker answered something else.
    func unexpected(_ reply: Reply, _ request: String) -> AMQPError {
        AMQPError(.protocolError, "the broker answered \(request) on \(self) with \(reply.method)")
    }
}
