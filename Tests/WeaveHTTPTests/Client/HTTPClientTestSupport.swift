import Glibc
import HTTPTypes
import Synchronization
import Weave
import WeaveHTTP
import WeaveTLS
import WeaveTestSupport

/// A WeaveHTTP server on a free loopback port for the client tests, over TCP or (with
/// `tls`) HTTPS, counting the connections it accepted.
final class CountingServer: Sendable {
    let http: HTTPServer
    let accepted = Atomic<Int>(0)

    init(handler: @escaping HTTPServer.Handler) {
        http = HTTPServer(handler: handler)
    }

    /// Runs `body` with the server's port while it serves on the current hub.
    func run(tls: TLSContext? = nil, _ body: (Int) throws -> Void) throws {
        let server = try StreamServer(host: "127.0.0.1", port: 0) { [self] connection in
            accepted.add(1, ordering: .relaxed)
            if let tls {
                try http.serve(tlsOver: connection, context: tls)
            } else {
                try http.serve(connection: connection)
            }
        }
        try server.start()
        defer { try? http.shutdown(server, gracePeriod: .seconds(2)) }
        try body(server.localAddress!.port)
    }

    var acceptedCount: Int { accepted.load(ordering: .relaxed) }
}

/// TCP connections to or from `port` in this machine's table that hold a socket open on
/// at least one side (ESTABLISHED, or CLOSE_WAIT: a peer closed and this side did not).
func openTCPConnections(port: Int) -> Int {
    guard let file = fopen("/proc/net/tcp", "r") else { return -1 }
    defer { fclose(file) }
    let hexPort = String(port, radix: 16, uppercase: true)
    let suffix = ":" + String(repeating: "0", count: max(0, 4 - hexPort.count)) + hexPort
    var count = 0
    var line: UnsafeMutablePointer<CChar>?
    var capacity = 0
    defer { free(line) }
    while getline(&line, &capacity, file) > 0 {
        let fields = String(cString: line!).split(separator: " ")
        guard fields.count > 3 else { continue }
        let involved = fields[1].hasSuffix(suffix) || fields[2].hasSuffix(suffix)
        if involved && (fields[3] == "01" || fields[3] == "08") { count += 1 }
    }
    return count
}

/// A CA, a server certificate for localhost and 127.0.0.1 signed by it, and a second
/// CA that signed nothing here, made with the `openssl` command line once per process.
struct ClientTestCertificates: Sendable {
    let directory: String
    var caFile: String { "\(directory)/ca.pem" }
    var otherCAFile: String { "\(directory)/other.pem" }
    var certificateFile: String { "\(directory)/server.pem" }
    var keyFile: String { "\(directory)/server.key" }

    private static let cache = Mutex<ClientTestCertificates?>(nil)

    static func shared() throws -> ClientTestCertificates {
        try cache.withLock { cached in
            if let cached { return cached }
            let made = ClientTestCertificates(directory: try makeScratchDirectory("weave-httpclient"))
            try made.make()
            cached = made
            return made
        }
    }

    private func make() throws {
        for name in ["ca", "other"] {
            try runOpenSSL(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                         "-keyout", "\(directory)/\(name).key", "-out", "\(directory)/\(name).pem", "-days", "2",
                         "-subj", "/CN=Weave HTTP client test \(name)", "-addext", "basicConstraints=critical,CA:TRUE",
                         "-addext", "keyUsage=critical,keyCertSign,cRLSign"], log: "\(directory)/openssl.log")
        }
        let extensions = "\(directory)/server.ext"
        let text = "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"
        try writeTextFile(text, to: extensions)
        try runOpenSSL(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                     "-keyout", keyFile, "-out", "\(directory)/server.csr", "-subj", "/CN=localhost"], log: "\(directory)/openssl.log")
        try runOpenSSL(["x509", "-req", "-in", "\(directory)/server.csr", "-CA", caFile, "-CAkey", "\(directory)/ca.key",
                     "-set_serial", "7", "-days", "2", "-extfile", extensions, "-out", certificateFile], log: "\(directory)/openssl.log")
    }
}
