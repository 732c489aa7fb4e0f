import Glibc
import Synchronization
import Testing
import Weave
@testable import WeaveCore
import WeaveTestSupport

@Suite("HubGroup: hubs on every core, calls between them")
struct HubGroupTests {
    @Test("round-robin spawning lands on every hub in turn, and each hub knows its group and index")
    func roundRobinLandsOnEveryHub() async throws {
        let (landed, known) = try await inHubGroup(hubs: 3) { group -> ([Int], [Bool]) in
            let places = CrossHubChannel<Int>(capacity: 16)
            for _ in 0..<9 { try group.spawn { try places.send(HubGroup.currentHubIndex ?? -1) } }
            var landed: [Int] = []
            for _ in 0..<9 { landed.append(try places.receive(timeout: .seconds(30)) ?? -2) }
            let known = try (0..<3).map { index in
                try group.hub(index).run { HubGroup.current === group && HubGroup.currentHubIndex == index }
            }
            return (landed, known)
        }
        #expect(landed.sorted() == [0, 0, 0, 1, 1, 1, 2, 2, 2])
        #expect(known == [true, true, true])
    }

    @Test("a hub held by CPU work does not stall timers, coroutines or calls on the others")
    func busyHubDoesNotStallOthers() async throws {
        let (ticks, answer, spinnerStillBusy) = try await inHubGroup(hubs: 3) { group -> (Int, Int, Bool) in
            let spinning = Flag(), release = Flag(), finished = Flag()
            try group.hub(1).spawn(name: "spinner") {
                spinning.set()
                // Never yields: hub 1's thread is held until released (bounded against hangs).
                let limit = ContinuousClock.now + .seconds(30)
                while !release.isSet && ContinuousClock.now < limit {}
                finished.set()
            }
            let limit = ContinuousClock.now + .seconds(30)
            while !spinning.isSet && ContinuousClock.now < limit { try Coroutine.sleep(for: .milliseconds(1)) }
            let ticks = Box(0)
            let ticker = try spawn(name: "ticker") {
                for _ in 0..<20 {
                    try Coroutine.sleep(for: .milliseconds(1))
                    ticks.value += 1
                }
            }
            let answer = try group.hub(2).run { 6 * 7 }
            try ticker.join()
            let stillBusy = !finished.isSet
            release.set()
            return (ticks.value, answer, stillBusy)
        }
        #expect(ticks == 20)
        #expect(answer == 42)
        #expect(spinnerStillBusy)
    }

    @Test("an error thrown on another hub is rethrown to the caller, which resumes on its own hub")
    func errorCrossesHubs() async throws {
        let (caught, ranOn, resumedOn) = try await inHubGroup(hubs: 2) { group -> (TestFailure?, Int?, Int?) in
            let ranOn = Mutex<Int?>(nil)
            do {
                try group.hub(1).run { () throws -> Void in
                    ranOn.withLock { $0 = HubGroup.currentHubIndex }
                    throw TestFailure(tag: "on hub 1")
                }
                return (nil, nil, nil)
            } catch let error as TestFailure {
                return (error, ranOn.withLock { $0 }, HubGroup.currentHubIndex)
            }
        }
        #expect(caught == TestFailure(tag: "on hub 1"))
        #expect(ranOn == 1)
        #expect(resumedOn == 0)
    }

    @Test("cancelling a coroutine that waits on another hub cancels the remote coroutine, which unwinds before the caller throws")
    func cancellationCrossesHubs() async throws {
        let (cancelled, unwoundFirst) = try await inHubGroup(hubs: 2) { group -> (Bool, Bool) in
            let started = Flag(), unwound = Flag()
            let waiter = try spawn(name: "waiter") { () throws -> Int in
                try group.hub(1).run(name: "remote sleeper") { () throws -> Int in
                    defer { unwound.set() }
                    started.set()
                    try Coroutine.sleep(for: .seconds(60))
                    return 1
                }
            }
            let limit = ContinuousClock.now + .seconds(30)
            while !started.isSet && ContinuousClock.now < limit { try Coroutine.sleep(for: .milliseconds(1)) }
            waiter.cancel()
            _ = try? waiter.join()
            return (waiter.error is CancellationError, unwound.isSet)
        }
        #expect(cancelled)
        #expect(unwoundFirst)
    }

    @Test("a withTimeout scope around a cross-hub call expires: the remote coroutine is cancelled and the caller gets the TimeoutError")
    func timeoutCrossesHubs() async throws {
        let (timedOut, unwound) = try await inHubGroup(hubs: 2) { group -> (Bool, Bool) in
            // A scope that expires before the other hub has started the call withdraws it, and
            // there is nothing to unwind; a starved hub thread can take longer than 20 ms to get
            // to it, so the scope grows until the call did start.
            for timeout in [20, 200, 2_000, 20_000] {
                let started = Flag()
                let unwound = Flag()
                do {
                    try withTimeout(.milliseconds(timeout)) {
                        try group.hub(1).run { () throws -> Void in
                            defer { unwound.set() }
                            started.set()
                            try Coroutine.sleep(for: .seconds(60))
                        }
                    }
                    return (false, unwound.isSet)
                } catch is TimeoutError {
                    if started.isSet { return (true, unwound.isSet) }
                }
            }
            return (true, false)
        }
        #expect(timedOut)
        #expect(unwound)
    }

    @Test("a deadlock on a member hub is reported for that hub and ends the group")
    func deadlockOnMemberHub() async throws {
        await #expect {
            try await inHubGroup(hubs: 3) { group in
                try group.hub(2).spawn(name: "stuck") { try Event().wait() }
                try Coroutine.sleep(for: .seconds(30))
            }
        } throws: { error in
            guard let deadlock = error as? DeadlockError else { return false }
            return deadlock.hub == 2 && deadlock.waiters.map(\.name) == ["stuck"]
                && "\(deadlock)".hasPrefix("deadlock on hub 2:")
        }
    }

    @Test("a deadlock of the group's main work is reported for hub 0")
    func deadlockOnHubZero() async throws {
        await #expect {
            try await inHubGroup(hubs: 2) { _ in try Event().wait() }
        } throws: { error in
            (error as? DeadlockError)?.hub == 0
        }
    }

    // A child process: descriptor counts are exact there, with no other suite opening its own.
    @Test("after the group stops, every coroutine on every hub has unwound and no descriptor is left open (child process)")
    func backToBaseline() async {
        let result = await #expect(processExitsWith: .success, observing: [\.standardErrorContent]) {
            let unwound = Atomic<Int>(0)
            let cycles = 20, perHub = 50
            func cycle() async throws {
                try await inHubGroup(hubs: 3) { group in
                    for index in 0..<3 {
                        for _ in 0..<perHub {
                            try group.hub(index).spawn {
                                defer { unwound.add(1, ordering: .relaxed) }
                                try Coroutine.sleep(for: .seconds(60))
                            }
                        }
                    }
                    // Every hub has started its coroutines before the group stops.
                    for index in 0..<3 { try group.hub(index).run { try Coroutine.yield() } }
                }
            }
            do {
                // A first run opens whatever the process keeps for good (libuv's global ones).
                try await cycle()
                let before = openFileDescriptorCount()
                for _ in 1..<cycles { try await cycle() }
                // A hub thread that has ended may still be closing what it held: give the
                // count a moment to settle (a leak, two or more a cycle, never would).
                var after = openFileDescriptorCount()
                for _ in 0..<200 where after != before {
                    usleep(10_000)
                    after = openFileDescriptorCount()
                }
                if after != before { failChild("\(after) descriptors open, \(before) before", status: 10) }
            } catch {
                failChild("\(error)", status: 13)
            }
            let total = unwound.load(ordering: .relaxed)
            if total != cycles * 3 * perHub { failChild("\(total) coroutines unwound of \(cycles * 3 * perHub)", status: 11) }
        }
        let stderr = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(!stderr.contains("child failed"), "\(stderr.suffix(2000))")
    }

    @Test("a member of a stopped group refuses work with hubClosed")
    func stoppedGroupRefusesWork() async throws {
        let group = try await inHubGroup(hubs: 2) { group in group }
        #expect(throws: WeaveError.self) { try group.hub(1).spawn {} }
        do {
            try group.hub(1).spawn {}
        } catch {
            #expect(error.code == .hubClosed)
        }
    }

    @Test("pinned hub threads each run on one core; the calling thread's affinity is restored")
    func pinsThreadsToCores() async throws {
        let allowed = CoreSet.allowed().cores
        let (pinned, restored) = try await withCheckedThrowingContinuation { continuation in
            pthread_detach(startThread {
                continuation.resume(with: Result {
                    let pinned = try HubGroup.run(hubs: 2, pinsThreadsToCores: true) { group in
                        try (0..<2).map { index in try group.hub(index).run { CoreSet.current().cores } }
                    }
                    return (pinned, CoreSet.current().cores)
                })
            })
        }
        #expect(pinned == [[allowed[0]], [allowed[1 % allowed.count]]])
        #expect(restored == allowed)
    }
}
