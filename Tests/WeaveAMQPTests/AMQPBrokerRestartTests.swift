import RabbitMQTestSupport
import Testing
import Weave
import WeaveTestSupport
@testable import WeaveAMQP

/// Tests that restart the broker, raise its memory alarm or count its connections:
/// serialized, on a broker of their own.
@Suite("AMQP against a broker of its own: restarts, recovery, memory alarm, leaks", .rabbitMQBroker, .serialized)
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

    @Test("Automatic recovery: after a broker restart, channels, a server-named queue, its binding and the consumer come back")
    func automaticRecovery() async throws {
        let broker = try RabbitMQBroker.suite
        try await onHub {
            var configuration = try AMQPConfiguration(url: broker.url)
            configuration.automaticRecovery = true
            configuration.recoveryInterval = .milliseconds(200)
            let baseline = aliveCoroutines()
            let connection = try AMQPConnection.connect(configuration)
            defer { connection.close() }
            let channel = try connection.openChannel()
            let exchange = uniqueName("events")
            try channel.exchangeDeclare(exchange, type: .fanout)
            // Server-named and exclusive: gone with the old connection, made again under a new name.
            let queue = try channel.queueDeclare("", exclusive: true).name
            try channel.queueBind(queue, exchange: exchange)
            try channel.qos(prefetchCount: 10)
            try channel.confirmSelect()
            let consumer = try channel.consume(queue: queue)
            try channel.publish("before", exchange: exchange, routingKey: "")
            let first = try #require(try consumer.next(timeout: .seconds(10)))
            #expect(first.bodyString == "before")
            try first.ack()
            let unacknowledged = try channel.publish("in flight", exchange: exchange, routingKey: "")
            #expect(unacknowledged == 2)
            let stale = try #require(try consumer.next(timeout: .seconds(10)))

            // A publisher that comes while the connection recovers waits for it, then goes through.
            let during = try spawn { () -> UInt64 in
                while !connection.isRecovering { try Coroutine.sleep(for: .milliseconds(20)) }
                return try channel.publish("during", exchange: exchange, routingKey: "", timeout: .seconds(120))
            }
            try blocking(timeout: .seconds(180)) { try broker.restart() }
            for _ in 0..<600 where connection.isRecovering || connection.recoveryCount == 0 { try Coroutine.sleep(for: .milliseconds(50)) }
            #expect(connection.recoveryCount == 1 && !connection.isRecovering && !connection.isClosed)
            #expect(!channel.isClosed && channel.isConfirmMode && !consumer.isEnded)
            #expect(consumer.queue != queue, "a server-named queue gets a new name")
            // Acknowledging a delivery of the lost connection does nothing (and does not close the channel).
            #expect(!stale.isCurrent)
            try stale.ack()
            // Published after the restart: through the recovered exchange and binding, to the same consumer.
            #expect(try during.join(timeout: .seconds(60)) == 1)
            #expect(try channel.publish("after", exchange: exchange, routingKey: "", timeout: .seconds(30)) == 2)
            var bodies: [String] = []
            for _ in 0..<2 {
                let next = try #require(try consumer.next(timeout: .seconds(10)))
                #expect(next.isCurrent)
                bodies.append(next.bodyString)
                try next.ack()
            }
            #expect(bodies == ["during", "after"])
            #expect(try channel.queueDeclare(consumer.queue, passive: true).consumerCount == 1)
            try channel.exchangeDelete(exchange)
            // The first transport's reader, writer and heartbeat ended; the second's end on close.
            connection.close()
            for _ in 0..<200 where aliveCoroutines() != baseline { try Coroutine.sleep(for: .milliseconds(10)) }
            #expect(aliveCoroutines() == baseline)
        }
    }

    @Test("A memory alarm blocks publishers (connection.blocked); clearing it lets them through")
    func blockedByMemoryAlarm() async throws {
        let broker = try RabbitMQBroker.suite
        try await onHub {
            try whileBlockedByMemoryAlarm(broker, queue: "alarm") { connection, channel, queue, first in
                #expect(connection.blockedReason?.contains("memory") == true, "\(String(describing: connection.blockedReason))")
                // Later publishes wait in the client.
                let second = try spawn { try channel.publish("second", routingKey: queue) }
                try Coroutine.sleep(for: .milliseconds(300))
                #expect(!second.isFinished)
                try blocking(timeout: .seconds(120)) { try broker.control(["set_vm_memory_high_watermark", "0.4"]) }
                try first.join(timeout: .seconds(30))
                try second.join(timeout: .seconds(30))
                #expect(!connection.isBlocked)
                var bodies: [String] = []
                for _ in 0..<50 where bodies.count < 2 {
                    if let message = try channel.get(queue: queue, noAck: true) { bodies.append(message.bodyString) } else {
                        try Coroutine.sleep(for: .milliseconds(50))
                    }
                }
                #expect(bodies == ["first", "second"])
            }
        }
    }

    @Test("A publisher parked by connection.blocked gives up at its timeout or on cancellation, having sent nothing")
    func blockedPublisherTimeoutAndCancellation() async throws {
        let broker = try RabbitMQBroker.suite
        try await onHub {
            try whileBlockedByMemoryAlarm(broker, queue: "parked") { connection, channel, queue, first in
                #expect(throws: TimeoutError.self) { try channel.publish("timed out", routingKey: queue, timeout: .milliseconds(200)) }
                let parked = try spawn { try channel.publish("cancelled", routingKey: queue) }
                try Coroutine.sleep(for: .milliseconds(100))
                #expect(!parked.isFinished)
                parked.cancel()
                #expect(throws: CancellationError.self) { try parked.join(timeout: .seconds(10)) }
                let resumed = try spawn { try channel.publish("resumed", routingKey: queue, timeout: .seconds(120)) }
                try blocking(timeout: .seconds(120)) { try broker.control(["set_vm_memory_high_watermark", "0.4"]) }
                try first.join(timeout: .seconds(30))
                try resumed.join(timeout: .seconds(30))
                // Only what was let through reached the broker, in order.
                var bodies: [String] = []
                for _ in 0..<100 where bodies.count < 2 {
                    if let message = try channel.get(queue: queue, noAck: true) { bodies.append(message.bodyString) } else {
                        try Coroutine.sleep(for: .milliseconds(20))
                    }
                }
                try Coroutine.sleep(for: .milliseconds(100))
                if let extra = try channel.get(queue: queue, noAck: true) { bodies.append(extra.bodyString) }
                #expect(bodies == ["first", "resumed"])
            }
        }
    }

    @Test("Publisher confirms after a broker restart: unconfirmed publishes fail with a typed error, later ones are confirmed")
    func confirmsAfterRestart() async throws {
        let broker = try RabbitMQBroker.suite
        try await onHub {
            var configuration = try AMQPConfiguration(url: broker.url)
            configuration.automaticRecovery = true
            configuration.recoveryInterval = .milliseconds(200)
            let connection = try AMQPConnection.connect(configuration)
            defer { connection.close() }
            let channel = try connection.openChannel()
            let queue = uniqueName("confirms")
            try channel.queueDeclare(queue, durable: true)
            try channel.confirmSelect()
            #expect(try channel.publish("before", routingKey: queue, properties: .persistent) == 1)
            // The memory alarm makes the broker stop reading after the first publish it
            // sees, so the publishes written with it stay unconfirmed until the restart.
            try blocking(timeout: .seconds(120)) { try broker.control(["set_vm_memory_high_watermark", "absolute", "1"]) }
            let publishers = try (0..<5).map { index in
                try spawn { () -> Result<UInt64, AMQPError> in
                    do {
                        return .success(try channel.publish("in flight \(index)", routingKey: queue, properties: .persistent,
                                                            timeout: .seconds(120)))
                    } catch let error as AMQPError {
                        return .failure(error)
                    }
                }
            }
            for _ in 0..<600 where !connection.isBlocked { try Coroutine.sleep(for: .milliseconds(50)) }
            #expect(connection.isBlocked)
            #expect(channel.unconfirmedCount > 0)
            // The restart also clears the alarm (a runtime setting).
            try blocking(timeout: .seconds(180)) { try broker.restart() }
            var confirmed: [String] = []
            var failed = 0
            for (index, publisher) in publishers.enumerated() {
                switch try publisher.join(timeout: .seconds(60)) {
                case .success: confirmed.append("in flight \(index)")
                case .failure(let error):
                    failed += 1
                    #expect(error.code == .connectionClosed || error.code == .connectionLost, "\(error)")
                    if error.code == .connectionClosed { #expect(error.replyCode == AMQPError.ReplyCode.connectionForced) }
                }
            }
            #expect(failed > 0, "every in-flight publish was confirmed before the restart")
            for _ in 0..<600 where connection.isRecovering || connection.recoveryCount == 0 { try Coroutine.sleep(for: .milliseconds(50)) }
            #expect(connection.recoveryCount == 1 && channel.isConfirmMode && !channel.isClosed)
            // waitForConfirms reports the lost ones once.
            #expect(throws: AMQPError.self) { try channel.waitForConfirms(timeout: .seconds(10)) }
            try channel.waitForConfirms(timeout: .seconds(10))
            // The recovered channel is in confirm mode again, its sequence numbers start afresh.
            #expect(try channel.publish("after", routingKey: queue, properties: .persistent, timeout: .seconds(30)) == 1)
            for index in 0..<3 { try channel.publish("batch \(index)", routingKey: queue, properties: .persistent, waitForConfirm: false) }
            try channel.waitForConfirms(timeout: .seconds(30))
            #expect(channel.unconfirmedCount == 0)
            // What was confirmed survived the restart (durable queue, persistent messages).
            var bodies: Set<String> = []
            while let message = try channel.get(queue: queue, noAck: true) { bodies.insert(message.bodyString) }
            let expected = Set(["before", "after", "batch 0", "batch 1", "batch 2"] + confirmed)
            #expect(bodies.isSuperset(of: expected), "missing \(expected.subtracting(bodies))")
            try channel.queueDelete(queue)
        }
    }

    /// On a connection of its own to `broker`, with an exclusive queue named after `stem`:
    /// raises a memory alarm (cleared again on the way out), publishes "first" from a
    /// coroutine, which the broker takes before it blocks the connection and says so, and runs
    /// `body` once the connection is blocked.
    private func whileBlockedByMemoryAlarm(
        _ broker: RabbitMQBroker, queue stem: String,
        _ body: (AMQPConnection, AMQPChannel, String, Coroutine<UInt64>) throws -> Void
    ) throws {
        let connection = try AMQPConnection.connect(url: broker.url)
        defer { connection.close() }
        let channel = try connection.openChannel()
        let queue = uniqueName(stem)
        try channel.queueDeclare(queue, exclusive: true)
        try blocking(timeout: .seconds(120)) { try broker.control(["set_vm_memory_high_watermark", "absolute", "1"]) }
        defer { _ = try? blocking(timeout: .seconds(120)) { try broker.control(["set_vm_memory_high_watermark", "0.4"]) } }
        let first = try spawn { try channel.publish("first", routingKey: queue) }
        for _ in 0..<600 where !connection.isBlocked { try Coroutine.sleep(for: .milliseconds(50)) }
        #expect(connection.isBlocked)
        try body(connection, channel, queue, first)
    }

}
