import Glibc
import Testing
import Weave
@testable import WeaveCore
import WeaveTestSupport

/// The exclusivity hazards of stackful coroutines in Swift (an exclusive access held across
/// a suspension; see the Weave.docc "Hubs and threads" article), each in a
/// child process whose exit status and stderr are checked.
@Suite("exclusivity hazards")
struct ExclusivityHazardTests {
    @Test("suspending inside an exclusive access traps, naming the coroutine")
    func trapOnSuspendInsideAccess() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            var configuration = Hub.Configuration()
            configuration.trapsOnSuspendedAccess = true
            let counter = Counter()
            try Hub.run(configuration: configuration) {
                try spawn(name: "holder") {
                    try counter.increment { try Coroutine.sleep(for: .milliseconds(5)) }
                }.join()
            }
        }
        let stderr = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(stderr.contains("coroutine 'holder' suspended inside an exclusive access"))
    }

    @Test("the trap is on by default in every build configuration")
    func trapIsOnByDefault() {
        // `make test-release` runs this suite optimised: the default must not follow the build.
        #expect(Hub.Configuration().trapsOnSuspendedAccess)
    }

    @Test("by default, parking inside withUnsafeMutableBytes traps before another coroutine reallocates")
    func defaultTrapsBeforeStalePointer() async {
        // Without the trap, a release build lets the appender reallocate `buffer` while the
        // writer holds a pointer into the old storage, and the writer's store lands in freed
        // memory (heap corruption). The default configuration must stop it at the park.
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            let holder = ByteHolder()
            try Hub.run {
                let writer = try spawn(name: "writer") {
                    try holder.buffer.withUnsafeMutableBytes { bytes in
                        try Coroutine.sleep(for: .milliseconds(20))
                        for index in bytes.indices { bytes[index] = 0xAB }
                    }
                }
                let appender = try spawn(name: "appender") {
                    for value in 0..<4096 { holder.buffer.append(UInt8(truncatingIfNeeded: value)) }
                }
                try appender.join()
                try writer.join()
            }
            // Reached only without the trap: whatever the heap looks like now, say so.
            exit(holder.buffer.count == 16 + 4096 ? 0 : 5)
        }
        let stderr = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(stderr.contains("coroutine 'writer' suspended inside an exclusive access"))
    }

    @Test("an explicit configuration turns the trap off")
    func explicitConfigurationTurnsTrapOff() async {
        await #expect(processExitsWith: .success) {
            var configuration = Hub.Configuration()
            configuration.trapsOnSuspendedAccess = false
            let counter = Counter()
            try Hub.run(configuration: configuration) {
                try spawn(name: "holder") {
                    try counter.increment { try Coroutine.sleep(for: .milliseconds(5)) }
                }.join()
            }
            if counter.value != 1 { exit(3) }
        }
    }

    @Test("without the per-coroutine swap, another coroutine touching the memory traps")
    func sharedThreadModeTraps() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            var configuration = Hub.Configuration()
            configuration.exclusivity = .sharedThread
            configuration.trapsOnSuspendedAccess = false
            let counter = Counter()
            try Hub.run(configuration: configuration) {
                let holder = try spawn(name: "holder") {
                    try counter.increment { try Coroutine.sleep(for: .milliseconds(20)) }
                }
                let toucher = try spawn(name: "toucher") { counter.value += 1 }
                try toucher.join()
                try holder.join()
            }
        }
        let stderr = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(stderr.contains("Simultaneous accesses"))
    }

    @Test("with the swap, the same program runs to completion")
    func swapIsolatesCoroutines() async {
        await #expect(processExitsWith: .success) {
            var configuration = Hub.Configuration()
            configuration.trapsOnSuspendedAccess = false
            let counter = Counter()
            try Hub.run(configuration: configuration) {
                let holder = try spawn(name: "holder") {
                    try counter.increment { try Coroutine.sleep(for: .milliseconds(20)) }
                }
                let toucher = try spawn(name: "toucher") { counter.value += 1 }
                try toucher.join()
                try holder.join()
            }
            // Both updates land: a stored property is accessed in place.
            if counter.value != 2 { exit(3) }
            counter.value += 1
        }
    }

    @Test("hub threads find their access list, so empty swaps skip the runtime calls")
    func emptySwapsAreSkipped() async throws {
        // If a Swift runtime moved its access list, the probe returns nil and every switch
        // calls the runtime (correct, slower): this test is the alarm for that.
        // Each hub runs on a new thread here, and the list is per thread: check two.
        for _ in 0..<2 {
            let skips = try await onHub { Hub.current!.skipsEmptyExclusivitySwaps }
            #expect(skips)
        }
    }

    @Test("a coroutine cancelled or abandoned with an access open unwinds it cleanly")
    func cancelledWithAccessOpen() async {
        await #expect(processExitsWith: .success) {
            var configuration = Hub.Configuration()
            configuration.trapsOnSuspendedAccess = false
            let counter = Counter()
            try Hub.run(configuration: configuration) {
                let cancelled = try spawn(name: "cancelled") {
                    try counter.increment { try Coroutine.sleep(for: .seconds(60)) }
                }
                // Abandoned: still inside its access when the body returns; shutdown unwinds it.
                try spawn(name: "abandoned") {
                    try counter.increment { try Coroutine.sleep(for: .seconds(60)) }
                }
                try Coroutine.yield()
                cancelled.cancel()
                try cancelled.wait()
                counter.value += 10
            }
            // The thread's access set must be intact: new accesses work, none conflict.
            counter.value += 100
            try Hub.run { counter.value += 1000 }
            if counter.value != 1110 { exit(4) }
        }
    }
}

/// Owns a byte array that one coroutine holds a pointer into while another appends.
final class ByteHolder: @unchecked Sendable {
    var buffer = [UInt8](repeating: 0, count: 16)
}

final class Counter: @unchecked Sendable {
    var value = 0

    /// Holds a modify access to `value` across `body` (the hazard under test).
    func increment(during body: () throws -> Void) throws {
        try Counter.hold(&value, body)
    }

    @inline(never)
    static func hold(_ value: inout Int, _ body: () throws -> Void) throws {
        try body()
        value += 1
    }
}
