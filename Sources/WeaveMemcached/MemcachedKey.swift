/// Key checks and the TTL's wire form.
enum MemcachedKey {
    /// The longest key memcached accepts.
    static let maximumLength = 250

    /// Calls `body` with the key's UTF-8 bytes once they are checked.
    ///
    /// - Throws: ``MemcachedError/Code/invalidKey`` for an empty key, one over 250 bytes, or
    ///   one with a space, a control character or DEL (the text protocol splits on them).
    static func withChecked<R>(_ key: String, _ body: (UnsafeBufferPointer<UInt8>) throws -> R) throws -> R {
        var key = key
        return try key.withUTF8 { bytes in
            guard !bytes.isEmpty, bytes.count <= maximumLength else {
                throw MemcachedError(.invalidKey, "key of \(bytes.count) bytes (1...\(maximumLength) allowed)")
            }
            for byte in bytes where byte <= 0x20 || byte == 0x7f {
                throw MemcachedError(.invalidKey, "key '\(MemcachedReplyParser.printable(bytes.prefix(60)))' holds a space or control character")
            }
            return try body(bytes)
        }
    }

    /// memcached's expiry field for `ttl`: 0 for none, -1 for already expired, whole
    /// seconds rounded up, and a Unix time for more than 30 days (the server reads larger
    /// numbers as absolute times).
    static func expiry(_ ttl: Duration?, now: () -> Int64) -> Int64 {
        guard let ttl else { return 0 }
        let (seconds, attoseconds) = ttl.components
        if seconds < 0 || (seconds == 0 && attoseconds <= 0) { return -1 }
        let whole = seconds + (attoseconds > 0 ? 1 : 0)
        if whole > 30 * 24 * 3600 { return now() + whole }
        return whole
    }
}
