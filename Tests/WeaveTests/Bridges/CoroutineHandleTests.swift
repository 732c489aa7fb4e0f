import CWeaveContext
import Testing
import Weave
@testable import WeaveBridges
@testable import WeaveCore
import WeaveTestSupport

/// Detached coroutines of the current hub that have been given a Swift object.
private func detachedWithObjects() -> Int {
    var count = 0
    var fiber = Hub.current!.sched.pointee.all_head
    while let current = fiber {
        if current.pointee.detached != 0 && current.pointee.owner != nil { count += 1 }
        fiber = current.pointee.all_next
    }
    return count
}

@Suite("CoroutineHandle lookups with many coroutines alive")
struct CoroutineHandleTests {
    @Test("cancel through a handle reaches its coroutine among 20,000 others without touching them")
    func cancelAmongMany() async throws {
        let (cancelled, othersTouched, othersAlive) = try await onHub { () throws -> (Bool, Int, Int) in
            let released = Box(false)
            let others = 20_000
            // The target is the oldest, so a walk of the live list would pass every other.
            let target = try spawn(stackSize: 32 * 1024) { try Coroutine.sleep(for: .seconds(60)) }
            let handle = target.handle()
            // Detached coroutines that only yield never need an object (parking would make one).
            for _ in 0..<others {
                try spawnDetached(stackSize: 32 * 1024) { while !released.value { try Coroutine.yield() } }
            }
            try Coroutine.yield()
            handle.cancel()  // through the hub's cross-thread queue, as from any thread
            let cancelled: Bool
            do {
                try target.join(timeout: .seconds(10))
                cancelled = false
            } catch is CancellationError {
                cancelled = true
            }
            // Finding the target made no object for any detached coroutine (a lookup that
            // materialises every live coroutine would have made 20,000).
            let touched = detachedWithObjects()
            let alive = Hub.current!.aliveCount
            released.value = true
            return (cancelled, touched, alive)
        }
        #expect(cancelled)
        #expect(othersTouched == 0)
        #expect(othersAlive >= 20_000)
    }

    @Test("a cancel from Swift concurrency reaches a HubThread coroutine; after it finished, nothing happens")
    func cancelFromTask() async throws {
        let hubThread = try HubThread(name: "handles")
        let handle = try await hubThread.spawn { () throws -> Int in
            try Coroutine.sleep(for: .seconds(60))
            return 1
        }
        handle.cancel()
        await #expect(throws: CancellationError.self) { try await handle.value }
        handle.cancel()  // finished: no effect
        #expect(handle.isFinished)
        try await hubThread.shutdown()
    }

    @Test("lookup by id finds the oldest and a detached coroutine, and nothing for finished or unknown ids")
    func lookupByID() async throws {
        let (oldestFound, detachedFound, finishedFound, unknownFound, touched) = try await onHub {
            () throws -> (Bool, Bool, Bool, Bool, Int) in
            let hub = Hub.current!
            let release = Event()
            let oldest = try spawn { try release.wait() }
            let finished = try spawn { 0 }
            try finished.join()
            // Ids are given in spawn order: these get the next 1,000.
            let firstDetached = hub.sched.pointee.next_id + 1
            // Not started yet when looked up below, so none has an object.
            for _ in 0..<1_000 {
                try spawnDetached(stackSize: 32 * 1024) { try? release.wait() }
            }
            let wanted = firstDetached + 500
            let detachedFound = hub.coroutine(withID: wanted)?.id == wanted
            // Only the match got an object.
            let touched = detachedWithObjects()
            let result = (hub.coroutine(withID: oldest.id) === oldest, detachedFound,
                          hub.coroutine(withID: finished.id) != nil, hub.coroutine(withID: 1 << 40) != nil, touched)
            release.set()
            return result
        }
        #expect(oldestFound)
        #expect(detachedFound)
        #expect(!finishedFound)
        #expect(!unknownFound)
        #expect(touched == 1)
    }
}
