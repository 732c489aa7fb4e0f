import Glibc
import Testing
import Weave
@testable import WeaveIO
import WeaveTestSupport
import WeaveTLS

@Suite("TLS handshakes that fail: timeout, reset, cancellation, not TLS")
struct TLSHandshakeFailureTests {
    @Test("a server that never answers: handshakeTimedOut after the configured timeout, transport closed")
    func timeout() async throws {
        let client = try clientContext(handshakeTimeout: .milliseconds(200))
        let (code, closed) = try await onHub { () throws -> (TLSError.Code?, Bool) in
            let listener = try TCPListener.bind(port: 0)
            let silent = try spawn { () throws -> TCPConnection in try listener.accept(timeout: .seconds(10)) }
            let tcp = try TCPConnection.connect(host: "127.0.0.1", port: listener.localAddress!.port)
            var code: TLSError.Code?
            do {
                _ = try TLSConnection.connect(over: tcp, context: client, serverName: "localhost")
            } catch let error as TLSError {
                code = error.code
            }
            try silent.join().close()
            listener.close()
            return (code, tcp.isClosed)
        }
        #expect(code == .handshakeTimedOut)
        #expect(closed)
    }

    @Test("a peer that resets mid-handshake: handshakeFailed carrying ECONNRESET")
    func resetMidHandshake() async throws {
        let client = try clientContext()
        let (code, underlying) = try await onHub { () throws -> (TLSError.Code?, String?) in
            let listener = try TCPListener.bind(port: 0)
            let resetter = try spawn {
                let connection = try listener.accept(timeout: .seconds(10))
                _ = try connection.read(upTo: 5, timeout: .seconds(10))  // part of the ClientHello
                // SO_LINGER 0: close sends RST instead of FIN.
                var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
                setsockopt(connection.fileDescriptor!, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
                connection.close()
            }
            var result: (TLSError.Code?, String?) = (nil, nil)
            do {
                _ = try TLSConnection.connect(host: "localhost", port: listener.localAddress!.port, context: client)
            } catch let error as TLSError {
                result = (error.code, (error.underlyingError as? UVError)?.name)
            }
            try resetter.join()
            listener.close()
            return result
        }
        #expect(code == .handshakeFailed)
        #expect(underlying == "ECONNRESET")
    }

    @Test("cancelling a coroutine mid-handshake throws CancellationError and closes the transport")
    func cancellation() async throws {
        let client = try clientContext()
        let (cancelled, closed) = try await onHub { () throws -> (Bool, Bool) in
            let listener = try TCPListener.bind(port: 0)
            let silent = try spawn { () throws -> TCPConnection in try listener.accept(timeout: .seconds(10)) }
            let tcp = try TCPConnection.connect(host: "127.0.0.1", port: listener.localAddress!.port)
            let connecting = try spawn { () throws -> Bool in
                do {
                    _ = try TLSConnection.connect(over: tcp, context: client, serverName: "localhost")
                    return false
                } catch is CancellationError {
                    return true
                }
            }
            try Coroutine.sleep(for: .milliseconds(50))
            connecting.cancel()
            let cancelled = try connecting.join()
            try silent.join().close()
            listener.close()
            return (cancelled, tcp.isClosed)
        }
        #expect(cancelled)
        #expect(closed)
    }

    @Test("a client that speaks plain text: the server's handshake fails with OpenSSL's reason")
    func notTLS() async throws {
        let server = try serverContext()
        let error = try await onHub { () throws -> TLSError? in
            let listener = try TCPListener.bind(port: 0)
            let serverSide = try spawn { () throws -> TLSError? in
                do {
                    _ = try TLSConnection.accept(over: listener.accept(timeout: .seconds(10)), context: server)
                    return nil
                } catch let error as TLSError {
                    return error
                }
            }
            let plain = try TCPConnection.connect(host: "127.0.0.1", port: listener.localAddress!.port)
            try plain.write("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
            let error = try serverSide.join()
            plain.close()
            listener.close()
            return error
        }
        #expect(error?.code == .handshakeFailed)
        #expect(error?.reason?.isEmpty == false)
    }
}
