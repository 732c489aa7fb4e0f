// http-server: an HTTP/1.1 server on WeaveHTTP, a blocking handler per request. `GET /`
// answers "Hello, World!"; `GET /spin?us=N` computes on the hub for N µs first (to measure
// scaling over cores; a bad or missing N gets 400); with `--root DIR` other paths are the
// files under DIR (HEAD, Last-Modified/If-Modified-Since, 405 for other methods, traversal
// refused). The server handles keep-alive, pipelining, chunked bodies, 100-continue, and
// answers malformed requests with 400, oversized heads with 431 and slow ones with 408.
// With --tls-cert and --tls-key every connection is HTTPS instead.
// Run: swift run -c release http-server --host 127.0.0.1 --port 8080 [--root ./public] [--hubs N] [--tls-cert cert.pem --tls-key key.pem]
import ArgumentParser
import Glibc
import HTTPTypes
import Logging
import SampleSupport
import Weave
import WeaveHTTP
import WeaveTLS

struct HTTPServerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "http-server",
        abstract: "HTTP/1.1 on WeaveHTTP: GET / answers \"Hello, World!\", GET /spin?us=N computes for N µs first, --root serves files.")

    @Option(help: "The address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "The port to listen on (0: any free port).")
    var port = 8080

    @Option(help: "The largest request head accepted; a larger one gets 431.")
    var maxHeaderBytes = 8 * 1024

    @Option(help: ArgumentHelp("Seconds a client has to send a request's head; a slower one gets 408.", valueName: "seconds"))
    var headerTimeout = 10

    @Option(help: ArgumentHelp("Also serve the files under this directory (path traversal gets 403).", valueName: "directory"),
            transform: { try resolvedDirectory($0) })
    var root: String?

    @Option(help: "Hubs (threads) serving, each with its own listener on the port; the default is the number of cores this process may use.")
    var hubs = HubGroup.availableCores

    @Flag(help: "Log every request (method, path, status) to standard error.")
    var accessLog = false

    @Option(help: ArgumentHelp("Serve HTTPS with this certificate chain (PEM, leaf first); needs --tls-key.", valueName: "file"))
    var tlsCert: String?

    @Option(help: ArgumentHelp("The private key (PEM) of --tls-cert.", valueName: "file"))
    var tlsKey: String?

    func validate() throws {
        try requirePort(port)
        try require("--hubs", hubs, atLeast: 1)
        try require("--max-header-bytes", maxHeaderBytes, atLeast: 1)
        try require("--header-timeout", headerTimeout, atLeast: 1)
        if (tlsCert == nil) != (tlsKey == nil) {
            throw ValidationError("--tls-cert and --tls-key go together")
        }
    }

    func run() throws {
        var configuration = HTTPServer.Configuration()
        configuration.maxHeadBytes = maxHeaderBytes
        configuration.headerTimeout = .seconds(headerTimeout)
        let routes = Routes(files: root.map { StaticFiles(root: $0) })
        let http = HTTPServer(configuration: configuration, accessLogger: accessLog ? Logger(label: "http-server.access") : nil) { request, response in
            try routes.handle(request, response)
        }
        // One context (certificate parsed once) for every hub and connection.
        var tls: TLSContext?
        if let tlsCert, let tlsKey {
            do {
                tls = try TLSContext(configuration: .server(certificateChain: .file(tlsCert), privateKey: .file(tlsKey)))
            } catch let error as TLSError {
                throw ValidationError("cannot use --tls-cert/--tls-key: \(error)")
            }
        }
        // Each accepted connection is handed to the HTTP server, through a TLS handshake first with --tls-cert.
        try serveOnHubs(hubs, host: host, port: port, backlog: 1024) { [tls] connection in
            if let tls {
                try http.serve(tlsOver: connection, context: tls)
            } else {
                try http.serve(connection: connection)
            }
        }
    }
}

/// `path` with every link resolved, once (the traversal check compares against it); throws
/// unless it names a directory.
func resolvedDirectory(_ path: String) throws -> String {
    guard let resolved = realpath(path, nil) else { throw ValidationError(String(cString: strerror(errno))) }
    defer { free(resolved) }
    var info = stat()
    guard stat(resolved, &info) == 0, info.st_mode & mode_t(S_IFMT) == mode_t(S_IFDIR) else { throw ValidationError("not a directory") }
    return String(cString: resolved)
}

/// The sample's routes: `/`, `/spin`, then the files (or 404).
struct Routes: Sendable {
    let files: StaticFiles?

    /// Built once: a response value is copied per request, not rebuilt.
    static let hello = HTTPResponse(status: .ok, headerFields: [.contentType: "text/plain"])
    static let helloBody = Array("Hello, World!".utf8)
    static let plain = HTTPResponse(status: .ok, headerFields: [.contentType: "text/plain"])

    func handle(_ request: HTTPServerRequest, _ response: HTTPResponseWriter) throws {
        let path = request.head.path ?? ""
        let method = request.head.method
        if path == "/" {
            guard method == .get || method == .head else {
                return try response.respond(HTTPResponse(status: .methodNotAllowed, headerFields: [.allow: "GET, HEAD"]), body: "method not allowed\n")
            }
            try response.writeHead(Routes.hello, contentLength: Routes.helloBody.count)
            try response.write(Routes.helloBody)
            try response.finish()
            return
        }
        if method == .get, let query = SpinQuery(target: path) {
            guard case .microseconds(let microseconds) = query else {
                return try response.respond(HTTPResponse(status: .badRequest, headerFields: [.contentType: "text/plain"]), body: SpinQuery.invalidMessage)
            }
            let body = spinBody(spin(microseconds: microseconds))
            try response.writeHead(Routes.plain, contentLength: body.count)
            try response.write(body)
            try response.finish()
            return
        }
        if let files {
            try files.serve(request, response)
        } else {
            try response.respond(HTTPResponse(status: .notFound, headerFields: [.contentType: "text/plain"]), body: "not found\n")
        }
    }
}

HTTPServerCommand.main()
