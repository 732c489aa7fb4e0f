import WeaveCore
import WeaveIO
import WeaveTLS

/// A connection in pub/sub mode: subscribe to channels and patterns, then read the messages
/// published to them, one coroutine reading.
///
/// ```swift
/// let subscription = try RedisSubscription.connect(RedisConfiguration(port: 6379))
/// defer { subscription.close() }
/// try subscription.subscribe(["chat"])
/// while let message = try subscription.next() {
///     print("\(message.channel): \(message.string)")
/// }
/// ```
///
/// Like every stream of results in Weave, ``next(timeout:)`` returns the next message (nil
/// once the subscription is closed) and throws what went wrong, while a `for` loop gets each
/// message or the error that ends it as a `Result`, so no error is ever lost:
///
/// ```swift
/// for message in subscription {
///     do { handle(try message.get()) } catch { log(error) }  // a failure is the last element
/// }
/// ```
///
/// A subscription has its own connection (Redis allows nothing but pub/sub commands on it
/// in RESP2) and no coroutine of its own: the coroutine calling ``next(timeout:)`` reads.
/// ``subscribe(_:timeout:)`` and the other commands are answered in the same stream, so call
/// them from the reading coroutine, or while nobody reads. ``close()`` may come from any
/// coroutine of the hub: a reader waiting in ``next(timeout:)`` then gets nil.
public final class RedisSubscription: CustomStringConvertible {
    /// How the connection was made.
    public let configuration: RedisConfiguration
    /// TCP or TLS; written to directly.
    private let stream: any ByteStream
    /// Reads `stream` in place (the stream itself for TCP).
    private let reader: any InPlaceReadable
    /// Messages read while waiting for a confirmation, oldest first.
    private var early: [RedisMessage] = []
    private var earlyHead = 0
    /// Why the subscription ended, when the server did it (nil while open or closed here).
    private var failure: RedisError?
    /// The server's count of this connection's channels and patterns, from its last confirmation.
    public private(set) var subscriptionCount = 0

    /// Whether ``close()`` was called or the connection failed.
    public var isClosed: Bool { stream.isClosed }

    private init(configuration: RedisConfiguration, transport: RedisTransport) {
        self.configuration = configuration
        self.stream = transport.stream
        switch transport {
        case .plain(let tcp): reader = tcp
        case .tls(let tls): reader = ReadAheadStream(tls)
        }
    }

    deinit {
        stream.close()
    }

    public var description: String {
        "Redis subscription \(configuration.host):\(configuration.port)\(stream is TCPConnection ? "" : " (TLS)")"
    }

    /// Connects (over TLS when ``RedisConfiguration/tls`` is set) and runs the handshake as
    /// ``RedisConnection/connect(_:)`` does.
    ///
    /// - Throws: as ``RedisConnection/connect(_:)``.
    public static func connect(_ configuration: RedisConfiguration) throws -> RedisSubscription {
        try connect(configuration, tlsContext: nil)
    }

    /// Connects as ``connect(_:)``, over TLS with `tlsContext` when it is given; see
    /// ``RedisConnection/connect(_:tlsContext:)``.
    ///
    /// - Throws: as ``RedisConnection/connect(_:)``.
    public static func connect(_ configuration: RedisConfiguration, tlsContext: TLSContext?) throws -> RedisSubscription {
        let deadline = configuration.connectTimeout.map { ContinuousClock.now + $0 }
        let transport = try RedisTransport.open(configuration, context: tlsContext, deadline: deadline)
        let subscription = RedisSubscription(configuration: configuration, transport: transport)
        func remaining() -> Duration? { deadline.map { $0 - .now } }
        do {
            var commands: [[String]] = []
            if configuration.protocolVersion == .resp3 {
                var hello = ["HELLO", "3"]
                if let password = configuration.password { hello += ["AUTH", configuration.username ?? "default", password] }
                if let name = configuration.clientName { hello += ["SETNAME", name] }
                commands.append(hello)
            } else {
                if let password = configuration.password {
                    commands.append(configuration.username.map { ["AUTH", $0, password] } ?? ["AUTH", password])
                }
                if let name = configuration.clientName { commands.append(["CLIENT", "SETNAME", name]) }
            }
            for command in commands {
                try subscription.write(command, timeout: remaining())
                if case .error(let message) = try subscription.readReply(timeout: remaining()) {
                    throw RedisError(.connectFailed, "\(subscription): handshake refused",
                                     underlying: RedisError(.server, "\(command[0]): \(message)", serverMessage: message))
                }
            }
        } catch {
            subscription.close()
            throw error
        }
        return subscription
    }

    /// `SUBSCRIBE channel...`: returns once the server has confirmed every channel, so a
    /// message published afterwards is received.
    ///
    /// Blocks the calling coroutine until the confirmations arrive (messages arriving
    /// meanwhile are kept for ``next(timeout:)``).
    ///
    /// - Throws: ``RedisError`` when the connection fails; `TimeoutError` and
    ///   `CancellationError`, after which the subscription is closed (the confirmations
    ///   would be out of step).
    public func subscribe(_ channels: [String], timeout: Duration? = nil) throws {
        precondition(!channels.isEmpty, "SUBSCRIBE needs at least one channel")
        try command(["SUBSCRIBE"] + channels, confirmations: channels.count, kind: "subscribe", timeout: timeout)
    }

    /// `PSUBSCRIBE pattern...` (`news.*`); see ``subscribe(_:timeout:)``.
    public func psubscribe(_ patterns: [String], timeout: Duration? = nil) throws {
        precondition(!patterns.isEmpty, "PSUBSCRIBE needs at least one pattern")
        try command(["PSUBSCRIBE"] + patterns, confirmations: patterns.count, kind: "psubscribe", timeout: timeout)
    }

    /// `UNSUBSCRIBE channel...`: returns once the server has confirmed each; see
    /// ``subscribe(_:timeout:)``. Messages already on their way are still received.
    public func unsubscribe(_ channels: [String], timeout: Duration? = nil) throws {
        precondition(!channels.isEmpty, "UNSUBSCRIBE needs at least one channel")
        try command(["UNSUBSCRIBE"] + channels, confirmations: channels.count, kind: "unsubscribe", timeout: timeout)
    }

    /// `PUNSUBSCRIBE pattern...`; see ``unsubscribe(_:timeout:)``.
    public func punsubscribe(_ patterns: [String], timeout: Duration? = nil) throws {
        precondition(!patterns.isEmpty, "PUNSUBSCRIBE needs at least one pattern")
        try command(["PUNSUBSCRIBE"] + patterns, confirmations: patterns.count, kind: "punsubscribe", timeout: timeout)
    }

    /// Returns the next message, waiting for it; nil once the subscription is closed.
    ///
    /// Blocks the calling coroutine until a message arrives. A timeout or a cancellation
    /// leaves the subscription as it was (no message is lost): call again.
    ///
    /// - Throws: `TimeoutError` after `timeout`; `CancellationError`; ``RedisError`` with
    ///   ``RedisError/Code/connectionClosed`` when the server went away, or
    ///   ``RedisError/Code/protocolError`` for a malformed message (the subscription is then
    ///   closed, and later calls return nil).
    public func next(timeout: Duration? = nil) throws -> RedisMessage? {
        if let message = popEarly() { return message }
        let deadline = timeout.map { ContinuousClock.now + $0 }
        while true {
            if isClosed { return nil }
            let reply: RESPValue
            do {
                reply = try readReply(timeout: deadline.map { $0 - .now })
            } catch let error as IOError where error.code == .closed {
                return nil
            }
            if let message = try classify(reply, confirming: nil) { return message }
        }
    }

    /// Closes the connection; a coroutine waiting in ``next(timeout:)`` gets nil. Closing twice
    /// does nothing.
    public func close() {
        stream.close()
    }

    // MARK: - Internals

    private func command(_ arguments: [String], confirmations: Int, kind: String, timeout: Duration?) throws {
        if let failure { throw failure }
        if isClosed { throw RedisError(.connectionClosed, "\(self) is closed") }
        let deadline = timeout.map { ContinuousClock.now + $0 }
        do {
            try write(arguments, timeout: timeout)
            var remaining = confirmations
            while remaining > 0 {
                let reply = try readReply(timeout: deadline.map { $0 - .now })
                if let message = try classify(reply, confirming: kind) {
                    early.append(message)
                } else if case .error(let message) = reply {
                    throw RedisError(.server, "\(arguments[0]) on \(self): \(message)", serverMessage: message)
                } else if Self.kind(of: reply) == kind {
                    remaining -= 1
                }
            }
        } catch let error as RedisError where error.code == .server {
            throw error
        } catch {
            // Confirmations still on their way would be taken for later ones.
            close()
            throw error
        }
    }

    /// Turns a reply into a message, or records a confirmation (returning nil). Server errors
    /// are returned as nil for `command` to throw; in ``next(timeout:)`` they are thrown.
    private func classify(_ reply: RESPValue, confirming kind: String?) throws -> RedisMessage? {
        guard let elements = Self.elements(of: reply) else {
            if case .error(let message) = reply {
                if kind != nil { return nil }
                throw RedisError(.server, "\(self): \(message)", serverMessage: message)
            }
            throw protocolError("unexpected reply \(String(describing: reply).prefix(80))")
        }
        switch Self.kind(of: reply) {
        case "message" where elements.count == 3:
            guard let channel = elements[1].string, let payload = elements[2].bytes else { break }
            return RedisMessage(channel: channel, payload: payload)
        case "pmessage" where elements.count == 4:
            guard let pattern = elements[1].string, let channel = elements[2].string, let payload = elements[3].bytes else { break }
            return RedisMessage(channel: channel, pattern: pattern, payload: payload)
        case "subscribe", "psubscribe", "unsubscribe", "punsubscribe":
            guard elements.count == 3, case .integer(let count) = elements[2] else { break }
            subscriptionCount = Int(count)
            return nil
        case "pong":
            return nil
        default:
            break
        }
        throw protocolError("unexpected pub/sub reply \(String(describing: reply).prefix(80))")
    }

    private static func elements(of reply: RESPValue) -> [RESPValue]? {
        switch reply {
        case .array(let elements), .push(let elements): return elements.isEmpty ? nil : elements
        default: return nil
        }
    }

    private static func kind(of reply: RESPValue) -> String? {
        elements(of: reply)?.first?.string?.lowercased()
    }

    private func protocolError(_ what: String) -> RedisError {
        let error = RedisError(.protocolError, "\(self): \(what)")
        failure = error
        close()
        return error
    }

    private func popEarly() -> RedisMessage? {
        guard earlyHead < early.count else { return nil }
        let message = early[earlyHead]
        earlyHead += 1
        if earlyHead == early.count {
            early.removeAll(keepingCapacity: true)
            earlyHead = 0
        }
        return message
    }

    private func write(_ arguments: [String], timeout: Duration?) throws {
        var encoder = RESPEncoder()
        encoder.beginCommand(argumentCount: arguments.count)
        for argument in arguments { encoder.append(argument) }
        try stream.write(encoder.buffer, timeout: timeout)
    }

    /// Reads one whole reply; throws ``RedisError/Code/connectionClosed`` at the end of the
    /// stream and ``RedisError/Code/protocolError`` for garbage (closing the connection).
    private func readReply(timeout: Duration?) throws -> RESPValue {
        let deadline = timeout.map { ContinuousClock.now + $0 }
        var needed = 1
        while true {
            var reply: RESPValue?
            var ended = false
            do {
                try reader.withUnsafeReadableBytes(atLeast: needed, timeout: deadline.map { $0 - .now }) { bytes in
                    if bytes.count < needed { ended = true }
                    var parser = RESPParser(bytes)
                    reply = try parser.parse()
                    needed = bytes.count + 1
                    return parser.index
                }
            } catch let error as RedisError {
                failure = error
                close()
                throw error
            } catch let error as UVError {
                let failure = RedisError(.connectionClosed, "\(self): connection lost", underlying: error)
                self.failure = failure
                close()
                throw failure
            } catch let error as TLSError {
                let failure = RedisError(.connectionClosed, "\(self): connection lost", underlying: error)
                self.failure = failure
                close()
                throw failure
            }
            if let reply { return reply }
            if ended {
                let error = RedisError(.connectionClosed, "\(self): the server closed the connection")
                failure = error
                close()
                throw error
            }
        }
    }
}

extension RedisSubscription: Sequence {
    /// The messages for a `for` loop: each as `.success`, and the error that ends the
    /// iteration (the connection failing, the caller's cancellation) as a last `.failure`;
    /// the loop ends without one when the subscription is closed.
    public func makeIterator() -> Iterator { Iterator(subscription: self) }

    /// See ``RedisSubscription/makeIterator()``.
    public struct Iterator: IteratorProtocol {
        let subscription: RedisSubscription
        var ended = false

        /// The next message, the error that ends the loop, or nil after either end.
        public mutating func next() -> Result<RedisMessage, any Error>? {
            if ended { return nil }
            do {
                if let message = try subscription.next() { return .success(message) }
                ended = true
                return nil
            } catch {
                ended = true
                return .failure(error)
            }
        }
    }
}
