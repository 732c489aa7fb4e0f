// crawler: crawls a site with N coroutines sharing one HTTPClient (pooled keep-alive
// connections, HTTP and HTTPS). By default it serves its own small site of linked pages
// on 127.0.0.1, over HTTP and over HTTPS (with a certificate made by the openssl command
// line; without openssl, HTTP only), and follows the links between them; URLs given as
// arguments are fetched instead (links not followed). Prints a progress line, then a
// table per origin (pages, bytes, status counts, mean latency) and a summary line.
// Run: swift run -c release crawler [--count 200] [--concurrency 8]   (or: crawler https://example.com/ ...;
// --repeat N fetches each URL given N times, a load test)
import ArgumentParser
import Glibc
import SampleSupport
import Weave
import WeaveHTTP
import WeaveTLS

struct CrawlerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "crawler",
        abstract: "Crawls a site with N coroutines over one pooled HTTPClient (HTTP and HTTPS) and prints a summary table.",
        discussion: "Without URLs it serves its own site of linked pages over HTTP (--host, --port) and HTTPS (any free port) and crawls up to --count pages of it, following links.")

    @Option(help: "The address of the built-in site.")
    var host = "127.0.0.1"

    @Option(help: "The port of the built-in site's HTTP server (0: any free port).")
    var port = 0

    @Option(help: "The most pages fetched.")
    var count = 200

    @Option(help: "How many coroutines fetch at a time (and connections per host).")
    var concurrency = 8

    @Option(name: .customLong("repeat"), help: "Fetch each URL given this many times (a load test; Benchmarks/compare-http-client.sh uses it).")
    var repetitions = 1

    @Argument(help: ArgumentHelp("http:// or https:// URLs to fetch instead of the built-in site.", valueName: "url"))
    var urls: [String] = []

    func validate() throws {
        try requirePort(port)
        try require("--count", count, atLeast: 1)
        try require("--concurrency", concurrency, atLeast: 1)
        try require("--repeat", repetitions, atLeast: 1)
        for url in urls where !isWebURL(url) {
            throw ValidationError("'\(url)' is not an http:// or https:// URL")
        }
    }

    func run() throws {
        try Hub.run { try crawl(self) }
    }
}

func isWebURL(_ url: String) -> Bool {
    for scheme in ["http://", "https://"] where url.lowercased().hasPrefix(scheme) {
        return url.count > scheme.count && !"/?#".contains(url[url.index(url.startIndex, offsetBy: scheme.count)])
    }
    return false
}

/// The built-in site's servers, and what the client needs to trust them.
struct LocalSite {
    var servers: [StreamServer] = []
    var http: HTTPServer?
    var root: String = ""
    var certificates: SiteCertificates?

    func stop() {
        for server in servers { try? http?.shutdown(server, gracePeriod: .seconds(1)) }
        certificates?.remove()
    }
}

func startSite(_ options: CrawlerCommand) throws -> LocalSite {
    let site = Site(pages: 60)
    let http = HTTPServer { request, response in try site.handle(request, response) }
    var local = LocalSite(http: http)
    let plain = try http.makeStreamServer(host: options.host, port: options.port)
    try plain.start()
    local.servers.append(plain)
    let host = options.host.contains(":") ? "[\(options.host)]" : options.host
    let plainOrigin = "http://\(host):\(plain.localAddress!.port)"
    local.root = plainOrigin + "/page/0"
    print("HTTP site on \(plainOrigin)")
    do {
        let certificates = try SiteCertificates.make()
        local.certificates = certificates
        let context = try TLSContext(configuration: .server(certificateChain: .file(certificates.certificateFile),
                                                            privateKey: .file(certificates.keyFile)))
        let secure = try http.makeStreamServer(host: options.host, port: 0, tls: context)
        try secure.start()
        local.servers.append(secure)
        // Each server links to the same page on the other (a Site shares its OtherOrigin):
        // HTTPS pages point back to HTTP through the host-relative links plus this origin.
        let secureOrigin = "https://\(host):\(secure.localAddress!.port)"
        site.other.value.withLock { $0 = secureOrigin }
        print("HTTPS site on \(secureOrigin) (certificate made with openssl in \(certificates.directory))")
    } catch let error as ProcessError {
        print("openssl is not available (\(error)): crawling the HTTP site only")
    } catch let error as SampleError {
        print("could not make a certificate (\(error)): crawling the HTTP site only")
    }
    fflush(nil)
    return local
}

/// `link` made absolute against `page`'s URL (absolute and host-relative links; others are skipped).
func resolve(_ link: Substring, from page: String) -> String? {
    if isWebURL(String(link)) { return String(link) }
    if link.hasPrefix("/") && !link.hasPrefix("//") { return Fetch.origin(of: page) + link }
    return nil
}

/// The `href="..."` values of an HTML page.
func links(in body: [UInt8], of page: String) -> [String] {
    let marker = Array("href=\"".utf8)
    var found: [String] = []
    var index = 0
    while index + marker.count <= body.count {
        guard body[index..<(index + marker.count)].elementsEqual(marker) else {
            index += 1
            continue
        }
        let start = index + marker.count
        guard let end = body[start...].firstIndex(of: UInt8(ascii: "\"")) else { break }
        let link = String(decoding: body[start..<end], as: UTF8.self)
        if let url = resolve(link[...], from: page) { found.append(url) }
        index = end + 1
    }
    return found
}

/// Writes `text` to standard error, unbuffered.
func printError(_ text: String) {
    var text = text
    text.withUTF8 { _ = Glibc.write(2, $0.baseAddress, $0.count) }
}

/// Counts shown by the progress line (the fetching coroutines share one hub).
final class Progress {
    var pages = 0
    var bytes = 0
    var errors = 0
    var line: String { "fetched \(pages) pages, \(bytes / 1024) KiB, \(errors) errors" }
}

func fetch(_ url: String, with client: HTTPClient, follow: Bool) -> Fetch {
    var result = Fetch(url: url)
    let start = ContinuousClock.now
    do {
        let response = try client.get(url, timeout: .seconds(15))
        result.status = response.status.code
        let body = try response.readAll(maxBytes: 16 << 20)
        result.bytes = body.count
        if follow && (200..<300).contains(result.status) && (response.headerFields[.contentType] ?? "").contains("html") {
            result.links = links(in: body, of: response.url)
        }
    } catch {
        result.error = "\(error)"
    }
    result.latency = .now - start
    return result
}

/// Crawls breadth first: each level's new URLs are fetched by a `Pool` of `--concurrency`
/// coroutines, until `--count` pages or no new link.
func crawl(_ options: CrawlerCommand) throws {
    var site: LocalSite?
    var frontier = Array(Array(repeating: options.urls, count: options.repetitions).joined())
    var configuration = HTTPClient.Configuration()
    configuration.maxConnectionsPerHost = options.concurrency
    if frontier.isEmpty {
        let local = try startSite(options)
        site = local
        frontier = [local.root]
        if let certificates = local.certificates { configuration.tls = .client(trustRoots: .pemFile(certificates.caFile)) }
    }
    defer { site?.stop() }
    let follow = site != nil
    let client = HTTPClient(configuration: configuration)
    let pool = Pool(size: options.concurrency)
    var seen = Set(frontier)
    var results: [Fetch] = []
    let progress = Progress()
    let start = ContinuousClock.now
    // --count bounds the pages a crawl discovers; URLs given are all fetched.
    let limit = follow ? options.count : frontier.count
    while !frontier.isEmpty && results.count < limit {
        let batch = Array(frontier.prefix(limit - results.count))
        let fetched = try pool.map(batch) { url in
            let result = fetch(url, with: client, follow: follow)
            progress.pages += 1
            progress.bytes += result.bytes
            if result.error != nil { progress.errors += 1 }
            // Redrawn in place on a terminal; written once at the end otherwise.
            if isatty(2) != 0 { printError("\r" + progress.line) }
            return result
        }
        results += fetched
        frontier = []
        for result in fetched {
            for link in result.links where seen.insert(link).inserted { frontier.append(link) }
        }
    }
    let elapsed = ContinuousClock.now - start
    printError(isatty(2) != 0 ? "\n" : progress.line + "\n")
    client.close()

    print(summaryTable(results))
    for result in results where result.error != nil { print("\(result.url): \(result.error!)") }
    let ok = results.filter { $0.error == nil && (200..<300).contains($0.status) }.count
    let failed = results.filter { $0.error != nil }.count
    let bytes = results.reduce(0) { $0 + $1.bytes }
    print("\(results.count) URLs, \(ok) ok, \(results.count - ok - failed) non-2xx, \(failed) failed, "
          + "\(bytes) bytes in \(Int(milliseconds(elapsed).rounded())) ms with \(pool.size) at a time, "
          + "\(Int((Double(results.count) * 1000 / max(milliseconds(elapsed), 0.001)).rounded())) requests/s")
}

CrawlerCommand.main()
