import Synchronization
import WeaveCore

/// A TCP server on every hub of a ``HubGroup``: one ``StreamServer`` per hub, all bound to
/// the same address with `SO_REUSEPORT`, so the kernel spreads connections over the hubs.
///
/// ```swift
/// try HubGroup.run { group in
///     let server = try GroupStreamServer(group: group, port: 9000) { connection in
///         while let line = try connection.readLine() { try connection.write(line + "\n") }
///     }
///     try server.serveForever()
/// }
/// ```
///
/// A connection stays on the hub that accepted it: its handler runs there as a coroutine,
/// so the handler may use that hub's primitives, but must reach anything shared between
/// connections through `Sendable` means (atomics, ``CrossHubChannel``,
/// ``HubGroup/Member/run(name:fileID:line:_:)``). Each hub's server behaves as a lone
/// ``StreamServer`` does (burst accepts, back-off on descriptor exhaustion).
///
/// The server is `Sendable`: any coroutine of any hub of the group may start, serve or stop
/// it; each hub's server is touched only on its own hub.
public final class GroupStreamServer: Sendable {
    public typealias Handler = @Sendable (TCPConnection) throws -> Void

    /// The group whose hubs serve.
    public let group: HubGroup
    /// The bound address (with the actual port when bound to port 0), shared by every hub.
    public let localAddress: SocketAddress?
    /// The limit on connections handled at once over all hubs, if any.
    public let maxConnections: Int?
    /// Hub `i`'s server, read only on hub `i`.
    private let servers: [HubBound<StreamServer>]
    private let open: OpenConnections

    /// Connections being handled now, over every hub.
    public var connectionCount: Int { open.count.load(ordering: .relaxed) }

    /// Binds `host:port` on every hub of `group` now, hub 0 first (so that port 0 becomes a
    /// real port the other hubs then share); serving starts with ``start()`` or
    /// ``serveForever()``.
    ///
    /// Call it from a coroutine on a hub of any group; it parks while each hub binds in
    /// turn. `handler` runs on the hub that accepted the connection, which is closed when the
    /// handler returns or throws.
    ///
    /// `maxConnections` holds for the whole server: one atomic count of open connections,
    /// shared by every hub, is checked as each connection arrives, and a connection over the
    /// limit is closed at once (its client sees the connection end without a byte). A
    /// fixed share per hub would instead refuse a connection the kernel hashed to a full hub
    /// while another hub is idle; a lone ``StreamServer`` pauses accepting instead, which
    /// across hubs would need every hub to agree on when to resume.
    ///
    /// - Throws: ``UVError`` for a failed bind on any hub (the hubs bound so far are closed
    ///   again), ``WeaveError/Code/invalidArgument`` for a `maxConnections` below 1,
    ///   ``WeaveError`` with ``WeaveError/Code/notInCoroutine`` outside a coroutine, and
    ///   `CancellationError` if the caller is cancelled meanwhile.
    public init(
        group: HubGroup, host: String = "127.0.0.1", port: Int, backlog: Int? = nil,
        maxConnections: Int? = nil, handler: @escaping Handler
    ) throws {
        try ConnectionServer<TCPConnection>.validate(maxConnections: maxConnections, server: "GroupStreamServer")
        let open = OpenConnections(limit: maxConnections)
        let admitted: Handler = { connection in
            guard open.admit() else { return }
            defer { open.release() }
            try handler(connection)
        }
        var servers: [HubBound<StreamServer>] = []
        var address: SocketAddress?
        do {
            for member in group.hubs {
                let boundPort = address?.port ?? port
                let (server, bound) = try member.run(name: "bind") { () throws -> (HubBound<StreamServer>, SocketAddress?) in
                    let server = try StreamServer(host: host, port: boundPort, backlog: backlog, reusePort: true,
                                                  handler: admitted)
                    return (HubBound(server), server.localAddress)
                }
                servers.append(server)
                if address == nil { address = bound }
            }
        } catch {
            // Best effort: release the address on the hubs already bound.
            for (index, server) in servers.enumerated() {
                _ = try? group.hub(index).run { try server.value.stop(gracePeriod: .zero) }
            }
            throw error
        }
        self.group = group
        self.localAddress = address
        self.maxConnections = maxConnections
        self.servers = servers
        self.open = open
    }

    /// Starts accepting on every hub and returns once each hub accepts.
    ///
    /// Parks the calling coroutine while each hub starts. Throws `CancellationError` if the
    /// caller is cancelled meanwhile, ``WeaveError/Code/hubClosed`` once a hub has stopped.
    public func start() throws {
        for (index, server) in servers.enumerated() {
            try group.hub(index).run { try server.value.start() }
        }
    }

    /// Starts if needed, then parks the calling coroutine until every hub's server has
    /// stopped (``stop(gracePeriod:)``, from another coroutine).
    ///
    /// Cancelling the caller cancels every hub's accept loop (the servers then accept no
    /// more) and throws `CancellationError`; a hub's error cancels the others' and is
    /// rethrown.
    public func serveForever() throws {
        try group.runOnEveryHub(servers, name: "serve") { try $0.serveForever() }
    }

    /// Stops every hub's server, all at once: each stops accepting, lets its running
    /// handlers finish within `gracePeriod`, then cancels the rest and waits for them to
    /// unwind. Returns when every hub's server has stopped.
    ///
    /// Parks the calling coroutine (about `gracePeriod` at most, plus the time the cancelled
    /// handlers take to unwind). Cancelling the caller cancels the stops in flight and
    /// throws `CancellationError`; handlers still running then end when their hub stops.
    public func stop(gracePeriod: Duration = .seconds(5)) throws {
        try group.runOnEveryHub(servers, name: "stop") { try $0.stop(gracePeriod: gracePeriod) }
    }
}
