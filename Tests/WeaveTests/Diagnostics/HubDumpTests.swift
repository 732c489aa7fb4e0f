import Glibc
import Testing
import Weave
import WeaveTestSupport

@Suite("coroutine dump")
struct HubDumpTests {
    @Test("the dump lists coroutines blocked on each primitive with their descriptions and holders")
    func everyPrimitive() async throws {
        let dump = try await onHub { () throws -> HubDump in
            let lock = Lock(label: "db")
            let rlock = RLock(label: "cache")
            let jobs = Queue<Int>(maxSize: 1, label: "jobs")
            let full = Queue<Int>(maxSize: 1, label: "results")
            try full.put(0)
            let event = Event(label: "go")
            let semaphore = Semaphore(value: 0, label: "slots")
            let channel = Channel<Int>(label: "ticks")
            let result = Future<Int>(label: "answer")
            let barrier = Barrier(parties: 3, label: "start")
            let group = WaitGroup(label: "workers")
            try group.add(1)
            let condition = Condition(label: "ready")
            let release = Event(label: "release")

            let writer = try spawn(name: "writer") {
                try lock.withLock { try rlock.withLock { try release.wait() } }
            }
            var blocked: [AnyCoroutine] = [writer]
            blocked.append(try spawn(name: "lock-waiter") { try lock.withLock {} })
            blocked.append(try spawn(name: "rlock-waiter") { try rlock.withLock {} })
            blocked.append(try spawn(name: "consumer") { _ = try jobs.get() })
            blocked.append(try spawn(name: "producer") { try full.put(1) })
            blocked.append(try spawn(name: "event-waiter") { try event.wait() })
            blocked.append(try spawn(name: "semaphore-waiter") { try semaphore.acquire() })
            blocked.append(try spawn(name: "receiver") { _ = try channel.receive() })
            blocked.append(try spawn(name: "result-waiter") { _ = try result.get() })
            blocked.append(try spawn(name: "barrier-waiter") { try barrier.wait() })
            blocked.append(try spawn(name: "group-waiter") { try group.wait() })
            blocked.append(try spawn(name: "condition-waiter") { try condition.withLock { try condition.wait() } })
            blocked.append(try spawn(name: "sleeper") { try Coroutine.sleep(for: .seconds(60)) })
            let joiner = try spawn(name: "joiner") { try writer.join() }
            blocked.append(joiner)
            try Coroutine.sleep(for: .milliseconds(5))
            let dump = Hub.current!.dump()
            for coroutine in blocked { coroutine.cancel() }
            return dump
        }
        func entry(_ name: String) throws -> CoroutineSnapshot {
            try #require(dump.coroutines.first { $0.name == name })
        }
        #expect(try entry("main").state == .running)
        #expect(try entry("writer").waitingOn == "Event 'release' (clear) wait")
        #expect(try entry("lock-waiter").waitingOn == "Lock 'db' (held by 'writer') acquire")
        #expect(try entry("lock-waiter").heldBy == "'writer'")
        #expect(try entry("rlock-waiter").waitingOn == "RLock 'cache' (held by 'writer', depth 1) acquire")
        #expect(try entry("rlock-waiter").heldBy == "'writer'")
        #expect(try entry("consumer").waitingOn == "Queue 'jobs' (0 of 1 items) get")
        #expect(try entry("producer").waitingOn == "Queue 'results' (1 of 1 items) put")
        #expect(try entry("event-waiter").waitingOn == "Event 'go' (clear) wait")
        #expect(try entry("semaphore-waiter").waitingOn == "Semaphore 'slots' (0 free, 1 waiting) acquire")
        #expect(try entry("receiver").waitingOn == "Channel 'ticks' (0 of 0 buffered) receive")
        #expect(try entry("result-waiter").waitingOn == "Future 'answer' (pending) get")
        #expect(try entry("barrier-waiter").waitingOn == "Barrier 'start' (1 of 3 arrived) wait")
        #expect(try entry("group-waiter").waitingOn == "WaitGroup 'workers' (1 pending) wait")
        #expect(try entry("condition-waiter").waitingOn == "Condition 'ready' (1 waiting) wait")
        #expect(try entry("sleeper").waitingOn == "sleep")
        #expect(try entry("joiner").waitingOn == "join 'writer'")
        #expect(try entry("joiner").heldBy == nil)
        #expect(dump.coroutines.map(\.id) == dump.coroutines.map(\.id).sorted())
        #expect(try entry("consumer").spawnSite.fileID == "WeaveTests/HubDumpTests.swift")
        #expect(dump.description.contains("'consumer' parked on Queue 'jobs' (0 of 1 items) get, age "))
        // The main coroutine's site is where Hub.run was called (here, inside onHub).
        #expect(try entry("main").spawnSite.fileID == "WeaveTestSupport/OnHub.swift")
        #expect(try entry("main").spawnSite.line > 0)

    }

    @Test("a lock held by a coroutine that finished without releasing it is reported as such")
    func finishedHolder() async throws {
        let dump = try await onHub { () throws -> HubDump in
            let lock = Lock(label: "leaked")
            try spawn(name: "careless") { try lock.acquire() }.join()
            let waiter = try spawn(name: "waiter") { try lock.acquire() }
            try Coroutine.yield()
            let dump = Hub.current!.dump()
            waiter.cancel()
            return dump
        }
        let waiter = try #require(dump.coroutines.first { $0.name == "waiter" })
        #expect(waiter.heldBy?.hasSuffix("(finished)") == true)
    }
}

@Suite("SIGUSR1 dump")
struct DumpSignalTests {
    @Test("SIGUSR1 logs the dump at notice level when configured")
    func signalDump() async throws {
        let capture = MemoryLog()
        var configuration = Hub.Configuration()
        configuration.dumpsOnSIGUSR1 = true
        configuration.logger = capture.logger
        try await onHub(configuration: configuration) { () throws -> Void in
            let event = Event(label: "never")
            let waiter = try spawn(name: "waiting") { try event.wait() }
            try Coroutine.yield()
            // The hub's watcher is active, so libuv's handler takes the signal (no default action).
            kill(getpid(), SIGUSR1)
            for _ in 0..<100 where !capture.entries.contains(where: { $0.level == .notice }) {
                try Coroutine.sleep(for: .milliseconds(5))
            }
            waiter.cancel()
        }
        let dump = try #require(capture.entries.first { $0.level == .notice })
        #expect("\(dump.message)" == "hub dump (SIGUSR1)")
        #expect(dump["dump"]?.hasPrefix("hub dump:") == true)
        #expect(dump["dump"]?.contains("'waiting' parked on Event 'never' (clear) wait") == true)
    }
}
