import Testing
import Weave
@testable import WeaveIO
import WeaveTestSupport

@Suite("SO_REUSEPORT listeners")
struct ReusePortTests {
    @Test("two listeners bind one address with reusePort, and the kernel spreads connections over both")
    func connectionsSpread() async throws {
        let (first, second, refused) = try await onHub { () throws -> (Int, Int, Bool) in
            let a = try TCPListener.bind(host: "127.0.0.1", port: 0, reusePort: true)
            let port = a.localAddress!.port
            let b = try TCPListener.bind(host: "127.0.0.1", port: port, reusePort: true)
            // A listener that does not ask for it cannot join them.
            var refused = false
            do { _ = try TCPListener.bind(host: "127.0.0.1", port: port) } catch let error as UVError {
                refused = error.name == "EADDRINUSE"
            }
            // Each listener's peers, by port: only this test's clients count (a test running at
            // the same time may connect to a port it used before, which these listeners now hold).
            let peers = [Box<[Int]>([]), Box<[Int]>([])]
            let acceptors = try [a, b].enumerated().map { index, listener in
                try spawn { () throws -> Void in
                    while true {
                        let connection = try listener.accept()
                        peers[index].value.append(connection.peerAddress?.port ?? -1)
                        connection.close()
                    }
                }
            }
            var clients: [TCPConnection] = []
            for _ in 0..<64 { clients.append(try TCPConnection.connect(host: "127.0.0.1", port: port, timeout: .seconds(10))) }
            let ours = Set(clients.compactMap { $0.localAddress?.port })
            func accepted(_ index: Int) -> Int { peers[index].value.filter { ours.contains($0) }.count }
            try withTimeout(.seconds(10)) {
                while accepted(0) + accepted(1) < 64 { try Coroutine.sleep(for: .milliseconds(1)) }
            }
            for client in clients { client.close() }
            for acceptor in acceptors { acceptor.cancel() }
            a.close()
            b.close()
            return (accepted(0), accepted(1), refused)
        }
        #expect(first + second == 64)
        // 64 connections from distinct ports, hashed over two sockets: both get some
        // (all on one would happen with probability 2^-63).
        #expect(first > 0 && second > 0)
        #expect(refused)
    }
}
