import RabbitMQTestSupport
import Testing
import Weave
import WeaveTestSupport
@testable import WeaveAMQP

@Suite("AMQP round trips against a real RabbitMQ", .rabbitMQBroker)
struct AMQPRoundTripTests {
    @Test("Exchange-to-exchange and queue bindings route, unbinding stops them, and recovery's record follows")
    func bindAndUnbind() async throws {
        try await withConnection({ $0.automaticRecovery = true }) { connection in
            let channel = try connection.openChannel()
            try channel.confirmSelect()
            let upstream = uniqueName("up"), downstream = uniqueName("down")
            try channel.exchangeDeclare(upstream)
            try channel.exchangeDeclare(downstream)
            defer {
                _ = try? channel.exchangeDelete(upstream)
                _ = try? channel.exchangeDelete(downstream)
            }
            let queue = try channel.queueDeclare("", exclusive: true).name
            try channel.queueBind(queue, exchange: downstream, routingKey: "k", arguments: ["x-note": "q"])
            try channel.exchangeBind(destination: downstream, source: upstream, routingKey: "k")
            #expect(connection.topology.bindings.count == 2)
            // Mandatory and confirmed: an unroutable message throws, so routing is checked without waiting.
            try channel.publish("through both", exchange: upstream, routingKey: "k", mandatory: true)
            #expect(try channel.get(queue: queue, noAck: true)?.bodyString == "through both")
            try channel.exchangeUnbind(destination: downstream, source: upstream, routingKey: "k")
            #expect(connection.topology.bindings.count == 1)
            #expect(throws: AMQPError.self) { try channel.publish("x", exchange: upstream, routingKey: "k", mandatory: true) }
            try channel.publish("direct", exchange: downstream, routingKey: "k", mandatory: true)
            // Unbinding needs the same arguments as binding.
            try channel.queueUnbind(queue, exchange: downstream, routingKey: "k", arguments: ["x-note": "q"])
            #expect(connection.topology.bindings.isEmpty)
            do {
                try channel.publish("y", exchange: downstream, routingKey: "k", mandatory: true)
                Issue.record("routed after queue.unbind")
            } catch let error as AMQPError {
                #expect(error.code == .returned)
            }
            #expect(!channel.isClosed)
        }
    }

    @Test("Declare, bind, publish and consume: body, properties and routing arrive intact")
    func roundTrip() async throws {
        try await withConnection { connection in
            let channel = try connection.openChannel()
            let exchange = uniqueName("ex"), queue = uniqueName("q")
            try channel.exchangeDeclare(exchange, type: .direct, autoDelete: true)
            let state = try channel.queueDeclare(queue, exclusive: true)
            #expect(state.name == queue && state.messageCount == 0 && state.consumerCount == 0)
            try channel.queueBind(queue, exchange: exchange, routingKey: "greetings")
            let properties = AMQPMessageProperties(
                contentType: "text/plain", headers: ["attempt": 3, "origin": "test", "flag": true],
                deliveryMode: .persistent, correlationID: "c-1", replyTo: "replies", messageID: "m-1", timestamp: 1_700_000_000)
            try channel.publish("hello", exchange: exchange, routingKey: "greetings", properties: properties)
            // Larger than frame-max: split into several body frames and joined again.
            let large = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
            try channel.publish(large, exchange: exchange, routingKey: "greetings")
            try channel.publish("nowhere", exchange: exchange, routingKey: "other")
            let consumer = try channel.consume(queue: queue)
            let first = try #require(try consumer.next(timeout: .seconds(10)))
            #expect(first.bodyString == "hello")
            #expect(first.properties == properties)
            #expect(first.exchange == exchange && first.routingKey == "greetings" && !first.redelivered)
            #expect(first.consumerTag == consumer.tag)
            let second = try #require(try consumer.next(timeout: .seconds(10)))
            #expect(second.body == large)
            try second.ack(multiple: true)
            // The unroutable message went nowhere.
            #expect(throws: TimeoutError.self) { try consumer.next(timeout: .milliseconds(300)) }
            try consumer.cancel()
            #expect(try consumer.next() == nil)
            try channel.close()
            #expect(channel.isClosed)
        }
    }

    @Test("10,000 messages with publisher confirms, from 50 coroutines and in a window")
    func tenThousandConfirmed() async throws {
        try await withConnection { connection in
            let channel = try connection.openChannel()
            let queue = uniqueName("confirms")
            try channel.queueDeclare(queue, exclusive: true)
            try channel.confirmSelect()
            #expect(channel.isConfirmMode)
            let publishers = try (0..<50).map { worker in
                try spawn {
                    for index in 0..<100 { try channel.publish("m \(worker) \(index)", routingKey: queue) }
                }
            }
            try joinAll(publishers)
            var last: UInt64 = 0
            for index in 0..<5_000 { last = try channel.publish("w \(index)", routingKey: queue, waitForConfirm: false) }
            #expect(last == 10_000)
            try channel.waitForConfirms(timeout: .seconds(60))
            #expect(channel.unconfirmedCount == 0)
            let state = try channel.queueDeclare(queue, passive: true)
            #expect(state.messageCount == 10_000)
        }
    }

    @Test("Prefetch 1: a slow consumer never holds more than one unacknowledged message")
    func prefetchOne() async throws {
        try await withConnection { connection in
            let channel = try connection.openChannel()
            let queue = uniqueName("slow")
            try channel.queueDeclare(queue, exclusive: true)
            for index in 0..<8 { try channel.publish("\(index)", routingKey: queue) }
            try channel.qos(prefetchCount: 1)
            let consumer = try channel.consume(queue: queue)
            var received: [String] = []
            while received.count < 8 {
                let delivery = try #require(try consumer.next(timeout: .seconds(10)))
                received.append(delivery.bodyString)
                // Slow work: were the broker to send more, it would arrive meanwhile.
                try Coroutine.sleep(for: .milliseconds(60))
                #expect(consumer.bufferedCount == 0, "a second message arrived before the first was acknowledged")
                let waiting = try channel.queueDeclare(queue, passive: true).messageCount
                #expect(waiting == 8 - received.count)
                try delivery.ack()
            }
            #expect(received == (0..<8).map { "\($0)" })
        }
    }

    @Test("A nacked message is delivered again with redelivered set; reject without requeue drops it")
    func nackRedelivers() async throws {
        try await withConnection { connection in
            let channel = try connection.openChannel()
            let queue = uniqueName("nack")
            try channel.queueDeclare(queue, exclusive: true)
            try channel.publish("again", routingKey: queue)
            let consumer = try channel.consume(queue: queue)
            let first = try #require(try consumer.next(timeout: .seconds(10)))
            #expect(!first.redelivered)
            try first.nack(requeue: true)
            let second = try #require(try consumer.next(timeout: .seconds(10)))
            #expect(second.redelivered && second.bodyString == "again")
            #expect(second.deliveryTag != first.deliveryTag)
            try second.reject(requeue: false)
            #expect(throws: TimeoutError.self) { try consumer.next(timeout: .milliseconds(300)) }
        }
    }

    @Test("A rejected message is dead-lettered through x-dead-letter-exchange")
    func deadLettering() async throws {
        try await withConnection { connection in
            let channel = try connection.openChannel()
            let deadExchange = uniqueName("dlx"), deadQueue = uniqueName("dead"), work = uniqueName("work")
            try channel.exchangeDeclare(deadExchange, type: .fanout, autoDelete: true)
            try channel.queueDeclare(deadQueue, exclusive: true)
            try channel.queueBind(deadQueue, exchange: deadExchange)
            try channel.queueDeclare(work, exclusive: true, arguments: ["x-dead-letter-exchange": .string(deadExchange)])
            try channel.publish("poison", routingKey: work, properties: AMQPMessageProperties(messageID: "p-1"))
            let taken = try #require(try channel.get(queue: work))
            #expect(taken.messageCount == 0)
            try taken.reject(requeue: false)
            let consumer = try channel.consume(queue: deadQueue)
            let dead = try #require(try consumer.next(timeout: .seconds(10)))
            #expect(dead.bodyString == "poison" && dead.properties.messageID == "p-1")
            guard case .array(let deaths)? = dead.properties.headers?["x-death"], case .table(let death)? = deaths.first else {
                Issue.record("no x-death header: \(String(describing: dead.properties.headers))")
                return
            }
            #expect(death["reason"] == .string("rejected") && death["queue"] == .string(work))
        }
    }

    @Test("Messages expire: x-message-ttl on the queue, expiration on the message")
    func messageTTL() async throws {
        try await withConnection { connection in
            let channel = try connection.openChannel()
            let shortLived = uniqueName("ttl"), plain = uniqueName("plain")
            try channel.queueDeclare(shortLived, exclusive: true, arguments: ["x-message-ttl": 100])
            try channel.queueDeclare(plain, exclusive: true)
            try channel.publish("soon gone", routingKey: shortLived)
            try channel.publish("soon gone too", routingKey: plain, properties: AMQPMessageProperties(expiration: "100"))
            try channel.publish("stays", routingKey: plain)
            try Coroutine.sleep(for: .milliseconds(600))
            #expect(try channel.get(queue: shortLived) == nil)
            let left = try #require(try channel.get(queue: plain, noAck: true))
            #expect(left.bodyString == "stays")
            #expect(try channel.get(queue: plain) == nil)
        }
    }

    @Test("basic.get: nil on an empty queue, the message and the count left otherwise")
    func getEmpty() async throws {
        try await withConnection { connection in
            let channel = try connection.openChannel()
            let queue = uniqueName("get")
            try channel.queueDeclare(queue, exclusive: true)
            #expect(try channel.get(queue: queue) == nil)
            try channel.publish("a", routingKey: queue)
            try channel.publish("b", routingKey: queue)
            let first = try #require(try channel.get(queue: queue))
            #expect(first.bodyString == "a" && first.messageCount == 1 && first.consumerTag == nil)
            try first.ack()
            #expect(try channel.queuePurge(queue) == 1)
            #expect(try channel.queueDelete(queue) == 0)
        }
    }

    @Test("Redeclaring with other arguments: 406 closes the channel only; a new channel works")
    func preconditionFailed() async throws {
        try await withConnection { connection in
            let channel = try connection.openChannel()
            let queue = uniqueName("pre")
            try channel.queueDeclare(queue, exclusive: true, arguments: ["x-message-ttl": 1000])
            do {
                try channel.queueDeclare(queue, exclusive: true, arguments: ["x-message-ttl": 2000])
                Issue.record("redeclaration succeeded")
            } catch let error as AMQPError {
                #expect(error.code == .channelClosed)
                #expect(error.replyCode == AMQPError.ReplyCode.preconditionFailed)
                #expect(error.replyText?.contains("PRECONDITION_FAILED") == true)
                #expect(error.classID == 50 && error.methodID == 10)
            }
            #expect(channel.isClosed && !connection.isClosed)
            #expect(throws: AMQPError.self) { try channel.publish("x", routingKey: queue) }
            let again = try connection.openChannel()
            #expect(try again.queueDeclare(queue, passive: true).name == queue)
            do {
                try again.queueDeclare(uniqueName("missing"), passive: true)
                Issue.record("passive declare of a missing queue succeeded")
            } catch let error as AMQPError {
                #expect(error.code == .channelClosed && error.replyCode == AMQPError.ReplyCode.notFound)
            }
            let third = try connection.openChannel()
            try third.queueDelete(queue)
        }
    }

    @Test("Deleting a consumed queue ends the consumer with consumerCancelled")
    func brokerCancelsConsumer() async throws {
        try await withConnection { connection in
            let channel = try connection.openChannel()
            let queue = uniqueName("cancel")
            try channel.queueDeclare(queue)
            let consumer = try channel.consume(queue: queue)
            let other = try connection.openChannel()
            try other.queueDelete(queue)
            do {
                _ = try consumer.next(timeout: .seconds(10))
                Issue.record("the consumer did not end")
            } catch let error as AMQPError {
                #expect(error.code == .consumerCancelled)
            }
            #expect(consumer.isEnded)
        }
    }

    @Test("Work spreads over two consumers with prefetch 1; for-in reads until cancel")
    func fairDispatch() async throws {
        try await withConnection { connection in
            let setup = try connection.openChannel()
            let queue = uniqueName("fair")
            try setup.queueDeclare(queue, autoDelete: true)
            let counts = Box([0, 0])
            let done = WaitGroup()
            var consumers: [AMQPConsumer] = []
            for worker in 0..<2 {
                let channel = try connection.openChannel()
                try channel.qos(prefetchCount: 1)
                let consumer = try channel.consume(queue: queue)
                consumers.append(consumer)
                try done.add(1)
                try spawn {
                    defer { try? done.done() }
                    for delivery in consumer {
                        try? Coroutine.sleep(for: .milliseconds(worker == 0 ? 5 : 30))
                        counts.value[worker] += 1
                        try? delivery.ack()
                    }
                }
            }
            for index in 0..<40 { try setup.publish("task \(index)", routingKey: queue) }
            for _ in 0..<400 where counts.value[0] + counts.value[1] < 40 { try Coroutine.sleep(for: .milliseconds(25)) }
            for consumer in consumers { try consumer.cancel() }
            try done.wait(timeout: .seconds(10))
            #expect(counts.value[0] + counts.value[1] == 40)
            // The fast worker took more: dispatch followed acknowledgements, not turns.
            #expect(counts.value[0] > counts.value[1] && counts.value[1] > 0)
        }
    }

    @Test("A publish the broker refuses (x-overflow reject-publish on a full queue) is a typed nack")
    func nackedPublish() async throws {
        try await withConnection { connection in
            let channel = try connection.openChannel()
            let queue = uniqueName("full")
            try channel.queueDeclare(queue, exclusive: true, arguments: ["x-max-length": 1, "x-overflow": "reject-publish"])
            try channel.confirmSelect()
            try channel.publish("fits", routingKey: queue)
            do {
                try channel.publish("overflows", routingKey: queue)
                Issue.record("the broker took a message over x-max-length")
            } catch let error as AMQPError {
                #expect(error.code == .nacked)
            }
            // In a window: waitForConfirms reports the nack.
            try channel.publish("overflows too", routingKey: queue, waitForConfirm: false)
            #expect { try channel.waitForConfirms(timeout: .seconds(10)) } throws: { ($0 as? AMQPError)?.code == .nacked }
            #expect(!channel.isClosed)
            #expect(try channel.queueDeclare(queue, passive: true).messageCount == 1)
        }
    }

    @Test("A mandatory message no queue takes comes back as a typed returned error")
    func mandatoryReturned() async throws {
        try await withConnection { connection in
            let channel = try connection.openChannel()
            let exchange = uniqueName("empty")
            try channel.exchangeDeclare(exchange, type: .topic, autoDelete: true)
            try channel.confirmSelect()
            do {
                try channel.publish("lost", exchange: exchange, routingKey: "no.queue", mandatory: true)
                Issue.record("an unroutable mandatory message was confirmed")
            } catch let error as AMQPError {
                #expect(error.code == .returned && error.replyCode == 312)
            }
            // Without mandatory the broker drops it and confirms.
            try channel.publish("dropped", exchange: exchange, routingKey: "no.queue")
            try channel.exchangeDelete(exchange)
        }
    }

    @Test("x-queue-type quorum: a replicated queue on the single node, used like any other")
    func quorumQueue() async throws {
        try await withConnection { connection in
            let channel = try connection.openChannel()
            let queue = uniqueName("quorum")
            try channel.queueDeclare(queue, durable: true, arguments: ["x-queue-type": "quorum"])
            try channel.confirmSelect()
            try channel.publish("replicated", routingKey: queue, properties: .persistent)
            let message = try #require(try channel.get(queue: queue))
            #expect(message.bodyString == "replicated")
            try message.nack(requeue: true)
            // Quorum queues count deliveries.
            let again = try #require(try channel.get(queue: queue))
            #expect(again.redelivered && again.properties.headers?["x-delivery-count"]?.integerValue == 1)
            try again.ack()
            try channel.queueDelete(queue)
        }
    }
}
