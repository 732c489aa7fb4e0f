extension MemcachedClient {
    // MARK: - Reading

    /// The value stored under `key`, or nil on a miss (`mg <key> v`).
    ///
    /// Blocks the calling coroutine until the server answers.
    /// - Throws: ``MemcachedError`` (``MemcachedError/Code/invalidKey``, connection,
    ///   protocol and server errors), `TimeoutError` (the pool wait or the request),
    ///   `CancellationError` (the connection is then closed).
    public func get(_ key: String) throws -> [UInt8]? {
        try MemcachedKey.withChecked(key) { key in
            try withConnection(for: key) { connection in
                let reply = try connection.execute("mg") { command in
                    command.append("mg ")
                    command.append(bytes: key)
                    command.append(" v\r\n")
                }
                switch reply.status {
                case .value: return reply.value
                case .miss: return nil
                default: throw unexpected(reply, connection, "mg")
                }
            }
        }
    }

    /// The value under `key` as UTF-8 text, or nil on a miss; see ``get(_:)``.
    public func getString(_ key: String) throws -> String? {
        try get(key).map { String(decoding: $0, as: UTF8.self) }
    }

    /// The value under `key` with its CAS token and client flags, or nil on a miss
    /// (`mg <key> v c f`): the read half of a compare-and-swap.
    ///
    /// Blocks and throws as ``get(_:)``.
    public func getItem(_ key: String) throws -> MemcachedItem? {
        try MemcachedKey.withChecked(key) { key in
            try withConnection(for: key) { connection in
                let reply = try connection.execute("mg") { command in
                    command.append("mg ")
                    command.append(bytes: key)
                    command.append(" v c f\r\n")
                }
                switch reply.status {
                case .value:
                    guard let value = reply.value, let cas = reply.cas else { throw unexpected(reply, connection, "mg") }
                    return MemcachedItem(value: value, cas: cas, flags: reply.clientFlags ?? 0)
                case .miss: return nil
                default: throw unexpected(reply, connection, "mg")
                }
            }
        }
    }

    /// The values of those `keys` that are stored, by key: one pipeline per server (every
    /// key's `mg` with the quiet flag, then `mn`), sent in one write, the servers one after
    /// the other.
    ///
    /// Blocks and throws as ``get(_:)``; a failure on one server fails the whole call.
    public func getMany(_ keys: [String]) throws -> [String: [UInt8]] {
        var byServer = [[Int]](repeating: [], count: pools.count)
        for (position, key) in keys.enumerated() {
            let index = try MemcachedKey.withChecked(key) { pools.count == 1 ? 0 : ring.serverIndex(forHash: MemcachedHashRing.hash($0)) }
            byServer[index].append(position)
        }
        var values: [String: [UInt8]] = [:]
        for (index, positions) in byServer.enumerated() where !positions.isEmpty {
            try pools[index].withConnection { connection in
                try connection.executePipeline("mg", { command in
                    for position in positions {
                        command.append("mg ")
                        command.append(bytes: keys[position].utf8)
                        command.append(" v q")
                        command.appendFlag("O", UInt64(position))
                        command.append("\r\n")
                    }
                }, handle: { reply in
                    // With `q`, misses say nothing: only values come back, each with its opaque.
                    guard reply.status == .value, let opaque = reply.opaque, Int(opaque) < keys.count,
                          let value = reply.value else {
                        throw unexpected(reply, connection, "mg")
                    }
                    values[keys[Int(opaque)]] = value
                })
            }
        }
        return values
    }

    // MARK: - Storing

    /// Stores `value` under `key` (`ms ... MS`), replacing any value; with `cas`, only if
    /// the item's CAS token is still `cas` (see ``getItem(_:)``). Returns the new CAS token.
    ///
    /// - Parameters:
    ///   - key: At most 250 bytes of UTF-8, without spaces or control characters.
    ///   - value: The bytes to store, up to ``Configuration/maximumValueSize``.
    ///   - ttl: How long the value lives; nil (the default) for no expiry, zero or less for
    ///     already expired. Rounded up to whole seconds; over 30 days it is sent as an
    ///     absolute Unix time, as memcached requires.
    ///   - flags: 32 bits stored beside the value (``MemcachedItem/flags``).
    ///   - cas: A token from ``getItem(_:)``: store only if the item still has it.
    /// Blocks the calling coroutine until the server answers.
    /// - Throws: ``MemcachedError`` with ``MemcachedError/Code/exists`` (the CAS token no
    ///   longer matches: someone else stored first) or ``MemcachedError/Code/notFound`` (the
    ///   item is gone), ``MemcachedError/Code/invalidArgument`` (a value over
    ///   ``Configuration/maximumValueSize``), ``MemcachedError/Code/serverError``;
    ///   otherwise as ``get(_:)``.
    @discardableResult
    public func set(_ key: String, _ value: [UInt8], ttl: Duration? = nil, flags: UInt32 = 0, cas: UInt64? = nil) throws -> UInt64 {
        try store(key, value, mode: UInt8(ascii: "S"), ttl: ttl, flags: flags, cas: cas)
    }

    /// Stores `text` as UTF-8; see ``set(_:_:ttl:flags:cas:)-(_,[UInt8],_,_,_)``.
    @discardableResult
    public func set(_ key: String, _ text: String, ttl: Duration? = nil, flags: UInt32 = 0, cas: UInt64? = nil) throws -> UInt64 {
        try store(key, Array(text.utf8), mode: UInt8(ascii: "S"), ttl: ttl, flags: flags, cas: cas)
    }

    /// Stores `value` only if `key` holds nothing (`ms ... ME`); returns the new CAS token.
    ///
    /// - Throws: ``MemcachedError`` with ``MemcachedError/Code/notStored`` if the key
    ///   exists; otherwise as ``set(_:_:ttl:flags:cas:)-(_,[UInt8],_,_,_)``.
    @discardableResult
    public func add(_ key: String, _ value: [UInt8], ttl: Duration? = nil, flags: UInt32 = 0) throws -> UInt64 {
        try store(key, value, mode: UInt8(ascii: "E"), ttl: ttl, flags: flags, cas: nil)
    }

    /// Stores `text` as UTF-8 only if `key` holds nothing; see ``add(_:_:ttl:flags:)-(_,[UInt8],_,_)``.
    @discardableResult
    public func add(_ key: String, _ text: String, ttl: Duration? = nil, flags: UInt32 = 0) throws -> UInt64 {
        try store(key, Array(text.utf8), mode: UInt8(ascii: "E"), ttl: ttl, flags: flags, cas: nil)
    }

    /// Stores `value` only if `key` already holds one (`ms ... MR`); returns the new CAS token.
    ///
    /// - Throws: ``MemcachedError`` with ``MemcachedError/Code/notStored`` if the key is
    ///   missing; otherwise as ``set(_:_:ttl:flags:cas:)-(_,[UInt8],_,_,_)``.
    @discardableResult
    public func replace(_ key: String, _ value: [UInt8], ttl: Duration? = nil, flags: UInt32 = 0) throws -> UInt64 {
        try store(key, value, mode: UInt8(ascii: "R"), ttl: ttl, flags: flags, cas: nil)
    }

    /// Stores `text` as UTF-8 only if `key` holds a value; see ``replace(_:_:ttl:flags:)-(_,[UInt8],_,_)``.
    @discardableResult
    public func replace(_ key: String, _ text: String, ttl: Duration? = nil, flags: UInt32 = 0) throws -> UInt64 {
        try store(key, Array(text.utf8), mode: UInt8(ascii: "R"), ttl: ttl, flags: flags, cas: nil)
    }

    private func store(_ key: String, _ value: [UInt8], mode: UInt8, ttl: Duration?, flags: UInt32, cas: UInt64?) throws -> UInt64 {
        guard value.count <= configuration.maximumValueSize else {
            throw MemcachedError(.invalidArgument, "a value of \(value.count) bytes for '\(key)' is over maximumValueSize (\(configuration.maximumValueSize))")
        }
        let expiry = Self.expiry(ttl)
        return try MemcachedKey.withChecked(key) { key in
            try withConnection(for: key) { connection in
                let reply = try connection.execute("ms", value: value) { command in
                    command.append("ms ")
                    command.append(bytes: key)
                    command.append(UInt8(ascii: " "))
                    command.appendDecimal(UInt64(value.count))
                    if expiry != 0 { command.appendFlag("T", expiry) }
                    if flags != 0 { command.appendFlag("F", UInt64(flags)) }
                    if let cas { command.appendFlag("C", cas) }
                    command.append(" c M")
                    command.append(mode)
                    command.append("\r\n")
                }
                switch reply.status {
                case .stored:
                    guard let cas = reply.cas else { throw unexpected(reply, connection, "ms") }
                    return cas
                case .notStored:
                    throw MemcachedError(.notStored, "ms '\(String(decoding: key, as: UTF8.self))': not stored", server: connection.server)
                case .exists:
                    throw MemcachedError(.exists, "ms '\(String(decoding: key, as: UTF8.self))': CAS token \(cas ?? 0) no longer matches", server: connection.server)
                case .notFound:
                    throw MemcachedError(.notFound, "ms '\(String(decoding: key, as: UTF8.self))': no item to compare CAS token \(cas ?? 0) with", server: connection.server)
                default:
                    throw unexpected(reply, connection, "ms")
                }
            }
        }
    }

    // MARK: - Deleting and touching

    /// Deletes `key` (`md`); with `cas`, only if the item's CAS token is still `cas`.
    /// Returns whether there was an item to delete.
    ///
    /// - Throws: ``MemcachedError`` with ``MemcachedError/Code/exists`` when `cas` no longer
    ///   matches; otherwise as ``get(_:)``.
    @discardableResult
    public func delete(_ key: String, cas: UInt64? = nil) throws -> Bool {
        try MemcachedKey.withChecked(key) { key in
            try withConnection(for: key) { connection in
                let reply = try connection.execute("md") { command in
                    command.append("md ")
                    command.append(bytes: key)
                    if let cas { command.appendFlag("C", cas) }
                    command.append("\r\n")
                }
                switch reply.status {
                case .stored: return true
                case .notFound: return false
                case .exists:
                    throw MemcachedError(.exists, "md '\(String(decoding: key, as: UTF8.self))': CAS token \(cas ?? 0) no longer matches", server: connection.server)
                default: throw unexpected(reply, connection, "md")
                }
            }
        }
    }

    /// Gives `key` a new time to live without reading it (`mg <key> T<ttl>`); nil means no
    /// expiry. Returns whether the key exists.
    ///
    /// Blocks and throws as ``get(_:)``.
    @discardableResult
    public func touch(_ key: String, ttl: Duration?) throws -> Bool {
        let expiry = Self.expiry(ttl)
        return try MemcachedKey.withChecked(key) { key in
            try withConnection(for: key) { connection in
                let reply = try connection.execute("mg") { command in
                    command.append("mg ")
                    command.append(bytes: key)
                    command.appendFlag("T", expiry)
                    command.append("\r\n")
                }
                switch reply.status {
                case .stored: return true
                case .miss: return false
                default: throw unexpected(reply, connection, "mg")
                }
            }
        }
    }

    // MARK: - Counters

    /// Adds `delta` to the decimal number stored under `key` (`ma`) and returns the result
    /// (wrapping at 2⁶⁴, as memcached does).
    ///
    /// - Parameters:
    ///   - key: The counter's key; its value must be a decimal number.
    ///   - delta: How much to add.
    ///   - initial: When given, a missing key is created holding `initial` (returned as is,
    ///     not incremented), expiring after `ttl`; when nil, a missing key throws.
    ///   - ttl: With `initial`, the new item's time to live; nil for none.
    /// - Throws: ``MemcachedError`` with ``MemcachedError/Code/notFound`` (missing key, no
    ///   `initial`), ``MemcachedError/Code/clientError`` (the value is not a number);
    ///   otherwise as ``get(_:)``.
    @discardableResult
    public func increment(_ key: String, by delta: UInt64 = 1, initial: UInt64? = nil, ttl: Duration? = nil) throws -> UInt64 {
        try arithmetic(key, increment: true, delta: delta, initial: initial, ttl: ttl)
    }

    /// Subtracts `delta` from the number under `key` and returns the result, which stops at
    /// 0 (memcached never goes below). Parameters and errors as
    /// ``increment(_:by:initial:ttl:)``.
    @discardableResult
    public func decrement(_ key: String, by delta: UInt64 = 1, initial: UInt64? = nil, ttl: Duration? = nil) throws -> UInt64 {
        try arithmetic(key, increment: false, delta: delta, initial: initial, ttl: ttl)
    }

    private func arithmetic(_ key: String, increment: Bool, delta: UInt64, initial: UInt64?, ttl: Duration?) throws -> UInt64 {
        let expiry = initial == nil ? 0 : max(0, Self.expiry(ttl))
        return try MemcachedKey.withChecked(key) { key in
            try withConnection(for: key) { connection in
                let reply = try connection.execute("ma", valueMode: .number) { command in
                    command.append("ma ")
                    command.append(bytes: key)
                    command.append(increment ? " v MI" : " v MD")
                    if delta != 1 { command.appendFlag("D", delta) }
                    if let initial {
                        command.appendFlag("N", expiry)
                        command.appendFlag("J", initial)
                    }
                    command.append("\r\n")
                }
                switch reply.status {
                case .value:
                    guard let number = reply.number else { throw unexpected(reply, connection, "ma") }
                    return number
                case .notFound:
                    throw MemcachedError(.notFound, "ma '\(String(decoding: key, as: UTF8.self))': no such key", server: connection.server)
                case .notStored:
                    throw MemcachedError(.notStored, "ma '\(String(decoding: key, as: UTF8.self))': could not create the counter", server: connection.server)
                default: throw unexpected(reply, connection, "ma")
                }
            }
        }
    }

    /// A reply the command cannot have: closes the connection (the exchange is not
    /// understood) and makes the protocol error.
    func unexpected(_ reply: MemcachedReply, _ connection: MemcachedConnection, _ command: StaticString) -> MemcachedError {
        connection.close()
        return MemcachedError(.protocolError, "\(command): unexpected reply \(reply.status)", server: connection.server)
    }
}
