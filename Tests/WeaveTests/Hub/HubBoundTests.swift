import Glibc
import Testing
import Weave
import WeaveTestSupport

@Suite("HubBound")
struct HubBoundTests {
    @Test("a HubBound reads back on its hub, and from another thread through the hub's queue")
    func readOnItsHub() async throws {
        let label = try await onHub { () throws -> String? in
            let bound = HubBound(Event(label: "bound"))
            let done = Event()
            let remote = Hub.current!.remote
            let outside = HubBound(done)
            // Carried through another thread and back to the hub, where it may be read.
            pthread_join(startThread { remote.send { bound.value.set(); outside.value.set() } }, nil)
            try done.wait(timeout: .seconds(10))
            return bound.value.isSet ? bound.value.label : nil
        }
        #expect(label == "bound")
    }

    @Test("reading a HubBound off its hub traps, naming it (child process)")
    func offHubTraps() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            var escaped: HubBound<Event>?
            try Hub.run { escaped = HubBound(Event(label: "escaped")) }
            // The hub has closed: this thread runs none now.
            _ = escaped!.value
        }
        let stderr = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(stderr.contains("HubBound<Event>"))
        #expect(stderr.contains("a thread that runs no hub"))
    }
}
