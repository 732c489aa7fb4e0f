import Testing
import Weave
import WeaveTestSupport
import WeaveTLS

@Suite("TLS connections: echo, ALPN, SNI, close_notify")
struct TLSConnectionTests {
    @Test("1 MiB echoes through TLS, written and read at once by two coroutines; nothing leaks")
    func echoOneMebibyte() async throws {
        let server = try serverContext()
        let client = try clientContext()
        // Made before the hub runs: building it in a debug build holds the loop for a while.
        let payload = (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 11) }
        let (ok, subject, version, liveAfter) = try await onHub { () throws -> (Bool, String?, String?, Int) in
            let echoServer = try StreamServer(port: 0, tls: server) { try echo($0) }
            try echoServer.start()
            var subject: String?
            var version: String?
            var ok = false
            do {
                let connection = try TLSConnection.connect(host: "localhost", port: echoServer.localAddress!.port,
                                                           context: client, timeout: .seconds(10))
                subject = connection.peerCertificate?.subject
                version = connection.negotiatedVersion?.description
                let writer = try spawn {
                    try connection.write(payload, timeout: .seconds(30))
                    try connection.shutdownWrite(timeout: .seconds(10))
                }
                let received = try readToEnd(connection)
                try writer.join()
                ok = received == payload
                connection.close()
            }
            try echoServer.stop(gracePeriod: .seconds(5))
            return (ok, subject, version, client.liveConnections.load(ordering: .relaxed) + server.liveConnections.load(ordering: .relaxed))
        }
        #expect(ok)
        #expect(subject == "CN=localhost")
        #expect(version == "TLSv1.3")
        #expect(liveAfter == 0)
    }

    @Test("ALPN: the server's first choice the client offers; none in common is no ALPN")
    func alpn() async throws {
        let server = try serverContext(applicationProtocols: ["h2", "http/1.1"])
        let both = try clientContext(applicationProtocols: ["http/1.1", "h2"])
        let onlyOld = try clientContext(applicationProtocols: ["http/1.1"])
        let unknown = try clientContext(applicationProtocols: ["weave/1"])
        let results = try await onHub { () throws -> [String?] in
            let seen = Box<[String?]>([])
            let echoServer = try StreamServer(port: 0, tls: server) { connection in
                seen.value.append(connection.negotiatedALPN)
                try echo(connection)
            }
            try echoServer.start()
            var results: [String?] = []
            for context in [both, onlyOld, unknown] {
                let connection = try TLSConnection.connect(host: "localhost", port: echoServer.localAddress!.port, context: context)
                results.append(connection.negotiatedALPN)
                try connection.shutdownWrite()
                _ = try readToEnd(connection)
                connection.close()
            }
            try echoServer.stop(gracePeriod: .seconds(5))
            return results + seen.value
        }
        #expect(results == ["h2", "http/1.1", nil, "h2", "http/1.1", nil])
    }

    @Test("SNI: the server sees the name the client connected to; an IP address sends none and is checked against the IP SAN")
    func serverNameIndication() async throws {
        let server = try serverContext()
        let client = try clientContext()
        let (byName, byAddress, clientName) = try await onHub { () throws -> (String?, String?, String?) in
            let names = Box<[String?]>([])
            let echoServer = try StreamServer(port: 0, tls: server) { connection in
                names.value.append(connection.serverName)
                try echo(connection)
            }
            try echoServer.start()
            let port = echoServer.localAddress!.port
            var clientName: String?
            for host in ["localhost", "127.0.0.1"] {
                let connection = try TLSConnection.connect(host: host, port: port, context: client)
                if host == "localhost" { clientName = connection.serverName }
                try connection.write(Array("ping".utf8))
                try connection.shutdownWrite()
                #expect(try readToEnd(connection) == Array("ping".utf8))
                connection.close()
            }
            try echoServer.stop(gracePeriod: .seconds(5))
            return (names.value.first ?? "missing", names.value.last ?? "missing", clientName)
        }
        #expect(byName == "localhost")
        #expect(byAddress == nil)
        #expect(clientName == "localhost")
    }

    @Test("reads end with 0 after close_notify; a peer that drops the TCP connection without it is a typed error")
    func closeNotify() async throws {
        let server = try serverContext()
        let client = try clientContext()
        let (clean, cleanEnd, cutCode, cutData) = try await onHub { () throws -> ([UInt8], Int, TLSError.Code?, [UInt8]) in
            let listener = try TCPListener.bind(port: 0)
            let port = listener.localAddress!.port
            let serverSide = try spawn {
                // First client: "hi" then a clean close (close_notify).
                let first = try TLSConnection.accept(over: listener.accept(timeout: .seconds(10)), context: server)
                try first.write(Array("hi".utf8))
                first.close()
                // Second: "cut" then the TCP connection closes under TLS.
                let second = try TLSConnection.accept(over: listener.accept(timeout: .seconds(10)), context: server)
                try second.write(Array("cut".utf8))
                second.transport.close()
            }
            let first = try TLSConnection.connect(host: "localhost", port: port, context: client)
            let clean = try readToEnd(first)
            var buffer = [UInt8](repeating: 0, count: 16)
            let cleanEnd = try buffer.withUnsafeMutableBytes { try first.read(into: $0) }
            first.close()
            let second = try TLSConnection.connect(host: "localhost", port: port, context: client)
            var cutData: [UInt8] = []
            var cutCode: TLSError.Code?
            do {
                while true {
                    let count = try buffer.withUnsafeMutableBytes { try second.read(into: $0, timeout: .seconds(10)) }
                    if count == 0 { break }
                    cutData += buffer[..<count]
                }
            } catch let error as TLSError {
                cutCode = error.code
            }
            second.close()
            try serverSide.join()
            listener.close()
            return (clean, cleanEnd, cutCode, cutData)
        }
        #expect(clean == Array("hi".utf8))
        #expect(cleanEnd == 0)
        #expect(cutData == Array("cut".utf8))
        #expect(cutCode == .peerClosedWithoutCloseNotify)
    }

    @Test("operations after close throw IOError.closed; closing twice does nothing")
    func afterClose() async throws {
        let server = try serverContext()
        let client = try clientContext()
        let codes = try await onHub { () throws -> [IOError.Code?] in
            let echoServer = try StreamServer(port: 0, tls: server) { try echo($0) }
            try echoServer.start()
            let connection = try TLSConnection.connect(host: "localhost", port: echoServer.localAddress!.port, context: client)
            connection.close()
            connection.close()
            var codes: [IOError.Code?] = []
            do { try connection.write(Array("x".utf8)) } catch let error as IOError { codes.append(error.code) }
            var buffer = [UInt8](repeating: 0, count: 4)
            do { _ = try buffer.withUnsafeMutableBytes { try connection.read(into: $0) } } catch let error as IOError { codes.append(error.code) }
            codes.append(connection.isClosed && connection.transport.isClosed ? .closed : nil)
            try echoServer.stop(gracePeriod: .seconds(5))
            return codes
        }
        #expect(codes == [.closed, .closed, .closed])
    }
}

@Suite("TLS connections: one reader and one writer at once")
struct TLSFullDuplexTests {
    @Test("a writer parked on a full transport does not hold up the reader (32 MiB echoed, more than the socket buffers)")
    func writerDoesNotBlockReader() async throws {
        let server = try serverContext()
        let client = try clientContext()
        let (sent, received) = try await onHub { () throws -> (Int, Int) in
            let echoServer = try StreamServer(port: 0, tls: server) { try echo($0) }
            try echoServer.start()
            let connection = try TLSConnection.connect(host: "localhost", port: echoServer.localAddress!.port, context: client)
            let chunk = [UInt8](repeating: 0x5a, count: 256 * 1024)
            let writer = try spawn { () throws -> Int in
                for _ in 0..<128 { try connection.write(chunk, timeout: .seconds(30)) }
                try connection.shutdownWrite(timeout: .seconds(10))
                return 128 * chunk.count
            }
            var received = 0
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 8)
            defer { buffer.deallocate() }
            while true {
                let count = try connection.read(into: buffer, timeout: .seconds(30))
                if count == 0 { break }
                received += count
            }
            let sent = try writer.join()
            connection.close()
            try echoServer.stop(gracePeriod: .seconds(5))
            return (sent, received)
        }
        #expect(sent == 32 << 20)
        #expect(received == sent)
    }
}

/// A ByteStream that is not a StreamConnection: forwards to a TCP connection and counts
/// the ciphertext, so TLS runs through the generic transport path.
final class ForwardingStream: ByteStream {
    let inner: TCPConnection
    var bytesRead = 0
    var bytesWritten = 0
    init(_ inner: TCPConnection) { self.inner = inner }
    func read(into buffer: UnsafeMutableRawBufferPointer, timeout: Duration?) throws -> Int {
        let count = try inner.read(into: buffer, timeout: timeout)
        bytesRead += count
        return count
    }
    func write(_ bytes: UnsafeRawBufferPointer, timeout: Duration?) throws {
        try inner.write(bytes, timeout: timeout)
        bytesWritten += bytes.count
    }
    func shutdownWrite(timeout: Duration?) throws { try inner.shutdownWrite(timeout: timeout) }
    func close() { inner.close() }
    var isClosed: Bool { inner.isClosed }
}

@Suite("TLS over any ByteStream")
struct TLSGenericTransportTests {
    @Test("TLS over a ByteStream that is not a StreamConnection: 512 KiB echo, ciphertext counted on both sides")
    func overForwardingStream() async throws {
        let server = try serverContext()
        let client = try clientContext()
        let payload = [UInt8](repeating: 0xa5, count: 512 * 1024)
        let (echoed, clientCounts, serverCounts) = try await onHub { () throws -> (Bool, (Int, Int), (Int, Int)) in
            let listener = try TCPListener.bind(port: 0)
            let serverSide = try spawn { () throws -> (Int, Int) in
                let forwarding = ForwardingStream(try listener.accept(timeout: .seconds(10)))
                let connection = try TLSConnection.accept(over: forwarding, context: server)
                try echo(connection)
                connection.close()
                return (forwarding.bytesRead, forwarding.bytesWritten)
            }
            let forwarding = ForwardingStream(try TCPConnection.connect(host: "127.0.0.1", port: listener.localAddress!.port))
            let connection = try TLSConnection.connect(over: forwarding, context: client, serverName: "localhost")
            let writer = try spawn {
                try connection.write(payload, timeout: .seconds(30))
                try connection.shutdownWrite(timeout: .seconds(10))
            }
            let received = try readToEnd(connection)
            try writer.join()
            connection.close()
            let serverCounts = try serverSide.join()
            listener.close()
            return (received == payload, (forwarding.bytesRead, forwarding.bytesWritten), serverCounts)
        }
        #expect(echoed)
        // Ciphertext is the plaintext plus record overhead, in each direction.
        #expect(clientCounts.1 > payload.count && clientCounts.0 > payload.count)
        #expect(serverCounts.0 == clientCounts.1)
    }
}
