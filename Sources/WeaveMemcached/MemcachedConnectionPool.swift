import Weave
import WeaveTLS

/// The connections to one server: at most ``maximumConnections`` open, idle ones reused
/// last-in first-out, callers beyond the maximum waiting (in order) up to a timeout.
///
/// Connections are opened on demand. One that failed, timed out or was interrupted is
/// closed, never returned; a connection failure also closes every idle connection (after
/// a server restart they are all dead), so the next caller connects anew.
final class MemcachedConnectionPool {
    let server: MemcachedServer
    private let configuration: MemcachedClient.Configuration
    /// The client's, shared by every pool: nil for plain TCP.
    private let tlsContext: TLSContext?
    private var idle: [MemcachedConnection] = []
    /// One permit per connection that may be in use.
    private let permits: Semaphore
    /// Connections open now (idle or in use).
    private(set) var openCount = 0
    private(set) var isClosed = false

    init(server: MemcachedServer, configuration: MemcachedClient.Configuration, tlsContext: TLSContext?) {
        self.server = server
        self.configuration = configuration
        self.tlsContext = tlsContext
        self.permits = Semaphore(value: configuration.maximumConnectionsPerServer, label: "memcached \(server)")
    }

    var idleCount: Int { idle.count }

    /// Runs `body` with a connection of this pool, then returns it (or closes it when the
    /// exchange did not end cleanly).
    ///
    /// Blocks while all connections are in use, up to the pool's wait timeout.
    /// - Throws: `TimeoutError` for the wait, ``MemcachedError`` (``MemcachedError/Code/closed``,
    ///   connection failures), `CancellationError`, and whatever `body` throws.
    func withConnection<R>(_ body: (MemcachedConnection) throws -> R) throws -> R {
        if isClosed { throw MemcachedError(.closed, "the client is closed", server: server) }
        do {
            try permits.acquire(timeout: configuration.poolWaitTimeout)
        } catch let error as TimeoutError {
            throw TimeoutError(operation: "waiting for a connection to memcached \(server) (\(configuration.maximumConnectionsPerServer) in use)",
                               timeout: error.timeout)
        }
        defer { try? permits.release() }
        if isClosed { throw MemcachedError(.closed, "the client is closed", server: server) }
        let connection: MemcachedConnection
        if let reused = idle.popLast() {
            connection = reused
        } else {
            connection = try MemcachedConnection.connect(
                to: server, tlsContext: tlsContext, connectTimeout: configuration.connectTimeout, requestTimeout: configuration.requestTimeout,
                maximumValueSize: configuration.maximumValueSize)
            openCount += 1
        }
        do {
            let result = try body(connection)
            checkIn(connection)
            return result
        } catch let error as MemcachedError where error.code == .connectionFailed {
            discard(connection)
            closeIdle()
            throw error
        } catch {
            checkIn(connection)
            throw error
        }
    }

    private func checkIn(_ connection: MemcachedConnection) {
        if connection.isReusable && !connection.isClosed && !isClosed {
            idle.append(connection)
        } else {
            discard(connection)
        }
    }

    private func discard(_ connection: MemcachedConnection) {
        connection.close()
        openCount -= 1
    }

    private func closeIdle() {
        while let connection = idle.popLast() { discard(connection) }
    }

    /// Closes the idle connections now and those in use as they come back.
    func close() {
        isClosed = true
        closeIdle()
    }
}
