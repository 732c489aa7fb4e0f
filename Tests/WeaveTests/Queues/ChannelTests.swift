import Testing
import Weave
@testable import WeaveCore
import WeaveTestSupport

@Suite("Channel and select")
struct ChannelTests {
    @Test("a rendezvous send waits for the receiver; values arrive in order")
    func rendezvous() async throws {
        let (received, senderWaited) = try await onHub { () throws -> ([Int], Bool) in
            let channel = Channel<Int>()
            let sender = try spawn { for value in 0..<5 { try channel.send(value) }; channel.close() }
            try Coroutine.yield()
            let waited = !sender.isFinished
            var received: [Int] = []
            for value in channel { received.append(value) }
            try sender.join()
            return (received, waited)
        }
        #expect(received == [0, 1, 2, 3, 4])
        #expect(senderWaited)
    }

    @Test("buffered: sends do not wait until full; close drains then ends; send after close fails")
    func bufferedClose() async throws {
        let (received, code, receivedAfter) = try await onHub { () throws -> ([Int], QueueError.Code?, Int?) in
            let channel = Channel<Int>(capacity: 3)
            for value in 0..<3 { try channel.send(value) }
            channel.close()
            var code: QueueError.Code?
            do { try channel.send(9) } catch let error as QueueError { code = error.code }
            var received: [Int] = []
            while let value = try channel.receive() { received.append(value) }
            return (received, code, try channel.receive())
        }
        #expect(received == [0, 1, 2])
        #expect(code == .closed)
        #expect(receivedAfter == nil)
    }

    @Test("close wakes waiting receivers with the end and waiting senders with an error")
    func closeWhileWaiting() async throws {
        let (receiverGotNil, senderCode) = try await onHub { () throws -> (Bool, QueueError.Code?) in
            let forReceivers = Channel<Int>()
            let receiver = try spawn { try forReceivers.receive() }
            let forSenders = Channel<Int>()
            let sender = try spawn { try forSenders.send(1) }
            try Coroutine.yield()
            forReceivers.close()
            forSenders.close()
            let value = try receiver.join()
            try sender.wait()
            return (value == nil, (sender.error as? QueueError)?.code)
        }
        #expect(receiverGotNil)
        #expect(senderCode == .closed)
    }

    @Test("select is fair between two always-ready cases")
    func selectFairness() async throws {
        let (first, second) = try await onHub { () throws -> (Int, Int) in
            let a = Channel<Int>(capacity: 1)
            let b = Channel<Int>(capacity: 1)
            var counts = (0, 0)
            for _ in 0..<10_000 {
                if a.count == 0 { try a.send(1) }
                if b.count == 0 { try b.send(2) }
                let which = try Channel.select([
                    .receive(from: a) { _ in 0 },
                    .receive(from: b) { _ in 1 },
                ])
                if which == 0 { counts.0 += 1 } else { counts.1 += 1 }
            }
            return counts
        }
        #expect(first >= 4_000)
        #expect(second >= 4_000)
    }

    @Test("select waits for the first ready case, sends, times out, and takes a default")
    func selectWaits() async throws {
        let (received, sent, timedOut, defaulted) = try await onHub { () throws -> (String, Int?, Bool, Bool) in
            let a = Channel<Int>()
            let b = Channel<String>()
            try spawn { try Coroutine.sleep(for: .milliseconds(3)); try b.send("hello") }
            let received = try Channel.select([
                .receive(from: a) { value in "a:\(value ?? -1)" },
                .receive(from: b) { value in "b:\(value ?? "nil")" },
            ])
            let out = Channel<Int>()
            let taker = try spawn { try out.receive() }
            _ = try Channel.select([.send(7, to: out) { "sent" }])
            var timedOut = false
            do {
                _ = try Channel.select([.receive(from: a) { _ in 0 }], timeout: .milliseconds(3))
            } catch is TimeoutError {
                timedOut = true
            }
            let defaulted = try Channel.select([.receive(from: a) { _ in false }], default: { true })
            #expect(a.receivers.isEmpty)
            return (received, try taker.join(), timedOut, defaulted)
        }
        #expect(received == "b:hello")
        #expect(sent == 7)
        #expect(timedOut)
        #expect(defaulted)
    }

    @Test("a for-in loop ended by an interruption leaves it for the next blocking call")
    func iterationKeepsInterruption() async throws {
        let (received, thrownInside) = try await onHub { () throws -> ([Int], Bool) in
            let channel = Channel<Int>(capacity: 2)
            try channel.send(1)
            try channel.send(2)
            var received: [Int] = []
            var thrownInside = false
            do {
                try withTimeout(.milliseconds(10)) {
                    for value in channel { received.append(value) }
                    do {
                        try Coroutine.sleep(for: .seconds(30))
                    } catch is TimeoutError {
                        thrownInside = true
                        throw CancellationError()
                    }
                }
            } catch is CancellationError {}
            return (received, thrownInside)
        }
        #expect(received == [1, 2])
        #expect(thrownInside)
    }

    @Test("a cancelled select performs no case")
    func selectCancelled() async throws {
        let (cancelled, laterValue) = try await onHub { () throws -> (Bool, Int?) in
            let channel = Channel<Int>(capacity: 1)
            let selector = try spawn { try Channel.select([.receive(from: channel) { $0 }]) }
            try Coroutine.yield()
            selector.cancel()
            try channel.send(5)
            try selector.wait()
            return (selector.error is CancellationError, try channel.receive())
        }
        #expect(cancelled)
        #expect(laterValue == 5)
    }
}
