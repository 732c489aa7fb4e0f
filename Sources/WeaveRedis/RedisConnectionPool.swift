import WeaveCore
import WeaveTLS

/// Up to a maximum number of ``RedisConnection``s to one server, lent to one coroutine at
/// a time and replaced when they fail.
///
/// ```swift
/// let pool = RedisConnectionPool(configuration: RedisConfiguration(port: 6379), maximumConnections: 8)
/// defer { pool.close() }
/// let name = try pool.withConnection { redis in try redis.get("user:1:name") }
/// ```
///
/// Connections are opened on demand, up to ``maximumConnections``; past it, callers wait
/// (first come, first served) at most ``waitTimeout``. A connection comes back to the pool
/// only in a known state: one that is closed or failed, still has replies on the way, still
/// watches keys, or whose borrower was interrupted by a timeout or a cancellation, is closed
/// instead, and its place goes to the next caller, who connects anew. So a server that
/// restarts costs the callers using it then a ``RedisError`` each, and the pool reconnects
/// by itself afterwards.
///
/// With ``RedisConfiguration/tls`` set, every connection (the first and each replacement)
/// goes over TLS, sharing one `TLSContext` made on the first connect.
///
/// A pool belongs to the hub its connections are made on; use it from that hub's coroutines.
/// Call ``close()`` when done.
public final class RedisConnectionPool: WaitTarget, CustomStringConvertible {
    /// Where to connect and how.
    public let configuration: RedisConfiguration
    /// The most connections open (or being opened) at once.
    public let maximumConnections: Int
    /// How long a caller waits for a connection when all are in use; nil waits for ever.
    public let waitTimeout: Duration?
    /// Connections open or being opened, lent or idle.
    public private(set) var connectionCount = 0
    /// Whether ``close()`` was called.
    public private(set) var isClosed = false
    private var idle: [RedisConnection] = []
    private var waiters: [Waiter] = []
    /// Made from ``RedisConfiguration/tls`` on the first connect, then shared.
    private var tlsContext: TLSContext?

    /// What a waiting caller is given: a connection, the right to open one, or the news that
    /// the pool closed.
    private enum Grant {
        case connection(RedisConnection)
        case slot
        case closed
    }

    private struct Waiter {
        let coroutine: AnyCoroutine
        /// In the waiting call's frame, valid while it waits.
        let grant: UnsafeMutablePointer<Grant?>
    }

    /// Makes a pool; no connection is opened until one is needed.
    ///
    /// - Parameters:
    ///   - configuration: Where to connect and how; its timeouts apply to every connection.
    ///   - maximumConnections: At least 1.
    ///   - waitTimeout: How long ``withConnection(timeout:_:)`` waits for a free connection.
    public init(configuration: RedisConfiguration, maximumConnections: Int = 10, waitTimeout: Duration? = .seconds(5)) {
        precondition(maximumConnections >= 1, "a pool needs room for at least one connection")
        self.configuration = configuration
        self.maximumConnections = maximumConnections
        self.waitTimeout = waitTimeout
    }

    /// Connections open and not lent.
    public var idleCount: Int { idle.count }

    public var description: String {
        "Redis pool \(configuration.host):\(configuration.port) (\(connectionCount) of \(maximumConnections), \(idle.count) idle)"
    }

    package var waitDescription: String { description }

    /// Lends a connection to `body` and takes it back when `body` returns or throws.
    ///
    /// Blocks the calling coroutine while every connection is lent (at most `timeout`, else
    /// ``waitTimeout``) and while a new connection is made. Don't keep the connection past
    /// `body`.
    ///
    /// - Throws: `body`'s error; `TimeoutError` when no connection came free in time;
    ///   ``RedisError`` with ``RedisError/Code/poolClosed`` after ``close()``; what
    ///   ``RedisConnection/connect(_:)`` throws; `CancellationError`.
    public func withConnection<Value>(timeout: Duration? = nil, _ body: (RedisConnection) throws -> Value) throws -> Value {
        let connection = try acquire(timeout: timeout ?? waitTimeout)
        let value: Value
        do {
            value = try body(connection)
        } catch {
            release(connection, after: error)
            throw error
        }
        release(connection, after: nil)
        return value
    }

    /// Closes the idle connections and every lent one as it comes back; callers waiting get
    /// ``RedisError/Code/poolClosed``. Closing twice does nothing.
    public func close() {
        guard !isClosed else { return }
        isClosed = true
        for connection in idle { connection.close() }
        connectionCount -= idle.count
        idle.removeAll()
        let waiting = waiters
        waiters.removeAll()
        for waiter in waiting { hand(.closed, to: waiter) }
    }

    private func acquire(timeout: Duration?) throws -> RedisConnection {
        if isClosed { throw closedError() }
        while let connection = idle.popLast() {
            if !connection.isClosed { return connection }
            connectionCount -= 1
        }
        if connectionCount < maximumConnections {
            return try open()
        }
        let coroutine = try AnyCoroutine.requireCurrent("RedisConnectionPool.withConnection")
        var grant: Grant?
        try withUnsafeMutablePointer(to: &grant) { grant in
            waiters.append(Waiter(coroutine: coroutine, grant: grant))
            let deadline = timeout.map { ContinuousClock.now + $0 }
            while case .none = grant.pointee {
                do {
                    try coroutine.park(.primitive(self, "connection"), timeout: deadline.map { $0 - .now })
                } catch {
                    switch grant.pointee {
                    case nil: waiters.removeAll { $0.grant == grant }
                    case .connection(let connection): release(connection, after: nil)
                    case .slot: releaseSlot()
                    case .closed: break
                    }
                    throw error
                }
            }
        }
        switch grant.unsafelyUnwrapped {
        case .connection(let connection): return connection
        case .slot:
            connectionCount -= 1  // open() counts it again
            return try open()
        case .closed: throw closedError()
        }
    }

    /// Opens a connection in a place counted for it; on failure the place goes to the next waiter.
    private func open() throws -> RedisConnection {
        connectionCount += 1
        do {
            if let tls = configuration.tls, tlsContext == nil {
                tlsContext = try TLSContext(configuration: tls, logger: Hub.current?.logger)
            }
            return try RedisConnection.connect(configuration, tlsContext: tlsContext)
        } catch {
            releaseSlot()
            throw error
        }
    }

    private func release(_ connection: RedisConnection, after error: (any Error)?) {
        let interrupted = error is TimeoutError || error is CancellationError
        if isClosed || interrupted || connection.isClosed || connection.pendingReplyCount > 0 || connection.isWatching {
            connection.close()
            releaseSlot()
            return
        }
        if !waiters.isEmpty {
            hand(.connection(connection), to: waiters.removeFirst())
        } else {
            idle.append(connection)
        }
    }

    /// A connection was closed: its place goes to the first waiter, who connects.
    private func releaseSlot() {
        connectionCount -= 1
        if !waiters.isEmpty && !isClosed {
            connectionCount += 1
            hand(.slot, to: waiters.removeFirst())
        }
    }

    private func hand(_ grant: Grant, to waiter: Waiter) {
        waiter.grant.pointee = grant
        waiter.coroutine.hub.makeReady(waiter.coroutine)
    }

    private func closedError() -> RedisError {
        RedisError(.poolClosed, "\(description) is closed")
    }
}
