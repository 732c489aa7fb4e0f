import Glibc
import HTTPTypes
import Logging
import Weave
import WeaveTestSupport
@testable import WeaveHTTP

/// A raw HTTP/1.1 client over one TCP connection, for driving the server byte by byte:
/// writes whatever it is given and reads responses with the package's response parser.
final class HTTPTestClient {
    let connection: TCPConnection

    init(port: Int) throws {
        connection = try TCPConnection.connect(host: "127.0.0.1", port: port, timeout: .seconds(10))
    }

    deinit { connection.close() }

    func send(_ text: String) throws {
        try connection.write(text)
    }

    /// A response: head and body (decoded from its framing).
    struct Response {
        var head: HTTPResponseHead
        var body: [UInt8]
        var status: Int { head.response.status.code }
        var text: String { String(decoding: body, as: UTF8.self) }
        func field(_ name: String) -> String? { head.response.headerFields[HTTPField.Name(name)!] }
    }

    /// Reads one response to a request with `method`; nil if the server closed the
    /// connection before a head arrived. Throws `TimeoutError` after `timeout`.
    func readResponse(method: HTTPRequest.Method = .get, timeout: Duration = .seconds(30)) throws -> Response? {
        var parser = HTTPResponseParser()
        var head: HTTPResponseHead?
        var ended = false
        var needed = 1
        while head == nil && !ended {
            try connection.withUnsafeReadableBytes(atLeast: needed, timeout: timeout) { bytes in
                if bytes.count < needed { ended = true }
                guard !bytes.isEmpty else { return 0 }
                if let parsed = try parser.parse(bytes, requestMethod: method) {
                    head = parsed
                    return parsed.length
                }
                needed = bytes.count + 1
                return 0
            }
        }
        guard let head else { return nil }
        var body: [UInt8] = []
        switch head.framing {
        case .none:
            break
        case .length(let length):
            body = try connection.read(exactly: length, timeout: timeout)
        case .untilClose:
            while true {
                let chunk = try connection.read(upTo: 65536, timeout: timeout)
                if chunk.isEmpty { break }
                body += chunk
            }
        case .chunked:
            var decoder = HTTPChunkedDecoder()
            var done = false
            needed = 1
            while !done {
                try connection.withUnsafeReadableBytes(atLeast: needed, timeout: timeout) { bytes in
                    if bytes.count < needed { throw HTTPServerError(.unexpectedEnd, "the test client's connection ended mid-body") }
                    var consumed = 0
                    while !done {
                        let step = try decoder.next(UnsafeRawBufferPointer(rebasing: bytes[consumed...]))
                        switch step {
                        case .data(let offset, let count):
                            body += bytes[(consumed + offset)..<(consumed + offset + count)]
                            consumed += offset + count
                        case .needMore(let used):
                            consumed += used
                            needed = bytes.count - consumed + 1
                            return consumed
                        case .end(let used):
                            consumed += used
                            done = true
                        }
                    }
                    return consumed
                }
            }
        }
        return Response(head: head, body: body)
    }

    /// Whether the server has closed the connection: reads to the end (failing on any
    /// byte) within `timeout`.
    func isClosedByServer(timeout: Duration = .seconds(30)) throws -> Bool {
        do {
            let rest = try connection.read(upTo: 65536, timeout: timeout)
            return rest.isEmpty
        } catch let error as UVError where error.name == "ECONNRESET" {
            return true
        }
    }
}

/// Server-side sockets still open on `port`: listening, established, or closed by the peer
/// and not yet by us (CLOSE_WAIT, the state of a leaked descriptor); the states after our
/// own close have no descriptor, from /proc/net/tcp: a per-server descriptor count that other tests running
/// in parallel in this process do not disturb.
func openServerSockets(port: Int) -> Int {
    guard let file = fopen("/proc/net/tcp", "r") else { return -1 }
    defer { fclose(file) }
    var count = 0
    var line = [CChar](repeating: 0, count: 512)
    let local = fourHexDigits(port)
    while fgets(&line, Int32(line.count), file) != nil {
        let fields = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self).split(separator: " ")
        // sl local_address rem_address st ...: a server socket's local address ends in our port.
        guard fields.count > 3, fields[1].hasSuffix(":" + local), ["01", "08", "0A"].contains(fields[3]) else { continue }
        count += 1
    }
    return count
}

/// `value` as four uppercase hexadecimal digits, as /proc/net/tcp writes ports.
private func fourHexDigits(_ value: Int) -> String {
    let digits = String(value, radix: 16, uppercase: true)
    return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
}

/// Runs `body` with an HTTP server listening on a free loopback port of the current hub;
/// shuts the server down afterwards.
func withHTTPServer(
    configuration: HTTPServer.Configuration = .init(), accessLogger: Logger? = nil,
    handler: @escaping HTTPServer.Handler, _ body: (_ port: Int, _ http: HTTPServer, _ server: StreamServer) throws -> Void
) throws {
    let http = HTTPServer(configuration: configuration, accessLogger: accessLogger, handler: handler)
    let server = try http.makeStreamServer(port: 0)
    try server.start()
    defer { try? http.shutdown(server, gracePeriod: .seconds(2)) }
    try body(server.localAddress!.port, http, server)
}

/// A handler that answers `GET /` with "Hello, World!" and echoes other requests' bodies.
let echoHandler: HTTPServer.Handler = { request, response in
    if request.head.path == "/" && (request.head.method == .get || request.head.method == .head) {
        try response.respond(HTTPResponse(status: .ok, headerFields: [.contentType: "text/plain"]), body: "Hello, World!")
        return
    }
    let body = try request.readAll(maxBytes: 1 << 20)
    try response.writeHead(HTTPResponse(status: .ok), contentLength: body.count)
    try response.write(body)
    try response.finish()
}

/// Runs `HubGroup.run` on a pthread of its own and awaits its result (a group's calling
/// thread becomes its hub 0, which must not be a thread of Swift concurrency's pool).
func inHubGroup<T: Sendable>(hubs: Int, _ body: @escaping @Sendable (HubGroup) throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let job = Job { continuation.resume(with: Result { try HubGroup.run(hubs: hubs, body) }) }
        var thread = pthread_t()
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        pthread_attr_setstacksize(&attributes, 8 << 20)
        let status = pthread_create(&thread, &attributes, { raw in
            Unmanaged<Job>.fromOpaque(raw!).takeRetainedValue().body()
            return nil
        }, Unmanaged.passRetained(job).toOpaque())
        pthread_attr_destroy(&attributes)
        precondition(status == 0, "pthread_create failed: \(status)")
        pthread_detach(thread)
    }
}

/// Work handed to a thread of its own; it runs there once.
private final class Job: @unchecked Sendable {
    let body: () -> Void
    init(_ body: @escaping () -> Void) { self.body = body }
}


/// The default configuration with `change` applied.
func configured(_ change: (inout HTTPServer.Configuration) -> Void) -> HTTPServer.Configuration {
    var configuration = HTTPServer.Configuration()
    change(&configuration)
    return configuration
}
