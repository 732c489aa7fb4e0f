import RabbitMQTestSupport
import Testing
import Weave
import WeaveIO
import WeaveTLS
import WeaveTestSupport
@testable import WeaveAMQP

/// `amqps` against a broker with a TLS listener whose certificate a test CA signed.
/// Serialized: one test closes every connection of the broker.
@Suite("AMQP over TLS (amqps)", .rabbitMQBroker(tls: AMQPTestCertificates.make(in:)), .serialized)
struct AMQPTLSTests {
    /// The broker's amqps URL, trusting the test CA (the certificate names 127.0.0.1).
    private func trustedURL() throws -> String {
        let broker = try RabbitMQBroker.suite
        let url = try #require(broker.tlsURL)
        let files = try #require(broker.tlsFiles)
        return "\(url)?cacertfile=\(files.caCertificate)"
    }

    @Test("Publish and consume over TLS, the broker verified against a CA file")
    func publishAndConsume() async throws {
        let url = try trustedURL()
        try await onHub {
            let configuration = try AMQPConfiguration(url: url)
            #expect(configuration.tls?.certificateVerification == .fullVerification)
            let connection = try AMQPConnection.connect(configuration)
            defer { connection.close() }
            #expect(connection.stream is TLSConnection<TCPConnection>)
            let channel = try connection.openChannel()
            let queue = uniqueName("tls")
            try channel.queueDeclare(queue, exclusive: true)
            try channel.confirmSelect()
            let consumer = try channel.consume(queue: queue)
            // Larger than a TLS record and than a frame: split both ways.
            let big = [UInt8](repeating: 0x5A, count: 300_000)
            try channel.publish("hello over TLS", routingKey: queue)
            try channel.publish(big, routingKey: queue)
            let first = try #require(try consumer.next(timeout: .seconds(10)))
            #expect(first.bodyString == "hello over TLS")
            try first.ack()
            let second = try #require(try consumer.next(timeout: .seconds(10)))
            #expect(second.body == big)
            try second.ack()
        }
    }

    @Test("A broker certificate from a CA the client does not trust fails with a typed TLS error")
    func unknownAuthority() async throws {
        let broker = try RabbitMQBroker.suite
        let url = try #require(broker.tlsURL)
        let wrongName = "\(try trustedURL())&server_name_indication=wrong.example"
        try await onHub {
            let baseline = aliveCoroutines()
            // The system's store does not hold the test CA.
            do {
                _ = try AMQPConnection.connect(url: url)
                Issue.record("connected to a broker whose CA is not trusted")
            } catch let error as TLSError {
                #expect(error.code == .unknownCertificateAuthority, "\(error)")
            }
            // Trusted CA, but the certificate does not name the host asked for.
            do {
                _ = try AMQPConnection.connect(url: wrongName)
                Issue.record("connected though the certificate names another host")
            } catch let error as TLSError {
                #expect(error.code == .hostnameMismatch, "\(error)")
            }
            #expect(aliveCoroutines() == baseline)
        }
    }

    @Test("Automatic recovery reconnects over TLS after the broker closes the connection")
    func recoveryOverTLS() async throws {
        let broker = try RabbitMQBroker.suite
        let url = try trustedURL()
        try await onHub {
            var configuration = try AMQPConfiguration(url: url)
            configuration.automaticRecovery = true
            configuration.recoveryInterval = .milliseconds(100)
            let connection = try AMQPConnection.connect(configuration)
            defer { connection.close() }
            let firstStream = ObjectIdentifier(connection.stream)
            let context = try #require(connection.tlsContext)
            let channel = try connection.openChannel()
            let queue = try channel.queueDeclare("", exclusive: true).name
            try channel.confirmSelect()
            let consumer = try channel.consume(queue: queue)
            try channel.publish("before", routingKey: queue)
            let before = try #require(try consumer.next(timeout: .seconds(10)))
            #expect(before.bodyString == "before")
            try before.ack()
            try blocking(timeout: .seconds(120)) { try broker.control(["close_all_connections", "weave test"]) }
            for _ in 0..<400 where connection.isRecovering || connection.recoveryCount == 0 { try Coroutine.sleep(for: .milliseconds(50)) }
            #expect(connection.recoveryCount == 1 && !connection.isClosed)
            #expect(ObjectIdentifier(connection.stream) != firstStream && connection.stream is TLSConnection<TCPConnection>)
            #expect(connection.tlsContext === context, "the context made at connect serves the reconnection")
            // The first TLS connection is freed once its reader and writer have ended.
            for _ in 0..<200 where context.liveConnections.load(ordering: .relaxed) != 1 { try Coroutine.sleep(for: .milliseconds(10)) }
            #expect(context.liveConnections.load(ordering: .relaxed) == 1)
            // The recovered (renamed, server-named) queue and its consumer, over the new TLS connection.
            #expect(try channel.publish("after", routingKey: consumer.queue, timeout: .seconds(30)) == 1)
            let after = try #require(try consumer.next(timeout: .seconds(10)))
            #expect(after.bodyString == "after" && after.isCurrent)
            try after.ack()
        }
    }
}
