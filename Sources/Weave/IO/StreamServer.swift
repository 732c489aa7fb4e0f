import Logging

/// A TCP server that runs `handler` in a coroutine per connection (gevent's `StreamServer`).
///
/// ```swift
/// let server = try StreamServer(port: 9000) { connection in
///     while let line = try connection.readLine() { try connection.write(line + "\n") }
/// }
/// try server.serveForever()
/// ```
///
/// The connection is closed when the handler returns or throws. With `maxConnections`,
/// accepting pauses while that many handlers run. Running out of file descriptors
/// (`EMFILE`, `ENFILE`) is logged and retried after a pause, without a busy loop and
/// without disturbing the connections being served.
public final class StreamServer {
    public typealias Handler = (TCPConnection) throws -> Void

    private let handler: Handler
    private let listener: TCPListener
    private let slots: Semaphore?
    /// Running handler coroutines, and a count to wait on at shutdown.
    private var handlers: [ObjectIdentifier: AnyCoroutine] = [:]
    private let running = WaitGroup(label: "StreamServer handlers")
    private var acceptLoop: Coroutine<Void>?
    private let logger: Logger
    /// Connections being handled now.
    public var connectionCount: Int { running.count }
    /// The bound address (with the actual port when bound to port 0).
    public var localAddress: SocketAddress? { listener.localAddress }

    /// Binds `host:port` now; serving starts with ``start()`` or ``serveForever()``.
    public init(
        host: String = "127.0.0.1", port: Int, backlog: Int = 511, maxConnections: Int? = nil,
        handler: @escaping Handler
    ) throws {
        if let maxConnections, maxConnections < 1 {
            throw WeaveError(.invalidArgument, "StreamServer maxConnections \(maxConnections) must be at least 1")
        }
        self.listener = try TCPListener.bind(host: host, port: port, backlog: backlog)
        self.slots = try maxConnections.map { try Semaphore(value: $0, label: "connections") }
        self.handler = handler
        self.logger = Hub.current?.logger ?? Logger(label: "weave")
    }

    /// Starts accepting in a coroutine of its own and returns.
    public func start() throws {
        guard acceptLoop == nil else { return }
        acceptLoop = try spawn(name: "accept \(listener.localAddress?.description ?? "")") { [self] in
            try acceptConnections()
        }
    }

    /// Starts if needed, then waits until ``stop(gracePeriod:)`` (from another coroutine).
    public func serveForever() throws {
        try start()
        try acceptLoop?.wait()
    }

    /// Stops accepting, lets running handlers finish within `gracePeriod`, then cancels the
    /// rest and waits for them to unwind.
    public func stop(gracePeriod: Duration = .seconds(5)) throws {
        listener.close()
        acceptLoop?.cancel()
        try acceptLoop?.wait()
        do {
            try running.wait(timeout: gracePeriod)
        } catch is TimeoutError {
            for handler in handlers.values { handler.cancel() }
            try running.wait()
        }
    }

    private func acceptConnections() throws {
        while !listener.isClosed {
            try slots?.acquire()
            let connection: TCPConnection
            do {
                connection = try listener.accept()
            } catch let error as UVError where error.name == "EMFILE" || error.name == "ENFILE" {
                try? slots?.release()
                logger.warning("StreamServer \(listener): \(error); pausing accepts for 100 ms")
                try AnyCoroutine.sleep(for: .milliseconds(100))
                continue
            } catch let error as UVError {
                try? slots?.release()
                logger.debug("StreamServer \(listener): \(error)")
                continue
            } catch let error as IOError where error.code == .closed {
                try? slots?.release()
                return
            } catch {
                try? slots?.release()
                throw error
            }
            let handler = self.handler
            let slots = self.slots
            try running.add()
            let coroutine = try spawn(name: "connection \(connection.peerAddress?.description ?? "?")") { [self] in
                defer {
                    connection.close()
                    try? slots?.release()
                    if let current = AnyCoroutine.current { handlers[ObjectIdentifier(current)] = nil }
                    try? running.done()
                }
                try handler(connection)
            }
            if !coroutine.isFinished { handlers[ObjectIdentifier(coroutine)] = coroutine }
        }
    }
}
