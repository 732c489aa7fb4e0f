import Glibc
import Synchronization
import TestTasks
import Testing
import Weave
import WeaveTestSupport

@Suite("pools shared by every hub of a group", .timeLimit(.minutes(3)))
struct GroupProcessPoolTests {
    @Test("coroutines on every hub run tasks on one set of workers, and every output comes back")
    func everyHubUsesOneSetOfWorkers() async throws {
        let (sums, workerPIDs, livePIDs, childrenAfter) = try await inHubGroup(hubs: 3) { group -> ([Int], Set<Int32>, [Int32], Int) in
            let pool = try GroupProcessPool(group: group, configuration: .init(
                workers: 2, executable: testWorkerPath, environment: ["SWIFT_BACKTRACE": "enable=no"]))
            let sums = CrossHubChannel<Int>(capacity: 8)
            let seen = Mutex(Set<Int32>())
            for index in 0..<3 {
                try group.hub(index).spawn {
                    var sum = 0
                    for value in 1...20 { sum += try pool.apply(Square(value)) }
                    sum += try pool.map((1...30).map(Square.init), chunkSize: 4).reduce(0, +)
                    let pid = try pool.apply(WorkerPID())
                    seen.withLock { _ = $0.insert(pid) }
                    try sums.send(sum)
                }
            }
            var results: [Int] = []
            for _ in 0..<3 { results.append(try sums.receive(timeout: .seconds(60)) ?? -1) }
            let pids = try pool.workerPIDs()
            try pool.closeAndJoin(timeout: .seconds(30))
            return (results, seen.withLock { $0 }, pids, try pool.workerPIDs().count)
        }
        let squares: Int = (1...20).map { $0 * $0 }.reduce(0, +)
        let mapped: Int = (1...30).map { $0 * $0 }.reduce(0, +)
        let expected = squares + mapped
        #expect(sums == [expected, expected, expected])
        #expect(livePIDs.count == 2, "one set of two workers for three hubs: \(livePIDs)")
        #expect(workerPIDs.isSubset(of: Set(livePIDs)), "every hub's tasks ran on the shared workers")
        #expect(childrenAfter == 0)
    }

    @Test("cancelling a caller on another hub kills its running task's worker; the pool goes on")
    func cancellationCrossesToTheOwner() async throws {
        let (caught, answer) = try await inHubGroup(hubs: 2) { group -> (String, Int) in
            let pool = try GroupProcessPool(group: group, configuration: .init(
                workers: 1, executable: testWorkerPath, environment: ["SWIFT_BACKTRACE": "enable=no"]))
            let outcome = CrossHubChannel<String>(capacity: 1)
            let started = CrossHubChannel<Int>(capacity: 1)
            try group.hub(1).spawn {
                let hanging = try spawn {
                    do {
                        _ = try pool.apply(Hang(seconds: 30))
                        try outcome.send("returned")
                    } catch is CancellationError {
                        try outcome.send("cancelled")
                    } catch {
                        try outcome.send("\(error)")
                    }
                }
                try started.send(1)
                try Coroutine.sleep(for: .milliseconds(200))
                hanging.cancel()
            }
            _ = try started.receive(timeout: .seconds(30))
            let caught = try outcome.receive(timeout: .seconds(30)) ?? "nothing"
            let answer = try pool.apply(Square(9), timeout: .seconds(30))
            try pool.terminate()
            return (caught, answer)
        }
        #expect(caught == "cancelled")
        #expect(answer == 81, "a new worker replaced the killed one")
    }

    @Test("one ThreadPool serves blocking calls from every hub")
    func threadPoolIsShared() async throws {
        let (results, threads) = try await inHubGroup(hubs: 3) { group -> ([Int], Int) in
            let pool = ThreadPool(threads: 2)
            let threadIDs = Mutex(Set<UInt>())
            let results = CrossHubChannel<Int>(capacity: 64)
            for index in 0..<3 {
                try group.hub(index).spawn {
                    for value in 0..<10 {
                        let doubled = try blocking(on: pool) {
                            threadIDs.withLock { _ = $0.insert(UInt(pthread_self())) }
                            return value * 2
                        }
                        try results.send(doubled)
                    }
                }
            }
            var all: [Int] = []
            for _ in 0..<30 { all.append(try results.receive(timeout: .seconds(30)) ?? -1) }
            pool.shutdown()
            return (all.sorted(), threadIDs.withLock { $0.count })
        }
        let doubledThrice: [Int] = (0..<10).flatMap { value -> [Int] in [value * 2, value * 2, value * 2] }
        #expect(results == doubledThrice.sorted())
        #expect(threads <= 2, "three hubs' calls ran on the pool's two threads, not a pool per hub")
    }
}
