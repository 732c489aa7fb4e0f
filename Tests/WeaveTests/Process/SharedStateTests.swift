import Glibc
import TestTasks
import Testing
import Weave
@testable import WeaveProcess
import WeaveTestSupport

@Suite("ProcessQueue, ManagedDictionary, ManagedList, ProcessLock", .timeLimit(.minutes(3)))
struct SharedStateTests {
    @Test("two child producers, the parent consuming: every item arrives once, in order per producer")
    func queueProducers() async throws {
        try await onHub {
            let queue = ProcessQueue<Int>()
            let first = try testChild(QueueProducer(queue: queue, start: 0, count: 200))
            let second = try testChild(QueueProducer(queue: queue, start: 1000, count: 200))
            var received: [Int] = []
            for _ in 0..<400 { received.append(try queue.get(timeout: .seconds(30))) }
            #expect(try first.join(timeout: .seconds(30)) == 200)
            #expect(try second.join(timeout: .seconds(30)) == 200)
            #expect(received.sorted() == Array(0..<200) + Array(1000..<1200))
            #expect(received.filter { $0 < 1000 } == Array(0..<200))
            #expect(received.filter { $0 >= 1000 } == Array(1000..<1200))
            #expect(throws: TimeoutError.self) { try queue.get(timeout: .milliseconds(20)) }
            #expect(try queue.count() == 0)
        }
    }

    @Test("a bounded queue parks puts while full, in order, with timeouts")
    func boundedQueueInParent() async throws {
        try await onHub {
            let queue = ProcessQueue<Int>(maxSize: 2)
            try queue.put(1)
            try queue.put(2)
            #expect(throws: TimeoutError.self) { try queue.put(99, timeout: .milliseconds(10)) }
            #expect(try queue.count() == 2)
            let late = try spawn { try queue.put(3) }      // parks: the queue is full
            let later = try spawn { try queue.put(4) }
            try Coroutine.yield()
            #expect(!late.isFinished && !later.isFinished)
            var received: [Int] = []
            for _ in 0..<4 {
                received.append(try queue.get(timeout: .seconds(5)))
                #expect(try queue.count() <= 2)
            }
            try late.join()
            try later.join()
            #expect(received == [1, 2, 3, 4])
        }
    }

    @Test("a child's puts into a bounded queue wait for the parent's gets; nothing is lost or reordered")
    func boundedQueueAcrossProcesses() async throws {
        try await onHub {
            let queue = ProcessQueue<Int>(maxSize: 1)
            let producer = try testChild(QueueProducer(queue: queue, start: 0, count: 50))
            var received: [Int] = []
            var mostQueued = 0
            for index in 0..<50 {
                if index % 10 == 0 { try Coroutine.sleep(for: .milliseconds(20)) }  // the child runs ahead
                mostQueued = max(mostQueued, try queue.count())
                received.append(try queue.get(timeout: .seconds(30)))
            }
            #expect(try producer.join(timeout: .seconds(30)) == 50)
            #expect(received == Array(0..<50))
            #expect(mostQueued == 1)
        }
    }

    @Test("a cancelled put and a child killed while its put waits leave nothing behind")
    func boundedQueuePutsThatGiveUp() async throws {
        try await onHub {
            let queue = ProcessQueue<Int>(maxSize: 1)
            try queue.put(1)
            // A put parked in this process, cancelled: its item never goes in.
            let cancelled = try spawn { try queue.put(2) }
            try Coroutine.yield()
            cancelled.cancel()
            #expect(throws: CancellationError.self) { try cancelled.join() }
            // A child's put parked in the parent, and the child killed.
            let producer = try testChild(QueueProducer(queue: queue, start: 100, count: 1))
            #expect(queue.waitingPutters == 0)
            for _ in 0..<3_000 where queue.waitingPutters == 0 {   // the child connects and parks
                try Coroutine.sleep(for: .milliseconds(10))
            }
            #expect(queue.waitingPutters == 1)
            kill(producer.pid, SIGKILL)
            #expect(throws: (any Error).self) { try producer.join(timeout: .seconds(30)) }
            for _ in 0..<3_000 where queue.waitingPutters != 0 {   // its link's end may come after its exit
                try Coroutine.sleep(for: .milliseconds(10))
            }
            #expect(queue.waitingPutters == 0)   // withdrawn with its link
            // Only the first item is there, and the slot it leaves is not taken by a ghost.
            #expect(try queue.get(timeout: .seconds(5)) == 1)
            #expect(throws: TimeoutError.self) { try queue.get(timeout: .milliseconds(50)) }
            try queue.put(3)
            #expect(try queue.get(timeout: .seconds(5)) == 3)
        }
    }

    @Test("four children write their pids into a managed dictionary and list")
    func managerPIDs() async throws {
        try await onHub {
            let pids = ManagedDictionary<String, Int32>()
            let list = ManagedList<Int32>()
            let children = try (1...4).map { try testChild(RecordPID(name: "child \($0)", pids: pids, list: list)) }
            let returned = try children.map { try $0.join(timeout: .seconds(30)) }
            let snapshot = try pids.snapshot()
            #expect(snapshot.count == 4)
            for (index, child) in children.enumerated() {
                #expect(snapshot["child \(index + 1)"] == child.pid)
                #expect(try pids.value(for: "child \(index + 1)") == child.pid)
            }
            #expect(Set(try list.snapshot()) == Set(returned))
            #expect(try list.snapshot().count == 4)
        }
    }

    @Test("the lock keeps children's begin/end pairs from interleaving")
    func lockExclusion() async throws {
        try await onHub {
            let lock = ProcessLock()
            let log = ManagedList<String>()
            let children = try (0..<3).map { _ in try testChild(LockedAppend(lock: lock, list: log, rounds: 5)) }
            // The parent takes part too.
            for _ in 0..<5 {
                try lock.withLock {
                    try log.append("parent begin")
                    try Coroutine.sleep(for: .milliseconds(2))
                    try log.append("parent end")
                }
            }
            for child in children { #expect(try child.join(timeout: .seconds(30)) == 5) }
            let lines = try log.snapshot()
            #expect(lines.count == 40)
            for pair in stride(from: 0, to: lines.count, by: 2) {
                let begin = lines[pair].split(separator: " ")
                let end = lines[pair + 1].split(separator: " ")
                #expect(begin.last == "begin" && end.last == "end" && begin.first == end.first, "interleaved at \(pair): \(lines[pair]), \(lines[pair + 1])")
            }
            #expect(!lock.isLocked)
            #expect(throws: WeaveError.self) { try lock.release() }
        }
    }

    @Test("a lock held by a child that dies is released, and the death counted")
    func lockOwnerDies() async throws {
        try await onHub {
            let lock = ProcessLock()
            let child = try testChild(LockThenDie(lock: lock))
            #expect(throws: ProcessError.self) { try child.join(timeout: .seconds(30)) }
            try lock.acquire(timeout: .seconds(10))
            #expect(lock.ownerDeaths == 1)
            try lock.release()
        }
    }

    @Test("a get parked in the parent is woken by a child's put; a timed-out get takes nothing")
    func parkedGet() async throws {
        try await onHub {
            let queue = ProcessQueue<Int>()
            #expect(throws: TimeoutError.self) { try queue.get(timeout: .milliseconds(20)) }
            let child = try testChild(QueueProducer(queue: queue, start: 7, count: 1))
            #expect(try queue.get(timeout: .seconds(30)) == 7)
            _ = try child.join(timeout: .seconds(30))
        }
    }

    @Test("a get in a child parks until the parent puts; a timed-out remote get takes nothing")
    func remoteGet() async throws {
        try await onHub {
            let queue = ProcessQueue<Int>()
            let impatient = try testChild(QueueTake(queue: queue, count: 1, milliseconds: 30))
            do {
                _ = try impatient.join(timeout: .seconds(30))
                Issue.record("expected a timeout in the child")
            } catch let error as ProcessError {
                #expect(error.code == .remoteError)
                #expect(error.isRemote(TimeoutError.self))
            }
            let consumer = try testChild(QueueTake(queue: queue, count: 3, milliseconds: 30_000))
            try Coroutine.sleep(for: .milliseconds(50))  // let it park in get
            for value in [4, 5, 6] { try queue.put(value) }
            #expect(try consumer.join(timeout: .seconds(30)) == [4, 5, 6])
            #expect(try queue.count() == 0)
        }
    }

    @Test("a get cancelled in a child loses no item")
    func cancelledRemoteGet() async throws {
        try await onHub {
            let queue = ProcessQueue<Int>()
            let child = try testChild(CancelledGet(queue: queue))
            // Usually after the child's get was parked and cancelled; whatever the timing,
            // both items must come out.
            try Coroutine.sleep(for: .milliseconds(300))
            try queue.put(1)
            try queue.put(2)
            let taken = try child.join(timeout: .seconds(30))
            let left = try queue.get(timeout: .seconds(5))
            #expect(Set([taken, left]) == [1, 2])
            #expect(try queue.count() == 0)
        }
    }
}
