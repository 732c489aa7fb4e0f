import CMariaDB
import Glibc
import Weave
import WeaveIO

/// One connection to a MySQL or MariaDB server, used from coroutines of the hub that opened it.
///
/// Every call reads as blocking code but parks only the calling coroutine: the connection
/// drives MariaDB Connector/C's non-blocking API and waits on its socket through the hub.
/// One statement runs at a time; using a connection from two coroutines at once is a
/// programmer error (a precondition failure): give each coroutine its own, or share a
/// ``MySQLPool``.
///
/// A timeout (a `withTimeout` scope that fires) or a cancellation that interrupts a call
/// leaves the protocol in an unknown state, so the connection is discarded on the spot: its
/// socket is closed and later calls throw ``MySQLError`` with code ``MySQLError/Code/closed``.
/// A lost connection (``MySQLError/Code/connectionLost``) is discarded the same way.
///
/// Not `Sendable`: a connection belongs to its hub's thread.
public final class MySQLConnection {
    enum State { case ready, busy, closed }

    /// Owned by this connection; released by `mysql_close` in ``close()``, `discard` or deinit.
    let handle: UnsafeMutablePointer<MYSQL>
    /// Where this connection goes.
    public let configuration: MySQLConfiguration
    private(set) var state: State = .busy
    /// Prepared statements kept for reuse; freed after the handle is closed.
    var statementCache = StatementCache()
    /// Why the connection was discarded, for the error later calls throw.
    private var closeReason = "the connection was closed"
    /// The columns of the last result read, reused by the next result of the same shape.
    private var lastColumns: MySQLColumns?
    /// The result buffers of the last prepared statement, bound again when they fit.
    var lastResultBindings: ResultBindings?
    /// Where parameters are bound, reused by every prepared statement.
    let parameterBindings = ParameterBindings()
    /// The hub's watch on the socket, made at the first wait and kept until the socket
    /// closes (closed before it, so the hub never watches a reused number).
    private var watch: ReadinessWatch?
    /// The name the server's certificate must carry, when it is not the host given to the
    /// library (set for the connect, cleared once it is in place).
    var tlsServerName: String?
    /// What interrupted a wait inside the library (a timeout, a cancellation), for the connect
    /// to throw instead of the library's own error.
    var libraryWaitInterruption: (any Error)?
    /// The connect's host argument, while its contents may still be replaced by ``tlsServerName``.
    var tlsHostArgument: UnsafeMutablePointer<CChar>?
    /// The socket given a receive timeout for the TLS handshake (-1: none).
    var handshakeGuardedSocket: Int32 = -1

    private init(handle: UnsafeMutablePointer<MYSQL>, configuration: MySQLConfiguration) {
        self.handle = handle
        self.configuration = configuration
    }

    deinit {
        if state != .closed { discardHandle() }
    }

    /// Connects and logs in to `user@host:port`.
    ///
    /// Blocks the calling coroutine (never the hub) until the server accepted the login.
    ///
    /// - Parameters:
    ///   - host: The server's host name or address.
    ///   - port: Its TCP port.
    ///   - user: The user to log in as.
    ///   - password: The user's password (nil: none).
    ///   - database: The default database (nil: none).
    ///   - timeout: How long connecting and the login may take (nil: no limit).
    /// - Throws: ``MySQLError`` (``MySQLError/Code/server`` with number 1045 for a refused
    ///   login, ``MySQLError/Code/connectionLost`` for an unreachable server), `TimeoutError`
    ///   after `timeout`, `CancellationError`. Nothing is left open when it throws.
    public static func connect(
        host: String = "127.0.0.1", port: Int = 3306, user: String, password: String? = nil,
        database: String? = nil, timeout: Duration? = .seconds(10)
    ) throws -> MySQLConnection {
        try connect(MySQLConfiguration(
            host: host, port: port, user: user, password: password, database: database, connectTimeout: timeout))
    }

    /// Connects as `configuration` says; see ``connect(host:port:user:password:database:timeout:)``.
    /// With ``MySQLConfiguration/tls`` set, the session is encrypted (the TLS handshake parks the
    /// coroutine like the rest), and a failed verification throws ``MySQLError/Code/tls``.
    public static func connect(_ configuration: MySQLConfiguration) throws -> MySQLConnection {
        // A verified TLS connect to a host name whose name could not be put in the library's
        // place in time (see `placeServerName`) is made again; it takes a rare race to miss.
        for _ in 1..<3 {
            do {
                return try connectOnce(configuration)
            } catch is ServerNameNotPlaced {
                continue
            }
        }
        do {
            return try connectOnce(configuration)
        } catch is ServerNameNotPlaced {
            throw MySQLError(.tls, number: 2026, message: "the server's certificate could not be checked for its name",
                             operation: "connect \(configuration.serverDescription)")
        }
    }

    private static func connectOnce(_ configuration: MySQLConfiguration) throws -> MySQLConnection {
        precondition(mariaDBLibraryReady, "mysql_library_init failed")
        let operation = "connect \(configuration.serverDescription)"
        guard let handle = mysql_init(nil) else {
            throw MySQLError(.client, message: "mysql_init failed (out of memory)", operation: operation)
        }
        // Owns the handle from here: a failure below closes it.
        let connection = MySQLConnection(handle: handle, configuration: configuration)
        mysql_options(handle, MYSQL_OPT_NONBLOCK, nil)
        mysql_options(handle, MYSQL_SET_CHARSET_NAME, "utf8mb4")
        if let timeZone = configuration.timeZone {
            // Sent by the library right after the login, inside the non-blocking connect.
            let zone = timeZone.replacing("'", with: "''")
            mysql_options(handle, MYSQL_INIT_COMMAND, "SET time_zone = '\(zone)'")
        }
        let flags = configuration.allowsMultipleStatements ? UInt(CLIENT_MULTI_STATEMENTS) : 0
        // The library keeps pointers to its arguments while the connect is suspended, so
        // they live in C copies until it is done.
        let user = CString(configuration.user)
        let password = CString(configuration.password)
        let database = CString(configuration.database)
        let socket = CString(configuration.unixSocket)
        let port = UInt32(configuration.port)
        let tls = configuration.tls
        if let tls { connection.configureTLS(tls) }
        let serverName = tls?.serverName ?? (configuration.unixSocket != nil ? "localhost" : configuration.host)
        let body = { () throws -> Void in
            let resolved = try resolvedHost(configuration, operation)
            let verifiesName = tls?.verifiesServer == true && serverName != resolved
            // Room for the name too: it replaces the address once the library has used it.
            let host = CString(resolved, capacity: verifiesName ? serverName.utf8.count : 0)
            if verifiesName {
                connection.tlsServerName = serverName
                connection.tlsHostArgument = host.pointer
            }
            defer { connection.tlsHostArgument = nil }
            var result: UnsafeMutablePointer<MYSQL>?
            if tls == nil {
                try connection.drive {
                    mysql_real_connect_start(&result, handle, host.pointer, user.pointer, password.pointer,
                                             database.pointer, port, socket.pointer, flags)
                } resume: {
                    mysql_real_connect_cont(&result, handle, $0)
                }
            } else {
                try connection.drive {
                    connection.withLibraryWaits {
                        mysql_real_connect_start(&result, handle, host.pointer, user.pointer, password.pointer,
                                                 database.pointer, port, socket.pointer, flags)
                    }
                } resume: { happened in
                    connection.withLibraryWaits { mysql_real_connect_cont(&result, handle, happened) }
                }
            }
            if let interruption = connection.libraryWaitInterruption { throw interruption }
            if result == nil { throw connection.connectFailure(operation, tls: tls, serverName: serverName) }
            if connection.tlsServerName != nil { throw ServerNameNotPlaced() }
            if tls != nil { connection.keepSocketNonBlocking(connected: true) }
            if tls != nil && !connection.isEncrypted {
                // Unverified TLS falls back to plain text in the library (CR_SSL_CONNECTION_ERROR).
                throw MySQLError(.tls, number: 2026, message: "the server does not offer TLS", operation: operation)
            }
        }
        do {
            if let timeout = configuration.connectTimeout {
                try withTimeout(timeout, operation: operation, body)
            } else {
                try body()
            }
        } catch {
            connection.discard(because: "connecting failed")
            throw error
        }
        connection.state = .ready
        return connection
    }

    /// The address to give the library: it would resolve a host name with a blocking
    /// `getaddrinfo`, so Weave resolves it first (on libuv's thread pool). `localhost` means
    /// the default Unix socket to Connector/C, as to every MySQL client, and stays as it is.
    private static func resolvedHost(_ configuration: MySQLConfiguration, _ operation: String) throws -> String {
        if configuration.unixSocket != nil { return "localhost" }
        let host = configuration.host
        if host == "localhost" || (try? SocketAddress(ip: host, port: configuration.port)) != nil { return host }
        do {
            guard let address = try resolve(host: host, port: configuration.port).first else {
                throw MySQLError(number: 2005, sqlState: "HY000", message: "no address for '\(host)'", operation: operation)
            }
            return address.ip
        } catch let error as UVError {
            // CR_UNKNOWN_HOST, as the library would have said.
            throw MySQLError(number: 2005, sqlState: "HY000", message: "cannot resolve '\(host)': \(error)", operation: operation)
        }
    }

    /// Whether the connection can run statements (not closed, not discarded).
    public var isOpen: Bool { state != .closed }

    /// Says goodbye to the server (`COM_QUIT`) and closes the socket; later calls throw
    /// ``MySQLError/Code/closed``. Closing twice does nothing.
    ///
    /// Blocks the calling coroutine only while the goodbye is written; if that wait is
    /// interrupted (cancellation), the socket is closed without it. Never throws. Closing a
    /// connection another coroutine is using is a programmer error (a precondition failure).
    public func close() {
        precondition(state != .busy, "MySQLConnection closed while a coroutine is using it")
        guard state == .ready else { return }
        state = .busy
        do {
            try drive { mysql_close_start(handle) } resume: { mysql_close_cont(handle, $0) }
            // mysql_close_* freed the handle (and detached the statements).
            closeWatch()
            freeStatements()
            state = .closed
            closeReason = "the connection was closed"
        } catch {
            // `drive` already discarded the handle.
        }
    }

    /// Closes the connection at once, without a goodbye: for a protocol state nobody knows
    /// (an interrupted call) or a socket that is gone. Never blocks: with the socket shut
    /// down first, whatever `mysql_close` still writes fails at once.
    func discard(because reason: String) {
        guard state != .closed else { return }
        closeReason = "the connection was discarded: \(reason)"
        discardHandle()
        state = .closed
    }

    private func discardHandle() {
        let fd = Int32(mysql_get_socket(handle))
        if fd >= 0 { shutdown(fd, Int32(SHUT_RDWR)) }
        closeWatch()
        mysql_close(handle)
        freeStatements()
    }

    /// Frees the cached statements once `mysql_close` detached them from the connection
    /// (a detached statement's close does no I/O; the server dropped them with the session).
    private func freeStatements() {
        for statement in statementCache.removeAll() { mysql_stmt_close(statement) }
    }

    /// Runs one statement's worth of library calls: marks the connection busy, and ready
    /// again after, unless it was discarded on the way.
    func perform<R>(_ operation: @autoclosure () -> String, _ body: () throws -> R) throws -> R {
        switch state {
        case .ready: break
        case .closed: throw MySQLError(.closed, message: closeReason, operation: operation())
        case .busy: preconditionFailure("MySQLConnection used by two coroutines at once (\(operation()))")
        }
        state = .busy
        defer {
            if state == .busy {
                state = .ready
                // The library closes the socket itself when it loses the server: stop
                // watching that number at once.
                if let watch, watch.fd != Int32(mysql_get_socket(handle)) { closeWatch() }
            }
        }
        do {
            return try body()
        } catch let error as MySQLError where error.code == .connectionLost {
            discard(because: "the connection was lost")
            throw error
        }
    }

    /// Drives one non-blocking call: `start` begins it, `resume` continues it with the
    /// events that happened, each returning what it waits for next (0: done). An
    /// interrupted wait discards the connection (the call cannot be finished or undone).
    func drive(start: () -> Int32, resume: (Int32) -> Int32) throws {
        var status = start()
        while status != 0 {
            let happened: Int32
            do {
                happened = try waitFor(status)
            } catch {
                discard(because: error is TimeoutError ? "a call timed out" : "a call was interrupted (\(error))")
                throw error
            }
            status = resume(happened)
        }
    }

    /// Parks the coroutine until the socket is ready as `status` asks, or the library's own
    /// timeout passes; returns what happened, as `_cont` expects it.
    private func waitFor(_ status: Int32) throws -> Int32 {
        let timeout: Duration? = status & MYSQL_WAIT_TIMEOUT != 0
            ? .milliseconds(Int(mysql_get_timeout_value_ms(handle))) : nil
        do {
            let watch = try socketWatch()
            if status & MYSQL_WAIT_WRITE != 0 {
                try watch.waitWritable(timeout: timeout)
                return MYSQL_WAIT_WRITE
            }
            if status & (MYSQL_WAIT_READ | MYSQL_WAIT_EXCEPT) != 0 {
                try watch.waitReadable(timeout: timeout)
                return MYSQL_WAIT_READ
            }
            try Coroutine.sleep(for: timeout ?? .zero)
            return MYSQL_WAIT_TIMEOUT
        } catch let error as TimeoutError where timeout != nil && error.scope == nil {
            // The library's own deadline (a per-call timeout, not an enclosing scope's).
            return MYSQL_WAIT_TIMEOUT
        } catch is UVError {
            // libuv reports a socket error (POLLERR: a refused connect, a reset) as a failed
            // poll; the socket is as ready as it will get, and the library's own call on it
            // reads the error and reports it as a MySQLError. The failed watch is done.
            closeWatch()
            return status & (MYSQL_WAIT_READ | MYSQL_WAIT_WRITE | MYSQL_WAIT_EXCEPT)
        }
    }

    /// The watch on the library's socket now (made at the first wait, and again if the
    /// library replaced the socket).
    func socketWatch() throws -> ReadinessWatch {
        let fd = Int32(mysql_get_socket(handle))
        if let watch, watch.fd == fd { return watch }
        closeWatch()
        let watch = try ReadinessWatch(fd: fd)
        self.watch = watch
        return watch
    }

    func closeWatch() {
        watch?.close()
        watch = nil
    }

    /// The columns `fields` describe: the last result's when they match.
    func columns(_ fields: UnsafeMutablePointer<MYSQL_FIELD>, count: Int) -> MySQLColumns {
        if let lastColumns, lastColumns.describe(fields, count: count) { return lastColumns }
        let columns = MySQLColumns(fields, count: count)
        lastColumns = columns
        return columns
    }

    /// The connection's last error, as a ``MySQLError``.
    func failure(_ operation: String) -> MySQLError {
        MySQLError(
            number: mysql_errno(handle), sqlState: String(cString: mysql_sqlstate(handle)),
            message: String(cString: mysql_error(handle)), operation: operation)
    }

    /// The server's id for this connection (`CONNECTION_ID()`), as `KILL` takes it.
    public var serverThreadID: UInt {
        state == .closed ? 0 : UInt(mysql_thread_id(handle))
    }

    /// The socket, for a pool's liveness check; -1 once closed.
    var socket: Int32 { state == .closed ? -1 : Int32(mysql_get_socket(handle)) }
}

/// Initialises Connector/C once per process, before the first connection.
let mariaDBLibraryReady: Bool = mysql_server_init(0, nil, nil) == 0

/// A C copy of an optional string that outlives the library calls that hold on to it.
final class CString {
    let pointer: UnsafeMutablePointer<CChar>?
    init(_ string: String?) { pointer = string.map { strdup($0) } }
    /// A copy of `string` in a buffer with room for `capacity` bytes and a NUL at least.
    init(_ string: String, capacity: Int) {
        let size = max(string.utf8.count, capacity) + 1
        let buffer = UnsafeMutablePointer<CChar>.allocate(capacity: size)
        buffer.initialize(repeating: 0, count: size)
        _ = string.withCString { strcpy(buffer, $0) }
        pointer = buffer
    }
    deinit { free(pointer) }
}
