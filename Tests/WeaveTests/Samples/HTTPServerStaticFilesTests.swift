import Glibc
import Testing
import Weave
import WeaveTestSupport

/// One response off `connection`: status line, fields (lowercased names) and body (by
/// Content-Length; none for HEAD and 304).
private func readStaticResponse(_ connection: TCPConnection, head: Bool = false) throws -> (status: String, fields: [String: String], body: String) {
    let status = try #require(try connection.readLine(timeout: .seconds(30)), "the server closed the connection")
    var fields: [String: String] = [:]
    while let line = try connection.readLine(timeout: .seconds(30)), !line.isEmpty {
        let parts = line.split(separator: ":", maxSplits: 1)
        if parts.count == 2 { fields[parts[0].lowercased()] = String(parts[1].drop { $0 == " " }) }
    }
    let length = head || status.contains(" 304 ") ? 0 : Int(fields["content-length"] ?? "0") ?? 0
    let body = try connection.read(exactly: length, timeout: .seconds(30))
    return (status, fields, String(decoding: body, as: UTF8.self))
}

@Suite("http-server sample: static files", .timeLimit(.minutes(2)))
struct HTTPServerStaticFilesTests {
    @Test("with --root: GET / still says hello; files, index.html, HEAD, 304, 405 with Allow, traversal refused")
    func staticFiles() async throws {
        let root = "/tmp/weave-http-root-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        mkdir(root, 0o755)
        mkdir(root + "/docs", 0o755)
        defer {
            unlink(root + "/docs/index.html")
            unlink(root + "/page.txt")
            unlink(root + "/escape")
            rmdir(root + "/docs")
            rmdir(root)
        }
        try await onHub {
            try File.write(Array("<p>docs</p>".utf8), to: root + "/docs/index.html")
            try File.write(Array("a page\n".utf8), to: root + "/page.txt")
            symlink("/etc/hostname", root + "/escape")
            let executable = testWorkerPath.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/") + "/http-server"
            let server = try Command.spawn(
                executable, arguments: ["--port", "0", "--hubs", "1", "--root", root],
                environment: Command.inheritedEnvironment(adding: ["SWIFT_BACKTRACE": "enable=no"]),
                standardInput: .discard, standardError: .discard, parentDeathSignal: SIGKILL)
            defer {
                try? server.kill()
                _ = try? server.wait(timeout: .seconds(10))
            }
            let line = try #require(try server.standardOutput!.readLine(timeout: .seconds(60)))
            let port = try #require(line.split(separator: ":").last.flatMap { Int($0.prefix { $0.isNumber }) })
            let connection = try TCPConnection.connect(host: "127.0.0.1", port: port, timeout: .seconds(10))
            defer { connection.close() }

            try connection.write("GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            let hello = try readStaticResponse(connection)
            #expect(hello.status == "HTTP/1.1 200 OK")
            #expect(hello.body == "Hello, World!")
            #expect(hello.fields["content-length"] == "13")

            try connection.write("GET /docs/ HTTP/1.1\r\nHost: t\r\n\r\n")
            let index = try readStaticResponse(connection)
            #expect(index.body == "<p>docs</p>")
            #expect(index.fields["content-type"] == "text/html; charset=utf-8")

            try connection.write("GET /page.txt HTTP/1.1\r\nHost: t\r\n\r\n")
            let page = try readStaticResponse(connection)
            #expect(page.body == "a page\n")
            let lastModified = try #require(page.fields["last-modified"])

            try connection.write("HEAD /page.txt HTTP/1.1\r\nHost: t\r\n\r\n")
            let head = try readStaticResponse(connection, head: true)
            #expect(head.status == "HTTP/1.1 200 OK")
            #expect(head.fields["content-length"] == "7")

            try connection.write("GET /page.txt HTTP/1.1\r\nHost: t\r\nIf-Modified-Since: \(lastModified)\r\n\r\n")
            #expect(try readStaticResponse(connection).status == "HTTP/1.1 304 Not Modified")
            try connection.write("GET /page.txt HTTP/1.1\r\nHost: t\r\nIf-Modified-Since: Thu, 01 Jan 1970 00:00:00 GMT\r\n\r\n")
            #expect(try readStaticResponse(connection).body == "a page\n")

            try connection.write("DELETE /page.txt HTTP/1.1\r\nHost: t\r\n\r\n")
            let delete = try readStaticResponse(connection)
            #expect(delete.status == "HTTP/1.1 405 Method Not Allowed")
            #expect(delete.fields["allow"] == "GET, HEAD")

            try connection.write("GET /../page.txt HTTP/1.1\r\nHost: t\r\n\r\n")
            #expect(try readStaticResponse(connection).status == "HTTP/1.1 403 Forbidden")
            try connection.write("GET /%2e%2e/%2e%2e/etc/passwd HTTP/1.1\r\nHost: t\r\n\r\n")
            #expect(try readStaticResponse(connection).status == "HTTP/1.1 403 Forbidden")
            try connection.write("GET /escape HTTP/1.1\r\nHost: t\r\n\r\n")
            #expect(try readStaticResponse(connection).status == "HTTP/1.1 403 Forbidden")
            try connection.write("GET /missing HTTP/1.1\r\nHost: t\r\n\r\n")
            #expect(try readStaticResponse(connection).status == "HTTP/1.1 404 Not Found")
            try connection.write("GET /a b HTTP/1.1\r\nHost: t\r\n\r\n")
            #expect(try readStaticResponse(connection).status == "HTTP/1.1 400 Bad Request")
        }
    }
}
