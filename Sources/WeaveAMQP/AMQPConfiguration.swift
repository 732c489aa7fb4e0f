import WeaveTLS

/// Where a broker is and how to talk to it: address, credentials, virtual host, TLS, the
/// limits proposed at tuning, and timeouts. Made from an `amqp://` or `amqps://` URL or
/// field by field.
public struct AMQPConfiguration: Sendable, Hashable {
    /// The broker's host name or address.
    public var host: String
    /// The broker's TCP port (5672 by default, 5671 for an `amqps://` URL).
    public var port: Int
    /// The user for PLAIN authentication.
    public var username: String
    /// The password for PLAIN authentication.
    public var password: String
    /// The virtual host opened (`/` by default).
    public var virtualHost: String
    /// The heartbeat interval proposed; the broker's, if smaller and not zero, wins. nil
    /// (or zero) turns heartbeats off when the broker agrees. With heartbeats on, the
    /// connection sends one whenever it has written nothing for an interval, and takes the
    /// broker for dead after two intervals without a byte from it.
    public var heartbeat: Duration?
    /// The largest frame proposed, header included (RabbitMQ's default 131072).
    public var frameMax: Int
    /// The most channels proposed; the smaller of this and the broker's wins.
    public var channelMax: Int
    /// The longest a connect may take: resolution, TCP handshake and the AMQP handshake.
    public var connectTimeout: Duration?
    /// The longest a synchronous method (a declare, `basic.get`, `channel.open`) waits for
    /// the broker's reply unless the call gives its own timeout; nil waits for ever.
    public var operationTimeout: Duration?
    /// Sent to the broker as `connection_name` (shown in its management UI).
    public var connectionName: String?
    /// Whether to reconnect after the connection is lost (a reset, a silent broker, a broker
    /// shutting down with 320) and restore what was made through it: channels under their
    /// numbers with their prefetch and confirm mode, the exchanges, queues (server-named
    /// ones under their new names) and bindings declared, and the consumers under their
    /// tags. Off by default.
    ///
    /// While it reconnects, new calls wait (within their timeouts); calls in flight when the
    /// connection was lost throw the error that lost it, publishes waiting for a confirm
    /// included (they may or may not have reached the broker: publish them again), and
    /// ``AMQPChannel/waitForConfirms(timeout:)`` reports the unconfirmed ones. Deliveries
    /// received before the loss can no longer be acknowledged (the broker redelivers them);
    /// acknowledging them does nothing.
    public var automaticRecovery: Bool
    /// How long to wait before each reconnection attempt when ``automaticRecovery`` is on.
    public var recoveryInterval: Duration
    /// TLS for the connection (`amqps`), or nil for plain TCP (the default).
    ///
    /// A client configuration from WeaveTLS: it verifies the broker's certificate and
    /// hostname unless told otherwise, against `TLSConfiguration.trustRoots` (the system's
    /// store by default; `.pemFile(path)` for a CA file of your own), and sends ``host`` as
    /// SNI unless `TLSConfiguration.serverName` names another. The connection makes one
    /// `TLSContext` from it at connect and reuses it when it reconnects
    /// (``automaticRecovery``). Two configurations with TLS are equal only when their `tls`
    /// came from the same assignment (a `TLSConfiguration` cannot be compared).
    public var tls: TLSConfiguration? {
        get { tlsSettings?.configuration }
        set { tlsSettings = newValue.map(TLSSettings.init) }
    }
    private var tlsSettings: TLSSettings?

    /// Holds ``tls`` so that the configuration stays `Hashable`: compared by identity.
    private final class TLSSettings: Hashable, Sendable {
        let configuration: TLSConfiguration
        init(_ configuration: TLSConfiguration) { self.configuration = configuration }
        static func == (lhs: TLSSettings, rhs: TLSSettings) -> Bool { lhs === rhs }
        func hash(into hasher: inout Hasher) { hasher.combine(ObjectIdentifier(self)) }
    }

    /// Describes a broker at `host:port` with the given credentials.
    public init(
        host: String = "127.0.0.1", port: Int = 5672, username: String = "guest", password: String = "guest",
        virtualHost: String = "/", heartbeat: Duration? = .seconds(60), frameMax: Int = 131_072,
        channelMax: Int = 2047, connectTimeout: Duration? = .seconds(10), operationTimeout: Duration? = .seconds(30),
        connectionName: String? = nil, automaticRecovery: Bool = false, recoveryInterval: Duration = .seconds(1),
        tls: TLSConfiguration? = nil
    ) {
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.virtualHost = virtualHost
        self.heartbeat = heartbeat
        self.frameMax = frameMax
        self.channelMax = channelMax
        self.connectTimeout = connectTimeout
        self.operationTimeout = operationTimeout
        self.connectionName = connectionName
        self.automaticRecovery = automaticRecovery
        self.recoveryInterval = recoveryInterval
        self.tls = tls
    }

    /// Parses `amqp://user:password@host:port/vhost?heartbeat=10&frame_max=131072&channel_max=64&connection_timeout=5000`,
    /// or the same with `amqps://` for TLS.
    ///
    /// Missing parts take the defaults (`guest`, `guest`, port 5672, or 5671 for `amqps`);
    /// user, password and virtual host are percent-decoded (`/%2F` is the virtual host `/`);
    /// an empty path is `/`.
    ///
    /// `amqps` sets ``tls`` to a client configuration that verifies the broker against the
    /// system's trust store and its hostname. Its query may add `cacertfile=/path/ca.pem`
    /// (trust only that CA file), `server_name_indication=name` (the name sent and checked
    /// instead of the host) and `verify=verify_none` (check nothing: for tests only); these
    /// are refused on `amqp`.
    ///
    /// - Throws: ``AMQPError`` with ``AMQPError/Code/invalidURL``, saying what is wrong.
    public init(url: String) throws {
        self.init()
        func invalid(_ why: String) -> AMQPError { AMQPError(.invalidURL, "invalid AMQP URL '\(url)': \(why)") }
        let parts = url.split(separator: "://", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2 else { throw invalid("no scheme (amqp://…)") }
        let scheme = parts[0].lowercased()
        guard scheme == "amqp" || scheme == "amqps" else { throw invalid("scheme '\(scheme)' is neither amqp nor amqps") }
        var tlsOptions: TLSConfiguration? = scheme == "amqps" ? .client() : nil
        if tlsOptions != nil { port = 5671 }
        var rest = parts[1]
        var query: Substring = ""
        if let mark = rest.firstIndex(of: "?") {
            query = rest[rest.index(after: mark)...]
            rest = rest[..<mark]
        }
        var path: Substring?
        if let slash = rest.firstIndex(of: "/") {
            path = rest[rest.index(after: slash)...]
            rest = rest[..<slash]
        }
        if let at = rest.lastIndex(of: "@") {
            let credentials = rest[..<at]
            rest = rest[rest.index(after: at)...]
            if let colon = credentials.firstIndex(of: ":") {
                username = try Self.percentDecoded(credentials[..<colon]) ?? { throw invalid("bad percent-encoding in the user") }()
                password = try Self.percentDecoded(credentials[credentials.index(after: colon)...]) ?? { throw invalid("bad percent-encoding in the password") }()
            } else {
                username = try Self.percentDecoded(credentials) ?? { throw invalid("bad percent-encoding in the user") }()
            }
        }
        var hostPart = rest
        if hostPart.hasPrefix("[") {
            guard let close = hostPart.firstIndex(of: "]") else { throw invalid("unterminated [IPv6 address]") }
            host = String(hostPart[hostPart.index(after: hostPart.startIndex)..<close])
            hostPart = hostPart[hostPart.index(after: close)...]
            if !hostPart.isEmpty {
                guard hostPart.hasPrefix(":") else { throw invalid("junk after the IPv6 address") }
                port = try Self.port(hostPart.dropFirst(), invalid)
            }
        } else if let colon = hostPart.lastIndex(of: ":") {
            host = String(hostPart[..<colon])
            port = try Self.port(hostPart[hostPart.index(after: colon)...], invalid)
        } else {
            host = String(hostPart)
        }
        if host.isEmpty { host = "127.0.0.1" }
        if let path, !path.isEmpty {
            guard let decoded = Self.percentDecoded(path), !path.contains("/") else {
                throw invalid("the virtual host must be one percent-encoded path segment")
            }
            virtualHost = decoded
        }
        for item in query.split(separator: "&") where !item.isEmpty {
            let pair = item.split(separator: "=", maxSplits: 1)
            if pair.count == 2, ["cacertfile", "server_name_indication", "verify"].contains(pair[0]) {
                guard tlsOptions != nil else { throw invalid("'\(pair[0])' needs amqps") }
                guard let value = Self.percentDecoded(pair[1]), !value.isEmpty else { throw invalid("bad query item '\(item)'") }
                switch pair[0] {
                case "cacertfile": tlsOptions?.trustRoots = .pemFile(value)
                case "server_name_indication": tlsOptions?.serverName = value
                default:
                    switch value {
                    case "verify_peer": tlsOptions?.certificateVerification = .fullVerification
                    case "verify_none": tlsOptions?.certificateVerification = .none
                    default: throw invalid("verify must be verify_peer or verify_none, not '\(value)'")
                    }
                }
                continue
            }
            guard pair.count == 2, let number = Int(pair[1]), number >= 0 else { throw invalid("bad query item '\(item)'") }
            switch pair[0] {
            case "heartbeat": heartbeat = number == 0 ? nil : .seconds(number)
            case "frame_max": frameMax = number
            case "channel_max": channelMax = number
            case "connection_timeout": connectTimeout = .milliseconds(number)
            default: throw invalid("unknown query item '\(pair[0])'")
            }
        }
        tls = tlsOptions
    }

    private static func port(_ text: Substring, _ invalid: (String) -> AMQPError) throws -> Int {
        guard let port = Int(text), (1...65535).contains(port) else { throw invalid("port '\(text)' is not 1-65535") }
        return port
    }

    /// `%XX` decoded, or nil when an escape is malformed or the result is not UTF-8.
    static func percentDecoded(_ text: Substring) -> String? {
        var bytes: [UInt8] = []
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "%") {
                guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else { return nil }
                bytes.append(high << 4 | low)
            } else {
                bytes.append(byte)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
