import Synchronization
import Testing
import Weave
@testable import WeaveCore

/// Lost wake-ups: both sides of a small channel park and wake over and over, on four hubs,
/// with close racing the parks. Every wait is bounded (a lost wake shows as a
/// `TimeoutError`, never as a hang).
@Suite("CrossHubChannel: no wake-up is lost")
struct CrossHubChannelStressTests {
    // The bug these two pin down (found by looping the many-to-many test): a waiter woken by
    // a wake meant for an earlier listing of the same call (it was taken off the list, found
    // nothing, listed itself again and parked) is still listed when it runs. It then either
    // listed itself a second time or returned with a value while still listed; the stale
    // entry kept the parked count up, so the next value's wake went to it and was dropped
    // while a live waiter stayed parked beside a buffered value. Here the stray wake is
    // delivered by hand, in a set order, on one hub.

    @Test("a receiver woken while still listed leaves no stale entry: the next value reaches the receiver still parked")
    func strayWakeLeavesNoStaleReceiver() async throws {
        let (first, second, parkedBetween, parkedAfter) = try await inHubGroup(hubs: 2) {
            group -> (Int?, Int?, Int, Int) in
            let channel = CrossHubChannel<Int>(capacity: 4)
            return try group.hub(1).run { () throws -> (Int?, Int?, Int, Int) in
                let early = try spawn { try channel.receive(timeout: .seconds(30)) }
                try waitUntil { channel.parkedCount == 1 }
                let late = try spawn { try channel.receive(timeout: .seconds(30)) }
                try waitUntil { channel.parkedCount == 2 }
                // `late` is made ready while listed, then the send wakes `early`: `late` runs
                // first and takes the value.
                channel.waiters.withLock { $0.receivers.list[1] }.wake()
                try channel.send(1)
                let first = try late.join(timeout: .seconds(30))
                try waitUntil { channel.parkedCount == 1 && !early.isFinished && early.state == .parked }
                let parkedBetween = channel.parkedCount
                // `early` parked again: this value must reach it.
                try channel.send(2)
                let second = try early.join(timeout: .seconds(30))
                return (first, second, parkedBetween, channel.parkedCount)
            }
        }
        #expect(first == 1)
        #expect(second == 2)
        #expect(parkedBetween == 1)
        #expect(parkedAfter == 0)
    }

    @Test("a sender woken while still listed lists itself once, and room made later reaches it")
    func strayWakeListsSenderOnce() async throws {
        let (parkedAfterStrayWake, sent, parkedAfter) = try await inHubGroup(hubs: 2) { group -> (Int, Bool, Int) in
            let channel = CrossHubChannel<Int>(capacity: 1)
            try channel.send(0)
            return try group.hub(1).run { () throws -> (Int, Bool, Int) in
                let sender = try spawn { try channel.send(1, timeout: .seconds(30)) }
                try waitUntil { channel.parkedCount == 1 }
                channel.waiters.withLock { $0.senders.list[0] }.wake()
                // It finds the channel still full and parks again, listed once.
                try Coroutine.sleep(for: .milliseconds(50))
                try waitUntil { sender.state == .parked }
                let parkedAfterStrayWake = channel.parkedCount
                _ = try channel.receive(timeout: .seconds(30))
                try sender.join(timeout: .seconds(30))
                return (parkedAfterStrayWake, channel.tryReceive() == 1, channel.parkedCount)
            }
        }
        #expect(parkedAfterStrayWake == 1)
        #expect(sent)
        #expect(parkedAfter == 0)
    }

    @Test(
        "4 senders and 4 receivers on 4 hubs through a ring of 1, 2 or 3: every value once, nobody left parked",
        arguments: [1, 2, 3])
    func manyToManyParkAndWake(capacity: Int) async throws {
        let hubs = 4, perSender = 30_000
        let (total, sum, parked) = try await inHubGroup(hubs: hubs) { group -> (Int, Int, Int) in
            let channel = CrossHubChannel<Int>(capacity: capacity)
            let sending = try (0..<hubs).map { sender in
                try spawn(name: "sender \(sender)") {
                    try group.hub(sender).run {
                        for value in 0..<perSender {
                            // Vary the timing: some sends yield first, some try without parking.
                            if value % 97 == sender { try Coroutine.yield() }
                            if value % 5 == 0, try channel.trySend(value) { continue }
                            try channel.send(value, timeout: .seconds(60))
                        }
                    }
                }
            }
            let receiving = try (0..<hubs).map { receiver in
                try spawn(name: "receiver \(receiver)") {
                    try group.hub((receiver + 1) % hubs).run { () throws -> (Int, Int) in
                        var count = 0, sum = 0
                        while let value = try channel.receive(timeout: .seconds(60)) {
                            count += 1
                            sum &+= value
                            if count % 89 == receiver { try Coroutine.yield() }
                        }
                        return (count, sum)
                    }
                }
            }
            try joinAll(sending, timeout: .seconds(120))
            channel.close()
            var total = 0, sum = 0
            for receiver in receiving {
                let (count, part) = try receiver.join(timeout: .seconds(120))
                total += count
                sum &+= part
            }
            return (total, sum, channel.parkedCount)
        }
        #expect(total == hubs * perSender)
        #expect(sum == hubs * (perSender * (perSender - 1) / 2))
        #expect(parked == 0)
    }

    @Test("close races parked senders and receivers: every one of them returns, 300 rounds")
    func closeRacesPark() async throws {
        let rounds = 300
        let (stuck, lost) = try await inHubGroup(hubs: 4) { group -> (Int, Int) in
            var stuck = 0, lost = 0
            for round in 0..<rounds {
                let channel = CrossHubChannel<Int>(capacity: 1 + round % 2)
                // Receivers on hubs 1 and 2 drain until the end; senders on hubs 2 and 3 send
                // until the channel closes under them.
                let receivers = try (1...2).map { hub in
                    try spawn {
                        try group.hub(hub).run { () throws -> Int in
                            var count = 0
                            while try channel.receive(timeout: .seconds(60)) != nil { count += 1 }
                            return count
                        }
                    }
                }
                let senders = try (2...3).map { hub in
                    try spawn {
                        try group.hub(hub).run { () throws -> Int in
                            var sent = 0
                            do {
                                while true {
                                    try channel.send(sent, timeout: .seconds(60))
                                    sent += 1
                                }
                            } catch let error as QueueError where error.code == .closed {
                                return sent
                            }
                        }
                    }
                }
                // Close at a different moment each round, from hub 0.
                for _ in 0..<(round % 7) { try Coroutine.yield() }
                channel.close()
                var sent = 0, received = 0
                do {
                    for sender in senders { sent += try sender.join(timeout: .seconds(120)) }
                    for receiver in receivers { received += try receiver.join(timeout: .seconds(120)) }
                } catch {
                    stuck += 1
                    continue
                }
                // Values sent before the close are all received.
                if sent != received { lost += 1 }
                if channel.parkedCount != 0 { stuck += 1 }
            }
            return (stuck, lost)
        }
        #expect(stuck == 0)
        #expect(lost == 0)
    }
}

/// Sleeps until `condition` holds (bounded against hangs).
private func waitUntil(_ condition: () -> Bool) throws {
    let limit = ContinuousClock.now + .seconds(30)
    while !condition() && ContinuousClock.now < limit { try Coroutine.sleep(for: .milliseconds(1)) }
}
