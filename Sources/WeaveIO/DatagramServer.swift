import Logging
import WeaveCore

/// A UDP server that runs `handler` in a coroutine per datagram (gevent's `DatagramServer`).
///
/// ```swift
/// let server = try DatagramServer(port: 9000) { datagram, socket in
///     try socket.send(datagram.bytes, to: datagram.sender)
/// }
/// try server.serveForever()
/// ```
///
/// The handler gets the datagram and the server's socket, to reply from. An error it throws
/// is logged (at debug level) and affects only that datagram. With `maxConcurrent`,
/// receiving pauses while that many handlers run (datagrams then wait in the kernel).
public final class DatagramServer {
    public typealias Handler = (Datagram, UDPSocket) throws -> Void

    /// The bound socket.
    public let socket: UDPSocket
    private let handler: Handler
    private let slots: Semaphore?
    /// Running handler coroutines, joined (then cancelled) at stop.
    private let handlers = Group(label: "datagram handlers")
    private var receiveLoop: Coroutine<Void>?
    private let logger: Logger
    /// The bound address (with the actual port when bound to port 0).
    public var localAddress: SocketAddress? { socket.localAddress }
    /// Handlers running now.
    public var handlerCount: Int { handlers.count }

    /// Binds `host:port` now; serving starts with ``start()`` or ``serveForever()``.
    ///
    /// Throws ``UVError`` for a failed bind, ``WeaveError/Code/invalidArgument`` for a
    /// `maxConcurrent` below 1.
    public init(host: String = "127.0.0.1", port: Int, maxConcurrent: Int? = nil, handler: @escaping Handler) throws {
        if let maxConcurrent, maxConcurrent < 1 {
            throw WeaveError(.invalidArgument, "DatagramServer maxConcurrent \(maxConcurrent) must be at least 1")
        }
        socket = try UDPSocket.bind(host: host, port: port)
        slots = maxConcurrent.map { Semaphore(value: $0, label: "datagram handlers") }
        self.handler = handler
        logger = Hub.current?.logger ?? Logger(label: "weave")
    }

    /// Starts receiving in a coroutine of its own and returns.
    public func start() throws {
        guard receiveLoop == nil else { return }
        receiveLoop = try spawn(name: "receive \(socket)") { [self] in try receiveDatagrams() }
    }

    /// Starts if needed, then waits until ``stop(gracePeriod:)`` (from another coroutine).
    public func serveForever() throws {
        try start()
        try receiveLoop?.wait()
    }

    /// Closes the socket, lets running handlers finish within `gracePeriod`, then cancels
    /// the rest and waits for them to unwind. Replies sent after this fail with
    /// ``IOError/Code/closed``.
    public func stop(gracePeriod: Duration = .seconds(5)) throws {
        receiveLoop?.cancel()
        try receiveLoop?.wait()
        do {
            try handlers.join(timeout: gracePeriod)
        } catch is TimeoutError {
            handlers.cancelAll()
            try handlers.join()
        }
        socket.close()
    }

    private func receiveDatagrams() throws {
        while !socket.isClosed {
            try slots?.acquire()
            let datagram: Datagram
            do {
                datagram = try socket.receive()
            } catch let error as UVError {
                try? slots?.release()
                logger.debug("DatagramServer receive failed", metadata: ["socket": "\(socket)", "error": "\(error)"])
                continue
            } catch {
                try? slots?.release()
                throw error
            }
            let handler = self.handler
            let slots = self.slots
            let socket = self.socket
            let logger = self.logger
            try handlers.spawn(name: "datagram from \(datagram.sender)") {
                defer { try? slots?.release() }
                do {
                    try handler(datagram, socket)
                } catch {
                    logger.debug("DatagramServer handler failed", metadata: [
                        "socket": "\(socket)", "sender": "\(datagram.sender)", "error": "\(error)",
                    ])
                }
            }
        }
    }
}
