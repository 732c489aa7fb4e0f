import Logging
import Testing
import Weave
@testable import WeaveCore
import WeaveTestSupport

/// What a log handler does while a coroutine's failure is logged, shared with the test
/// (each test's hub runs on one thread).
private final class LogProbe: @unchecked Sendable {
    var readsCurrent = false
    var yields = false
    weak var seenWeakly: AnyCoroutine?
    var seenStrongly: AnyCoroutine?
    var keepsStrongly = false
}

/// A hub whose log handler reads the current coroutine (as one adding a request id would)
/// and/or suspends (as one doing I/O through Weave would).
private func configuration(logging probe: LogProbe) -> Hub.Configuration {
    var configuration = Hub.Configuration()
    configuration.logger = Logger(label: "probing") { _ in
        CallbackLogHandler { _ in
            if probe.readsCurrent, let current = Coroutine.current {
                probe.seenWeakly = current
                if probe.keepsStrongly { probe.seenStrongly = current }
            }
            if probe.yields { try? Coroutine.yield() }
        }
    }
    return configuration
}

/// An error whose deinit is counted.
private final class CountedError: Error, @unchecked Sendable {
    let counter: DeinitCounter
    init(_ onDeinit: @escaping () -> Void) { counter = DeinitCounter(onDeinit) }
}

/// `spawnDetached(with:)` from generic code the optimiser may not specialise.
@inline(never) @_semantics("optimize.sil.specialize.generic.never")
private func spawnGenerically<T>(_ value: T, _ body: @escaping (T) throws -> Void) throws {
    try spawnDetached(with: value, body)
}

@Suite("finishing coroutines: logs, joins and objects at the end")
struct FinishingCoroutineTests {
    @Test("an object made by a log handler while a detached failure is logged is finished and let go")
    func objectMadeWhileLogging() async throws {
        let probe = LogProbe()
        probe.readsCurrent = true
        let (alive, stillAlive) = try await onHub(configuration: configuration(logging: probe)) { () throws -> (Bool, Bool) in
            try spawnDetached { throw TestFailure(tag: "x") }
            try Coroutine.sleep(for: .milliseconds(20))
            let object = probe.seenWeakly
            return (object != nil, object.map { !$0.isFinished || $0.fiber != nil } ?? false)
        }
        #expect(!alive)        // the fiber's retain was given back
        #expect(!stillAlive)
    }

    @Test("cancelling an object kept from a finished detached coroutine leaves the next one on its stack alone")
    func keptObjectCannotCancelAStranger() async throws {
        let probe = LogProbe()
        probe.readsCurrent = true
        probe.keepsStrongly = true
        let outcome = try await onHub(configuration: configuration(logging: probe)) { () throws -> String in
            try spawnDetached { throw TestFailure(tag: "x") }
            try Coroutine.sleep(for: .milliseconds(10))
            let kept = try #require(probe.seenStrongly)
            probe.seenStrongly = nil
            #expect(kept.isFinished)
            let next = try spawn { () throws -> String in
                for _ in 0..<5 { try Coroutine.yield() }
                return "ran to the end"
            }
            try Coroutine.yield()  // it starts, likely on the finished coroutine's stack
            kept.cancel()
            return try next.join(timeout: .seconds(10))
        }
        #expect(outcome == "ran to the end")
    }

    @Test("a detached coroutine whose error log suspends still wakes its joiner")
    func detachedJoinerWokenThoughLogSuspends() async throws {
        let probe = LogProbe()
        probe.yields = true
        let outcome = try await onHub(configuration: configuration(logging: probe)) { () throws -> String in
            let object = Box<AnyCoroutine?>(nil)
            try spawnDetached {
                object.value = Coroutine.current
                try Coroutine.sleep(for: .milliseconds(5))
                throw TestFailure(tag: "x")
            }
            try Coroutine.yield()
            let coroutine = try #require(object.value)
            do {
                try joinAll([coroutine], timeout: .seconds(10))
                return "woken"
            } catch {
                return "\(error)"
            }
        }
        #expect(outcome == "woken")
    }

    @Test("a joiner arriving while a coroutine's failure log suspends gets the failure")
    func handleJoinerArrivingDuringLog() async throws {
        let probe = LogProbe()
        probe.yields = true
        let outcome = try await onHub(configuration: configuration(logging: probe)) { () throws -> String in
            let child = try spawn { () throws -> Int in throw TestFailure(tag: "x") }
            try Coroutine.yield()  // the child fails; logging it, the handler yields
            do {
                _ = try child.join(timeout: .seconds(10))
                return "no error"
            } catch let error as TestFailure {
                return error.tag
            } catch {
                return "\(error)"
            }
        }
        #expect(outcome == "x")
    }

    @Test("every way a detached coroutine ends releases its payload and its error")
    func everyEndReleases() async throws {
        let (ran, payloads, errors) = try await onHub { () throws -> (Int, Int, Int) in
            let ran = Box(0), payloads = Box(0), errors = Box(0)
            for round in 0..<4 {
                let fail = round % 2 == 1
                for _ in 0..<50 {
                    // with: (a specialised runner when optimised), from generic code, and a closure.
                    let first = DeinitCounter { payloads.value += 1 }
                    try spawnDetached(with: (first, ran, errors, fail)) { token, ran, errors, fail in
                        withExtendedLifetime(token) { ran.value += 1 }
                        if fail { throw CountedError { errors.value += 1 } }
                    }
                    let second = DeinitCounter { payloads.value += 1 }
                    try spawnGenerically((second, ran, errors, fail)) { token, ran, errors, fail in
                        withExtendedLifetime(token) { ran.value += 1 }
                        if fail { throw CountedError { errors.value += 1 } }
                    }
                    let third = DeinitCounter { payloads.value += 1 }
                    try spawnDetached {
                        withExtendedLifetime(third) { ran.value += 1 }
                        if fail { throw CountedError { errors.value += 1 } }
                    }
                }
                try Coroutine.sleep(for: .milliseconds(5))
            }
            return (ran.value, payloads.value, errors.value)
        }
        #expect(ran == 600)
        #expect(payloads == 600)
        #expect(errors == 300)
    }
}
