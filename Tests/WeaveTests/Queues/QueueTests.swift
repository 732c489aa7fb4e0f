import Testing
import Weave
@testable import WeaveCore
import WeaveTestSupport

@Suite("Queue, LifoQueue, PriorityQueue")
struct QueueTests {
    @Test("FIFO order, bounded put waits, getters are served first-come first-served")
    func fifoAndBound() async throws {
        let (items, served, putWaited) = try await onHub { () throws -> ([Int], [Int], Bool) in
            let queue = Queue<Int>(maxSize: 2, label: "jobs")
            try queue.put(1)
            try queue.put(2)
            #expect(queue.isFull)
            let putter = try spawn { try queue.put(3) }
            try Coroutine.yield()
            let putWaited = !putter.isFinished
            let items = [try queue.get(), try queue.get(), try queue.get()]
            try putter.join()
            let served = Box<[Int]>([])
            let getters = try (0..<3).map { index in try spawn { _ = try queue.get(); served.value.append(index) } }
            try Coroutine.yield()
            for value in 10..<13 { try queue.put(value) }
            try joinAll(getters)
            return (items, served.value, putWaited)
        }
        #expect(items == [1, 2, 3])
        #expect(served == [0, 1, 2])
        #expect(putWaited)
    }

    @Test("LIFO and priority order")
    func orders() async throws {
        let (lifo, priority, byKey) = try await onHub { () throws -> ([Int], [Int], [String]) in
            let lifo = LifoQueue<Int>()
            let priority = PriorityQueue<Int>()
            for value in [3, 1, 2] {
                try lifo.put(value)
                try priority.put(value)
            }
            let byKey = PriorityQueue<(Int, String)>(by: { $0.0 < $1.0 })
            for entry in [(2, "b1"), (1, "a"), (2, "b2")] { try byKey.put(entry) }
            return (try (0..<3).map { _ in try lifo.get() }, try (0..<3).map { _ in try priority.get() },
                    try (0..<3).map { _ in try byKey.get().1 })
        }
        #expect(lifo == [2, 1, 3])
        #expect(priority == [1, 2, 3])
        #expect(byKey == ["a", "b1", "b2"])
    }

    @Test("FIFO order holds while the ring wraps and grows; a bounded queue grows up to its bound")
    func ringWrapsAndGrows() async throws {
        let (order, bounded, refused) = try await onHub { () throws -> ([Int], [Int], Bool) in
            let queue = Queue<Int>()
            var order: [Int] = []
            var next = 0
            // Move the head into the 16-slot ring, then fill it so it wraps and has to grow
            // (out of line) while wrapped, twice; the inlined fast path runs in between.
            for _ in 0..<10 { try queue.put(next); next += 1 }
            for _ in 0..<8 { order.append(try queue.get()) }
            for _ in 0..<40 { try queue.put(next); next += 1 }
            #expect(queue.peek() == 8)
            while let value = try queue.tryGet() { order.append(value) }

            let limited = Queue<Int>(maxSize: 20)
            for value in 0..<20 { #expect(try limited.tryPut(value)) }
            let refused = try !limited.tryPut(20)
            return (order, try (0..<20).map { _ in try limited.get() }, refused)
        }
        #expect(order == Array(0..<50))
        #expect(bounded == Array(0..<20))
        #expect(refused)
    }

    @Test("a get from a full bounded queue refills it from the waiting putter, in every order")
    func refillFromWaitingPutter() async throws {
        let (fifo, lifo, priority, handedOff) = try await onHub { () throws -> ([Int], [Int], [Int], [Int]) in
            func drain(_ queue: Queue<Int>, after first: Int, _ second: Int) throws -> [Int] {
                try queue.put(first)
                try queue.put(second)
                let putter = try spawn { try queue.put(3) }
                try Coroutine.yield()
                #expect(!putter.isFinished)
                var items = [try queue.get()]
                try putter.join()
                #expect(queue.count == 2)
                items += [try queue.get(), try queue.get()]
                #expect(queue.isEmpty)
                #expect(queue.unfinishedTasks == 3)
                return items
            }
            let fifo = try drain(Queue(maxSize: 2), after: 1, 2)
            let lifo = try drain(LifoQueue(maxSize: 2), after: 1, 2)
            let priority = try drain(PriorityQueue(maxSize: 2), after: 5, 1)
            // A getter already waiting is handed the item directly, whatever the order.
            var handedOff: [Int] = []
            for queue in [Queue<Int>(), LifoQueue<Int>(), PriorityQueue<Int>()] as [Queue<Int>] {
                let getter = try spawn { try queue.get() }
                try Coroutine.yield()
                try queue.put(7)
                #expect(queue.isEmpty)
                handedOff.append(try getter.join())
            }
            return (fifo, lifo, priority, handedOff)
        }
        #expect(fifo == [1, 2, 3])
        #expect(lifo == [2, 3, 1])
        #expect(priority == [1, 3, 5])
        #expect(handedOff == [7, 7, 7])
    }

    @Test("the inlined fast paths' flags follow the wait queues (hand-off, timeout, cancel, shutdown)")
    func fastPathFlags() async throws {
        try await onHub { () throws -> Void in
            let queue = Queue<Int>(maxSize: 1)
            // A getter that timed out leaves: the next put stores (fast path) instead of handing off.
            _ = try? queue.get(timeout: .milliseconds(2))
            #expect(!queue.gettersMayWait)
            try queue.put(1)
            #expect(queue.count == 1)
            // A putter that timed out leaves: the next get takes the item without refilling.
            #expect(throws: TimeoutError.self) { try queue.put(2, timeout: .milliseconds(2)) }
            #expect(!queue.puttersMayWait)
            #expect(try queue.get() == 1)
            #expect(queue.isEmpty)
            // A waiting getter is signalled by put, and the flag drops once it is taken out.
            let getter = try spawn { try queue.get() }
            try Coroutine.yield()
            #expect(queue.gettersMayWait)
            try queue.put(3)
            #expect(!queue.gettersMayWait)
            #expect(try getter.join() == 3)
            // A cancelled getter leaves too.
            let doomed = try spawn { try queue.get() }
            try Coroutine.yield()
            doomed.cancel()
            try doomed.wait()
            #expect(!queue.gettersMayWait)
            // Shutdown wakes everyone; put (fast path included) fails from then on.
            let waiting = try spawn { try queue.get() }
            try Coroutine.yield()
            queue.shutdown()
            try waiting.wait()
            #expect(!queue.gettersMayWait)
            #expect((waiting.error as? QueueError)?.code == .shutDown)
            #expect(throws: QueueError.self) { try queue.put(4) }
            #expect(throws: QueueError.self) { _ = try queue.tryPut(4) }
            #expect(throws: QueueError.self) { _ = try queue.tryGet() }
            #expect(queue.isEmpty)
        }
    }

    @Test("tryGet is nil when empty, tryPut false when full; neither waits; peek does not remove")
    func tryWithoutWaiting() async throws {
        let outcomes = try await onHub { () throws -> [Bool] in
            let queue = Queue<String>(maxSize: 1)
            var outcomes: [Bool] = []
            outcomes.append(try queue.tryGet() == nil)
            outcomes.append(try queue.tryPut("a"))
            outcomes.append(try queue.tryPut("b"))
            #expect(queue.peek() == "a")
            #expect(queue.count == 1)
            #expect(try queue.tryGet() == "a")
            return outcomes
        }
        #expect(outcomes == [true, true, false])
    }

    @Test("get and put time out and leave the wait queue")
    func timeouts() async throws {
        let (getTimedOut, putTimedOut, stillWorks) = try await onHub { () throws -> (Bool, Bool, Int) in
            let queue = Queue<Int>(maxSize: 1)
            var getTimedOut = false
            do { _ = try queue.get(timeout: .milliseconds(3)) } catch is TimeoutError { getTimedOut = true }
            try queue.put(1)
            var putTimedOut = false
            do { try queue.put(2, timeout: .milliseconds(3)) } catch is TimeoutError { putTimedOut = true }
            let value = try queue.get()
            #expect(queue.isEmpty)
            return (getTimedOut, putTimedOut, value)
        }
        #expect(getTimedOut)
        #expect(putTimedOut)
        #expect(stillWorks == 1)
    }

    @Test("taskDone and join; taskDone called too often is an error")
    func taskAccounting() async throws {
        let (processed, code) = try await onHub { () throws -> (Int, QueueError.Code?) in
            let queue = Queue<Int>()
            let processed = Box(0)
            for value in 0..<10 { try queue.put(value) }
            for _ in 0..<3 {
                try spawn {
                    while true {
                        _ = try queue.get()
                        try Coroutine.sleep(for: .milliseconds(1))
                        processed.value += 1
                        try queue.taskDone()
                    }
                }
            }
            try queue.join(timeout: .seconds(30))
            var code: QueueError.Code?
            do { try queue.taskDone() } catch let error as QueueError { code = error.code }
            return (processed.value, code)
        }
        #expect(processed == 10)
        #expect(code == .taskDoneTooOften)
    }

    @Test("shutdown: blocked putters and getters fail; later get drains then fails")
    func shutdownGraceful() async throws {
        let (putterCode, drained, getCode, getterCode) = try await onHub { () throws -> (QueueError.Code?, [Int], QueueError.Code?, QueueError.Code?) in
            let full = Queue<Int>(maxSize: 1)
            try full.put(1)
            let putter = try spawn { try full.put(2) }
            try Coroutine.yield()
            full.shutdown()
            try putter.wait()
            let drained = [try full.get()]
            var getCode: QueueError.Code?
            do { _ = try full.get() } catch let error as QueueError { getCode = error.code }
            let empty = Queue<Int>()
            let getter = try spawn { try empty.get() }
            try Coroutine.yield()
            empty.shutdown()
            try getter.wait()
            return ((putter.error as? QueueError)?.code, drained, getCode, (getter.error as? QueueError)?.code)
        }
        #expect(putterCode == .shutDown)
        #expect(drained == [1])
        #expect(getCode == .shutDown)
        #expect(getterCode == .shutDown)
    }

    @Test("shutdown(immediate:) discards items and releases join")
    func shutdownImmediate() async throws {
        let (code, joined) = try await onHub { () throws -> (QueueError.Code?, Bool) in
            let queue = Queue<Int>()
            for value in 0..<5 { try queue.put(value) }
            let joiner = try spawn { try queue.join() }
            try Coroutine.yield()
            queue.shutdown(immediate: true)
            try joiner.join(timeout: .seconds(30))
            var code: QueueError.Code?
            do { _ = try queue.get() } catch let error as QueueError { code = error.code }
            return (code, joiner.isFinished)
        }
        #expect(code == .shutDown)
        #expect(joined)
    }

    @Test("a cancelled getter does not swallow an item")
    func noLostItem() async throws {
        let received = try await onHub { () throws -> Int in
            let queue = Queue<Int>()
            let doomed = try spawn { try queue.get() }
            let patient = try spawn { try queue.get() }
            try Coroutine.yield()
            doomed.cancel()
            try queue.put(42)
            try doomed.wait()
            return try patient.join(timeout: .seconds(30))
        }
        #expect(received == 42)
    }

    @Test("a deadlock on an empty queue names the queue")
    func queueDeadlock() async throws {
        var caught: DeadlockError?
        do {
            try await onHub { () throws -> Void in
                let queue = Queue<Int>(label: "jobs")
                try spawn(name: "consumer") { _ = try queue.get() }.join()
            }
        } catch let error as DeadlockError {
            caught = error
        }
        let consumer = try #require(caught?.waiters.first { $0.name == "consumer" })
        #expect(consumer.waitingOn == "Queue 'jobs' (0 items) get")
    }
}
