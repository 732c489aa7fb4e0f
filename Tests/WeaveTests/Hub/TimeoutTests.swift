import Testing
import Weave
@testable import WeaveCore
import WeaveTestSupport

@Suite("withTimeout")
struct TimeoutTests {
    @Test("a scope that expires interrupts the blocking call and names itself")
    func expires() async throws {
        let error = try await onHub { () throws -> TimeoutError? in
            do {
                try withTimeout(.milliseconds(10), operation: "fetch") { try Coroutine.sleep(for: .seconds(60)) }
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
            try withTimeout(.seconds(30), operation: "outer") {
                do {
                    try withTimeout(.milliseconds(5), operation: "inner") { try Coroutine.sleep(for: .seconds(60)) }
                } catch let error as TimeoutError {
                    innerFired = error.operation
                }
            }
            var outerFired: String?
            var passedInner = false
            do {
                try withTimeout(.milliseconds(5), operation: "outer") {
                    do {
                        try withTimeout(.seconds(30), operation: "inner") { try Coroutine.sleep(for: .seconds(60)) }
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

    @Test("a scope that expires while the coroutine runs throws at its end and leaks nothing after")
    func noLeakAfterScope() async throws {
        let (operation, slept) = try await onHub { () throws -> (String?, Bool) in
            var operation: String?
            do {
                try withTimeout(.milliseconds(1), operation: "busy") {
                    // Busy for a while without blocking: the scope expires before the body
                    // finishes, so the scope reports it; nothing may be thrown later.
                    let start = ContinuousClock.now
                    while ContinuousClock.now - start < .milliseconds(20) {}
                    Hub.current!.fireTimersForTesting()
                }
            } catch let error as TimeoutError {
                operation = error.operation
            }
            try Coroutine.sleep(for: .milliseconds(5))
            return (operation, true)
        }
        #expect(operation == "busy")
        #expect(slept)
    }

    @Test("a body that swallows its scope's expiry still ends in the scope's TimeoutError")
    func swallowedExpiryIsThrown() async throws {
        let (operation, bodyFinished) = try await onHub { () throws -> (String?, Bool) in
            var finished = false
            do {
                let value = try withTimeout(.milliseconds(5), operation: "swallowed") { () throws -> Int in
                    _ = try? Coroutine.sleep(for: .seconds(30))
                    finished = true
                    return 1
                }
                Issue.record("withTimeout returned \(value) after its deadline fired")
            } catch let error as TimeoutError {
                return (error.operation, finished)
            }
            return (nil, finished)
        }
        #expect(operation == "swallowed")
        #expect(bodyFinished)
    }

    @Test("a Channel loop inside withTimeout ends in TimeoutError, not in partial work")
    func channelLoopTimesOut() async throws {
        let (received, operation, quiet) = try await onHub { () throws -> ([Int], String?, Bool) in
            let channel = Channel<Int>()
            // Three values, then silence: the channel stays open.
            let producer = try spawn { for value in 0..<3 { try channel.send(value) }; try Coroutine.sleep(for: .seconds(60)) }
            var received: [Int] = []
            var operation: String?
            do {
                try withTimeout(.milliseconds(20), operation: "drain") {
                    for value in channel { received.append(value) }
                }
            } catch let error as TimeoutError {
                operation = error.operation
            }
            producer.cancel()
            try producer.wait()
            // The expiry was reported once: the next blocking call runs normally.
            try Coroutine.sleep(for: .milliseconds(1))
            return (received, operation, true)
        }
        #expect(received == [0, 1, 2])
        #expect(operation == "drain")
        #expect(quiet)
    }

    @Test("an outer scope's expiry swallowed inside an inner scope reaches the outer caller")
    func outerExpiryThroughSwallowingInner() async throws {
        let (innerThrew, operation) = try await onHub { () throws -> (String?, String?) in
            let channel = Channel<Int>()
            var innerThrew: String?
            do {
                try withTimeout(.milliseconds(10), operation: "outer") {
                    do {
                        try withTimeout(.seconds(30), operation: "inner") {
                            for _ in channel {}
                        }
                    } catch let error as TimeoutError {
                        innerThrew = error.operation
                        throw error
                    }
                }
            } catch let error as TimeoutError {
                return (innerThrew, error.operation)
            }
            return (innerThrew, nil)
        }
        #expect(innerThrew == "outer")
        #expect(operation == "outer")
    }

    @Test("a cancellation swallowed by a Channel loop inside withTimeout is thrown at the scope's end")
    func cancellationThroughChannelLoop() async throws {
        let (cancelled, received) = try await onHub { () throws -> (Bool, Int?) in
            let channel = Channel<Int>()
            let consumer = try spawn { () throws -> Int in
                try withTimeout(.seconds(30)) {
                    var count = 0
                    for _ in channel { count += 1 }
                    return count
                }
            }
            try channel.send(1)
            try Coroutine.yield()
            consumer.cancel()
            try consumer.wait()
            return (consumer.error is CancellationError, consumer.value)
        }
        #expect(cancelled)
        #expect(received == nil)
    }

    @Test("a scope that does not fire returns the body's value and leaves nothing pending")
    func unfiredScopeReturnsValue() async throws {
        let (value, slept) = try await onHub { () throws -> (Int, Bool) in
            let value = try withTimeout(.seconds(30)) { () throws -> Int in
                try Coroutine.sleep(for: .milliseconds(1))
                return 7
            }
            try Coroutine.sleep(for: .milliseconds(1))
            return (value, true)
        }
        #expect(value == 7)
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
                    try Coroutine.yield()
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
