import Glibc
import Weave
import WeaveTLS

/// A memcached client for coroutines: the meta text protocol (memcached 1.6 or later) over
/// Weave's TCP or TLS (``Configuration/tls``), a connection pool per server, and keys spread over several servers by
/// consistent hashing (``MemcachedHashRing``).
///
/// ```swift
/// try Hub.run {
///     let cache = try MemcachedClient(servers: [MemcachedServer(parsing: "127.0.0.1:11211")])
///     defer { cache.close() }
///     try cache.set("greeting", "hello", ttl: .seconds(60))
///     print(try cache.getString("greeting") ?? "miss")
/// }
/// ```
///
/// Every command blocks the calling coroutine only, in straight-line code, and any number of
/// coroutines may use one client at once. Each command takes a connection of its key's
/// server for the length of one request and reply (one command in flight per connection:
/// no reply can ever reach the wrong caller, and a caller that gives up takes only its own
/// connection down); concurrent callers use up to
/// ``Configuration/maximumConnectionsPerServer`` connections and then queue.
/// ``getMany(_:)`` pipelines its keys on one connection per server (`mg ... q` then `mn`).
///
/// A command interrupted by a timeout or a cancellation closes its connection (it never
/// goes back to the pool with a reply half read). A server that goes away fails the
/// commands in flight, and the next one, with ``MemcachedError/Code/connectionFailed``;
/// its pool then reconnects on the next command. A reply that breaks the protocol is a
/// ``MemcachedError/Code/protocolError``.
///
/// A client belongs to the hub it was made on (its pools park that hub's coroutines); it is
/// not `Sendable`. Values are bytes, with `String` conveniences.
public final class MemcachedClient {
    /// How the client connects, waits and spreads keys.
    public struct Configuration: Sendable {
        /// Connections open at most to each server (default 16).
        public var maximumConnectionsPerServer: Int
        /// How long a command waits for a connection when all are in use; nil waits forever
        /// (default 5 s).
        public var poolWaitTimeout: Duration?
        /// How long connecting may take, name resolution included (default 5 s).
        public var connectTimeout: Duration?
        /// How long one request and its reply may take; nil for no limit (default 5 s).
        /// When it passes, the command throws `TimeoutError` and its connection is closed.
        public var requestTimeout: Duration?
        /// Points per server on the hash ring (default 160).
        public var virtualNodesPerServer: Int
        /// The largest value accepted in a reply or sent (default 1 MiB, memcached's
        /// default item size limit); a larger length in a reply is a protocol error.
        public var maximumValueSize: Int
        /// TLS for every connection to every server (memcached started with `-Z`), nil for
        /// plain TCP (the default). Each server's certificate is verified against the trust
        /// roots and the configuration's `TLSConfiguration.serverName`, else the
        /// server's host (an IP address must be listed in the certificate).
        public var tls: TLSConfiguration?

        /// The defaults, with any of them changed.
        public init(
            maximumConnectionsPerServer: Int = 16, poolWaitTimeout: Duration? = .seconds(5),
            connectTimeout: Duration? = .seconds(5), requestTimeout: Duration? = .seconds(5),
            virtualNodesPerServer: Int = 160, maximumValueSize: Int = 1024 * 1024, tls: TLSConfiguration? = nil
        ) {
            self.maximumConnectionsPerServer = maximumConnectionsPerServer
            self.poolWaitTimeout = poolWaitTimeout
            self.connectTimeout = connectTimeout
            self.requestTimeout = requestTimeout
            self.virtualNodesPerServer = virtualNodesPerServer
            self.maximumValueSize = maximumValueSize
            self.tls = tls
        }
    }

    /// The servers keys are spread over.
    public var servers: [MemcachedServer] { ring.servers }
    /// The ring that places keys on ``servers``.
    public let ring: MemcachedHashRing
    /// The settings it was made with.
    public let configuration: Configuration
    let pools: [MemcachedConnectionPool]

    /// A client of `servers`; connects lazily, on each server's first command. With
    /// ``Configuration/tls``, the TLS context every connection shares is made here (reading
    /// the certificate files, blocking the thread for a moment).
    ///
    /// - Throws: ``MemcachedError`` with ``MemcachedError/Code/invalidArgument`` for no
    ///   servers, a server listed twice, or a setting below 1; `TLSError` for a
    ///   TLS configuration that cannot be loaded (an unreadable CA file). A failed TLS
    ///   handshake is a command's ``MemcachedError/Code/connectionFailed`` with the
    ///   `TLSError` as ``MemcachedError/underlying``.
    public init(servers: [MemcachedServer], configuration: Configuration = .init()) throws {
        guard configuration.maximumConnectionsPerServer >= 1 else {
            throw MemcachedError(.invalidArgument, "maximumConnectionsPerServer must be at least 1, not \(configuration.maximumConnectionsPerServer)")
        }
        guard configuration.maximumValueSize >= 1 else {
            throw MemcachedError(.invalidArgument, "maximumValueSize must be at least 1, not \(configuration.maximumValueSize)")
        }
        ring = try MemcachedHashRing(servers: servers, virtualNodes: configuration.virtualNodesPerServer)
        self.configuration = configuration
        let tlsContext = try configuration.tls.map { try TLSContext(configuration: $0, logger: Hub.current?.logger) }
        pools = servers.map { MemcachedConnectionPool(server: $0, configuration: configuration, tlsContext: tlsContext) }
    }

    /// A client of one server, or several, written `host:port` (see
    /// ``MemcachedServer/init(parsing:)``).
    ///
    /// - Throws: ``MemcachedError`` with ``MemcachedError/Code/invalidArgument``.
    public convenience init(_ servers: String..., configuration: Configuration = .init()) throws {
        try self.init(servers: servers.map(MemcachedServer.init(parsing:)), configuration: configuration)
    }

    deinit {
        close()
    }

    /// The server that holds `key` (the ring's choice).
    public func server(for key: String) -> MemcachedServer {
        ring.server(for: key)
    }

    /// Connections open now to `server` (idle or in use); 0 for a server not in the list.
    public func openConnectionCount(to server: MemcachedServer) -> Int {
        pools.first { $0.server == server }?.openCount ?? 0
    }

    /// Closes every idle connection now, and each connection in use when its command ends;
    /// later commands throw ``MemcachedError/Code/closed``. Never blocks; closing twice does nothing.
    public func close() {
        for pool in pools { pool.close() }
    }

    /// Runs `body` on a connection of the server that holds `key`.
    func withConnection<R>(for key: UnsafeBufferPointer<UInt8>, _ body: (MemcachedConnection) throws -> R) throws -> R {
        let index = pools.count == 1 ? 0 : ring.serverIndex(forHash: MemcachedHashRing.hash(key))
        return try pools[index].withConnection(body)
    }

    /// The expiry field for `ttl` (see ``MemcachedKey/expiry(_:now:)``).
    static func expiry(_ ttl: Duration?) -> Int64 {
        MemcachedKey.expiry(ttl) { Int64(time(nil)) }
    }
}
