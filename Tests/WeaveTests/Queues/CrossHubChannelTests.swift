import Synchronization
import Testing
import Weave
@testable import WeaveCore

@Suite("CrossHubChannel: a bounded channel between hubs")
struct CrossHubChannelTests {
    @Test("4 producers on 4 hubs x 100,000 messages: nothing lost, nothing duplicated, order kept per producer, nobody left parked")
    func fourProducersLoseNothing() async throws {
        let producers = 4, perProducer = 100_000
        let (outOfOrder, counts, drained, parked, alive) = try await inHubGroup(hubs: producers) {
            group -> (Int, [Int], Bool, Int, [Int]) in
            // Small, so that both sides park often.
            let channel = CrossHubChannel<Int>(capacity: 64)
            let sending = try (0..<producers).map { producer in
                try spawn(name: "producer \(producer)") {
                    try group.hub(producer).run {
                        for sequence in 0..<perProducer { try channel.send(producer << 32 | sequence) }
                    }
                }
            }
            var next = [Int](repeating: 0, count: producers)
            var outOfOrder = 0
            for _ in 0..<(producers * perProducer) {
                guard let message = try channel.receive(timeout: .seconds(60)) else { break }
                let producer = message >> 32, sequence = message & 0xFFFF_FFFF
                if sequence != next[producer] { outOfOrder += 1 }
                next[producer] = sequence + 1
            }
            try joinAll(sending)
            let drained = channel.tryReceive() == nil && channel.count == 0
            let alive = try (0..<producers).map { index in try group.hub(index).run { Hub.current!.aliveCount } }
            return (outOfOrder, next, drained, channel.parkedCount, alive)
        }
        #expect(outOfOrder == 0)
        #expect(counts == [Int](repeating: perProducer, count: producers))
        #expect(drained)
        #expect(parked == 0)
        // Each hub runs only the call asking (and hub 0 its main coroutine too).
        #expect(alive == [2, 1, 1, 1])
    }

    @Test("a receiver parked on another hub resumes on its own hub with the value; close wakes receivers with nil and senders with closed")
    func wakesOnOwnHubAndClose() async throws {
        let (received, resumedOn, afterClose, senderClosed) = try await inHubGroup(hubs: 3) {
            group -> (Int?, Int?, [Int?], Bool) in
            let channel = CrossHubChannel<Int>(capacity: 1)
            let receiver = try spawn {
                try group.hub(1).run { () throws -> (Int?, Int?) in (try channel.receive(), HubGroup.currentHubIndex) }
            }
            try waitUntil { channel.parkedCount == 1 }
            try channel.send(7)
            let (received, resumedOn) = try receiver.join()
            // A parked sender on hub 2 (the channel is full), then close.
            try channel.send(8)
            let sender = try spawn {
                try group.hub(2).run { () -> Bool in
                    do {
                        try channel.send(9)
                        return false
                    } catch let error as QueueError {
                        return error.code == .closed
                    } catch {
                        return false
                    }
                }
            }
            try waitUntil { channel.parkedCount == 1 }
            channel.close()
            let senderClosed = try sender.join()
            // Buffered values are still received, then nil.
            return (received, resumedOn, [try channel.receive(), try channel.receive()], senderClosed)
        }
        #expect(received == 7)
        #expect(resumedOn == 1)
        #expect(afterClose == [8, nil])
        #expect(senderClosed)
    }

    @Test("timeouts on both sides: an empty receive and a full send throw TimeoutError; the value is not sent")
    func timeouts() async throws {
        let (receiveTimedOut, sendTimedOut, count) = try await inHubGroup(hubs: 2) { group -> (Bool, Bool, Int) in
            let channel = CrossHubChannel<Int>(capacity: 1)
            let receiveTimedOut = try group.hub(1).run { () -> Bool in
                do {
                    _ = try channel.receive(timeout: .milliseconds(10))
                    return false
                } catch {
                    return error is TimeoutError
                }
            }
            try channel.send(1)
            let sendTimedOut = try group.hub(1).run { () -> Bool in
                do {
                    try channel.send(2, timeout: .milliseconds(10))
                    return false
                } catch {
                    return error is TimeoutError
                }
            }
            return (receiveTimedOut, sendTimedOut, channel.count)
        }
        #expect(receiveTimedOut)
        #expect(sendTimedOut)
        #expect(count == 1)
    }

    @Test("a cancelled receiver on another hub leaves, and the next value goes to the receiver still waiting")
    func cancelledReceiverLeaves() async throws {
        let (cancelled, value, parked) = try await inHubGroup(hubs: 2) { group -> (Bool, Int?, Int) in
            let channel = CrossHubChannel<Int>(capacity: 4)
            let first = try spawn { try group.hub(1).run { try channel.receive() } }
            try waitUntil { channel.parkedCount == 1 }
            let second = try spawn { try group.hub(1).run { try channel.receive() } }
            try waitUntil { channel.parkedCount == 2 }
            first.cancel()
            _ = try? first.join()
            try channel.send(5)
            let value = try second.join(timeout: .seconds(30))
            return (first.error is CancellationError, value, channel.parkedCount)
        }
        #expect(cancelled)
        #expect(value == 5)
        #expect(parked == 0)
    }

    @Test("a receiver woken for a value but cancelled before it runs passes the wake to the next receiver")
    func wakePassesOnWhenWokenReceiverLeaves() async throws {
        let (cancelled, value, parked) = try await inHubGroup(hubs: 1) { _ -> (Bool, Int?, Int) in
            let channel = CrossHubChannel<Int>(capacity: 4)
            let first = try spawn { try channel.receive() }
            let second = try spawn { try channel.receive() }
            try waitUntil { channel.parkedCount == 2 }
            // `first` is cancelled (resumed with CancellationError, not yet run), then the
            // send takes it from the waiters to wake: as it leaves without the value, the
            // wake must go on to `second`, not leave the value buffered with `second` parked.
            first.cancel()
            try channel.send(3)
            _ = try? first.join()
            return (first.error is CancellationError, try second.join(timeout: .seconds(30)), channel.parkedCount)
        }
        #expect(cancelled)
        #expect(value == 3)
        #expect(parked == 0)
    }

    @Test(
        "3 producers to 3 receivers on 4 hubs through rings of 1, 2 and 7 values: every value once, in order per producer",
        arguments: [1, 2, 7])
    func manyToMany(capacity: Int) async throws {
        let producers = 3, receivers = 3, perProducer = 20_000
        let (received, outOfOrder, parked) = try await inHubGroup(hubs: 4) { group -> ([Int], Int, Int) in
            let channel = CrossHubChannel<Int>(capacity: capacity)
            let sending = try (0..<producers).map { producer in
                try spawn {
                    try group.hub(producer % 4).run {
                        for sequence in 0..<perProducer { try channel.send(producer << 32 | sequence) }
                    }
                }
            }
            let receiving = try (0..<receivers).map { receiver in
                try spawn {
                    try group.hub((receiver + 1) % 4).run { () throws -> ([Int], Int) in
                        var got: [Int] = [], last = [Int](repeating: -1, count: producers), outOfOrder = 0
                        while let message = try channel.receive(timeout: .seconds(60)) {
                            let producer = message >> 32, sequence = message & 0xFFFF_FFFF
                            if sequence <= last[producer] { outOfOrder += 1 }
                            last[producer] = sequence
                            got.append(message)
                        }
                        return (got, outOfOrder)
                    }
                }
            }
            try joinAll(sending)
            channel.close()
            var all: [Int] = [], outOfOrder = 0
            for receiver in receiving {
                let (got, wrong) = try receiver.join()
                all += got
                outOfOrder += wrong
            }
            return (all.sorted(), outOfOrder, channel.parkedCount)
        }
        let expected = (0..<producers).flatMap { producer in (0..<perProducer).map { producer << 32 | $0 } }
        #expect(received == expected)
        #expect(outOfOrder == 0)
        #expect(parked == 0)
    }

    @Test("capacity holds with more slots than capacity (7 of 8), across wrap-around; a dropped channel releases what it buffers")
    func capacityAndDrop() throws {
        let released = ReleaseCounter()
        var accepted: [Bool] = []
        var counts: [Int] = []
        do {
            let channel = CrossHubChannel<Tracked>(capacity: 7)
            for _ in 0..<8 { accepted.append(try channel.trySend(Tracked(released))) }
            counts.append(channel.count)
            for _ in 0..<5 { _ = channel.tryReceive() }
            for _ in 0..<6 { accepted.append(try channel.trySend(Tracked(released))) }
            counts.append(channel.count)
        }
        #expect(accepted == [true, true, true, true, true, true, true, false, true, true, true, true, true, false])
        #expect(counts == [7, 7])
        // 7 + 5 values made it in (the refused ones were released at once), all released now.
        #expect(released.count == 14)
    }
}

/// Yields until `condition` holds (bounded against hangs).
private func waitUntil(_ condition: () -> Bool) throws {
    let limit = ContinuousClock.now + .seconds(30)
    while !condition() && ContinuousClock.now < limit { try Coroutine.sleep(for: .milliseconds(1)) }
}

/// Counts releases of ``Tracked`` values, from any thread.
private final class ReleaseCounter: Sendable {
    private let released = Atomic<Int>(0)
    var count: Int { released.load(ordering: .relaxed) }
    func add() { released.add(1, ordering: .relaxed) }
}

/// A value that reports its release.
private final class Tracked: Sendable {
    let counter: ReleaseCounter
    init(_ counter: ReleaseCounter) { self.counter = counter }
    deinit { counter.add() }
}
