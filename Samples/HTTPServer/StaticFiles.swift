// --root DIR: files under DIR, with HEAD, Last-Modified / If-Modified-Since (304), index.html
// for directories, 405 for methods other than GET and HEAD, and no way out of DIR (403/404).
import Glibc
import HTTPTypes
import Weave
import WeaveHTTP

/// Serves the files under a directory.
struct StaticFiles: Sendable {
    /// The directory, with every link resolved (the traversal check compares against it).
    let root: String

    func serve(_ request: HTTPServerRequest, _ response: HTTPResponseWriter) throws {
        let method = request.head.method
        guard method == .get || method == .head else {
            try response.respond(HTTPResponse(status: .methodNotAllowed, headerFields: [.allow: "GET, HEAD"]), body: "method not allowed\n")
            return
        }
        let target = request.head.path ?? "/"
        let pathPart = target.prefix { $0 != "?" && $0 != "#" }
        guard pathPart.hasPrefix("/"), let decoded = percentDecoded(pathPart) else {
            return try response.respond(HTTPResponse(status: .badRequest), body: "bad request\n")
        }
        let segments = decoded.split(separator: "/", omittingEmptySubsequences: true)
        // No "..": the request may not climb out of the root (symbolic links are checked below).
        if segments.contains("..") || decoded.contains("\0") {
            return try response.respond(HTTPResponse(status: .forbidden), body: "forbidden\n")
        }
        var path = root + "/" + segments.joined(separator: "/")
        let file: File
        let status: FileStatus
        do {
            if try File.stat(path).isDirectory { path += "/index.html" }
            // realpath is a quick, cached metadata call: fine on the hub for a sample.
            guard let resolved = realpath(path, nil) else {
                return try response.respond(HTTPResponse(status: .notFound), body: "not found\n")
            }
            let real = String(cString: resolved)
            free(resolved)
            guard real == root || real.hasPrefix(root + "/") else {
                return try response.respond(HTTPResponse(status: .forbidden), body: "forbidden\n")
            }
            file = try File.open(real)
            status = try file.stat()
            guard status.isRegularFile else {
                try? file.close()
                return try response.respond(HTTPResponse(status: .forbidden), body: "forbidden\n")
            }
            path = real
        } catch let error as UVError where error.name == "ENOENT" || error.name == "ENOTDIR" {
            return try response.respond(HTTPResponse(status: .notFound), body: "not found\n")
        } catch let error as UVError where error.name == "EACCES" {
            return try response.respond(HTTPResponse(status: .forbidden), body: "forbidden\n")
        }
        defer { try? file.close() }

        let lastModified = HTTPDate.format(secondsSince1970: status.modificationSeconds)
        if let since = request.head.headerFields[.ifModifiedSince].flatMap(HTTPDate.parse), status.modificationSeconds <= since {
            try response.writeHead(HTTPResponse(status: .notModified, headerFields: [.lastModified: lastModified]))
            return
        }
        let head = HTTPResponse(status: .ok, headerFields: [.contentType: contentType(of: path), .lastModified: lastModified])
        let size = Int(status.size)
        try response.writeHead(head, contentLength: size)
        guard method == .get else { return }
        // Streamed in blocks: memory stays bounded for any file size.
        try withUnsafeTemporaryAllocation(byteCount: 64 * 1024, alignment: 16) { block in
            var offset = 0
            while offset < size {
                let count = try file.read(into: UnsafeMutableRawBufferPointer(rebasing: block[..<min(block.count, size - offset)]),
                                          at: Int64(offset))
                if count == 0 { break }  // the file shrank: finish() reports the short body
                try response.write(UnsafeRawBufferPointer(rebasing: block[..<count]))
                offset += count
            }
        }
        try response.finish()
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
