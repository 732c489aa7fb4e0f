import RabbitMQTestSupport
import Testing
import Weave
import WeaveTestSupport
@testable import WeaveAMQP

@Suite("Acks in delivery order travel as one frame, and never cover an unsettled delivery", .rabbitMQBroker)
struct AMQPAckCoalescingTests {
    @Test("In-order acks coalesce; an out-of-order ack and the delivery left unacked keep their meaning")
    func coalescedAcksAreExact() async throws {
        try await withConnection { connection in
            let queue = uniqueName("acks")
            let control = try connection.openChannel()
            try control.queueDeclare(queue, autoDelete: false)
            defer { _ = try? control.queueDelete(queue) }
            try control.confirmSelect()
            for index in 1...10 { try control.publish("m\(index)", routingKey: queue) }

            let channel = try connection.openChannel()
            try channel.qos(prefetchCount: 10)
            let consumer = try channel.consume(queue: queue)
            var deliveries: [AMQPDelivery] = []
            while deliveries.count < 10, let delivery = try consumer.next(timeout: .seconds(30)) { deliveries.append(delivery) }
            #expect(deliveries.map(\.bodyString) == (1...10).map { "m\($0)" })
            // In one go (the writer cannot run in between): 1, 2, 3 in order become one frame.
            let before = connection.output.buffer.count
            for index in 0..<3 { try deliveries[index].ack() }
            #expect(connection.output.buffer.count - before == AMQPChannel.ackFrameSize)
            // 5 before 4, then 4 left unacked: 6...10 must not become "everything up to 10".
            try deliveries[4].ack()
            for index in 5..<10 { try deliveries[index].ack() }
            try consumer.cancel()
            try channel.close()
            // Closing the channel requeued what it had not acknowledged: delivery 4 alone.
            let left = try control.queueDeclare(queue, passive: true)
            #expect(left.messageCount == 1)
            #expect(try control.get(queue: queue, noAck: true)?.bodyString == "m4")
        }
    }
}
