import Testing
import Weave
import WeaveTestSupport

@Suite("withCoroutineGroup")
struct CoroutineGroupTests {
    @Test("joins every child before returning")
    func joinsAll() async throws {
        let (finished, values) = try await onHub { () throws -> (Int, [Int]) in
            let finished = Box(0)
            let values = try withCoroutineGroup { group in
                let children = try (1...5).map { index in
                    try group.spawn { () throws -> Int in
                        try Coroutine.sleep(for: .milliseconds(index))
                        finished.value += 1
                        return index * 10
                    }
                }
                return children
            }.map { $0.value ?? -1 }
            return (finished.value, values)
        }
        #expect(finished == 5)
        #expect(values == [10, 20, 30, 40, 50])
    }

    @Test("the first child error cancels the siblings and is rethrown")
    func firstErrorCancels() async throws {
        let (caught, cancelledSiblings) = try await onHub { () throws -> (TestFailure?, Int) in
            let cancelled = Box(0)
            do {
                try withCoroutineGroup { group in
                    for _ in 0..<3 {
                        try group.spawn {
                            do { try Coroutine.sleep(for: .seconds(60)) } catch is CancellationError {
                                cancelled.value += 1
                                throw CancellationError()
                            }
                        }
                    }
                    try group.spawn { () throws -> Void in
                        try Coroutine.sleep(for: .milliseconds(5))
                        throw TestFailure(tag: "boom")
                    }
                }
            } catch let error as TestFailure {
                return (error, cancelled.value)
            }
            return (nil, cancelled.value)
        }
        #expect(caught == TestFailure(tag: "boom"))
        #expect(cancelledSiblings == 3)
    }

    @Test("a throwing body cancels its children and they are still joined")
    func bodyErrorCancels() async throws {
        let unwound = try await onHub { () throws -> Int in
            let unwound = Box(0)
            do {
                try withCoroutineGroup { group in
                    for _ in 0..<4 {
                        try group.spawn {
                            defer { unwound.value += 1 }
                            try Coroutine.sleep(for: .seconds(60))
                        }
                    }
                    try Coroutine.yield()
                    throw TestFailure(tag: "body")
                }
            } catch is TestFailure {}
            return unwound.value
        }
        #expect(unwound == 4)
    }

    @Test("cancelling the parent cancels the children and waits for them")
    func parentCancelled() async throws {
        let (parentError, unwound) = try await onHub { () throws -> (Bool, Int) in
            let unwound = Box(0)
            let parent = try spawn {
                try withCoroutineGroup { group in
                    for _ in 0..<3 {
                        try group.spawn {
                            defer { unwound.value += 1 }
                            try Coroutine.sleep(for: .seconds(60))
                        }
                    }
                }
            }
            try Coroutine.sleep(for: .milliseconds(5))
            parent.cancel()
            try parent.wait()
            return (parent.error is CancellationError, unwound.value)
        }
        #expect(parentError)
        #expect(unwound == 3)
    }

    @Test("an expired timeout scope around the group cancels the children")
    func timeoutAroundGroup() async throws {
        let (timedOut, unwound) = try await onHub { () throws -> (Bool, Int) in
            let unwound = Box(0)
            var timedOut = false
            do {
                _ = try withTimeout(.milliseconds(10)) {
                    try withCoroutineGroup { group in
                        try group.spawn {
                            defer { unwound.value += 1 }
                            try Coroutine.sleep(for: .seconds(60))
                        }
                    }
                }
            } catch is TimeoutError {
                timedOut = true
            }
            return (timedOut, unwound.value)
        }
        #expect(timedOut)
        #expect(unwound == 1)
    }
}
