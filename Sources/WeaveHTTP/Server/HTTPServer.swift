import HTTPTypes
import Logging
import Synchronization
import WeaveCore
import WeaveIO

/// An HTTP/1.1 server whose handler is a plain blocking function per request, run in the
/// connection's coroutine (gevent's pywsgi, Go's net/http).
///
/// ```swift
/// let http = HTTPServer { request, response in
///     try response.respond(HTTPResponse(status: .ok), body: "Hello, World!")
/// }
/// try Hub.run {
///     let server = try http.makeStreamServer(port: 8080)
///     try server.serveForever()
/// }
/// ```
///
/// The handler reads the body with ``HTTPServerRequest/read(into:)`` and writes the response
/// with ``HTTPResponseWriter``, both blocking only its own coroutine. Keep-alive, pipelining
/// (responses in request order), `Content-Length` and chunked bodies both ways, HEAD,
/// `Expect: 100-continue` (answered when the handler first reads the body),
/// `Connection: close` and HTTP/1.0 are handled by the server. Defences, all set in
/// ``Configuration``: 400 for a malformed request (see ``HTTPParseError``), 431 past the
/// head limits, 413 past the body limit, 408 for a head that arrives too slowly, an idle
/// timeout between requests, a cap on connections. A handler that throws gets 500 if nothing
/// was sent yet; otherwise the connection closes.
///
/// The per-connection code takes any ``ByteStream`` (``serve(connection:)``), so the same
/// server runs behind TLS. The server is `Sendable`: one instance may serve on every hub of a
/// group (``makeGroupServer(group:host:port:backlog:)``); each connection stays on its hub.
public final class HTTPServer: Sendable {
    /// Handles one request: reads `request`'s body if it wants it, writes the response.
    /// Runs in the connection's coroutine; it may block (on I/O, locks, other coroutines).
    public typealias Handler = @Sendable (HTTPServerRequest, HTTPResponseWriter) throws -> Void

    /// The limits and timeouts in force.
    public let configuration: Configuration
    let handler: Handler
    let logger: Logger
    let accessLogger: Logger?
    private let draining = Atomic<Bool>(false)
    private let registry = Mutex(Registry())

    /// The connections being served, so that a shutdown can close the idle ones on their hubs.
    private struct Registry {
        var nextKey = 0
        var connections: [Int: Entry] = [:]
    }

    private struct Entry: Sendable {
        let remote: RemoteQueue
        let connection: HubBound<any HTTPConnectionControl>
    }

    /// A server with `configuration`, logging failures to `logger` and, if given, one line
    /// per request to `accessLogger` (at `info`: method, path and status, with the status,
    /// the body bytes sent and the version as metadata).
    public init(
        configuration: Configuration = Configuration(), logger: Logger = Logger(label: "weave.http"),
        accessLogger: Logger? = nil, handler: @escaping Handler
    ) {
        precondition(configuration.maxHeadBytes > 0 && configuration.maxBodyBytes >= 0 && configuration.outputBufferBytes > 0,
                     "HTTPServer.Configuration limits must be positive")
        self.configuration = configuration
        self.logger = logger
        self.accessLogger = accessLogger
        self.handler = handler
    }

    /// Connections being served now (by ``serve(connection:)``), over every hub.
    public var connectionCount: Int { registry.withLock { $0.connections.count } }

    /// Whether ``beginShutdown()`` was called: connections then close after their current request.
    public var isDraining: Bool { draining.load(ordering: .relaxed) }

    /// Serves HTTP/1.1 on `connection` until the client closes it, it idles past
    /// ``Configuration/idleTimeout``, a response ends it, or the server shuts down; then
    /// closes it. This is the entry point for any transport: a TCP connection from a
    /// ``StreamServer`` handler, or a TLS stream wrapped around one.
    ///
    /// Blocks the calling coroutine (which must run on a hub) for the connection's life.
    /// The stream's own failures (a reset, a write timeout) end it quietly (logged at
    /// `debug`); only `CancellationError` is thrown.
    public func serve<S: ByteStream>(connection stream: S) throws {
        guard let hub = Hub.current else {
            preconditionFailure("HTTPServer.serve(connection:) must be called from a coroutine on a hub")
        }
        let connection = HTTPServerConnection(stream: stream, server: self)
        let key = register(connection, remote: hub.remote)
        defer {
            unregister(key)
            stream.close()
        }
        do {
            try connection.run()
        } catch let error as CancellationError {
            throw error
        } catch {
            logger.debug("connection ended", metadata: ["error": "\(error)"])
        }
    }

    private func register(_ connection: any HTTPConnectionControl, remote: RemoteQueue) -> Int {
        let entry = Entry(remote: remote, connection: HubBound(connection))
        return registry.withLock { registry in
            registry.nextKey += 1
            registry.connections[registry.nextKey] = entry
            return registry.nextKey
        }
    }

    private func unregister(_ key: Int) {
        _ = registry.withLock { $0.connections.removeValue(forKey: key) }
    }

    /// Starts a graceful shutdown: idle connections close now, busy ones after the response
    /// under way (which says `Connection: close`). Returns at once; safe from any thread.
    /// Stop the listener yourself, or use ``shutdown(_:gracePeriod:)-(StreamServer,_)``.
    public func beginShutdown() {
        guard !draining.exchange(true, ordering: .relaxed) else { return }
        let entries = registry.withLock { Array($0.connections.values) }
        for entry in entries {
            let connection = entry.connection
            entry.remote.send { connection.value.closeIfIdle() }
        }
    }

    /// A ``StreamServer`` on the current hub that serves this HTTP server, with
    /// ``Configuration/maxConnections``; start it with `serveForever()` or `start()`.
    ///
    /// Throws ``UVError`` for a failed bind.
    public func makeStreamServer(host: String = "127.0.0.1", port: Int, backlog: Int? = nil, reusePort: Bool = false) throws -> StreamServer {
        try StreamServer(host: host, port: port, backlog: backlog, reusePort: reusePort,
                         maxConnections: configuration.maxConnections) { [self] connection in
            try serve(connection: connection)
        }
    }

    /// A ``GroupStreamServer`` on every hub of `group` (`SO_REUSEPORT`) that serves this
    /// HTTP server, with ``Configuration/maxConnections`` over all hubs. Call from a coroutine.
    ///
    /// Throws what ``GroupStreamServer/init(group:host:port:backlog:maxConnections:handler:)`` throws.
    public func makeGroupServer(group: HubGroup, host: String = "127.0.0.1", port: Int, backlog: Int? = nil) throws -> GroupStreamServer {
        try GroupStreamServer(group: group, host: host, port: port, backlog: backlog,
                              maxConnections: configuration.maxConnections) { [self] connection in
            try serve(connection: connection)
        }
    }

    /// Shuts down gracefully: ``beginShutdown()``, then stops `server` accepting and waits up
    /// to `gracePeriod` for requests in flight before cancelling what is left.
    ///
    /// Parks the calling coroutine; throws what `StreamServer.stop(gracePeriod:)` throws.
    public func shutdown(_ server: StreamServer, gracePeriod: Duration = .seconds(5)) throws {
        beginShutdown()
        try server.stop(gracePeriod: gracePeriod)
    }

    /// Shuts down gracefully on every hub; see ``shutdown(_:gracePeriod:)-(StreamServer,_)``.
    public func shutdown(_ server: GroupStreamServer, gracePeriod: Duration = .seconds(5)) throws {
        beginShutdown()
        try server.stop(gracePeriod: gracePeriod)
    }

    /// The standard reason phrase for `code` (RFC 9110), or "Unknown".
    static func reasonPhrase(_ code: Int) -> StaticString {
        switch code {
        case 100: "Continue"
        case 101: "Switching Protocols"
        case 200: "OK"
        case 201: "Created"
        case 202: "Accepted"
        case 204: "No Content"
        case 206: "Partial Content"
        case 301: "Moved Permanently"
        case 302: "Found"
        case 303: "See Other"
        case 304: "Not Modified"
        case 307: "Temporary Redirect"
        case 308: "Permanent Redirect"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 408: "Request Timeout"
        case 409: "Conflict"
        case 411: "Length Required"
        case 413: "Content Too Large"
        case 414: "URI Too Long"
        case 415: "Unsupported Media Type"
        case 416: "Range Not Satisfiable"
        case 417: "Expectation Failed"
        case 429: "Too Many Requests"
        case 431: "Request Header Fields Too Large"
        case 500: "Internal Server Error"
        case 501: "Not Implemented"
        case 502: "Bad Gateway"
        case 503: "Service Unavailable"
        case 504: "Gateway Timeout"
        case 505: "HTTP Version Not Supported"
        default: "Unknown"
        }
    }
}
