import RabbitMQTestSupport
import Testing
import Weave
import WeaveTestSupport
@testable import WeaveAMQP

@Suite("AMQP connections: handshake, failures, heartbeats", .rabbitMQBroker)
struct AMQPConnectionTests {
    @Test("Tuning: channel-max, frame-max and heartbeat agreed with the broker")
    func tuning() async throws {
        try await withConnection({ $0.heartbeat = .seconds(7); $0.frameMax = 65536; $0.channelMax = 64 }) { connection in
            #expect(connection.heartbeat == .seconds(7))
            #expect(connection.frameMax == 65536)
            #expect(connection.channelMax == 64)
            #expect(connection.serverProperties["product"] == .string("RabbitMQ"))
        }
    }

    @Test("A wrong password is ACCESS_REFUSED, typed")
    func wrongPassword() async throws {
        let broker = try RabbitMQBroker.suite
        try await onHub {
            do {
                _ = try AMQPConnection.connect(url: "amqp://guest:wrong@127.0.0.1:\(broker.port)/")
                Issue.record("connected with a wrong password")
            } catch let error as AMQPError {
                #expect(error.code == .accessRefused)
                #expect(error.replyCode == AMQPError.ReplyCode.accessRefused)
                #expect(error.replyText?.contains("ACCESS_REFUSED") == true)
            }
        }
    }

    @Test("An unknown virtual host is refused by the broker")
    func unknownVirtualHost() async throws {
        let broker = try RabbitMQBroker.suite
        try await onHub {
            do {
                _ = try AMQPConnection.connect(url: "amqp://guest:guest@127.0.0.1:\(broker.port)/nowhere")
                Issue.record("opened a missing virtual host")
            } catch let error as AMQPError {
                #expect(error.code == .handshakeFailed || error.code == .accessRefused)
                #expect(error.replyCode != nil)
            }
        }
    }

    @Test("Connect timeout: a peer that accepts and never speaks")
    func connectTimeout() async throws {
        try await onHub {
            let listener = try TCPListener.bind(host: "127.0.0.1", port: 0)
            defer { listener.close() }
            let port = listener.localAddress!.port
            let started = ContinuousClock.now
            #expect(throws: TimeoutError.self) {
                _ = try AMQPConnection.connect(AMQPConfiguration(port: port, connectTimeout: .milliseconds(300)))
            }
            #expect(ContinuousClock.now - started < .seconds(5))
        }
    }

    @Test("Connection refused is the transport's error")
    func connectionRefused() async throws {
        try await onHub {
            let closed = try RefusingLoopbackPort()
            defer { closed.close() }
            #expect(throws: UVError.self) { _ = try AMQPConnection.connect(AMQPConfiguration(port: closed.port)) }
        }
    }

    @Test("A connection error from the broker (504 on an unopened channel) is typed and fails every call")
    func serverClosesConnection() async throws {
        try await withConnection { connection in
            let channel = try connection.openChannel()
            let queue = try channel.queueDeclare("", exclusive: true).name
            let consumer = try channel.consume(queue: queue)
            // A method on a channel that was never opened: the broker closes the connection.
            connection.output.method(channel: 999, .basicQos) {
                $0.writeLong(0)
                $0.writeShort(1)
                $0.writeBits(false)
            }
            connection.wakeWriter()
            // A consumer waiting for deliveries learns why they stopped.
            do {
                _ = try consumer.next(timeout: .seconds(30))
                Issue.record("the consumer got a delivery")
            } catch let error as AMQPError {
                #expect(error.code == .connectionClosed && error.replyCode == 504)
            }
            for _ in 0..<200 where !connection.isClosed { try Coroutine.sleep(for: .milliseconds(25)) }
            #expect(connection.isClosed)
            do {
                _ = try connection.openChannel()
                Issue.record("a channel opened on a closed connection")
            } catch let error as AMQPError {
                #expect(error.code == .connectionClosed)
                #expect(error.replyCode == 504)
                #expect(error.replyText?.contains("CHANNEL_ERROR") == true)
            }
            #expect(channel.isClosed)
        }
    }

    @Test("Heartbeats keep an idle connection open")
    func heartbeatsKeepIdleConnection() async throws {
        try await withConnection({ $0.heartbeat = .seconds(1) }) { connection in
            #expect(connection.heartbeat == .seconds(1))
            let channel = try connection.openChannel()
            try Coroutine.sleep(for: .milliseconds(3500))
            #expect(!connection.isClosed)
            try channel.queueDeclare(uniqueName("alive"), exclusive: true)
        }
    }

    @Test("A silent peer is taken for dead after two heartbeat intervals")
    func deadPeer() async throws {
        try await onHub {
            // A fake broker that completes the handshake, then says nothing more.
            let listener = try TCPListener.bind(host: "127.0.0.1", port: 0)
            defer { listener.close() }
            let port = listener.localAddress!.port
            let fake = try spawn {
                let peer = try listener.accept()
                defer { peer.close() }
                _ = try peer.read(exactly: 8)
                var encoder = AMQPFrameEncoder()
                encoder.method(channel: 0, .connectionStart) {
                    $0.writeOctet(0); $0.writeOctet(9); $0.writeTable([:])
                    $0.writeLongString("PLAIN"); $0.writeLongString("en_US")
                }
                try peer.write(encoder.buffer)
                encoder.buffer = []
                _ = try peer.read(upTo: 4096)
                encoder.method(channel: 0, .connectionTune) { $0.writeShort(16); $0.writeLong(131072); $0.writeShort(1) }
                try peer.write(encoder.buffer)
                encoder.buffer = []
                _ = try peer.read(upTo: 4096)
                encoder.method(channel: 0, .connectionOpenOk) { $0.writeShortString("") }
                try peer.write(encoder.buffer)
                // Read (and drop) the client's heartbeats until it hangs up.
                while try peer.read(upTo: 4096).count > 0 {}
            }
            let connection = try AMQPConnection.connect(AMQPConfiguration(port: port, heartbeat: .seconds(1)))
            defer { connection.close() }
            #expect(connection.heartbeat == .seconds(1))
            for _ in 0..<100 where !connection.isClosed { try Coroutine.sleep(for: .milliseconds(50)) }
            #expect(connection.isClosed)
            do {
                _ = try connection.openChannel()
            } catch let error as AMQPError {
                #expect(error.code == .heartbeatTimeout)
            }
            _ = try? fake.join(timeout: .seconds(5))
        }
    }
}
