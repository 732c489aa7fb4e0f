import Glibc
import HTTPTypes
import Synchronization
import Weave
import WeaveHTTP
import WeaveTLS

/// The built-in site: `/page/N` (N below `pages`) is an HTML page of a few KiB whose links
/// lead to pages 2N+1 and 2N+2 of its own server and page N of the other one (HTTP and
/// HTTPS link to each other); every fifth page also links to `/missing`, which is 404.
struct Site: Sendable {
    let pages: Int
    /// The other server's origin, once it listens (the servers link to each other).
    let other = OtherOrigin()

    final class OtherOrigin: Sendable {
        let value = Mutex<String?>(nil)
    }

    func handle(_ request: HTTPServerRequest, _ response: HTTPResponseWriter) throws {
        let path = request.head.path ?? "/"
        guard path.hasPrefix("/page/"), let number = Int(path.dropFirst(6)), (0..<pages).contains(number) else {
            return try response.respond(HTTPResponse(status: .notFound, headerFields: [.contentType: "text/plain"]), body: "not found\n")
        }
        var html = "<!doctype html>\n<html><head><title>Page \(number)</title></head><body>\n<h1>Page \(number)</h1>\n"
        for child in [2 * number + 1, 2 * number + 2] where child < pages {
            html += "<p><a href=\"/page/\(child)\">page \(child)</a></p>\n"
        }
        if let otherOrigin = other.value.withLock({ $0 }) { html += "<p><a href=\"\(otherOrigin)/page/\(number)\">the same page on the other server</a></p>\n" }
        if number % 5 == 4 { html += "<p><a href=\"/missing\">a broken link</a></p>\n" }
        // Some text, so that pages differ in size.
        html += String(repeating: "<p>Weave crawls this site with coroutines.</p>\n", count: 10 + number % 40)
        html += "</body></html>\n"
        try response.respond(HTTPResponse(status: .ok, headerFields: [.contentType: "text/html; charset=utf-8"]), body: html)
    }
}

/// A CA and a certificate for 127.0.0.1 and localhost signed by it, made with the
/// `openssl` command line in a temporary directory (removed by ``remove()``).
struct SiteCertificates {
    let directory: String
    var caFile: String { "\(directory)/ca.pem" }
    var certificateFile: String { "\(directory)/site.pem" }
    var keyFile: String { "\(directory)/site.key" }

    /// Makes them; throws when `openssl` is missing or fails.
    static func make() throws -> SiteCertificates {
        var template = Array("/tmp/weave-crawler-XXXXXX".utf8CString)
        guard let created = mkdtemp(&template) else { throw SampleError(message: "mkdtemp failed") }
        let certificates = SiteCertificates(directory: String(cString: created))
        do {
            try certificates.generate()
        } catch {
            certificates.remove()
            throw error
        }
        return certificates
    }

    private func generate() throws {
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        try openssl(["req", "-x509"] + ec + ["-keyout", "\(directory)/ca.key", "-out", caFile, "-days", "1",
                                             "-subj", "/CN=crawler sample CA", "-addext", "basicConstraints=critical,CA:TRUE",
                                             "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
        try openssl(["req", "-new"] + ec + ["-keyout", keyFile, "-out", "\(directory)/site.csr", "-subj", "/CN=localhost"])
        let extensions = "\(directory)/site.ext"
        guard let file = fopen(extensions, "w") else { throw SampleError(message: "cannot write \(extensions)") }
        fputs("subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n", file)
        fclose(file)
        try openssl(["x509", "-req", "-in", "\(directory)/site.csr", "-CA", caFile, "-CAkey", "\(directory)/ca.key",
                     "-set_serial", "1", "-days", "1", "-extfile", extensions, "-out", certificateFile])
    }

    private func openssl(_ arguments: [String]) throws {
        let result = try Command.run("openssl", arguments: arguments, timeout: .seconds(30))
        guard result.isSuccess else { throw SampleError(message: "openssl \(arguments[0]) failed: \(result.errorString)") }
    }

    func remove() {
        for name in ["ca.pem", "ca.key", "site.pem", "site.key", "site.csr", "site.ext", "ca.srl"] { unlink("\(directory)/\(name)") }
        rmdir(directory)
    }
}

/// A response this sample cannot use.
struct SampleError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}
