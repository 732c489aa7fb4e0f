import Glibc
import Testing
import Weave
@testable import WeaveCore
import WeaveTestSupport

/// The per-hub cache of finished coroutines' stacks (reused by the next spawn) must not hold
/// memory or mappings beyond the pool's cap once the hub is idle.
@Suite("stack cache")
struct StackCacheTests {
    @Test("stacks cached one per slab do not keep their slabs mapped: the pool stays within its cap")
    func cacheDoesNotPinSlabs() async throws {
        var configuration = Hub.Configuration()
        configuration.stackSize = 16 << 20   // 4 stacks a slab (64 MiB), so slabs are few and easy to pin
        configuration.stackPoolCapacity = 4
        let (pooled, limit, inUse) = try await onHub(configuration: configuration) { () throws -> (Int, Int, Int) in
            var children: [Coroutine<Void>] = []
            for index in 0..<31 {
                // The first to finish sit one per slab (main holds slab 0's first slot).
                let early = (index + 1) % 4 == 1
                children.append(try spawn { try Coroutine.sleep(for: early ? .milliseconds(1) : .milliseconds(30)) })
            }
            try joinAll(children)
            let hub = Hub.current!
            return (hub.pooledStackCount, hub.stackPoolLimit, hub.stacksInUse)
        }
        #expect(inUse == 1)
        #expect(pooled <= limit)
    }

    @Test("finished stacks wait in the cache for the next spawn; pool figures flush it first")
    func burstsParkStacksInTheCache() async throws {
        let (cached, reused, afterQuery, pooled) = try await onHub { () throws -> (Int, Int, Int, Int) in
            let hub = Hub.current!
            try joinAll((0..<300).map { _ in try spawn { try Coroutine.yield() } })
            let cached = Int(hub.sched.pointee.stack_cache_count)
            // The next spawn takes its stack from the cache.
            try spawn { }.join()
            let reused = Int(hub.sched.pointee.stack_cache_count)
            let pooled = hub.pooledStackCount
            return (cached, reused, Int(hub.sched.pointee.stack_cache_count), pooled)
        }
        #expect(cached == 300)
        #expect(reused == 300)   // one taken, one given back as it finished
        #expect(afterQuery == 0)
        #expect(pooled >= 300)
    }

    @Test("a burst above the pool's cap keeps its slabs until the hub goes idle, then gives them back")
    func burstsKeepSlabsUntilIdle() async throws {
        var configuration = Hub.Configuration()
        configuration.stackSize = 16 << 20   // 4 stacks a slab
        configuration.stackPoolCapacity = 4
        let (first, second, afterIdle, pooled, limit) = try await onHub(configuration: configuration) {
            () throws -> (Int, Int, Int, Int, Int) in
            let hub = Hub.current!
            func burst() throws -> Int {
                try joinAll((0..<40).map { _ in try spawn { try Coroutine.yield() } })
                return hub.stacks.mappingCount
            }
            let first = try burst()
            let second = try burst()   // no idle in between: the same slabs, nothing remapped
            try Coroutine.sleep(for: .milliseconds(2))   // idle: free slabs above the cap go
            let afterIdle = hub.stacks.mappingCount
            return (first, second, afterIdle, hub.pooledStackCount, hub.stackPoolLimit)
        }
        #expect(second == first)
        #expect(afterIdle < first)
        #expect(pooled <= limit)
    }

    @Test("a hub that never goes idle still gives free slabs back when mappings run short")
    func busyHubReleasesSlabsUnderPressure() async {
        await #expect(processExitsWith: .success) {
            setenv("WEAVE_MAPPING_BUDGET", "5", 1)   // read once, on first use, in this child
            var configuration = Hub.Configuration()
            configuration.stackPoolCapacity = 8
            try Hub.run(configuration: configuration) {
                // Something always runnable: the hub never blocks in the poll, so never trims.
                let spinner = try spawn { while true { try Coroutine.yield() } }
                try joinAll((0..<900).map { _ in try spawn { try Coroutine.yield() } })
                // A stack of another size needs a slab of its own.
                try spawn(stackSize: 512 * 1024) { }.join()
                spinner.cancel()
            }
        }
    }

    @Test("a blocking call from a deinit run after the coroutine's end throws instead of parking")
    func blockingAfterTheEndThrows() async throws {
        let outcome = try await onHub { () throws -> String in
            let queue = Queue<Int>()
            let log = Box("")
            try spawn { BlocksInDeinit(queue, log) }   // its result is freed after the body ends
            try Coroutine.sleep(for: .milliseconds(20))
            return log.value
        }
        #expect(outcome.contains("must be called from a coroutine"))
    }
}

private final class BlocksInDeinit {
    let queue: Queue<Int>
    let log: Box<String>

    init(_ queue: Queue<Int>, _ log: Box<String>) {
        self.queue = queue
        self.log = log
    }

    deinit {
        do {
            _ = try queue.get(timeout: .milliseconds(10))
            log.value = "returned"
        } catch {
            log.value = "threw \(error)"
        }
        do { try Coroutine.yield() } catch { log.value += "; yield threw" }
    }
}
