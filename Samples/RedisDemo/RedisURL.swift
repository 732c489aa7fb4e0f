import WeaveRedis

/// `redis://[[user]:password@]host[:port][/database]`, as redis-cli and most clients take it.
struct RedisURL: CustomStringConvertible {
    let configuration: RedisConfiguration
    let description: String

    init(_ text: String) throws {
        guard text.hasPrefix("redis://") else { throw DemoError("--url must start with redis://, not '\(text)'") }
        var rest = Substring(text.dropFirst("redis://".count))
        var username: String?
        var password: String?
        if let at = rest.lastIndex(of: "@") {
            let credentials = rest[..<at]
            rest = rest[rest.index(after: at)...]
            if let colon = credentials.firstIndex(of: ":") {
                username = credentials[..<colon].isEmpty ? nil : String(credentials[..<colon])
                password = String(credentials[credentials.index(after: colon)...])
            } else {
                password = String(credentials)
            }
        }
        var database = 0
        if let slash = rest.firstIndex(of: "/") {
            let path = rest[rest.index(after: slash)...]
            rest = rest[..<slash]
            if !path.isEmpty {
                guard let number = Int(path), number >= 0 else { throw DemoError("--url: bad database number '\(path)'") }
                database = number
            }
        }
        var host = String(rest)
        var port = 6379
        if let colon = rest.lastIndex(of: ":") {
            guard let number = Int(rest[rest.index(after: colon)...]), (1...65535).contains(number) else {
                throw DemoError("--url: bad port in '\(text)'")
            }
            host = String(rest[..<colon])
            port = number
        }
        if host.isEmpty { host = "127.0.0.1" }
        configuration = RedisConfiguration(
            host: host, port: port, username: username, password: password, database: database,
            clientName: "redis-demo", connectTimeout: .seconds(3), commandTimeout: .seconds(10))
        description = "redis://\(host):\(port)/\(database)"
    }
}

/// The demo's own failures (no server, a bad URL), printed by ArgumentParser with exit code 1.
struct DemoError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A value the demo's coroutines share (all on one hub, so no lock).
final class Box<Value> {
    var value: Value
    init(_ value: Value) { self.value = value }
}
