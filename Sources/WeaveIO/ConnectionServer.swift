import Logging
import WeaveCore

/// Where a ``ConnectionServer`` takes connections from: a listening socket, or the hand-off
/// channel through which ``GroupUnixStreamServer``'s acceptor passes connections to a hub.
protocol ConnectionSource: AnyObject, CustomStringConvertible {
    var isClosed: Bool { get }
    /// Stops the source: a parked `accept` ends with ``IOError/Code/closed``.
    func close()
    var addressDescription: String { get }
}

extension StreamListener: ConnectionSource {}

/// The accept loop shared by ``StreamServer``, ``UnixStreamServer`` and the group servers: a
/// coroutine per connection, an optional cap on concurrent handlers, back-off on descriptor
/// exhaustion, and a graceful stop.
final class ConnectionServer<Connection: StreamConnection> {
    typealias Handler = (Connection) throws -> Void

    let listener: any ConnectionSource
    private let accept: () throws -> Connection
    private let handler: Handler
    private let slots: Semaphore?
    /// Running handler coroutines, joined (then cancelled) at stop.
    private let handlers = Group(label: "connection handlers")
    private var acceptLoop: Coroutine<Void>?
    private let logger: Logger
    /// How long accepting pauses after `EMFILE`/`ENFILE`.
    let exhaustionPause: Duration
    /// Whether descriptor exhaustion was logged at warning level once already.
    private var warnedExhaustion = false

    var connectionCount: Int { handlers.count }

    init(
        listener: any ConnectionSource, maxConnections: Int?, exhaustionPause: Duration = .milliseconds(100),
        accept: @escaping () throws -> Connection, handler: @escaping Handler
    ) throws {
        self.listener = listener
        self.accept = accept
        self.slots = maxConnections.map { Semaphore(value: $0, label: "connections") }
        self.handler = handler
        self.exhaustionPause = exhaustionPause
        self.logger = Hub.current?.logger ?? Logger(label: "weave")
    }

    static func validate(maxConnections: Int?, server: String) throws {
        if let maxConnections, maxConnections < 1 {
            throw WeaveError(.invalidArgument, "\(server) maxConnections \(maxConnections) must be at least 1")
        }
    }

    func start() throws {
        guard acceptLoop == nil else { return }
        acceptLoop = try spawn(name: "accept \(listener.addressDescription)") { [self] in
            try acceptConnections()
        }
    }

    func serveForever() throws {
        try start()
        try acceptLoop?.wait()
    }

    func stop(gracePeriod: Duration) throws {
        listener.close()
        acceptLoop?.cancel()
        try acceptLoop?.wait()
        do {
            try handlers.join(timeout: gracePeriod)
        } catch is TimeoutError {
            handlers.cancelAll()
            try handlers.join()
        }
    }

    private func acceptConnections() throws {
        while !listener.isClosed {
            try slots?.acquire()
            let connection: Connection
            do {
                connection = try accept()
            } catch let error as UVError where error.name == "EMFILE" || error.name == "ENFILE" {
                try? slots?.release()
                // Warn once a server: under exhaustion this happens on every accept.
                let metadata: Logger.Metadata = ["listener": "\(listener)", "error": "\(error)", "pause": "\(exhaustionPause)"]
                if warnedExhaustion {
                    logger.debug("out of file descriptors; pausing accepts", metadata: metadata)
                } else {
                    warnedExhaustion = true
                    logger.warning("out of file descriptors; pausing accepts (repeats are logged at debug level)", metadata: metadata)
                }
                try AnyCoroutine.sleep(for: exhaustionPause)
                continue
            } catch let error as UVError {
                try? slots?.release()
                logger.debug("accept failed", metadata: ["listener": "\(listener)", "error": "\(error)"])
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
            try handlers.spawn(name: "connection \(connection)") {
                defer {
                    connection.close()
                    try? slots?.release()
                }
                try handler(connection)
            }
        }
    }
}
