import COpenSSL
import Glibc
import WeaveCore
import WeaveIO

/// TLS over a `ByteStream` (a `TCPConnection`, a Unix connection, any transport), client
/// or server, whose calls block the calling coroutine only.
///
/// OpenSSL never sees a file descriptor: it reads and writes a pair of memory buffers (a BIO
/// pair), and this type moves ciphertext between them and the transport with the
/// transport's own parking reads and writes. So a handshake, a read or a write parks the
/// coroutine, never the hub. The buffers are made once per connection; a read or a write in
/// steady state allocates nothing.
///
/// ```swift
/// let context = try TLSContext(configuration: .client())
/// let tls = try TLSConnection.connect(host: "example.com", port: 443, context: context)
/// try tls.write(Array("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n".utf8))
/// ```
///
/// A connection is a `ByteStream`, so protocol code generic over `ByteStream` runs over it
/// as over plain TCP. The rules are the transport's: a connection belongs to the hub it was
/// made on; one reader and one writer at a time (each may be a different coroutine). It owns
/// its transport: ``close()`` sends `close_notify` if it can do so at once, then closes the
/// transport. Reading returns 0 only after the peer's `close_notify`; a transport that ends
/// without it throws ``TLSError/Code/peerClosedWithoutCloseNotify`` (the data may have been
/// cut short).
public final class TLSConnection<Transport: ByteStream>: ByteStream, CustomStringConvertible {
    /// The stream the ciphertext travels on. Do not read or write it while the TLS
    /// connection is in use.
    public let transport: Transport
    /// The context the connection was made from (which it keeps alive).
    public let context: TLSContext
    /// The `SSL` object, owned: freed at deinit, not at ``close()``, since a coroutine that
    /// `close` wakes may still be inside a call that uses it.
    private let ssl: OpaquePointer
    /// This side's half of the BIO pair (the `SSL` owns the other half): ciphertext OpenSSL
    /// produced is read out of it, ciphertext from the transport written into it. Owned,
    /// freed at deinit.
    private let network: OpaquePointer
    /// Ciphertext read from a transport other than a `StreamConnection` on its way into
    /// `network`; allocated once, freed at deinit.
    private let inbound: UnsafeMutableRawBufferPointer
    /// The transport when it is a `StreamConnection` (TCP, Unix), whose buffer can be read
    /// in place; nil for other streams.
    private let streamTransport: StreamConnection?
    /// Held while reading the transport: the reader, or a writer OpenSSL asks to read.
    private let receiving = Lock(label: "TLSConnection.receive")
    /// Held while writing the transport: the writer, or a reader OpenSSL made answer.
    private let sending = Lock(label: "TLSConnection.send")
    private let isServer: Bool
    private var handshakeCompleted = false
    private var receivedCloseNotify = false
    private var sentCloseNotify = false

    /// Whether ``close()`` was called.
    public private(set) var isClosed = false
    /// The server name: the one a client sent as SNI (and verified), or the one a server
    /// received. Nil when none was sent (a client connecting to an IP address sends none).
    public private(set) var serverName: String?
    /// The ALPN protocol both sides agreed on, nil when there was none.
    public private(set) var negotiatedALPN: String?
    /// The version negotiated.
    public private(set) var negotiatedVersion: TLSConfiguration.Version?
    /// The cipher suite negotiated, by its IANA name (`TLS_AES_128_GCM_SHA256`; TLS 1.2
    /// suites by their RFC names too, `TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256`). A server
    /// made by ``TLSContext`` prefers AES-128-GCM for TLS 1.3, ChaCha20-Poly1305 for a client
    /// that lists it first.
    public private(set) var negotiatedCipherSuite: String?
    /// The peer's certificate, if it presented one (always for a server's).
    public private(set) var peerCertificate: TLSCertificateSummary?
    /// The name or address a client checks the certificate against.
    private let expectedHostname: String?

    /// Ciphertext ring sizes: inbound above one record (16 KiB plus overhead) so a record
    /// always fits; outbound large enough for a few records per transport write.
    private static var inboundBufferSize: Int { 34 * 1024 }
    private static var outboundBufferSize: Int { 64 * 1024 }

    private init(transport: Transport, context: TLSContext, serverName requested: String?) throws {
        let configuration = context.configuration
        isServer = configuration.role == .server
        var name: String?
        var expected: String?
        if !isServer {
            name = requested ?? configuration.serverName
            if name?.isEmpty == true { name = nil }
            if configuration.certificateVerification == .fullVerification {
                guard let name else {
                    throw TLSError(.invalidConfiguration,
                                   "TLS client to \(transport): no server name to verify the certificate against")
                }
                expected = name
            }
        }
        guard let ssl = SSL_new(context.pointer) else {
            throw TLSError(.invalidConfiguration, "SSL_new failed", reason: TLSError.drainErrorQueue())
        }
        var inside: OpaquePointer?
        var outside: OpaquePointer?
        guard BIO_new_bio_pair(&inside, TLSConnection.outboundBufferSize, &outside, TLSConnection.inboundBufferSize) == 1,
              let inside, let outside else {
            SSL_free(ssl)
            throw TLSError(.invalidConfiguration, "BIO_new_bio_pair failed", reason: TLSError.drainErrorQueue())
        }
        // One reference, used for both directions, goes to the SSL object.
        SSL_set_bio(ssl, inside, inside)
        if isServer {
            SSL_set_accept_state(ssl)
        } else {
            SSL_set_connect_state(ssl)
            if let name {
                if TLSConnection.isIPAddress(name) {
                    // No SNI for an address (RFC 6066); the certificate must list it as an IP SAN.
                    if expected != nil { X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name) }
                } else {
                    _ = weave_SSL_set_tlsext_host_name(ssl, name)
                    if expected != nil {
                        SSL_set_hostflags(ssl, UInt32(X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS))
                        _ = SSL_set1_host(ssl, name)
                    }
                    serverName = name
                }
            }
        }
        self.ssl = ssl
        self.network = outside
        self.transport = transport
        self.streamTransport = transport as? StreamConnection
        self.context = context
        self.expectedHostname = expected
        self.inbound = .allocate(byteCount: streamTransport == nil ? TLSConnection.inboundBufferSize : 0, alignment: 16)
        context.liveConnections.add(1, ordering: .relaxed)
        TLSContext.liveConnectionsInProcess.add(1, ordering: .relaxed)
    }

    deinit {
        close()
        SSL_free(ssl)
        BIO_free(network)
        inbound.deallocate()
        context.liveConnections.subtract(1, ordering: .relaxed)
        TLSContext.liveConnectionsInProcess.subtract(1, ordering: .relaxed)
    }

    // MARK: - Handshakes

    /// Runs a client handshake over `transport`, which the connection then owns.
    ///
    /// Sends `serverName` (default: the configuration's) as SNI unless it is an IP address,
    /// and with ``TLSConfiguration/CertificateVerification/fullVerification`` checks that the
    /// certificate names it (a DNS name, or an IP address against an IP SAN). Blocks the
    /// calling coroutine for at most the context's ``TLSConfiguration/handshakeTimeout``.
    ///
    /// - Throws: ``TLSError``: ``TLSError/Code/certificateExpired``,
    ///   ``TLSError/Code/unknownCertificateAuthority``, ``TLSError/Code/hostnameMismatch``,
    ///   ``TLSError/Code/handshakeTimedOut``, ``TLSError/Code/handshakeFailed`` (an alert, a
    ///   reset: the transport's error is ``TLSError/underlyingError``),
    ///   ``TLSError/Code/invalidConfiguration`` (no name to verify); `CancellationError` if the
    ///   coroutine is cancelled. On any failure the transport is closed.
    public static func connect(over transport: Transport, context: TLSContext, serverName: String? = nil) throws -> TLSConnection {
        precondition(context.configuration.role == .client, "TLSConnection.connect needs a client context")
        let connection: TLSConnection
        do {
            connection = try TLSConnection(transport: transport, context: context, serverName: serverName)
        } catch {
            transport.close()
            throw error
        }
        try connection.handshake()
        return connection
    }

    /// Runs a server handshake over `transport` (an accepted connection), which the
    /// connection then owns. Blocks the calling coroutine for at most the context's
    /// ``TLSConfiguration/handshakeTimeout``; the name the client asked for is then
    /// ``serverName``, the protocol picked ``negotiatedALPN``.
    ///
    /// - Throws: ``TLSError`` (``TLSError/Code/handshakeTimedOut``,
    ///   ``TLSError/Code/handshakeFailed`` with the client's alert or OpenSSL's reason, a
    ///   certificate code when client certificates are verified); `CancellationError`. On
    ///   any failure the transport is closed.
    public static func accept(over transport: Transport, context: TLSContext) throws -> TLSConnection {
        precondition(context.configuration.role == .server, "TLSConnection.accept needs a server context")
        let connection: TLSConnection
        do {
            connection = try TLSConnection(transport: transport, context: context, serverName: nil)
        } catch {
            transport.close()
            throw error
        }
        try connection.handshake()
        return connection
    }

    private func handshake() throws {
        let timeout = context.configuration.handshakeTimeout
        let deadline = ContinuousClock.now + timeout
        do {
            while true {
                ERR_clear_error()
                let result = SSL_do_handshake(ssl)
                if result == 1 {
                    // A TLS 1.3 server has only its session ticket left to send, which no
                    // client waits for: it goes out with the first response (one transport
                    // write, one segment fewer per connection), or before the first read
                    // parks, or with close_notify. Anything else is what the peer waits for.
                    if !(isServer && SSL_version(ssl) == weave_TLS1_3_VERSION()) { try flush(until: deadline) }
                    break
                }
                switch SSL_get_error(ssl, result) {
                case SSL_ERROR_WANT_READ:
                    try flush(until: deadline)
                    guard try receive(until: deadline) else {
                        throw TLSError(.handshakeFailed, "TLS handshake with \(transport) failed: the peer closed the connection",
                                       reason: "unexpected end of stream")
                    }
                case SSL_ERROR_WANT_WRITE:
                    try flush(until: deadline)
                default:
                    let failure = handshakeFailure()
                    // The alert OpenSSL queued tells the peer why; best effort.
                    try? flush(until: min(deadline, .now + .milliseconds(100)))
                    throw failure
                }
            }
        } catch let error as TimeoutError where error.scope == nil {
            close()
            throw TLSError(.handshakeTimedOut, "TLS handshake with \(transport) did not finish within \(timeout)",
                           underlyingError: error)
        } catch let error as UVError {
            close()
            throw TLSError(.handshakeFailed, "TLS handshake with \(transport) failed: \(error)",
                           reason: error.name, underlyingError: error)
        } catch {
            close()
            throw error
        }
        handshakeCompleted = true
        readNegotiatedParameters()
    }

    /// The error for a handshake OpenSSL gave up on: a refused certificate by its verify
    /// result, anything else with OpenSSL's reason.
    private func handshakeFailure() -> TLSError {
        let reason = TLSError.drainErrorQueue()
        if context.configuration.certificateVerification != .none {
            let result = SSL_get_verify_result(ssl)
            if result != X509_V_OK {
                return TLSError.verificationFailure(result, peer: "\(transport)", expectedHostname: expectedHostname)
            }
        }
        return TLSError(.handshakeFailed, "TLS handshake with \(transport) failed", reason: reason ?? "protocol error")
    }

    private func readNegotiatedParameters() {
        var protocolName: UnsafePointer<UInt8>?
        var length: UInt32 = 0
        SSL_get0_alpn_selected(ssl, &protocolName, &length)
        if let protocolName, length > 0 {
            negotiatedALPN = String(decoding: UnsafeBufferPointer(start: protocolName, count: Int(length)), as: UTF8.self)
        }
        if isServer, let name = SSL_get_servername(ssl, Int32(TLSEXT_NAMETYPE_host_name)) {
            serverName = String(cString: name)
        }
        let version = SSL_version(ssl)
        negotiatedVersion = version == weave_TLS1_3_VERSION() ? .tlsv13 : .tlsv12
        if let cipher = SSL_get_current_cipher(ssl), let name = SSL_CIPHER_standard_name(cipher) {
            negotiatedCipherSuite = String(cString: name)
        }
        if let certificate = SSL_get1_peer_certificate(ssl) {
            peerCertificate = TLSCertificateSummary(certificate: certificate)
            X509_free(certificate)
        }
    }

    // MARK: - Reading

    /// Decrypts up to `buffer.count` bytes into `buffer`, waiting (parking the coroutine)
    /// until at least one is there. Returns 0 once the peer has sent `close_notify`.
    ///
    /// - Throws: ``TLSError/Code/peerClosedWithoutCloseNotify`` when the transport ends
    ///   without it, ``TLSError/Code/protocolFailure`` for a refused record or an alert, the
    ///   transport's errors (`UVError`, `IOError.Code.closed`), `TimeoutError` after
    ///   `timeout`, `CancellationError` (the connection stays usable).
    public func read(into buffer: UnsafeMutableRawBufferPointer, timeout: Duration? = nil) throws -> Int {
        guard buffer.count > 0 else { return 0 }
        if isClosed { throw closedError() }
        if receivedCloseNotify { return 0 }
        let deadline = timeout.map { ContinuousClock.now + $0 }
        while true {
            ERR_clear_error()
            var count = 0
            if SSL_read_ex(ssl, buffer.baseAddress, buffer.count, &count) == 1 { return count }
            switch SSL_get_error(ssl, 0) {
            case SSL_ERROR_ZERO_RETURN:
                receivedCloseNotify = true
                return 0
            case SSL_ERROR_WANT_READ:
                // Anything OpenSSL had to answer (a key update) goes out before we wait. Not
                // if a writer is sending: its loop sends these bytes too, and waiting for it
                // would stop this read, which may be what the peer needs to take the write.
                if BIO_ctrl_pending(network) > 0 && !sending.isLocked { try flush(until: deadline) }
                guard try receive(until: deadline) else {
                    throw TLSError(.peerClosedWithoutCloseNotify,
                                   "\(self): the peer ended the connection without close_notify (the data may be truncated)")
                }
            case SSL_ERROR_WANT_WRITE:
                try flush(until: deadline)
            default:
                throw TLSError(.protocolFailure, "TLS read from \(transport) failed", reason: TLSError.drainErrorQueue() ?? "protocol error")
            }
        }
    }

    /// Moves ciphertext from the transport into OpenSSL, parking until some arrives.
    /// Returns false at the end of the transport's stream.
    private func receive(until deadline: ContinuousClock.Instant?) throws -> Bool {
        if receiving.isLocked {
            // Another coroutine reads the transport already (a writer OpenSSL asked to read
            // while the reader waits): what it gets serves us too; retry after it.
            try receiving.acquire(timeout: remaining(deadline))
            try? receiving.release()
            return true
        }
        try receiving.acquire()
        defer { try? receiving.release() }
        let space = Int(BIO_ctrl_get_write_guarantee(network))
        guard space > 0 else { return true }
        if let stream = streamTransport {
            // A StreamConnection lends its read-ahead buffer: one copy fewer.
            var count = 0
            try stream.withUnsafeReadableBytes(timeout: remaining(deadline)) { bytes in
                count = min(bytes.count, space)
                if count > 0 { moveInbound(bytes.baseAddress.unsafelyUnwrapped, count) }
                return count
            }
            return count > 0
        }
        let count = try transport.read(into: UnsafeMutableRawBufferPointer(rebasing: inbound[..<min(space, inbound.count)]),
                                       timeout: remaining(deadline))
        if count == 0 { return false }
        moveInbound(UnsafeRawPointer(inbound.baseAddress.unsafelyUnwrapped), count)
        return true
    }

    /// Hands `count` bytes of ciphertext to OpenSSL; they fit (the caller asked how many do).
    private func moveInbound(_ bytes: UnsafeRawPointer, _ count: Int) {
        let written = BIO_write(network, bytes, Int32(count))
        precondition(written == Int32(count), "TLS inbound buffer took \(written) of \(count) bytes")
    }

    // MARK: - Writing

    /// Encrypts and writes all of `bytes`, parking while the transport is not taking them.
    ///
    /// - Throws: ``TLSError/Code/protocolFailure``, the transport's errors (`UVError` for a
    ///   reset, `IOError.Code.closed`, also after ``shutdownWrite(timeout:)``),
    ///   `TimeoutError`, `CancellationError` (a write interrupted half-way leaves the
    ///   connection unusable: the transport closes).
    public func write(_ bytes: UnsafeRawBufferPointer, timeout: Duration? = nil) throws {
        if isClosed { throw closedError() }
        if sentCloseNotify { throw IOError(.closed, "\(self): its sending side was shut down") }
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        let deadline = timeout.map { ContinuousClock.now + $0 }
        var offset = 0
        while offset < bytes.count {
            ERR_clear_error()
            var written = 0
            if SSL_write_ex(ssl, base + offset, bytes.count - offset, &written) == 1 {
                offset += written
                continue
            }
            switch SSL_get_error(ssl, 0) {
            case SSL_ERROR_WANT_WRITE:
                try flush(until: deadline)
            case SSL_ERROR_WANT_READ:
                guard try receive(until: deadline) else {
                    throw TLSError(.peerClosedWithoutCloseNotify, "\(self): the peer ended the connection without close_notify")
                }
            default:
                throw TLSError(.protocolFailure, "TLS write to \(transport) failed", reason: TLSError.drainErrorQueue() ?? "protocol error")
            }
        }
        try flush(until: deadline)
    }

    /// Sends what OpenSSL produced to the transport, straight from the outbound ring (no copy).
    private func flush(until deadline: ContinuousClock.Instant?) throws {
        guard BIO_ctrl_pending(network) > 0 else { return }
        // One sender at a time; a second waits, then sends whatever is left (maybe nothing).
        try sending.acquire(timeout: remaining(deadline))
        defer { try? sending.release() }
        while true {
            var chunk: UnsafeMutablePointer<CChar>?
            let count = BIO_nread0(network, &chunk)
            guard count > 0, let start = chunk else { return }
            // The ring does not move these bytes while the write parks: OpenSSL only appends.
            try transport.write(UnsafeRawBufferPointer(start: start, count: Int(count)), timeout: remaining(deadline))
            _ = BIO_nread(network, &chunk, count)
        }
    }

    // MARK: - Ending

    /// Sends `close_notify` and then ends the transport's sending side (`shutdown(SHUT_WR)`);
    /// reading still works until the peer's `close_notify`.
    ///
    /// - Throws: the transport's errors, `IOError.Code.closed`, `TimeoutError`, `CancellationError`.
    public func shutdownWrite(timeout: Duration? = nil) throws {
        if isClosed { throw closedError() }
        let deadline = timeout.map { ContinuousClock.now + $0 }
        if !sentCloseNotify {
            sentCloseNotify = true
            while true {
                ERR_clear_error()
                let result = SSL_shutdown(ssl)
                if result >= 0 { break }
                guard SSL_get_error(ssl, result) == SSL_ERROR_WANT_WRITE else {
                    _ = TLSError.drainErrorQueue()
                    break
                }
                try flush(until: deadline)
            }
        }
        try flush(until: deadline)
        try transport.shutdownWrite(timeout: remaining(deadline))
    }

    /// Closes the connection: sends `close_notify` if the transport takes it at once (nothing
    /// else is being sent), then closes the transport. A coroutine blocked reading or writing
    /// gets `IOError.Code.closed`. Never blocks; closing twice does nothing. For a
    /// `close_notify` that waits until it is sent, call ``shutdownWrite(timeout:)`` first.
    public func close() {
        guard !isClosed else { return }
        isClosed = true
        if handshakeCompleted && !sentCloseNotify && !sending.isLocked && !transport.isClosed {
            sentCloseNotify = true
            ERR_clear_error()
            if SSL_shutdown(ssl) < 0 { ERR_clear_error() }
            var chunk: UnsafeMutablePointer<CChar>?
            let count = BIO_nread0(network, &chunk)
            if count > 0, let chunk {
                // Zero timeout: sent if the kernel takes it now; otherwise dropped with the connection.
                try? transport.write(UnsafeRawBufferPointer(start: chunk, count: Int(count)), timeout: .zero)
            }
        }
        transport.close()
    }

    public var description: String { "TLS over \(transport)" }

    private func closedError() -> IOError { IOError(.closed, "\(self) is closed") }

    private func remaining(_ deadline: ContinuousClock.Instant?) -> Duration? {
        guard let deadline else { return nil }
        return max(.zero, deadline - .now)
    }

    private static func isIPAddress(_ name: String) -> Bool {
        var storage = in6_addr()
        return inet_pton(AF_INET, name, &storage) == 1 || inet_pton(AF_INET6, name, &storage) == 1
    }
}
