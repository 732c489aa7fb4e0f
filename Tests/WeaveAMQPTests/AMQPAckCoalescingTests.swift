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
            // Closing the channel requeued what it had not acknowledged: delivery 4 alone. The
            // queue takes a closed channel's unacknowledged deliveries back all at once, but
            // after the close-ok (a busy broker may answer another channel first): wait for it.
            var left = try control.queueDeclare(queue, passive: true).messageCount
            for _ in 0..<3_000 where left == 0 {
                try Coroutine.sleep(for: .milliseconds(10))
                left = try control.queueDeclare(queue, passive: true).messageCount
            }
            #expect(left == 1)
            #expect(try control.get(queue: queue, noAck: true)?.bodyString == "m4")
        }
    }

    @Test("After an out-of-order ack, acks coalesce again once the gap is settled, and the broker takes every one")
    func coalescingResumesAfterAnOutOfOrderAck() async throws {
        try await withConnection { connection in
            let (control, channel, consumer, queue, deliveries) = try tenDeliveries(connection)
            defer { _ = try? control.queueDelete(queue) }
            let before = connection.output.buffer.count
            // 5 first, alone; then 1...4 (one frame, the last one settling 5 too), and 6...10
            // extend that frame: 5 is already on its way, so "up to 10" covers only the rest.
            try deliveries[4].ack()
            for index in [0, 1, 2, 3, 5, 6, 7, 8, 9] { try deliveries[index].ack() }
            #expect(connection.output.buffer.count - before == 2 * AMQPChannel.ackFrameSize)
            #expect(channel.settledThrough == 10)
            #expect(channel.settledAhead.isEmpty)
            // The broker accepted both frames (an unknown tag would close the channel: 406).
            let seen = try channel.queueDeclare(queue, passive: true)
            #expect(seen.messageCount == 0)
            try consumer.cancel()
            try channel.close()
            // Nothing came back when the channel closed: every delivery was acknowledged.
            #expect(try control.queueDeclare(queue, passive: true).messageCount == 0)
        }
    }

    @Test("A nack or reject between in-order acks settles exactly its own delivery")
    func refusalsBetweenAcksKeepTheirPlace() async throws {
        try await withConnection { connection in
            let (control, channel, consumer, queue, deliveries) = try tenDeliveries(connection)
            defer { _ = try? control.queueDelete(queue) }
            let before = connection.output.buffer.count
            try deliveries[0].ack()
            try deliveries[1].ack()
            try deliveries[2].reject(requeue: true)
            try deliveries[3].ack()
            try deliveries[4].nack(requeue: true)
            for index in 5..<10 { try deliveries[index].ack() }
            // ack 2 (multiple), reject 3, ack 4, nack 5, ack 10 (multiple): an ack never moves
            // past a refusal, so the refused ones stay refused.
            #expect(connection.output.buffer.count - before == 5 * AMQPChannel.ackFrameSize)
            #expect(channel.settledThrough == 10)
            var again: [AMQPDelivery] = []
            while again.count < 2, let delivery = try consumer.next(timeout: .seconds(30)) { again.append(delivery) }
            #expect(again.map(\.bodyString).sorted() == ["m3", "m5"])
            #expect(again.map(\.redelivered) == [true, true])
            for delivery in again { try delivery.ack() }
            try consumer.cancel()
            try channel.close()
            #expect(try control.queueDeclare(queue, passive: true).messageCount == 0)
        }
    }

    @Test("Acking each delivery as it is read never stalls the prefetch window and leaves nothing unacknowledged")
    func ackingEachAsReadDrainsTheQueue() async throws {
        try await withConnection { connection in
            let queue = uniqueName("acks-each")
            let control = try connection.openChannel()
            try control.queueDeclare(queue, autoDelete: false)
            defer { _ = try? control.queueDelete(queue) }
            try control.confirmSelect()
            let count = 2000
            for index in 1...count { try control.publish("m\(index)", routingKey: queue, waitForConfirm: false) }
            try control.waitForConfirms()

            let channel = try connection.openChannel()
            // A window far below the count: the consumer only gets them all if its acks reach
            // the broker before it waits for more.
            try channel.qos(prefetchCount: 20)
            let consumer = try channel.consume(queue: queue)
            var received = 0
            while received < count, let delivery = try consumer.next(timeout: .seconds(30)) {
                #expect(delivery.bodyString == "m\(received + 1)")
                try delivery.ack()
                received += 1
            }
            #expect(received == count)
            #expect(channel.settledThrough == UInt64(count))
            #expect(try channel.queueDeclare(queue, passive: true).messageCount == 0)
            try consumer.cancel()
            try channel.close()
            #expect(try control.queueDeclare(queue, passive: true).messageCount == 0)
        }
    }

    @Test("Tags settled ahead of a gap that never fills are forgotten, not kept without bound")
    func settledAheadIsBounded() async throws {
        try await withConnection { connection in
            let channel = try connection.openChannel()
            defer { try? channel.close() }
            // Bookkeeping only (nothing is sent): tag 1 is never settled, as with a noAck
            // consumer's deliveries on the same channel.
            let limit = UInt64(AMQPChannel.settledAheadLimit)
            for tag in 2...(2 * limit + 10) { channel.settle(tag, multiple: false) }
            #expect(channel.settledAhead.count <= AMQPChannel.settledAheadLimit)
            #expect(channel.settledThrough == 0)
            // The set was emptied each time it reached the limit: 2L + 2 and later are left.
            #expect(channel.settledAhead.count == 9)
            // Settling the gap moves only as far as what is remembered: 2 was forgotten, so
            // acks stay one by one rather than cover a tag that may be unsettled.
            channel.settle(1, multiple: false)
            #expect(channel.settledThrough == 1)
            channel.settle(5 * limit, multiple: true)
            #expect(channel.settledThrough == 5 * limit)
            #expect(channel.settledAhead.isEmpty)
        }
    }
}

/// Ten messages `m1`...`m10` on a new queue, delivered (prefetch 10) to a consumer on a
/// channel of their own and read; the control channel declared the queue.
private func tenDeliveries(_ connection: AMQPConnection) throws
    -> (control: AMQPChannel, channel: AMQPChannel, consumer: AMQPConsumer, queue: String, deliveries: [AMQPDelivery]) {
    let queue = uniqueName("acks")
    let control = try connection.openChannel()
    try control.queueDeclare(queue, autoDelete: false)
    try control.confirmSelect()
    for index in 1...10 { try control.publish("m\(index)", routingKey: queue) }
    let channel = try connection.openChannel()
    try channel.qos(prefetchCount: 10)
    let consumer = try channel.consume(queue: queue)
    var deliveries: [AMQPDelivery] = []
    while deliveries.count < 10, let delivery = try consumer.next(timeout: .seconds(30)) { deliveries.append(delivery) }
    #expect(deliveries.map(\.bodyString) == (1...10).map { "m\($0)" })
    return (control, channel, consumer, queue, deliveries)
}
