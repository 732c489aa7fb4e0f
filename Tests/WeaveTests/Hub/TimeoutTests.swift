import Testing
@testable import Weave

@Suite("withTimeout")
struct TimeoutTests {
    @Test("a scope that expires interrupts the blocking call and names itself")
    func expires() async throws {
        let error = try await onHub { () throws -> TimeoutError? in
            do {
                try withTimeout(.milliseconds(10), "fetch") { try AnyCoroutine.sleep(for: .seconds(60)) }
            } catch let error as TimeoutError {
                return error
            }
            return nil
        }
        #expect(error?.operation == "fetch")
        #expect(error?.scope?.fileID == "WeaveTests/TimeoutTests.swift")
        #expect(error?.timeout == .milliseconds(10))
    }

    @Test("nested scopes: the inner fires first, or the outer passes through the inner")
    func nested() async throws {
        let (innerFired, outerFired, outerPassedThrough) = try await onHub { () throws -> (String?, String?, Bool) in
            var innerFired: String?
            try withTimeout(.seconds(30), "outer") {
                do {
                    try withTimeout(.milliseconds(5), "inner") { try AnyCoroutine.sleep(for: .seconds(60)) }
                } catch let error as TimeoutError {
                    innerFired = error.operation
                }
            }
            var outerFired: String?
            var passedInner = false
            do {
                try withTimeout(.milliseconds(5), "outer") {
                    do {
                        try withTimeout(.seconds(30), "inner") { try AnyCoroutine.sleep(for: .seconds(60)) }
                    } catch {
                        passedInner = true
                        throw error
                    }
                }
            } catch let error as TimeoutError {
                outerFired = error.operation
            }
            return (innerFired, outerFired, passedInner)
        }
        #expect(innerFired == "inner")
        #expect(outerFired == "outer")
        #expect(outerPassedThrough)
    }

    @Test("a scope that expires while the coroutine runs never leaks out of it")
    func noLeakAfterScope() async throws {
        let slept = try await onHub { () throws -> Bool in
            try withTimeout(.milliseconds(1)) {
                // Busy for a while without blocking: the scope expires, but the body
                // finishes first, so nothing may be thrown later.
                let start = ContinuousClock.now
                while ContinuousClock.now - start < .milliseconds(20) {}
                Hub.current!.fireTimersForTesting()
            }
            try AnyCoroutine.sleep(for: .milliseconds(5))
            return true
        }
        #expect(slept)
    }

    @Test("an expiry while runnable is thrown at the next blocking call inside the scope")
    func deliveredAtNextBlock() async throws {
        let fired = try await onHub { () throws -> Bool in
            do {
                try withTimeout(.milliseconds(1)) {
                    let start = ContinuousClock.now
                    while ContinuousClock.now - start < .milliseconds(20) {}
                    Hub.current!.fireTimersForTesting()
                    try AnyCoroutine.yield()
                }
            } catch is TimeoutError {
                return true
            }
            return false
        }
        #expect(fired)
    }
}

extension Hub {
    /// Fires due timers as the loop would, from inside a coroutine that never blocked.
    func fireTimersForTesting() { fireTimers() }
}
