import Testing
import Weave
import WeaveTestSupport
import WeaveTLS

/// A ByteStream over a TCP connection that counts the transport writes TLS makes.
private final class WriteCountingStream: ByteStream {
    let inner: TCPConnection
    var writes = 0
    init(_ inner: TCPConnection) { self.inner = inner }
    func read(into buffer: UnsafeMutableRawBufferPointer, timeout: Duration?) throws -> Int {
        try inner.read(into: buffer, timeout: timeout)
    }
    func write(_ bytes: UnsafeRawBufferPointer, timeout: Duration?) throws {
        writes += 1
        try inner.write(bytes, timeout: timeout)
    }
    func shutdownWrite(timeout: Duration?) throws { try inner.shutdownWrite(timeout: timeout) }
    func close() { inner.close() }
    var isClosed: Bool { inner.isClosed }
}

@Suite("TLS 1.3 server: the session ticket rides with the first response")
struct TLSWriteCoalescingTests {
    @Test("one transport write for the handshake flight, one for ticket + first response; the client reads the response")
    func ticketWithFirstWrite() async throws {
        let server = try serverContext()
        let client = try clientContext()
        let (writes, received) = try await onHub { () throws -> ([Int], [UInt8]) in
            let listener = try TCPListener.bind(port: 0)
            let serverSide = try spawn { () throws -> [Int] in
                let counting = WriteCountingStream(try listener.accept(timeout: .seconds(10)))
                let connection = try TLSConnection.accept(over: counting, context: server)
                let afterHandshake = counting.writes
                try connection.write(Array("hello".utf8), timeout: .seconds(10))
                let afterWrite = counting.writes
                try connection.shutdownWrite(timeout: .seconds(10))
                _ = try readToEnd(connection)
                connection.close()
                return [afterHandshake, afterWrite]
            }
            let connection = try TLSConnection.connect(host: "127.0.0.1", port: listener.localAddress!.port, context: client,
                                                       serverName: "localhost", timeout: .seconds(10))
            let received = try readToEnd(connection)
            try connection.shutdownWrite(timeout: .seconds(10))
            connection.close()
            return (try serverSide.join(), received)
        }
        #expect(writes == [1, 2])
        #expect(received == Array("hello".utf8))
    }

    @Test("a server that waits to read first sends its ticket before it parks, not later")
    func ticketBeforeRead() async throws {
        let server = try serverContext()
        let client = try clientContext()
        let (serverGot, serverWrites) = try await onHub { () throws -> ([UInt8], Int) in
            let listener = try TCPListener.bind(port: 0)
            let reading = Box(false)
            let serverSide = try spawn { () throws -> ([UInt8], Int) in
                let counting = WriteCountingStream(try listener.accept(timeout: .seconds(10)))
                let connection = try TLSConnection.accept(over: counting, context: server)
                // Nothing from the client yet: this read parks (same hub, no yield before it).
                reading.value = true
                let got = try readToEnd(connection)
                let writes = counting.writes
                try connection.shutdownWrite(timeout: .seconds(10))
                connection.close()
                return (got, writes)
            }
            let connection = try TLSConnection.connect(host: "127.0.0.1", port: listener.localAddress!.port, context: client,
                                                       serverName: "localhost", timeout: .seconds(10))
            while !reading.value { try Coroutine.yield() }
            try connection.write(Array("ping".utf8), timeout: .seconds(10))
            try connection.shutdownWrite(timeout: .seconds(10))
            _ = try readToEnd(connection)
            connection.close()
            return try serverSide.join()
        }
        #expect(serverGot == Array("ping".utf8))
        // The flight, then the ticket on its own before the server's read parked.
        #expect(serverWrites == 2)
    }
}
