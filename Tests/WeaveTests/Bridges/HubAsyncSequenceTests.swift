import Synchronization
import Testing
import Weave
@testable import WeaveBridges
@testable import WeaveCore
import WeaveTestSupport

@Suite("HubAsyncSequence: channels and queues consumed by Swift tasks")
struct HubAsyncSequenceTests {
    @Test("a task gets a channel's values in order; close ends its for-await loop")
    func channelInOrder() async throws {
        let hubThread = try HubThread(name: "channel-values")
        let values = try await hubThread.run { () throws -> HubAsyncSequence<Int> in
            let channel = Channel<Int>(capacity: 4, label: "numbers")
            try spawn(name: "producer") {
                for value in 0..<1_000 { try channel.send(value) }
                channel.close()
            }
            return try channel.asyncValues()
        }
        var received: [Int] = []
        for try await value in values { received.append(value) }
        #expect(received == Array(0..<1_000))
        try await hubThread.shutdown()
    }

    @Test("a rendezvous channel's values arrive in order when several coroutines send")
    func rendezvousChannel() async throws {
        let hubThread = try HubThread(name: "rendezvous-values")
        let values = try await hubThread.run { () throws -> HubAsyncSequence<Int> in
            let channel = Channel<Int>(label: "rendezvous")
            let group = WaitGroup()
            for producer in 0..<4 {
                try group.add(1)
                try spawn(name: "producer \(producer)") {
                    defer { try? group.done() }
                    for value in 0..<250 { try channel.send(producer * 1_000 + value) }
                }
            }
            try spawn(name: "closer") {
                try group.wait()
                channel.close()
            }
            return try channel.asyncValues()
        }
        var received: [Int] = []
        for try await value in values { received.append(value) }
        #expect(received.count == 1_000)
        for producer in 0..<4 {
            // Each producer's values keep their order, whatever the interleaving.
            #expect(received.filter { $0 / 1_000 == producer } == (0..<250).map { producer * 1_000 + $0 })
        }
        try await hubThread.shutdown()
    }

    @Test("a queue's items arrive in order; shutdown ends the loop once drained")
    func queueUntilShutdown() async throws {
        let hubThread = try HubThread(name: "queue-values")
        let items = try await hubThread.run { () throws -> HubAsyncSequence<String> in
            let queue = Queue<String>(maxSize: 8, label: "words")
            try spawn(name: "producer") {
                for index in 0..<100 { try queue.put("item \(index)") }
                queue.shutdown()
            }
            return try queue.asyncValues()
        }
        var received: [String] = []
        for try await item in items { received.append(item) }
        #expect(received == (0..<100).map { "item \($0)" })
        try await hubThread.shutdown()
    }

    @Test("the source's error reaches the task after the values before it, then the loop is over")
    func errorReachesTask() async throws {
        let hubThread = try HubThread(name: "failing-values")
        let values = try await hubThread.run { () throws -> HubAsyncSequence<Int> in
            let count = Box(0)
            return try HubAsyncSequence { () throws -> Int? in
                count.value += 1
                try Coroutine.sleep(for: .milliseconds(1))
                if count.value > 3 { throw TestFailure(tag: "source") }
                return count.value
            }
        }
        var received: [Int] = []
        var iterator = values.makeAsyncIterator()
        await #expect(throws: TestFailure(tag: "source")) {
            while let value = try await iterator.next() { received.append(value) }
        }
        #expect(received == [1, 2, 3])
        #expect(try await iterator.next() == nil)
        try await hubThread.shutdown()
    }

    @Test("cancelling the consuming task ends its loop and the receiving coroutine")
    func cancellingTheTask() async throws {
        let hubThread = try HubThread(name: "cancelled-consumer")
        let baseline = try await hubThread.dump().coroutines.count
        let unwound = Flag()
        let values = try await hubThread.run { () throws -> HubAsyncSequence<Int> in
            let channel = Channel<Int>(label: "silent")
            return try HubAsyncSequence { () throws -> Int? in
                defer { unwound.set() }
                return try channel.receive()   // nobody ever sends
            }
        }
        let task = Task { () async throws -> Int in
            var count = 0
            for try await _ in values { count += 1 }
            return count
        }
        // Wait until the receiving coroutine exists, then cancel the consumer.
        for _ in 0..<2_500 where try await hubThread.dump().coroutines.count == baseline {
            try await Task.sleep(for: .milliseconds(2))
        }
        #expect(try await hubThread.dump().coroutines.count == baseline + 1)
        task.cancel()
        await #expect(throws: CancellationError.self) { try await task.value }
        try await waitForCoroutineCount(baseline, on: hubThread)
        #expect(unwound.isSet)
        try await hubThread.shutdown()
    }

    @Test("breaking out of the loop stops the receiving coroutine")
    func breakingOut() async throws {
        let hubThread = try HubThread(name: "break-out")
        let baseline = try await hubThread.dump().coroutines.count
        let values = try await hubThread.run { () throws -> HubAsyncSequence<Int> in
            let channel = Channel<Int>(label: "endless")
            try spawn(name: "producer") {
                var value = 0
                while true {
                    try channel.send(value)
                    value += 1
                }
            }
            return try channel.asyncValues()
        }
        var received: [Int] = []
        for try await value in values {
            received.append(value)
            if value == 9 { break }
        }
        #expect(received == Array(0..<10))
        // The producer stays (it is the test's own); the receiver goes.
        try await waitForCoroutineCount(baseline + 1, on: hubThread)
        try await hubThread.shutdown()
    }

    @Test("backpressure: the hub receives only as the task asks")
    func backpressure() async throws {
        let hubThread = try HubThread(name: "backpressure")
        let sent = AtomicCounter()
        let values = try await hubThread.run { () throws -> HubAsyncSequence<Int> in
            let channel = Channel<Int>(label: "paced")
            try spawn(name: "producer") {
                var value = 0
                while true {
                    try channel.send(value)
                    sent.increment()
                    value += 1
                }
            }
            return try channel.asyncValues()
        }
        var iterator = values.makeAsyncIterator()
        for expected in 0..<5 { #expect(try await iterator.next() == expected) }
        // Give the producer every chance to run ahead; it must stay blocked.
        try await Task.sleep(for: .milliseconds(50))
        #expect(sent.value <= 5 + HubAsyncSequence<Int>.batchLimit)
        #expect(sent.value < 20)
        try await hubThread.shutdown()
    }

    @Test("a hub whose coroutines wait on a slow consumer waits for it, not a deadlock")
    func slowConsumerIsNotDeadlock() async throws {
        let received = try await onHub { () throws -> [Int] in
            let channel = Channel<Int>(label: "to a slow task")
            let values = try channel.asyncValues()
            let consumer = Task { () async throws -> [Int] in
                var received: [Int] = []
                for try await value in values {
                    received.append(value)
                    try await Task.sleep(for: .milliseconds(2))
                }
                return received
            }
            // Each send waits for the task to ask again: only the task can wake the hub.
            for value in 0..<20 { try channel.send(value) }
            channel.close()
            return try awaitAsync { try await consumer.value }
        }
        #expect(received == Array(0..<20))
    }

    @Test("what the source holds is freed on the hub's thread when the task lets go")
    func sourceFreedOnHub() async throws {
        let hubThread = try HubThread(name: "frees-on-hub")
        let freed = Flag()
        let freedOnHub = Flag()
        do {
            let values = try await hubThread.run { () throws -> HubAsyncSequence<Int> in
                // Stands for a hub-bound resource (a connection) whose deinit needs the hub.
                let resource = DeinitCounter {
                    if Hub.current != nil { freedOnHub.set() }
                    freed.set()
                }
                let count = Box(0)
                return try HubAsyncSequence { () throws -> Int? in
                    withExtendedLifetime(resource) { count.value += 1 }
                    return count.value <= 3 ? count.value : nil
                }
            }
            var received: [Int] = []
            for try await value in values { received.append(value) }
            #expect(received == [1, 2, 3])
            // The iterator is gone and the hub has dropped its side (a round trip after it):
            // the sequence, dropped next on this thread, holds the last reference.
            _ = try await hubThread.dump()
            withExtendedLifetime(values) {}
        }
        for _ in 0..<2_500 where !freed.isSet { try await Task.sleep(for: .milliseconds(2)) }
        #expect(freed.isSet)
        #expect(freedOnHub.isSet)
        try await hubThread.shutdown()
    }

    @Test("after the hub stops, next() throws hubClosed")
    func hubClosed() async throws {
        let hubThread = try HubThread(name: "closing")
        let values = try await hubThread.run { () throws -> HubAsyncSequence<Int> in
            try Channel<Int>().asyncValues()
        }
        try await hubThread.shutdown()
        var iterator = values.makeAsyncIterator()
        do {
            _ = try await iterator.next()
            Issue.record("next() returned after the hub stopped")
        } catch let error as WeaveError {
            #expect(error.code == .hubClosed)
        }
    }

    @Test("made off a hub's thread, it is a typed error")
    func offHub() {
        #expect(throws: WeaveError.self) { try HubAsyncSequence<Int> { nil } }
    }
}

/// Polls the hub's dump until it holds `count` coroutines (bounded generously).
func waitForCoroutineCount(_ count: Int, on hubThread: HubThread) async throws {
    for _ in 0..<2_500 where try await hubThread.dump().coroutines.count != count {
        try await Task.sleep(for: .milliseconds(2))
    }
    #expect(try await hubThread.dump().coroutines.count == count)
}

/// A counter shared across threads.
final class AtomicCounter: Sendable {
    private let count = Atomic<Int>(0)
    var value: Int { count.load(ordering: .acquiring) }
    func increment() { count.add(1, ordering: .releasing) }
}
