import Glibc
import Weave
import WeaveTLS

/// One TCP or TLS connection to one server, one command (or one pipeline) in flight at a time.
///
/// ``isReusable`` is false from the moment a command is sent until its whole reply is read:
/// a command interrupted in between (a timeout, a cancellation, a failed read, a malformed
/// reply) leaves it false, and the pool closes the connection rather than reuse a stream in
/// an unknown state. A reply that says no (`NS`, `EX`, `NF`, `SERVER_ERROR`) is a complete
/// reply: the connection stays reusable.
final class MemcachedConnection {
    let server: MemcachedServer
    /// The stream, by kind: each command's I/O runs code specialised for it (a branch, no
    /// dynamic dispatch).
    private let transport: Transport
    private var commands = MemcachedCommandBuffer()
    private let requestTimeout: Duration?
    private let maximumValueSize: Int
    /// Whether the last exchange ended cleanly.
    private(set) var isReusable = true
    /// Values at least this large are written from the caller's array rather than copied
    /// behind the command line (three writes instead of one copy).
    private static let copyLimit = 16 * 1024

    private static let lineEnd: [UInt8] = [UInt8(ascii: "\r"), UInt8(ascii: "\n")]

    private enum Transport {
        /// TCP, read in place from the connection's own buffer.
        case plain(TCPConnection)
        /// TLS over TCP, read in place through a read-ahead buffer.
        case tls(TLSConnection<TCPConnection>, ReadAheadStream<TLSConnection<TCPConnection>>)
    }

    private init(server: MemcachedServer, transport: Transport, requestTimeout: Duration?, maximumValueSize: Int) {
        self.server = server
        self.transport = transport
        self.requestTimeout = requestTimeout
        self.maximumValueSize = maximumValueSize
    }

    /// Connects over TCP, then runs a TLS client handshake when `tlsContext` is given
    /// (checking the certificate against the context's server name, else the host).
    ///
    /// - Throws: ``MemcachedError/Code/connectionFailed`` with the `UVError`, `IOError` or
    ///   `TLSError` as its underlying error; `TimeoutError`, `CancellationError`.
    static func connect(
        to server: MemcachedServer, tlsContext: TLSContext?, connectTimeout: Duration?, requestTimeout: Duration?,
        maximumValueSize: Int
    ) throws -> MemcachedConnection {
        let transport: Transport
        do {
            let tcp = try TCPConnection.connect(host: server.host, port: server.port, timeout: connectTimeout)
            if let tlsContext {
                let tls = try TLSConnection.connect(over: tcp, context: tlsContext,
                                                    serverName: tlsContext.configuration.serverName ?? server.host)
                transport = .tls(tls, ReadAheadStream(tls))
            } else {
                transport = .plain(tcp)
            }
        } catch let error as TLSError {
            throw MemcachedError(.connectionFailed, "TLS handshake failed", server: server, underlying: error)
        } catch let error as UVError {
            throw MemcachedError(.connectionFailed, "connect failed", server: server, underlying: error)
        } catch let error as IOError {
            throw MemcachedError(.connectionFailed, "connect failed", server: server, underlying: error)
        }
        return MemcachedConnection(server: server, transport: transport, requestTimeout: requestTimeout,
                                   maximumValueSize: maximumValueSize)
    }

    var isClosed: Bool {
        switch transport {
        case .plain(let tcp): return tcp.isClosed
        case .tls(let tls, _): return tls.isClosed
        }
    }

    func close() {
        isReusable = false
        switch transport {
        case .plain(let tcp): tcp.close()
        case .tls(let tls, _): tls.close()
        }
    }

    /// Sends one command built by `build` (followed by `value` and `\r\n` when given) and
    /// reads its reply.
    ///
    /// Blocks the calling coroutine until the reply is read or ``requestTimeout`` passes.
    /// - Throws: ``MemcachedError`` (connection failed, protocol, server or client error),
    ///   `TimeoutError`, `CancellationError`.
    func execute(
        _ command: StaticString, valueMode: MemcachedReplyParser.ValueMode = .bytes, value: [UInt8]? = nil,
        _ build: (inout MemcachedCommandBuffer) -> Void
    ) throws -> MemcachedReply {
        let deadline = requestTimeout.map { ContinuousClock.now + $0 }
        isReusable = false
        commands.reset()
        build(&commands)
        try send(command, value: value, deadline: deadline)
        let reply = try readReply(command, valueMode: valueMode, deadline: deadline)
        isReusable = true
        return reply
    }

    /// Sends the commands `build` writes (each with the quiet flag `q`), then `mn`, and hands
    /// every reply before `MN` to `handle`: a pipeline in one write and as few reads as the
    /// replies need.
    func executePipeline(
        _ command: StaticString, _ build: (inout MemcachedCommandBuffer) -> Void, handle: (MemcachedReply) throws -> Void
    ) throws {
        let deadline = requestTimeout.map { ContinuousClock.now + $0 }
        isReusable = false
        commands.reset()
        build(&commands)
        commands.append("mn\r\n")
        try send(command, value: nil, deadline: deadline)
        while true {
            let reply = try readReply(command, valueMode: .bytes, deadline: deadline)
            if reply.status == .noop { break }
            try handle(reply)
        }
        isReusable = true
    }

    private func send(_ command: StaticString, value: [UInt8]?, deadline: ContinuousClock.Instant?) throws {
        do {
            switch transport {
            case .plain(let tcp): try send(value, deadline: deadline, on: tcp)
            case .tls(let tls, _): try send(value, deadline: deadline, on: tls)
            }
        } catch {
            throw wrap(error, command, "send")
        }
    }

    private func send<Stream: ByteStream>(_ value: [UInt8]?, deadline: ContinuousClock.Instant?, on stream: Stream) throws {
        if let value {
            if value.count < Self.copyLimit {
                commands.append(bytes: value)
                commands.append("\r\n")
                try stream.write(commands.bytes, timeout: remaining(deadline))
            } else {
                try stream.write(commands.bytes, timeout: remaining(deadline))
                try stream.write(value, timeout: remaining(deadline))
                try stream.write(Self.lineEnd, timeout: remaining(deadline))
            }
        } else {
            try stream.write(commands.bytes, timeout: remaining(deadline))
        }
    }

    private func readReply(
        _ command: StaticString, valueMode: MemcachedReplyParser.ValueMode, deadline: ContinuousClock.Instant?
    ) throws -> MemcachedReply {
        switch transport {
        case .plain(let tcp): return try readReply(command, valueMode: valueMode, deadline: deadline, from: tcp)
        case .tls(_, let reader): return try readReply(command, valueMode: valueMode, deadline: deadline, from: reader)
        }
    }

    private func readReply<Reader: InPlaceReadable>(
        _ command: StaticString, valueMode: MemcachedReplyParser.ValueMode, deadline: ContinuousClock.Instant?,
        from stream: Reader
    ) throws -> MemcachedReply {
        var needed = 1
        var reply: MemcachedReply?
        let server = self.server
        let maximumValueSize = self.maximumValueSize
        while reply == nil {
            do {
                try stream.withUnsafeReadableBytes(atLeast: needed, timeout: remaining(deadline)) { bytes in
                    guard bytes.count >= needed else {
                        throw MemcachedError(.connectionFailed, "\(command): the server closed the connection", server: server)
                    }
                    switch try MemcachedReplyParser.parse(bytes, valueMode: valueMode, maximumValueSize: maximumValueSize,
                                                          server: server, command: command) {
                    case .complete(let parsed, let consumed):
                        reply = parsed
                        return consumed
                    case .incomplete(let more):
                        needed = more
                        return 0
                    }
                }
            } catch {
                throw wrap(error, command, "receive")
            }
        }
        return reply.unsafelyUnwrapped
    }

    private func remaining(_ deadline: ContinuousClock.Instant?) -> Duration? {
        deadline.map { $0 - .now }
    }

    /// Weave's I/O and TLS errors become ``MemcachedError/Code/connectionFailed``; the rest
    /// (timeouts, cancellation, the parser's own) pass as they are.
    private func wrap(_ error: any Error, _ command: StaticString, _ what: String) -> any Error {
        if error is UVError || error is IOError || error is TLSError {
            return MemcachedError(.connectionFailed, "\(command): \(what) failed", server: server, underlying: error)
        }
        return error
    }
}
