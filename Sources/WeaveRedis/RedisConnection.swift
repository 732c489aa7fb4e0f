import WeaveCore
import WeaveIO
import WeaveTLS

/// A connection to a Redis server, over TCP or TLS, whose commands block the calling
/// coroutine only, and which many coroutines may use at once: their commands are pipelined
/// automatically.
///
/// ```swift
/// let redis = try RedisConnection.connect(RedisConfiguration(port: 6379))
/// defer { redis.close() }
/// try redis.set("greeting", "hello", expiration: .after(.seconds(60)))
/// let greeting = try redis.get("greeting")      // "hello"
/// let reply = try redis.send(["OBJECT", "ENCODING", "greeting"])
/// ```
///
/// **Automatic pipelining.** A command is encoded into the connection's output buffer and
/// its caller parks until its reply arrives. A writer coroutine sends whatever has queued up
/// in one write once the coroutines that were ready have run, and a reader coroutine parses
/// every reply a read brought in and hands each to the caller waiting in that position
/// (replies come in the order commands were sent). So 50 coroutines sharing one connection
/// cost one write and one read per round, not 50 of each.
///
/// **Failures.** A server error (`-ERR`, `-WRONGTYPE`...) is thrown as ``RedisError`` with
/// ``RedisError/Code/server``, and the connection goes on. A malformed reply, a reset or the
/// server closing the connection closes it: every command waiting gets a ``RedisError``
/// (``RedisError/Code/protocolError``, ``RedisError/Code/connectionClosed``), as does every
/// later command. A command that times out (`TimeoutError`) or whose coroutine is cancelled
/// (`CancellationError`) while waiting for its reply also closes the connection, since the
/// reply still on its way would otherwise answer the next command; the other commands
/// waiting on it get ``RedisError/Code/connectionClosed``. A connection never reconnects:
/// ``RedisConnectionPool`` replaces closed connections.
///
/// A connection belongs to the hub it was made on. Commands that change the connection's
/// state (`WATCH`, `MULTI`, `SELECT`, `CLIENT TRACKING`) affect every coroutine sharing it:
/// use ``transaction(timeout:_:)``, or a connection of your own from a pool. `SUBSCRIBE`
/// needs a ``RedisSubscription``. Call ``close()`` when done; a connection nobody references
/// any more closes itself.
public final class RedisConnection: WaitTarget, CustomStringConvertible {
    /// How the connection was made.
    public let configuration: RedisConfiguration
    /// TCP, or TLS over TCP; closed with the connection.
    private let stream: any ByteStream
    /// The hub outlives its coroutines and this connection's use of them.
    private unowned(unsafe) let hub: Hub
    private var output = RESPEncoder()
    private var replies = ReplyQueue()
    /// The writer coroutine while it is parked with nothing to send.
    private var idleWriter: AnyCoroutine?
    /// Why the connection ended; nil while open.
    private(set) var failure: RedisError?
    /// Set by ``watch(_:timeout:)``, cleared by `EXEC`, `DISCARD` and ``unwatch(timeout:)``:
    /// a pool does not take back a connection that still watches keys.
    var isWatching = false

    /// Whether the connection has ended (closed on this side, by the server, or after a
    /// failure); every command then throws.
    public var isClosed: Bool { failure != nil }

    /// Commands written (or queued to be) whose replies have not arrived yet.
    public var pendingReplyCount: Int { replies.count }

    private init(configuration: RedisConfiguration, stream: any ByteStream, hub: Hub) {
        self.configuration = configuration
        self.stream = stream
        self.hub = hub
    }

    deinit {
        stream.close()
        // The idle writer holds no reference to wake it otherwise.
        if let idleWriter { hub.makeReady(idleWriter) }
    }

    /// Connects to the server, over TLS when ``RedisConfiguration/tls`` is set, and runs the
    /// handshake: `HELLO 3` (with `AUTH` and `SETNAME`) for RESP3, else `AUTH` and
    /// `CLIENT SETNAME` as configured, then `SELECT` for a database other than 0.
    ///
    /// Blocks the calling coroutine until the connection is ready, at most
    /// ``RedisConfiguration/connectTimeout``. With TLS, a context is made for this one
    /// connection (reading the trust roots); ``connect(_:tlsContext:)`` shares one, as a
    /// ``RedisConnectionPool`` does.
    ///
    /// - Throws: `UVError` when the TCP connection fails (`connect 127.0.0.1:6379:
    ///   ECONNREFUSED`); `TLSError` when the TLS handshake fails (such as
    ///   `TLSError.Code.unknownCertificateAuthority`) or the TLS configuration is
    ///   refused; ``RedisError`` with ``RedisError/Code/connectFailed`` when the
    ///   server refuses the handshake (a wrong password, an unknown database), with its error
    ///   as ``RedisError/underlying``; `TimeoutError`; `CancellationError`. Nothing is left
    ///   open when it throws.
    public static func connect(_ configuration: RedisConfiguration) throws -> RedisConnection {
        try connect(configuration, tlsContext: nil)
    }

    /// Connects as ``connect(_:)``, over TLS with `tlsContext` when it is given (whatever
    /// ``RedisConfiguration/tls`` says): make one `TLSContext` and share it
    /// between connections, rather than parse the certificates for each.
    ///
    /// - Throws: as ``connect(_:)``.
    public static func connect(_ configuration: RedisConfiguration, tlsContext: TLSContext?) throws -> RedisConnection {
        guard let hub = Hub.current, AnyCoroutine.current != nil else {
            throw WeaveError(.notInCoroutine, "RedisConnection.connect needs a coroutine")
        }
        let deadline = configuration.connectTimeout.map { ContinuousClock.now + $0 }
        let transport = try RedisTransport.open(configuration, context: tlsContext, deadline: deadline)
        let connection = RedisConnection(configuration: configuration, stream: transport.stream, hub: hub)
        do {
            try connection.startCoroutines(transport)
            try connection.handshake(deadline: deadline)
        } catch {
            connection.close()
            throw error
        }
        return connection
    }

    private func handshake(deadline: ContinuousClock.Instant?) throws {
        func remaining() -> Duration? { deadline.map { $0 - .now } }
        do {
            if configuration.protocolVersion == .resp3 {
                var arguments = ["HELLO", "3"]
                if let password = configuration.password {
                    arguments += ["AUTH", configuration.username ?? "default", password]
                }
                if let name = configuration.clientName { arguments += ["SETNAME", name] }
                _ = try send(arguments, timeout: remaining())
            } else {
                if let password = configuration.password {
                    _ = try send(configuration.username.map { ["AUTH", $0, password] } ?? ["AUTH", password], timeout: remaining())
                }
                if let name = configuration.clientName {
                    _ = try send(["CLIENT", "SETNAME", name], timeout: remaining())
                }
            }
            if configuration.database != 0 {
                _ = try send(["SELECT", String(configuration.database)], timeout: remaining())
            }
        } catch let error as RedisError where error.code == .server {
            throw RedisError(.connectFailed, "\(self): handshake refused", underlying: error)
        }
    }

    /// Starts the reader and the writer, specialised for the stream. They hold the
    /// connection weakly, so that a connection nobody uses closes (its deinit closes the
    /// stream, which ends both).
    private func startCoroutines(_ transport: RedisTransport) throws {
        let owner = WeakConnection(self)
        let name = "\(configuration.host):\(configuration.port)"
        switch transport {
        case .plain(let tcp):
            // TCP reads in place from the connection's own buffer.
            try spawn(name: "redis reader \(name)") { Self.readLoop(reader: tcp, owner: owner) }
            try spawn(name: "redis writer \(name)") { Self.writeLoop(writer: tcp, idleTarget: tcp, owner: owner) }
        case .tls(let tls):
            let reader = ReadAheadStream(tls)
            try spawn(name: "redis reader \(name) (TLS)") { Self.readLoop(reader: reader, owner: owner) }
            try spawn(name: "redis writer \(name) (TLS)") { Self.writeLoop(writer: tls, idleTarget: tls.transport, owner: owner) }
        }
    }

    /// Closes the connection. Commands waiting for replies get ``RedisError`` with
    /// ``RedisError/Code/connectionClosed``; the reader and writer coroutines end. Closing
    /// twice does nothing.
    public func close() {
        fail(RedisError(.connectionClosed, "\(self) was closed"))
    }

    public var description: String { "Redis \(configuration.host):\(configuration.port)\(stream is TCPConnection ? "" : " (TLS)")" }

    package var waitDescription: String { "\(self) (\(replies.count) replies pending)" }

    // MARK: - Sending

    /// Sends a command given as its words (`["SET", "key", "value", "EX", "10"]`) and
    /// returns the reply.
    ///
    /// Blocks the calling coroutine until the reply arrives. Other coroutines' commands on
    /// this connection are pipelined with it.
    ///
    /// - Parameters:
    ///   - arguments: The command's name and arguments, at least the name.
    ///   - timeout: How long to wait for the reply; ``RedisConfiguration/commandTimeout``
    ///     when nil.
    /// - Throws: ``RedisError`` with ``RedisError/Code/server`` for an error reply (the
    ///   connection stays usable), ``RedisError/Code/protocolError`` or
    ///   ``RedisError/Code/connectionClosed`` when the connection fails; `TimeoutError` and
    ///   `CancellationError`, which close the connection.
    @discardableResult
    public func send(_ arguments: [String], timeout: Duration? = nil) throws -> RESPValue {
        precondition(!arguments.isEmpty, "a Redis command needs at least its name")
        try checkSupported(arguments[0])
        return try execute(arguments.count, command: arguments[0], timeout: timeout) { encoder in
            for argument in arguments { encoder.append(argument) }
        }
    }

    /// Sends a command given as binary-safe words; see ``send(_:timeout:)-([String],_)``.
    @discardableResult
    public func send(bytes arguments: [[UInt8]], timeout: Duration? = nil) throws -> RESPValue {
        precondition(!arguments.isEmpty, "a Redis command needs at least its name")
        try checkSupported(String(decoding: arguments[0], as: UTF8.self))
        return try execute(arguments.count, command: String(decoding: arguments[0], as: UTF8.self), timeout: timeout) { encoder in
            for argument in arguments { encoder.append(argument) }
        }
    }

    /// Sends `command` with `arguments` (`send("INCRBY", "counter", "5")`); see
    /// ``send(_:timeout:)-([String],_)``.
    @discardableResult
    public func send(_ command: String, _ arguments: String...) throws -> RESPValue {
        try checkSupported(command)
        return try execute(arguments.count + 1, command: command, timeout: nil) { encoder in
            encoder.append(command)
            for argument in arguments { encoder.append(argument) }
        }
    }

    /// Refuses the commands that turn a connection into a stream of pushes: their replies
    /// would never be matched to a caller. Cheap: only names of their lengths are compared.
    private func checkSupported(_ name: String) throws {
        let length = name.utf8.count
        guard length == 4 || length == 5 || length == 7 || length == 9 || length == 10 else { return }
        switch name.uppercased() {
        case "MONITOR", "SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE", "SYNC", "PSYNC":
            throw RedisError(.unsupported, "\(name) on \(self): use RedisSubscription for pub/sub; MONITOR and replication streams are not supported")
        default:
            return
        }
    }

    /// Encodes one command of `count` words and waits for its reply: the path every
    /// command takes. `command` names it in errors (only built when one is thrown).
    /// With `textReply`, a bulk string reply arrives as `.simpleString` (decoded once, no
    /// byte array): for commands whose caller returns a `String`.
    func execute(
        _ count: Int, command: @autoclosure () -> String, timeout: Duration?, textReply: Bool = false,
        _ encode: (inout RESPEncoder) -> Void
    ) throws -> RESPValue {
        if let failure { throw failure }
        let coroutine = try AnyCoroutine.requireCurrent("RedisConnection.send")
        output.beginCommand(argumentCount: count)
        encode(&output)
        var outcome: PendingReply.Outcome?
        try withUnsafeMutablePointer(to: &outcome) { slot in
            replies.append(PendingReply(slot: slot, waiter: coroutine, wantsText: textReply))
            wakeWriter()
            try waitForReply(slot, coroutine: coroutine, timeout: timeout, command: command())
        }
        switch outcome.unsafelyUnwrapped {
        case .success(.error(let message)):
            throw RedisError(.server, "\(command()) on \(self): \(message)", serverMessage: message)
        case .success(let value):
            return value
        case .failure(let error):
            throw error
        }
    }

    /// Sends the `count` commands already encoded in `encoded` back to back and waits for
    /// all their replies (error replies stay `.error` values).
    func executeBatch(_ encoded: [UInt8], count: Int, timeout: Duration?, command: @autoclosure () -> String) throws -> [RESPValue] {
        if let failure { throw failure }
        guard count > 0 else { return [] }
        let coroutine = try AnyCoroutine.requireCurrent("RedisConnection.pipeline")
        output.buffer.append(contentsOf: encoded)
        // Owned by this call; every entry referring to it is answered or failed before it returns.
        let slots = UnsafeMutablePointer<PendingReply.Outcome?>.allocate(capacity: count)
        slots.initialize(repeating: nil, count: count)
        defer {
            slots.deinitialize(count: count)
            slots.deallocate()
        }
        for index in 0..<count {
            replies.append(PendingReply(slot: slots + index, waiter: index == count - 1 ? coroutine : nil))
        }
        wakeWriter()
        try waitForReply(slots + (count - 1), coroutine: coroutine, timeout: timeout, command: command())
        var values: [RESPValue] = []
        values.reserveCapacity(count)
        for index in 0..<count {
            switch slots[index].unsafelyUnwrapped {
            case .success(let value): values.append(value)
            case .failure(let error): throw error
            }
        }
        return values
    }

    /// Parks until `slot` is filled. A timeout or cancellation first discards the connection
    /// (which fills every slot, this one included), so no entry outlives the call.
    private func waitForReply(
        _ slot: UnsafeMutablePointer<PendingReply.Outcome?>, coroutine: AnyCoroutine, timeout: Duration?,
        command: @autoclosure () -> String
    ) throws {
        // No clock reads on the common path without a timeout.
        let limit = timeout ?? configuration.commandTimeout
        let deadline = limit.map { ContinuousClock.now + $0 }
        while case .none = slot.pointee {
            do {
                try coroutine.park(.primitive(self, "reply"), timeout: limit == nil ? nil : deadline.unsafelyUnwrapped - .now)
            } catch {
                if case .none = slot.pointee {
                    fail(RedisError(.connectionClosed, "\(self) was discarded: \(command()) was interrupted", underlying: error))
                }
                throw error
            }
        }
    }

    private func wakeWriter() {
        if let writer = idleWriter {
            idleWriter = nil
            hub.makeReady(writer)
        }
    }

    // MARK: - Reader, writer and failure

    /// Ends the connection with `error` (once): closes the socket, wakes the writer to exit,
    /// and fails every command waiting, in order.
    func fail(_ error: any Error) {
        guard failure == nil else { return }
        let reason: RedisError
        switch error {
        case let error as RedisError: reason = error
        case is CancellationError: reason = RedisError(.connectionClosed, "\(self): its reader was cancelled (hub shutting down)")
        default: reason = RedisError(.connectionClosed, "\(self): connection lost", underlying: error)
        }
        failure = reason
        stream.close()
        wakeWriter()
        while let entry = replies.popFirst() {
            entry.slot.pointee = .failure(reason)
            if let waiter = entry.waiter { hub.makeReady(waiter) }
        }
    }

    /// Hands a parsed reply to the oldest waiting command. RESP3 pushes are out-of-band
    /// (client-side caching invalidations) and answer nothing.
    private func deliver(_ value: RESPValue) throws(RedisError) {
        if case .push = value { return }
        guard let entry = replies.popFirst() else {
            throw RedisError(.protocolError, "\(self): a reply nobody asked for: \(String(describing: value).prefix(80))")
        }
        entry.slot.pointee = .success(value)
        if let waiter = entry.waiter { hub.makeReady(waiter) }
    }

    /// Moves what is queued for sending into `batch`: false when there is nothing (the
    /// writer is then recorded as idle), nil when the connection is gone.
    private func takeOutput(into batch: inout [UInt8], writer: AnyCoroutine) -> Bool? {
        guard failure == nil else { return nil }
        if output.buffer.isEmpty {
            idleWriter = writer
            return false
        }
        swap(&batch, &output.buffer)
        return true
    }

    private static func readLoop<Reader: InPlaceReadable>(reader: Reader, owner: WeakConnection) {
        var needed = 1
        do {
            while true {
                var ended = false
                try reader.withUnsafeReadableBytes(atLeast: needed, timeout: nil) { bytes in
                    // Fewer bytes than asked for: the stream ended (what did arrive is still parsed).
                    if bytes.count < needed { ended = true }
                    guard let connection = owner.value else {
                        ended = true
                        return 0
                    }
                    var parser = RESPParser(bytes)
                    while let value = try parser.parse(bulkAsText: connection.replies.firstWantsText) {
                        try connection.deliver(value)
                    }
                    needed = bytes.count - parser.index + 1
                    return parser.index
                }
                if ended { throw RedisError(.connectionClosed, "the server closed the connection") }
            }
        } catch {
            if let connection = owner.value {
                connection.fail(error is RedisError ? error : RedisError(.connectionClosed, "\(connection): connection lost", underlying: error))
            }
        }
    }

    /// `idleTarget` (the TCP connection) names what the idle writer waits on in reports.
    private static func writeLoop<Writer: ByteStream>(writer: Writer, idleTarget: TCPConnection, owner: WeakConnection) {
        guard let coroutine = AnyCoroutine.current else { return }
        var batch: [UInt8] = []
        do {
            while true {
                guard let hasOutput = owner.value?.takeOutput(into: &batch, writer: coroutine) else { return }
                if !hasOutput {
                    // Holds no reference to the connection while parked.
                    try coroutine.park(.primitive(idleTarget, "redis writer idle"))
                    continue
                }
                try writer.write(batch)
                batch.removeAll(keepingCapacity: true)
            }
        } catch {
            owner.value?.fail(error)
        }
    }
}

/// The reader's and writer's reference to their connection.
final class WeakConnection {
    weak var value: RedisConnection?
    init(_ value: RedisConnection) { self.value = value }
}
