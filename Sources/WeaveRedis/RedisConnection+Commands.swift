import WeaveCore

/// How long a key set with ``RedisConnection/set(_:_:expiration:condition:timeout:)`` lives.
public enum RedisExpiration: Sendable, Hashable {
    /// Expires after this long (`PX`, millisecond precision).
    case after(Duration)
    /// Keeps the expiry the key already has (`KEEPTTL`).
    case keepExisting
}

/// When ``RedisConnection/set(_:_:expiration:condition:timeout:)`` sets a key.
public enum RedisSetCondition: Sendable, Hashable {
    /// Always.
    case always
    /// Only if the key does not exist (`NX`).
    case ifNotExists
    /// Only if the key exists (`XX`).
    case ifExists
}

/// What ``RedisConnection/timeToLive(_:timeout:)`` found.
public enum RedisTimeToLive: Sendable, Hashable {
    /// No such key.
    case noKey
    /// The key exists and does not expire.
    case noExpiry
    /// The key expires after this long.
    case expires(in: Duration)
}

/// Typed helpers for the common commands. Each blocks the calling coroutine until its
/// reply and throws as ``RedisConnection/send(_:timeout:)-([String],_)`` does; `timeout`
/// defaults to ``RedisConfiguration/commandTimeout``. A reply of an unexpected shape is a
/// ``RedisError/Code/protocolError``.
extension RedisConnection {
    /// `PING`: returns the server's answer (`PONG`).
    @discardableResult
    public func ping(timeout: Duration? = nil) throws -> String {
        let reply = try execute(1, command: "PING", timeout: timeout) { $0.append("PING" as StaticString) }
        return try expectString(reply, "PING")
    }

    /// `GET key`: the value as UTF-8 text, or nil when the key does not exist.
    public func get(_ key: String, timeout: Duration? = nil) throws -> String? {
        // The value is decoded as it is parsed: no byte array in between.
        let reply = try execute(2, command: "GET", timeout: timeout, textReply: true) { encoder in
            encoder.append("GET" as StaticString)
            encoder.append(key)
        }
        switch reply {
        case .null: return nil
        case .simpleString(let text): return text
        case .bulkString(let bytes): return String(decoding: bytes, as: UTF8.self)
        default: throw unexpected(reply, "GET")
        }
    }

    /// `GET key`: the value's bytes, or nil when the key does not exist.
    public func getBytes(_ key: String, timeout: Duration? = nil) throws -> [UInt8]? {
        let reply = try execute(2, command: "GET", timeout: timeout) { encoder in
            encoder.append("GET" as StaticString)
            encoder.append(key)
        }
        switch reply {
        case .null: return nil
        case .bulkString(let bytes): return bytes
        default: throw unexpected(reply, "GET")
        }
    }

    /// `SET key value [PX ms | KEEPTTL] [NX | XX]`: returns whether the key was set (false
    /// only when `condition` was not met).
    @discardableResult
    public func set(
        _ key: String, _ value: String, expiration: RedisExpiration? = nil,
        condition: RedisSetCondition = .always, timeout: Duration? = nil
    ) throws -> Bool {
        var value = value
        return try value.withUTF8 { try set(key, bytes: UnsafeRawBufferPointer($0), expiration: expiration, condition: condition, timeout: timeout) }
    }

    /// `SET` with a binary value; see ``set(_:_:expiration:condition:timeout:)``.
    @discardableResult
    public func set(
        _ key: String, bytes value: [UInt8], expiration: RedisExpiration? = nil,
        condition: RedisSetCondition = .always, timeout: Duration? = nil
    ) throws -> Bool {
        try value.withUnsafeBytes { try set(key, bytes: $0, expiration: expiration, condition: condition, timeout: timeout) }
    }

    private func set(
        _ key: String, bytes value: UnsafeRawBufferPointer, expiration: RedisExpiration?,
        condition: RedisSetCondition, timeout: Duration?
    ) throws -> Bool {
        var count = 3
        switch expiration {
        case .after: count += 2
        case .keepExisting: count += 1
        case nil: break
        }
        if condition != .always { count += 1 }
        let reply = try execute(count, command: "SET", timeout: timeout) { encoder in
            encoder.append("SET" as StaticString)
            encoder.append(key)
            encoder.append(value)
            switch expiration {
            case .after(let duration):
                encoder.append("PX" as StaticString)
                encoder.append(Self.milliseconds(duration))
            case .keepExisting:
                encoder.append("KEEPTTL" as StaticString)
            case nil:
                break
            }
            switch condition {
            case .always: break
            case .ifNotExists: encoder.append("NX" as StaticString)
            case .ifExists: encoder.append("XX" as StaticString)
            }
        }
        switch reply {
        case .simpleString: return true
        case .null: return false
        default: throw unexpected(reply, "SET")
        }
    }

    /// `DEL key...`: returns how many of the keys existed.
    @discardableResult
    public func delete(_ keys: [String], timeout: Duration? = nil) throws -> Int {
        try integerCommand("DEL", keys, timeout: timeout)
    }

    /// `EXISTS key...`: returns how many of the keys exist (a key named twice counts twice).
    public func exists(_ keys: [String], timeout: Duration? = nil) throws -> Int {
        try integerCommand("EXISTS", keys, timeout: timeout)
    }

    /// `PEXPIRE key ms`: returns whether the key exists (and now expires after `duration`).
    @discardableResult
    public func expire(_ key: String, after duration: Duration, timeout: Duration? = nil) throws -> Bool {
        try integerCommand("PEXPIRE", [key, String(Self.milliseconds(duration))], timeout: timeout) == 1
    }

    /// `PTTL key`: how long the key has left.
    public func timeToLive(_ key: String, timeout: Duration? = nil) throws -> RedisTimeToLive {
        switch try integerCommand("PTTL", [key], timeout: timeout) {
        case -2: return .noKey
        case -1: return .noExpiry
        case let milliseconds: return .expires(in: .milliseconds(milliseconds))
        }
    }

    /// `INCRBY key amount` (`INCR` for 1): returns the new value.
    ///
    /// Throws ``RedisError/Code/server`` when the value is not an integer.
    @discardableResult
    public func increment(_ key: String, by amount: Int = 1, timeout: Duration? = nil) throws -> Int {
        let reply: RESPValue
        if amount == 1 {
            reply = try execute(2, command: "INCR", timeout: timeout) { encoder in
                encoder.append("INCR" as StaticString)
                encoder.append(key)
            }
        } else {
            reply = try execute(3, command: "INCRBY", timeout: timeout) { encoder in
                encoder.append("INCRBY" as StaticString)
                encoder.append(key)
                encoder.append(amount)
            }
        }
        guard case .integer(let value) = reply else { throw unexpected(reply, "INCRBY") }
        return Int(value)
    }

    // MARK: Hashes

    /// `HSET key field value [field value...]`: returns how many fields were added (not updated).
    @discardableResult
    public func hset(_ key: String, fields: [(field: String, value: String)], timeout: Duration? = nil) throws -> Int {
        precondition(!fields.isEmpty, "HSET needs at least one field")
        return try integerCommand("HSET", [key] + fields.flatMap { [$0.field, $0.value] }, timeout: timeout)
    }

    /// `HSET key field value`: returns whether the field is new.
    @discardableResult
    public func hset(_ key: String, field: String, value: String, timeout: Duration? = nil) throws -> Bool {
        try hset(key, fields: [(field, value)], timeout: timeout) == 1
    }

    /// `HGET key field`: the field's value, or nil.
    public func hget(_ key: String, field: String, timeout: Duration? = nil) throws -> String? {
        let reply = try send(["HGET", key, field], timeout: timeout)
        if reply.isNull { return nil }
        return try expectString(reply, "HGET")
    }

    /// `HGETALL key`: every field and value (empty for a missing key).
    public func hgetall(_ key: String, timeout: Duration? = nil) throws -> [String: String] {
        let reply = try send(["HGETALL", key], timeout: timeout)
        var result: [String: String] = [:]
        switch reply {
        case .map(let pairs):
            for pair in pairs { result[try expectString(pair.key, "HGETALL")] = try expectString(pair.value, "HGETALL") }
        case .array(let values) where values.count % 2 == 0:
            var index = 0
            while index < values.count {
                result[try expectString(values[index], "HGETALL")] = try expectString(values[index + 1], "HGETALL")
                index += 2
            }
        default:
            throw unexpected(reply, "HGETALL")
        }
        return result
    }

    // MARK: Lists

    /// `LPUSH key value...`: returns the list's new length.
    @discardableResult
    public func lpush(_ key: String, _ values: [String], timeout: Duration? = nil) throws -> Int {
        precondition(!values.isEmpty, "LPUSH needs at least one value")
        return try integerCommand("LPUSH", [key] + values, timeout: timeout)
    }

    /// `RPUSH key value...`: returns the list's new length.
    @discardableResult
    public func rpush(_ key: String, _ values: [String], timeout: Duration? = nil) throws -> Int {
        precondition(!values.isEmpty, "RPUSH needs at least one value")
        return try integerCommand("RPUSH", [key] + values, timeout: timeout)
    }

    /// `LPOP key`: the first element, or nil when the list is empty or missing.
    public func lpop(_ key: String, timeout: Duration? = nil) throws -> String? {
        let reply = try send(["LPOP", key], timeout: timeout)
        if reply.isNull { return nil }
        return try expectString(reply, "LPOP")
    }

    /// `LRANGE key start stop`: the elements from `start` to `stop` inclusive (negative
    /// indices count from the end: `0, -1` is the whole list).
    public func lrange(_ key: String, from start: Int, to stop: Int, timeout: Duration? = nil) throws -> [String] {
        try stringArray(send(["LRANGE", key, String(start), String(stop)], timeout: timeout), "LRANGE")
    }

    // MARK: Sets

    /// `SADD key member...`: returns how many members were new.
    @discardableResult
    public func sadd(_ key: String, _ members: [String], timeout: Duration? = nil) throws -> Int {
        precondition(!members.isEmpty, "SADD needs at least one member")
        return try integerCommand("SADD", [key] + members, timeout: timeout)
    }

    /// `SMEMBERS key`: every member (empty for a missing key).
    public func smembers(_ key: String, timeout: Duration? = nil) throws -> Set<String> {
        Set(try stringArray(send(["SMEMBERS", key], timeout: timeout), "SMEMBERS"))
    }

    // MARK: Sorted sets

    /// `ZADD key score member...`: returns how many members were new.
    @discardableResult
    public func zadd(_ key: String, _ members: [(member: String, score: Double)], timeout: Duration? = nil) throws -> Int {
        precondition(!members.isEmpty, "ZADD needs at least one member")
        let reply = try execute(2 + members.count * 2, command: "ZADD", timeout: timeout) { encoder in
            encoder.append("ZADD" as StaticString)
            encoder.append(key)
            for (member, score) in members {
                encoder.append(score)
                encoder.append(member)
            }
        }
        guard case .integer(let count) = reply else { throw unexpected(reply, "ZADD") }
        return Int(count)
    }

    /// `ZRANGE key start stop`: the members by rank, lowest score first.
    public func zrange(_ key: String, from start: Int, to stop: Int, timeout: Duration? = nil) throws -> [String] {
        try stringArray(send(["ZRANGE", key, String(start), String(stop)], timeout: timeout), "ZRANGE")
    }

    /// `ZRANGE key start stop WITHSCORES`: the members by rank with their scores.
    public func zrangeWithScores(
        _ key: String, from start: Int, to stop: Int, timeout: Duration? = nil
    ) throws -> [(member: String, score: Double)] {
        let reply = try send(["ZRANGE", key, String(start), String(stop), "WITHSCORES"], timeout: timeout)
        guard let values = reply.array else { throw unexpected(reply, "ZRANGE") }
        var result: [(member: String, score: Double)] = []
        // RESP3 answers [[member, score], ...]; RESP2 [member, score, member, score, ...].
        if values.allSatisfy({ if case .array = $0 { true } else { false } }) && !values.isEmpty {
            for pair in values {
                guard let elements = pair.array, elements.count == 2, let score = elements[1].double else { throw unexpected(reply, "ZRANGE") }
                result.append((try expectString(elements[0], "ZRANGE"), score))
            }
        } else {
            guard values.count % 2 == 0 else { throw unexpected(reply, "ZRANGE") }
            var index = 0
            while index < values.count {
                guard let score = values[index + 1].double else { throw unexpected(reply, "ZRANGE") }
                result.append((try expectString(values[index], "ZRANGE"), score))
                index += 2
            }
        }
        return result
    }

    // MARK: Scripts

    /// `EVAL script numkeys key... arg...`: the script's reply as it comes.
    ///
    /// Throws ``RedisError/Code/server`` for a script error.
    @discardableResult
    public func eval(_ script: String, keys: [String] = [], arguments: [String] = [], timeout: Duration? = nil) throws -> RESPValue {
        try send(["EVAL", script, String(keys.count)] + keys + arguments, timeout: timeout)
    }

    // MARK: Shared decoding

    private func integerCommand(_ name: StaticString, _ arguments: [String], timeout: Duration?) throws -> Int {
        let reply = try execute(arguments.count + 1, command: "\(name)", timeout: timeout) { encoder in
            encoder.append(name)
            for argument in arguments { encoder.append(argument) }
        }
        guard case .integer(let value) = reply else { throw unexpected(reply, "\(name)") }
        return Int(value)
    }

    private func stringArray(_ reply: RESPValue, _ command: String) throws -> [String] {
        guard let values = reply.array else { throw unexpected(reply, command) }
        return try values.map { try expectString($0, command) }
    }

    private func expectString(_ value: RESPValue, _ command: String) throws -> String {
        guard let text = value.string else { throw unexpected(value, command) }
        return text
    }

    func unexpected(_ reply: RESPValue, _ command: String) -> RedisError {
        RedisError(.protocolError, "\(command) on \(self): unexpected reply \(String(describing: reply).prefix(80))")
    }

    static func milliseconds(_ duration: Duration) -> Int {
        let (seconds, attoseconds) = duration.components
        return Int(seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000)
    }
}
