import Glibc
import Testing
import Weave
import WeaveTestSupport

@Suite("deadlock detection")
struct DeadlockTests {
    @Test("two coroutines joining each other: the error names both, their waits and spawn sites")
    func mutualJoin() async throws {
        var caught: DeadlockError?
        do {
            try await onHub { () throws -> Void in
                let slots = Box<[Coroutine<Void>]>([])
                let first = try spawn(name: "first") { try slots.value[1].join() }
                let second = try spawn(name: "second") { try slots.value[0].join() }
                slots.value = [first, second]
                try first.join()
            }
        } catch let error as DeadlockError {
            caught = error
        }
        let error = try #require(caught)
        let names = Set(error.waiters.map(\.name))
        #expect(names == ["main", "first", "second"])
        let first = try #require(error.waiters.first { $0.name == "first" })
        #expect(first.waitingOn == "join 'second'")
        #expect(first.spawnSite.fileID == "WeaveTests/DeadlockTests.swift")
        #expect(error.description.contains("'second' waiting on join 'first'"))
    }

    @Test("sleeping coroutines are not a deadlock")
    func sleepersAreAlive() async throws {
        let value = try await onHub { () throws -> Int in
            let sleeper = try spawn { () throws -> Int in
                try Coroutine.sleep(for: .milliseconds(20))
                return 7
            }
            return try sleeper.join()
        }
        #expect(value == 7)
    }

    @Test("pending outside work keeps an idle hub waiting instead of reporting a deadlock")
    func outsideWorkIsNotDeadlock() async throws {
        let value = try await onHub { () throws -> Int in
            let hub = Hub.current!
            let main = Coroutine.current!
            let result = Box(0)
            hub.beginOutsideWork()
            let remote = hub.remote
            // The job runs on the hub's thread, so touching hub objects there is safe.
            let onHubThread = Box((hub, main))
            let thread = Box<pthread_t?>(nil)
            thread.value = startThread {
                usleep(20_000)
                remote.send {
                    let (hub, main) = onHubThread.value
                    result.value = 99
                    hub.endOutsideWork()
                    hub.makeReady(main)
                }
            }
            while result.value == 0 {
                try main.park(.other("remote value"))
            }
            pthread_join(thread.value!, nil)
            return result.value
        }
        #expect(value == 99)
    }
}
