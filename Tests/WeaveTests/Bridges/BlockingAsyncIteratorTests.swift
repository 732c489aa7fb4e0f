import Synchronization
import Testing
import Weave
@testable import WeaveBridges
@testable import WeaveCore
import WeaveTestSupport

@Suite("BlockingAsyncIterator: coroutines reading AsyncSequences")
struct BlockingAsyncIteratorTests {
    @Test("a coroutine gets every element of an AsyncStream, in order, then nil")
    func everyElement() async throws {
        let hubThread = try HubThread(name: "reads-stream")
        let stream = AsyncStream<Int> { continuation in
            Task {
                for value in 0..<500 { continuation.yield(value) }
                continuation.finish()
            }
        }
        let received = try await hubThread.run { () throws -> [Int] in
            let iterator = stream.makeBlockingIterator()
            var received: [Int] = []
            while let value = try iterator.next() { received.append(value) }
            #expect(try iterator.next() == nil)
            return received
        }
        #expect(received == Array(0..<500))
        try await hubThread.shutdown()
    }

    @Test("other coroutines run while one waits for an element; an idle hub waits too")
    func hubKeepsRunning() async throws {
        let (stream, continuation) = AsyncStream<String>.makeStream()
        let result = try await onHub { () throws -> [String] in
            let iterator = stream.makeBlockingIterator()
            let ticker = try spawn(name: "ticker") { () throws -> Int in
                for tick in 1...5 { try Coroutine.sleep(for: .milliseconds(2)); _ = tick }
                continuation.yield("after ticks")
                continuation.finish()
                return 5
            }
            var received: [String] = []
            while let value = try iterator.next() { received.append(value) }
            #expect(try ticker.join() == 5)
            // Waiting on a task that takes its time is outside work, not a deadlock.
            let late = AsyncStream<String> { continuation in
                Task {
                    try? await Task.sleep(for: .milliseconds(30))
                    continuation.yield("late")
                    continuation.finish()
                }
            }.makeBlockingIterator()
            if let value = try late.next() { received.append(value) }
            return received
        }
        #expect(result == ["after ticks", "late"])
    }

    @Test("the sequence is asked for one element per next(), never ahead")
    func pacedByTheCoroutine() async throws {
        let hubThread = try HubThread(name: "paced-reader")
        let asked = AtomicCounter()
        let sequence = CountingSequence(asked: asked)
        let firstThree = try await hubThread.run { () throws -> [Int] in
            let iterator = sequence.makeBlockingIterator()
            let values = try (0..<3).map { _ in try iterator.next() ?? -1 }
            try Coroutine.sleep(for: .milliseconds(30))
            return values
        }
        #expect(firstThree == [0, 1, 2])
        #expect(asked.value == 3)
        try await hubThread.shutdown()
    }

    @Test("the sequence's error, CancellationError too, is thrown by next()")
    func errorReachesCoroutine() async throws {
        let hubThread = try HubThread(name: "failing-stream")
        for (error, tag) in [(TestFailure(tag: "stream") as any Error, "stream"), (CancellationError(), "cancel")] {
            let stream = AsyncThrowingStream<Int, any Error> { continuation in
                continuation.yield(1)
                continuation.finish(throwing: error)
            }
            let outcome = try await hubThread.run { () throws -> String in
                let iterator = stream.makeBlockingIterator()
                #expect(try iterator.next() == 1)
                do {
                    _ = try iterator.next()
                    return "no error"
                } catch let failure as TestFailure {
                    #expect(try iterator.next() == nil)
                    return failure.tag
                } catch is CancellationError {
                    return "cancel"
                }
            }
            #expect(outcome == tag)
        }
        try await hubThread.shutdown()
    }

    @Test("cancelling the coroutine cancels the task iterating the stream")
    func cancellingTheCoroutine() async throws {
        let hubThread = try HubThread(name: "cancelled-reader")
        let terminated = Flag()
        let first = Flag()
        let stream = AsyncStream<Int> { continuation in
            continuation.onTermination = { termination in
                if case .cancelled = termination { terminated.set() }
            }
            continuation.yield(1)   // then nothing more, ever
        }
        let reader = try await hubThread.spawn(name: "reader") { () throws -> Int in
            let iterator = stream.makeBlockingIterator()
            var count = 0
            while try iterator.next() != nil {
                count += 1
                first.set()
            }
            return count
        }
        for _ in 0..<2_500 where !first.isSet { try await Task.sleep(for: .milliseconds(2)) }
        reader.cancel()
        await #expect(throws: CancellationError.self) { try await reader.value }
        for _ in 0..<2_500 where !terminated.isSet { try await Task.sleep(for: .milliseconds(2)) }
        #expect(terminated.isSet)
        try await hubThread.shutdown()
    }

    @Test("cancelling the task awaiting HubThread.run reaches the stream's producer")
    func cancellingTheSubmittingTask() async throws {
        let hubThread = try HubThread(name: "chain")
        let terminated = Flag()
        let started = Flag()
        let stream = AsyncStream<Int> { continuation in
            continuation.onTermination = { termination in
                if case .cancelled = termination { terminated.set() }
            }
        }
        let task = Task {
            try await hubThread.run { () throws -> Int? in
                started.set()
                return try stream.makeBlockingIterator().next()
            }
        }
        for _ in 0..<2_500 where !started.isSet { try await Task.sleep(for: .milliseconds(2)) }
        task.cancel()
        await #expect(throws: CancellationError.self) { try await task.value }
        for _ in 0..<2_500 where !terminated.isSet { try await Task.sleep(for: .milliseconds(2)) }
        #expect(terminated.isSet)
        try await hubThread.shutdown()
    }

    @Test("a timeout around next() cancels the iteration; dropping an iterator cancels its task")
    func timeoutAndDrop() async throws {
        let hubThread = try HubThread(name: "timeout-reader")
        let timedOut = Flag()
        let dropped = Flag()
        let slow = AsyncStream<Int> { continuation in
            continuation.onTermination = { if case .cancelled = $0 { timedOut.set() } }
        }
        try await hubThread.run { () throws -> Void in
            let iterator = slow.makeBlockingIterator()
            #expect(throws: TimeoutError.self) {
                try withTimeout(.milliseconds(10)) { _ = try iterator.next() }
            }
            #expect(try iterator.next() == nil)
            do {
                // Held by nothing but the iterator and its task: once both let go, the
                // stream is released and its termination handler runs.
                let endless = AsyncStream<Int> { continuation in
                    continuation.onTermination = { if case .cancelled = $0 { dropped.set() } }
                    for value in 0..<10 { continuation.yield(value) }
                }
                let reader = endless.makeBlockingIterator()
                #expect(try reader.next() == 0)
            }
        }
        for _ in 0..<2_500 where !(timedOut.isSet && dropped.isSet) { try await Task.sleep(for: .milliseconds(2)) }
        #expect(timedOut.isSet)
        #expect(dropped.isSet)
        try await hubThread.shutdown()
    }

    @Test("an interrupted next() leaves no outside work counted on the hub")
    func outsideWorkBalanced() async throws {
        let (stream, continuation) = AsyncStream<Int>.makeStream()
        let left = try await onHub { () throws -> Int in
            let hub = Hub.current!
            let iterator = stream.makeBlockingIterator()
            _ = try? withTimeout(.milliseconds(5)) { try iterator.next() }
            // The cancelled task still answers the request it was given, which ends the count;
            // on a loaded machine Swift concurrency's pool may take a while to run it.
            let deadline = ContinuousClock.now + .seconds(60)
            while hub.outsideWork != 0 && ContinuousClock.now < deadline { try Coroutine.sleep(for: .milliseconds(2)) }
            return hub.outsideWork
        }
        #expect(left == 0)
        continuation.finish()
    }

    @Test("outside a coroutine, next() is a typed error")
    func outsideCoroutine() {
        let iterator = AsyncStream<Int> { $0.finish() }.makeBlockingIterator()
        #expect(throws: WeaveError.self) { try iterator.next() }
    }
}

/// Counts how often its iterator is asked for an element; yields 0, 1, 2, ... forever.
struct CountingSequence: AsyncSequence, Sendable {
    let asked: AtomicCounter

    func makeAsyncIterator() -> Iterator { Iterator(asked: asked) }

    struct Iterator: AsyncIteratorProtocol {
        let asked: AtomicCounter
        var next = 0

        mutating func next() async -> Int? {
            asked.increment()
            defer { next += 1 }
            return next
        }
    }
}
