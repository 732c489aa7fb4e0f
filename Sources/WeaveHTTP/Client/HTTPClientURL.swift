/// An absolute `http`/`https` URL taken apart: what the client connects to and the target
/// it sends. Userinfo is refused, the fragment dropped.
struct HTTPClientURL: Hashable, Sendable, CustomStringConvertible {
    var isHTTPS: Bool
    /// The host as written (an IPv6 literal without its brackets), lowercased.
    var host: String
    var port: Int
    /// The request target: path and query, "/" at least.
    var target: String

    var scheme: String { isHTTPS ? "https" : "http" }
    var defaultPort: Int { isHTTPS ? 443 : 80 }

    /// `host[:port]` as the `Host` field carries it (the port only when not the default).
    var authority: String {
        let host = self.host.contains(":") ? "[\(self.host)]" : self.host
        return port == defaultPort ? host : "\(host):\(port)"
    }

    var description: String { "\(scheme)://\(authority)\(target)" }

    /// Parses `text`; throws ``HTTPClientError/Code/invalidURL`` or ``HTTPClientError/Code/unsupportedScheme``.
    init(_ text: String) throws(HTTPClientError) {
        let bytes = Array(text.utf8)
        guard let colon = bytes.firstIndex(of: UInt8(ascii: ":")), colon > 0 else {
            throw HTTPClientError(.invalidURL, "invalid URL \"\(text)\": no scheme")
        }
        let scheme = String(decoding: bytes[..<colon], as: UTF8.self).lowercased()
        switch scheme {
        case "http": isHTTPS = false
        case "https": isHTTPS = true
        default: throw HTTPClientError(.unsupportedScheme, "unsupported URL scheme \"\(scheme)\" in \"\(text)\"")
        }
        guard bytes.count >= colon + 3, bytes[colon + 1] == UInt8(ascii: "/"), bytes[colon + 2] == UInt8(ascii: "/") else {
            throw HTTPClientError(.invalidURL, "invalid URL \"\(text)\": no \"//\" after the scheme")
        }
        // Spaces and controls are never valid in a URL, and would break the request line;
        // other non-ASCII must be percent-encoded (a server refuses it raw).
        for byte in bytes where byte <= 0x20 || byte >= 0x7F {
            throw HTTPClientError(.invalidURL, "invalid URL \"\(text)\": a space, control or non-ASCII character (percent-encode it)")
        }
        let authorityStart = colon + 3
        var authorityEnd = authorityStart
        while authorityEnd < bytes.count, !"/?#".utf8.contains(bytes[authorityEnd]) { authorityEnd += 1 }
        let authority = bytes[authorityStart..<authorityEnd]
        guard !authority.contains(UInt8(ascii: "@")) else {
            throw HTTPClientError(.invalidURL, "invalid URL \"\(text)\": credentials in URLs are not supported")
        }
        var hostPart = authority[...]
        var portPart: ArraySlice<UInt8>?
        if authority.first == UInt8(ascii: "[") {
            guard let close = authority.firstIndex(of: UInt8(ascii: "]")) else {
                throw HTTPClientError(.invalidURL, "invalid URL \"\(text)\": unterminated IPv6 literal")
            }
            hostPart = authority[(authority.startIndex + 1)..<close]
            let rest = authority[(close + 1)...]
            if !rest.isEmpty {
                guard rest.first == UInt8(ascii: ":") else { throw HTTPClientError(.invalidURL, "invalid URL \"\(text)\": bad port") }
                portPart = rest.dropFirst()
            }
        } else if let portColon = authority.lastIndex(of: UInt8(ascii: ":")) {
            hostPart = authority[..<portColon]
            portPart = authority[(portColon + 1)...]
        }
        guard !hostPart.isEmpty else { throw HTTPClientError(.invalidURL, "invalid URL \"\(text)\": no host") }
        host = String(decoding: hostPart, as: UTF8.self).lowercased()
        port = isHTTPS ? 443 : 80
        if let portPart, !portPart.isEmpty {
            var value = 0
            for byte in portPart {
                guard byte >= 0x30 && byte <= 0x39, value <= 65535 else {
                    throw HTTPClientError(.invalidURL, "invalid URL \"\(text)\": bad port")
                }
                value = value * 10 + Int(byte - 0x30)
            }
            guard (1...65535).contains(value) else { throw HTTPClientError(.invalidURL, "invalid URL \"\(text)\": bad port") }
            port = value
        }
        var targetEnd = authorityEnd
        while targetEnd < bytes.count, bytes[targetEnd] != UInt8(ascii: "#") { targetEnd += 1 }
        var target = String(decoding: bytes[authorityEnd..<targetEnd], as: UTF8.self)
        if target.isEmpty || target.first == "?" { target = "/" + target }
        self.target = target
    }

    /// The URL a `Location` field points to from this one (RFC 3986 reference resolution,
    /// without dot-segment removal): absolute, scheme-relative, absolute-path or relative.
    func resolving(_ location: String) throws(HTTPClientError) -> HTTPClientURL {
        if location.hasPrefix("//") { return try HTTPClientURL("\(scheme):\(location)") }
        if let colon = location.firstIndex(of: ":"),
           location[..<colon].allSatisfy({ $0.isLetter || $0.isNumber || "+-.".contains($0) }),
           !location[..<colon].isEmpty {
            return try HTTPClientURL(location)
        }
        let base = "\(scheme)://\(authority)"
        if location.hasPrefix("/") { return try HTTPClientURL(base + location) }
        let path = target.prefix { $0 != "?" }
        if location.hasPrefix("?") { return try HTTPClientURL(base + path + location) }
        let directory = path[...(path.lastIndex(of: "/") ?? path.startIndex)]
        return try HTTPClientURL(base + directory + location)
    }
}
