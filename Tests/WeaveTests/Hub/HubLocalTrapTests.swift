import Testing
import Weave

#if DEBUG
@Suite("hub-local primitives used from another hub")
struct HubLocalTrapTests {
    @Test("waking an Event's waiter from another hub of the group traps with a message naming the rule")
    func eventSetFromAnotherHubTraps() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            try HubGroup.run(hubs: 2) { group in
                // Strict concurrency refuses to send an Event to another hub; code that opts
                // out (as here) is what the debug trap catches.
                nonisolated(unsafe) let event = Event(label: "hub-0 only")
                let waiter = try spawn { try event.wait(timeout: .seconds(30)) }
                try Coroutine.sleep(for: .milliseconds(10))  // the waiter is parked on hub 0
                try group.hub(1).run { event.set() }
                try waiter.join()
            }
        }
        let stderr = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(stderr.contains("hub-local primitive"), "\(stderr.suffix(500))")
        #expect(stderr.contains("CrossHubChannel"), "\(stderr.suffix(500))")
    }

    @Test("the same primitive used by one hub at a time, with no waiter crossing, does not trap")
    func sequentialUseFromOneHubIsFine() async {
        await #expect(processExitsWith: .success) {
            try HubGroup.run(hubs: 2) { group in
                try group.hub(1).run {
                    let queue = Queue<Int>()
                    let getter = try spawn { try queue.get(timeout: .seconds(30)) }
                    try queue.put(7)
                    _ = try getter.join()
                }
            }
        }
    }
}
#endif
