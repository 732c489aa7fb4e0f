/// Commands collected to be sent back to back, with their replies read in one go: see
/// ``RedisConnection/pipeline(timeout:_:)`` and ``RedisConnection/transaction(timeout:_:)``.
///
/// Building a pipeline only encodes; nothing is sent until the closure returns.
public struct RedisPipeline {
    var encoder = RESPEncoder()
    /// How many commands were added.
    public private(set) var count = 0

    init() {}

    /// Adds a command given as its words (`["HINCRBY", "stats", "hits", "1"]`).
    public mutating func send(_ arguments: [String]) {
        precondition(!arguments.isEmpty, "a Redis command needs at least its name")
        encoder.beginCommand(argumentCount: arguments.count)
        for argument in arguments { encoder.append(argument) }
        count += 1
    }

    /// Adds a command given as binary-safe words.
    public mutating func send(bytes arguments: [[UInt8]]) {
        precondition(!arguments.isEmpty, "a Redis command needs at least its name")
        encoder.beginCommand(argumentCount: arguments.count)
        for argument in arguments { encoder.append(argument) }
        count += 1
    }

    /// Adds `command` with `arguments` (`send("SET", "key", "value")`).
    public mutating func send(_ command: String, _ arguments: String...) {
        send([command] + arguments)
    }
}

extension RedisConnection {
    /// Sends the commands `build` adds back to back and returns their replies in order.
    ///
    /// A server error answers its own command as an ``RESPValue/error(_:)`` value and does not
    /// stop the others. Blocks the calling coroutine until the last reply arrives; other
    /// coroutines' commands on this connection go before or after the whole pipeline, never
    /// inside it.
    ///
    /// - Parameters:
    ///   - timeout: For the whole pipeline; ``RedisConfiguration/commandTimeout`` when nil.
    ///   - build: Adds the commands; it runs before anything is sent (an error it throws
    ///     sends nothing).
    /// - Throws: ``RedisError`` when the connection fails; `TimeoutError` and
    ///   `CancellationError`, which close the connection.
    public func pipeline(timeout: Duration? = nil, _ build: (inout RedisPipeline) throws -> Void) throws -> [RESPValue] {
        var pipeline = RedisPipeline()
        try build(&pipeline)
        return try executeBatch(pipeline.encoder.buffer, count: pipeline.count, timeout: timeout, command: "pipeline")
    }

    /// Runs the commands `build` adds atomically: `MULTI`, the commands, `EXEC`, sent as one
    /// pipeline. Returns the commands' replies, or nil when a key given to
    /// ``watch(_:timeout:)`` changed since (the transaction did not run).
    ///
    /// A command that fails while running (`WRONGTYPE`) answers with an ``RESPValue/error(_:)``
    /// value, as Redis runs the others anyway. Ends any `WATCH`.
    ///
    /// ```swift
    /// try redis.watch(["balance"])
    /// let balance = Int(try redis.get("balance") ?? "0")!
    /// let replies = try redis.transaction { tx in tx.send("SET", "balance", String(balance - 10)) }
    /// if replies == nil { /* someone else changed it: try again */ }
    /// ```
    ///
    /// A transaction changes the connection's state until `EXEC`: give it a connection of its
    /// own (``RedisConnectionPool/withConnection(timeout:_:)``) rather than one that other
    /// coroutines use meanwhile.
    ///
    /// - Throws: ``RedisError`` with ``RedisError/Code/server`` when Redis refused to queue a
    ///   command (`EXECABORT`, nothing ran); as ``pipeline(timeout:_:)`` otherwise.
    public func transaction(timeout: Duration? = nil, _ build: (inout RedisPipeline) throws -> Void) throws -> [RESPValue]? {
        var pipeline = RedisPipeline()
        pipeline.send(["MULTI"])
        try build(&pipeline)
        pipeline.send(["EXEC"])
        let replies = try executeBatch(pipeline.encoder.buffer, count: pipeline.count, timeout: timeout, command: "MULTI/EXEC")
        isWatching = false
        switch replies[replies.count - 1] {
        case .array(let results): return results
        case .null: return nil
        case .error(let message):
            // The first refused command says why better than EXECABORT does.
            let cause = replies.dropLast().first { if case .error = $0 { true } else { false } }
            let detail = cause.map { "\($0)" } ?? message
            throw RedisError(.server, "MULTI/EXEC on \(self): \(detail)", serverMessage: message)
        default:
            throw unexpected(replies[replies.count - 1], "EXEC")
        }
    }

    /// `WATCH key...`: the next ``transaction(timeout:_:)`` on this connection runs only if
    /// none of `keys` changes before its `EXEC`.
    public func watch(_ keys: [String], timeout: Duration? = nil) throws {
        precondition(!keys.isEmpty, "WATCH needs at least one key")
        try send(["WATCH"] + keys, timeout: timeout)
        isWatching = true
    }

    /// `UNWATCH`: forgets the keys given to ``watch(_:timeout:)``.
    public func unwatch(timeout: Duration? = nil) throws {
        try send(["UNWATCH"], timeout: timeout)
        isWatching = false
    }
}
