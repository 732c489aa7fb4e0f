import HTTPTypes
import WeaveCore
import WeaveIO
import WeaveTLS

/// An HTTP/1.1 client whose calls block only the calling coroutine (Python's `requests`
/// under gevent, Go's `http.Client`), with a keep-alive connection pool per (scheme, host,
/// port), redirects, timeouts and HTTPS through WeaveTLS.
///
/// ```swift
/// let client = HTTPClient()
/// let response = try client.get("https://example.com/")
/// print(response.status, try response.text())
/// ```
///
/// A connection goes back to the pool once its response body was read to the end and the
/// server did not say `Connection: close`; a response abandoned mid-body closes its
/// connection. Names are resolved cooperatively (``resolve(host:port:timeout:)``). HTTPS
/// verifies the server against the system's trust store unless
/// ``Configuration/tls`` says otherwise.
///
/// A client belongs to the hub it is first used on, like its connections: share it between
/// that hub's coroutines, make one per hub otherwise.
public final class HTTPClient {
    /// The limits, timeouts and TLS settings in force.
    public let configuration: Configuration
    private var pools: [HTTPClientPool.Key: HTTPClientPool] = [:]
    private var tlsContext: TLSContext?

    /// A client with `configuration`. Nothing is opened until the first request.
    public init(configuration: Configuration = Configuration()) {
        precondition(configuration.maxConnectionsPerHost > 0, "HTTPClient.Configuration.maxConnectionsPerHost must be positive")
        precondition(configuration.maxRedirects >= 0, "HTTPClient.Configuration.maxRedirects must not be negative")
        self.configuration = configuration
    }

    deinit { close() }

    /// Connections open now (idle or busy), over every host.
    public var openConnectionCount: Int { pools.values.reduce(0) { $0 + $1.openCount } }

    /// Idle connections kept for reuse, over every host.
    public var idleConnectionCount: Int { pools.values.reduce(0) { $0 + $1.idle.count } }

    /// Closes the idle connections. Busy ones close when their responses finish or are
    /// dropped; the client stays usable.
    public func close() {
        for pool in pools.values { pool.closeIdle() }
    }

    // MARK: - Requests

    /// Sends `request` (its `scheme`, `authority` and `path` give the URL) with `body`, and
    /// returns the response once its head has arrived, following redirects as configured.
    ///
    /// Blocks the calling coroutine, which must run on a hub: waiting for a pooled
    /// connection (``Configuration/poolWaitTimeout``), resolving and connecting
    /// (``Configuration/connectTimeout``), sending, and reading the head
    /// (``Configuration/readTimeout`` per read); `timeout` (default
    /// ``Configuration/totalTimeout``) bounds all of it, body reads included. Redirects:
    /// 301 and 302 turn a POST into a GET, 303 turns anything but HEAD into a GET (the
    /// body dropped); 307 and 308 resend the method and body (a streamed body is not
    /// resent: the redirect is returned). `Authorization` and `Cookie` are dropped when a
    /// redirect leaves the origin.
    ///
    /// Throws ``HTTPClientError`` (invalid URL, pool timeout, connect or TLS failure,
    /// timeout, malformed response, connection closed, too many redirects) and
    /// `CancellationError` if the coroutine is cancelled.
    public func execute(_ request: HTTPRequest, body: HTTPClientRequestBody? = nil, timeout: Duration? = nil) throws -> HTTPClientResponse {
        guard let scheme = request.scheme, let authority = request.authority else {
            throw HTTPClientError(.invalidURL, "request without a scheme and authority")
        }
        return try execute(request, url: try HTTPClientURL("\(scheme)://\(authority)\(request.path ?? "/")"), body: body, timeout: timeout)
    }

    /// ``execute(_:body:timeout:)`` with the URL already parsed.
    private func execute(_ request: HTTPRequest, url: HTTPClientURL, body: HTTPClientRequestBody?, timeout: Duration?) throws -> HTTPClientResponse {
        let deadline = (timeout ?? configuration.totalTimeout).map { ContinuousClock.now + $0 }
        var url = url
        var request = request
        var body = body
        var redirects = 0
        while true {
            let response = try send(request, url: url, body: body, redirects: redirects, deadline: deadline)
            let code = response.status.code
            switch code {
            case 301, 302, 303, 307, 308: break
            default: return response
            }
            guard configuration.followRedirects, let location = response.headerFields[.location] else { return response }
            if code == 307 || code == 308, let body, !body.isReplayable { return response }
            guard redirects < configuration.maxRedirects else {
                response.close()
                throw HTTPClientError(.tooManyRedirects, "\(url): more than \(configuration.maxRedirects) redirects")
            }
            let next = try url.resolving(location)
            response.discard(limit: 64 * 1024)
            redirects += 1
            if (code == 303 && request.method != .head) || ((code == 301 || code == 302) && request.method == .post) {
                request.method = .get
                body = nil
                request.headerFields[.contentType] = nil
            }
            if next.isHTTPS != url.isHTTPS || next.host != url.host || next.port != url.port {
                request.headerFields[.authorization] = nil
                request.headerFields[.cookie] = nil
            }
            request.scheme = next.scheme
            request.authority = next.authority
            request.path = next.target
            url = next
        }
    }

    /// Sends a `method` request to `url`; see ``execute(_:body:timeout:)``.
    public func execute(
        _ method: HTTPRequest.Method, _ url: String, headerFields: HTTPFields = [:], body: HTTPClientRequestBody? = nil,
        timeout: Duration? = nil
    ) throws -> HTTPClientResponse {
        let parsed = try HTTPClientURL(url)
        let request = HTTPRequest(method: method, scheme: parsed.scheme, authority: parsed.authority, path: parsed.target,
                                  headerFields: headerFields)
        return try execute(request, url: parsed, body: body, timeout: timeout)
    }

    /// GETs `url`; see ``execute(_:body:timeout:)``.
    public func get(_ url: String, headerFields: HTTPFields = [:], timeout: Duration? = nil) throws -> HTTPClientResponse {
        try execute(.get, url, headerFields: headerFields, timeout: timeout)
    }

    /// HEADs `url`; see ``execute(_:body:timeout:)``.
    public func head(_ url: String, headerFields: HTTPFields = [:], timeout: Duration? = nil) throws -> HTTPClientResponse {
        try execute(.head, url, headerFields: headerFields, timeout: timeout)
    }

    /// POSTs `body` to `url`; see ``execute(_:body:timeout:)``.
    public func post(_ url: String, headerFields: HTTPFields = [:], body: HTTPClientRequestBody,
                     timeout: Duration? = nil) throws -> HTTPClientResponse {
        try execute(.post, url, headerFields: headerFields, body: body, timeout: timeout)
    }

    /// PUTs `body` to `url`; see ``execute(_:body:timeout:)``.
    public func put(_ url: String, headerFields: HTTPFields = [:], body: HTTPClientRequestBody,
                    timeout: Duration? = nil) throws -> HTTPClientResponse {
        try execute(.put, url, headerFields: headerFields, body: body, timeout: timeout)
    }

    /// DELETEs `url`; see ``execute(_:body:timeout:)``.
    public func delete(_ url: String, headerFields: HTTPFields = [:], timeout: Duration? = nil) throws -> HTTPClientResponse {
        try execute(.delete, url, headerFields: headerFields, timeout: timeout)
    }

    // MARK: - One exchange

    /// One request on one pooled connection, up to the response head. A reused connection
    /// that fails before any response byte (the server closed it while idle) is retried
    /// once on a new connection when the body can be sent again.
    private func send(
        _ request: HTTPRequest, url: HTTPClientURL, body: HTTPClientRequestBody?, redirects: Int, deadline: ContinuousClock.Instant?
    ) throws -> HTTPClientResponse {
        let pool = pool(for: url)
        var retried = false
        while true {
            let (connection, reused) = try acquire(pool, url: url, deadline: deadline)
            connection.receivedAny = false
            connection.requestCount += 1
            do {
                try write(request, url: url, body: body, on: connection, deadline: deadline)
                let head = try readHead(on: connection, method: request.method, url: url, deadline: deadline)
                return HTTPClientResponse(head: head, url: url, redirectCount: redirects, connection: connection, pool: pool,
                                          readTimeout: configuration.readTimeout, deadline: deadline)
            } catch {
                pool.release(connection, reusable: false)
                if error is CancellationError { throw error }
                let stale = reused && !connection.receivedAny && !(error is TimeoutError) && !(error is HTTPParseError)
                if stale && !retried && (body?.isReplayable ?? true) {
                    retried = true
                    continue
                }
                throw HTTPClient.mapped(error, url.description)
            }
        }
    }

    private func pool(for url: HTTPClientURL) -> HTTPClientPool {
        let key = HTTPClientPool.Key(isHTTPS: url.isHTTPS, host: url.host, port: url.port)
        if let pool = pools[key] { return pool }
        let pool = HTTPClientPool(key: key, limit: configuration.maxConnectionsPerHost)
        pools[key] = pool
        return pool
    }

    /// A permit and a connection: the most recent idle one still fresh, or a new one.
    private func acquire(_ pool: HTTPClientPool, url: HTTPClientURL, deadline: ContinuousClock.Instant?) throws -> (HTTPClientConnection, Bool) {
        var wait = configuration.poolWaitTimeout
        if let deadline { wait = min(wait ?? .seconds(Int64.max >> 1), deadline - .now) }
        do {
            try pool.permits.acquire(timeout: wait.map { max($0, .zero) })
        } catch is TimeoutError {
            throw HTTPClientError(.poolTimeout, "\(url): no connection to \(pool.key) came free within \(wait ?? .zero)")
        }
        while let connection = pool.idle.popLast() {
            if ContinuousClock.now - connection.idleSince < configuration.idleTimeout && !connection.stream.isClosed {
                return (connection, true)
            }
            connection.stream.close()
            pool.openCount -= 1
        }
        do {
            let stream = try connect(url, deadline: deadline)
            pool.openCount += 1
            return (HTTPClientConnection(stream: stream, key: pool.key), false)
        } catch {
            try? pool.permits.release()
            throw error
        }
    }

    private func connect(_ url: HTTPClientURL, deadline: ContinuousClock.Instant?) throws -> any ByteStream {
        var timeout = configuration.connectTimeout
        if let deadline { timeout = min(timeout, deadline - .now) }
        guard timeout > .zero else { throw HTTPClientError(.timedOut, "\(url): total timeout reached before connecting") }
        let tcp: TCPConnection
        do {
            tcp = try TCPConnection.connect(host: url.host, port: url.port, timeout: timeout)
        } catch let error as CancellationError {
            throw error
        } catch {
            throw HTTPClientError(.connectFailed, "\(url): cannot connect to \(url.host):\(url.port)", underlyingError: error)
        }
        guard url.isHTTPS else { return tcp }
        do {
            return try TLSConnection.connect(over: tcp, context: try sharedTLSContext(), serverName: url.host)
        } catch let error as TLSError {
            throw HTTPClientError(.tlsFailed, "\(url): TLS with \(url.host):\(url.port) failed", underlyingError: error)
        }
    }

    private func sharedTLSContext() throws -> TLSContext {
        if let tlsContext { return tlsContext }
        let context = try TLSContext(configuration: configuration.tls, logger: Hub.current?.logger)
        tlsContext = context
        return context
    }

    /// Writes the head (and a body in memory, in the same write when small).
    private func write(
        _ request: HTTPRequest, url: HTTPClientURL, body: HTTPClientRequestBody?, on connection: HTTPClientConnection,
        deadline: ContinuousClock.Instant?
    ) throws {
        var out = connection.output
        connection.output = []
        out.removeAll(keepingCapacity: true)
        defer { connection.output = out }
        out.append(contentsOf: request.method.rawValue.utf8)
        out.append(HTTPBytes.space)
        out.append(contentsOf: url.target.utf8)
        out.append(contentsOf: " HTTP/1.1\r\n".utf8)
        // HTTP/1.1's Host is the request's authority; one among the fields is not sent twice.
        out.append(contentsOf: "Host: \(url.authority)\r\n".utf8)
        for field in request.headerFields
        where field.name != .contentLength && field.name != .transferEncoding && field.name.canonicalName != "host" {
            out.append(contentsOf: field.name.rawName.utf8)
            out.append(contentsOf: ": ".utf8)
            out.append(contentsOf: field.value.utf8)
            out.append(contentsOf: "\r\n".utf8)
        }
        if let userAgent = configuration.userAgent, request.headerFields[.userAgent] == nil {
            out.append(contentsOf: "User-Agent: \(userAgent)\r\n".utf8)
        }
        var inline: [UInt8]?
        var stream: (length: Int?, write: (HTTPClientBodyWriter) throws -> Void)?
        switch body?.storage {
        case nil:
            if [.post, .put, .patch].contains(request.method) { out.append(contentsOf: "Content-Length: 0\r\n".utf8) }
        case .bytes(let bytes):
            out.append(contentsOf: "Content-Length: \(bytes.count)\r\n".utf8)
            inline = bytes
        case .stream(let length, let write):
            if let length {
                out.append(contentsOf: "Content-Length: \(length)\r\n".utf8)
            } else {
                out.append(contentsOf: "Transfer-Encoding: chunked\r\n".utf8)
            }
            stream = (length, write)
        }
        out.append(contentsOf: "\r\n".utf8)
        let readTimeout = configuration.readTimeout
        let timeout = { () throws -> Duration in try HTTPClient.timeout(readTimeout, deadline: deadline, what: url.description) }
        if let bytes = inline, bytes.count <= 64 * 1024 {
            out += bytes
            inline = nil
        }
        try connection.stream.write(out, timeout: try timeout())
        if let bytes = inline { try connection.stream.write(bytes, timeout: try timeout()) }
        if let stream {
            let writer = HTTPClientBodyWriter(stream: connection.stream, declaredLength: stream.length, timeout: timeout)
            try stream.write(writer)
            try writer.finish()
        }
    }

    /// Reads the final response head (skipping 1xx interim responses).
    private func readHead(
        on connection: HTTPClientConnection, method: HTTPRequest.Method, url: HTTPClientURL, deadline: ContinuousClock.Instant?
    ) throws -> HTTPResponseHead {
        var parser = HTTPResponseParser(maxHeadBytes: configuration.maxHeadBytes)
        while true {
            if !connection.input.isEmpty, let head = try parser.parse(connection.input.readable, requestMethod: method) {
                connection.input.consume(head.length)
                let code = head.response.status.code
                if code >= 100 && code < 200 && code != 101 {
                    parser.reset()
                    continue
                }
                return head
            }
            guard try connection.fill(timeout: try HTTPClient.timeout(configuration.readTimeout, deadline: deadline, what: url.description)) else {
                throw HTTPClientError(.connectionClosed, "\(url): the server closed the connection before the response head")
            }
        }
    }

    // MARK: - Helpers

    /// The time one read or write may take: the read timeout, cut to what is left of the
    /// total; throws ``HTTPClientError/Code/timedOut`` once nothing is left.
    static func timeout(_ readTimeout: Duration, deadline: ContinuousClock.Instant?, what: String) throws -> Duration {
        guard let deadline else { return readTimeout }
        let left = deadline - .now
        guard left > .zero else { throw HTTPClientError(.timedOut, "\(what): total timeout reached") }
        return min(left, readTimeout)
    }

    /// `error` as an ``HTTPClientError`` (cancellation is passed through).
    static func mapped(_ error: any Error, _ url: String) -> any Error {
        switch error {
        case is CancellationError, is HTTPClientError:
            return error
        case let error as TimeoutError:
            return HTTPClientError(.timedOut, "\(url): \(error.operation) timed out", underlyingError: error)
        case let error as HTTPParseError:
            return HTTPClientError(.responseMalformed, "\(url): malformed response", underlyingError: error)
        default:
            return HTTPClientError(.connectionClosed, "\(url): connection failed", underlyingError: error)
        }
    }
}
