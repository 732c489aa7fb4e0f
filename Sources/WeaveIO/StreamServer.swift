import WeaveCore

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
/// accepting pauses while that many handlers run (the listener keeps taking connections off
/// the kernel's queue, up to 1,024, which wait for a free slot). Running out of file descriptors does not
/// disturb the connections being served and never spins: libuv first closes the
/// connections waiting to be accepted (with a descriptor it keeps in reserve for this, so
/// those clients see their connection end), and when it reports `EMFILE`/`ENFILE` instead,
/// the server logs a warning and pauses accepting for 100 ms. Accepting resumes by itself
/// once descriptors are free. ``UnixStreamServer`` is the same over a Unix domain socket.
public final class StreamServer {
    public typealias Handler = (TCPConnection) throws -> Void

    private let core: ConnectionServer<TCPConnection>
    /// Connections being handled now.
    public var connectionCount: Int { core.connectionCount }
    /// The bound address (with the actual port when bound to port 0).
    public let localAddress: SocketAddress?

    /// Binds `host:port` now; serving starts with ``start()`` or ``serveForever()``. A nil
    /// `backlog` takes the kernel's maximum (see ``TCPListener/bind(host:port:backlog:reusePort:)``).
    /// With `reusePort`, servers on several hubs can bind the same address, and the kernel
    /// spreads connections over them (`SO_REUSEPORT`).
    ///
    /// Throws ``UVError`` for a failed bind, ``WeaveError/Code/invalidArgument`` for a
    /// `maxConnections` below 1.
    public init(
        host: String = "127.0.0.1", port: Int, backlog: Int? = nil, reusePort: Bool = false,
        maxConnections: Int? = nil, handler: @escaping Handler
    ) throws {
        try ConnectionServer<TCPConnection>.validate(maxConnections: maxConnections, server: "StreamServer")
        let listener = try TCPListener.bind(host: host, port: port, backlog: backlog, reusePort: reusePort)
        localAddress = listener.localAddress
        core = try ConnectionServer(listener: listener, maxConnections: maxConnections,
                                    accept: { try listener.accept() }, handler: handler)
    }

    /// Starts accepting in a coroutine of its own and returns.
    public func start() throws { try core.start() }

    /// Starts if needed, then waits until ``stop(gracePeriod:)`` (from another coroutine).
    public func serveForever() throws { try core.serveForever() }

    /// Stops accepting, lets running handlers finish within `gracePeriod`, then cancels the
    /// rest and waits for them to unwind.
    public func stop(gracePeriod: Duration = .seconds(5)) throws { try core.stop(gracePeriod: gracePeriod) }
}
