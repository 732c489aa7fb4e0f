// http-server: HTTP/1.1 with keep-alive and pipelining on Weave's StreamServer. `GET /`
// answers "Hello, World!", `GET /spin?us=N` computes on the hub for N µs first (to measure
// scaling over cores; a bad or missing N gets 400); oversized headers get 431, malformed requests 400, and a client
// that sends a request's headers too slowly (slowloris) gets 408. With `--root DIR` it also
// serves the files under DIR through Weave's File API (path traversal gets 403).
// Run: swift run -c release http-server --host 127.0.0.1 --port 8080 [--root ./public]
import ArgumentParser
import Glibc
import SampleSupport
import Weave

struct HTTPServerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "http-server",
        abstract: "HTTP/1.1 with keep-alive and pipelining: GET / answers \"Hello, World!\", GET /spin?us=N computes for N µs first, --root serves files.")

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

    @Option(help: "Hubs (threads) serving, each with its own listener on the port (default: every core this process may use).")
    var hubs = HubGroup.availableCores

    func validate() throws {
        try requirePort(port)
        try require("--hubs", hubs, atLeast: 1)
        try require("--max-header-bytes", maxHeaderBytes, atLeast: 1)
        try require("--header-timeout", headerTimeout, atLeast: 1)
    }

    func run() throws {
        let (host, maxHeaderBytes, headerTimeout, root) = (host, maxHeaderBytes, Duration.seconds(headerTimeout), root)
        try serveOnHubs(hubs, host: host, port: port, backlog: 1024,
                        handler: connectionHandler(maxHeaderBytes: maxHeaderBytes, headerTimeout: headerTimeout, root: root))
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

/// Fixed responses, built once.
enum Response {
    static let hello = Array("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!".utf8)
    static let notFound = Array("HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 10\r\n\r\nnot found\n".utf8)
    static let badRequest = Array("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".utf8)
    static let tooLarge = Array("HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".utf8)
    static let timeout = Array("HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".utf8)
}

/// The per-connection parser: answers every complete request in the buffered bytes
/// (pipelining) into one reusable output buffer, without building strings.
struct Connection {
    /// The largest request head accepted (`--max-header-bytes`).
    let maxHeaderBytes: Int
    /// Whether GET requests other than `/` are answered from files (`--root`).
    let servesFiles: Bool
    var output: [UInt8] = []
    var close = false
    /// A file request parsed and not yet answered: parsing stops there (the answer needs
    /// the disk, which blocks, and must keep its place among pipelined responses).
    var pendingFile: String?

    /// Parses what `bytes` holds; returns the bytes consumed.
    mutating func parse(_ bytes: UnsafeRawBufferPointer) -> Int {
        var consumed = 0
        while !close && pendingFile == nil {
            let rest = UnsafeRawBufferPointer(rebasing: bytes[consumed...])
            guard let headerEnd = Connection.find(rest, "\r\n\r\n") else {
                if rest.count > maxHeaderBytes { fail(Response.tooLarge) }
                return consumed
            }
            if headerEnd > maxHeaderBytes {
                fail(Response.tooLarge)
                return consumed
            }
            guard let request = Request(UnsafeRawBufferPointer(rebasing: rest[..<headerEnd]), keepsTarget: servesFiles) else {
                fail(Response.badRequest)
                return consumed
            }
            let total = headerEnd + 4 + request.contentLength
            if rest.count < total { return consumed }
            consumed += total
            close = request.close
            if let spin = request.spin {
                Response.appendSpin(spin, to: &output)
            } else if servesFiles && request.isGet {
                pendingFile = request.target
            } else {
                output.append(contentsOf: request.isHelloWorld ? Response.hello : Response.notFound)
            }
        }
        return consumed
    }

    mutating func fail(_ response: [UInt8]) {
        output.append(contentsOf: response)
        close = true
    }

    static func find(_ bytes: UnsafeRawBufferPointer, _ pattern: StaticString) -> Int? {
        let count = pattern.utf8CodeUnitCount
        guard bytes.count >= count else { return nil }
        let first = pattern.utf8Start[0]
        var index = 0
        while index + count <= bytes.count {
            if bytes[index] == first {
                var match = true
                for offset in 1..<count where bytes[index + offset] != pattern.utf8Start[offset] {
                    match = false
                    break
                }
                if match { return index }
            }
            index += 1
        }
        return nil
    }
}

/// The parts of a request head this server looks at.
struct Request {
    var isHelloWorld = false
    var isGet = false
    /// The query of a `GET /spin` request; nil for any other request.
    var spin: SpinQuery?
    /// The request target, kept only when serving files.
    var target: String?
    var close = false
    var contentLength = 0

    init?(_ head: UnsafeRawBufferPointer, keepsTarget: Bool) {
        var lines = HeadLines(head)
        guard let requestLine = lines.next() else { return nil }
        // METHOD SP TARGET SP HTTP/1.x
        guard let firstSpace = requestLine.firstIndex(of: 32),
              let lastSpace = requestLine.lastIndex(of: 32), lastSpace > firstSpace else { return nil }
        let method = UnsafeRawBufferPointer(rebasing: requestLine[..<firstSpace])
        let target = UnsafeRawBufferPointer(rebasing: requestLine[(firstSpace + 1)..<lastSpace])
        let version = UnsafeRawBufferPointer(rebasing: requestLine[(lastSpace + 1)...])
        guard Request.equal(version.prefix(7), "HTTP/1.", caseInsensitive: false), version.count == 8 else { return nil }
        isGet = Request.equal(method[...], "GET", caseInsensitive: false)
        isHelloWorld = isGet && Request.equal(target[...], "/", caseInsensitive: false)
        if isGet { spin = SpinQuery(target: target[...]) }
        if keepsTarget { self.target = String(decoding: target, as: UTF8.self) }
        close = version[7] == UInt8(ascii: "0")
        while let line = lines.next() {
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { return nil }
            let name = line[..<colon]
            var valueStart = colon + 1
            while valueStart < line.endIndex && (line[valueStart] == 32 || line[valueStart] == 9) { valueStart += 1 }
            let value = line[valueStart...]
            if Request.equal(name, "connection", caseInsensitive: true) {
                if Request.equal(value, "close", caseInsensitive: true) { close = true }
                if Request.equal(value, "keep-alive", caseInsensitive: true) { close = false }
            } else if Request.equal(name, "content-length", caseInsensitive: true) {
                var length = 0
                for digit in value {
                    guard digit >= 48 && digit <= 57, length < 1 << 40 else { return nil }
                    length = length * 10 + Int(digit - 48)
                }
                contentLength = length
            }
        }
    }

    static func equal(_ bytes: Slice<UnsafeRawBufferPointer>, _ text: StaticString, caseInsensitive: Bool) -> Bool {
        guard bytes.count == text.utf8CodeUnitCount else { return false }
        var index = bytes.startIndex
        for offset in 0..<text.utf8CodeUnitCount {
            var byte = bytes[index]
            if caseInsensitive && byte >= 65 && byte <= 90 { byte += 32 }
            if byte != text.utf8Start[offset] { return false }
            index += 1
        }
        return true
    }
}

/// The CRLF-separated lines of a request head.
struct HeadLines {
    let bytes: UnsafeRawBufferPointer
    var position = 0

    init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    mutating func next() -> Slice<UnsafeRawBufferPointer>? {
        guard position < bytes.count else { return nil }
        var end = position
        while end < bytes.count && bytes[end] != 13 { end += 1 }
        let line = bytes[position..<end]
        position = end + 2
        return line
    }
}

/// The server of one hub (bound now; serving starts with `serveForever`).
func connectionHandler(maxHeaderBytes: Int, headerTimeout: Duration, root: String?) -> GroupStreamServer.Handler {
    { connection in
        var state = Connection(maxHeaderBytes: maxHeaderBytes, servesFiles: root != nil)
        state.output.reserveCapacity(4096)
        while !state.close {
            // The whole head of the next request must arrive before this deadline.
            let deadline = ContinuousClock.now + headerTimeout
            var ended = false
            var needed = 1
            repeat {
                let remaining = deadline - .now
                do {
                    try connection.withUnsafeReadableBytes(atLeast: needed, timeout: remaining > .zero ? remaining : .zero) { bytes in
                        if bytes.count < needed {
                            ended = true
                            return 0
                        }
                        let consumed = state.parse(bytes)
                        // An incomplete request: wait for more than what is buffered now.
                        needed = state.pendingFile == nil ? bytes.count - consumed + 1 : 1
                        return consumed
                    }
                    if let target = state.pendingFile {
                        state.pendingFile = nil
                        state.output.append(contentsOf: fileResponse(for: target, under: root))
                    }
                } catch is TimeoutError {
                    try? connection.write(Response.timeout)
                    return
                }
            } while state.output.isEmpty && !state.close && !ended
            if !state.output.isEmpty {
                try connection.write(state.output)
                state.output.removeAll(keepingCapacity: true)
            }
            if ended { return }
        }
    }
}

// MARK: - Static files (--root)

/// The response for `GET target` under `root`: the file, or 400/403/404/413/500.
func fileResponse(for target: String, under root: String?) -> [UInt8] {
    guard let root else { return Response.notFound }
    let pathPart = target.prefix { $0 != "?" && $0 != "#" }
    guard pathPart.hasPrefix("/"), let decoded = percentDecoded(pathPart) else { return Response.plain(400, "bad request\n") }
    let segments = decoded.split(separator: "/", omittingEmptySubsequences: true)
    // No "..": the request may not climb out of the root (symbolic links are checked below).
    if segments.contains("..") || decoded.contains("\0") { return Response.plain(403, "forbidden\n") }
    var path = root + "/" + segments.joined(separator: "/")
    do {
        if try File.stat(path).isDirectory { path += "/index.html" }
        // realpath is a quick, cached metadata call: fine on the hub for a sample.
        guard let resolved = realpath(path, nil) else { return Response.plain(404, "not found\n") }
        let real = String(cString: resolved)
        free(resolved)
        guard real == root || real.hasPrefix(root + "/") else { return Response.plain(403, "forbidden\n") }
        let body = try File.readAll(real, maxSize: 64 << 20)
        var response = Array("HTTP/1.1 200 OK\r\nContent-Type: \(contentType(of: real))\r\nContent-Length: \(body.count)\r\n\r\n".utf8)
        response += body
        return response
    } catch let error as UVError where error.name == "ENOENT" || error.name == "ENOTDIR" {
        return Response.plain(404, "not found\n")
    } catch let error as UVError where error.name == "EACCES" || error.name == "EISDIR" {
        return Response.plain(403, "forbidden\n")
    } catch let error as IOError where error.code == .tooLarge {
        return Response.plain(413, "too large\n")
    } catch {
        return Response.plain(500, "internal error\n")
    }
}

extension Response {
    static func plain(_ status: Int, _ body: String) -> [UInt8] {
        let reason = [400: "Bad Request", 403: "Forbidden", 404: "Not Found", 413: "Content Too Large", 500: "Internal Server Error"][status] ?? "Error"
        return Array("HTTP/1.1 \(status) \(reason)\r\nContent-Type: text/plain\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)".utf8)
    }
}

/// `%2F`-style escapes decoded; nil for a malformed escape or bytes that are not UTF-8.
func percentDecoded(_ text: Substring) -> String? {
    var bytes: [UInt8] = []
    var iterator = text.utf8.makeIterator()
    while let byte = iterator.next() {
        guard byte == UInt8(ascii: "%") else {
            bytes.append(byte)
            continue
        }
        guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else { return nil }
        bytes.append(high << 4 | low)
    }
    return String(validating: bytes, as: UTF8.self)
}

func hexValue(_ byte: UInt8) -> UInt8? {
    switch byte {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
    default: return nil
    }
}

/// Content-Type by file extension.
func contentType(of path: String) -> String {
    let name = path.split(separator: "/").last ?? ""
    let ext = name.contains(".") ? String(name.split(separator: ".").last ?? "").lowercased() : ""
    switch ext {
    case "html", "htm": return "text/html; charset=utf-8"
    case "css": return "text/css; charset=utf-8"
    case "js", "mjs": return "text/javascript; charset=utf-8"
    case "json": return "application/json"
    case "txt", "md": return "text/plain; charset=utf-8"
    case "svg": return "image/svg+xml"
    case "png": return "image/png"
    case "jpg", "jpeg": return "image/jpeg"
    case "gif": return "image/gif"
    case "webp": return "image/webp"
    case "ico": return "image/x-icon"
    case "wasm": return "application/wasm"
    case "pdf": return "application/pdf"
    default: return "application/octet-stream"
    }
}

HTTPServerCommand.main()
