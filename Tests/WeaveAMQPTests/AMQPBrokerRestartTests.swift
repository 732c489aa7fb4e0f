import Testing
import Weave
import WeaveTestSupport
@testable import WeaveAMQP

/// Tests that restart the broker or count its connections: serialized, on a broker of their own.
@Suite("AMQP against a broker that restarts; nothing leaks", .rabbitMQBroker, .serialized)
struct AMQPBrokerRestartTests {
    @Test("Nothing leaks: coroutines and connections back to their baseline")
    func noLeaks() async throws {
        let broker = try RabbitMQBroker.suite
        #expect(establishedConnections(toPort: broker.port) == 0)
        try await onHub {
            let baseline = aliveCoroutines()
            for round in 0..<3 {
                let connection = try AMQPConnection.connect(url: broker.url)
                let channel = try connection.openChannel()
                let queue = uniqueName("leak")
                try channel.queueDeclare(queue, exclusive: true)
                try channel.confirmSelect()
                try channel.publish("x", routingKey: queue)
                let consumer = try channel.consume(queue: queue)
                let reader = try spawn { for delivery in consumer { try? delivery.ack() } }
                let idle = try connection.openChannel()
                // A call interrupted by its timeout abandons its channel.
                _ = try? idle.queueDeclare(uniqueName("t"), exclusive: true, timeout: .nanoseconds(1))
                if round == 2 {
                    // Closed with its channels and consumer still open.
                    connection.close()
                } else {
                    try consumer.cancel()
                    try channel.close()
                    connection.close()
                }
                _ = try reader.join(timeout: .seconds(10))
                #expect(connection.isClosed && channel.isClosed && consumer.isEnded)
            }
            // Let the reader and writer coroutines see their sockets closed.
            for _ in 0..<200 where aliveCoroutines() != baseline { try Coroutine.sleep(for: .milliseconds(10)) }
            #expect(aliveCoroutines() == baseline)
        }
        for _ in 0..<100 where establishedConnections(toPort: broker.port) != 0 { try await Task.sleep(for: .milliseconds(20)) }
        #expect(establishedConnections(toPort: broker.port) == 0)
    }

    @Test("Broker restart: waiting calls and later publishes fail with a typed error; a new connection works")
    func brokerRestart() async throws {
        let broker = try RabbitMQBroker.suite
        try await onHub {
            let connection = try AMQPConnection.connect(url: broker.url)
            defer { connection.close() }
            let channel = try connection.openChannel()
            let queue = uniqueName("durable")
            try channel.queueDeclare(queue, durable: true)
            try channel.confirmSelect()
            try channel.publish("before", routingKey: queue, properties: .persistent)
            let consumerChannel = try connection.openChannel()
            let consumer = try consumerChannel.consume(queue: queue)
            let first = try #require(try consumer.next(timeout: .seconds(10)))
            #expect(first.bodyString == "before")
            // Left unacknowledged: the restarted broker has it again (durable queue, persistent message).
            try blocking(timeout: .seconds(180)) { try broker.restart() }
            #expect(connection.isClosed)
            do {
                try channel.publish("after", routingKey: queue)
                Issue.record("published on a connection the broker closed")
            } catch let error as AMQPError {
                #expect(error.code == .connectionClosed || error.code == .connectionLost)
                if error.code == .connectionClosed { #expect(error.replyCode == AMQPError.ReplyCode.connectionForced) }
            }
            #expect(throws: AMQPError.self) { _ = try consumer.next(timeout: .seconds(1)) }
            let fresh = try AMQPConnection.connect(url: broker.url)
            defer { fresh.close() }
            let again = try fresh.openChannel()
            try again.confirmSelect()
            try again.publish("after", routingKey: queue, properties: .persistent)
            let redelivered = try #require(try again.get(queue: queue))
            #expect(redelivered.bodyString == "before" && redelivered.redelivered)
            try redelivered.ack()
            #expect(try again.get(queue: queue, noAck: true)?.bodyString == "after")
            try again.queueDelete(queue)
        }
    }
}
