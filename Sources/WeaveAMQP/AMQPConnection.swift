import WeaveCore
import WeaveIO
import WeaveTLS

/// A connection to an AMQP 0-9-1 broker (RabbitMQ) whose calls block the calling coroutine
/// only, shared by the ``AMQPChannel``s opened on it.
///
/// ```swift
/// let connection = try AMQPConnection.connect(url: "amqp://guest:guest@127.0.0.1:5672/")
/// defer { connection.close() }
/// let channel = try connection.openChannel()
/// try channel.queueDeclare("tasks", durable: true)
/// try channel.publish(Array("hello".utf8), routingKey: "tasks", properties: .persistent)
/// ```
///
/// **Coroutines.** A reader coroutine reads every frame and hands it to its channel (a
/// method's reply to the coroutine waiting for it, a delivery to its consumer); a writer
/// coroutine sends whatever frames the channels queued since its last write in one write,
/// so many publishing coroutines cost one system call per round; with heartbeats on, a
/// third sends a heartbeat when nothing else was written for an interval and takes the
/// broker for dead after two intervals of silence (``AMQPError/Code/heartbeatTimeout``).
///
/// **Flow control.** While the broker has blocked the connection (`connection.blocked`,
/// its memory or disk alarm), or while more than ``outputHighWater`` bytes wait to be
/// written, publishers park until it is unblocked or drained. Acknowledgements and other
/// methods are not held back.
///
/// **Failures.** When the broker closes the connection (`connection.close`), every waiting
/// and later call throws ``AMQPError`` with ``AMQPError/Code/connectionClosed`` and the
/// broker's reply code and text; a reset or a broker that vanishes gives
/// ``AMQPError/Code/connectionLost``. The connection then stays closed, unless
/// ``AMQPConfiguration/automaticRecovery`` is on: then it reconnects and restores its
/// channels, topology and consumers (see there), and calls made meanwhile wait.
///
/// A connection belongs to the hub it was made on. Call ``close(timeout:)`` when done: the
/// connection and its open channels refer to each other until then.
public final class AMQPConnection: WaitTarget, CustomStringConvertible {
    /// How the connection was made.
    public let configuration: AMQPConfiguration
    /// The transport; replaced when the connection recovers.
    var stream: any ByteStream
    /// Made once from ``AMQPConfiguration/tls`` and used again for every reconnection.
    var tlsContext: TLSContext?
    /// Counts transports: a reader or writer of an earlier one stops and reports nothing.
    var generation = 0
    /// The hub outlives its coroutines and this connection's use of them.
    unowned(unsafe) let hub: Hub
    /// Frames waiting for the writer; swapped with the writer's buffer on each write so that
    /// both keep their capacity.
    var output = AMQPFrameEncoder(capacity: 64 * 1024)
    /// The `basic.ack` frame at the end of ``output``, if the last frame queued is one: a
    /// later in-order ack on its channel extends it in place (see
    /// ``AMQPChannel/ack(deliveryTag:multiple:)``). `swaps` is ``outputSwaps`` when it was
    /// queued: once the writer took the buffer, the frame is gone.
    var lastAckFrame: (channel: ObjectIdentifier, tag: UInt64, offset: Int, swaps: Int)?
    /// Counts the writer's takes of ``output``.
    var outputSwaps = 0
    private var idleWriter: AnyCoroutine?
    /// Why the connection ended; nil while open.
    private(set) var failure: AMQPError?
    /// The broker's `connection.close`: sent once the writer has flushed the close-ok.
    var closeAfterFlush: AMQPError?
    var channels: [UInt16: AMQPChannel] = [:]
    private var lastChannelID: UInt16 = 0
    /// The coroutines started for this connection (reader, writer, heartbeat), cancelled on failure.
    var heartbeatCoroutine: AnyCoroutine?
    /// Publishers parked while blocked or over the high-water mark.
    private var flowWaiters: [AnyCoroutine] = []
    /// The coroutine waiting in ``close(timeout:)`` for `connection.close-ok`.
    private var closeWaiter: AnyCoroutine?
    private var closeOkReceived = false
    /// Set while reconnecting (``AMQPConfiguration/automaticRecovery``): what was lost.
    var outage: AMQPError?
    /// Calls parked until the connection has recovered.
    var recoveryWaiters: [AnyCoroutine] = []
    var recoveryCoroutine: AnyCoroutine?
    /// What was declared through the connection, declared again on recovery.
    var topology = AMQPTopology()
    var lastRead = ContinuousClock.now
    var lastWrite = ContinuousClock.now

    /// The channel-max agreed with the broker.
    public private(set) var channelMax = 0
    /// The frame-max agreed with the broker, in bytes.
    public private(set) var frameMax = AMQPFrameType.minimumFrameMax
    /// The heartbeat interval agreed with the broker; nil when heartbeats are off.
    public private(set) var heartbeat: Duration?
    /// What the broker said about itself in `connection.start` (`product`, `version`, `capabilities`).
    public private(set) var serverProperties: AMQPFieldTable = [:]
    /// The broker's reason while it blocks publishers (`connection.blocked`); nil otherwise.
    public internal(set) var blockedReason: String?
    /// Bytes queued for writing above which publishers wait for the writer.
    public var outputHighWater = 4 << 20

    func serverPropertiesReceived(_ properties: AMQPFieldTable) { serverProperties = properties }

    func setTuning(channelMax: Int, frameMax: Int, heartbeatSeconds: Int) {
        self.channelMax = channelMax
        self.frameMax = frameMax
        heartbeat = heartbeatSeconds > 0 ? .seconds(heartbeatSeconds) : nil
    }

    /// Whether the connection has ended; every call then throws.
    public var isClosed: Bool { failure != nil }

    /// Whether the connection is reconnecting after losing its broker
    /// (``AMQPConfiguration/automaticRecovery``); calls wait meanwhile.
    public var isRecovering: Bool { outage != nil }

    /// How many times the connection has recovered.
    public internal(set) var recoveryCount = 0

    /// Whether the broker blocks publishers now.
    public var isBlocked: Bool { blockedReason != nil }

    init(configuration: AMQPConfiguration, stream: any ByteStream, hub: Hub) {
        self.configuration = configuration
        self.stream = stream
        self.hub = hub
    }

    /// Connects to the broker the URL names and runs the handshake; see ``connect(_:)``.
    ///
    /// - Throws: ``AMQPError`` with ``AMQPError/Code/invalidURL`` for a bad URL, and what
    ///   ``connect(_:)`` throws.
    public static func connect(url: String) throws -> AMQPConnection {
        try connect(AMQPConfiguration(url: url))
    }

    /// Connects over TCP, or TLS over TCP when ``AMQPConfiguration/tls`` is set (`amqps`),
    /// and runs the handshake: PLAIN authentication, tuning (channel-max, frame-max,
    /// heartbeat) and opening the virtual host.
    ///
    /// Blocks the calling coroutine until the connection is open, at most
    /// ``AMQPConfiguration/connectTimeout`` (the TLS handshake has its own
    /// `handshakeTimeout`).
    ///
    /// - Throws: `UVError` when the TCP connection fails (`connect 127.0.0.1:5672:
    ///   ECONNREFUSED`); `TLSError` when the TLS context cannot be made (an unreadable CA
    ///   file) or the handshake fails (`TLSError.Code.unknownCertificateAuthority`,
    ///   `TLSError.Code.hostnameMismatch`…); ``AMQPError`` with ``AMQPError/Code/accessRefused``
    ///   for wrong credentials or a virtual host the user may not open,
    ///   ``AMQPError/Code/handshakeFailed`` when the broker ends the handshake otherwise;
    ///   `TimeoutError` when the broker does not finish it in time; `CancellationError`.
    ///   Nothing is left open when it throws.
    public static func connect(_ configuration: AMQPConfiguration) throws -> AMQPConnection {
        let deadline = configuration.connectTimeout.map { ContinuousClock.now + $0 }
        let context = try makeTLSContext(configuration)
        let transport = try connectTransport(configuration, tlsContext: context)
        do {
            let connection = try open(stream: transport, configuration: configuration, deadline: deadline)
            connection.tlsContext = context
            return connection
        } catch {
            transport.close()
            throw error
        }
    }

    /// Runs the handshake over a stream already connected to the broker (TLS, a Unix
    /// socket…) and starts the connection's coroutines on it. The connection owns the
    /// stream from here on, and closes it.
    ///
    /// Blocks and throws as ``connect(_:)`` (``AMQPConfiguration/connectTimeout`` counts
    /// from this call); the stream is closed when it throws.
    public static func open<S: ByteStream>(stream: S, configuration: AMQPConfiguration) throws -> AMQPConnection {
        let deadline = configuration.connectTimeout.map { ContinuousClock.now + $0 }
        do {
            return try open(stream: stream, configuration: configuration, deadline: deadline)
        } catch {
            stream.close()
            throw error
        }
    }

    private static func open<S: ByteStream>(stream: S, configuration: AMQPConfiguration, deadline: ContinuousClock.Instant?) throws -> AMQPConnection {
        guard let hub = Hub.current, AnyCoroutine.current != nil else {
            throw WeaveError(.notInCoroutine, "AMQPConnection.connect needs a coroutine")
        }
        let connection = AMQPConnection(configuration: configuration, stream: stream, hub: hub)
        let reader = AMQPFrameReader(frameMax: max(configuration.frameMax, AMQPFrameType.minimumFrameMax))
        try connection.handshake(stream: stream, reader: reader, deadline: deadline)
        reader.frameMax = connection.frameMax
        try connection.startCoroutines(stream: stream, reader: reader)
        return connection
    }

    /// Starts the reader, the writer and, with heartbeats on, the heartbeat coroutine.
    func startCoroutines<S: ByteStream>(stream: S, reader: AMQPFrameReader) throws {
        let name = "\(configuration.host):\(configuration.port)"
        let generation = generation
        try spawn(name: "amqp reader \(name)") { [self] in readLoop(stream: stream, reader: reader, generation: generation) }
        try spawn(name: "amqp writer \(name)") { [self] in writeLoop(stream: stream, generation: generation) }
        if let heartbeat {
            heartbeatCoroutine = try spawn(name: "amqp heartbeat \(name)") { [self] in try heartbeatLoop(interval: heartbeat) }
        }
    }

    public var description: String { "\(configuration.tls == nil ? "AMQP" : "AMQPS") \(configuration.host):\(configuration.port)\(configuration.virtualHost == "/" ? "" : "/\(configuration.virtualHost)")" }

    package var waitDescription: String { "\(self)" }

    // MARK: - Channels

    /// Opens a new channel.
    ///
    /// Blocks the calling coroutine until the broker confirms it
    /// (``AMQPConfiguration/operationTimeout`` at most).
    ///
    /// - Throws: ``AMQPError`` (``AMQPError/Code/channelLimit`` when every channel number is
    ///   in use, the connection's failure when it has ended); `TimeoutError`, `CancellationError`.
    public func openChannel(timeout: Duration? = nil) throws -> AMQPChannel {
        if let failure { throw failure }
        try waitForRecovery(timeout: timeout ?? configuration.operationTimeout)
        let limit = UInt16(clamping: channelMax == 0 ? 65535 : channelMax)
        guard channels.count < Int(limit) else {
            throw AMQPError(.channelLimit, "\(self): all \(limit) channels are open")
        }
        var id = lastChannelID
        repeat { id = id >= limit ? 1 : id + 1 } while channels[id] != nil
        lastChannelID = id
        let channel = AMQPChannel(id: id, connection: self)
        channels[id] = channel
        try channel.open(timeout: timeout)
        return channel
    }

    /// Forgets a channel once it is closed on both sides (its number can be reused).
    func removeChannel(_ channel: AMQPChannel) {
        if channels[channel.id] === channel { channels[channel.id] = nil }
    }

    // MARK: - Closing

    /// Closes the connection: sends `connection.close`, waits (at most `timeout`) for the
    /// broker's `connection.close-ok`, and closes the socket. Every channel closes with it:
    /// waiting calls throw ``AMQPError/Code/closedByClient``, consumers end. Closing twice
    /// does nothing.
    ///
    /// Blocks the calling coroutine for the broker's reply when called from one; elsewhere
    /// (or on cancellation) it closes the socket at once.
    public func close(timeout: Duration = .seconds(5)) {
        guard failure == nil else { return }
        if let coroutine = AnyCoroutine.current, closeAfterFlush == nil, outage == nil {
            output.method(channel: 0, .connectionClose) {
                $0.writeShort(200)
                $0.writeShortString("Goodbye")
                $0.writeShort(0)
                $0.writeShort(0)
            }
            wakeWriter()
            let deadline = ContinuousClock.now + timeout
            closeWaiter = coroutine
            while !closeOkReceived && failure == nil && ContinuousClock.now < deadline {
                do {
                    try coroutine.park(.primitive(self, "close-ok"), timeout: deadline - .now)
                } catch {
                    break
                }
            }
            closeWaiter = nil
        }
        fail(AMQPError(.closedByClient, "\(self) was closed"))
    }

    /// Ends the connection with `error` (once): closes the socket, stops the coroutines, and
    /// fails every channel (so every waiting call).
    func fail(_ error: AMQPError) {
        guard failure == nil else { return }
        failure = error
        stream.close()
        wakeWriter()
        heartbeatCoroutine?.cancel()
        heartbeatCoroutine = nil
        if let closeWaiter { hub.makeReady(closeWaiter) }
        closeWaiter = nil
        if let recoveryCoroutine, recoveryCoroutine !== AnyCoroutine.current { recoveryCoroutine.cancel() }
        recoveryCoroutine = nil
        wakeRecoveryWaiters()
        let open = channels.values
        channels = [:]
        for channel in open { channel.fail(error) }
        wakeFlowWaiters()
    }

    // MARK: - Writing

    /// Tells the writer that frames were queued.
    func wakeWriter() {
        if let writer = idleWriter {
            idleWriter = nil
            hub.makeReady(writer)
        }
    }

    /// Parks a publisher while the broker blocks the connection or the output is above the
    /// high-water mark.
    func waitForFlow(coroutine: AnyCoroutine, deadline: ContinuousClock.Instant?) throws {
        while failure == nil && (blockedReason != nil || output.buffer.count > outputHighWater || outage != nil) {
            flowWaiters.append(coroutine)
            do {
                try coroutine.park(.primitive(self, "publish (flow control)"), timeout: deadline.map { $0 - .now })
            } catch {
                flowWaiters.removeAll { $0 === coroutine }
                throw error
            }
        }
        if let failure { throw failure }
    }

    func wakeFlowWaiters() {
        let waiters = flowWaiters
        flowWaiters = []
        for waiter in waiters { hub.makeReady(waiter) }
    }

    /// Swaps the queued frames into `batch`: false when there are none (the writer is then
    /// idle), nil when the connection is gone.
    private func takeOutput(into batch: inout [UInt8], writer: AnyCoroutine, generation: Int) -> Bool? {
        guard failure == nil, generation == self.generation else { return nil }
        if output.buffer.isEmpty {
            if let reason = closeAfterFlush {
                lost(reason)
                return nil
            }
            idleWriter = writer
            return false
        }
        swap(&batch, &output.buffer)
        outputSwaps &+= 1
        if !flowWaiters.isEmpty && blockedReason == nil { wakeFlowWaiters() }
        return true
    }

    private func writeLoop<S: ByteStream>(stream: S, generation: Int) {
        guard let coroutine = AnyCoroutine.current else { return }
        var batch: [UInt8] = []
        batch.reserveCapacity(64 * 1024)
        do {
            while true {
                guard let hasOutput = takeOutput(into: &batch, writer: coroutine, generation: generation) else { return }
                if !hasOutput {
                    try coroutine.park(.primitive(self, "writer idle"))
                    continue
                }
                try batch.withUnsafeBytes { try stream.write($0, timeout: nil) }
                batch.removeAll(keepingCapacity: true)
                lastWrite = .now
            }
        } catch {
            if generation == self.generation { lost(lostError(error)) }
        }
    }

    private func lostError(_ error: any Error) -> AMQPError {
        if let error = error as? AMQPError { return error }
        if let reason = closeAfterFlush { return reason }
        if error is AMQPFrameError { return AMQPError(.protocolError, "\(self): malformed frame", underlying: error) }
        if error is CancellationError { return AMQPError(.connectionLost, "\(self): its coroutines were cancelled (hub shutting down)") }
        return AMQPError(.connectionLost, "\(self): connection lost", underlying: error)
    }

    // MARK: - Reading

    private func readLoop<S: ByteStream>(stream: S, reader: AMQPFrameReader, generation: Int) {
        do {
            while failure == nil && generation == self.generation {
                guard let frame = try reader.next(from: stream) else {
                    throw closeAfterFlush ?? AMQPError(.connectionLost, "\(self): the broker closed the connection")
                }
                guard generation == self.generation else { return }
                lastRead = .now
                if frame.channel == 0 {
                    try handleConnectionFrame(frame)
                } else if let channel = channels[frame.channel] {
                    try channel.handle(frame)
                }
            }
        } catch {
            if generation == self.generation { lost(lostError(error)) }
        }
    }

    private func handleConnectionFrame(_ frame: AMQPFrame) throws {
        switch frame.type {
        case AMQPFrameType.heartbeat:
            return
        case AMQPFrameType.method:
            break
        default:
            throw AMQPFrameError(.unexpectedFrame, "a frame of type \(frame.type) on channel 0")
        }
        switch try AMQPServerMethod.decode(frame.payload) {
        case .connectionClose(let reason):
            output.method(channel: 0, .connectionCloseOk)
            closeAfterFlush = AMQPError(
                .connectionClosed, "\(self): the broker closed the connection", replyCode: reason.replyCode,
                replyText: reason.replyText, classID: reason.classID, methodID: reason.methodID)
            wakeWriter()
        case .connectionCloseOk:
            closeOkReceived = true
            if let closeWaiter { hub.makeReady(closeWaiter) }
            closeWaiter = nil
        case .connectionBlocked(let reason):
            blockedReason = reason
        case .connectionUnblocked:
            blockedReason = nil
            wakeFlowWaiters()
        default:
            throw AMQPFrameError(.unexpectedFrame, "an unexpected method on channel 0")
        }
    }

    // MARK: - Heartbeats

    /// Sends a heartbeat when nothing was written for half an interval (so the broker sees
    /// traffic well within its interval), and fails the connection after two intervals
    /// without a byte from the broker.
    private func heartbeatLoop(interval: Duration) throws {
        let tick = interval / 2
        while failure == nil {
            try Coroutine.sleep(for: tick)
            guard failure == nil else { return }
            let now = ContinuousClock.now
            if now - lastRead > interval * 2 {
                lost(AMQPError(.heartbeatTimeout, "\(self): nothing from the broker for \(now - lastRead) (heartbeat \(interval))"))
                return
            }
            if now - lastWrite >= tick && output.buffer.isEmpty {
                output.heartbeat()
                wakeWriter()
            }
        }
    }
}
