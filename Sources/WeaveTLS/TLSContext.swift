import COpenSSL
import Glibc
import Logging
import Synchronization
import WeaveCore

/// An OpenSSL `SSL_CTX` made once from a ``TLSConfiguration`` and shared by every
/// ``TLSConnection`` made from it: certificates, keys and trust roots are parsed here, not
/// per connection.
///
/// Share one context across connections, coroutines, hubs and threads: it is `Sendable`
/// because it is never changed after `init` (OpenSSL's `SSL_CTX` is safe to use from several
/// threads for making connections once it is configured, and counts its references itself).
///
/// ```swift
/// let context = try TLSContext(configuration: .server(certificateChain: .file("cert.pem"),
///                                                     privateKey: .file("key.pem")))
/// ```
public final class TLSContext: @unchecked Sendable {
    /// What the context was made from.
    public let configuration: TLSConfiguration
    /// The `SSL_CTX`, owned: freed at deinit. Each `SSL` made from it holds a reference of its
    /// own too, so it outlives its connections either way.
    let pointer: OpaquePointer
    /// A server's ALPN names in wire format behind a 2-byte length, read by the selection
    /// callback. Owned, freed at deinit; every connection holds the context, so no callback
    /// runs after that.
    private let serverProtocols: UnsafeMutableRawBufferPointer?
    /// Connections of this context whose `SSL` object is alive (tests check for leaks).
    package let liveConnections = Atomic<Int>(0)
    /// Connections of every context whose `SSL` object is alive.
    package static let liveConnectionsInProcess = Atomic<Int>(0)

    /// Makes the context: reads the PEM files (blocking the thread for a moment, once),
    /// checks that the key matches the certificate, loads the trust roots.
    ///
    /// A client configuration with ``TLSConfiguration/CertificateVerification/none`` logs a
    /// warning through `logger` (default: the current hub's, else `weave`).
    ///
    /// - Throws: ``TLSError`` with ``TLSError/Code/unreadableFile`` (a missing file, named),
    ///   ``TLSError/Code/privateKeyMismatch``, ``TLSError/Code/invalidConfiguration`` (a PEM
    ///   without a certificate or key, a server without a certificate, a bad ALPN name).
    public init(configuration: TLSConfiguration, logger: Logger? = nil) throws {
        let isServer = configuration.role == .server
        let wire = try TLSContext.wireFormat(configuration.applicationProtocols)
        guard let pointer = SSL_CTX_new(isServer ? TLS_server_method() : TLS_client_method()) else {
            throw TLSError(.invalidConfiguration, "SSL_CTX_new failed", reason: TLSError.drainErrorQueue())
        }
        self.configuration = configuration
        self.pointer = pointer
        if isServer && !wire.isEmpty {
            let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: wire.count + 2, alignment: 2)
            storage.storeBytes(of: UInt16(wire.count), as: UInt16.self)
            UnsafeMutableRawBufferPointer(rebasing: storage[2...]).copyBytes(from: wire)
            serverProtocols = storage
        } else {
            serverProtocols = nil
        }
        // From here on, deinit frees what was made if a step throws.
        try configure(isServer: isServer, wire: wire)
        if !isServer && configuration.certificateVerification == .none {
            (logger ?? Hub.current?.logger ?? Logger(label: "weave")).warning(
                "TLS certificate verification is OFF for this client context: any server, or anyone between, will be accepted",
                metadata: ["tls.verification": "none"])
        }
    }

    deinit {
        SSL_CTX_free(pointer)
        serverProtocols?.deallocate()
    }

    private func configure(isServer: Bool, wire: [UInt8]) throws {
        guard weave_SSL_CTX_set_min_proto_version(pointer, Int32(configuration.minimumVersion.rawValue)) == 1 else {
            throw TLSError(.invalidConfiguration, "minimum version \(configuration.minimumVersion) refused",
                           reason: TLSError.drainErrorQueue())
        }
        // Partial writes: a write larger than the outgoing buffer goes out a few records at a
        // time; moving buffer: a retried write may resume from a later offset of the same bytes.
        _ = weave_SSL_CTX_set_mode(pointer, Int(SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER))
        _ = SSL_CTX_set_options(pointer, weave_SSL_OP_NO_RENEGOTIATION())

        if let chain = configuration.certificateChain {
            let certificates = try TLSContext.certificates(from: chain, what: "certificate chain")
            defer { certificates.forEach { X509_free($0) } }
            guard SSL_CTX_use_certificate(pointer, certificates[0]) == 1 else {
                throw TLSError(.invalidConfiguration, "certificate \(chain) refused", reason: TLSError.drainErrorQueue())
            }
            for intermediate in certificates.dropFirst() where weave_SSL_CTX_add1_chain_cert(pointer, intermediate) != 1 {
                throw TLSError(.invalidConfiguration, "intermediate certificate of \(chain) refused", reason: TLSError.drainErrorQueue())
            }
            guard let keySource = configuration.privateKey else {
                throw TLSError(.invalidConfiguration, "certificate chain \(chain) given without its private key")
            }
            let key = try TLSContext.privateKey(from: keySource)
            defer { EVP_PKEY_free(key) }
            guard X509_check_private_key(certificates[0], key) == 1 else {
                _ = TLSError.drainErrorQueue()
                throw TLSError(.privateKeyMismatch, "private key \(keySource) does not belong to certificate \(chain)")
            }
            guard SSL_CTX_use_PrivateKey(pointer, key) == 1 else {
                throw TLSError(.invalidConfiguration, "private key \(keySource) refused", reason: TLSError.drainErrorQueue())
            }
        } else if isServer {
            throw TLSError(.invalidConfiguration, "a server configuration needs a certificate chain and private key")
        } else if configuration.privateKey != nil {
            throw TLSError(.invalidConfiguration, "private key given without its certificate chain")
        }

        let verification = configuration.certificateVerification
        if verification != .none {
            switch configuration.trustRoots.storage {
            case .system:
                guard SSL_CTX_set_default_verify_paths(pointer) == 1 else {
                    throw TLSError(.invalidConfiguration, "the system trust store could not be loaded", reason: TLSError.drainErrorQueue())
                }
            case .pem(let source):
                let roots = try TLSContext.certificates(from: source, what: "trust roots")
                defer { roots.forEach { X509_free($0) } }
                let store = SSL_CTX_get_cert_store(pointer)
                for root in roots where X509_STORE_add_cert(store, root) != 1 {
                    throw TLSError(.invalidConfiguration, "trust root of \(source) refused", reason: TLSError.drainErrorQueue())
                }
            }
            SSL_CTX_set_verify(pointer, isServer ? SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT : SSL_VERIFY_PEER, nil)
        } else {
            SSL_CTX_set_verify(pointer, SSL_VERIFY_NONE, nil)
        }

        if isServer {
            // Sessions resumed from the server's cache must name their context.
            let id: [UInt8] = Array("weave".utf8)
            _ = SSL_CTX_set_session_id_context(pointer, id, UInt32(id.count))
            // One TLS 1.3 session ticket per handshake (OpenSSL's default is two), as Go and
            // most servers send: each costs the server work on every full handshake.
            _ = SSL_CTX_set_num_tickets(pointer, 1)
            // TLS 1.3 suites in the server's order, AES-128-GCM first (as Go's crypto/tls
            // picks): OpenSSL would follow the client, and its clients list AES-256-GCM first,
            // which costs 30-40% more CPU per byte on both sides for no practical gain. A client
            // that puts ChaCha20 first (no AES instructions) still gets ChaCha20.
            guard SSL_CTX_set_ciphersuites(pointer, TLSContext.serverCipherSuites) == 1 else {
                throw TLSError(.invalidConfiguration, "TLS 1.3 cipher suites refused", reason: TLSError.drainErrorQueue())
            }
            _ = SSL_CTX_set_options(pointer, weave_SSL_OP_CIPHER_SERVER_PREFERENCE() | weave_SSL_OP_PRIORITIZE_CHACHA())
            if let serverProtocols {
                SSL_CTX_set_alpn_select_cb(pointer, { _, selected, selectedLength, offered, offeredLength, argument in
                    guard let argument, let selected, let selectedLength, let offered else { return SSL_TLSEXT_ERR_NOACK }
                    let ours = UnsafeRawBufferPointer(start: argument + 2, count: Int(argument.load(as: UInt16.self)))
                    let theirs = UnsafeBufferPointer(start: offered, count: Int(offeredLength))
                    // Server preference: the first of ours the client offers.
                    var index = 0
                    while index < ours.count {
                        let length = Int(ours[index])
                        let name = ours[(index + 1)..<(index + 1 + length)]
                        var other = 0
                        while other < theirs.count {
                            let otherLength = Int(theirs[other])
                            guard other + 1 + otherLength <= theirs.count else { break }
                            if otherLength == length && theirs[(other + 1)..<(other + 1 + otherLength)].elementsEqual(name) {
                                selected.pointee = UnsafePointer(offered + other + 1)
                                selectedLength.pointee = UInt8(otherLength)
                                return SSL_TLSEXT_ERR_OK
                            }
                            other += 1 + otherLength
                        }
                        index += 1 + length
                    }
                    return SSL_TLSEXT_ERR_NOACK
                }, serverProtocols.baseAddress)
            }
        } else if !wire.isEmpty {
            // 0 is success here (unlike the rest of OpenSSL).
            guard SSL_CTX_set_alpn_protos(pointer, wire, UInt32(wire.count)) == 0 else {
                throw TLSError(.invalidConfiguration, "ALPN protocols \(configuration.applicationProtocols) refused")
            }
        }
    }

    /// A server's TLS 1.3 cipher suites, most preferred first.
    private static let serverCipherSuites = "TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_256_GCM_SHA384"

    // MARK: - Reading PEM

    /// ALPN names as length-prefixed bytes.
    private static func wireFormat(_ names: [String]) throws -> [UInt8] {
        var wire: [UInt8] = []
        for name in names {
            let bytes = Array(name.utf8)
            guard (1...255).contains(bytes.count) else {
                throw TLSError(.invalidConfiguration, "ALPN protocol name '\(name)' must be 1 to 255 bytes")
            }
            wire.append(UInt8(bytes.count))
            wire += bytes
        }
        return wire
    }

    /// Every certificate of a PEM source, at least one; the caller frees them.
    private static func certificates(from source: TLSConfiguration.PEMSource, what: String) throws -> [OpaquePointer] {
        let pem = try bytes(of: source)
        return try pem.withUnsafeBytes { raw -> [OpaquePointer] in
            guard let bio = BIO_new_mem_buf(raw.baseAddress, Int32(raw.count)) else {
                throw TLSError(.invalidConfiguration, "BIO_new_mem_buf failed")
            }
            defer { BIO_free(bio) }
            var certificates: [OpaquePointer] = []
            while let certificate = PEM_read_bio_X509(bio, nil, nil, nil) {
                certificates.append(certificate)
            }
            // The loop ends on "no start line" at the end of the text: not an error.
            _ = TLSError.drainErrorQueue()
            guard !certificates.isEmpty else {
                throw TLSError(.invalidConfiguration, "\(what) \(source): no PEM certificate in it")
            }
            return certificates
        }
    }

    /// The private key of a PEM source; the caller frees it.
    private static func privateKey(from source: TLSConfiguration.PEMSource) throws -> OpaquePointer {
        let pem = try bytes(of: source)
        return try pem.withUnsafeBytes { raw -> OpaquePointer in
            guard let bio = BIO_new_mem_buf(raw.baseAddress, Int32(raw.count)) else {
                throw TLSError(.invalidConfiguration, "BIO_new_mem_buf failed")
            }
            defer { BIO_free(bio) }
            guard let key = PEM_read_bio_PrivateKey(bio, nil, nil, nil) else {
                throw TLSError(.invalidConfiguration, "private key \(source): no unencrypted PEM private key in it",
                               reason: TLSError.drainErrorQueue())
            }
            return key
        }
    }

    private static func bytes(of source: TLSConfiguration.PEMSource) throws -> [UInt8] {
        switch source.storage {
        case .bytes(let bytes): return bytes
        case .file(let path): return try readFile(path)
        }
    }

    /// A whole (small) file, with a typed error that names it.
    private static func readFile(_ path: String) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw TLSError(.unreadableFile, "cannot open \(path): \(String(cString: strerror(errno)))")
        }
        defer { Glibc.close(fd) }
        var contents: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            let count = Glibc.read(fd, &chunk, chunk.count)
            if count < 0 {
                if errno == EINTR { continue }
                throw TLSError(.unreadableFile, "cannot read \(path): \(String(cString: strerror(errno)))")
            }
            if count == 0 { break }
            contents += chunk[..<count]
            guard contents.count <= 16 << 20 else {
                throw TLSError(.invalidConfiguration, "\(path) is larger than 16 MiB: not a PEM file")
            }
        }
        return contents
    }
}
