import Weave
import WeaveTLS

/// Contexts for the tests: a server presenting a certificate of `kind`, a client trusting
/// the test CA.
func serverContext(
    _ kind: TestCertificates.Kind = .valid, applicationProtocols: [String] = [], handshakeTimeout: Duration = .seconds(10)
) throws -> TLSContext {
    let certificates = try TestCertificates.shared()
    let (certificate, key) = certificates.server(kind)
    var configuration = TLSConfiguration.server(certificateChain: .file(certificate), privateKey: .file(key),
                                                applicationProtocols: applicationProtocols)
    configuration.handshakeTimeout = handshakeTimeout
    return try TLSContext(configuration: configuration)
}

func clientContext(applicationProtocols: [String] = [], handshakeTimeout: Duration = .seconds(10)) throws -> TLSContext {
    var configuration = TLSConfiguration.client(trustRoots: .pemFile(try TestCertificates.shared().caFile),
                                                applicationProtocols: applicationProtocols)
    configuration.handshakeTimeout = handshakeTimeout
    return try TLSContext(configuration: configuration)
}

/// Echoes what it reads until the peer's close_notify, then sends its own and closes. Each read
/// waits at most `readTimeout`.
func echo<S: ByteStream>(_ stream: S, readTimeout: Duration = .seconds(30)) throws {
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 16 * 1024, alignment: 8)
    defer { buffer.deallocate() }
    while true {
        let count = try stream.read(into: buffer, timeout: readTimeout)
        if count == 0 { break }
        try stream.write(UnsafeRawBufferPointer(rebasing: buffer[..<count]), timeout: .seconds(30))
    }
    try stream.shutdownWrite(timeout: .seconds(10))
}

/// Reads until the end of the stream (at most `limit` bytes).
func readToEnd<S: ByteStream>(_ stream: S, limit: Int = 8 << 20) throws -> [UInt8] {
    var received: [UInt8] = []
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 16 * 1024, alignment: 8)
    defer { buffer.deallocate() }
    while received.count <= limit {
        let count = try stream.read(into: buffer, timeout: .seconds(30))
        if count == 0 { break }
        received += buffer[..<count]
    }
    return received
}
