import WeaveCore

/// A Unix domain socket server that runs `handler` in a coroutine per connection: the
/// ``StreamServer`` of a socket path.
///
/// ```swift
/// let server = try UnixStreamServer(path: "/tmp/app.sock", removingStaleSocket: true) { connection in
///     while let line = try connection.readLine() { try connection.write(line + "\n") }
/// }
/// try server.serveForever()
/// ```
///
/// Behaves as ``StreamServer`` (connection closed after the handler, `maxConnections`,
/// back-off on `EMFILE`); stopping it removes the socket file.
public final class UnixStreamServer {
    public typealias Handler = (UnixConnection) throws -> Void

    private let core: ConnectionServer<UnixConnection>
    /// Connections being handled now.
    public var connectionCount: Int { core.connectionCount }
    /// The socket file's path.
    public let path: String

    /// Binds `path` now (see ``UnixListener/bind(path:backlog:removingStaleSocket:)``);
    /// serving starts with ``start()`` or ``serveForever()``.
    public init(
        path: String, backlog: Int? = nil, maxConnections: Int? = nil, removingStaleSocket: Bool = false,
        handler: @escaping Handler
    ) throws {
        try ConnectionServer<UnixConnection>.validate(maxConnections: maxConnections, server: "UnixStreamServer")
        let listener = try UnixListener.bind(path: path, backlog: backlog, removingStaleSocket: removingStaleSocket)
        self.path = path
        core = try ConnectionServer(listener: listener, maxConnections: maxConnections,
                                    accept: { try listener.accept() }, handler: handler)
    }

    /// Starts accepting in a coroutine of its own and returns.
    public func start() throws { try core.start() }

    /// Starts if needed, then waits until ``stop(gracePeriod:)`` (from another coroutine).
    public func serveForever() throws { try core.serveForever() }

    /// Stops accepting (and removes the socket file), lets running handlers finish within
    /// `gracePeriod`, then cancels the rest and waits for them to unwind.
    public func stop(gracePeriod: Duration = .seconds(5)) throws { try core.stop(gracePeriod: gracePeriod) }
}
