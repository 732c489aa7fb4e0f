import Glibc
import Weave

/// A bounded set of connections to one server, shared by the coroutines of one hub.
///
/// ``withConnection(_:)`` lends a connection, opening one when none is idle and fewer than
/// ``maximumConnections`` exist, and otherwise waiting up to ``waitTimeout`` for one to
/// come back. A connection comes back to the pool only in a known state: one that a
/// timeout, a cancellation or a lost server discarded is closed instead, and an idle one
/// whose server hung up (a restart) is noticed and replaced before it is lent, so after a
/// restart the pool reconnects by itself.
///
/// Not `Sendable`: a pool belongs to its hub's thread.
public final class MySQLPool {
    /// Where the pool's connections go.
    public let configuration: MySQLConfiguration
    /// The most connections open at once.
    public let maximumConnections: Int
    /// How long ``withConnection(_:)`` waits for a connection when all are lent (nil: no limit).
    public let waitTimeout: Duration?

    private let permits: Weave.Semaphore
    private var idle: [MySQLConnection] = []
    private var isClosed = false

    /// - Parameters:
    ///   - configuration: Where and as whom to connect.
    ///   - maximumConnections: The most connections open at once; must be positive (a precondition).
    ///   - waitTimeout: How long to wait for a free connection (nil: no limit).
    public init(configuration: MySQLConfiguration, maximumConnections: Int = 10, waitTimeout: Duration? = .seconds(30)) {
        precondition(maximumConnections > 0, "MySQLPool needs at least one connection, not \(maximumConnections)")
        self.configuration = configuration
        self.maximumConnections = maximumConnections
        self.waitTimeout = waitTimeout
        self.permits = Weave.Semaphore(value: maximumConnections, label: "MySQLPool \(configuration.serverDescription)")
    }

    /// Connections open now and waiting to be lent.
    public var idleConnections: Int { idle.count }

    /// Lends a connection to `body` and takes it back when `body` ends.
    ///
    /// Blocks the calling coroutine while all connections are lent (up to ``waitTimeout``)
    /// and while a new one connects. Keep the connection inside `body`: it goes back to the
    /// pool (or is closed, if it was discarded) as `body` returns or throws.
    ///
    /// - Throws: `body`'s errors; `TimeoutError` when no connection came free within
    ///   ``waitTimeout``; ``MySQLError`` when connecting fails (``MySQLError/Code/closed``
    ///   after ``close()``); `CancellationError`.
    public func withConnection<R>(_ body: (MySQLConnection) throws -> R) throws -> R {
        try ensureOpen()
        return try permits.withPermit(timeout: waitTimeout) {
            try ensureOpen()
            let connection = try checkOut()
            defer { checkIn(connection) }
            return try body(connection)
        }
    }

    /// Runs ``MySQLConnection/query(_:_:)`` on a pooled connection.
    @discardableResult
    public func query(_ sql: String, _ parameters: MySQLValue...) throws -> [MySQLRow] {
        try withConnection { try $0.query(sql, parameters: parameters) }
    }

    /// Runs ``MySQLConnection/query(_:_:_:)`` on a pooled connection.
    public func query<Row: Decodable>(_ type: Row.Type, _ sql: String, _ parameters: MySQLValue...) throws -> [Row] {
        try withConnection { try $0.query(type, sql, parameters: parameters) }
    }

    /// Runs ``MySQLConnection/queryResults(_:_:)`` on a pooled connection.
    @discardableResult
    public func queryResults(_ sql: String, _ parameters: MySQLValue...) throws -> [MySQLResult] {
        try withConnection { try $0.queryResults(sql, parameters: parameters) }
    }

    /// Runs ``MySQLConnection/execute(_:_:)`` on a pooled connection.
    @discardableResult
    public func execute(_ sql: String, _ parameters: MySQLValue...) throws -> MySQLExecutionResult {
        try withConnection { try $0.execute(sql, parameters: parameters) }
    }

    /// Runs ``MySQLConnection/transaction(_:)`` on a pooled connection.
    public func transaction<R>(_ body: (MySQLConnection) throws -> R) throws -> R {
        try withConnection { try $0.transaction(body) }
    }

    /// Closes the idle connections; lent ones close as they come back, and later
    /// ``withConnection(_:)`` calls throw ``MySQLError/Code/closed``.
    public func close() {
        isClosed = true
        let connections = idle
        idle.removeAll()
        for connection in connections { connection.close() }
    }

    private func ensureOpen() throws {
        if isClosed {
            throw MySQLError(.closed, message: "the pool was closed", operation: "connect \(configuration.serverDescription)")
        }
    }

    /// The most recently returned idle connection that is still alive, else a new one.
    private func checkOut() throws -> MySQLConnection {
        while let connection = idle.popLast() {
            if Self.isAlive(connection) { return connection }
            connection.discard(because: "the server closed it while it was idle")
        }
        return try MySQLConnection.connect(configuration)
    }

    private func checkIn(_ connection: MySQLConnection) {
        switch connection.state {
        case .ready: if isClosed { connection.close() } else { idle.append(connection) }
        // Discarded already (a timeout, a cancellation, a lost server): nothing to keep.
        case .closed: break
        // Still in use by a coroutine the body handed it to (a programmer error): not the
        // pool's any more; it closes when that coroutine lets it go.
        case .busy: break
        }
    }

    /// An idle connection has nothing to read: readable (the server's goodbye or end of
    /// stream) or hung up means the server is gone. One `poll` with no wait.
    private static func isAlive(_ connection: MySQLConnection) -> Bool {
        var entry = pollfd(fd: connection.socket, events: Int16(POLLIN) | 0x2000 /* POLLRDHUP */, revents: 0)
        guard entry.fd >= 0 else { return false }
        return poll(&entry, 1, 0) == 0
    }
}
