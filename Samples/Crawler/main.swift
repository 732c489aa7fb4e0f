// crawler: fetches N URLs concurrently through a Pool(size:), by default from its own
// in-process HTTP server on 127.0.0.1 (so it runs offline), and prints status, bytes and
// latency per URL in a table, then a summary line.
// Run: swift run -c release crawler --count 20 --concurrency 5   (or: crawler http://127.0.0.1:8080/ ...)
import ArgumentParser
import Glibc
import SampleSupport
import Weave

struct CrawlerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "crawler",
        abstract: "Fetches URLs concurrently through a Pool and prints status, bytes and latency per URL.",
        discussion: "Without URLs it starts its own HTTP server on --host and --port and crawls --count pages of it.")

    @Option(help: "The address of the built-in site.")
    var host = "127.0.0.1"

    @Option(help: "The port of the built-in site (0: any free port).")
    var port = 0

    @Option(help: "How many pages of the built-in site to fetch.")
    var count = 20

    @Option(help: "How many fetches run at a time (the Pool's size).")
    var concurrency = 5

    @Argument(help: ArgumentHelp("http:// URLs to fetch instead of the built-in site.", valueName: "url"))
    var urls: [String] = []

    func validate() throws {
        try requirePort(port)
        try require("--count", count, atLeast: 1)
        try require("--concurrency", concurrency, atLeast: 1)
        for url in urls where parseURL(url) == nil {
            throw ValidationError("'\(url)' is not an http://HOST[:PORT][/PATH] URL")
        }
    }

    func run() throws {
        try Hub.run { try crawl(self) }
    }
}

/// What fetching one URL gave.
struct Fetch {
    let url: String
    var status = 0
    var bytes = 0
    var latency = Duration.zero
    var error: String?
}

/// `http://HOST[:PORT]/PATH` split up; nil if it is not that.
func parseURL(_ url: String) -> (host: String, port: Int, path: String)? {
    guard url.hasPrefix("http://") else { return nil }
    let rest = url.dropFirst(7)
    let authority = rest.prefix { $0 != "/" }
    let path = rest.dropFirst(authority.count)
    let parts = authority.split(separator: ":", maxSplits: 1)
    guard let name = parts.first, !name.isEmpty else { return nil }
    let port = parts.count == 2 ? Int(parts[1]) : 80
    guard let port else { return nil }
    return (String(name), port, path.isEmpty ? "/" : String(path))
}

/// A minimal HTTP/1.1 GET: status code and body length (Content-Length, or until close).
func fetch(_ url: String) -> Fetch {
    let start = ContinuousClock.now
    var result = fetchOnce(url)
    result.latency = .now - start
    return result
}

func fetchOnce(_ url: String) -> Fetch {
    var result = Fetch(url: url)
    guard let target = parseURL(url) else {
        result.error = "not an http:// URL"
        return result
    }
    do {
        try withTimeout(.seconds(10)) {
            let connection = try TCPConnection.connect(host: target.host, port: target.port)
            defer { connection.close() }
            try connection.write("GET \(target.path) HTTP/1.1\r\nHost: \(target.host)\r\nConnection: close\r\n\r\n")
            guard let statusLine = try connection.readLine(), statusLine.hasPrefix("HTTP/1."),
                  let code = Int(statusLine.split(separator: " ").dropFirst().first ?? "") else {
                throw SampleError(message: "bad status line")
            }
            result.status = code
            var length: Int?
            while let header = try connection.readLine(), !header.isEmpty {
                if header.lowercased().hasPrefix("content-length:") {
                    length = Int(header.dropFirst(15).drop { $0 == " " })
                }
            }
            if let length {
                result.bytes = try connection.read(exactly: length).count
            } else {
                while true {
                    let chunk = try connection.read(upTo: 64 * 1024)
                    if chunk.isEmpty { break }
                    result.bytes += chunk.count
                }
            }
        }
    } catch {
        result.error = "\(error)"
    }
    return result
}

/// A response this client cannot read.
struct SampleError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}

/// The built-in site: /page/N is N KiB after N ms, /missing is 404.
func startSite(host: String, port: Int) throws -> (StreamServer, Int) {
    let server = try StreamServer(host: host, port: port) { connection in
        while let requestLine = try connection.readLine(timeout: .seconds(10)) {
            while let header = try connection.readLine(timeout: .seconds(10)), !header.isEmpty {}
            let path = requestLine.split(separator: " ").dropFirst().first.map(String.init) ?? "/"
            if path.hasPrefix("/page/"), let number = Int(path.dropFirst(6)), (0...1000).contains(number) {
                try Coroutine.sleep(for: .milliseconds(number))
                let body = [UInt8](repeating: UInt8(ascii: "a"), count: number * 1024)
                try connection.write("HTTP/1.1 200 OK\r\nContent-Length: \(body.count)\r\nContent-Type: text/plain\r\n\r\n")
                try connection.write(body)
            } else {
                try connection.write("HTTP/1.1 404 Not Found\r\nContent-Length: 10\r\n\r\nnot found\n")
            }
        }
    }
    try server.start()
    return (server, server.localAddress!.port)
}

/// Left-aligned or right-aligned to `width`.
func pad(_ text: String, _ width: Int, right: Bool = false) -> String {
    let fill = String(repeating: " ", count: max(0, width - text.count))
    return right ? fill + text : text + fill
}

/// Fetches the URLs `options` names (or pages of the built-in site) and prints the table.
func crawl(_ options: CrawlerCommand) throws {
    var site: StreamServer?
    var targets = options.urls
    if targets.isEmpty {
        let host = options.host
        let (server, boundPort) = try startSite(host: host, port: options.port)
        site = server
        print("listening on \(host):\(boundPort)")
        fflush(nil)
        targets = (0..<options.count).map { index in
            index % 7 == 6 ? "http://\(host):\(boundPort)/missing" : "http://\(host):\(boundPort)/page/\((index * 37) % 100)"
        }
    }
    let pool = Pool(size: options.concurrency)
    let start = ContinuousClock.now
    let results = try pool.map(targets) { fetch($0) }
    let elapsed = ContinuousClock.now - start

    let urlWidth = max(3, results.map(\.url.count).max() ?? 0)
    print(pad("URL", urlWidth), pad("STATUS", 6, right: true), pad("BYTES", 9, right: true), pad("LATENCY", 10, right: true))
    for result in results {
        let milliseconds = Double(result.latency.components.attoseconds) / 1e15 + Double(result.latency.components.seconds) * 1000
        let latency = "\(Int(milliseconds.rounded())) ms"
        let status = result.error == nil ? "\(result.status)" : "ERR"
        print(pad(result.url, urlWidth) + " " + pad(status, 6, right: true) + " " + pad("\(result.bytes)", 9, right: true)
              + " " + pad(latency, 10, right: true) + (result.error.map { "  \($0)" } ?? ""))
    }
    let ok = results.filter { $0.error == nil && (200..<300).contains($0.status) }.count
    let failed = results.filter { $0.error != nil }.count
    let bytes = results.reduce(0) { $0 + $1.bytes }
    let wall = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    print("\(results.count) URLs, \(ok) ok, \(results.count - ok - failed) non-2xx, \(failed) failed, "
          + "\(bytes) bytes in \(Int((wall * 1000).rounded())) ms with \(pool.size) at a time")
    try site?.stop(gracePeriod: .seconds(1))
}

CrawlerCommand.main()
