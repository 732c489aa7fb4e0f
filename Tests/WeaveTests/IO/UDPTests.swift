import Glibc
import Testing
import Weave
@testable import WeaveCore
import WeaveTestSupport

@Suite("UDP sockets and DatagramServer")
struct UDPTests {
    @Test("round trips through a DatagramServer, with the sender's address")
    func roundTrip() async throws {
        let (replies, senderMatches) = try await onHub { () throws -> ([String], Bool) in
            let server = try DatagramServer(port: 0) { datagram, socket in
                try socket.send([UInt8]("echo: ".utf8) + datagram.bytes, to: datagram.sender)
            }
            try server.start()
            let client = try UDPSocket.bind(host: "127.0.0.1", port: 0)
            defer { client.close() }
            var replies: [String] = []
            var senderMatches = true
            for word in ["one", "two", ""] {
                try client.send(word, to: server.localAddress!)
                let reply = try client.receive(timeout: .seconds(10))
                replies.append(String(decoding: reply.bytes, as: UTF8.self))
                if reply.sender != server.localAddress! { senderMatches = false }
            }
            try server.stop()
            return (replies, senderMatches)
        }
        #expect(replies == ["echo: one", "echo: two", "echo: "])
        #expect(senderMatches)
    }

    @Test("several datagrams in a burst all arrive, in order, to one receiver")
    func burst() async throws {
        let received = try await onHub { () throws -> [UInt8] in
            let receiver = try UDPSocket.bind(port: 0)
            let sender = try UDPSocket.bind(port: 0)
            defer { receiver.close(); sender.close() }
            for index in 0..<50 { try sender.send([UInt8(index)], to: receiver.localAddress!) }
            var received: [UInt8] = []
            for _ in 0..<50 { received += try receiver.receive(timeout: .seconds(10)).bytes }
            return received
        }
        #expect(received == (0..<50).map { UInt8($0) })
    }

    @Test("a receive from a lost peer times out with TimeoutError")
    func lostPeerTimesOut() async throws {
        let operation = try await onHub { () throws -> String in
            let client = try UDPSocket.bind(port: 0)
            defer { client.close() }
            // Nobody listens there: the datagram is lost, no reply ever comes.
            let nobody = try UDPSocket.bind(port: 0)
            let address = nobody.localAddress!
            nobody.close()
            try client.send("anyone?", to: address)
            do {
                _ = try client.receive(timeout: .milliseconds(50))
            } catch let error as TimeoutError {
                return error.operation
            }
            return "received?!"
        }
        #expect(operation.contains("receive"))
    }

    @Test("cancelling a receiver leaks nothing; the socket still works; close wakes a receiver")
    func cancelWhileReceiving() async throws {
        let (cancelled, closedCode, later, resourcesLeft) = try await onHub { () throws -> (Bool, IOError.Code?, String, Int) in
            let hub = Hub.current!
            let resourcesBefore = hub.resources.count
            let socket = try UDPSocket.bind(port: 0)
            let peer = try UDPSocket.bind(port: 0)
            let blocked = try spawn { try socket.receive() }
            try Coroutine.sleep(for: .milliseconds(5))
            blocked.cancel()
            try blocked.wait()
            try peer.send("after", to: socket.localAddress!)
            let later = String(decoding: try socket.receive(timeout: .seconds(10)).bytes, as: UTF8.self)
            let closedReceiver = try spawn { try socket.receive() }
            try Coroutine.sleep(for: .milliseconds(5))
            socket.close()
            peer.close()
            try closedReceiver.wait()
            return (blocked.error is CancellationError, (closedReceiver.error as? IOError)?.code, later,
                    hub.resources.count - resourcesBefore)
        }
        #expect(cancelled)
        #expect(closedCode == .closed)
        #expect(later == "after")
        #expect(resourcesLeft == 0)
    }

    @Test("sending to an invalid address is a typed error naming it")
    func badSend() async throws {
        let description = try await onHub { () throws -> String in
            let socket = try UDPSocket.bind(port: 0)
            defer { socket.close() }
            do {
                try socket.send([UInt8](repeating: 0, count: 70_000), to: try SocketAddress(ip: "127.0.0.1", port: 9))
            } catch let error as UVError {
                return error.description
            }
            return "sent?!"
        }
        #expect(description.contains("127.0.0.1:9"))
        #expect(description.contains("EMSGSIZE"))
    }
}
